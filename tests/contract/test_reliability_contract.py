"""Reliability options behave the same on memory, fakeredis and a real Redis server:
the dead-letter queue, ack before / after a crash, and the idempotency store."""

from __future__ import annotations

import pytest
from contract_helpers import counts_are, until

import pushpull_lab as ppl
from pushpull_lab.pull.idempotency import Idempotent


def test_poison_job_lands_in_the_dead_letter_queue(env):
    """After its attempts a failing job is failed in its queue and waits in the DLQ with its story."""
    dlq_name = f"{env.queue}-dlq"

    async def main(lab):
        q = ppl.Queue(env.queue)
        dlq = ppl.Queue(dlq_name)
        good = await q.add("ok", {"n": 1})
        bad = await q.add("poison", {"n": 2}, attempts=2, backoff=("fixed", env.s(1)))

        def process(job):
            if job.name == "poison":
                raise ValueError("unreadable")
            return "fine"

        w = ppl.Worker(env.queue, process, dead_letter=dlq_name, name="w")
        try:
            await until(lambda: counts_are(dlq, waiting=1))
            await w.close()
            return good.id, bad.id, await q.get_job_counts(), await dlq.get_jobs(["waiting"])
        finally:
            await dlq.obliterate()

    run = env.run(main)
    good_id, bad_id, counts, dead = run.value
    assert (counts["completed"], counts["failed"]) == (1, 1)
    [job] = dead
    assert (job.id, job.name, job.state) == (f"{env.queue}:{bad_id}", "poison", "waiting")
    assert job.data == {
        "queue": env.queue,
        "job_id": bad_id,
        "data": {"n": 2},
        "failed_reason": "ValueError: unreadable",
        "attempts_made": 2,
    }
    events = [(e.kind, e.msg) for e in run.trace if e.kind in ("retry", "failed", "dead_letter")]
    assert events == [("retry", bad_id), ("failed", bad_id), ("dead_letter", bad_id)]
    assert good_id != bad_id


@pytest.mark.parametrize(("ack", "runs_again"), [("before", False), ("after", True)])
def test_a_crash_loses_an_acked_job_and_redelivers_an_unacked_one(env, ack, runs_again):
    """ack='before': the crashed worker's job is done in the store and never runs again;
    ack='after': it stalls when its lock runs out and another worker runs it."""

    async def main(lab):
        q = ppl.Queue(env.queue)
        job = await q.add("work", None)
        started = []

        async def slow(job):
            started.append(job.id)
            await ppl.sleep(env.s(100))

        a = ppl.Worker(env.queue, slow, ack=ack, lock_duration=env.s(2), name="a")
        await until(lambda: started)
        a.crash()
        b = ppl.Worker(
            env.queue, lambda job: started.append(job.id), ack=ack, lock_duration=env.s(2), name="b"
        )
        await env.sleep(5)  # two and a half lock durations: long enough to recover a stalled job
        await b.close()
        return job.id, started, await q.get_job(job.id)

    run = env.run(main)
    job_id, started, job = run.value
    counts = run.trace.counts()
    if runs_again:
        assert started == [job_id, job_id] and counts["stalled"] == 1
        assert (job.state, job.stalled_count) == ("completed", 1)
    else:
        assert started == [job_id] and counts.get("stalled", 0) == 0
        assert (job.state, job.result) == ("completed", None)
        assert counts["ack"] == 1


def test_idempotent_store_dedupes_on_every_backend(env):
    """The same keys applied twice are stored once, with the first value, on every backend."""

    async def main(lab):
        ledger = Idempotent(env.queue)
        try:
            firsts = [await ledger.apply(f"pay-{i % 3}", i, by="billing") for i in range(6)]
            return firsts, await ledger.items(), await ledger.count()
        finally:
            await ledger.clear()

    run = env.run(main)
    firsts, items, count = run.value
    assert firsts == [True, True, True, False, False, False]
    assert items == {"pay-0": 0, "pay-1": 1, "pay-2": 2} and count == 3
    counts = run.trace.counts()
    assert (counts["effect"], counts["dedupe"]) == (3, 3)
