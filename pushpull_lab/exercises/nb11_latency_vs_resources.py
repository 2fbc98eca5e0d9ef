"""Checks for notebooks/11_latency_vs_resources.ipynb."""

from __future__ import annotations

from typing import Any

from .. import scenarios
from ._core import exercise

BUDGET_CLIENTS, BUDGET_RATE, BUDGET = 1_000, 1.0, 250.0  # clients, events per second, requests per second
CROSSOVER_INTERVAL = 5.0  # seconds between short polls
PER_CLIENT = {"clients": 4, "seconds": 600.0}  # as in the notebook's per-client runs


def _positive_number(answer: Any) -> bool:
    return not isinstance(answer, bool) and isinstance(answer, (int, float)) and answer > 0


def _requests_per_second(interval: float) -> float:
    v = scenarios.feed(
        "short", clients=BUDGET_CLIENTS, interval=interval, rate=BUDGET_RATE, seconds=20.0
    ).value
    return v["requests"] / v["seconds"]


@exercise(
    "11.poll-budget",
    "1,000 clients short-poll a feed (1 event/s); the server can take 250 requests per second. "
    "What is the shortest polling interval, in seconds, that stays within the budget?",
)
def _poll_budget(answer: Any) -> tuple[bool, str]:
    if not _positive_number(answer) or answer > 1_000:
        return False, f"answer with a polling interval in seconds (a number > 0), not {answer!r}."
    interval = float(answer)
    here = _requests_per_second(interval)
    if here > BUDGET:
        return False, (
            f"polling every {interval:g} s, 1,000 clients send {here:,.0f} requests per second: over the "
            "budget of 250. How many requests does one client send per second?"
        )
    shorter = _requests_per_second(0.9 * interval)
    if shorter <= BUDGET:
        return False, (
            f"every {interval:g} s stays within budget ({here:,.0f} requests/s), but so does every "
            f"{0.9 * interval:.3g} s ({shorter:,.0f} requests/s): you can poll more often, and wait less."
        )
    return True, (
        f"every {interval:g} s the lab counts {here:,.0f} requests/s, every {0.9 * interval:.3g} s already "
        f"{shorter:,.0f}: requests per second = clients / interval, so the interval is 1,000 / 250 = 4 s, "
        f"and the mean latency it buys is about 4 / 2 = 2 s."
    )


def _costs(rate: float) -> tuple[float, float]:
    """(push, short polling every CROSSOVER_INTERVAL) cost per client per second at ``rate``."""
    push = scenarios.feed("push", rate=rate, **PER_CLIENT).value
    poll = scenarios.feed("short", interval=CROSSOVER_INTERVAL, rate=rate, **PER_CLIENT).value
    return scenarios.feed_cost(push), scenarios.feed_cost(poll)


@exercise(
    "11.crossover",
    "With scenarios.PRICES, clients short-poll every 5 s. Above what event rate (events per second) "
    "is short polling cheaper than push? (Within about 20 %.)",
)
def _crossover(answer: Any) -> tuple[bool, str]:
    if not _positive_number(answer) or answer > 1_000:
        return False, f"answer with an event rate in events per second (a number > 0), not {answer!r}."
    rate = float(answer)
    low, high = 0.8 * rate, 1.25 * rate
    push_low, poll_low = _costs(low)
    push_high, poll_high = _costs(high)
    if push_low >= poll_low:
        return False, (
            f"at {low:.3g} events/s (0.8 × your answer) short polling already costs {poll_low:.3g} against "
            f"push's {push_low:.3g} per client per second: the crossover is lower. Where does "
            "0.01 + 0.1 × λ reach (1 + 0.01 × 0.05) / 5?"
        )
    if push_high <= poll_high:
        return False, (
            f"at {high:.3g} events/s (1.25 × your answer) push still costs {push_high:.3g} against short "
            f"polling's {poll_high:.3g}: the crossover is higher. Where does 0.01 + 0.1 × λ reach "
            "(1 + 0.01 × 0.05) / 5?"
        )
    p = scenarios.PRICES
    formula = (
        (p["request"] + p["connection_second"] * 0.05) / CROSSOVER_INTERVAL - p["connection_second"]
    ) / p["message"]
    return True, (
        f"push costs {push_low:.3g} at {low:.3g} events/s and {push_high:.3g} at {high:.3g}, short polling "
        f"every 5 s {poll_low:.3g} throughout: the costs cross between them (the formula says "
        f"{formula:.3g} events/s). Above it, each 5 s poll carries about {CROSSOVER_INTERVAL * formula:.2g} "
        "events or more, cheaper than pushing them one by one."
    )
