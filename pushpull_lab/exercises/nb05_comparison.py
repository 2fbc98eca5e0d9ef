"""Checks for notebooks/05_comparison.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise


def _pushed_stream_p99(seed: int = 3) -> float:
    """Notebook 05's push run: the pull_styles stream (seed 3) published through a PubSub."""
    from ..clock import simulate, sleep
    from ..push.pubsub import PubSub
    from ..trace import Stats

    async def main(lab):
        bus = PubSub("news")
        bus.subscribe("story", lambda message: None, name="app")
        for n in range(50):
            await sleep(lab.rng.expovariate(0.5))
            await bus.publish("story", {"n": n}, sender="newsroom")

    return Stats.of(simulate(main, seed=seed).trace.latencies("publish", "deliver")).p99


@exercise(
    "05.predict-p50",
    "For scenarios.pull_styles('short', interval=3.0): the p50 latency in seconds, within 0.25 s.",
)
def _predict_p50(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, f"answer with a number of seconds, such as 0.8, not {answer!r}."
    p50 = scenarios.pull_styles("short", interval=3.0).value["latency"].p50
    if abs(answer - p50) <= 0.25:
        return True, (
            f"the median is {p50:.3g} s: a story waits on average half the 3 s interval for the next poll."
        )
    hint = "too high: most stories do not wait a whole interval" if answer > p50 else "too low"
    return False, f"{answer:g} s is {hint}. Where, between two polls, does a story arrive on average?"


@exercise(
    "05.only-short-polling",
    "If pull were only short polling (every 0.5, 1 and 2 s), what would notebook 05's rule give "
    "for the Latency row: 'confirmed', 'nuanced' or 'contradicted'?",
)
def _only_short_polling(answer: Any) -> tuple[bool, str]:
    choices = ("confirmed", "nuanced", "contradicted")
    if not isinstance(answer, str) or answer.strip().lower() not in choices:
        return False, f"answer with one of {', '.join(repr(c) for c in choices)}, not {answer!r}."
    push = _pushed_stream_p99()
    p50s = {i: scenarios.pull_styles("short", interval=i).value["latency"].p50 for i in (0.5, 1.0, 2.0)}
    slower = all(abs(p - i / 2) <= 0.25 * i and p > push + 0.05 for i, p in p50s.items())
    truth = "confirmed" if slower else "contradicted"
    if answer.strip().lower() == truth:
        return True, (
            f"{truth}: push p99 is {push:.3g} s and every short poll is slower (p50 "
            + ", ".join(f"{p:.3g} s" for p in p50s.values())
            + "). The nuance comes only from long polling and blocking pulls."
        )
    return False, (
        "not quite: with no long polling or blocking pull, is there any pull style left that matches push?"
    )
