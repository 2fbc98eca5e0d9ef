"""theory.py: the formulas against textbook values, and the lab's Queue + Worker against the formulas.

The simulation tests run M/M/1 and M/M/c queues through the real primitives, in virtual time:
a producer adds jobs at exponential intervals (rate λ) carrying an exponential service time
(rate μ), both drawn from ``lab.rng``; one ``Worker(concurrency=c)`` pulls them and its
processor does ``await ppl.sleep(service)``. A job's waiting time is ``started_at - added_at``
(arrival → service starts), read from the job records.
"""

import heapq
import math
import random
import statistics
from fractions import Fraction

import pytest

import pushpull_lab as ppl
from pushpull_lab import theory

# -- the formulas -------------------------------------------------------------------------------


def erlang_c_by_factorials(a: float, c: int) -> float:
    """Erlang C written as in the textbooks, with factorials (fine for small c)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_mm1_wait_textbook_values():
    """Wq = ρ/(μ−λ): 9 s at ρ = 0.9 and 1 s at ρ = 0.5 (1 s service), 2/3 h for λ = 2/h, μ = 3/h."""
    assert theory.mm1_wait(0.9, 1.0) == pytest.approx(9.0, rel=1e-12)
    assert theory.mm1_wait(0.5, 1.0) == pytest.approx(1.0, rel=1e-12)
    assert theory.mm1_wait(2.0, 3.0) == pytest.approx(2 / 3, rel=1e-12)


def test_erlang_c_textbook_values():
    """C(2, 1 E) = 1/3; c = 3, a = 2 E: C = 4/9 and Wq = 4/9 s; the call-centre classic C(10, 8 E) ≈ 0.4092."""
    assert theory.erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=1e-12)
    # c = 3, λ = 2, μ = 1: P0 = 1/9, C = (a^c/c!)(c/(c−a))P0 = (8/6)(3)(1/9) = 4/9, Wq = C/(3−2).
    assert theory.erlang_c(2.0, 1.0, 3) == pytest.approx(float(Fraction(4, 9)), rel=1e-12)
    assert theory.mmc_wait(2.0, 1.0, 3) == pytest.approx(float(Fraction(4, 9)), rel=1e-12)
    # 8 Erlangs on 10 agents (e.g. 480 calls/h of 1 min each): 40.9 % of callers wait.
    assert round(theory.erlang_c(480.0, 60.0, 10), 4) == 0.4092
    # ... for Wq = C / (cμ − λ) = 0.4092 / (600 − 480) h = 12.3 s.
    assert theory.mmc_wait(480.0, 60.0, 10) * 3600 == pytest.approx(12.276, abs=0.001)


@pytest.mark.parametrize("c", [1, 2, 3, 5, 8, 12])
@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_erlang_c_recursion_equals_the_factorial_formula(c, rho):
    """The Erlang-B recursion theory.py uses gives the textbook factorial formula's value."""
    a = rho * c
    assert theory.erlang_c(a * 2.0, 2.0, c) == pytest.approx(erlang_c_by_factorials(a, c), rel=1e-12)


@pytest.mark.parametrize("rho", [0.05, 0.5, 0.8, 0.999])
def test_one_server_is_mm1(rho):
    """With c = 1 Erlang C is ρ and the M/M/c wait is the M/M/1 wait."""
    assert theory.erlang_c(rho, 1.0, 1) == pytest.approx(rho, rel=1e-12)
    assert theory.mmc_wait(rho, 1.0, 1) == pytest.approx(theory.mm1_wait(rho, 1.0), rel=1e-12)


def test_more_servers_wait_less_and_many_servers_do_not_overflow():
    """At a fixed load, each added server lowers the wait; 1,000 servers still give a finite probability."""
    waits = [theory.mmc_wait(2.8, 1.0, c) for c in range(3, 9)]
    assert waits == sorted(waits, reverse=True) and len(set(waits)) == len(waits)
    assert 0 < theory.erlang_c(990.0, 1.0, 1000) < 1  # 1000! would overflow a float


def test_utilisation_is_lambda_over_c_mu():
    """ρ = λ/(c·μ)."""
    assert theory.utilisation(2.8, 1.0, 4) == pytest.approx(0.7)
    assert theory.utilisation(0.5, 2.0) == pytest.approx(0.25)


