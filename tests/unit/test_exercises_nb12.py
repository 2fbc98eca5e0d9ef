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


def test_buffer_size_accepts_the_queues_peak():
    """The smallest loss-free push buffer at 1.5x is the unbounded queue's peak backlog (66), and 65 loses."""
    peak = scenarios.backpressure("queue", ratio=1.5).value["peak_held"]
    verdict = ppl.exercises.check("12.buffer-size", peak)
    assert verdict and verdict.message.startswith(f"{peak} loses nothing and {peak - 1} loses ")
    assert scenarios.backpressure("drop_newest", ratio=1.5, buffer=peak - 1).value["lost"] > 0


@pytest.mark.parametrize(
    "wrong, says",
    [
        (10, "with a buffer of 10, drop_newest loses"),
        (65, "with a buffer of 65, drop_newest loses 1"),
        (200, "but neither does 199"),
        (0, "whole number of messages"),
        (66.5, "whole number of messages"),
        ("66", "whole number of messages"),
    ],
)
def test_buffer_size_wrong_answers_get_a_reason(wrong, says):
    """Too small (measured loss), needlessly big, and non-counts each get a reason."""
    verdict = ppl.exercises.check("12.buffer-size", wrong)
    assert not verdict and says in verdict.message
