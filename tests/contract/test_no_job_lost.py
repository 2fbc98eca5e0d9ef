"""Property: under random crash injection, at-least-once delivery never loses a job.

Hypothesis draws a crash schedule — how many jobs and how long each takes, which are poison
(always raise), how many workers with what concurrency, which of them crash and when — and
the run must end with every job accounted for: each good job completed (its effect applied at
least once), each poison job failed and copied to the dead-letter queue. A crashed worker is
replaced by a fresh one a moment later, as a supervisor would restart a process. Duplicated
effects are allowed, but never more than the jobs the crashed workers held when they died
(the ``holding`` list of each ``crash`` event).

Memory runs in virtual time (many examples, exact); the real Redis server runs in real time
(a few examples, short locks), through the ``redis_url`` fixture: skipped locally without
``PUSHPULL_REDIS_URL``, a failure in CI.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import pytest
from contract_helpers import Env, until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pushpull_lab as ppl

LOCK = 4.0  # lock_duration, in test time units (0.4 s on the real server)
RESTART = 1.0  # a crashed worker's replacement starts this long after the crash


@dataclass(frozen=True)
class Schedule:
    durations: tuple[float, ...]  # one per job, in time units
    poison: frozenset[int]  # job numbers that always raise
    concurrency: tuple[int, ...]  # one per initial worker
    crashes: tuple[float | None, ...]  # when each initial worker crashes (None: never)
    spacing: float  # time units between two adds (0: all at once)


@st.composite
def schedules(draw) -> Schedule:
    jobs = draw(st.integers(1, 10))
    workers = draw(st.integers(1, 3))
    return Schedule(
        durations=tuple(draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=jobs, max_size=jobs))),
        poison=frozenset(draw(st.sets(st.integers(0, jobs - 1), max_size=2))),
        concurrency=tuple(draw(st.lists(st.integers(1, 3), min_size=workers, max_size=workers))),
        crashes=tuple(
            draw(
                st.lists(
                    st.one_of(st.none(), st.integers(0, 60).map(lambda tenth: tenth / 10)),
                    min_size=workers,
                    max_size=workers,
                )
            )
        ),
        spacing=draw(st.sampled_from([0.0, 0.3, 1.0])),
    )


def run_schedule(env: Env, plan: Schedule, *, ack: str = "after"):
    """Run one crash schedule on ``env``; returns the Run (value: final counts, DLQ ids, job ids)."""
    dlq_name = f"{env.queue}-dlq"

    async def main(lab):
        queue = ppl.Queue(env.queue)
        dlq = ppl.Queue(dlq_name)

        def processor(name):
            async def process(job):
                n = job.data
                await env.sleep(plan.durations[n] / 2)
                if n in plan.poison:
                    raise ValueError(f"job {n} is poison")
                lab.trace.record("effect", name, "ledger", n)  # the side effect, halfway through
                await env.sleep(plan.durations[n] / 2)
                return n

            return process

        def start(name, concurrency):
            return ppl.Worker(
                env.queue,
                processor(name),
                concurrency=concurrency,
                lock_duration=env.s(LOCK),
                ack=ack,
                dead_letter=dlq_name,
                name=name,
            )

        async def chaos(worker, crash_at, concurrency):
            await env.sleep(crash_at)
            worker.crash()
            await env.sleep(RESTART)
            start(f"{worker.name}-restarted", concurrency)

        loop = asyncio.get_running_loop()
        workers = [start(f"w{i}", c) for i, c in enumerate(plan.concurrency)]
        tasks = [
            loop.create_task(chaos(w, t, c))
            for w, t, c in zip(workers, plan.crashes, plan.concurrency)
            if t is not None
        ]
        ids = []
        try:
            for n in range(len(plan.durations)):
                job = await queue.add("job", n, attempts=2)
                ids.append(job.id)
                if plan.spacing:
                    await env.sleep(plan.spacing)
            for task in tasks:
                await task
            total = len(ids)

            async def settled():
                counts = await queue.get_job_counts()
                return counts["completed"] + counts["failed"] == total

            await until(settled, timeout=env.s(400), step=env.s(0.5))
            for primitive in list(lab.live):
                if isinstance(primitive, ppl.Worker):
                    await primitive.close()
            return await queue.get_job_counts(), [j.id for j in await dlq.get_jobs()], ids
        finally:
            await dlq.obliterate()

    return env.run(main)


def check_nothing_lost(plan: Schedule, run) -> None:
    counts, dead, ids = run.value
    poison = len(plan.poison)
    good = len(plan.durations) - poison
    # every job is accounted for: good ones completed, poison ones failed and dead-lettered
    assert counts == {"waiting": 0, "active": 0, "delayed": 0, "completed": good, "failed": poison}
    assert sorted(dead) == sorted(f"{run_queue(run)}:{ids[n]}" for n in plan.poison)
    effects = Counter(e.msg for e in run.trace if e.kind == "effect")
    assert set(effects) == set(range(len(plan.durations))) - plan.poison  # each good job's effect happened
    duplicated = sum(c - 1 for c in effects.values())
    held = sum(len(e.fields["holding"]) for e in run.trace if e.kind == "crash")
    assert duplicated <= held, (duplicated, held)
    assert run.trace.counts().get("lock_lost", 0) == 0  # live workers never lost a lock


def run_queue(run) -> str:
    return next(e.peer for e in run.trace if e.kind == "add")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=schedules())
def test_no_job_lost_in_virtual_time(plan):
    """Memory backend, virtual time: any crash schedule ends with every job completed or dead-lettered."""
    check_nothing_lost(plan, run_schedule(Env("memory"), plan))


@pytest.mark.redis
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=schedules())
def test_no_job_lost_on_real_redis(redis_url, plan):
    """A real Redis server, real time and real crashes: the same property, on a few schedules."""
    check_nothing_lost(plan, run_schedule(Env("redis", redis_url), plan))


def test_the_check_catches_a_lost_job_under_at_most_once():
    """The same schedule with ack='before' loses the job the crash interrupted, and the check says so."""
    plan = Schedule(durations=(2.0, 2.0), poison=frozenset(), concurrency=(1,), crashes=(0.5,), spacing=0.0)
    check_nothing_lost(plan, run_schedule(Env("memory"), plan))  # at least once: fine
    lost = run_schedule(Env("memory"), plan, ack="before")
    with pytest.raises(AssertionError):
        check_nothing_lost(plan, lost)
    assert Counter(e.kind for e in lost.trace)["effect"] == 1  # job 0 was acked, then died with its worker
