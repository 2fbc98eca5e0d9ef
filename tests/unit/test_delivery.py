"""Delivery semantics under a scripted crash: at-most-once loses, at-least-once repeats,
effectively-once applies each effect once; plus the dead-letter queue and argument checks.

Every scenario is one job (or a few) and one worker that crashes at a chosen moment; the
counts come from the trace's ``effect`` / ``dedupe`` events, the way notebook 13 counts them.
"""

from __future__ import annotations

from collections import Counter

import pytest

import pushpull_lab as ppl
from pushpull_lab.pull.idempotency import Idempotent

BACKENDS = ("memory", "fakeredis")


def crash_one_job(ack: str, crash_at: float, *, idempotent: bool = False, backend: str = "memory"):
    """One 1 s job whose effect happens at 0.5 s; worker a crashes at ``crash_at``, b takes over."""

    async def main(lab):
        q = ppl.Queue("jobs")
        ledger = Idempotent("ledger") if idempotent else None

        def processor(name):
            async def process(job):
                await ppl.sleep(0.5)
                if ledger is None:
                    lab.trace.record("effect", name, "ledger", job.id)
                else:
                    await ledger.apply(job.id, job.data, by=name)
                await ppl.sleep(0.5)
                return "done"

            return process

        await q.add("pay", 42)
        a = ppl.Worker("jobs", processor("a"), ack=ack, lock_duration=2.0, name="a")
        await ppl.sleep(crash_at)
        a.crash()
        b = ppl.Worker("jobs", processor("b"), ack=ack, lock_duration=2.0, name="b")
        await ppl.sleep(10)
        await b.close()
        return await q.get_job_counts()

    run = ppl.simulate(main, backend=backend)
    effects = Counter(e.msg for e in run.trace if e.kind == "effect")
    lost = 1 - len(effects)
    duplicated = sum(n - 1 for n in effects.values())
    return run, lost, duplicated


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("ack", "crash_at", "idempotent", "lost", "duplicated"),
    [
        ("before", 0.25, False, 1, 0),  # acked, then crashed before the effect: gone
        ("before", 0.75, False, 0, 0),  # acked, effect done, crash: nothing to redo, nothing redone
        ("after", 0.25, False, 0, 0),  # crashed before the effect: run again, applied once
        ("after", 0.75, False, 0, 1),  # crashed after the effect, before the ack: applied twice
        ("after", 0.75, True, 0, 0),  # the same, through an idempotency store: applied once
    ],
)
def test_lost_and_duplicated_per_mode(backend, ack, crash_at, idempotent, lost, duplicated):
    """Each mode's lost/duplicated counts under a crash before or after the job's effect."""
    run, got_lost, got_duplicated = crash_one_job(ack, crash_at, idempotent=idempotent, backend=backend)
    assert (got_lost, got_duplicated) == (lost, duplicated)
    counts = run.trace.counts()
    if ack == "before":  # acked before the crash: nobody ever sees it stall
        assert counts.get("stalled", 0) == 0 and counts["ack"] == 1
        assert run.value["completed"] == 1
    else:
        assert counts["stalled"] == 1 and run.value["completed"] == 1
    assert counts.get("dedupe", 0) == (1 if idempotent else 0)


def test_ack_before_marks_the_job_done_before_the_processor_runs():
    """ack='before': the store says completed (result None) while the processor is still running."""

    async def main(lab):
        q = ppl.Queue("jobs")
        job = await q.add("j", None)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(1.0), ack="before", name="w")
        await ppl.sleep(0.5)
        during = await q.get_job(job.id)
        await w.close()
        return during

    run = ppl.simulate(main)
    during = run.value
    assert (during.state, during.result) == ("completed", None)
    kinds = [e.kind for e in run.trace if e.actor == "w" and e.msg == "1"]
    assert kinds == ["fetch", "active", "ack", "completed"]


def test_ack_before_never_retries_and_dead_letters_the_failure():
    """A failing job acked first is not retried even with attempts left; it goes to the DLQ."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("j", {"x": 1}, attempts=3)

        def boom(job):
            raise ValueError("bad input")

        w = ppl.Worker("jobs", boom, ack="before", dead_letter="jobs-dlq", name="w")
        await ppl.sleep(1)
        await w.close()
        return [j.as_dict() for j in await ppl.Queue("jobs-dlq").get_jobs()]

    run = ppl.simulate(main)
    counts = run.trace.counts()
    assert counts["active"] == 1 and counts.get("retry", 0) == 0
    failed = [e.fields for e in run.trace if e.kind == "failed"]
    assert failed == [{"error": "ValueError: bad input", "attempts_made": 1, "acked": True}]
    [dead] = run.value
    assert dead["id"] == "jobs:1" and dead["data"]["failed_reason"] == "ValueError: bad input"


def test_long_job_acked_before_is_not_reported_as_lock_lost():
    """After an early ack the worker stops heartbeating that job: no lock_lost for a long job."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("j", None)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(5.0), ack="before", lock_duration=1.0, name="w")
        await ppl.sleep(6)
        await w.close()

    counts = ppl.simulate(main).trace.counts()
    assert counts.get("lock_lost", 0) == 0 and counts["completed"] == 1


