"""Shared fixtures: what a test needs from outside Python (a Redis server, a Chromium browser).

Rule for both: in CI (``CI=true``) a missing requirement FAILS the test, because CI must run
everything; on a developer's machine it SKIPS with a message saying how to enable it.
Tests marked ``@pytest.mark.redis`` or ``@pytest.mark.browser`` get the check automatically.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

REDIS_HINT = "start Redis and set PUSHPULL_REDIS_URL, or run bash .ci/run"
BROWSER_HINT = "install Debian's chromium (apt-get install chromium) and the test extras, or run bash .ci/run"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str, hint: str) -> None:
    """Fail in CI, skip elsewhere: never let CI go green by skipping."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: tests that need it may not be skipped; .ci/run must provide it)")
    pytest.skip(f"{what}: {hint}")


def redis_answers(url: str, timeout: float = 2.0) -> str | None:
    """None when ``PING`` on the server behind ``url`` gets ``+PONG``; otherwise what went wrong."""
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        return f"PUSHPULL_REDIS_URL={url!r} is not a redis:// URL"
    if parsed.scheme == "rediss":
        return None  # TLS: let the client library check it
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"Redis at {host}:{port} (PUSHPULL_REDIS_URL={url}) does not answer: {exc}"
    # "-NOAUTH" still proves a server is there; the URL's password is the client's business.
    if reply.startswith((b"+PONG", b"-NOAUTH")):
        return None
    return f"Redis at {host}:{port} answered PING with {reply!r}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slow browser tests last, after the unit tests and the nbval notebooks."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis server (``PUSHPULL_REDIS_URL``), checked with PING."""
    url = os.environ.get("PUSHPULL_REDIS_URL", "").strip()
    if not url:
        unavailable("PUSHPULL_REDIS_URL is not set", REDIS_HINT)
    problem = redis_answers(url)
    if problem:
        # The variable was set on purpose, so a dead server is an error everywhere.
        pytest.fail(f"{problem}. {REDIS_HINT}")
    return url


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium binary that Playwright can drive (Debian's, never a downloaded build)."""
    path = os.environ.get("PUSHPULL_CHROMIUM", DEFAULT_CHROMIUM)
    if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
        unavailable(f"Chromium not found at {path}", BROWSER_HINT)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package is not installed", BROWSER_HINT)
    return path


@pytest.fixture(autouse=True)
def _external_requirements(request: pytest.FixtureRequest) -> None:
    """Apply the CI-fail / local-skip rule to tests marked ``redis`` or ``browser``."""
    if request.node.get_closest_marker("redis"):
        request.getfixturevalue("redis_url")
    if request.node.get_closest_marker("browser"):
        request.getfixturevalue("chromium")
