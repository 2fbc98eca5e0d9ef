"""Checks for notebooks/13_reliability.ipynb."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import scenarios
from ._core import exercise

PUSH_CRASH = 2.05  # s: the crash of exercise 13.push-lost
PUSH_DOWNTIME = 1.0  # s: until the subscriber is back


@exercise(
    "13.push-lost",
    "scenarios.delivery_under_crashes('push', crashes=(2.05,), downtime=1.0): how many of the 16 "
    "messages does the consumer never apply?",
)
def _push_lost(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of messages, such as 3, not {answer!r}."
    run = scenarios.delivery_under_crashes("push", crashes=(PUSH_CRASH,), downtime=PUSH_DOWNTIME)
    lost = run.value["lost"]
    unrouted = sum(1 for e in run.trace if e.kind == "publish" and e.fields["routed"] == 0)
    in_hand = lost - unrouted
    why = (
        f"{in_hand} in the subscriber's hands when it died (delivered, effect not yet applied) and "
        f"{unrouted} published while nobody was subscribed ({PUSH_CRASH:g}–{PUSH_CRASH + PUSH_DOWNTIME:g} s, "
        "one every 0.25 s): fire-and-forget keeps nothing for later."
    )
    if answer == lost:
        return True, f"{lost} lost: {why}"
    if answer == unrouted:
        return False, (
            f"{answer} is only the messages published while it was down. What about the one it was "
            "handling at 2.05 s?"
        )
    return (
        False,
        f"not {answer}. Count the message in hand at {PUSH_CRASH:g} s and those sent while it was down.",
    )


NOT_ANSWERED = "replace the ... with your answer, then run the cell again."
"""What ``check`` says to a bare ``...``; said too when the learner's function still returns ``...``."""


def _reference_per_key(trace) -> int:
    return scenarios.ordering_counts(trace)["per_key_reordered"]


@exercise(
    "13.per-key-order",
    "Write reordered_within_key(trace) -> int: how many effect events come after a later message "
    "of the same key (fields 'key' and 'seq'); checked on parallel queues and keyed logs.",
)
def _per_key_order(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, Callable):
        return False, f"pass your function itself (reordered_within_key, no parentheses), not {answer!r}."
    cases = [(kind, seed) for kind in ("queue", "log") for seed in (0, 1, 2, 3)]
    results = []
    for kind, seed in cases:
        trace = scenarios.ordering(kind, consumers=3, seed=seed).trace
        try:
            got = answer(trace)
        except Exception as exc:  # the learner's code: say what it raised
            return (
                False,
                f"your function raised {type(exc).__name__}: {exc} on ordering({kind!r}, seed={seed}).",
            )
        if got is ... or got is None:  # the stub's `return ...`: not answered yet, like any other check
            return False, NOT_ANSWERED
        if isinstance(got, bool) or not isinstance(got, int):
            return False, (
                f"your function returned {type(got).__name__} {got!r}; return a whole number (an int): "
                "how many effect events came late within their key."
            )
        want = _reference_per_key(trace)
        if got != want:
            return (
                False,
                f"for ordering({kind!r}, consumers=3, seed={seed}) your function counted {got}, the trace "
                f"has {want}: count only effects whose 'seq' is lower than one already applied for the "
                "same 'key'.",
            )
        results.append((kind, want))
    queue = [w for k, w in results if k == "queue"]
    log = [w for k, w in results if k == "log"]
    return True, (
        f"right on all {len(cases)} runs: the parallel queue reordered within a key {queue}, the keyed "
        f"log {log} — one consumer per partition keeps each key's order."
    )
