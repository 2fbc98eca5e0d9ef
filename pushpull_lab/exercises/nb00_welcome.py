"""Checks for notebooks/00_welcome.ipynb."""

from __future__ import annotations

import inspect
from typing import Any

from ._core import exercise


@exercise(
    "00.first-simulation",
    "Write async def main(lab) that publishes 3 messages to a subscribed PubSub, one virtual "
    "second apart, and returns how many the subscriber received.",
)
def _first_simulation(main: Any) -> tuple[bool, str]:
    from ..clock import simulate

    if not (callable(main) and inspect.iscoroutinefunction(main)):
        return False, "pass your function itself: an `async def main(lab)`, not its result."
    run = simulate(main, seed=0)
    publishes = run.trace.filter(kind="publish").to_rows()
    times = [round(r["time"], 9) for r in publishes]
    delivered = run.trace.counts().get("deliver", 0)
    if len(publishes) != 3:
        return False, f"the trace shows {len(publishes)} publish event(s); publish exactly 3."
    if times != [0.0, 1.0, 2.0]:
        return False, f"the messages were published at t={times}; sleep 1 virtual second between them."
    if delivered != 3:
        return (
            False,
            f"the subscriber received {delivered}; subscribe before publishing, and await bus.join().",
        )
    if run.value != delivered:
        return False, f"main returned {run.value!r}, but the trace shows {delivered} deliveries."
    return True, f"3 messages at t={times}, 3 delivered, virtual run ended at t={run.now:g} s."
