"""Exercises of notebook 09: checks recompute on real loopback HTTP, explain wrong answers, pass the solution."""

from __future__ import annotations

import asyncio

import pytest

import pushpull_lab as ppl
from pushpull_lab.exercises import nb09_protocols

RIGHT = {"a": 204, "b": 409, "c": 401, "d": 401, "e": 400}


def test_the_receiver_really_answers_what_the_solution_says():
    """The five hand-made deliveries get 204, 409, 401 (signature), 401 (stale), 400 (id) from a real receiver."""
    got = nb09_protocols.webhook_statuses()
    assert {k: s for k, (s, _) in got.items()} == RIGHT
    assert got["c"][1] == "bad signature" and got["d"][1] == "timestamp outside tolerance"


def test_webhook_verdicts_right_answer_passes():
    """The right statuses are correct, and the message gives each reason."""
    verdict = ppl.exercises.check("09.webhook-verdicts", RIGHT)
    assert verdict and "replayed delivery id" in verdict.message


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({**RIGHT, "b": 204}, "Look again at b"),
        ({**RIGHT, "e": 401}, "Look again at e"),
        ({**RIGHT, "c": 400, "d": 204}, "2 of 5 differ"),
        ({"a": 204}, "dict with the keys"),
        ({**RIGHT, "a": 200}, "must be one of 204, 400, 401, 409"),
        ([204] * 5, "dict with the keys"),
    ],
)
def test_webhook_verdicts_wrong_answers_get_a_reason(answer, says):
    """A wrong or malformed answer is not correct and the message points at what to look at."""
    verdict = ppl.exercises.check("09.webhook-verdicts", answer)
    assert not verdict and says in verdict.message


def test_webhook_requests_counts_every_attempt_as_a_request():
    """Recomputed on a real receiver: 20 events + 4 first-attempt failures + 2 for event 19 = 26 POSTs."""
    got = nb09_protocols.webhook_requests(20)
    assert got == {"requests": 26, "attempts": 26, "accepted": 20}
    verdict = ppl.exercises.check("09.webhook-requests", 26)
    assert verdict and "6 retries" in verdict.message


@pytest.mark.parametrize(
    ("answer", "says"),
    [(20, "one request per event"), (24, "not 24"), ("26", "whole number"), (True, "whole")],
)
def test_webhook_requests_wrong_answers_get_a_reason(answer, says):
    """20 (one per event), 24 (event 19 counted once), a string or a bool are not correct, each with a reason."""
    verdict = ppl.exercises.check("09.webhook-requests", answer)
    assert not verdict and says in verdict.message


def test_checks_work_inside_a_running_event_loop():
    """Called from a running loop (as in a kernel cell), a check runs its servers on a helper thread."""

    async def in_a_cell():
        return ppl.exercises.check("09.webhook-requests", 26)

    assert asyncio.run(in_a_cell())
