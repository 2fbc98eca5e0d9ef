"""Checks for notebooks/01_push.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

_PREDICT = {"messages": 30, "interval": 0.1, "handling": 0.25, "buffer": 5, "overflow": "drop_newest"}


@exercise(
    "01.predict-drops",
    "30 messages, one every 0.1 s; the slow subscriber needs 0.25 s each, buffer=5, "
    "overflow='drop_newest'. How many messages does it drop?",
)
def _predict_drops(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, int):
        return False, f"answer with a whole number of messages, not {answer!r}."
    dropped = scenarios.slow_subscriber(**_PREDICT).value["slow"]["dropped"]
    if answer == dropped:
        return True, f"the slow subscriber drops {dropped} of 30: it drains 4 per second while 10 arrive."
    hint = "fewer" if answer > dropped else "more"
    return False, (
        f"it drops {hint} than {answer}. Count: in 3 s it handles about 3/0.25 = 12 messages, "
        "and the buffer holds 5 more at the end of publishing."
    )


@exercise(
    "01.no-loss",
    "Same stream (30 messages, 0.1 s apart, 0.25 s handling). Choose buffer and overflow so "
    "the slow subscriber loses nothing AND the publisher is never held up.",
)
def _no_loss(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, dict) or set(answer) != {"buffer", "overflow"}:
        return False, 'answer with a dict: {"buffer": <int>, "overflow": "<policy>"}.'
    try:
        value = scenarios.slow_subscriber(messages=30, interval=0.1, handling=0.25, **answer).value
    except (TypeError, ValueError) as exc:
        return False, str(exc)
    lost, waited = value["slow"]["dropped"], value["publisher_waited"]
    if lost:
        return False, f"the slow subscriber still lost {lost} messages: its buffer overflows."
    if waited > 0:
        return False, (
            f"nothing was lost, but the publisher was held up for {waited:g} s in total: 'block' moves "
            "the backlog back onto the producer."
        )
    backlog = max(
        d for _, d in scenarios.slow_subscriber(buffer=1000, overflow="drop_newest").trace.depth("slow-phone")
    )
    return True, (
        f"no loss and no waiting. The backlog peaks at {backlog} messages, so any buffer >= {backlog} "
        "works — push needs memory sized for the worst burst."
    )
