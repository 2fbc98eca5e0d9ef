"""dev.py, the README's two set-up commands: stdlib only, clear exits, install skipped when current."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "dev.py"


@pytest.fixture
def dev(monkeypatch, tmp_path):
    """dev.py loaded as a module, with its .venv and repository root pointed at tmp_path."""
    spec = importlib.util.spec_from_file_location("dev_under_test", DEV)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / ".venv").mkdir()
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "VENV", tmp_path / ".venv")
    monkeypatch.setattr(module, "STAMP", tmp_path / ".venv" / "stamp.json")
    return module


def test_dev_py_imports_only_the_standard_library():
    """dev.py runs on a fresh machine with nothing but Python: every import is from the stdlib."""
    tree = ast.parse(DEV.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    assert not names - set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


def test_dev_py_help_and_unknown_command():
    """`dev.py --help` prints both commands; an unknown command exits 2 naming it."""
    ok = subprocess.run([sys.executable, "-I", str(DEV), "--help"], capture_output=True, text=True)
    assert ok.returncode == 0
    assert "lab" in ok.stdout and "test" in ok.stdout
    bad = subprocess.run([sys.executable, "-I", str(DEV), "tset"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown command 'tset'" in bad.stderr


def test_install_is_skipped_until_pyproject_changes(dev, monkeypatch):
    """pip runs once; again only when pyproject.toml changes or more extras are needed."""
    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout="")

    monkeypatch.setattr(dev.subprocess, "run", fake_run)
    python = Path("/nonexistent/python")
    dev.ensure_installed(python, ("test", "bench"))
    assert calls[-1][-2:] == ["-e", ".[test,bench]"]
    dev.ensure_installed(python, ("test", "bench"))
    dev.ensure_installed(python, ())  # a subset of what is installed
    assert len(calls) == 1
    (dev.ROOT / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    dev.ensure_installed(python, ())
    assert len(calls) == 2
    dev.ensure_installed(python, ("test",))  # needs an extra the last install did not have
    assert len(calls) == 3


def test_failed_install_shows_pip_output_and_leaves_no_stamp(dev, monkeypatch, capsys):
    """A failed pip install prints pip's messages, exits 1 and is retried next time (no stamp)."""
    monkeypatch.setattr(
        dev.subprocess,
        "run",
        lambda argv, **kw: subprocess.CompletedProcess(
            argv, 1, stdout="WARNING: noise\nERROR: no such package\n"
        ),
    )
    with pytest.raises(SystemExit) as exc:
        dev.ensure_installed(Path("/nonexistent/python"), ())
    assert exc.value.code == 1
    assert not dev.STAMP.exists()
    err = capsys.readouterr().err
    assert "WARNING: noise" in err and "ERROR: no such package" in err


def test_successful_install_shows_only_pip_errors(dev, monkeypatch, capsys):
    """A successful install keeps the log short but still shows pip's ERROR lines."""
    monkeypatch.setattr(
        dev.subprocess,
        "run",
        lambda argv, **kw: subprocess.CompletedProcess(argv, 0, stdout="WARNING: noise\nERROR: conflict\n"),
    )
    dev.ensure_installed(Path("/nonexistent/python"), ())
    err = capsys.readouterr().err
    assert "ERROR: conflict" in err and "noise" not in err
    assert dev.STAMP.exists()


@pytest.mark.parametrize(("pytest_code", "expected"), [(0, 0), (1, 1), (2, 2), (5, 1)])
def test_pytest_exit_code_is_passed_on_and_no_tests_is_a_failure(
    dev, monkeypatch, capsys, pytest_code, expected
):
    """`dev.py test` exits with pytest's code, except 5 (no tests collected) which becomes 1."""
    monkeypatch.setattr(dev, "ensure_venv", lambda: Path("/nonexistent/python"))
    monkeypatch.setattr(dev, "ensure_installed", lambda python, extras: None)
    monkeypatch.setattr(dev.subprocess, "call", lambda argv, **kw: pytest_code)
    assert dev.cmd_test(["-k", "nothing"]) == expected
    if pytest_code == 5:
        assert "collected no tests" in capsys.readouterr().out
