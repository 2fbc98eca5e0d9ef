"""The storage interface behind Queue, Worker and QueueEvents.

A backend stores jobs and moves them between states; it never decides anything. The
policy (when to retry, how long to back off, how long a lock lasts) lives in
:mod:`pushpull_lab.pull`, which hands the backend plain values: the current time on the
lab clock, a lock deadline, a retry time. That is what lets one worker implementation run
on memory, on fakeredis and on a real Redis server, in real or virtual time.

A job moves through these states::

                 add(delay>0)                 retry after backoff
              ┌──────────────► delayed ◄──────────────────────┐
    add ──────┤                  │ due                         │
              └──► waiting ◄─────┘                             │
                     │  ▲                                      │
               fetch │  │ stalled (lock expired) / returned    │
                     ▼  │                                      │
                    active ──── processor returned ──► completed
                       └─────── processor raised ────► failed (no attempts left)

Every state change appends an event (``waiting``, ``active``, ``progress``, ``completed``,
``failed``, ``delayed``, ``stalled``, ``drained``, ``paused``, ``resumed``, ``removed``) to the
queue's append-only event log *in the same atomic step*, so the log's order is the order in
which things happened. :class:`~pushpull_lab.QueueEvents` reads that log.

The Redis layout (see :mod:`pushpull_lab.backends.redis`), for queue ``q``::

    ppl:q:wait          LIST   ids of waiting jobs without priority, next first
    ppl:q:prioritized   ZSET   ids of waiting jobs with a priority (score: priority, then age)
    ppl:q:delayed       ZSET   ids of delayed jobs (score: lab time when due)
    ppl:q:active        ZSET   ids of jobs being processed (score: lab time the lock expires)
    ppl:q:completed     ZSET   ids of completed jobs (score: lab time finished)
    ppl:q:failed        ZSET   ids of failed jobs (score: lab time finished)
    ppl:q:job:<id>      HASH   the job: name, data (JSON), state, times, attempts, result ...
    ppl:q:events        STREAM the event log
    ppl:q:meta          HASH   queue settings (paused)
    ppl:q:id            STRING counter for job ids and arrival order
    ppl:q:marker        LIST   "there may be work" hints that blocked workers wait on
    ppl:q:wake:<token>  LIST   wakes one worker's blocking wait when it closes
                        (a STREAM for an event reader's blocking read)

Times are seconds on the lab clock (``lab.now()``), never Redis key expiry or wall time.

Nothing here is ever stopped by cancelling a blocking Redis command (redis-py cannot always
cancel one cleanly): a closing worker or event reader is woken through its own ``wake``
key instead, and then stops by itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

STATES = ("waiting", "active", "delayed", "completed", "failed")
"""The states a job can be in; :meth:`Queue.get_jobs` and :meth:`Queue.get_job_counts` use them."""

EVENT_LOG_LIMIT = 10_000
"""The event log keeps about this many recent events (Redis trims approximately)."""

MAX_PRIORITY = 2_097_152
"""Priorities go from 0 (none: first) to this (last), as in BullMQ."""

PROMOTE_EPSILON = 1e-9
"""A delayed job is due when ``due <= now + PROMOTE_EPSILON``: absorbs float rounding."""

PRIORITY_SHIFT = 2**32
"""Prioritized score = priority * PRIORITY_SHIFT + arrival number: priority, then FIFO."""

RECORD_KEYS = (  # a job record's keys; every one but the internal arrival number is public
    "id",
    "name",
    "data",
    "state",
    "priority",
    "attempts",
    "backoff",
    "added_at",
    "started_at",
    "finished_at",
    "due",
    "attempts_made",
    "progress",
    "result",
    "failed_reason",
    "stalled_count",
    "seq",
)
"""The keys of a job record (see :class:`Storage`); ``seq`` is the internal arrival number."""


@dataclass
class Fetched:
    """What :meth:`Storage.fetch` returns.

    ``job`` is the record of the job now active (None when nothing was ready), ``waiting``
    the waiting count afterwards, ``next_due`` when the earliest delayed job becomes due
    (None if there is none) and ``promoted`` the ids of delayed jobs that just became
    waiting, with the waiting count after each.
    """

    job: dict | None
    waiting: int
    next_due: float | None
    promoted: list[tuple[str, int]] = field(default_factory=list)


class LockLostError(Exception):
    """The job is no longer active under this worker's lock (it stalled and moved on)."""


