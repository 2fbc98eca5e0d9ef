"""exercises/nb10_scaling.py: the notebook 10 checks run the lab and give reasons."""

import pytest

import pushpull_lab as ppl


def test_knee_accepts_the_fewest_workers_that_keep_up():
    """20 workers (1.25 jobs/s each) are the fewest that keep up with 25 jobs/s."""
    verdict = ppl.exercises.check("10.knee", 20)
    assert verdict and "19 only 23.75" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        (19, "19 workers complete 23.75 jobs/s, less than the 25 jobs/s"),
        (21, "so do 20 (25 jobs/s)"),
        (0, "whole number of workers"),
        (20.5, "whole number of workers"),
        (True, "whole number of workers"),
    ],
)
def test_knee_wrong_answers_get_a_reason(wrong, says):
    """Too few workers, one too many and a non-count each get their own reason, measured in the lab."""
    verdict = ppl.exercises.check("10.knee", wrong)
    assert not verdict and says in verdict.message


def test_slots_for_wait_accepts_nine_and_shows_the_lab_next_to_erlang_c():
    """9 slots keep the mean wait under 0.1 s and 8 do not, as measured and as Erlang C says."""
    verdict = ppl.exercises.check("10.slots-for-wait", 9)
    assert (
        verdict and "with 9 slots" in verdict.message and "Erlang C: 0.0653 s and 0.178 s" in verdict.message
    )


@pytest.mark.parametrize(
    "wrong, says",
    [
        (6, "queue grows without bound"),
        (8, "with 8 slots the lab measures a mean wait of 0.152"),
        (10, "but so do 9"),
        ("9", "whole number of slots"),
    ],
)
def test_slots_for_wait_wrong_answers_get_a_reason(wrong, says):
    """An unstable count, one slot too few and one too many each get a reason computed by running the lab."""
    verdict = ppl.exercises.check("10.slots-for-wait", wrong)
    assert not verdict and says in verdict.message
