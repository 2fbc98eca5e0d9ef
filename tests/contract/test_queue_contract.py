"""Queue, Worker and QueueEvents behave the same on memory, fakeredis and a real Redis server."""

from __future__ import annotations

import itertools

import pytest
from contract_helpers import counts_are, until

import pushpull_lab as ppl


def starts(run, kind: str = "active") -> list[tuple[str, float]]:
    """(job id, time) of every event of ``kind`` in the trace, in order."""
    return [(e.msg, e.time) for e in run.trace if e.kind == kind]


# -- ordering --------------------------------------------------------------------------------
def test_fifo_order(env):
    """Jobs without priority are processed oldest first."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        for i in range(5):
            await q.add("job", {"i": i})
        done = []
        w = ppl.Worker(env.queue, lambda job: done.append(job.data["i"]))
        await until(lambda: counts_are(q, completed=5))
        await w.close()
        return done, [j.data["i"] for j in await q.get_jobs("completed")]

    done, listed = env.run(main).value
    assert done == [0, 1, 2, 3, 4]
    assert listed == [0, 1, 2, 3, 4]


def test_priority_order(env):
    """Priority 0 (none) goes first, then 1, 2, ...; equal priorities keep their order."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        for i, priority in enumerate([5, 0, 1, 0, 1, 2]):
            await q.add("job", i, priority=priority)
        waiting = [j.data for j in await q.get_jobs("waiting")]
        done = []
        w = ppl.Worker(env.queue, lambda job: done.append(job.data))
        await until(lambda: counts_are(q, completed=6))
        await w.close()
        return waiting, done

    waiting, done = env.run(main).value
    assert waiting == [1, 3, 2, 4, 5, 0]
    assert done == [1, 3, 2, 4, 5, 0]


def test_delayed_job_starts_when_due(env):
    """A delayed job stays 'delayed' until its delay has passed on the lab clock, then runs."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        w = ppl.Worker(env.queue, lambda job: job.data)
        t0 = lab.now()
        job = await q.add("later", "x", delay=env.s(2))
        first = (
            job.state,
            (await q.get_job_counts())["delayed"],
            [j.id for j in await q.get_jobs("delayed")],
        )
        await until(lambda: counts_are(q, completed=1))
        done = await q.get_job(job.id)
        await w.close()
        return first, job.id, done.started_at - t0

    run = env.run(main)
    first, job_id, waited = run.value
    assert first == ("delayed", 1, [job_id])
    assert env.near(waited, 2)
    assert [e.kind for e in run.trace if e.msg == job_id] == [
        "add",
        "promote",
        "fetch",
        "active",
        "completed",
    ]


def test_blocking_worker_takes_a_new_job_at_once(env):
    """A worker blocked on an empty queue starts a job the moment it is added (no polling delay)."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        w = ppl.Worker(env.queue, lambda job: None)
        await env.sleep(3)
        job = await q.add("now", None)
        await until(lambda: counts_are(q, completed=1))
        done = await q.get_job(job.id)
        await w.close()
        return done.started_at - done.added_at

    run = env.run(main)
    assert env.near(run.value, 0)
    assert run.trace.counts().get("empty_poll", 0) == 0


# -- failures, retries and backoff ------------------------------------------------------------
def failing(times: int):
    """A processor that raises on its first ``times`` attempts, then returns 'ok'."""

    async def process(job):
        if job.attempts_made < times:
            raise ValueError(f"attempt {job.attempts_made + 1} failed")
        return "ok"

    return process


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [(("fixed", 1.0), [0, 1, 2]), (("exponential", 1.0), [0, 1, 3, 7]), (None, [0, 0, 0])],
    ids=["fixed", "exponential", "none"],
)
def test_retries_wait_for_their_backoff(env, backoff, expected):
    """Each retry starts exactly its backoff after the failure: fixed s, exponential s, 2s, 4s."""
    attempts = len(expected)

    async def main(lab):
        q = ppl.Queue(env.queue)
        scaled = None if backoff is None else (backoff[0], env.s(backoff[1]))
        t0 = lab.now()
        job = await q.add("flaky", None, attempts=attempts, backoff=scaled)
        w = ppl.Worker(env.queue, failing(99))
        await until(lambda: counts_are(q, failed=1))
        await w.close()
        return t0, await q.get_job(job.id)

    run = env.run(main)
    t0, job = run.value
    times = [t - t0 for _, t in starts(run)]
    assert len(times) == attempts
    assert env.near(times[0], expected[0]), times
    # Each wait is measured from the attempt before it, so lateness on a busy real server
    # is not added up from one retry to the next.
    waits = [b - a for a, b in itertools.pairwise(times)]
    assert all(env.near(w, e) for w, e in zip(waits, [b - a for a, b in itertools.pairwise(expected)])), times
    assert (job.state, job.attempts_made) == ("failed", attempts)
    assert job.failed_reason == f"ValueError: attempt {attempts} failed"
    assert [e.fields["error"] for e in run.trace if e.kind in ("retry", "failed")] == [
        f"ValueError: attempt {i} failed" for i in range(1, attempts + 1)
    ]


