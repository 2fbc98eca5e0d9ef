"""exercises/nb08_hybrid.py: notebook 08's checks accept the measured answer and explain wrong ones."""

import pytest

import pushpull_lab as ppl


def test_poll_often_enough_accepts_the_update_period():
    """Progress comes every 0.5 s: polling every 0.5 s misses nothing, 0.6 s does."""
    assert ppl.exercises.check("08.poll-often-enough", 0.5)


@pytest.mark.parametrize(
    ("wrong", "says"),
    [(1.0, "miss"), (0.3, "larger"), (0.55, "multiple"), ("0.5", "number"), (True, "number")],
)
def test_poll_often_enough_wrong_answers_get_a_reason(wrong, says):
    """Too long misses updates, too short is not the largest, non-numbers are refused."""
    verdict = ppl.exercises.check("08.poll-often-enough", wrong)
    assert not verdict and says in verdict.message, verdict


def test_largest_safe_burst_accepts_workers_times_one_plus_buffer():
    """3 transcoders x (1 + buffer 4) = 15 uploads fit; the 16th is dropped."""
    assert ppl.exercises.check("08.largest-safe-burst", 15)


@pytest.mark.parametrize(("wrong", "says"), [(16, "already lose"), (6, "bigger"), (0, "whole number")])
def test_largest_safe_burst_wrong_answers_get_a_reason(wrong, says):
    """Too many loses uploads, too few is not the largest, zero is refused."""
    verdict = ppl.exercises.check("08.largest-safe-burst", wrong)
    assert not verdict and says in verdict.message, verdict
