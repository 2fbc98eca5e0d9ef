"""Worker, Queue and QueueEvents details that the contract suite does not cover.

Trace conventions, determinism, the registry, crash semantics, error surfacing, the Redis
key layout a learner inspects, and the backoff arithmetic.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys

import pytest

import pushpull_lab as ppl
from pushpull_lab.backends import open_backend
from pushpull_lab.pull.worker import backoff_delay
from pushpull_lab.trace import direction


# -- backoff arithmetic -----------------------------------------------------------------------
def test_backoff_delays():
    """fixed waits s every time; exponential waits s, 2s, 4s; None retries at once."""
    rng = random.Random(0)
    assert [backoff_delay(("fixed", 2.0, 0.0), n, rng) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
    assert [backoff_delay(("exponential", 0.5, 0.0), n, rng) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(None, 3, rng) == 0.0


def test_backoff_jitter_stays_in_range_and_uses_the_rng():
    """Jitter j gives a wait in [(1 - j) * d, d], drawn from the rng passed in."""
    waits = [backoff_delay(("fixed", 1.0, 0.25), 1, random.Random(i)) for i in range(200)]
    assert all(0.75 <= w <= 1.0 for w in waits)
    assert max(waits) - min(waits) > 0.2
    assert backoff_delay(("fixed", 1.0, 0.25), 1, random.Random(5)) == waits[5]


# -- trace conventions ------------------------------------------------------------------------
def test_trace_shows_who_initiates_each_exchange():
    """add: producer → queue; fetch: worker → queue (pull); notify: events → listener (push)."""

    async def main(lab):
        q = ppl.Queue("jobs")
        ev = ppl.QueueEvents("jobs")
        await ev.ready()
        ev.on("completed", lambda e: None, name="ui")
        await q.add("j", 1, sender="shop")
        w = ppl.Worker("jobs", lambda job: "ok", name="w1")
        await ppl.sleep(1)
        await w.close()
        await ev.close()

    rows = ppl.simulate(main).trace.to_rows()
    by_kind = {r["kind"]: r for r in rows}
    assert (by_kind["add"]["actor"], by_kind["add"]["peer"], by_kind["add"]["msg"]) == ("shop", "jobs", "1")
    assert by_kind["add"]["depth"] == 1
    assert (by_kind["fetch"]["actor"], by_kind["fetch"]["peer"], by_kind["fetch"]["msg"]) == (
        "w1",
        "jobs",
        "1",
    )
    assert by_kind["fetch"]["depth"] == 0
    for kind in ("active", "completed"):
        assert (by_kind[kind]["actor"], by_kind[kind]["peer"], by_kind[kind]["msg"]) == ("w1", "jobs", "1")
    notify = by_kind["notify"]
    assert (notify["actor"], notify["peer"], notify["msg"], notify["event"]) == (
        "jobs-events",
        "ui",
        "1",
        "completed",
    )
    assert direction("fetch") == "pull" and direction("notify") == "push"
    assert direction("empty_poll") == "pull" and direction("consume") == "pull"


def test_depth_over_time_is_read_from_the_trace():
    """trace.depth(queue) follows the waiting count as jobs are added and fetched."""

    async def main(lab):
        q = ppl.Queue("jobs")
        for i in range(3):
            await q.add("j", i)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(1))
        await ppl.sleep(5)
        await w.close()

    run = ppl.simulate(main)
    assert [d for _, d in run.trace.depth("jobs")] == [1, 2, 3, 2, 1, 0]
    assert [t for t, _ in run.trace.depth("jobs")] == [0, 0, 0, 0, 1, 2]


@pytest.mark.parametrize("backend", ["memory", "fakeredis"])
def test_same_seed_same_trace(backend):
    """Virtual-time runs with jittered retries and several workers repeat exactly."""

    async def main(lab):
        q = ppl.Queue("jobs")
        for i in range(20):
            await q.add("j", i, attempts=3, backoff=("exponential", 0.5, 0.5), delay=lab.rng.random())

        async def process(job):
            await ppl.sleep(lab.rng.expovariate(4))
            if lab.rng.random() < 0.3:
                raise RuntimeError("flaky")

        workers = [ppl.Worker("jobs", process, concurrency=2) for _ in range(3)]
        await ppl.sleep(30)
        for w in workers:
            await w.close()
        return await q.get_job_counts()

    first = ppl.simulate(main, seed=3, backend=backend)
    for _ in range(5):  # several blocked workers: who wakes first must not depend on memory addresses
        assert ppl.simulate(main, seed=3, backend=backend).trace.to_rows() == first.trace.to_rows()
    assert first.value["completed"] + first.value["failed"] == 20
    assert first.trace.to_rows() != ppl.simulate(main, seed=4, backend=backend).trace.to_rows()


# -- registry, closing, crashing --------------------------------------------------------------
def test_lab_close_all_stops_workers_and_readers():
    """lab.close_all() (what the kernel extension calls) stops workers and event readers."""

    async def main(lab):
        w = ppl.Worker("jobs", lambda job: None)
        ev = ppl.QueueEvents("jobs")
        await ev.ready()
        assert lab.close_all() == 2
        await ppl.sleep(0.1)
        return w.closed, ev.closed, lab.live

    assert ppl.simulate(main).value == (True, True, [])


def test_idle_worker_closes_at_once():
    """An idle worker blocked on an empty queue closes immediately (nothing hangs)."""

    async def main(lab):
        w = ppl.Worker("jobs", lambda job: None)
        await ppl.sleep(2.5)
        t = lab.now()
        await w.close()
        await w.close()  # closing twice is fine
        w.crash()  # and crashing a closed worker does nothing
        return lab.now() - t

    run = ppl.simulate(main)
    assert run.value == 0
    assert [e.kind for e in run.trace] == ["start", "closing", "closed"]


@pytest.mark.parametrize("backend", ["memory", "fakeredis"])
def test_crashed_worker_does_nothing_more(backend):
    """After crash() the worker neither finishes its job nor fetches again."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("a", None)
        await q.add("b", None)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(1), name="w")
        await ppl.sleep(0.5)
        w.crash()
        await ppl.sleep(10)
        return await q.get_job_counts(), w.running, [p for p in lab.live if isinstance(p, ppl.Worker)]

    run = ppl.simulate(main, backend=backend)
    counts, running, live = run.value
    assert (counts["active"], counts["waiting"], counts["completed"]) == (1, 1, 0)
    assert running == {} and live == []
    assert [e.kind for e in run.trace if e.actor == "w"][-1] == "crash"


