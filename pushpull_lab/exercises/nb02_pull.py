"""Checks for notebooks/02_pull.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

_INTERVALS = [round(0.1 * k, 1) for k in range(1, 41)]  # 0.1 s .. 4.0 s


@exercise(
    "02.pick-interval",
    "For scenarios.pull_styles('short', interval=...): the largest polling interval (a multiple "
    "of 0.1 s) whose p99 latency stays at or under 1 second.",
)
def _pick_interval(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer <= 0:
        return False, f"answer with an interval in seconds, such as 0.7, not {answer!r}."
    p99 = scenarios.pull_styles("short", interval=answer).value["latency"].p99
    best = max(
        i for i in _INTERVALS if scenarios.pull_styles("short", interval=i).value["latency"].p99 <= 1.0
    )
    if p99 > 1.0:
        return False, f"at interval={answer:g} s the p99 latency is {p99:.3g} s: over 1 s. Poll more often."
    if round(answer, 1) < best:
        requests = scenarios.pull_styles("short", interval=answer).value["requests"]
        return (
            False,
            f"p99 is {p99:.3g} s, within the limit, but {requests} requests is more than needed: try longer.",
        )
    requests = scenarios.pull_styles("short", interval=best).value["requests"]
    return True, (
        f"interval={best:g} s keeps p99 at {p99:.3g} s with {requests} requests. Long polling gets "
        "0 s with one request per message: compare them in the table above."
    )


@exercise(
    "02.group-split",
    "A log with 3 partitions and a consumer group of 2 members (range assignment, members "
    "sorted by name: 'a', 'b'). Which partitions does member 'a' read? Answer with a list.",
)
def _group_split(answer: Any) -> tuple[bool, str]:
    from ..pull.log import range_assignment

    truth = range_assignment(["a", "b"], 3)["a"]
    if not isinstance(answer, (list, tuple)) or not all(isinstance(p, int) for p in answer):
        return False, "answer with a list of partition numbers, such as [0]."
    if sorted(answer) == sorted(truth):
        return (
            True,
            f"'a' reads {truth}, 'b' reads the rest: range assignment gives the first member the extra one.",
        )
    return (
        False,
        "not quite: range assignment splits partitions 0..2 into contiguous runs, the first member taking the remainder.",
    )
