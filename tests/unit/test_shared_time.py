"""backends/shared_time.py: labs made at different moments agree on times in a shared store."""

import asyncio
import time
import uuid

import pytest

import pushpull_lab as ppl
from pushpull_lab.backends import MemoryStorage
from pushpull_lab.backends.shared_time import SharedTimeStorage


def test_times_are_stored_shifted_and_read_back_in_lab_time():
    """Going in, lab times move onto the shared timeline; coming out, they move back."""

    async def main():
        inner = MemoryStorage()
        store = SharedTimeStorage(inner, offset=1000.0)
        spec = {
            "job_id": None, "name": "n", "data": "1", "priority": 0, "attempts": 1,
            "backoff": None, "delay": 2.0, "due": 7.0,
        }  # fmt: skip
        record, _created, _ = await store.add("q", spec, now=5.0)
        raw = await inner.get_job("q", record["id"])
        events = await store.read_events("q", "0-0", 0, "t")
        return record, raw, events

    record, raw, events = asyncio.run(main())
    assert (record["added_at"], record["due"]) == (5.0, 7.0)
    assert (raw["added_at"], raw["due"]) == (1005.0, 1007.0)
    assert [(f["event"], f["time"], f.get("due")) for _, f in events] == [("delayed", 5.0, 7.0)]


def test_virtual_and_memory_labs_are_not_wrapped():
    """Only real-time labs on Redis backends need a shared timeline."""
    from pushpull_lab.backends import open_backend

    async def main(lab):
        return type(open_backend(lab)).__name__

    assert ppl.simulate(main, backend="fakeredis").value == "RedisStorage"
    assert asyncio.run(_in_loop(lambda: type(open_backend(ppl.Lab())).__name__)) == "MemoryStorage"
    assert asyncio.run(_in_loop(lambda: type(open_backend(ppl.Lab(backend="fakeredis"))).__name__)) == (
        "SharedTimeStorage"
    )


async def _in_loop(fn):
    return fn()


@pytest.mark.redis
def test_a_worker_started_elsewhere_waits_for_the_lock_to_run_out(redis_url):
    """A lab whose clock reads 50 s more (another process, started earlier) still honours a lock."""
    queue = f"shared-{uuid.uuid4().hex[:8]}"

    async def main():
        a = ppl.Lab(backend=redis_url)
        b = ppl.Lab(backend=redis_url)
        b._t0 -= 50  # b's clock reads 50 s more, as if its process had started earlier ...
        b.epoch_at_start -= 50  # ... at a wall-clock moment 50 s earlier
        q = ppl.Queue(queue, lab=a)
        started = asyncio.Event()

        async def hang(job):
            started.set()
            await asyncio.sleep(60)

        crashed = ppl.Worker(queue, hang, lock_duration=1.0, lab=a, name="crashes")
        await q.add("x", 1)
        await asyncio.wait_for(started.wait(), 10)
        crashed.crash()
        t_crash = time.monotonic()
        rescuer = ppl.Worker(queue, lambda job: "ok", lock_duration=1.0, lab=b, name="rescuer")
        for _ in range(200):
            if (await q.get_job_counts())["completed"] == 1:
                break
            await asyncio.sleep(0.05)
        recovered_after = time.monotonic() - t_crash
        await rescuer.close()
        await q.obliterate()
        await q.close()
        return recovered_after, [e.kind for e in b.trace if e.kind == "stalled"]

    recovered_after, stalled = asyncio.run(main())
    assert stalled == ["stalled"]
    # Without a shared timeline, b would see a's lock as 50 s overdue and take the job at once.
    assert recovered_after >= 0.5
