"""Random sequences of Queue operations leave memory and fakeredis in the same observable state.

A hypothesis state machine drives two labs side by side, one per backend, on one real-time
event loop: every rule runs the same operation on both, compares what each call returned (or
raised), and every invariant compares what anyone could observe — counts, paused flag, and each
job's state, attempts, result and error, in the order ``get_jobs`` lists them. Times are left
out (the two calls happen a few microseconds apart); everything else must be equal.
"""

from __future__ import annotations

import asyncio

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

import pushpull_lab as ppl

BACKENDS = ("memory", "fakeredis")
FIELDS = ("id", "name", "state", "data", "priority", "attempts", "attempts_made", "result", "failed_reason")

job_specs = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b"]),
        "data": st.fixed_dictionaries({"n": st.integers(0, 99), "fail": st.booleans()}),
        "priority": st.sampled_from([0, 1, 5]),
        "attempts": st.integers(1, 3),
        "delay": st.sampled_from([0, 0, 1000]),  # 1000 s: stays delayed for the whole test
        "job_id": st.sampled_from([None, None, "k1", "k2"]),  # custom ids de-duplicate
    }
)


async def process(job):
    if job.data["fail"]:
        raise ValueError(f"boom {job.data['n']}")
    return job.data["n"] * 2


def outcome(call):
    """What a call gave, as something comparable: its value, or its exception's type and text."""
    try:
        return ("ok", call())
    except Exception as exc:  # the exception is the observation
        return ("raised", type(exc).__name__, str(exc))


class QueueOnTwoBackends(RuleBasedStateMachine):
    ids = Bundle("ids")

    @initialize()
    def open_labs(self):
        self.loop = asyncio.new_event_loop()
        self.labs = {b: ppl.Lab(backend=b) for b in BACKENDS}
        self.queues = self._both(lambda lab: self._make_queue(lab))
        self.paused = False

    async def _make_queue(self, lab):
        return ppl.Queue("q", lab=lab)

    def _both(self, op):
        """Run ``op(lab)`` (a coroutine function) on each backend in turn; returns {backend: result}."""
        return {b: self.loop.run_until_complete(op(lab)) for b, lab in self.labs.items()}

    def _same(self, op):
        results = {
            b: outcome(lambda lab=lab: self.loop.run_until_complete(op(lab))) for b, lab in self.labs.items()
        }
        memory, fake = results.values()
        assert memory == fake, f"memory gave {memory}, fakeredis gave {fake}"
        return memory

    def _queue(self, lab):
        return self.queues[lab.backend]

    @rule(target=ids, spec=job_specs)
    def add(self, spec):
        async def op(lab):
            job = await self._queue(lab).add(
                spec["name"], spec["data"], **{k: spec[k] for k in spec if k not in ("name", "data")}
            )
            return job.id, job.state

        return self._same(op)[1][0]

    @rule(target=ids, specs=st.lists(job_specs, min_size=1, max_size=3))
    def add_bulk(self, specs):
        async def op(lab):
            jobs = await self._queue(lab).add_bulk(specs)
            return [(j.id, j.state) for j in jobs]

        return self._same(op)[1][-1][0]

    @rule(job_id=st.one_of(ids, st.just("no-such-job")))
    def remove(self, job_id):
        self._same(lambda lab: self._queue(lab).remove(job_id))

    @rule()
    def pause(self):
        self._same(lambda lab: self._queue(lab).pause())
        self.paused = True

    @rule()
    def resume(self):
        self._same(lambda lab: self._queue(lab).resume())
        self.paused = False

    @rule(delayed=st.booleans())
    def drain(self, delayed):
        self._same(lambda lab: self._queue(lab).drain(delayed=delayed))

    @precondition(lambda self: not self.paused)
    @rule()
    def work_until_idle(self):
        """One worker (one slot, so the processing order is the queue's) takes every job it can."""

        async def op(lab):
            queue = self._queue(lab)
            worker = ppl.Worker("q", process, name="w", lab=lab)
            try:
                while True:
                    counts = await queue.get_job_counts()
                    if counts["waiting"] == counts["active"] == 0:
                        break
                    await asyncio.sleep(0.002)
            finally:
                await worker.close()
            return worker.completed, worker.failed

        self._same(op)

    @invariant()
    def same_observable_state(self):
        async def observe(lab):
            queue = self._queue(lab)
            jobs = await queue.get_jobs()
            counts = await queue.get_job_counts()
            assert sum(counts.values()) == len(jobs), (counts, len(jobs))
            return counts, await queue.is_paused(), [tuple(getattr(j, f) for f in FIELDS) for j in jobs]

        if hasattr(self, "labs"):
            self._same(observe)

    def teardown(self):
        if hasattr(self, "labs"):
            for lab in self.labs.values():
                lab.close_all()
            self.loop.close()


QueueOnTwoBackends.TestCase.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
TestQueueOnTwoBackends = QueueOnTwoBackends.TestCase