class Storage(ABC):
    """One backend. Every method takes the queue name first; times are lab seconds.

    A job *record* is a dict with the keys ``id, name, data, state, priority, attempts,
    backoff, added_at, started_at, finished_at, due, attempts_made, progress, result,
    failed_reason, stalled_count, seq``. ``data``, ``result``, ``progress`` and ``backoff``
    are JSON text (or None); times are floats (or None).
    """

    kind: str = "?"

    # -- producing ------------------------------------------------------------------------
    @abstractmethod
    async def add(self, queue: str, spec: dict, now: float) -> tuple[dict, bool, int]:
        """Store a new job; returns ``(record, created, waiting)``.

        ``spec`` has ``job_id`` (None for an automatic id), ``name``, ``data`` (JSON),
        ``priority``, ``attempts``, ``backoff`` (JSON or None) and ``delay`` (seconds). If a
        job with ``job_id`` exists (in any state) nothing is stored and ``created`` is False.
        """

    async def add_many(self, queue: str, specs: list[dict], now: float) -> list[tuple[dict, bool, int]]:
        """:meth:`add` for each spec, in order; a backend may send them in one round trip."""
        return [await self.add(queue, spec, now) for spec in specs]

    # -- consuming ------------------------------------------------------------------------
    @abstractmethod
    async def fetch(self, queue: str, token: str, now: float, lock_until: float) -> Fetched:
        """Promote due delayed jobs, then move the next waiting job to active, locked by
        ``token`` until ``lock_until``. Never blocks. Nothing is fetched while paused."""

    @abstractmethod
    async def wait_for_work(self, queue: str, token: str, timeout: float) -> None:
        """Block up to ``timeout`` seconds until a hint says there may be work, or until
        :meth:`wake` is called for ``token``."""

    @abstractmethod
    async def wake(self, queue: str, token: str) -> None:
        """End ``token``'s current (or next) :meth:`wait_for_work` at once."""

    @abstractmethod
    async def forget(self, queue: str, token: str) -> None:
        """Drop what :meth:`wake` may have left for ``token`` (its worker has stopped)."""

    @abstractmethod
    async def extend_locks(self, queue: str, token: str, job_ids: list[str], until: float) -> list[str]:
        """Extend the locks ``token`` holds; returns the ids whose lock was lost."""

    @abstractmethod
    async def complete(self, queue: str, job_id: str, token: str, result: str, now: float) -> int:
        """Active → completed with ``result`` (JSON); returns the waiting count.
        Raises :class:`LockLostError` if ``token`` no longer holds the job."""

    @abstractmethod
    async def fail(
        self, queue: str, job_id: str, token: str, reason: str, now: float, retry_at: float | None
    ) -> tuple[str, int]:
        """Active → failed (``retry_at`` None), waiting (``retry_at <= now``) or delayed.

        Returns ``(new_state, waiting)``; raises :class:`LockLostError` like :meth:`complete`.
        """

    @abstractmethod
    async def release(self, queue: str, job_id: str, token: str, now: float) -> int:
        """Active → waiting (front), without counting an attempt; returns the waiting count."""

    @abstractmethod
    async def progress(self, queue: str, job_id: str, token: str, progress: str, now: float) -> None:
        """Store ``progress`` (JSON) on an active job and log a ``progress`` event."""

    @abstractmethod
    async def recover_stalled(self, queue: str, now: float) -> list[tuple[str, int]]:
        """Move every active job whose lock expired before ``now`` to the front of waiting.

        Returns ``[(job_id, waiting_after), ...]``.
        """

    # -- inspecting and managing --------------------------------------------------------
    @abstractmethod
    async def get_job(self, queue: str, job_id: str) -> dict | None: ...

    @abstractmethod
    async def get_jobs(self, queue: str, states: list[str]) -> list[dict]:
        """Records in the given states; within a state in processing order (waiting: next
        first; delayed: due first; active: started first; completed/failed: finished first)."""

    @abstractmethod
    async def counts(self, queue: str) -> dict[str, int]: ...

    @abstractmethod
    async def set_paused(self, queue: str, paused: bool, now: float) -> None: ...

    @abstractmethod
    async def is_paused(self, queue: str) -> bool: ...

    @abstractmethod
    async def drain(self, queue: str, delayed: bool, now: float) -> int:
        """Delete every waiting job (and delayed ones if ``delayed``); returns how many."""

    @abstractmethod
    async def remove(self, queue: str, job_id: str, now: float) -> str:
        """Delete a job that is not active: ``"removed"``, ``"missing"`` or ``"active"``."""

    @abstractmethod
    async def obliterate(self, queue: str) -> None:
        """Delete everything the queue has: jobs in every state, events, settings."""

    # -- the event log --------------------------------------------------------------------
    @abstractmethod
    async def last_event_id(self, queue: str) -> str:
        """The id of the newest event, or ``"0-0"`` when the log is empty."""

    @abstractmethod
    async def read_events(
        self, queue: str, after: str, timeout: float, token: str, count: int = 100
    ) -> list[tuple[str, dict[str, Any]]]:
        """Events newer than ``after``, oldest first, blocking up to ``timeout`` seconds
        for at least one, or until :meth:`wake_reader` is called for ``token``.
        Each event is ``(id, {"event", "job_id", "time", ...})``."""

    @abstractmethod
    async def wake_reader(self, queue: str, token: str) -> None:
        """End ``token``'s current (or next) :meth:`read_events` at once."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections (nothing to do for memory)."""


def event_id_key(event_id: str) -> tuple[int, int]:
    """``"12-3"`` → ``(12, 3)``: stream ids compare as pairs of integers."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)
