"""exercises/nb07_when_to_use_what.py: the checks recompute their answers with the advisor and the lab."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import advisor, scenarios
from pushpull_lab.exercises import nb07_when_to_use_what as nb07


def test_classify_accepts_what_the_advisor_says():
    """The right list is whatever recommend() gives for the three situations, and it is accepted."""
    truth = [advisor.recommend(s).model for s in nb07.SITUATIONS.values()]
    assert truth == ["pull", "push", "hybrid"]  # one of each, so no answer pattern passes by luck
    verdict = ppl.exercises.check("07.classify", truth)
    assert verdict and "hybrid" in verdict.message
    assert ppl.exercises.check("07.classify", ("PULL", " push", "Hybrid "))  # case and spaces do not matter


@pytest.mark.parametrize(
    "wrong, says",
    [
        (["pull", "push", "pull"], "sensor alarms: not 'pull'"),
        (["pull", "push", "push"], "“dropped messages if consumers are slow or offline” → pull"),
        ([..., "push", "hybrid"], "replace each ..."),
        (["push", "push", "hybrid"], "“Need reliable, retryable job handling” → pull"),
        (["hybrid", "hybrid", "hybrid"], "2 of 3 not yet"),
        ("hybrid", "a list of 3 words"),
        (["pull", "push"], "a list of 3 words"),
        (["pull", "push", "both"], "a list of 3 words"),
    ],
)
def test_classify_wrong_answers_get_the_rows_that_apply(wrong, says):
    """A wrong classification names the situation and quotes the rows that apply; bad shapes say what to give."""
    verdict = ppl.exercises.check("07.classify", wrong)
    assert not verdict and says in verdict.message


def test_fan_in_limit_is_measured():
    """The check's answer is the fewest producers at which push really loses, and pull loses none there."""
    first, lost = nb07._first_loss()
    assert lost[first] > 0 and all(v == 0 for p, v in lost.items() if p < first)
    assert scenarios.fan_out("pull", producers=first, **nb07.FAN_IN).value["lost"] == 0
    for answer in (first - 1, first, first + 1):
        assert ppl.exercises.check("07.fan-in-limit", answer)


@pytest.mark.parametrize(
    "wrong, says",
    [
        (30, "each consumer gets every message"),
        (20, "too high"),
        (3, "too low: with 3 producers each consumer is busy only 15%"),
        (0, "whole number of producers"),
        (9.5, "whole number of producers"),
        (True, "whole number of producers"),
    ],
)
def test_fan_in_limit_wrong_answers_get_a_reason(wrong, says):
    """Too many, too few or not a count: 'not yet', with a reason computed from the runs."""
    verdict = ppl.exercises.check("07.fan-in-limit", wrong)
    assert not verdict and says in verdict.message