def test_lost_lock_is_reported_and_the_outcome_dropped():
    """If the job vanishes under a worker (its lock lost), the worker records 'lock_lost' and goes on."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("a", None)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(1), name="w")
        await ppl.sleep(0.5)
        await q.obliterate()
        await q.add("b", None)
        await ppl.sleep(2)
        await w.close()
        return await q.get_job_counts()

    run = ppl.simulate(main)
    assert run.value["completed"] == 1  # only b
    assert [(e.kind, e.msg) for e in run.trace if e.kind == "lock_lost"] == [("lock_lost", "1")]


# -- errors are surfaced ----------------------------------------------------------------------
def test_backend_failure_is_reported_not_swallowed():
    """A failing backend call in the fetch loop is traced as 'error' and reaches the loop's handler."""

    async def main(lab):
        storage = open_backend(lab)
        real_fetch = storage.fetch
        calls = []

        async def broken_once(*args):
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("backend unreachable")
            return await real_fetch(*args)

        storage.fetch = broken_once
        q = ppl.Queue("jobs")
        await q.add("a", None)
        w = ppl.Worker("jobs", lambda job: "ok", name="w")
        await ppl.sleep(2)
        await w.close()
        return await q.get_job_counts()

    with pytest.raises(ppl.BackgroundTaskError, match="backend unreachable"):
        ppl.simulate(main)
    run = ppl.simulate(main, errors="record")
    assert run.value["completed"] == 1  # it retried after a second
    errors = [e for e in run.trace if e.kind == "error"]
    assert errors[0].actor == "w" and errors[0].fields["doing"] == "fetching a job"
    completed = [e.time for e in run.trace if e.kind == "completed"]
    assert completed == [1.0]


def test_listener_error_without_handler_reaches_the_loop():
    """A listener that raises, with no on_error, makes simulate() raise at the end."""

    async def main(lab):
        q = ppl.Queue("jobs")
        ev = ppl.QueueEvents("jobs")
        await ev.ready()
        ev.on("waiting", lambda e: 1 / 0)
        await q.add("a", None)
        await ppl.sleep(1)
        await ev.close()

    with pytest.raises(ppl.BackgroundTaskError, match="ZeroDivisionError"):
        ppl.simulate(main)


