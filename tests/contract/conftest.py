"""The ``env`` fixture: every contract test runs once per backend (memory, fakeredis, Redis).

The real-Redis run is marked ``redis``: it needs ``PUSHPULL_REDIS_URL`` (skipped locally
without it, a failure in CI).
"""

from __future__ import annotations

import pytest
from contract_helpers import Env


@pytest.fixture(params=["memory", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
def env(request: pytest.FixtureRequest) -> Env:
    """A backend to run a contract test on."""
    if request.param == "redis":
        return Env("redis", request.getfixturevalue("redis_url"))
    return Env(request.param)
