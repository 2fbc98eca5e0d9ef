"""exercises.py: checks fail on placeholders and wrong answers, pass on the shipped solutions."""

import pathlib

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios

SOLUTIONS = pathlib.Path(__file__).parents[2] / "notebooks" / "solutions"


def test_unknown_exercise_lists_the_known_ones():
    """A mistyped exercise id is an error naming the valid ids."""
    with pytest.raises(ValueError, match=r"exercise must be one of 00.first-simulation"):
        ppl.exercises.check("00.typo", 1)


@pytest.mark.parametrize("exercise", sorted(ppl.exercises.available()))
def test_placeholder_is_not_yet(exercise):
    """The ... placeholder left in a notebook is 'not yet', never correct."""
    assert not ppl.exercises.check(exercise, ...)


@pytest.mark.parametrize(
    "exercise, wrong, says",
    [
        ("01.predict-drops", 5, "more than 5"),
        ("01.predict-drops", 20, "fewer than 20"),
        ("01.predict-drops", "13", "whole number"),
        ("01.no-loss", {"buffer": 5, "overflow": "drop_oldest"}, "lost 13"),
        ("01.no-loss", {"buffer": 5, "overflow": "block"}, "held up for 3.1 s"),
        ("01.no-loss", {"buffer": 17, "overflow": "drop_newest"}, "lost 1 "),
        ("01.no-loss", {"buffer": 0, "overflow": "block"}, "buffer must be an integer >= 1"),
    ],
)
def test_wrong_answers_get_a_reason(exercise, wrong, says):
    """A wrong answer is 'not yet' with a reason computed from running the lab."""
    verdict = ppl.exercises.check(exercise, wrong)
    assert not verdict and says in verdict.message


def test_first_simulation_check_runs_the_learners_main():
    """The 00 check runs the function it is given and inspects its trace."""

    async def too_fast(lab):
        bus = ppl.PubSub("b")
        bus.subscribe("t", lambda m: None)
        for i in range(3):
            await bus.publish("t", i)
        return 3

    verdict = ppl.exercises.check("00.first-simulation", too_fast)
    assert not verdict and "t=[0.0, 0.0, 0.0]" in verdict.message
    assert "async def main(lab)" in ppl.exercises.check("00.first-simulation", 3).message


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.name)
def test_shipped_solutions_pass_their_checks(path):
    """Each solution file, run as %load would, makes every check in it say correct."""
    verdicts = []
    real_check = ppl.exercises.check

    def recording_check(exercise, answer):
        verdicts.append(real_check(exercise, answer))
        return verdicts[-1]

    namespace = {"ppl": ppl, "scenarios": scenarios}  # what the notebooks import
    ppl.exercises.check = recording_check
    try:
        exec(compile(path.read_text(), str(path), "exec"), namespace)
    finally:
        ppl.exercises.check = real_check
    assert verdicts and all(verdicts), verdicts


def test_verdict_displays_as_text_and_html():
    """A verdict shows a mark and the message in both text and HTML."""
    v = ppl.exercises.check("01.predict-drops", 13)
    assert repr(v).startswith("✓ Correct") and "Correct" in v._repr_html_()
