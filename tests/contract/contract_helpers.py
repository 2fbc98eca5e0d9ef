"""Helpers of the contract suite, which runs every test on each backend: memory, fakeredis and a real Redis.

Memory and fakeredis run in virtual time (``ppl.simulate``), so times are exact; the real
server runs in real time with every duration scaled down (``env.s(1)`` is 0.1 s there), and
times are checked within a tolerance (``env.near``). Each real-Redis test uses its own
queue name and deletes the queue's keys afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pushpull_lab as ppl
from pushpull_lab.backends import open_backend
from pushpull_lab.clock import Run
from pushpull_lab.lab import _current_lab

REAL_SCALE = 0.1  # one time unit of a test, in real seconds on the real server
REAL_SLACK = 0.06  # how late (seconds) a real-time event may be


class Env:
    """One backend, as a test sees it."""

    def __init__(self, backend: str, url: str | None = None):
        self.backend = backend
        self.url = url
        self.virtual = url is None
        self.scale = 1.0 if self.virtual else REAL_SCALE
        self.queue = "q" if self.virtual else f"contract-{uuid.uuid4().hex[:10]}"

    def __repr__(self) -> str:
        return f"Env({self.backend})"

    def s(self, units: float) -> float:
        """Test time units as seconds on this backend's clock."""
        return units * self.scale

    async def sleep(self, units: float) -> None:
        await ppl.sleep(self.s(units))

    def near(self, seconds: float | None, units: float) -> bool:
        """True if ``seconds`` is ``units`` time units (exactly in virtual time)."""
        if seconds is None:
            return False
        expected = self.s(units)
        if self.virtual:
            return abs(seconds - expected) < 1e-6
        return expected - 0.005 <= seconds <= expected + REAL_SLACK

    def run(self, main: Callable[[ppl.Lab], Awaitable[Any]], *, seed: int = 0) -> Run:
        """Run ``main(lab)`` on this backend; returns a :class:`Run` (value, trace, now, lab)."""
        if self.virtual:
            return ppl.simulate(main, backend=self.backend, seed=seed)

        async def real() -> Run:
            lab = ppl.Lab(backend=self.url, seed=seed)
            token = _current_lab.set(lab)
            try:
                value = await main(lab)
                return Run(value=value, trace=lab.trace, now=lab.now(), lab=lab)
            finally:
                _current_lab.reset(token)
                for primitive in lab.live:
                    if isinstance(primitive, ppl.Worker):
                        primitive.crash()
                    else:
                        primitive._close_now()
                storage = open_backend(lab)
                await storage.obliterate(self.queue)
                await storage.aclose()

        return asyncio.run(real())


async def until(predicate: Callable[[], Any], *, timeout: float = 30.0, step: float = 0.01) -> None:
    """Wait (on the lab clock) until ``predicate()`` — sync or async — is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


async def counts_are(queue: ppl.Queue, **expected: int) -> bool:
    counts = await queue.get_job_counts()
    return all(counts[k] == v for k, v in expected.items())
