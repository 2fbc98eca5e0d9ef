"""Checks for notebooks/12_backpressure.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

LOSS_RATIO, LOSS_BUFFER, LOSS_MESSAGES = 4.0, 10, 200
LINK_DELAY, LINK_SERVICE, BUSY_TARGET = 0.04, 0.01, 0.95
SIZE_RATIO = 1.5


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
    "12.buffer-size",
    "The producer is 1.5x as fast as the consumer (scenarios.backpressure('drop_newest', ratio=1.5, "
    "buffer=b)). What is the smallest push buffer b with which not one of the 200 messages is lost?",
)
def _buffer_size(answer: Any) -> tuple[bool, str]:
    if not _whole_number(answer) or answer < 1:
        return False, f"answer with a whole number of messages (1 or more), not {answer!r}."
    size = int(answer)

    def lost(b: int) -> int:
        return scenarios.backpressure("drop_newest", ratio=SIZE_RATIO, buffer=b).value["lost"]

    here = lost(size)
    if here:
        return False, (
            f"with a buffer of {size}, drop_newest loses {here}. A buffer that never overflows must hold the "
            "whole backlog at its worst: which strategy in this notebook has no limit, and how much did it hold?"
        )
    below = lost(size - 1) if size > 1 else 1
    if not below:
        return False, (
            f"a buffer of {size} loses nothing, but neither does {size - 1}: look for the smallest. "
            "How much did the unbounded queue hold at most, at the same ratio?"
        )
    peak = scenarios.backpressure("queue", ratio=SIZE_RATIO).value["peak_held"]
    return True, (
        f"{size} loses nothing and {size - 1} loses {below}. The pull queue at the same ratio held at most "
        f"{peak}: with the same random draws, a push buffer loses nothing exactly when it can hold the "
        "unbounded queue's worst backlog. That number grows with the run's length: for a finite burst a "
        "big enough buffer is a free lunch paid in memory; for a sustained overload no size is enough."
    )
