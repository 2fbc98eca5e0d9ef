"""exercises/nb12_backpressure.py: the notebook 12 checks run the lab and give reasons."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


def test_loss_estimate_accepts_the_three_quarters_rule():
    """0.75 x 200 = 150 is within 10 % of what the lab loses (143) and the check says so."""
    verdict = ppl.exercises.check("12.loss-estimate", 150)
    lost = scenarios.backpressure("drop_newest", ratio=4.0).value["lost"]
    assert verdict and f"the lab lost {lost} of 200" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (100, "100 is too few"),
        (200, "200 is too many"),
        (-3, "number of messages"),
        ("150", "number of messages"),
        (True, "number of messages"),
    ],
)
def test_loss_estimate_wrong_answers_get_a_reason(wrong, says):
    """Too few, too many and a non-number each get their own reason."""
    verdict = ppl.exercises.check("12.loss-estimate", wrong)
    assert not verdict and says in verdict.message


def test_prefetch_window_accepts_nine():
    """Prefetch 9 keeps the consumer busy >= 95 % across a 40 ms link with 10 ms work; 8 does not."""
    verdict = ppl.exercises.check("12.prefetch-window", 9)
    assert verdict and "prefetch 9: busy 96%; 8: 86%" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (1, "with prefetch 1 the consumer is busy 11% of the time"),
        (8, "with prefetch 8 the consumer is busy 86%"),
        (12, "but so does 11"),
        (0, "whole number of messages"),
        (8.5, "whole number of messages"),
    ],
)
def test_prefetch_window_wrong_answers_get_a_reason(wrong, says):
    """A window short of the round trip, a needlessly big one and a non-count each get a measured reason."""
    verdict = ppl.exercises.check("12.prefetch-window", wrong)
    assert not verdict and says in verdict.message


def test_pick_strategy_accepts_block_and_credit():
    """Only the strategies that make the producer wait lose nothing and stay within 20 messages."""
    verdict = ppl.exercises.check("12.pick-strategy", {"credit", "block"})
    assert verdict and verdict.message.startswith("block and credit: no loss and bounded memory")
    assert ppl.exercises.check("12.pick-strategy", ["block", "credit"])


@pytest.mark.parametrize(
    "wrong, says",
    [
        ({"credit"}, "1 more strategy meets both"),
        ({"credit", "block", "queue"}, "queue (lost 0, held up to 140)"),
        ({"credit", "block", "drop_oldest"}, "drop_oldest (lost"),
        (set(), "2 more strategies meet both"),
        ({"tcp"}, "['tcp'] are not strategies"),
        (3, "set of strategy names"),
    ],
)
def test_pick_strategy_wrong_answers_get_a_reason(wrong, says):
    """A missing strategy, an unbounded or lossy one, an unknown name and a non-set each get a reason."""
    verdict = ppl.exercises.check("12.pick-strategy", wrong)
    assert not verdict and says in verdict.message
