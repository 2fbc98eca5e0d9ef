"""Find a Redis server to learn with, or start a throwaway one on 127.0.0.1.

::

    url = ppl.redis_server.ensure()      # 'redis://127.0.0.1:41233/0', or None (see .reason)

Order: ``PUSHPULL_REDIS_URL`` if it answers; else a ``redis-server`` binary on PATH, started
on a free loopback port without persistence and stopped when Python exits; else None —
``reason()`` then says what is missing and how to get it. Notebooks use this so the same
cell runs on Binder (which starts Redis), in CI, and on a laptop without Redis.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time

_started: subprocess.Popen | None = None
_url: str | None = None
_reason = "not looked for yet"


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


def ensure(*, start: bool = True) -> str | None:
    """A URL of a Redis server that answers PING, starting one if allowed; None if none can be had."""
    global _url, _reason, _started
    if _url is not None and _answers(*_host_port(_url)):
        return _url
    env = os.environ.get("PUSHPULL_REDIS_URL")
    if env:
        if _answers(*_host_port(env)):
            _url = env
            return _url
        _reason = f"PUSHPULL_REDIS_URL={env} does not answer PING"
    binary = shutil.which("redis-server")
    if binary is None:
        _reason = (
            "no Redis server: PUSHPULL_REDIS_URL is not set and redis-server is not installed "
            "(Debian/Ubuntu: apt-get install redis-server; conda: conda install -c conda-forge redis-server)"
        )
        return None
    if not start:
        if not env:
            _reason = "no Redis server answers, and ensure(start=False) may not start one"
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _started = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(stop)
    for _ in range(100):
        if _answers("127.0.0.1", port, timeout=0.2):
            _url = f"redis://127.0.0.1:{port}/0"
            return _url
        if _started.poll() is not None:
            break
        time.sleep(0.05)
    stop()
    _reason = f"redis-server was found at {binary} but did not start on 127.0.0.1:{port}"
    return None


def reason() -> str:
    """Why :func:`ensure` returned None the last time."""
    return _reason


def stop() -> None:
    """Stop the server :func:`ensure` started, if any."""
    global _started, _url
    if _started is not None and _started.poll() is None:
        _started.terminate()
        try:
            _started.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _started.kill()
    if _started is not None:
        _url = None
    _started = None
