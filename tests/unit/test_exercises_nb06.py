"""exercises/nb06_use_cases.py: each check runs the lab, rejects wrong answers with a reason."""

import pytest

import pushpull_lab as ppl
from pushpull_lab.exercises import nb06_use_cases as nb06

GOOD_BURST = {"concurrency": 10, "limiter": {"max": 10, "duration": 1.0}}


def test_retry_times_accepts_the_measured_attempts():
    """The attempt times the trace shows (3, 5.5, 10, 18.5 s) are accepted, and the job ends failed."""
    job = nb06.retry_run().value["jobs"]["1"]
    assert job["attempts"] == [3.0, 5.5, 10.0, 18.5] and job["state"] == "failed"
    verdict = ppl.exercises.check("06.retry-times", [3, 5.5, 10, 18.5])
    assert verdict and "'failed'" in verdict.message and "(2, 4, 8 s)" in verdict.message


@pytest.mark.parametrize(
    "wrong, says",
    [
        ([3, 5, 9, 17], "backoff starts when an attempt *fails*"),
        ([0, 2.5, 7, 15.5], "waits its delay (3 s)"),
        ([3, 5.5, 10], "the job runs 4 times in all"),
        ([3, 5.5, 8, 10.5], "not quite"),
        ([2, 3.5, 6, 10.5], "waits its delay (3 s)"),
        ("3, 5.5, 10, 18.5", "a list of start times"),
        ([3, 5.5, True, 18.5], "a list of start times"),
    ],
)
def test_retry_times_wrong_answers_get_a_reason(wrong, says):
    """Forgetting the delay, the work before a failure, or an attempt each gets its own hint; the
    section-3 run's times (delay 2 s, backoff 1 s) are not this exercise's answer."""
    verdict = ppl.exercises.check("06.retry-times", wrong)
    assert not verdict and says in verdict.message, verdict


def test_retry_check_follows_the_scenario(monkeypatch):
    """The check recomputes from the run: with another backoff the same answer is no longer right."""
    assert ppl.exercises.check("06.retry-times", [3, 5.5, 10, 18.5])
    monkeypatch.setitem(nb06.RETRY, "backoff", ("fixed", 2.0))
    assert nb06.retry_run().value["jobs"]["1"]["attempts"] == [3.0, 5.5, 8.0, 10.5]
    assert not ppl.exercises.check("06.retry-times", [3, 5.5, 10, 18.5])
    verdict = ppl.exercises.check("06.retry-times", [3, 5.5, 8, 10.5])
    assert verdict and "(2, 2, 2 s)" in verdict.message


def test_burst_budget_accepts_a_limiter_with_enough_concurrency():
    """10 per 1 s with 10 slots: every job sent by 11 s, never more than 10 started in 1 s."""
    verdict = ppl.exercises.check("06.burst-budget", GOOD_BURST)
    assert verdict and "at most 10 started in any 1 s" in verdict.message, verdict
    assert ppl.exercises.check("06.burst-budget", {"concurrency": 6, "limiter": {"max": 5, "duration": 0.5}})


@pytest.mark.parametrize(
    "wrong, says",
    [
        ({"concurrency": 5, "limiter": {"max": 10, "duration": 1.0}}, "too slow"),
        ({"concurrency": 6, "limiter": None}, "concurrency alone does not cap a rate"),
        ({"concurrency": 10, "limiter": {"max": 20, "duration": 2.0}}, "larger window"),
        ({"concurrency": 0, "limiter": None}, "concurrency must be an integer >= 1"),
        ({"concurrency": 5, "limiter": {"max": 10}}, "limiter must be None or a dict"),
        ({"concurrency": 5}, "a dict like"),
    ],
)
def test_burst_budget_wrong_answers_get_a_reason(wrong, says):
    """Too few slots, no limiter, a 2 s window or bad settings: each is refused with its reason."""
    verdict = ppl.exercises.check("06.burst-budget", wrong)
    assert not verdict and says in verdict.message, verdict


def test_no_concurrency_alone_meets_the_burst_budget():
    """Without a limiter, no concurrency is both fast enough and within 10 starts per second."""
    assert not any(
        ppl.exercises.check("06.burst-budget", {"concurrency": c, "limiter": None}) for c in range(1, 16)
    )