def test_retry_then_success(env):
    """A job that fails twice and then succeeds ends completed with its result and 3 attempts."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        job = await q.add("flaky", None, attempts=5, backoff=("fixed", env.s(0.5)))
        w = ppl.Worker(env.queue, failing(2))
        await until(lambda: counts_are(q, completed=1))
        await w.close()
        return await q.get_job(job.id)

    job = env.run(main).value
    assert (job.state, job.result, job.attempts_made) == ("completed", "ok", 3)
    assert job.failed_reason == "ValueError: attempt 2 failed"


def test_backoff_jitter_is_drawn_from_the_lab_rng(env):
    """Jitter shortens each wait by up to its fraction, and the same seed gives the same waits."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        job = await q.add("flaky", None, attempts=4, backoff=("fixed", env.s(1), 0.5))
        w = ppl.Worker(env.queue, failing(99))
        await until(lambda: counts_are(q, failed=1))
        await w.close()
        return job.id

    def waits(seed):
        run = env.run(main, seed=seed)
        retries = [e.fields["retry_at"] - e.time for e in run.trace if e.kind == "retry"]
        return retries

    first = waits(7)
    assert len(first) == 3
    assert all(env.s(0.5) - 1e-9 <= w <= env.s(1) + 1e-9 for w in first)
    assert len(set(first)) == 3  # really random
    if env.virtual:
        assert waits(7) == first


def test_processor_error_is_recorded(env):
    """An exception fails the job with its text, visible on the job, in the trace and in events."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        ev = ppl.QueueEvents(env.queue)
        await ev.ready()
        reasons = []
        ev.on("failed", lambda e: reasons.append((e.job_id, e.failed_reason, e.attempts_made)))

        def boom(job):
            raise KeyError("missing")

        job = await q.add("bad", None)
        w = ppl.Worker(env.queue, boom)
        await until(lambda: reasons)
        await w.close()
        await ev.close()
        return job.id, reasons, await q.get_job(job.id)

    run = env.run(main)
    job_id, reasons, job = run.value
    assert reasons == [(job_id, "KeyError: 'missing'", 1)]
    assert job.failed_reason == "KeyError: 'missing'"
    failed = [e for e in run.trace if e.kind == "failed"]
    assert failed[0].fields["error"] == "KeyError: 'missing'"


def test_non_json_result_fails_the_job(env):
    """A result that cannot be stored as JSON fails the job with a message saying so."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        job = await q.add("bad", None)
        w = ppl.Worker(env.queue, lambda job: object())
        await until(lambda: counts_are(q, failed=1))
        await w.close()
        return await q.get_job(job.id)

    job = env.run(main).value
    assert job.failed_reason.startswith("TypeError: processor(result=<object")
    assert "JSON" in job.failed_reason


# -- de-duplication, inspection, management ---------------------------------------------------
def test_job_id_deduplicates(env):
    """Adding a job with an id that exists returns the existing job and adds nothing."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        a = await q.add("order", {"n": 1}, job_id="order-42")
        b = await q.add("order", {"n": 2}, job_id="order-42")
        c = await q.add("order", {"n": 3})
        return a, b, c, await q.get_job_counts()

    run = env.run(main)
    a, b, c, counts = run.value
    assert (a.id, b.id, b.data) == ("order-42", "order-42", {"n": 1})
    assert c.id == "2"  # automatic ids count every job added, even one with its own id
    assert counts["waiting"] == 2
    assert [e.fields.get("duplicate", False) for e in run.trace if e.kind == "add"] == [False, True, False]


def test_add_bulk_keeps_order_and_deduplicates_within_one_batch(env):
    """add_bulk adds in order, in one go, and a repeated job id inside the batch adds nothing."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        jobs = await q.add_bulk(
            [
                {"name": "a", "data": 1, "job_id": "same"},
                {"name": "b", "data": 2},
                {"name": "c", "data": 3, "job_id": "same"},
                {"name": "d", "data": 4, "delay": env.s(50), "priority": 3},
            ]
        )
        waiting = [j.name for j in await q.get_jobs("waiting")]
        return jobs, waiting, await q.get_job_counts()

    run = env.run(main)
    jobs, waiting, counts = run.value
    assert [j.id for j in jobs] == ["same", "2", "same", "3"]  # a repeat uses up no automatic id
    assert [j.data for j in jobs[:3]] == [1, 2, 1]  # the repeat returns the first job
    assert waiting == ["a", "b"] and counts["delayed"] == 1
    assert jobs[3].state == "delayed" and env.near(jobs[3].due - jobs[3].added_at, 50)
    adds = [(e.msg, e.fields.get("duplicate", False)) for e in run.trace if e.kind == "add"]
    assert adds == [("same", False), ("2", False), ("same", True), ("3", False)]


