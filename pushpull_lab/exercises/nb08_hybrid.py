"""Checks for notebooks/08_hybrid.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

_INTERVALS = [round(0.1 * k, 1) for k in range(1, 21)]  # 0.1 s .. 2.0 s


def _missed(interval: float) -> int:
    return scenarios.hybrid(design="all_pull", poll_interval=interval).value["missed"]


@exercise(
    "08.poll-often-enough",
    "In scenarios.hybrid(design='all_pull') with the defaults (progress every 0.5 s), what is the "
    "largest poll_interval (a multiple of 0.1 s, at most 2.0) at which no dashboard misses an update?",
)
def _poll_often_enough(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return False, f"answer with a number of seconds, not {answer!r}."
    if round(answer, 1) not in _INTERVALS or abs(answer - round(answer, 1)) > 1e-9:
        return False, "pick a multiple of 0.1 s between 0.1 and 2.0."
    best = max(i for i in _INTERVALS if _missed(i) == 0)
    requests = scenarios.hybrid(design="all_pull", poll_interval=best).value["requests"]
    if round(answer, 1) == best:
        return True, (
            f"at {best:g} s the dashboards see every update, for {requests} requests; the hybrid "
            "design sees them all for 0 requests, the moment they happen."
        )
    missed = _missed(round(answer, 1))
    if missed:
        return (
            False,
            f"at {answer:g} s the dashboards miss {missed} updates: poll at least as often as updates come.",
        )
    return False, f"{answer:g} s misses nothing, but a longer interval does too: try larger ones."


_BURST = {"design": "all_push", "workers": 3, "buffer": 4}


@exercise(
    "08.largest-safe-burst",
    "In scenarios.hybrid(design='all_push', workers=3, buffer=4) (uploads 0.1 s apart, 2 s per clip), "
    "what is the largest number of uploads that loses none?",
)
def _largest_safe_burst(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 1:
        return False, f"answer with a whole number of uploads, not {answer!r}."
    lost = {n: scenarios.hybrid(uploads=n, **_BURST).value["lost"] for n in (answer, answer + 1)}
    if lost[answer]:
        return False, f"{answer} uploads already lose {lost[answer]}: count what each transcoder can hold."
    if not lost[answer + 1]:
        return False, f"{answer + 1} uploads still lose nothing: the largest safe burst is bigger."
    return True, (
        f"{answer} = 3 transcoders x (1 in hand + 4 buffered); upload {answer + 1} is dropped. With a queue "
        "in between (the hybrid), any burst waits instead of being lost."
    )
