"""redis_server.py: a reachable Redis is found or started on loopback, or the reason is given."""

import shutil

import pytest

from pushpull_lab import redis_server


def test_a_dead_url_is_not_used(monkeypatch):
    """A PUSHPULL_REDIS_URL that does not answer is skipped, and the reason says so."""
    monkeypatch.setenv("PUSHPULL_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(redis_server, "_url", None)
    assert redis_server.ensure(start=False) is None
    assert "does not answer PING" in redis_server.reason()


def test_missing_binary_gives_install_advice(monkeypatch):
    """Without redis-server and without a URL, ensure() returns None with how to install it."""
    monkeypatch.delenv("PUSHPULL_REDIS_URL", raising=False)
    monkeypatch.setattr(redis_server, "_url", None)
    monkeypatch.setattr(redis_server.shutil, "which", lambda name: None)
    assert redis_server.ensure() is None
    assert "apt-get install redis-server" in redis_server.reason()


def test_starts_a_throwaway_server_on_loopback(monkeypatch):
    """With the binary present, ensure() starts a server on 127.0.0.1 that answers, and stop() ends it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (bash .ci/run installs it)")
    monkeypatch.delenv("PUSHPULL_REDIS_URL", raising=False)
    monkeypatch.setattr(redis_server, "_url", None)
    url = redis_server.ensure()
    try:
        assert url is not None and url.startswith("redis://127.0.0.1:")
        assert redis_server._answers(*redis_server._host_port(url))
        assert redis_server.ensure() == url  # reused, not started twice
    finally:
        redis_server.stop()
    assert not redis_server._answers(*redis_server._host_port(url))