def test_sync_and_async_processors():
    """A processor may be a plain function or a coroutine function; None is a valid result."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("sync", 2)
        await q.add("async", 3)
        await q.add("none", 4)

        async def double_later(job):
            await ppl.sleep(0.1)
            return job.data * 2

        def process(job):
            if job.name == "sync":
                return job.data * 2
            if job.name == "async":
                return double_later(job)
            return None

        w = ppl.Worker("jobs", process)
        await ppl.sleep(1)
        await w.close()
        return [(j.name, j.result) for j in await q.get_jobs("completed")]

    assert ppl.simulate(main).value == [("sync", 4), ("async", 6), ("none", None)]


# -- what a learner can see -------------------------------------------------------------------
def test_redis_layout_is_inspectable_on_fakeredis():
    """The queue lives in plainly named Redis keys: a list, sorted sets, hashes and a stream."""

    async def main(lab):
        q = ppl.Queue("video")
        await q.add("transcode", {"file": "a.mp4"})
        await q.add("thumb", {"file": "a.mp4"}, priority=2)
        await q.add("later", None, delay=5)
        r = q.storage.redis
        return {
            "wait": await r.lrange("ppl:video:wait", 0, -1),
            "prioritized": await r.zrange("ppl:video:prioritized", 0, -1),
            "delayed": await r.zrange("ppl:video:delayed", 0, -1, withscores=True),
            "job": await r.hgetall("ppl:video:job:1"),
            "events": [fields["event"] for _, fields in await r.xrange("ppl:video:events")],
            "types": {k: await r.type(k) for k in sorted(await r.keys("ppl:video:*"))},
        }

    seen = ppl.simulate(main, backend="fakeredis").value
    assert seen["wait"] == ["1"] and seen["prioritized"] == ["2"] and seen["delayed"] == [("3", 5.0)]
    assert seen["job"]["name"] == "transcode" and seen["job"]["data"] == '{"file":"a.mp4"}'
    assert seen["job"]["state"] == "waiting"
    assert seen["events"] == ["waiting", "waiting", "delayed"]
    assert seen["types"] == {
        "ppl:video:delayed": "zset",
        "ppl:video:events": "stream",
        "ppl:video:id": "string",
        "ppl:video:job:1": "hash",
        "ppl:video:job:2": "hash",
        "ppl:video:job:3": "hash",
        "ppl:video:marker": "list",
        "ppl:video:prioritized": "zset",
        "ppl:video:wait": "list",
    }


def test_job_repr_and_as_dict():
    """A job prints its id, name, state and outcome, and converts to a dict of public fields."""

    async def main(lab):
        q = ppl.Queue("jobs")
        job = await q.add("mail", {"to": "ada"})
        w = ppl.Worker("jobs", lambda job: {"sent": 1})
        await ppl.sleep(1)
        await w.close()
        return job, await q.get_job(job.id), repr(w)

    added, done, worker = ppl.simulate(main).value
    assert repr(added) == "Job(id='1', name='mail', state='waiting', data={'to': 'ada'}, attempts_made=0)"
    assert repr(done).endswith("attempts_made=1, result={'sent': 1})")
    assert done.as_dict()["finished_at"] == 0.0 and "seq" not in done.as_dict()
    assert worker.startswith("Worker('worker-1', queue='jobs', concurrency=1, closed")


def test_import_does_not_load_redis():
    """import pushpull_lab stays light: redis and fakeredis load only when a Redis backend is used."""
    code = "import sys, pushpull_lab; print('redis' in sys.modules, 'fakeredis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.redis
def test_a_job_finishing_during_a_heartbeat_is_not_a_lost_lock(redis_url):
    """Jobs that complete while their lock extension is in flight are not reported as lock_lost."""
    import asyncio
    import uuid

    queue = f"heartbeat-{uuid.uuid4().hex[:8]}"

    async def main():
        lab = ppl.Lab(backend=redis_url)
        q = ppl.Queue(queue, lab=lab)

        async def quick(job):
            await asyncio.sleep(0.01)

        await q.add_bulk([{"name": "j", "data": i} for i in range(1500)])
        worker = ppl.Worker(queue, quick, concurrency=20, lock_duration=0.2, lab=lab)
        for _ in range(600):
            if (await q.get_job_counts())["completed"] == 1500:
                break
            await asyncio.sleep(0.05)
        await worker.close()
        counts = await q.get_job_counts()
        await q.obliterate()
        await q.close()
        return counts, lab.trace.counts(), len(worker._lost)

    counts, kinds, still_tracked = asyncio.run(main())
    assert counts["completed"] == 1500
    assert kinds.get("stalled", 0) == 0
    assert kinds.get("lock_lost", 0) == 0
    assert still_tracked == 0


def test_limiter_counts_a_start_from_when_the_job_arrived_not_when_it_was_asked_for():
    """A slow fetch (a Redis round trip) does not let two starts land closer than the limiter allows."""
    from pushpull_lab.backends import open_backend

    async def main(lab):
        queue = ppl.Queue("q")
        for n in range(3):
            await queue.add("j", {"n": n})
        storage = open_backend(lab)
        fetch, delays = storage.fetch, iter([0.1, 0.0, 0.0])

        async def slow_first_fetch(*args):
            got = await fetch(*args)
            await ppl.sleep(next(delays, 0.0))  # the answer takes this long to arrive
            return got

        storage.fetch = slow_first_fetch
        worker = ppl.Worker("q", lambda job: None, limiter={"max": 1, "duration": 1.0})
        while worker.completed < 3:
            await ppl.sleep(0.05)
        await worker.close()
        return [e.time for e in lab.trace.filter(kind="fetch")]

    times = ppl.simulate(main).value
    gaps = [round(b - a, 9) for a, b in itertools.pairwise(times)]
    assert gaps and min(gaps) >= 1.0, times
