"""scenarios.py, section 06_use_cases: retries, batches and a rate-limited burst, read from traces."""

import pytest

import pushpull_lab as ppl
from pushpull_lab import scenarios


def test_flaky_jobs_retry_on_the_backoff_schedule_and_end_in_the_failed_set():
    """An always-failing job starts after its delay, retries after 1, 2, 4 s of backoff, then fails."""
    run = scenarios.flaky_jobs(jobs=2, attempts=4, backoff=("exponential", 1.0), delay=2.0, work=0.5)
    assert run.value["failed"] == ["1", "2"]
    for job in run.value["jobs"].values():
        assert job == {"attempts": [2.0, 3.5, 6.0, 10.5], "state": "failed", "attempts_made": 4}
    assert run.trace.counts()["retry"] == 6 and run.trace.counts()["failed"] == 2


def test_flaky_jobs_that_never_fail_run_once():
    """failure_rate=0: one attempt each, all completed, nothing in the failed set."""
    run = scenarios.flaky_jobs(jobs=3, failure_rate=0.0, delay=0.0)
    assert run.value["failed"] == [] and run.value["counts"]["completed"] == 3
    assert all(job["attempts"] == [0.0] for job in run.value["jobs"].values())


def test_flaky_jobs_is_deterministic_and_mixes_outcomes():
    """The same seed gives the same trace; with failure_rate 0.5 some jobs retry and one fails (seed 1)."""
    a = scenarios.flaky_jobs(jobs=8, failure_rate=0.5, seed=1)
    b = scenarios.flaky_jobs(jobs=8, failure_rate=0.5, seed=1)
    assert a.trace.to_rows() == b.trace.to_rows()
    tries = [len(job["attempts"]) for job in a.value["jobs"].values()]
    assert max(tries) == 4 and min(tries) == 1 and a.value["failed"] == ["6"]


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"jobs": 0}, r"flaky_jobs\(jobs=0\): jobs must be an integer >= 1"),
        ({"failure_rate": 1.5}, r"failure_rate must be between 0 and 1"),
        ({"backoff": ("linear", 1.0)}, r"flaky_jobs\(backoff=\('linear', 1.0\)\)"),
        ({"delay": -1}, r"delay must be a finite number >= 0"),
    ],
)
def test_flaky_jobs_bad_arguments_name_the_parameter(kwargs, says):
    """Bad input is refused at the call with the parameter's name."""
    with pytest.raises(ValueError, match=says):
        scenarios.flaky_jobs(**kwargs)


def test_batch_loader_stores_every_record_and_small_batches_fall_behind():
    """Every record is stored once; batch=1 pays the overhead per record and finishes far later."""
    small = scenarios.batch_loader(batch=1)
    fit = scenarios.batch_loader(batch=10)
    assert small.value["records"] == fit.value["records"] == len(fit.trace.filter(kind="append"))
    assert len(fit.trace.filter(kind="stored")) == fit.value["records"]
    assert small.value["batches"] == small.value["records"] and fit.value["mean_batch"] > 5
    assert small.value["finished"] > 3 * fit.value["finished"]
    assert small.value["latency"].p50 > 10 * fit.value["latency"].p50


def test_batch_loader_large_batches_wait_for_the_linger():
    """A batch too large to fill waits up to `linger`: lower cost (busy), higher latency than batch=10."""
    fit = scenarios.batch_loader(batch=10, linger=0.5)
    big = scenarios.batch_loader(batch=100, linger=0.5)
    assert big.value["busy"] < fit.value["busy"] and big.value["latency"].p50 > fit.value["latency"].p50
    assert big.value["latency"].max <= 0.5 + 0.1 + 0.004 * 100 + 1e-9  # linger + one batch write
    with pytest.raises(ValueError, match=r"batch_loader\(batch=0\): batch must be an integer >= 1"):
        scenarios.batch_loader(batch=0)


def test_rate_limited_burst_respects_concurrency_and_limiter():
    """In flight never exceeds concurrency, starts per window never exceed the limiter."""
    run = scenarios.rate_limited_burst(jobs=60, concurrency=4, limiter={"max": 5, "duration": 1.0})
    assert run.value["max_in_flight"] == 4 and run.value["max_started"] == 5
    assert run.value["makespan"] == pytest.approx(12.0)  # 60 jobs at 5 a second, the last takes 0.5 s
    assert max(n for _, n in scenarios.jobs_in_flight(run.trace, "mailer")) == 4
    assert max(d for _, d in run.trace.depth("emails")) == 60  # the burst waited in the queue
    unlimited = scenarios.rate_limited_burst(jobs=60, concurrency=4)
    assert unlimited.value["max_started"] == 8 and unlimited.value["makespan"] == pytest.approx(7.5)


def test_most_started_counts_a_half_open_window():
    """Starts at 0, 0.5 and 1.0 are at most 2 in any 1 s (a start exactly 1 s later is a new window)."""

    async def main(lab):
        queue = ppl.Queue("q")
        worker = ppl.Worker("q", lambda job: None, name="w")
        for _ in range(3):
            await queue.add("j")
            await ppl.sleep(0.5)
        await worker.close()

    trace = ppl.simulate(main).trace
    assert [e.time for e in trace.filter(kind="fetch")] == [0.0, 0.5, 1.0]
    assert scenarios.most_started(trace, "w", 1.0) == 2
    assert scenarios.most_started(trace, "w", 1.01) == 3
    with pytest.raises(ValueError, match=r"most_started\(window=0.0\)"):
        scenarios.most_started(trace, "w", 0)
