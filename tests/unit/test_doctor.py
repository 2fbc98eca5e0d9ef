"""doctor.py and `pushpull-lab doctor`: each check finds what is there, and names the fix for what is not."""

import socket

import pytest

from pushpull_lab import cli, doctor


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_this_environment_has_everything_the_lab_needs():
    """Python, every runtime package, the widgets front end and a kernel that imports the lab: all ok."""
    findings = doctor.run(redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    required = [f for f in findings if f.check not in {"Redis", "Chromium"}]
    assert [f for f in required if f.status != "ok"] == []
    checks = {f.check for f in findings}
    assert {
        "Python",
        "package jupyterlab",
        "package ipywidgets",
        "widgets in JupyterLab",
        "kernel python3",
    } <= checks
    kernel = next(f for f in findings if f.check == "kernel python3")
    assert "imports pushpull_lab" in kernel.detail


def test_old_python_fails_with_the_version_needed():
    """Python 3.9 is refused and the fix says which version to install."""
    finding = doctor.check_python((3, 9, 18))
    assert finding.status == "fail" and "3.10" in finding.fix


def test_missing_and_too_old_packages_fail_with_a_pip_command(monkeypatch):
    """A missing package and one below its requirement each fail, naming the pip command that fixes it."""
    monkeypatch.setattr(doctor, "_runtime_requirements", lambda: ["redis>=5.0", "matplotlib>=3.7"])
    versions = {"redis": None, "matplotlib": "3.2.0"}
    monkeypatch.setattr(doctor, "_installed_version", versions.get)
    redis, matplotlib = doctor.check_packages()
    assert (redis.status, redis.fix) == ("fail", "pip install 'redis>=5.0'")
    assert matplotlib.status == "fail" and "3.2.0 installed" in matplotlib.detail
    assert matplotlib.fix == "pip install -U 'matplotlib>=3.7'"


def test_lab_not_installed_says_how_to_install_it(monkeypatch):
    """Without the pushpull-lab distribution the only finding is how to install it."""
    monkeypatch.setattr(doctor, "_runtime_requirements", lambda: None)
    (finding,) = doctor.check_packages()
    assert finding.status == "fail" and "pip install -e ." in finding.fix


def test_missing_widgets_frontend_fails_and_names_the_symptom(monkeypatch, tmp_path):
    """No jupyterlab-manager in any labextensions folder: fail, mentioning 'Error displaying widget'."""
    monkeypatch.setattr(doctor, "_labextension_dirs", lambda: [tmp_path])
    finding = doctor.check_widgets_frontend()
    assert finding.status == "fail" and "Error displaying widget" in finding.detail
    assert "ipywidgets" in finding.fix


def test_unknown_kernel_fails_with_the_install_command():
    """A kernel name that is not installed is reported with the ipykernel install command."""
    finding = doctor.check_kernel("no-such-kernel-pushpull")
    assert finding.status == "fail" and "ipykernel install" in finding.fix


def test_unreachable_redis_is_only_a_warning_with_a_way_to_start_one():
    """Nothing listening: a warning (the lab runs in memory) whose fix starts a server."""
    finding = doctor.check_redis(f"redis://127.0.0.1:{_closed_port()}/0")
    assert finding.status == "warn" and "pushpull-lab redis" in finding.fix


def test_reachable_redis_is_ok(redis_url):
    """A real server (PUSHPULL_REDIS_URL) answers PING: ok."""
    assert doctor.check_redis(redis_url).status == "ok"


def test_missing_chromium_is_only_a_warning(monkeypatch):
    """No Chromium on PATH: a warning that says the browser tests need it and how to install it."""
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    finding = doctor.check_chromium()
    assert finding.status == "warn" and "apt-get install chromium" in finding.fix


@pytest.mark.parametrize(("status", "code"), [("ok", 0), ("warn", 0), ("fail", 1)])
def test_command_prints_every_finding_and_exits_1_only_on_a_failure(monkeypatch, capsys, status, code):
    """`pushpull-lab doctor` prints each finding with its fix; only a 'fail' makes the exit code 1."""
    findings = [
        doctor.Finding("Python", "ok", "3.11"),
        doctor.Finding("thing", status, "found?", "" if status == "ok" else "do this"),
    ]
    monkeypatch.setattr(doctor, "run", lambda kernel, redis_url: findings)
    assert cli.main(["doctor", "--no-kernel"]) == code
    out = capsys.readouterr().out
    assert "✓ Python" in out and "thing" in out
    assert ("→ do this" in out) == (status != "ok")
