"""Checks for notebooks/06_use_cases.ipynb."""

from __future__ import annotations

import math
from typing import Any

from .. import scenarios
from ._core import exercise

# 06.retry-times: one job, added at t=0, that fails on every attempt. Not the settings of the
# notebook's section 3 (delay 2 s, backoff 1 s), whose printed run would give the answer away.
RETRY = {"delay": 3.0, "attempts": 4, "backoff": ("exponential", 2.0), "work": 0.5}

# 06.burst-budget: a burst of newsletters and the mail provider's limit.
BURST = {"jobs": 100, "duration": 0.5, "jitter": 0.6}
BUDGET_SECONDS = 11.0  # every job finished by then
MOST_PER_SECOND = 10  # never more sends started in any 1 s


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x)


def _times(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def _backoff_wait(k: int) -> float:
    """The backoff before retry number ``k`` (1, 2, ...): BullMQ's fixed or exponential rule."""
    kind, base = RETRY["backoff"]
    return base * 2 ** (k - 1) if kind == "exponential" else base


def retry_run():
    """The run behind 06.retry-times (the notebook's section 3 with one job that always fails)."""
    return scenarios.flaky_jobs(jobs=1, failure_rate=1.0, **RETRY)


@exercise(
    "06.retry-times",
    f"A job is added at t=0 with delay={RETRY['delay']:g}, attempts={RETRY['attempts']} and "
    f"backoff={RETRY['backoff']!r}; each attempt takes {RETRY['work']:g} s and fails. At what times (s) "
    f"do its {RETRY['attempts']} attempts start? A list of {RETRY['attempts']} numbers.",
)
def _retry_times(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, (list, tuple)) or not all(_is_number(x) for x in answer):
        return False, f"answer with a list of start times in seconds, such as [1, 2, 3, 4], not {answer!r}."
    job = retry_run().value["jobs"]["1"]
    truth = job["attempts"]
    waits = [_backoff_wait(k) for k in range(1, len(truth))]
    if len(answer) != len(truth):
        return False, (
            f"you gave {len(answer)} times, but attempts={RETRY['attempts']} means the job runs "
            f"{len(truth)} times in all (the first try plus {len(truth) - 1} retries)."
        )
    if all(abs(a - t) <= 0.01 for a, t in zip(answer, truth)):
        return True, (
            f"the attempts start at {_times(truth)} s: each wait ({', '.join(f'{w:g}' for w in waits)} s) "
            "follows the backoff and counts from the "
            f"moment the previous attempt failed, {RETRY['work']:g} s after it started. After the "
            f"{len(truth)}th failure the job is {job['state']!r} and stays in the failed set."
        )
    if abs(answer[0] - truth[0]) > 0.01:
        return False, (
            f"the first attempt is not at {answer[0]:g} s: a delayed job waits its delay "
            f"({RETRY['delay']:g} s) before any worker may take it."
        )
    # The usual slip: waits counted from the start of each attempt, forgetting its 0.5 s of work.
    from_starts = [truth[0]]
    for k in range(1, len(truth)):
        from_starts.append(from_starts[-1] + _backoff_wait(k))
    if all(abs(a - t) <= 0.01 for a, t in zip(answer, from_starts)):
        return False, (
            f"close: the waits {', '.join(f'{w:g}' for w in waits)} s are right, but the backoff starts "
            f"when an attempt *fails*, and each attempt works {RETRY['work']:g} s before it fails."
        )
    kind, base = RETRY["backoff"]
    rule = f"{base:g} s × 2^(k − 1)" if kind == "exponential" else f"{base:g} s"
    return False, (
        f"not quite. Attempt k + 1 starts when attempt k has failed (its start + {RETRY['work']:g} s of "
        f"work) plus the backoff {rule}."
    )


def burst_run(concurrency: int, limiter: dict | None):
    """The run behind 06.burst-budget: the burst of notebook 06, section 5, with these settings."""
    return scenarios.rate_limited_burst(concurrency=concurrency, limiter=limiter, **BURST)


@exercise(
    "06.burst-budget",
    f"{BURST['jobs']} newsletter jobs (0.2–0.8 s each) arrive at once; the mail provider accepts at "
    f"most {MOST_PER_SECOND} sends started in any 1 s. Give {{'concurrency': c, 'limiter': ... }} so "
    f"that all are sent within {BUDGET_SECONDS:g} s without ever exceeding the provider's limit.",
)
def _burst_budget(answer: Any) -> tuple[bool, str]:
    shape = "a dict like {'concurrency': 3, 'limiter': {'max': 4, 'duration': 1.0}} (limiter may be None)"
    if not isinstance(answer, dict) or set(answer) != {"concurrency", "limiter"}:
        return False, f"answer with {shape}, not {answer!r}."
    try:
        run = burst_run(answer["concurrency"], answer["limiter"])
    except (TypeError, ValueError) as exc:
        return False, f"the worker refuses these settings: {exc}"
    peak = scenarios.most_started(run.trace, "mailer", 1.0)
    makespan = run.value["makespan"]
    in_flight = run.value["max_in_flight"]
    fast = makespan <= BUDGET_SECONDS
    polite = peak <= MOST_PER_SECOND
    measured = (
        f"all {BURST['jobs']} sent at {makespan:.3g} s, at most {peak} started in any 1 s, "
        f"at most {in_flight} in flight"
    )
    if fast and polite:
        return True, f"{measured}. The limiter caps the rate; concurrency only has to be enough to reach it."
    if not polite:
        why = (
            "concurrency alone does not cap a rate: when jobs finish early, slots free up sooner and "
            "more start"
            if answer["limiter"] is None
            else "a limiter counts per its own window: a larger window lets a whole allowance start at once"
        )
        return False, f"{measured}: more than {MOST_PER_SECOND} in 1 s breaks the provider's limit ({why})."
    return False, (
        f"{measured}: too slow for {BUDGET_SECONDS:g} s. At the allowed rate, how many sends must be in "
        "flight at once (rate × time per send)?"
    )
