"""The in-memory backend: plain Python structures, one set per queue.

It mirrors the Redis layout (see :mod:`pushpull_lab.backends.base`) with a deque for the
waiting list, sorted lists for the sorted sets and a deque for the event log, and follows
the same rules step for step, so the contract tests can hold both to one behaviour. Every
method runs without awaiting anything in the middle, which makes each one atomic, like a
Lua script on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from bisect import insort
from collections import deque
from typing import Any

from .base import (
    EVENT_LOG_LIMIT,
    PRIORITY_SHIFT,
    PROMOTE_EPSILON,
    Fetched,
    LockLostError,
    Storage,
    event_id_key,
)


class _Queue:
    """Everything one queue holds (the names match the Redis keys)."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}  # ppl:q:job:<id>
        self.wait: deque[str] = deque()  # ppl:q:wait
        self.prioritized: list[tuple[int, str]] = []  # ppl:q:prioritized, sorted by score
        self.delayed: list[tuple[float, int, str]] = []  # ppl:q:delayed, sorted by (due, seq)
        self.active: dict[str, list] = {}  # ppl:q:active: id -> [lock_until, token]
        self.completed: dict[str, None] = {}  # ppl:q:completed (insertion-ordered set)
        self.failed: dict[str, None] = {}  # ppl:q:failed
        self.paused = False  # ppl:q:meta paused
        self.last_id = 0  # ppl:q:id
        self.events: deque[tuple[int, dict]] = deque(maxlen=EVENT_LOG_LIMIT)  # ppl:q:events
        self.event_count = 0
        self.hints = 0  # ppl:q:marker: length of the hint list
        self.sleepers: deque[asyncio.Future] = deque()  # blocked wait_for_work calls, oldest first
        self.wakes: dict[str, Any] = {}  # token -> its blocked future, or True if woken early
        self.readers: list[asyncio.Future] = []  # blocked read_events calls

    def waiting(self) -> int:
        return len(self.wait) + len(self.prioritized)


def _resolve(futures) -> None:
    for fut in futures:
        if not fut.done():
            with contextlib.suppress(RuntimeError):  # its loop is already closed
                fut.set_result(None)


