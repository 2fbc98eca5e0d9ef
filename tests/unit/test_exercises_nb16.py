"""exercises/nb16_choosing.py: each check runs the submitted Design on its brief and returns the grade's reasons."""

import pytest

import pushpull_lab as ppl
from pushpull_lab.capstone import Design


@pytest.mark.parametrize(
    ("exercise", "design"),
    [
        ("16.scores", Design("push", buffer=2)),
        ("16.scores", Design("hybrid", read="latest")),
        ("16.invoices", Design("pull", workers=4, concurrency=4)),
        ("16.uploads", Design("hybrid", workers=2, concurrency=2)),
        ("16.uploads", Design("pull", workers=2, concurrency=2, watch="long_poll")),
    ],
)
def test_a_passing_design_is_accepted_with_its_reasons(exercise, design):
    """A design that meets the brief is correct, and the message carries every requirement's reason."""
    verdict = ppl.exercises.check(exercise, design)
    assert verdict, verdict
    assert "meets every requirement" in verdict.message and "✓" in verdict.message


@pytest.mark.parametrize(
    ("exercise", "design", "says"),
    [
        ("16.scores", Design("pull"), "in order"),
        ("16.scores", Design("push"), "buffer of 100"),
        ("16.scores", Design("push", buffer=1, overflow="drop_newest"), "drops the newer ones"),
        ("16.invoices", Design("push", workers=4, concurrency=3, overflow="block"), "attempts=1"),
        ("16.invoices", Design("pull", workers=2, concurrency=1), "finish"),
        ("16.invoices", Design("pull", workers=8, concurrency=4), "slots"),
        ("16.uploads", Design("pull", workers=2, concurrency=2, interval=2.0), "every 2 s"),
        ("16.uploads", Design("push", workers=2, concurrency=2), "lost"),
        ("16.uploads", Design("hybrid", workers=8, concurrency=8), "64 slots"),
        ("16.uploads", Design("hybrid", workers=1, concurrency=1), "p99 latency"),
    ],
)
def test_a_failing_design_gets_the_failed_requirements(exercise, design, says):
    """A design that misses a requirement is not accepted, and the message says which and why."""
    verdict = ppl.exercises.check(exercise, design)
    assert not verdict and "fails" in verdict.message and says in verdict.message, verdict


@pytest.mark.parametrize("wrong", ["push", {"model": "pull"}, 3])
def test_not_a_design_is_refused(wrong):
    """Anything but a capstone.Design gets a sentence saying what to submit."""
    verdict = ppl.exercises.check("16.scores", wrong)
    assert not verdict and "capstone.Design" in verdict.message


def test_the_invoices_hybrid_is_accepted_with_its_note():
    """A hybrid meets the invoices brief; the verdict passes on the note about its idle push half."""
    verdict = ppl.exercises.check("16.invoices", Design("hybrid", workers=4, concurrency=3))
    assert verdict and "nobody waits" in verdict.message


def test_the_verdict_shows_only_the_settings_the_model_uses():
    """The design is quoted with the settings that matter for the brief, not the ignored defaults."""
    verdict = ppl.exercises.check("16.scores", Design("push", buffer=1, workers=7))
    assert verdict and verdict.message.startswith("Design('push', buffer=1, overflow='drop_oldest') meets")
