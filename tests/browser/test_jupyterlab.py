"""Every notebook runs in a real JupyterLab in headless Chromium, as a learner would run it.

For each ``notebooks/NN_name.ipynb``: open it, clear the stored outputs, Run → Run All Cells,
wait until every code cell has run and the kernel is idle, then require no error output, no
traceback on stderr and no "Error displaying widget". In a notebook with an ipywidgets slider the
first slider is moved with the keyboard and the first image in the same widget box must change.
A notebook whose metadata has ``"pushpull": {"browser_click": {"button": LABEL, "watch": [CSS, ...]}}``
also gets that button clicked after the run, and the text of every watched widget must change
(notebook 08: "Add 3 uploads" must reach the live progress board and the monitor).
Screenshots go to ``artifacts/browser/`` (git-ignored).

Uses Debian's ``/usr/bin/chromium`` (never ``playwright install``) and a JupyterLab server started
from this virtual environment on 127.0.0.1, serving a temporary copy of ``notebooks/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# PUSHPULL_BROWSER_NOTEBOOKS lets you point the check at another folder of notebooks.
NOTEBOOKS = Path(os.environ.get("PUSHPULL_BROWSER_NOTEBOOKS", ROOT / "notebooks"))
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0  # s
RUN_ALL_TIMEOUT = 300.0  # s for one notebook's Run All
WIDGET_CHANGE_TIMEOUT = 10.0  # s for the figure to follow the slider
WIDGETS_RENDER_TIMEOUT = 20.0  # s for widget views to appear after the run
CLICK_SETTLE_MS = 4000  # after a button's effect shows, let live work go on before the screenshot

NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@dataclass
class LabServer:
    url: str
    token: str
    root: Path

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


# Module scope on purpose: Playwright's sync API marks an asyncio loop as running on this thread
# while it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def lab_server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab from this venv on 127.0.0.1, serving a throwaway copy of notebooks/."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config_dir, data_dir, settings_dir = base / "config", base / "data", base / "settings"
    # No news toast, no update check, the app object reachable from the page for exact checks.
    write_json(
        config_dir / "jupyter_server_config.json",
        {
            "LabApp": {
                "news_url": None,
                "expose_app_in_browser": True,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            },
            "ServerApp": {"root_dir": str(root)},
        },
    )
    write_json(
        config_dir / "labconfig" / "page_config.json",
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}},
    )
    write_json(
        settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    # Keep every cell in the DOM (the default windowing may detach off-screen cells).
    write_json(
        settings_dir / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
        {"windowingMode": "none"},
    )
    token = secrets.token_hex(16)
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
    )
    log_path = base / "jupyterlab.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--ServerApp.port_retries=0",
                f"--ServerApp.token={token}",
                "--allow-root",
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(url=f"http://127.0.0.1:{port}", token=token, root=root)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                server.api("GET", "/api/status")
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"jupyter lab did not answer in {SERVER_START_TIMEOUT:.0f} s:\n{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser_context(chromium: str, tmp_path_factory: pytest.TempPathFactory):
    """A headless Chromium with a fresh profile, driven by Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # screenshots of this run only
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


# --- JavaScript run in the page (window.jupyterapp is exposed by the server config above) ------

JS_PANEL = "window.jupyterapp && window.jupyterapp.shell.currentWidget"

JS_READY = f"""() => {{
  const panel = {JS_PANEL};
  return !!(panel && panel.content && panel.content.model && panel.sessionContext
            && panel.sessionContext.session && panel.sessionContext.session.kernel
            && panel.sessionContext.session.kernel.status === 'idle'
            && document.querySelector('.jp-NotebookPanel .jp-Cell'));
}}"""

# Stored outputs are cleared before Run All, so "ran" means: has an execution count now.
JS_STATE = f"""() => {{
  const panel = {JS_PANEL};
  const cells = Array.from(panel.content.model.cells);
  const code = cells.filter(c => c.type === 'code' && c.sharedModel.getSource().trim() !== '');
  const errors = [];
  let widgetViews = 0;
  for (const [i, c] of cells.entries()) {{
    if (c.type !== 'code') continue;
    for (let k = 0; k < c.outputs.length; k++) {{
      const out = c.outputs.get(k).toJSON();
      if (out.output_type === 'error') errors.push(`cell ${{i}}: ${{out.ename}}: ${{out.evalue}}`);
      if (out.data && out.data['application/vnd.jupyter.widget-view+json']) widgetViews++;
    }}
  }}
  const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt'));
  return {{
    kernel: panel.sessionContext.session ? panel.sessionContext.session.kernel.status : 'none',
    codeCells: code.length,
    executed: code.filter(c => c.executionCount !== null).length,
    running: prompts.filter(p => p.textContent.includes('*')).length,
    errors,
    widgetViews,
  }};
}}"""

JS_DONE = f"""() => {{
  const s = ({JS_STATE})();
  return s.kernel === 'idle' && s.running === 0 && (s.executed === s.codeCells || s.errors.length > 0);
}}"""

# What the first slider's widget box shows: the src of its first <img>, or else its text.
JS_BOX_SNAPSHOT = """(handle) => {
  let box = handle.closest('.widget-slider');
  while (box && box.parentElement && !box.querySelector('img')) {
    if (box.parentElement.classList.contains('jp-OutputArea-output')) break;
    box = box.parentElement;
  }
  const img = box.querySelector('img');
  if (img) return {kind: 'img', value: img.getAttribute('src') || ''};
  const clone = box.cloneNode(true);
  clone.querySelectorAll('.widget-readout, .widget-slider').forEach(e => e.remove());
  return {kind: 'text', value: clone.textContent};
}"""


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def whole_notebook_shot(page, name: str) -> Path:
    """JupyterLab never scrolls the page itself, so grow the window to the notebook's height."""
    size = page.viewport_size
    height = page.evaluate(
        "() => { const s = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
        " if (!s) return 0; s.scrollTop = 0; return s.scrollHeight; }"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 160), 16000)})
    page.wait_for_timeout(500)
    try:
        return shot(page, name)
    finally:
        page.set_viewport_size(size)
        page.wait_for_timeout(300)