BAD_CALLS = {
    "zero arrival rate": (lambda: theory.mm1_wait(0, 1.0), ValueError,
                          r"mm1_wait\(arrival_rate=0.0\): arrival_rate must be a finite number > 0"),
    "negative service rate": (lambda: theory.mm1_wait(1.0, -2), ValueError,
                              r"service_rate=-2.0\): service_rate must be a finite number > 0"),
    "nan rate": (lambda: theory.mm1_wait(float("nan"), 1.0), ValueError, r"arrival_rate must be a finite number > 0"),
    "text rate": (lambda: theory.mm1_wait("1", 2.0), TypeError, r"arrival_rate must be a finite number > 0"),
    "zero servers": (lambda: theory.mmc_wait(1.0, 1.0, 0), ValueError,
                     r"mmc_wait\(servers=0\): servers must be an integer >= 1"),
    "fractional servers": (lambda: theory.erlang_c(1.0, 1.0, 2.5), TypeError, r"servers must be an integer >= 1"),
    "rho exactly 1": (lambda: theory.mm1_wait(1.0, 1.0), ValueError,
                      r"arrival_rate must be < servers × service_rate = 1 .*ρ = λ/\(c·μ\) = 1 ≥ 1"),
    "unstable M/M/2": (lambda: theory.mmc_wait(2.5, 1.0, 2), ValueError,
                       r"mmc_wait\(arrival_rate=2.5, service_rate=1.0, servers=2\): arrival_rate must be < "
                       r"servers × service_rate = 2"),
    "unstable erlang_c": (lambda: theory.erlang_c(3.0, 1.0, 2), ValueError,
                          r"erlang_c\(.*utilisation ρ = λ/\(c·μ\) = 1.5 ≥ 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_arguments_are_refused_naming_the_parameter(case):
    """Non-positive rates, a non-integer or zero server count and an unstable load are refused at the call."""
    call, error, says = BAD_CALLS[case]
    with pytest.raises(error, match=says):
        call()


# -- the lab against the formulas ---------------------------------------------------------------


def simulate_waits(arrival_rate: float, service_rate: float, servers: int, customers: int, seed: int):
    """Waiting times (arrival → service starts) of ``customers`` jobs, in arrival order.

    Each arrival draws its gap, then its service time, from ``lab.rng``: the same order as
    :func:`fifo_waits`, so both see the same customers.
    """

    async def main(lab):
        queue = ppl.Queue("mmc")

        async def serve(job):
            await ppl.sleep(job.data["service"])

        worker = ppl.Worker("mmc", serve, concurrency=servers, name="servers")
        rng = lab.rng
        for _ in range(customers):
            await ppl.sleep(rng.expovariate(arrival_rate))
            await queue.add("customer", {"service": rng.expovariate(service_rate)})
        while (await queue.get_job_counts())["completed"] < customers:
            await ppl.sleep(10.0)
        jobs = sorted(await queue.get_jobs("completed"), key=lambda job: job.seq)
        await worker.close()
        return [job.started_at - job.added_at for job in jobs]

    return ppl.simulate(main, seed=seed).value


def fifo_waits(arrival_rate: float, service_rate: float, servers: int, customers: int, seed: int):
    """The same customers through a textbook FIFO c-server queue (Kiefer–Wolfowitz recursion):
    each takes the server that frees first, and waits if it is not free yet."""
    rng = random.Random(seed)
    free_at = [0.0] * servers
    now, waits = 0.0, []
    for _ in range(customers):
        now += rng.expovariate(arrival_rate)
        service = rng.expovariate(service_rate)
        start = max(now, heapq.heappop(free_at))
        waits.append(start - now)
        heapq.heappush(free_at, start + service)
    return waits


@pytest.mark.parametrize("servers", [1, 2, 4])
def test_worker_is_a_fifo_c_server_queue_customer_by_customer(servers):
    """Every one of 3,000 customers waits exactly as long in Queue + Worker(concurrency=c) as in the
    textbook c-server FIFO recursion fed the same draws (a worker ignoring concurrency differs at once)."""
    lab = simulate_waits(0.8 * servers, 1.0, servers, 3000, seed=5)
    textbook = fifo_waits(0.8 * servers, 1.0, servers, 3000, seed=5)
    assert len(lab) == 3000
    assert max(abs(x - y) for x, y in zip(lab, textbook)) < 1e-9
    assert sum(w > 0 for w in lab) > 1000  # plenty of customers actually queued


# The statistical comparison. One long run per c, utilisation ρ = 0.7, μ = 1/s:
# - warm-up: the run starts empty (no one waits), which biases the mean down; the first
#   WARMUP customers are discarded. The queue's relaxation time at ρ = 0.7 is about
#   1/(μ(1−√ρ)²) ≈ 37 s ≈ 26 arrivals, so 2,000 is ample.
# - batch means: the remaining 20,000 waits are cut into BATCHES = 20 consecutive batches of
#   1,000 customers. Successive waits are strongly correlated, but batches ~40 relaxation
#   times long are nearly independent, so the 20 batch means are treated as an i.i.d. sample:
#   99 % interval = grand mean ± t(0.995, 19 df) · s / √20, with t(0.995, 19) = 2.861
#   (Student's t table).
# - calibration: the same procedure applied to 300 seeds of the plain-Python recursion above
#   (which matches the lab customer by customer) covered the true Wq in 99 % of runs for each
#   of c = 1, 2, 4, with a median half-width of 15–22 % of Wq.
# - power: the interval must also exclude the formula's value for c − 1 and c + 1 servers,
#   so the test fails if the worker ran one job too few or too many at a time.
WARMUP, BATCHES, BATCH = 2000, 20, 1000
T_0995_19 = 2.861
RHO = 0.7


def batch_means_interval(waits: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 99 % batch-means interval) of the waits after the warm-up."""
    kept = waits[WARMUP : WARMUP + BATCHES * BATCH]
    assert len(kept) == BATCHES * BATCH
    means = [statistics.fmean(kept[i * BATCH : (i + 1) * BATCH]) for i in range(BATCHES)]
    return statistics.fmean(means), T_0995_19 * statistics.stdev(means) / math.sqrt(BATCHES)


def expected_wait(arrival_rate: float, servers: int) -> float:
    """The formula's Wq, or infinity when that many servers cannot keep up."""
    if servers < 1 or arrival_rate >= servers:
        return math.inf
    return theory.mmc_wait(arrival_rate, 1.0, servers)


@pytest.mark.parametrize("servers, seed", [(1, 11), (2, 12), (4, 14)])
def test_mean_wait_matches_erlang_c_within_a_99_percent_batch_means_interval(servers, seed):
    """Queue + Worker(concurrency=c), 22,000 M/M/c customers at ρ = 0.7: the formula's Wq lies in the
    measured 99 % interval, and the values for c − 1 and c + 1 servers lie outside it."""
    arrival_rate = RHO * servers
    mean, half = batch_means_interval(
        simulate_waits(arrival_rate, 1.0, servers, WARMUP + BATCHES * BATCH, seed)
    )
    expected = expected_wait(arrival_rate, servers)
    if servers == 1:
        assert expected == pytest.approx(theory.mm1_wait(arrival_rate, 1.0))
    report = f"measured {mean:.4f} ± {half:.4f} s, Erlang C {expected:.4f} s"
    assert abs(mean - expected) <= half, report
    for wrong in (servers - 1, servers + 1):
        assert abs(mean - expected_wait(arrival_rate, wrong)) > half, f"{report}; c={wrong} is not excluded"


def test_the_comparison_rejects_a_worker_with_the_wrong_concurrency():
    """The same check on a Worker(concurrency=3) fed an M/M/4 load rejects the M/M/4 formula:
    a worker that ran fewer jobs at once than asked would be caught."""
    arrival_rate = RHO * 4  # 2.8/s: 4 servers at ρ = 0.7, or 3 servers at ρ = 0.93
    mean, half = batch_means_interval(simulate_waits(arrival_rate, 1.0, 3, WARMUP + BATCHES * BATCH, seed=14))
    assert abs(mean - expected_wait(arrival_rate, 4)) > half
    assert mean > 5 * expected_wait(arrival_rate, 4)


def test_batch_means_interval_by_hand():
    """Batch means: the mean of the batch means ± t(0.995, k−1)·s/√k, leftovers unused."""
    values = [1.0] * 10 + [3.0] * 10 + [99.0]  # two batches of 10, one leftover
    mean, half = theory.batch_means(values, batches=2)
    assert mean == 2.0
    assert half == pytest.approx(63.657 * statistics.stdev([1.0, 3.0]) / math.sqrt(2))
    assert theory.batch_means(list(range(40)), batches=20)[1] == pytest.approx(
        2.861 * statistics.stdev([2 * i + 0.5 for i in range(20)]) / math.sqrt(20)
    )
    with pytest.raises(ValueError, match=r"batches must be an integer from 2 to 31"):
        theory.batch_means(list(range(100)), batches=40)
    with pytest.raises(ValueError, match=r"values must hold at least batches=20 values"):
        theory.batch_means([1.0] * 5)
