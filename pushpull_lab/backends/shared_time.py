"""Shared time for a store that several processes use.

A real-time lab's clock counts seconds since *that* lab was made, which is what a learner
wants on a figure's axis, but two worker processes on one Redis server made their labs at
different moments: a lock deadline written by one would mean nothing to the other, and a
killed worker's jobs would be recovered too early or never. So every time that enters the
store is moved onto one timeline all processes share, wall-clock epoch seconds, and moved
back to the reading lab's clock on the way out. Within one process nothing changes.

Virtual-time labs and the memory backend never need this: they have one clock.
"""

from __future__ import annotations

from typing import Any

from .base import Fetched, Storage

_RECORD_TIMES = ("added_at", "started_at", "finished_at", "due")
_EVENT_TIMES = ("time", "due")


class SharedTimeStorage(Storage):
    """Wraps a :class:`Storage`: lab time + ``offset`` going in, − ``offset`` coming out."""

    def __init__(self, inner: Storage, offset: float):
        self.inner = inner
        self.offset = offset
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:  # storage.redis and other extras of the inner store
        return getattr(self.inner, name)

    def _in(self, t: float | None) -> float | None:
        return None if t is None else t + self.offset

    def _out(self, record: dict | None, keys: tuple[str, ...] = _RECORD_TIMES) -> dict | None:
        if record is None:
            return None
        record = dict(record)
        for key in keys:
            if record.get(key) is not None:
                record[key] = record[key] - self.offset
        return record

    async def add(self, queue, spec, now):
        spec = {**spec, "due": self._in(spec.get("due"))}
        record, created, depth = await self.inner.add(queue, spec, now + self.offset)
        return self._out(record), created, depth

    async def add_many(self, queue, specs, now):
        specs = [{**spec, "due": self._in(spec.get("due"))} for spec in specs]
        added = await self.inner.add_many(queue, specs, now + self.offset)
        return [(self._out(record), created, depth) for record, created, depth in added]

    async def fetch(self, queue, token, now, lock_until):
        got = await self.inner.fetch(queue, token, now + self.offset, lock_until + self.offset)
        next_due = None if got.next_due is None else got.next_due - self.offset
        return Fetched(self._out(got.job), got.waiting, next_due, got.promoted)

    async def wait_for_work(self, queue, token, timeout):
        return await self.inner.wait_for_work(queue, token, timeout)

    async def wake(self, queue, token):
        return await self.inner.wake(queue, token)

    async def forget(self, queue, token):
        return await self.inner.forget(queue, token)

    async def extend_locks(self, queue, token, job_ids, until):
        return await self.inner.extend_locks(queue, token, job_ids, until + self.offset)

    async def complete(self, queue, job_id, token, result, now):
        return await self.inner.complete(queue, job_id, token, result, now + self.offset)

    async def fail(self, queue, job_id, token, reason, now, retry_at):
        return await self.inner.fail(queue, job_id, token, reason, now + self.offset, self._in(retry_at))

    async def release(self, queue, job_id, token, now):
        return await self.inner.release(queue, job_id, token, now + self.offset)

    async def progress(self, queue, job_id, token, progress, now):
        return await self.inner.progress(queue, job_id, token, progress, now + self.offset)

    async def recover_stalled(self, queue, now):
        return await self.inner.recover_stalled(queue, now + self.offset)

    async def get_job(self, queue, job_id):
        return self._out(await self.inner.get_job(queue, job_id))

    async def get_jobs(self, queue, states):
        return [self._out(r) for r in await self.inner.get_jobs(queue, states)]

    async def counts(self, queue):
        return await self.inner.counts(queue)

    async def set_paused(self, queue, paused, now):
        return await self.inner.set_paused(queue, paused, now + self.offset)

    async def is_paused(self, queue):
        return await self.inner.is_paused(queue)

    async def drain(self, queue, delayed, now):
        return await self.inner.drain(queue, delayed, now + self.offset)

    async def remove(self, queue, job_id, now):
        return await self.inner.remove(queue, job_id, now + self.offset)

    async def obliterate(self, queue):
        return await self.inner.obliterate(queue)

    async def last_event_id(self, queue):
        return await self.inner.last_event_id(queue)

    async def read_events(self, queue, after, timeout, token, count=100):
        events = await self.inner.read_events(queue, after, timeout, token, count)
        return [(event_id, self._out(fields, _EVENT_TIMES)) for event_id, fields in events]

    async def wake_reader(self, queue, token):
        return await self.inner.wake_reader(queue, token)

    async def aclose(self):
        return await self.inner.aclose()
