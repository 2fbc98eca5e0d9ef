"""Checks for notebooks/12_backpressure.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

LOSS_RATIO, LOSS_BUFFER, LOSS_MESSAGES = 4.0, 10, 200
LINK_DELAY, LINK_SERVICE, BUSY_TARGET = 0.04, 0.01, 0.95
PICK_RATIO, PICK_BUFFER, PICK_MEMORY = 3.0, 10, 20


def _whole_number(answer: Any) -> bool:
    return not isinstance(answer, bool) and isinstance(answer, (int, float)) and float(answer).is_integer()


@exercise(
    "12.loss-estimate",
    "Push with overflow='drop_newest' and a buffer of 10; the producer is 4x as fast as the consumer "
    "(scenarios.backpressure('drop_newest', ratio=4.0)). Of 200 messages, how many are lost? "
    "Within 10 %.",
)
def _loss_estimate(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or answer < 0:
        return False, f"answer with a number of messages (0 or more), such as 40, not {answer!r}."
    lost = scenarios.backpressure("drop_newest", ratio=LOSS_RATIO, buffer=LOSS_BUFFER).value["lost"]
    if abs(answer - lost) <= 0.1 * lost:
        return True, (
            f"the lab lost {lost} of {LOSS_MESSAGES}. Under steady overload the consumer handles its own "
            f"rate and the rest is dropped: a fraction 1 - 1/4 = 75 % of the messages "
            f"({0.75 * LOSS_MESSAGES:g}), a few less because the buffer and the last moments absorb some."
        )
    hint = "too many" if answer > lost else "too few"
    return False, (
        f"{answer:g} is {hint}. The consumer keeps handling at its own pace; what fraction of what the "
        "producer sends can it take when the producer is 4x faster?"
    )


@exercise(
    "12.prefetch-window",
    "A consumer 40 ms away (one way) takes exactly 10 ms per message. What is the smallest prefetch "
    "that keeps it busy at least 95 % of the time (scenarios.prefetch_link(p, delay=0.04, service=0.01))?",
)
def _prefetch_window(answer: Any) -> tuple[bool, str]:
    if not _whole_number(answer) or answer < 1:
        return False, f"answer with a whole number of messages (1 or more), not {answer!r}."
    prefetch = int(answer)

    def busy(p: int) -> float:
        return scenarios.prefetch_link(p, delay=LINK_DELAY, service=LINK_SERVICE).value["busy"]

    here = busy(prefetch)
    if here < BUSY_TARGET:
        return False, (
            f"with prefetch {prefetch} the consumer is busy {here:.0%} of the time: it waits for the next "
            "message while its acks travel. How many messages does one round trip (ack there, message "
            "back) take, in units of the 10 ms of work?"
        )
    below = busy(prefetch - 1) if prefetch > 1 else 0.0
    if below >= BUSY_TARGET:
        return False, (
            f"prefetch {prefetch} keeps it busy ({here:.0%}), but so does {prefetch - 1} ({below:.0%}): a "
            "bigger window only holds more messages at the consumer. Look for the smallest."
        )
    return True, (
        f"prefetch {prefetch}: busy {here:.0%}; {prefetch - 1}: {below:.0%}. The window must cover the work "
        f"plus the round trip: 1 + 2 x 40 ms / 10 ms = {1 + 2 * LINK_DELAY / LINK_SERVICE:g} messages (the "
        "bandwidth-delay product, "
        "the same rule that sizes a TCP window)."
    )


@exercise(
    "12.pick-strategy",
    "The producer is 3x as fast as the consumer; every strategy gets a buffer/window of 10. Which of "
    "scenarios.BACKPRESSURE_STRATEGIES lose no message AND never hold more than 20 messages? "
    "Answer with a set of names.",
)
def _pick_strategy(answer: Any) -> tuple[bool, str]:
    known = scenarios.BACKPRESSURE_STRATEGIES
    if isinstance(answer, str):
        answer = {answer}
    if not isinstance(answer, (set, frozenset, list, tuple)) or not all(isinstance(a, str) for a in answer):
        return False, f"answer with a set of strategy names, such as {{'queue'}}, not {answer!r}."
    unknown = sorted(set(answer) - set(known))
    if unknown:
        return False, f"{unknown} are not strategies; choose from {', '.join(known)}."
    rows = {s: scenarios.backpressure(s, ratio=PICK_RATIO, buffer=PICK_BUFFER).value for s in known}
    right = {s for s, v in rows.items() if v["lost"] == 0 and v["peak_held"] <= PICK_MEMORY}

    def why(s: str) -> str:
        v = rows[s]
        return f"{s} (lost {v['lost']}, held up to {v['peak_held']})"

    if set(answer) == right:
        waited = " and ".join(f"{rows[s]['producer_waited']:.3g} s ({s})" for s in sorted(right))
        return True, (
            f"{' and '.join(sorted(right))}: no loss and bounded memory, because the producer waits "
            f"(it was held {waited}). Backpressure is exactly that: the wait moves to the producer."
        )
    wrong = sorted(set(answer) - right)
    missing = sorted(right - set(answer))
    parts = []
    if wrong:
        parts.append("these fail a requirement: " + "; ".join(why(s) for s in wrong))
    if missing:
        parts.append(f"{len(missing)} more strateg{'y meets' if len(missing) == 1 else 'ies meet'} both")
    return False, ". ".join(parts) + ". Run scenarios.backpressure(s, ratio=3.0) for each and compare."
