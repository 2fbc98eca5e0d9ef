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


# -- 04_queue_events ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "wrong, says",
    [
        ({"listener": 0, "poller": 4.0}, "shorter than 4 s"),
        ({"listener": 0, "poller": 1.0}, "longer than 1 s"),
        ({"listener": 1.0, "poller": 2.0}, "listener's delay is not 1 s"),
        ({"listener": ..., "poller": 2.0}, "replace both ..."),
        ({"poller": 2.0}, "dict of two numbers"),
        ({"listener": "0", "poller": 2.0}, "dict of two numbers"),
    ],
)
def test_04_poll_delay_wrong_answers_get_a_reason(wrong, says):
    """04.poll-delay measures both delays and says which one is off, and which way."""
    verdict = ppl.exercises.check("04.poll-delay", wrong)
    assert not verdict and says in verdict.message, verdict


def _reconnect_from(last_event_id=None, queue="video-processing"):
    def reconnect(offline):
        start = offline.last_event_id if last_event_id == "saved" else last_event_id
        return ppl.QueueEvents(queue, name="auditor", last_event_id=start)

    return reconnect


@pytest.mark.parametrize(
    "reconnect, says",
    [
        (_reconnect_from(None), "only heard job 5"),
        (_reconnect_from("0"), "job 1 twice"),
        (_reconnect_from("saved", queue="other-queue"), "should hear 2, 3, 4 and 5"),
        (_reconnect_from(...), "last_event_id must be None"),
        (lambda offline: None, "return the new ppl.QueueEvents"),
        ("saved", "pass your function itself"),
    ],
)
def test_04_catch_up_wrong_reconnects_get_a_reason(reconnect, says):
    """04.catch-up runs the learner's reconnect and names what was missed or repeated."""
    verdict = ppl.exercises.check("04.catch-up", reconnect)
    assert not verdict and says in verdict.message, verdict
    assert ppl.exercises.check("04.catch-up", _reconnect_from("saved"))


def test_04_notebook_scenario_is_the_one_the_check_runs():
    """The watch_jobs shown in notebook 04 and the check's copy give identical traces."""
    import asyncio
    import collections
    import json

    notebook = json.loads((SOLUTIONS.parent / "04_queue_events.ipynb").read_text())
    source = next(
        "".join(c["source"])
        for c in notebook["cells"]
        if "".join(c["source"]).startswith("async def watch_jobs")
    )
    namespace = {"asyncio": asyncio, "collections": collections, "ppl": ppl}
    exec(compile(source, "04_queue_events.ipynb", "exec"), namespace)
    shown = ppl.simulate(lambda lab: namespace["watch_jobs"](lab, jobs=40, interval=4.0))
    checked = scenarios.watch_jobs(jobs=40, interval=4.0)
    assert shown.trace.to_rows() == checked.trace.to_rows()
    assert shown.value == checked.value


@pytest.mark.parametrize(
    "exercise, wrong, says",
    [
        ("05.predict-p50", 3.0, "too high"),
        ("05.predict-p50", 0.2, "too low"),
        ("05.predict-p50", "1.5", "a number of seconds"),
        ("05.only-short-polling", "nuanced", "not quite"),
        ("05.only-short-polling", "maybe", "answer with one of"),
    ],
)
def test_05_wrong_answers_get_a_reason(exercise, wrong, says):
    """05's checks recompute the p50 and the latency verdict, and say what to look at."""
    verdict = ppl.exercises.check(exercise, wrong)
    assert not verdict and says in verdict.message, verdict


def test_05_check_pushes_the_stream_the_notebook_pushes():
    """The check's push run is notebook 05's %%simulate cell: same stream, 0 s latency."""
    import json

    notebook = json.loads((SOLUTIONS.parent / "05_comparison.ipynb").read_text())
    source = next(
        "".join(c["source"]) for c in notebook["cells"] if "".join(c["source"]).startswith("%%simulate")
    )
    assert "--seed 3" in source.splitlines()[0]
    from pushpull_lab.exercises.nb05_comparison import _pushed_stream_p99

    assert _pushed_stream_p99() == 0.0
    pulled = scenarios.pull_styles("short", interval=1.0).trace.filter(kind="append")
    assert len(pulled) == 50
