"""``pushpull-lab doctor``: is this machine ready for the lab? Each problem comes with its fix.

::

    $ pushpull-lab doctor
    ✓ Python            3.11.7 (3.10 or newer needed)
    ✓ package jupyterlab 4.6.6 (needs >=4.0)
    ...
    ! Redis             nothing answers at redis://127.0.0.1:6379/0 — optional: ...

Checks, in order: the Python version; every runtime dependency installed at a version its
requirement allows; the ipywidgets front-end extension where JupyterLab looks for it (without
it, every panel shows "Error displaying widget"); that a ``python3`` kernel starts and can
``import pushpull_lab``; whether a Redis server answers (optional: the lab runs in memory);
whether Chromium is there (only the browser tests need it). ``fail`` findings make the command
exit 1; ``warn`` findings are things the lab can do without.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DISTRIBUTION = "pushpull-lab"
MIN_PYTHON = (3, 10)
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
MARKS = {"ok": "✓", "warn": "!", "fail": "✗"}


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``status`` is ``"ok"``, ``"warn"`` or ``"fail"``; ``fix`` says what to do."""

    check: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{MARKS[self.status]} {self.check:<22} {self.detail}"
        return f"{text}\n    → {self.fix}" if self.fix else text


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Finding:
    shown = ".".join(map(str, version))
    needed = ".".join(map(str, MIN_PYTHON))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Finding("Python", "ok", f"{shown} ({needed} or newer needed)")
    return Finding(
        "Python",
        "fail",
        f"{shown} is too old ({needed} or newer needed)",
        f"install Python {needed}+ and make a new virtual environment with it",
    )


def _installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _runtime_requirements() -> list[str] | None:
    from importlib.metadata import PackageNotFoundError, requires

    try:
        listed = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return None
    return [r for r in listed if "extra ==" not in r]


def check_packages() -> list[Finding]:
    """One finding per runtime dependency of the installed pushpull-lab."""
    from packaging.requirements import Requirement

    requirements = _runtime_requirements()
    if requirements is None:
        return [
            Finding(
                f"package {DISTRIBUTION}",
                "fail",
                "not installed in this Python",
                f"from a clone of the repository: {sys.executable} -m pip install -e .",
            )
        ]
    findings = []
    for text in requirements:
        requirement = Requirement(text)
        name, spec = requirement.name, str(requirement.specifier) or "any version"
        found = _installed_version(name)
        label = f"package {name}"
        if found is None:
            findings.append(Finding(label, "fail", f"missing (needs {spec})", f"pip install '{text}'"))
        elif requirement.specifier and not requirement.specifier.contains(found, prereleases=True):
            findings.append(
                Finding(label, "fail", f"{found} installed, needs {spec}", f"pip install -U '{text}'")
            )
        else:
            findings.append(Finding(label, "ok", f"{found} (needs {spec})"))
    return findings


def _labextension_dirs() -> list[Path]:
    from jupyter_core.paths import jupyter_path

    return [Path(p) for p in jupyter_path("labextensions")]


def check_widgets_frontend() -> Finding:
    """The JupyterLab side of ipywidgets, found where JupyterLab itself looks."""
    import json

    for folder in _labextension_dirs():
        package = folder / WIDGETS_EXTENSION / "package.json"
        if package.is_file():
            version = json.loads(package.read_text()).get("version", "?")
            return Finding("widgets in JupyterLab", "ok", f"{WIDGETS_EXTENSION} {version}")
    return Finding(
        "widgets in JupyterLab",
        "fail",
        f"{WIDGETS_EXTENSION} not found: panels would show 'Error displaying widget'",
        "pip install -U 'ipywidgets>=8' (it brings jupyterlab_widgets) in the environment that runs "
        "JupyterLab, then restart JupyterLab",
    )


def check_kernel(kernel_name: str = "python3", timeout: float = 60.0) -> Finding:
    """Start the kernel notebooks use, import the lab in it, stop it."""
    # The kernel's own stderr (e.g. its "running over TCP" warning) goes to a file, shown only on failure.
    with tempfile.TemporaryFile(mode="w+") as log:
        return _check_kernel(kernel_name, timeout, log)


