"""The lab: one clock, one backend, one trace, one seeded rng, and the live primitives.

Every primitive belongs to a lab; created without ``lab=`` it joins :func:`current_lab`,
which is the lab of the running :func:`~pushpull_lab.simulate`, or else a real-time lab
on the in-memory backend::

    lab = ppl.Lab(backend="fakeredis", seed=7)
    ppl.use_lab(lab)          # primitives created from now on record into lab.trace
"""

from __future__ import annotations

import contextvars
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

from . import _validate
from .trace import Trace

_current_lab: contextvars.ContextVar[Lab | None] = contextvars.ContextVar("pushpull_lab", default=None)
_default_lab: Lab | None = None

BACKENDS = ("memory", "fakeredis", "redis://host:port/db")


def _check_backend(where: str, backend: Any) -> str:
    if isinstance(backend, str) and (
        backend in ("memory", "fakeredis") or backend.startswith(("redis://", "rediss://", "unix://"))
    ):
        return backend
    raise ValueError(
        f"{where}(backend={backend!r}): backend must be 'memory', 'fakeredis' or a Redis URL "
        "such as 'redis://127.0.0.1:6379/0'"
    )


class Lab:
    """Clock, backend, trace, seeded randomness and the registry of live primitives.

    Args:
        backend: ``"memory"`` (default, in-process), ``"fakeredis"`` (Redis commands, no
            server) or a Redis URL such as ``"redis://127.0.0.1:6379/0"``.
        seed: seeds :attr:`rng`; all randomness in the lab draws from it.
        trace_limit: keep at most this many events (oldest dropped first); ``None`` keeps
            all. Real-time labs default to 1,000,000 so a demo left running cannot eat memory.
    """

    def __init__(
        self,
        backend: str = "memory",
        seed: int = 0,
        *,
        trace_limit: int | None = 1_000_000,
        _virtual: bool = False,
    ):
        self.backend = _check_backend("Lab", backend)
        self.seed = _validate.integer("Lab", "seed", seed)
        if trace_limit is not None:
            _validate.integer("Lab", "trace_limit", trace_limit, minimum=1)
        self.virtual = _virtual
        self.rng = random.Random(seed)
        self._t0 = time.monotonic()
        self.epoch_at_start = time.time()
        """Wall-clock epoch seconds when the lab's clock read 0 (see backends/shared_time.py)."""
        self._clock: Callable[[], float] = self._real_now
        self.trace = Trace(self.now, limit=None if _virtual else trace_limit)
        self._live: dict[tuple[str, str], Any] = {}
        self._ids: dict[str, itertools.count] = {}
        self.message_ids = itertools.count(1)
        """``next(lab.message_ids)`` numbers messages across all primitives of the lab."""

    def _real_now(self) -> float:
        return time.monotonic() - self._t0

    def _bind_clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        """Seconds on the lab clock: since the lab was made (real time) or virtual seconds."""
        return self._clock()

    def next_id(self, prefix: str) -> str:
        """A fresh id such as ``'sub-3'``, numbered per prefix and per lab (deterministic)."""
        counter = self._ids.get(prefix)
        if counter is None:
            counter = self._ids[prefix] = itertools.count(1)
        return f"{prefix}-{next(counter)}"

    def register(self, kind: str, name: str, primitive: Any) -> None:
        """Track a live primitive; one with the same kind and name is closed first.

        This is what lets a notebook cell that starts a worker be run twice without leaving
        two workers behind.
        """
        old = self._live.get((kind, name))
        if old is not None and old is not primitive:
            old._close_now()
        self._live[(kind, name)] = primitive

    def unregister(self, kind: str, name: str, primitive: Any) -> None:
        if self._live.get((kind, name)) is primitive:
            del self._live[(kind, name)]

    @property
    def live(self) -> list[Any]:
        """The primitives that are open right now."""
        return list(self._live.values())

    def close_all(self) -> int:
        """Close every live primitive at once; returns how many were closed."""
        live = self.live
        for primitive in live:
            primitive._close_now()
        self._live.clear()
        return len(live)

    def __repr__(self) -> str:
        clock = "virtual" if self.virtual else "real-time"
        return f"Lab(backend={self.backend!r}, seed={self.seed}, {clock}, {len(self.trace)} events)"


def current_lab() -> Lab:
    """The active lab: the simulation's inside :func:`simulate`, else the default real-time lab."""
    lab = _current_lab.get()
    if lab is not None:
        return lab
    global _default_lab
    if _default_lab is None:
        _default_lab = Lab()
    return _default_lab


def use_lab(lab: Lab) -> Lab:
    """Make ``lab`` the default lab for primitives created outside :func:`simulate`."""
    if not isinstance(lab, Lab):
        raise TypeError(f"use_lab(lab={lab!r}): lab must be a pushpull_lab.Lab")
    global _default_lab
    _default_lab = lab
    return lab


def resolve(lab: Lab | None, where: str) -> Lab:
    """The lab a primitive joins: the one passed, or :func:`current_lab`."""
    if lab is None:
        return current_lab()
    if not isinstance(lab, Lab):
        raise TypeError(f"{where}(lab={lab!r}): lab must be a pushpull_lab.Lab or None")
    return lab
