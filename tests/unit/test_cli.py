"""cli.py: the pushpull-lab command parses, reports versions and starts a loopback Redis."""

import shutil
import socket
import subprocess
import sys
import time

import pytest

from pushpull_lab import __version__, cli


def test_version_prints_the_package_version(capsys):
    """`pushpull-lab version` names the package version."""
    assert cli.main(["version"]) == 0
    assert f"pushpull-lab {__version__}" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    """A mistyped command exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as info:
        cli.main(["bogus"])
    assert info.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err


def test_bad_port_is_refused(capsys):
    """A port outside 1..65535 is refused before anything starts."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    assert cli.main(["redis", "--port", "70000"]) == 2
    assert "port must be 1..65535" in capsys.readouterr().err


def test_redis_command_serves_on_loopback(tmp_path):
    """`python -m pushpull_lab redis` starts a server that answers PING on 127.0.0.1."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushpull_lab", "redis", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    assert conn.recv(16) == b"+PONG\r\n"
                    break
            except ConnectionRefusedError:
                time.sleep(0.05)
        else:
            pytest.fail("redis did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