def test_get_jobs_and_counts_cover_every_state(env):
    """get_jobs and get_job_counts agree on waiting, active, delayed, completed and failed jobs."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add("ok", 1)
        await q.add("bad", 2)
        await q.add("slow", 3)
        w = ppl.Worker(env.queue, process, concurrency=3)
        await until(lambda: counts_are(q, completed=1, failed=1, active=1))
        await q.add("later", 4, delay=env.s(100))
        await q.pause()
        await q.add("waiting", 5)
        counts = await q.get_job_counts()
        by_state = {s: [j.data for j in await q.get_jobs(s)] for s in ppl.backends.STATES}
        everything = [j.data for j in await q.get_jobs()]
        w.crash()
        return counts, by_state, everything

    async def process(job):
        if job.name == "bad":
            raise RuntimeError("no")
        if job.name == "slow":
            await ppl.sleep(env.s(1000))

    counts, by_state, everything = env.run(main).value
    assert counts == {"waiting": 1, "active": 1, "delayed": 1, "completed": 1, "failed": 1}
    assert by_state == {"waiting": [5], "active": [3], "delayed": [4], "completed": [1], "failed": [2]}
    assert everything == [5, 3, 4, 1, 2]  # in the order of STATES


def test_get_job_snapshot_fields(env):
    """A job read back carries its name, data, options and lab-clock times."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        t0 = lab.now()
        job = await q.add("mail", {"to": "ada"}, priority=3, attempts=2, backoff=("fixed", 1.5))
        w = ppl.Worker(env.queue, lambda job: {"sent": True})
        await until(lambda: counts_are(q, completed=1))
        await w.close()
        return t0, job, await q.get_job(job.id), await q.get_job("nope")

    t0, added, done, missing = env.run(main).value
    assert (added.state, added.started_at, added.finished_at, added.attempts_made) == (
        "waiting",
        None,
        None,
        0,
    )
    assert (done.name, done.data, done.priority, done.attempts, done.backoff) == (
        "mail",
        {"to": "ada"},
        3,
        2,
        ("fixed", 1.5, 0.0),
    )
    assert (done.state, done.result, done.attempts_made) == ("completed", {"sent": True}, 1)
    assert t0 <= done.added_at <= done.started_at <= done.finished_at
    assert missing is None


def test_pause_and_resume(env):
    """A paused queue hands out nothing; on resume a blocked worker starts at once."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.pause()
        w = ppl.Worker(env.queue, lambda job: None)
        await q.add("a", None)
        await q.add("b", None)
        await env.sleep(2)
        paused = (await q.is_paused(), await q.get_job_counts())
        t_resume = lab.now()
        await q.resume()
        await until(lambda: counts_are(q, completed=2))
        firsts = [j.started_at - t_resume for j in await q.get_jobs("completed")]
        await w.close()
        return paused, firsts, await q.is_paused()

    (was_paused, counts), firsts, is_paused = env.run(main).value
    assert was_paused and not is_paused
    assert (counts["waiting"], counts["completed"]) == (2, 0)
    assert all(env.near(t, 0) for t in firsts)


def test_drain_removes_waiting_and_optionally_delayed(env):
    """drain() deletes waiting jobs, drain(delayed=True) delayed ones too; others stay."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        for i in range(3):
            await q.add("w", i)
        await q.add("d", 9, delay=env.s(50))
        first = await q.drain()
        after_first = await q.get_job_counts()
        second = await q.drain(delayed=True)
        return first, after_first, second, await q.get_job_counts()

    first, after_first, second, after = env.run(main).value
    assert (first, after_first["waiting"], after_first["delayed"]) == (3, 0, 1)
    assert (second, after["delayed"]) == (1, 0)