def click_and_watch(page, stem: str, label: str, watch: list[str]) -> None:
    """Click the widget button labelled ``label``; the text of each ``watch`` widget must change."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    button = page.locator(".jp-OutputArea-output button.widget-button", has_text=label)
    assert button.count() == 1, f"{stem}: expected one button labelled {label!r}, found {button.count()}"
    before = {css: page.locator(css).first.inner_text() for css in watch}
    button.scroll_into_view_if_needed()
    shot(page, f"{stem}-click-before")
    button.click()
    unchanged = []
    for css, text in before.items():
        try:
            page.wait_for_function(
                "([css, old]) => document.querySelector(css).innerText !== old",
                arg=[css, text],
                timeout=WIDGET_CHANGE_TIMEOUT * 1000,
                polling=100,
            )
        except PlaywrightTimeoutError:
            unchanged.append(css)
    page.wait_for_timeout(CLICK_SETTLE_MS)
    page.locator(watch[0]).first.scroll_into_view_if_needed()
    shot(page, f"{stem}-click-after")
    assert not unchanged, f"{stem}: clicking {label!r} did not change the text of {unchanged}"
    assert not page.get_by_text("Error displaying widget").count(), f"{stem}: widget error after the click"


def dismiss_dialogs(page) -> None:
    """Accept a kernel-selection dialog if a notebook has no usable kernelspec."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        page.locator(".jp-Dialog .jp-mod-accept").first.click()


def shutdown_sessions(server: LabServer) -> None:
    with contextlib.suppress(OSError, urllib.error.URLError):
        for session in server.api("GET", "/api/sessions") or []:
            server.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.mark.parametrize("notebook", NOTEBOOK_FILES, ids=[p.stem for p in NOTEBOOK_FILES])
def test_notebook_runs_in_jupyterlab(notebook: Path, lab_server: LabServer, browser_context) -> None:
    """The notebook runs top to bottom in JupyterLab without errors; its first slider redraws its figure."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page = browser_context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        url = f"{lab_server.url}/lab/workspaces/t-{notebook.stem}/tree/{notebook.name}?reset&token={lab_server.token}"
        page.goto(url)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        dismiss_dialogs(page)
        page.wait_for_function(JS_READY, timeout=60_000)

        # Stored outputs (and their widget views, whose models do not exist yet) must not count.
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.locator(".jp-NotebookPanel .jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

        page.wait_for_function(JS_DONE, timeout=RUN_ALL_TIMEOUT * 1000, polling=250)
        state = page.evaluate(JS_STATE)
        # Widget views render asynchronously after their output arrives.
        if state["widgetViews"]:
            page.wait_for_function(
                """(n) => document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length
                          + document.body.innerText.split('Error displaying widget').length - 1 >= n""",
                arg=state["widgetViews"],
                timeout=WIDGETS_RENDER_TIMEOUT * 1000,
            )
            page.wait_for_timeout(500)
        whole_notebook_shot(page, f"{notebook.stem}-ran")

        problems = [f"error output in {e}" for e in state["errors"]]
        if state["executed"] != state["codeCells"]:
            problems.append(f"only {state['executed']} of {state['codeCells']} code cells ran")
        stderr = page.locator(
            ".jp-OutputArea-output.jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
        )
        for i in range(stderr.count()):
            text = stderr.nth(i).inner_text()
            if "Traceback" in text:
                problems.append(f"traceback on stderr:\n{text[-1500:]}")
        if page.get_by_text("Error displaying widget").count():
            problems.append("a widget failed to display ('Error displaying widget')")
        if problems:
            pytest.fail(f"{notebook.name}:\n" + "\n".join(problems), pytrace=False)

        handles = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle")
        if handles.count():
            handle = handles.first
            handle.scroll_into_view_if_needed()
            before = handle.evaluate(JS_BOX_SNAPSHOT)
            shot(page, f"{notebook.stem}-slider-before")
            handle.focus()
            # A slider that starts at its maximum (a replay shows the whole run first) moves left.
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            for _ in range(3):
                handle.press("ArrowLeft" if at_max else "ArrowRight")
                page.wait_for_timeout(100)
            changed = True
            try:
                page.wait_for_function(
                    f"([h, old]) => ({JS_BOX_SNAPSHOT})(h).value !== old",
                    arg=[handle.element_handle(), before["value"]],
                    timeout=WIDGET_CHANGE_TIMEOUT * 1000,
                    polling=100,
                )
            except PlaywrightTimeoutError:
                changed = False
            page.wait_for_timeout(300)
            shot(page, f"{notebook.stem}-slider-after")
            what = (
                "the src of the first <img>" if before["kind"] == "img" else "the text (the box has no <img>)"
            )
            assert changed, (
                f"{notebook.name}: moving the first slider did not change {what} of its widget box "
                f"within {WIDGET_CHANGE_TIMEOUT:.0f} s"
            )
            assert not page.get_by_text("Error displaying widget").count(), (
                f"{notebook.name}: 'Error displaying widget' after moving the slider"
            )
        click = json.loads(notebook.read_text()).get("metadata", {}).get("pushpull", {}).get("browser_click")
        if click:
            click_and_watch(page, notebook.stem, click["button"], click["watch"])
        assert not console_errors, f"{notebook.name}: uncaught errors in the page: {console_errors}"
    finally:
        page.close()
        shutdown_sessions(lab_server)
