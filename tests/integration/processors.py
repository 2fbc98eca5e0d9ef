"""Processors for the worker-process tests, imported by ``pushpull-lab worker --processor``.

The worker processes find this module through ``PYTHONPATH`` (the tests set it). Each
processing is recorded in Redis, outside the queue, so the test can see what really ran:

    <key>:runs               HASH  job id -> how many times a processor started on it
    <key>:inflight:<pid>     SET   job ids a process is processing right now

``key`` and the sleep come from the job's data; the server from ``PPL_TEST_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import os

import redis.asyncio

_client: redis.asyncio.Redis | None = None


def _redis() -> redis.asyncio.Redis:
    """One client per worker process (a worker process runs one event loop)."""
    global _client
    if _client is None:
        _client = redis.asyncio.from_url(os.environ["PPL_TEST_REDIS_URL"], decode_responses=True)
    return _client


async def record(job):
    """Count the run, hold the job for ``data["sleep"]`` seconds, then let it complete."""
    key, pid = job.data["key"], os.getpid()
    client = _redis()
    inflight = f"{key}:inflight:{pid}"
    async with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(f"{key}:runs", job.id, 1)
        pipe.sadd(inflight, job.id)
        await pipe.execute()
    await asyncio.sleep(job.data.get("sleep", 0.02))
    await client.srem(inflight, job.id)
    return {"pid": pid}