def test_remove(env):
    """remove() deletes a waiting or finished job, reports a missing one and refuses an active one."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        a = await q.add("a", None)
        removed = await q.remove(a.id)
        gone = await q.get_job(a.id)
        missing = await q.remove("no-such-job")
        b = await q.add("slow", None)
        w = ppl.Worker(env.queue, lambda job: ppl.sleep(env.s(5)))
        await until(lambda: counts_are(q, active=1))
        with pytest.raises(RuntimeError, match="active"):
            await q.remove(b.id)
        await until(lambda: counts_are(q, completed=1))
        removed_done = await q.remove(b.id)
        await w.close()
        return removed, gone, missing, removed_done, await q.get_job_counts()

    removed, gone, missing, removed_done, counts = env.run(main).value
    assert (removed, gone, missing, removed_done) == (True, None, False, True)
    assert sum(counts.values()) == 0


# -- concurrency, rate limiting ---------------------------------------------------------------
def test_concurrency_limit_is_respected(env):
    """A worker with concurrency 3 never runs more than 3 jobs at once, and runs 3 when it can."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add_bulk([{"name": "j", "data": i} for i in range(9)])
        t0 = lab.now()
        w = ppl.Worker(env.queue, lambda job: ppl.sleep(env.s(1)), concurrency=3)
        await until(lambda: counts_are(q, completed=9))
        await w.close()
        return t0

    run = env.run(main)
    running = peak = 0
    for e in run.trace:
        if e.kind == "active":
            running += 1
            peak = max(peak, running)
        elif e.kind == "completed":
            running -= 1
    assert peak == 3
    t0 = run.value
    begun = sorted(t - t0 for _, t in starts(run))
    assert all(env.near(t, e) for t, e in zip(begun, [0, 0, 0, 1, 1, 1, 2, 2, 2])), begun


def test_rate_limiter(env):
    """limiter={'max': 2, 'duration': 1} starts at most 2 jobs in any 1 time unit."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add_bulk([{"name": "j", "data": i} for i in range(6)])
        t0 = lab.now()
        w = ppl.Worker(env.queue, lambda job: None, concurrency=10, limiter={"max": 2, "duration": env.s(1)})
        await until(lambda: counts_are(q, completed=6))
        await w.close()
        return t0

    run = env.run(main)
    begun = [t - run.value for _, t in starts(run)]
    assert all(env.near(t, e) for t, e in zip(begun, [0, 0, 1, 1, 2, 2])), begun
    assert run.trace.counts()["rate_limited"] >= 2


def test_many_jobs_several_workers_none_lost_none_twice(env):
    """200 jobs across 3 workers: every job completes exactly once."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add_bulk([{"name": "j", "data": i} for i in range(200)])
        done = []

        async def process(job):
            await ppl.sleep(env.s(0.01))
            done.append(job.data)

        workers = [ppl.Worker(env.queue, process, concurrency=4) for _ in range(3)]
        await until(lambda: counts_are(q, completed=200))
        for w in workers:
            await w.close()
        return done, [w.completed for w in workers]

    done, per_worker = env.run(main).value
    assert sorted(done) == list(range(200))
    assert sum(per_worker) == 200 and all(n > 0 for n in per_worker)


