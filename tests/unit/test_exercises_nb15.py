"""exercises/nb15_patterns.py: notebook 15's checks accept the measured answer and explain wrong ones."""

import pytest

import pushpull_lab as ppl
from pushpull_lab.exercises.nb15_patterns import CANDIDATE_TOPICS

RIGHT_TOPICS = ["site/f1/r1", "site/f1/r1/temperature", "site/f2/r1/humidity/raw"]


def test_wildcards_accepts_the_matching_topics_in_any_order_or_container():
    """The three topics with one level before r1 (and anything or nothing after) pass, as list or set."""
    assert ppl.exercises.check("15.wildcards", RIGHT_TOPICS)
    assert ppl.exercises.check("15.wildcards", set(reversed(RIGHT_TOPICS)))


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (RIGHT_TOPICS[1:], "left out ['site/f1/r1']"),
        ([*RIGHT_TOPICS, "site/f1/f2/r1/temperature"], "do not match"),
        (["site/f1/r1/temp"], "not in CANDIDATE_TOPICS"),
        ("site/f1/r1", "list of topics"),
        (list(CANDIDATE_TOPICS), "do not match"),
    ],
)
def test_wildcards_wrong_answers_get_a_reason(wrong, says):
    """Missing the parent level, an extra level, a stranger, a bare string or everything: each is told why."""
    verdict = ppl.exercises.check("15.wildcards", wrong)
    assert not verdict and says in verdict.message, verdict


def test_reprocessed_accepts_the_records_after_the_last_checkpoint():
    """Batch 25, crash after 90 loads: the checkpoint at 75 means records 75..89 run twice (15)."""
    verdict = ppl.exercises.check("15.reprocessed", 15)
    assert verdict and "offset 75" in verdict.message


@pytest.mark.parametrize(
    ("wrong", "says"), [(0, "checkpoint after every record"), (25, "not 25"), (-1, "whole")]
)
def test_reprocessed_wrong_answers_get_a_reason(wrong, says):
    """Zero, a whole batch, or a negative number are refused with a hint."""
    verdict = ppl.exercises.check("15.reprocessed", wrong)
    assert not verdict and says in verdict.message, verdict