def test_close_with_timeout_abandons_acked_jobs():
    """close(timeout) cannot give an acked job back: it is traced 'abandoned', not 'returned'."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("j", None)
        w = ppl.Worker("jobs", lambda job: ppl.sleep(10.0), ack="before", name="w")
        await ppl.sleep(0.5)
        await w.close(timeout=1.0)
        return await q.get_job_counts()

    run = ppl.simulate(main)
    counts = run.trace.counts()
    assert counts["abandoned"] == 1 and counts.get("returned", 0) == 0 and counts.get("lock_lost", 0) == 0
    assert run.value["waiting"] == 0  # nothing to redo: at most once


@pytest.mark.parametrize("backend", BACKENDS)
def test_poison_job_goes_to_the_dead_letter_queue_after_its_attempts(backend):
    """A job that fails all 3 attempts is failed in its queue and waits, explained, in the DLQ."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("ok", {"n": 1}, attempts=3)
        await q.add("poison", {"n": 2}, attempts=3, backoff=("fixed", 1.0))

        def process(job):
            if job.name == "poison":
                raise RuntimeError("cannot parse")
            return "fine"

        w = ppl.Worker("jobs", process, dead_letter="jobs-dlq", name="w")
        await ppl.sleep(5)
        await w.close()
        return await q.get_job_counts(), await ppl.Queue("jobs-dlq").get_jobs("waiting")

    run = ppl.simulate(main, backend=backend)
    counts, dlq = run.value
    assert (counts["completed"], counts["failed"]) == (1, 1)
    [dead] = dlq
    assert (dead.id, dead.name) == ("jobs:2", "poison")
    assert dead.data == {
        "queue": "jobs",
        "job_id": "2",
        "data": {"n": 2},
        "failed_reason": "RuntimeError: cannot parse",
        "attempts_made": 3,
    }
    [event] = [e for e in run.trace if e.kind == "dead_letter"]
    assert (event.actor, event.peer, event.msg, event.fields["dlq_id"]) == ("w", "jobs-dlq", "2", "jobs:2")
    assert [e.kind for e in run.trace if e.msg == "2" and e.kind in ("retry", "failed")] == [
        "retry",
        "retry",
        "failed",
    ]


def test_no_dead_letter_queue_means_failed_only():
    """Without dead_letter, a failed job just stays failed and nothing is traced as dead_letter."""

    async def main(lab):
        q = ppl.Queue("jobs")
        await q.add("poison", None)
        w = ppl.Worker("jobs", lambda job: 1 / 0, name="w")
        await ppl.sleep(1)
        await w.close()
        return await q.get_job_counts()

    run = ppl.simulate(main)
    assert run.value["failed"] == 1 and "dead_letter" not in run.trace.counts()


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"ack": "maybe"}, ValueError, "Worker(ack='maybe'): ack must be one of 'after', 'before'"),
        ({"ack": None}, ValueError, "ack must be one of"),
        ({"dead_letter": "jobs"}, ValueError, "dead_letter must name another queue"),
        ({"dead_letter": "bad name!"}, ValueError, "Worker(dead_letter='bad name!')"),
        ({"dead_letter": 7}, TypeError, "dead_letter must be a non-empty string"),
    ],
)
def test_bad_reliability_options_are_refused_at_the_call(kwargs, exc, message):
    """ack and dead_letter are checked when the Worker is made, with the parameter named."""

    async def main(lab):
        with pytest.raises(exc) as info:
            ppl.Worker("jobs", lambda job: None, **kwargs)
        return str(info.value)

    assert message in ppl.simulate(main).value


@pytest.mark.parametrize("backend", BACKENDS)
def test_idempotent_store_applies_each_key_once(backend):
    """apply() is True the first time per key, False after; values and counts are kept; all traced."""

    async def main(lab):
        ledger = Idempotent("ledger")
        firsts = [await ledger.apply(k, {"amount": i}, by="billing") for i, k in enumerate("abab")]
        other = Idempotent("other")  # another name: its own keys
        again = await other.apply("a")
        values = await ledger.items(), await ledger.get("a"), await ledger.get("zzz", "none")
        count = await ledger.count()
        await ledger.clear()
        return firsts, again, values, count, await ledger.count()

    run = ppl.simulate(main, backend=backend)
    firsts, again, (items, a, missing), count, after_clear = run.value
    assert firsts == [True, True, False, False] and again is True
    assert items == {"a": {"amount": 0}, "b": {"amount": 1}} and a == {"amount": 0} and missing == "none"
    assert (count, after_clear) == (2, 0)
    kinds = [(e.kind, e.actor, e.peer, e.msg) for e in run.trace if e.kind in ("effect", "dedupe")]
    assert kinds[:4] == [
        ("effect", "billing", "ledger", "a"),
        ("effect", "billing", "ledger", "b"),
        ("dedupe", "billing", "ledger", "a"),
        ("dedupe", "billing", "ledger", "b"),
    ]


def test_idempotent_store_checks_its_arguments():
    """Bad names, keys and values are refused with the parameter named."""

    async def main(lab):
        ledger = Idempotent("ledger")
        errors = []
        for call in (
            lambda: Idempotent("no spaces"),
            lambda: ledger.apply(""),
            lambda: ledger.apply(3),
            lambda: ledger.apply("k", object()),
            lambda: ledger.apply("k", by=""),
        ):
            try:
                result = call()
                if hasattr(result, "__await__"):
                    await result
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        return errors, await ledger.count()

    errors, count = ppl.simulate(main).value
    prefixes = [
        "Idempotent(name='no spaces'): name must be letters",
        "Idempotent.apply(key=''): key must be a non-empty string",
        "Idempotent.apply(key=3): key must be a non-empty string",
        "Idempotent.apply(value=<object",
        "Idempotent.apply(by=''): by must be a non-empty string",
    ]
    assert len(errors) == len(prefixes)
    for error, prefix in zip(errors, prefixes):
        assert error.startswith(prefix), error
    assert "JSON-serialisable" in errors[3]
    assert count == 0  # nothing was stored by a refused call