# -- locks, crashes, closing ------------------------------------------------------------------
def test_stalled_job_is_recovered_after_a_crash(env):
    """A job held by a crashed worker goes back to waiting when its lock runs out, and runs again."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        ev = ppl.QueueEvents(env.queue)
        await ev.ready()
        stalled = []
        ev.on("stalled", lambda e: stalled.append(e.job_id))
        job = await q.add("work", None)

        async def slow(job):
            await ppl.sleep(env.s(100))

        a = ppl.Worker(env.queue, slow, lock_duration=env.s(2), name="a")
        await until(lambda: counts_are(q, active=1))
        b = ppl.Worker(env.queue, lambda job: "recovered", lock_duration=env.s(2), name="b")
        await env.sleep(0.5)
        a.crash()
        await until(lambda: counts_are(q, completed=1))
        await b.close()
        await until(lambda: stalled)
        await ev.close()
        return job.id, stalled, await q.get_job(job.id)

    run = env.run(main)
    job_id, stalled, job = run.value
    t_fetch = next(e.time for e in run.trace if e.kind == "fetch" and e.actor == "a")
    assert stalled == [job_id]
    assert (job.state, job.result, job.stalled_count, job.attempts_made) == ("completed", "recovered", 1, 1)
    # the lock (2 units from the fetch) ran out; b checks every lock_duration / 2 = 1 unit
    recovered_after = job.started_at - t_fetch
    assert env.s(2) <= recovered_after <= env.s(3) + (0 if env.virtual else 0.06)
    kinds = [
        (e.kind, e.actor)
        for e in run.trace
        if e.msg == job_id and e.kind in ("fetch", "stalled", "completed")
    ]
    assert kinds == [("fetch", "a"), ("stalled", "b"), ("fetch", "b"), ("completed", "b")]
    assert [e.fields["holding"] for e in run.trace if e.kind == "crash"] == [[job_id]]


def test_long_job_keeps_its_lock(env):
    """A job running far longer than lock_duration is not stalled while its worker is alive."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add("long", None)
        # in real time a heartbeat every 0.25 s tolerates a busy machine pausing the loop
        a = ppl.Worker(env.queue, lambda job: ppl.sleep(env.s(15)), lock_duration=env.s(5), name="a")
        # b starts once a holds the job (else b may simply fetch it first), and then waits
        # all the while: it would take the job only if a's lock ran out.
        await until(lambda: counts_are(q, active=1))
        b = ppl.Worker(env.queue, lambda job: None, lock_duration=env.s(5), name="b")
        await until(lambda: counts_are(q, completed=1))
        await a.close()
        await b.close()

    run = env.run(main)
    counts = run.trace.counts()
    assert counts.get("stalled", 0) == 0 and counts.get("lock_lost", 0) == 0
    assert [e.actor for e in run.trace if e.kind == "completed"] == ["a"]


def test_graceful_close_finishes_jobs_in_hand(env):
    """close() stops pulling, waits for the jobs in progress to complete, leaves the rest waiting."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        await q.add_bulk([{"name": "j", "data": i} for i in range(5)])
        w = ppl.Worker(env.queue, lambda job: ppl.sleep(env.s(1)), concurrency=2)
        await env.sleep(0.5)
        t_close = lab.now()
        await w.close()
        return lab.now() - t_close, await q.get_job_counts(), w.closed

    waited, counts, closed = env.run(main).value
    assert env.near(waited, 0.5)
    assert (counts["completed"], counts["waiting"], counts["active"]) == (2, 3, 0)
    assert closed


def test_close_with_timeout_returns_unfinished_jobs(env):
    """close(timeout=...) gives jobs still running after the timeout back to the front of the queue."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        first = await q.add("stuck", None)
        await q.add("next", None)
        w = ppl.Worker(env.queue, lambda job: ppl.sleep(env.s(100)))
        await until(lambda: counts_are(q, active=1))
        await w.close(timeout=env.s(1))
        return first.id, [j.id for j in await q.get_jobs("waiting")], await q.get_job(first.id)

    run = env.run(main)
    first_id, waiting, job = run.value
    assert waiting[0] == first_id and len(waiting) == 2
    assert (job.state, job.attempts_made) == ("waiting", 0)
    assert [e.msg for e in run.trace if e.kind == "returned"] == [first_id]


def test_recreating_a_worker_with_the_same_name_closes_the_old_one(env):
    """Re-running a notebook cell that makes Worker(name='w') leaves one worker, not two."""

    async def main(lab):
        old = ppl.Worker(env.queue, lambda job: None, name="w")
        new = ppl.Worker(env.queue, lambda job: None, name="w")
        await until(lambda: old.closed)
        alive = [p for p in lab.live if isinstance(p, ppl.Worker)]
        await new.close()
        return alive == [new]

    assert env.run(main).value


