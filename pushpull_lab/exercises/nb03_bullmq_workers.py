"""Checks for notebooks/03_bullmq_workers.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise


@exercise(
    "03.makespan",
    "12 jobs of 1 s each are added at t=0 to a queue pulled by one Worker with concurrency=4. "
    "At what time (seconds) does the last job finish?",
)
def _makespan(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, f"answer with a time in seconds, not {answer!r}."
    makespan = scenarios.worker_pool(jobs=12, duration=1.0, concurrency=4).value["makespan"]
    if abs(answer - makespan) < 1e-6:
        return (
            True,
            f"the last job finishes at t={makespan:g} s: 4 slots take 4 jobs per second, 12 jobs take 3 s.",
        )
    return False, "not quite. How many jobs run at the same time, and how many rounds do 12 jobs need?"


@exercise(
    "03.retry-times",
    "A job added at t=0 with attempts=4 and backoff=('exponential', 1.0) fails instantly every "
    "time. At which times do its 4 attempts start? Answer with a list of 4 numbers.",
)
def _retry_times(answer: Any) -> tuple[bool, str]:
    from ..clock import simulate, sleep
    from ..pull.queue import Queue
    from ..pull.worker import Worker

    if not isinstance(answer, (list, tuple)) or len(answer) != 4:
        return False, "answer with a list of 4 start times, such as [0, 1, 2, 3]."

    async def main(lab):
        queue = Queue("flaky")

        def always_fails(job):
            raise RuntimeError("the encoder crashed")

        worker = Worker("flaky", always_fails)
        await queue.add("transcode", {}, attempts=4, backoff=("exponential", 1.0))
        while (await queue.get_job_counts())["failed"] < 1:
            await sleep(0.5)
        await worker.close()
        return [round(e.time, 9) for e in lab.trace.filter(kind="active")]

    starts = simulate(main).value
    if [float(a) for a in answer] == starts:
        return True, f"attempts start at {starts}: the waits double, 1 s, 2 s, 4 s, after each failure."
    return False, "not quite. After the n-th failure the wait is 1 s × 2^(n-1); add the waits up."