class MemoryStorage(Storage):
    """Jobs and events in this Python process (the default backend)."""

    kind = "memory"

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}

    def _q(self, queue: str) -> _Queue:
        q = self._queues.get(queue)
        if q is None:
            q = self._queues[queue] = _Queue()
        return q

    # -- helpers shared by the operations (the Lua scripts have the same ones) ------------
    def _emit(self, q: _Queue, event: str, job_id: str | None, now: float, **extra: Any) -> None:
        q.event_count += 1
        q.events.append((q.event_count, {"event": event, "job_id": job_id, "time": now, **extra}))
        readers, q.readers = q.readers, []
        _resolve(readers)

    def _hint(self, q: _Queue) -> None:
        """RPUSH marker: wake the longest-blocked worker, or leave a hint for the next one."""
        while q.sleepers:
            fut = q.sleepers.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        q.hints += 1

    def _enqueue(self, q: _Queue, rec: dict, *, front: bool = False) -> None:
        if rec["priority"] == 0:
            if front:
                q.wait.appendleft(rec["id"])
            else:
                q.wait.append(rec["id"])
        else:
            insort(q.prioritized, (rec["priority"] * PRIORITY_SHIFT + rec["seq"], rec["id"]))
        rec["state"] = "waiting"
        rec["due"] = None
        self._hint(q)

    def _locked(self, q: _Queue, job_id: str, token: str) -> dict:
        held = q.active.get(job_id)
        if held is None or held[1] != token:
            raise LockLostError(job_id)
        return q.jobs[job_id]

    # -- producing ------------------------------------------------------------------------
    async def add(self, queue: str, spec: dict, now: float) -> tuple[dict, bool, int]:
        q = self._q(queue)
        job_id = spec["job_id"]
        if job_id is not None and job_id in q.jobs:
            return dict(q.jobs[job_id]), False, q.waiting()
        q.last_id += 1
        seq = q.last_id
        if job_id is None:
            job_id = str(seq)
        rec = {
            "id": job_id,
            "name": spec["name"],
            "data": spec["data"],
            "state": None,
            "priority": spec["priority"],
            "attempts": spec["attempts"],
            "backoff": spec["backoff"],
            "added_at": now,
            "started_at": None,
            "finished_at": None,
            "due": None,
            "attempts_made": 0,
            "progress": None,
            "result": None,
            "failed_reason": None,
            "stalled_count": 0,
            "seq": seq,
        }
        q.jobs[job_id] = rec
        if spec["due"] is not None:
            rec["state"] = "delayed"
            rec["due"] = spec["due"]
            insort(q.delayed, (spec["due"], seq, job_id))
            self._hint(q)
            self._emit(q, "delayed", job_id, now, due=spec["due"])
        else:
            self._enqueue(q, rec)
            self._emit(q, "waiting", job_id, now)
        return dict(rec), True, q.waiting()

    # -- consuming ------------------------------------------------------------------------
    async def fetch(self, queue: str, token: str, now: float, lock_until: float) -> Fetched:
        q = self._q(queue)
        promoted = []
        while q.delayed and q.delayed[0][0] <= now + PROMOTE_EPSILON:
            _, _, job_id = q.delayed.pop(0)
            self._enqueue(q, q.jobs[job_id])
            self._emit(q, "waiting", job_id, now)
            promoted.append((job_id, q.waiting()))
        next_due = q.delayed[0][0] if q.delayed else None
        if q.paused:
            q.hints = 0
            return Fetched(None, q.waiting(), next_due, promoted)
        if q.wait:
            job_id = q.wait.popleft()
        elif q.prioritized:
            job_id = q.prioritized.pop(0)[1]
        else:
            q.hints = 0
            return Fetched(None, 0, next_due, promoted)
        rec = q.jobs[job_id]
        rec["state"] = "active"
        rec["started_at"] = now
        q.active[job_id] = [lock_until, token]
        self._emit(q, "active", job_id, now)
        left = q.waiting()
        if left == 0:
            q.hints = 0
            self._emit(q, "drained", None, now)
        return Fetched(dict(rec), left, next_due, promoted)

    async def wait_for_work(self, queue: str, token: str, timeout: float) -> None:
        q = self._q(queue)
        if q.wakes.pop(token, None) is True:  # woken before it started waiting
            return
        if q.hints > 0:
            q.hints -= 1
            return
        await _sleep_until_woken(q, q.sleepers, token, timeout)

    async def wake(self, queue: str, token: str) -> None:
        q = self._q(queue)
        fut = q.wakes.get(token)
        if fut is None or fut is True:
            q.wakes[token] = True
        else:
            _resolve([fut])

    async def forget(self, queue: str, token: str) -> None:
        self._q(queue).wakes.pop(token, None)

    async def extend_locks(self, queue: str, token: str, job_ids: list[str], until: float) -> list[str]:
        q = self._q(queue)
        lost = []
        for job_id in job_ids:
            held = q.active.get(job_id)
            if held is not None and held[1] == token:
                held[0] = until
            else:
                lost.append(job_id)
        return lost

    async def complete(self, queue: str, job_id: str, token: str, result: str, now: float) -> int:
        q = self._q(queue)
        rec = self._locked(q, job_id, token)
        del q.active[job_id]
        q.completed[job_id] = None
        rec["attempts_made"] += 1
        rec.update(state="completed", finished_at=now, result=result)
        self._emit(q, "completed", job_id, now, result=result, attempts_made=rec["attempts_made"])
        return q.waiting()

    async def fail(
        self, queue: str, job_id: str, token: str, reason: str, now: float, retry_at: float | None
    ) -> tuple[str, int]:
        q = self._q(queue)
        rec = self._locked(q, job_id, token)
        del q.active[job_id]
        rec["attempts_made"] += 1
        rec["failed_reason"] = reason
        made = rec["attempts_made"]
        if retry_at is None:
            q.failed[job_id] = None
            rec.update(state="failed", finished_at=now)
            self._emit(q, "failed", job_id, now, failed_reason=reason, attempts_made=made)
        elif retry_at <= now:
            self._enqueue(q, rec)
            self._emit(q, "waiting", job_id, now, failed_reason=reason, attempts_made=made)
        else:
            rec.update(state="delayed", due=retry_at)
            insort(q.delayed, (retry_at, rec["seq"], job_id))
            self._hint(q)
            self._emit(q, "delayed", job_id, now, due=retry_at, failed_reason=reason, attempts_made=made)
        return rec["state"], q.waiting()

    async def release(self, queue: str, job_id: str, token: str, now: float) -> int:
        q = self._q(queue)
        rec = self._locked(q, job_id, token)
        del q.active[job_id]
        self._enqueue(q, rec, front=True)
        self._emit(q, "waiting", job_id, now)
        return q.waiting()

    async def progress(self, queue: str, job_id: str, token: str, progress: str, now: float) -> None:
        q = self._q(queue)
        rec = self._locked(q, job_id, token)
        rec["progress"] = progress
        self._emit(q, "progress", job_id, now, progress=progress)

    async def recover_stalled(self, queue: str, now: float) -> list[tuple[str, int]]:
        q = self._q(queue)
        expired = sorted(
            (held[0], q.jobs[job_id]["seq"], job_id) for job_id, held in q.active.items() if held[0] < now
        )
        before = q.waiting()
        for _, _, job_id in expired:
            del q.active[job_id]
            q.jobs[job_id]["stalled_count"] += 1
            self._emit(q, "stalled", job_id, now)
        for _, _, job_id in reversed(expired):  # back to the front, keeping their order
            self._enqueue(q, q.jobs[job_id], front=True)
        out = []
        for i, (_, _, job_id) in enumerate(expired, 1):
            self._emit(q, "waiting", job_id, now)
            out.append((job_id, before + i))
        return out

    # -- inspecting and managing --------------------------------------------------------
    async def get_job(self, queue: str, job_id: str) -> dict | None:
        rec = self._q(queue).jobs.get(job_id)
        return None if rec is None else dict(rec)

    async def get_jobs(self, queue: str, states: list[str]) -> list[dict]:
        q = self._q(queue)
        jobs = q.jobs
        out: list[dict] = []
        for state in states:
            if state == "waiting":
                ids = [*q.wait, *(job_id for _, job_id in q.prioritized)]
            elif state == "delayed":
                ids = [job_id for _, _, job_id in q.delayed]
            elif state == "active":
                ids = sorted(q.active, key=lambda i: (jobs[i]["started_at"], jobs[i]["seq"]))
            else:
                finished = q.completed if state == "completed" else q.failed
                ids = sorted(finished, key=lambda i: (jobs[i]["finished_at"], jobs[i]["seq"]))
            out.extend(dict(jobs[i]) for i in ids)
        return out

    async def counts(self, queue: str) -> dict[str, int]:
        q = self._q(queue)
        return {
            "waiting": q.waiting(),
            "active": len(q.active),
            "delayed": len(q.delayed),
            "completed": len(q.completed),
            "failed": len(q.failed),
        }

    async def set_paused(self, queue: str, paused: bool, now: float) -> None:
        q = self._q(queue)
        q.paused = paused
        if paused:
            self._emit(q, "paused", None, now)
        else:
            for _ in range(min(q.waiting(), 1000)):
                self._hint(q)
            self._emit(q, "resumed", None, now)

    async def is_paused(self, queue: str) -> bool:
        return self._q(queue).paused

    async def drain(self, queue: str, delayed: bool, now: float) -> int:
        q = self._q(queue)
        ids = [*q.wait, *(job_id for _, job_id in q.prioritized)]
        q.wait.clear()
        q.prioritized.clear()
        if delayed:
            ids.extend(job_id for _, _, job_id in q.delayed)
            q.delayed.clear()
        for job_id in ids:
            del q.jobs[job_id]
        q.hints = 0
        return len(ids)

    async def remove(self, queue: str, job_id: str, now: float) -> str:
        q = self._q(queue)
        rec = q.jobs.get(job_id)
        if rec is None:
            return "missing"
        state = rec["state"]
        if state == "active":
            return "active"
        if state == "waiting":
            if rec["priority"] == 0:
                q.wait.remove(job_id)
            else:
                q.prioritized.remove((rec["priority"] * PRIORITY_SHIFT + rec["seq"], job_id))
        elif state == "delayed":
            q.delayed.remove((rec["due"], rec["seq"], job_id))
        elif state == "completed":
            del q.completed[job_id]
        elif state == "failed":
            del q.failed[job_id]
        del q.jobs[job_id]
        self._emit(q, "removed", job_id, now)
        return "removed"

    async def obliterate(self, queue: str) -> None:
        q = self._queues.pop(queue, None)
        if q is not None:
            _resolve([*q.sleepers, *q.readers])

    async def aclose(self) -> None:
        pass

    # -- the event log --------------------------------------------------------------------
    async def last_event_id(self, queue: str) -> str:
        q = self._q(queue)
        return f"{q.events[-1][0]}-0" if q.events else "0-0"

    def _events_after(self, q: _Queue, after: str, count: int) -> list[tuple[str, dict]]:
        if not q.events:
            return []
        first = q.events[0][0]
        n, _ = event_id_key(after)  # ids are "<n>-0": everything numbered above n is newer
        start = max(0, n + 1 - first)
        return [(f"{i}-0", dict(e)) for i, e in itertools.islice(q.events, start, start + count)]

    async def read_events(
        self, queue: str, after: str, timeout: float, token: str, count: int = 100
    ) -> list[tuple[str, dict[str, Any]]]:
        q = self._q(queue)
        found = self._events_after(q, after, count)
        if found or timeout <= 0 or q.wakes.pop(token, None) is True:
            return found
        await _sleep_until_woken(q, q.readers, token, timeout)
        return self._events_after(q, after, count)

    async def wake_reader(self, queue: str, token: str) -> None:
        await self.wake(queue, token)


async def _sleep_until_woken(q: Any, waiters: list, token: str, timeout: float) -> None:
    """Wait in ``waiters`` until someone resolves our future (a hint, or ``wake(token)``) or
    ``timeout`` passes; always leave no trace of the wait behind."""
    fut = asyncio.get_running_loop().create_future()
    waiters.append(fut)
    q.wakes[token] = fut
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(fut, timeout)
    finally:
        if q.wakes.get(token) is fut:
            del q.wakes[token]
        with contextlib.suppress(ValueError):
            waiters.remove(fut)
