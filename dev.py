#!/usr/bin/env python3
"""Set up and run pushpull-lab from a fresh checkout.  Standard library only.

    python3 dev.py lab  [JUPYTER LAB ARGS...]   # open the lab in JupyterLab
    python3 dev.py test [PYTEST ARGS...]        # run every test and every notebook

Both commands create ``.venv`` next to this file when it is missing, install the package into it
in editable mode and remember what they installed in a stamp file inside ``.venv``: a later run
skips ``pip install`` until ``pyproject.toml`` changes (or until it needs extras it did not install).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".pushpull-lab-install.json"
WELCOME = Path("notebooks") / "00_welcome.ipynb"
MIN_PYTHON = (3, 10)
WINDOWS = os.name == "nt"


def step(message: str) -> None:
    """One line per step, so a log shows what happened and where it stopped."""
    print(f"[dev.py] {message}", flush=True)


def die(message: str, code: int = 1) -> None:
    print(f"[dev.py] error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def venv_bin(name: str) -> Path:
    if WINDOWS:
        return VENV / "Scripts" / f"{name}.exe"
    return VENV / "bin" / name


def venv_python() -> Path:
    return venv_bin("python")


def python_works(python: Path) -> bool:
    if not python.exists():
        return False
    try:
        result = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version_info >= (3, 10))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip() == "True"


def ensure_venv() -> Path:
    """Create ``.venv`` with the Python running this script, or reuse a working one."""
    python = venv_python()
    if python_works(python):
        step(f"using virtual environment {VENV.relative_to(ROOT)}/")
        return python
    if VENV.exists():
        step(f"{VENV.relative_to(ROOT)}/ exists but its Python does not run: recreating it")
        shutil.rmtree(VENV)
    step(f"creating virtual environment {VENV.relative_to(ROOT)}/ with {sys.executable}")
    result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
    if result.returncode != 0 or not python.exists():
        die(
            "could not create the virtual environment. On Debian/Ubuntu install the venv module "
            "first: sudo apt-get install python3-venv"
        )
    return python


def wanted_stamp(extras: tuple[str, ...]) -> dict:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return {"pyproject_sha256": digest, "extras": sorted(extras)}


def install_is_current(extras: tuple[str, ...]) -> bool:
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return False
    wanted = wanted_stamp(extras)
    return stamp.get("pyproject_sha256") == wanted["pyproject_sha256"] and set(extras) <= set(
        stamp.get("extras", [])
    )


def ensure_installed(python: Path, extras: tuple[str, ...]) -> None:
    """``pip install -e .[extras]`` unless the stamp says it is already done."""
    target = f".[{','.join(extras)}]" if extras else "."
    if install_is_current(extras):
        step(f"pyproject.toml unchanged since the last install: skipping pip install -e {target}")
        return
    step(f"installing pip install -e {target} (quiet; errors are shown)")
    STAMP.unlink(missing_ok=True)
    # Captured, so the log stays short (machine-wide pip warnings can be many): all of it on a
    # failure, only pip's ERROR lines (a dependency conflict, say) on a success.
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-e",
            target,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    output = result.stdout or ""
    if result.returncode != 0:
        sys.stderr.write(output)
        die(f"pip install -e {target} failed (exit {result.returncode}); see the messages above")
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    if errors:
        sys.stderr.write("\n".join(errors) + "\n")
    STAMP.write_text(json.dumps(wanted_stamp(extras), indent=2) + "\n")


def cmd_lab(args: list[str]) -> int:
    python = ensure_venv()
    ensure_installed(python, ())
    jupyter = venv_bin("jupyter")
    argv = [str(jupyter), "lab", "--ip", "127.0.0.1", f"--ServerApp.root_dir={ROOT}"]
    if not WINDOWS and os.geteuid() == 0 and "--allow-root" not in args:
        argv.append("--allow-root")  # containers and Binder-like machines run as root
    if (ROOT / WELCOME).exists():
        argv.append(WELCOME.as_posix())
    else:
        step(f"{WELCOME.as_posix()} not found: opening the file browser instead")
    argv += args
    step("starting JupyterLab on 127.0.0.1 (in-memory backend, no Redis needed); stop it with Ctrl+C")
    os.chdir(ROOT)
    if WINDOWS:  # os.exec* on Windows does not replace the process; wait for the child instead
        return subprocess.call(argv)
    os.execv(str(jupyter), argv)
    return 0  # not reached


def cmd_test(args: list[str]) -> int:
    python = ensure_venv()
    ensure_installed(python, ("test", "bench"))
    argv = [str(python), "-m", "pytest", *args]
    step("running " + " ".join(["python -m pytest", *args]))
    try:
        code = subprocess.call(argv, cwd=ROOT)
    except KeyboardInterrupt:
        return 130
    if code == 5:
        step("pytest collected no tests: treating that as a failure (check the paths and -k/-m filters)")
        return 1
    return code


USAGE = f"""usage: python3 dev.py {{lab,test}} [ARGS...]

  lab   create/update .venv, install the package and open JupyterLab on {WELCOME.as_posix()}
        (extra ARGS go to `jupyter lab`, e.g. --port 8899 --no-browser)
  test  create/update .venv, install the package with its test extras and run
        `python -m pytest` over tests/ and the notebooks (extra ARGS go to pytest)
"""


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        die(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed; this is {sys.version.split()[0]}")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "lab":
        return cmd_lab(rest)
    if command == "test":
        return cmd_test(rest)
    print(USAGE, end="", file=sys.stderr)
    die(f"unknown command {command!r}: use 'lab' or 'test'", code=2)
    return 2  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