# -- progress and QueueEvents ------------------------------------------------------------------
def test_progress_is_stored_and_pushed(env):
    """update_progress() stores the value on the job and pushes a 'progress' event for each update."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        ev = ppl.QueueEvents(env.queue)
        await ev.ready()
        seen = []
        ev.on("progress", lambda e: seen.append(e.progress))

        async def process(job):
            for p in (25, 50, {"step": "done"}):
                await job.update_progress(p)
                await ppl.sleep(env.s(0.1))

        job = await q.add("p", None)
        w = ppl.Worker(env.queue, process)
        await until(lambda: len(seen) == 3)
        await w.close()
        await ev.close()
        return seen, await q.get_job(job.id)

    run = env.run(main)
    seen, job = run.value
    assert seen == [25, 50, {"step": "done"}]
    assert job.progress == {"step": "done"}
    assert [e.fields["progress"] for e in run.trace if e.kind == "progress"] == seen


def test_queue_events_arrive_in_order(env):
    """Listeners see each job's events in the order they happened, including retries."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        ev = ppl.QueueEvents(env.queue)
        await ev.ready()
        log = []
        ev.on("*", lambda e: log.append((e.event, e.job_id)))
        ok = await q.add("ok", None)
        flaky = await q.add("flaky", None, attempts=2, backoff=("fixed", env.s(1)))
        late = await q.add("late", None, delay=env.s(0.5))
        w = ppl.Worker(env.queue, lambda job: failing(1)(job) if job.name == "flaky" else "done")
        await until(lambda: counts_are(q, completed=3))
        await until(lambda: ("completed", flaky.id) in log)
        await w.close()
        await ev.close()
        return ok.id, flaky.id, late.id, log

    run = env.run(main)
    ok, flaky, late, log = run.value

    def of(job_id):
        return [event for event, j in log if j == job_id]

    assert of(ok) == ["waiting", "active", "completed"]
    assert of(flaky) == ["waiting", "active", "delayed", "waiting", "active", "completed"]
    assert of(late) == ["delayed", "waiting", "active", "completed"]
    assert ("drained", None) in log
    notified = [e for e in run.trace if e.kind == "notify"]
    assert len(notified) == len(log) and notified[0].actor == f"{env.queue}-events"


def test_queue_events_replay_from_a_last_event_id(env):
    """A new QueueEvents given a last_event_id replays exactly the events after it; '0' replays all."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        first = ppl.QueueEvents(env.queue, name="first")
        await first.ready()
        seen = []
        first.on("*", lambda e: seen.append((e.id, e.event, e.job_id)))
        await q.add("a", None)
        await q.add("b", None)
        await until(lambda: len(seen) == 2)
        mark = first.last_event_id
        await first.close()
        await q.add("c", None)
        await q.add("d", None, delay=env.s(1))

        later, everything = [], []
        resumed = ppl.QueueEvents(env.queue, last_event_id=mark, name="resumed")
        resumed.on("*", lambda e: later.append((e.event, e.job_id)))
        replay = ppl.QueueEvents(env.queue, last_event_id="0", name="replay")
        replay.on("*", lambda e: everything.append((e.event, e.job_id)))
        await until(lambda: len(later) == 2 and len(everything) == 4)
        await resumed.close()
        await replay.close()
        return mark, seen, later, everything

    mark, seen, later, everything = env.run(main).value
    assert [s[1:] for s in seen] == [("waiting", "1"), ("waiting", "2")]
    assert mark == seen[-1][0]
    assert later == [("waiting", "3"), ("delayed", "4")]
    assert everything == [("waiting", "1"), ("waiting", "2"), ("waiting", "3"), ("delayed", "4")]


def test_listener_error_is_reported_not_swallowed(env):
    """A listener that raises is recorded (trace 'error', on_error) and later events still arrive."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        errors, later = [], []
        ev = ppl.QueueEvents(
            env.queue, on_error=lambda exc, e, name: errors.append((str(exc), e.job_id, name))
        )
        await ev.ready()

        def broken(e):
            raise ValueError("listener bug")

        ev.on("waiting", broken)
        ev.on("waiting", lambda e: later.append(e.job_id), name="ok")
        await q.add("a", None)
        await q.add("b", None)
        await until(lambda: len(later) == 2)
        await ev.close()
        return errors, later

    run = env.run(main)
    errors, later = run.value
    assert errors == [("listener bug", "1", "broken"), ("listener bug", "2", "broken")]
    assert later == ["1", "2"]
    assert [e.actor for e in run.trace if e.kind == "error"] == ["broken", "broken"]


# -- polling ----------------------------------------------------------------------------------
def test_poll_records_every_empty_poll(env):
    """A polling worker asks every interval; each empty answer is an 'empty_poll', and a job waits for the next poll."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        w = ppl.Worker(env.queue, lambda job: None, fetch=ppl.Poll(interval=env.s(1)))
        await env.sleep(3.5)
        job = await q.add("j", None)
        await until(lambda: counts_are(q, completed=1))
        done = await q.get_job(job.id)
        await w.close()
        return done.started_at - done.added_at

    run = env.run(main)
    before_add = [e for e in run.trace if e.kind == "empty_poll" and e.time < env.s(3.5)]
    assert len(before_add) == 4  # at 0, 1, 2 and 3
    assert env.near(run.value, 0.5)
