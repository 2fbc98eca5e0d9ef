"""Checks for notebooks/07_when_to_use_what.ipynb."""

from __future__ import annotations

from typing import Any

from .. import advisor, scenarios
from ._core import exercise

SITUATIONS = {
    "nightly reports": advisor.Situation(
        max_delay=3600, needs_retries=True, producers=1, consumers=4, needs_load_control=True
    ),
    "typing indicator": advisor.Situation(max_delay=0.2, producers=50, consumers=1),
    "sensor alarms": advisor.Situation(max_delay=1.0, producers=200, consumers=2, slow_consumers=True),
}
"""Exercise 07.classify: three situations, in this order."""

FAN_IN = {"consumers": 2, "handling": 0.05}
"""Exercise 07.fan-in-limit: two consumers, 0.05 s per message each, every message pushed to both.
(Not the notebook's 0.1 s: its right-hand plot shows where push starts losing at 0.1 s.)"""
MOST_PRODUCERS = 30


@exercise(
    "07.classify",
    "For the three situations in SITUATIONS, in order: 'push', 'pull' or 'hybrid' for each (a list of three).",
)
def _classify(answer: Any) -> tuple[bool, str]:
    names = list(SITUATIONS)
    if isinstance(answer, (list, tuple)) and any(a is ... for a in answer):
        return False, "replace each ... with 'push', 'pull' or 'hybrid', then run the cell again."
    if (
        not isinstance(answer, (list, tuple))
        or len(answer) != len(names)
        or not all(isinstance(a, str) and a.strip().lower() in advisor.MODELS for a in answer)
    ):
        return False, (
            f"answer with a list of {len(names)} words, each 'push', 'pull' or 'hybrid', such as "
            f"['pull', 'push', 'pull'], not {answer!r}."
        )
    wrong = []
    for name, given in zip(names, answer):
        rec = advisor.recommend(SITUATIONS[name])
        if given.strip().lower() != rec.model:
            rows = "; ".join(f"“{r.row}” → {r.points}" for r in rec.reasons)
            wrong.append(f"{name}: not {given.strip().lower()!r} — the rows that apply: {rows}")
    if wrong:
        return False, f"{len(wrong)} of {len(names)} not yet. " + " | ".join(wrong)
    said = []
    for name in names:
        rec = advisor.recommend(SITUATIONS[name])
        said.append(f"{name}: {rec.model} ({rec.summary})")
    return True, "; ".join(said) + "."


def _first_loss() -> tuple[int, dict[int, int]]:
    """The fewest producers at which push loses a message to the two consumers, and the losses seen."""
    lost: dict[int, int] = {}
    for producers in range(1, MOST_PRODUCERS + 1):
        lost[producers] = scenarios.fan_out("push", producers=producers, **FAN_IN).value["lost"]
        if lost[producers]:
            return producers, lost
    raise AssertionError(f"push lost nothing with up to {MOST_PRODUCERS} producers")  # the lab changed


@exercise(
    "07.fan-in-limit",
    "scenarios.fan_out: producers send 1 message/s each; 2 consumers each take 0.05 s per message and "
    "every message is pushed to both (buffer 5, drop_oldest). From how many producers on does push lose "
    "messages? (Within 1 counts.)",
)
def _fan_in_limit(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int) or answer < 1:
        return False, f"answer with a whole number of producers (1 or more), not {answer!r}."
    first, lost = _first_loss()
    busy = first * FAN_IN["handling"]
    if abs(answer - first) <= 1:
        pull = scenarios.fan_out("pull", producers=first, **FAN_IN).value
        return True, (
            f"push first loses messages with {first} producers ({lost[first]} lost): each consumer gets all "
            f"{first} messages a second and is busy {busy:.0%} of the time, so random bursts overflow its "
            f"buffer. Pulled from a log, the same {first} producers lose {pull['lost']}; the consumers "
            f"just fall behind (p99 {pull['latency'].p99:.2g} s)."
        )
    if answer > first:
        hint = (
            " Push fan-out does not share the work: each consumer gets every message, so two "
            "consumers do not double the capacity — sharing needs a queue."
            if answer >= 2 * first - 1
            else ""
        )
        return False, f"too high: with {first} producers push already loses {lost[first]} messages.{hint}"
    return False, (
        f"too low: with {answer} producers each consumer is busy only {answer * FAN_IN['handling']:.0%} of "
        "the time and push loses nothing. When does a consumer's work per second reach one second?"
    )
