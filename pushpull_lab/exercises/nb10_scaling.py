"""Checks for notebooks/10_scaling.ipynb."""

from __future__ import annotations

import math
from typing import Any

from .. import scenarios
from ._core import exercise

KNEE_RATE, KNEE_DURATION = 25.0, 0.8  # jobs per second, seconds per job
WAIT_RATE, WAIT_TARGET = 6.0, 0.1  # Poisson arrivals per second (1 s mean service), seconds


def _whole_number(answer: Any) -> bool:
    return not isinstance(answer, bool) and isinstance(answer, (int, float)) and float(answer).is_integer()


@exercise(
    "10.knee",
    "A producer adds 25 jobs per second, evenly spaced; each job takes 0.8 s on a worker with one "
    "slot. What is the fewest workers whose throughput keeps up with the producer (25 jobs/s)?",
)
def _knee(answer: Any) -> tuple[bool, str]:
    if not _whole_number(answer) or answer < 1:
        return False, f"answer with a whole number of workers (1 or more), not {answer!r}."
    workers = int(answer)

    def throughput(n: int) -> float:
        return scenarios.competing_consumers(workers=n, rate=KNEE_RATE, duration=KNEE_DURATION).value[
            "throughput"
        ]

    here = throughput(workers)
    keeps_up = here >= 0.99 * KNEE_RATE
    if not keeps_up:
        return False, (
            f"{workers} workers complete {here:.4g} jobs/s, less than the 25 jobs/s arriving: the backlog "
            "grows. How many jobs can one worker finish per second?"
        )
    below = throughput(workers - 1) if workers > 1 else 0.0
    if below >= 0.99 * KNEE_RATE:
        return False, (
            f"{workers} workers keep up, but so do {workers - 1} ({below:.4g} jobs/s): the extra ones wait "
            "idle. Look for the fewest."
        )
    return True, (
        f"{workers} workers complete {here:.4g} jobs/s, {workers - 1} only {below:.4g}: each worker does "
        f"1 / 0.8 = 1.25 jobs/s, and 25 / 1.25 = {workers}. Past this knee, more workers only add idle time."
    )


@exercise(
    "10.slots-for-wait",
    "Jobs arrive at random, 6 per second on average (Poisson), and take 1 s on average (exponential). "
    "What is the smallest Worker concurrency c that keeps the mean wait in the queue under 0.1 s?",
)
def _slots_for_wait(answer: Any) -> tuple[bool, str]:
    if not _whole_number(answer) or answer < 1:
        return False, f"answer with a whole number of slots (1 or more), not {answer!r}."
    c = int(answer)
    if c <= WAIT_RATE:
        return False, (
            f"with {c} slots at most {c} jobs finish per second but 6 arrive: the queue grows without "
            "bound. Stability needs c > λ/μ = 6; then ask how much more."
        )

    def measured(n: int) -> tuple[float, float]:
        v = scenarios.mmc_queue(n, utilisation=WAIT_RATE / n).value
        return v["measured"], v["half_width"]

    here, half = measured(c)
    if here >= WAIT_TARGET:
        return False, (
            f"with {c} slots the lab measures a mean wait of {here:.3g} ± {half:.2g} s: still 0.1 s or more. "
            "Try theory.mmc_wait(6, 1, c) for a few c."
        )
    if c - 1 > WAIT_RATE:
        below, below_half = measured(c - 1)
        if below < WAIT_TARGET:
            return False, (
                f"{c} slots work ({here:.3g} s), but so do {c - 1} ({below:.3g} s): is there a smaller one?"
            )
        return True, (
            f"the lab measures {here:.3g} ± {half:.2g} s with {c} slots and {below:.3g} ± {below_half:.2g} s "
            f"with {c - 1} (Erlang C: {_erlang(c):.3g} s and {_erlang(c - 1):.3g} s). At ρ close to 1 a "
            "few spare slots cut the wait steeply."
        )
    return True, f"{c} slots give {here:.3g} ± {half:.2g} s, and {c - 1} slots cannot even keep up."


def _erlang(c: int) -> float:
    from ..theory import mmc_wait

    return mmc_wait(WAIT_RATE, 1.0, c) if c > WAIT_RATE else math.inf
