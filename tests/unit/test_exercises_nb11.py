"""exercises/nb11_latency_vs_resources.py: the notebook 11 checks run the lab and give reasons."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


def test_poll_budget_accepts_four_seconds():
    """1,000 clients every 4 s make 250 requests/s, every 3.6 s more: 4 s is the shortest within 250."""
    verdict = ppl.exercises.check("11.poll-budget", 4)
    assert verdict and "every 4 s the lab counts 250 requests/s" in verdict.message
    assert "every 3.6 s already 277" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (3.0, "1,000 clients send 333 requests per second: over the budget"),
        (5.0, "but so does every 4.5 s (221 requests/s)"),
        (0, "a polling interval in seconds"),
        (True, "a polling interval in seconds"),
        ("4", "a polling interval in seconds"),
    ],
)
def test_poll_budget_wrong_answers_get_a_reason(wrong, says):
    """Too short an interval is over budget, too long a one wastes latency, a non-number is refused: each measured."""
    verdict = ppl.exercises.check("11.poll-budget", wrong)
    assert not verdict and says in verdict.message


def test_crossover_accepts_the_formula_and_shows_the_costs_crossing():
    """λ* = ((1 + 0.01·0.05)/5 − 0.01)/0.1 ≈ 1.9 events/s passes; the message shows push's cost on both sides."""
    p = scenarios.PRICES
    rate = ((p["request"] + p["connection_second"] * 0.05) / 5 - p["connection_second"]) / p["message"]
    verdict = ppl.exercises.check("11.crossover", rate)
    assert verdict and "the formula says 1.9 events/s" in verdict.message
    assert "short polling every 5 s 0.2 throughout" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (1.0, "push still costs"),  # 1.25/s: push is still cheaper, so the crossover is higher
        (1.4, "the crossover is higher"),
        (3.0, "short polling already costs 0.2 against push's"),  # 2.4/s: already past it
        (-1, "an event rate in events per second"),
        (None, "replace the ..."),
    ],
)
def test_crossover_wrong_answers_get_a_reason(wrong, says):
    """Too low or too high a rate each get the measured costs on the wrong side; a non-rate is refused."""
    verdict = ppl.exercises.check("11.crossover", wrong)
    assert not verdict and says in verdict.message


def test_the_shipped_solution_values_pass():
    """The answers in notebooks/solutions/11_latency_vs_resources.py are the ones the checks accept."""
    assert ppl.exercises.check("11.poll-budget", 1_000 / 250)
    p = scenarios.PRICES
    assert ppl.exercises.check(
        "11.crossover",
        ((p["request"] + p["connection_second"] * 0.05) / 5.0 - p["connection_second"]) / p["message"],
    )
