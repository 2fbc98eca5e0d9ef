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


def _start_redis_command(tmp_path, *options: str) -> tuple[subprocess.Popen, int]:
    """`python -m pushpull_lab redis` on a free loopback port, once it answers PING."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushpull_lab", "redis", "--port", str(port), *options],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16) == b"+PONG\r\n":
                    return proc, port
        except ConnectionRefusedError:
            pass
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    pytest.fail("pushpull-lab redis did not answer PING within 10 s")


def test_redis_command_serves_on_loopback(tmp_path):
    """`python -m pushpull_lab redis` starts a server that answers PING on 127.0.0.1."""
    proc, port = _start_redis_command(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            assert conn.recv(16) == b"+PONG\r\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_command_offers_one_database_per_learner(tmp_path):
    """--databases 40 gives a workshop of 40 learners databases /0 to /39."""
    proc, port = _start_redis_command(tmp_path, "--databases", "40")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"CONFIG GET databases\r\n")
            assert conn.recv(64) == b"*2\r\n$9\r\ndatabases\r\n$2\r\n40\r\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_terminating_the_redis_command_stops_its_server(tmp_path):
    """SIGTERM to `pushpull-lab redis` stops the redis-server too: no orphan keeps the port."""
    proc, port = _start_redis_command(tmp_path)
    try:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        with pytest.raises(ConnectionRefusedError):  # the server went with it
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# -- pushpull-lab worker: every bad argument is refused before anything connects ---------------
# The URL below points at a loopback port nobody listens on: an argument error must come first.
NOWHERE = "redis://127.0.0.1:1/0"


def worker_error(capsys, *args: str) -> str:
    """Run `pushpull-lab worker ARGS`; it must stop with a usage error (exit 2): its message."""
    with pytest.raises(SystemExit) as info:
        cli.main(["worker", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "cannot reach" not in err  # refused before connecting
    return err


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:6379/0", "has scheme 'http'"),
        ("127.0.0.1:6379", "must be a redis:// or rediss:// URL"),
        ("redis://127.0.0.1:99999/0", "is not a valid URL"),
        ("redis://127.0.0.1:6379/zero", "the database (after the last '/') must be a number"),
        ("redis:///0", "names no host"),
    ],
)
def test_worker_refuses_a_url_that_is_not_redis(capsys, url, reason):
    """--redis accepts only a redis:// or rediss:// URL with a host, a port and a numeric db."""
    err = worker_error(capsys, "--redis", url, "--queue", "q")
    assert "argument --redis:" in err and repr(url) in err and reason in err


@pytest.mark.parametrize("spec", ["mymodule", "mymodule:", ":process", " : "])
def test_worker_refuses_a_processor_spec_without_module_and_function(capsys, spec):
    """--processor must be module:function; the message shows the expected form."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", spec)
    assert "argument --processor:" in err and "is not of the form module:function" in err


def test_worker_names_a_missing_processor_module(capsys):
    """A module that cannot be found is named, with where it was looked for."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "no_such_ppl_module:run")
    assert "argument --processor:" in err
    assert "module 'no_such_ppl_module' was not found" in err and "PYTHONPATH" in err


def test_worker_tells_a_broken_module_from_a_missing_one(capsys, tmp_path, monkeypatch):
    """A module that exists but raises on import is reported as found, with its error."""
    (tmp_path / "ppl_broken_tasks.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "ppl_needy_tasks.py").write_text("import no_such_dependency_ppl\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "ppl_broken_tasks:run")
    assert "module 'ppl_broken_tasks' was found but importing it failed: RuntimeError: boom at import" in err
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "ppl_needy_tasks:run")
    assert "module 'ppl_needy_tasks' was found but importing it failed" in err
    assert "no_such_dependency_ppl" in err


def test_worker_names_a_missing_function(capsys):
    """A module without the named function says which attribute is missing."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "math:no_such_function")
    assert "'math' has no attribute 'no_such_function'" in err


def test_worker_refuses_a_processor_that_is_not_callable(capsys):
    """module:attribute must name a function: a number is refused, with its type."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "math:pi")
    assert "argument --processor:" in err and "'pi' in module 'math' is a float, not a function" in err


def test_worker_refuses_a_processor_that_cannot_take_a_job(capsys, tmp_path, monkeypatch):
    """A function that cannot be called with one argument (the job) is refused."""
    (tmp_path / "ppl_two_args.py").write_text("def process(job, extra):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--processor", "ppl_two_args:process")
    assert "process(job, extra) cannot be called with one argument" in err


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "0: it must be an integer >= 1"), ("-2", ">= 1"), ("two", "'two' is not an integer")],
)
def test_worker_refuses_concurrency_below_one(capsys, value, reason):
    """--concurrency must be an integer >= 1."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--concurrency", value)
    assert "argument --concurrency:" in err and reason in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_worker_refuses_a_lock_duration_that_is_not_a_positive_number(capsys, value):
    """--lock-duration must be a finite number of seconds > 0."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "q", "--lock-duration", value)
    assert "argument --lock-duration:" in err and "finite number of seconds > 0" in err


def test_worker_refuses_a_queue_name_redis_keys_cannot_carry(capsys):
    """--queue follows the Queue name rule (letters, digits, '_', '-', '.')."""
    err = worker_error(capsys, "--redis", NOWHERE, "--queue", "my queue")
    assert "argument --queue: 'my queue':" in err and "letters, digits" in err


def test_worker_requires_redis_and_queue(capsys):
    """--redis and --queue have no defaults: leaving them out is a usage error."""
    err = worker_error(capsys)
    assert "the following arguments are required: --redis, --queue" in err


def test_worker_reports_an_unreachable_server_without_its_password(capsys):
    """Valid arguments but no server: exit 1, saying which server, with the password masked."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"redis://:s3cret@127.0.0.1:{port}/0"
    assert cli.main(["worker", "--redis", url, "--queue", "q"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in err
    assert "s3cret" not in err