def _check_kernel(kernel_name: str, timeout: float, log) -> Finding:
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager

    label = f"kernel {kernel_name}"
    fix_install = f"{sys.executable} -m ipykernel install --user --name {kernel_name}"
    manager = KernelManager(kernel_name=kernel_name)
    try:
        manager.start_kernel(stderr=log)
    except NoSuchKernel:
        return Finding(label, "fail", "no such kernel is installed", fix_install)
    except Exception as exc:  # any start failure is the finding
        return Finding(label, "fail", f"does not start: {type(exc).__name__}: {exc}", fix_install)
    client = manager.client()
    outputs: list[str] = []

    def keep(message: dict) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            outputs.append(content["text"])
        elif message["msg_type"] == "error":
            outputs.append(f"{content['ename']}: {content['evalue']}")

    try:
        client.start_channels()
        client.wait_for_ready(timeout=timeout)
        code = "import sys, pushpull_lab; print(pushpull_lab.__version__, sys.executable)"
        reply = client.execute_interactive(code, timeout=timeout, output_hook=keep)
    except Exception as exc:  # a kernel that hangs or dies: the finding
        log.seek(0)
        said = log.read()[-500:].strip()
        detail = f"started but did not answer: {type(exc).__name__}: {exc}" + (f" ({said})" if said else "")
        return Finding(label, "fail", detail, fix_install)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    said = "".join(outputs).strip()
    if reply["content"]["status"] != "ok":
        return Finding(
            label,
            "fail",
            f"starts, but cannot import pushpull_lab ({said})",
            f"make the kernel use this environment: {fix_install}",
        )
    version, _, executable = said.partition(" ")
    return Finding(label, "ok", f"starts and imports pushpull_lab {version} ({executable})")


def check_redis(url: str | None = None) -> Finding:
    """Optional: whether a Redis server answers PING at ``url`` (default $PUSHPULL_REDIS_URL or the usual port)."""
    from .redis_server import _answers, _host_port

    url = url or os.environ.get("PUSHPULL_REDIS_URL") or DEFAULT_REDIS_URL
    if _answers(*_host_port(url), timeout=1.0):
        return Finding("Redis", "ok", f"answers at {url}")
    has_server = shutil.which("redis-server") is not None
    fix = (
        "start one with: pushpull-lab redis --port 6379"
        if has_server
        else "install redis-server (Debian/Ubuntu: apt-get install redis-server; conda: conda install -c "
        "conda-forge redis-server), then: pushpull-lab redis --port 6379"
    )
    return Finding(
        "Redis",
        "warn",
        f"nothing answers at {url} — optional: the lab runs in memory or on fakeredis without it",
        fix + "; set PUSHPULL_REDIS_URL to use another server",
    )


def check_chromium() -> Finding:
    """Optional: the browser tests drive Debian's Chromium."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Finding("Chromium", "ok", f"{found} (for the browser tests)")
    return Finding(
        "Chromium",
        "warn",
        "not found — only the JupyterLab browser tests need it (they skip without it, except in CI)",
        "Debian/Ubuntu: apt-get install chromium",
    )


def run(*, kernel: bool = True, redis_url: str | None = None) -> list[Finding]:
    """Every check, in the order the report shows them."""
    findings = [check_python(), *check_packages(), check_widgets_frontend()]
    if kernel:
        findings.append(check_kernel())
    findings += [check_redis(redis_url), check_chromium()]
    return findings


def report(findings: list[Finding]) -> str:
    """The findings as lines, then a one-line verdict."""
    fails = sum(f.status == "fail" for f in findings)
    warns = sum(f.status == "warn" for f in findings)
    if fails:
        verdict = f"{fails} problem(s) to fix before the lab works; see the → lines."
    elif warns:
        verdict = f"Ready. {warns} optional part(s) missing (see the → lines)."
    else:
        verdict = "Ready, with every optional part."
    return "\n".join([*(f.line() for f in findings), "", verdict])
