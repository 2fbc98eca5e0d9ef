"""The Redis backend: the same storage on fakeredis (no server) or a real Redis server.

Everything a learner may want to look at is an ordinary Redis structure under
``ppl:<queue>:`` (the layout is in :mod:`pushpull_lab.backends.base`)::

    r = lab_storage.redis                       # a redis.asyncio client
    await r.lrange("ppl:video:wait", 0, -1)     # the waiting jobs, next first
    await r.hgetall("ppl:video:job:1")          # one job
    await r.xrange("ppl:video:events")          # the event log QueueEvents reads

Each step that changes more than one key is a short Lua script in ``lua/`` (read them: they
are the whole queue), so two workers can never take the same job. A worker that has nothing
to do blocks on ``BLPOP ppl:<queue>:marker ppl:<queue>:wake:<token>``: every job that becomes
waiting pushes a hint onto the marker list, which wakes one blocked worker — the blocking
pull that makes a pull system as quick as a push one.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from .base import EVENT_LOG_LIMIT, PROMOTE_EPSILON, RECORD_KEYS, Fetched, LockLostError, Storage

_LUA = Path(__file__).with_name("lua")
_SCRIPTS = (
    "add",
    "fetch",
    "complete",
    "fail",
    "release",
    "progress",
    "extend",
    "stalled",
    "pause",
    "remove",
    "drain",
)
_FLOATS = frozenset({"added_at", "started_at", "finished_at", "due"})
_INTS = frozenset({"priority", "attempts", "attempts_made", "stalled_count", "seq"})


@cache
def _source(name: str) -> str:
    return (_LUA / "_common.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


def _num(value: float) -> str:
    """A float as text that Redis and Lua parse back to exactly the same number."""
    return repr(float(value))


def _pairs(flat: list) -> dict:
    return dict(zip(flat[::2], flat[1::2]))


def _record(fields: dict) -> dict | None:
    """A job hash (all text) as a typed record."""
    if not fields:
        return None
    rec: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
    for key, value in fields.items():
        if key in _FLOATS:
            rec[key] = float(value)
        elif key in _INTS:
            rec[key] = int(value)
        elif key in rec:
            rec[key] = value
    return rec


def _event(fields: dict) -> dict:
    out: dict[str, Any] = dict(fields)
    out["time"] = float(out["time"])
    out["job_id"] = out.get("job_id") or None
    if "due" in out:
        out["due"] = float(out["due"])
    if "attempts_made" in out:
        out["attempts_made"] = int(out["attempts_made"])
    return out


class RedisStorage(Storage):
    """Jobs and events in Redis, through a ``redis.asyncio`` client (real or fake)."""

    def __init__(self, client: Any, *, kind: str):
        self.redis = client
        """The ``redis.asyncio`` client: use it to inspect the keys from a notebook."""
        self.kind = kind
        self._scripts = {name: client.register_script(_source(name)) for name in _SCRIPTS}
        self._keys: dict[str, list[str]] = {}

    def keys(self, queue: str) -> list[str]:
        """The keys every script gets, in the order ``lua/_common.lua`` names them."""
        keys = self._keys.get(queue)
        if keys is None:
            p = f"ppl:{queue}:"
            names = ("wait", "prioritized", "delayed", "active", "completed", "failed", "meta", "events")
            keys = self._keys[queue] = [p + n for n in names] + [p + "marker", p + "id"]
        return keys

    async def _run(self, script: str, queue: str, *args: Any) -> Any:
        argv = [f"ppl:{queue}:job:", EVENT_LOG_LIMIT, *args]
        return await self._scripts[script](keys=self.keys(queue), args=argv)

    # -- producing ------------------------------------------------------------------------
    def _add_args(self, queue: str, spec: dict, now: float) -> list[Any]:
        due = spec["due"]
        return [
            f"ppl:{queue}:job:",
            EVENT_LOG_LIMIT,
            spec["job_id"] or "",
            spec["name"],
            spec["data"],
            spec["priority"],
            spec["attempts"],
            spec["backoff"] or "",
            _num(now),
            "" if due is None else _num(due),
        ]

    @staticmethod
    def _added(reply: list) -> tuple[dict, bool, int]:
        _, created, waiting, fields = reply
        return _record(_pairs(fields)), bool(created), int(waiting)

    async def add(self, queue: str, spec: dict, now: float) -> tuple[dict, bool, int]:
        reply = await self._scripts["add"](keys=self.keys(queue), args=self._add_args(queue, spec, now))
        return self._added(reply)

    async def add_many(self, queue: str, specs: list[dict], now: float) -> list[tuple[dict, bool, int]]:
        # One round trip for the whole batch: each add is still its own atomic script, run
        # in order, but the client no longer waits for one reply before sending the next.
        if not specs:
            return []
        keys = self.keys(queue)
        async with self.redis.pipeline(transaction=False) as pipe:
            for spec in specs:
                await self._scripts["add"](keys=keys, args=self._add_args(queue, spec, now), client=pipe)
            replies = await pipe.execute()
        return [self._added(reply) for reply in replies]

    # -- consuming ------------------------------------------------------------------------
    async def fetch(self, queue: str, token: str, now: float, lock_until: float) -> Fetched:
        out = await self._run("fetch", queue, _num(now), _num(now + PROMOTE_EPSILON), token, _num(lock_until))
        job_id, waiting, next_due, flat = out[:4]
        promoted = [(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]
        job = _record(_pairs(out[4])) if job_id else None
        return Fetched(job, int(waiting), float(next_due) if next_due else None, promoted)

    async def wait_for_work(self, queue: str, token: str, timeout: float) -> None:
        # Redis reads a timeout below 1 ms as 0, which means "forever": never send one.
        await self.redis.blpop(
            [f"ppl:{queue}:marker", f"ppl:{queue}:wake:{token}"], timeout=max(timeout, 0.001)
        )

    async def wake(self, queue: str, token: str) -> None:
        await self.redis.rpush(f"ppl:{queue}:wake:{token}", "1")

    async def forget(self, queue: str, token: str) -> None:
        await self.redis.delete(f"ppl:{queue}:wake:{token}")

    async def extend_locks(self, queue: str, token: str, job_ids: list[str], until: float) -> list[str]:
        if not job_ids:
            return []
        return list(await self._run("extend", queue, token, _num(until), *job_ids))

    async def complete(self, queue: str, job_id: str, token: str, result: str, now: float) -> int:
        waiting = await self._run("complete", queue, job_id, token, _num(now), result)
        if waiting == -1:
            raise LockLostError(job_id)
        return int(waiting)

    async def fail(
        self, queue: str, job_id: str, token: str, reason: str, now: float, retry_at: float | None
    ) -> tuple[str, int]:
        retry = "" if retry_at is None else _num(retry_at)
        state, waiting = await self._run("fail", queue, job_id, token, _num(now), reason, retry)
        if state == "lost":
            raise LockLostError(job_id)
        return state, int(waiting)

    async def release(self, queue: str, job_id: str, token: str, now: float) -> int:
        waiting = await self._run("release", queue, job_id, token, _num(now))
        if waiting == -1:
            raise LockLostError(job_id)
        return int(waiting)

    async def progress(self, queue: str, job_id: str, token: str, progress: str, now: float) -> None:
        if await self._run("progress", queue, job_id, token, _num(now), progress) == -1:
            raise LockLostError(job_id)

    async def recover_stalled(self, queue: str, now: float) -> list[tuple[str, int]]:
        flat = await self._run("stalled", queue, _num(now))
        return [(flat[i], int(flat[i + 1])) for i in range(0, len(flat), 2)]

    # -- inspecting and managing --------------------------------------------------------
    async def get_job(self, queue: str, job_id: str) -> dict | None:
        return _record(await self.redis.hgetall(f"ppl:{queue}:job:{job_id}"))

    async def get_jobs(self, queue: str, states: list[str]) -> list[dict]:
        p = f"ppl:{queue}:"
        async with self.redis.pipeline(transaction=True) as pipe:  # one consistent listing
            for state in states:
                if state == "waiting":
                    pipe.lrange(p + "wait", 0, -1)
                    pipe.zrange(p + "prioritized", 0, -1)
                else:
                    pipe.zrange(p + state, 0, -1)
            listed = await pipe.execute()
        groups: list[list[str]] = []
        i = 0
        for state in states:
            if state == "waiting":
                groups.append(listed[i] + listed[i + 1])
                i += 2
            else:
                groups.append(listed[i])
                i += 1
        async with self.redis.pipeline(transaction=False) as pipe:
            for ids in groups:
                for job_id in ids:
                    pipe.hgetall(p + "job:" + job_id)
            hashes = iter(await pipe.execute())
        out: list[dict] = []
        order = {
            "delayed": "due",
            "active": "started_at",
            "completed": "finished_at",
            "failed": "finished_at",
        }
        for state, ids in zip(states, groups):
            recs = [r for r in (_record(next(hashes)) for _ in ids) if r is not None]
            if state in order:
                recs.sort(key=lambda r, k=order[state]: (r[k] or 0.0, r["seq"]))
            out.extend(recs)
        return out

    async def counts(self, queue: str) -> dict[str, int]:
        p = f"ppl:{queue}:"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(p + "wait")
            pipe.zcard(p + "prioritized")
            for state in ("active", "delayed", "completed", "failed"):
                pipe.zcard(p + state)
            wait, prio, active, delayed, completed, failed = await pipe.execute()
        return {
            "waiting": wait + prio,
            "active": active,
            "delayed": delayed,
            "completed": completed,
            "failed": failed,
        }

    async def set_paused(self, queue: str, paused: bool, now: float) -> None:
        await self._run("pause", queue, _num(now), "1" if paused else "0")

    async def is_paused(self, queue: str) -> bool:
        return bool(await self.redis.hexists(f"ppl:{queue}:meta", "paused"))

    async def drain(self, queue: str, delayed: bool, now: float) -> int:
        return int(await self._run("drain", queue, "1" if delayed else "0"))

    async def remove(self, queue: str, job_id: str, now: float) -> str:
        return await self._run("remove", queue, job_id, _num(now))

    async def obliterate(self, queue: str) -> None:
        keys = list(self.keys(queue))
        async for key in self.redis.scan_iter(match=f"ppl:{queue}:*", count=1000):
            keys.append(key)
        for i in range(0, len(keys), 500):
            await self.redis.delete(*keys[i : i + 500])

    # -- the event log --------------------------------------------------------------------
    async def last_event_id(self, queue: str) -> str:
        newest = await self.redis.xrevrange(f"ppl:{queue}:events", count=1)
        return newest[0][0] if newest else "0-0"

    async def read_events(
        self, queue: str, after: str, timeout: float, token: str, count: int = 100
    ) -> list[tuple[str, dict[str, Any]]]:
        key = f"ppl:{queue}:events"
        block = None if timeout <= 0 else max(1, round(timeout * 1000))
        # XREAD BLOCK on the event log and on this reader's own wake stream, which only
        # wake_reader() writes to: that is how a closing reader is woken.
        streams = {key: after, f"ppl:{queue}:wake:{token}": "0-0"}
        reply = await self.redis.xread(streams, count=count, block=block)
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3
            entries = reply.get(key, [[]])[0]
        else:
            entries = next((found for name, found in reply if name == key), [])
        return [(event_id, _event(fields)) for event_id, fields in entries]

    async def wake_reader(self, queue: str, token: str) -> None:
        await self.redis.xadd(f"ppl:{queue}:wake:{token}", {"wake": "1"})

    async def aclose(self) -> None:
        await self.redis.aclose()
