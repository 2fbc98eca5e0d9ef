"""Queueing theory to hold the simulations to: M/M/1 and M/M/c mean waiting times.

A queue fed by a Poisson stream (exponential gaps between arrivals, rate ``λ`` per second)
and served by ``c`` servers with exponential service times (rate ``μ`` per second each,
so a mean service time of ``1/μ``) is an *M/M/c* queue. A :class:`~pushpull_lab.Queue`
pulled by one ``Worker(concurrency=c)`` whose processor sleeps an exponential time is
exactly that, so these formulas say what the lab must measure (tests/unit/test_theory.py
checks that it does, notebook 10 shows it)::

    from pushpull_lab import theory

    theory.mm1_wait(arrival_rate=0.9, service_rate=1.0)          # ≈ 9.0 s (ρ = 0.9)
    theory.erlang_c(arrival_rate=2.0, service_rate=1.0, servers=3)  # ≈ 0.444 = 4/9
    theory.mmc_wait(arrival_rate=2.0, service_rate=1.0, servers=3)  # ≈ 0.444 s = 4/9 s

The formulas (``a = λ/μ`` is the offered load in Erlangs, ``ρ = a/c`` the utilisation of
each server; every formula needs ``ρ < 1``, or the queue grows without bound):

- M/M/1 mean wait in the queue, before service starts: ``Wq = ρ / (μ − λ)``.
- Erlang C, the probability that an arrival has to wait (all ``c`` servers busy)::

      C(c, a) = (a^c / c!) · c/(c − a)  /  ( Σ_{k=0}^{c−1} a^k / k!  +  (a^c / c!) · c/(c − a) )

- M/M/c mean wait in the queue: ``Wq = C(c, a) / (c·μ − λ)``. With ``c = 1``,
  ``C(1, a) = ρ`` and this is the M/M/1 formula again.

``erlang_c`` evaluates C through the Erlang B recursion ``B(0) = 1``,
``B(k) = a·B(k−1) / (k + a·B(k−1))`` and ``C = c·B(c) / (c − a·(1 − B(c)))``, which is the
same number without the factorials that overflow a float beyond ``c ≈ 170``.

All waits are *in the queue* (arrival → service starts); add ``1/μ`` for the time in the
system. Units are whatever the rates use: rates per second give seconds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from . import _validate


def _check(where: str, arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float, int]:
    lam = _validate.number(where, "arrival_rate", arrival_rate, positive=True)
    mu = _validate.number(where, "service_rate", service_rate, positive=True)
    c = _validate.integer(where, "servers", servers, minimum=1)
    rho = lam / (c * mu)
    if rho >= 1:
        raise ValueError(
            f"{where}(arrival_rate={arrival_rate!r}, service_rate={service_rate!r}, servers={servers!r}): "
            f"arrival_rate must be < servers × service_rate = {c * mu:g} for a stable queue; "
            f"here the utilisation ρ = λ/(c·μ) = {rho:.4g} ≥ 1, so the queue grows without bound "
            "and has no mean wait"
        )
    return lam, mu, c


def utilisation(arrival_rate: float, service_rate: float, servers: int = 1) -> float:
    """``ρ = λ / (c·μ)``: the fraction of time each server is busy (must be < 1)."""
    lam, mu, c = _check("utilisation", arrival_rate, service_rate, servers)
    return lam / (c * mu)


def mm1_wait(arrival_rate: float, service_rate: float) -> float:
    """Mean time an M/M/1 customer waits before service starts: ``Wq = ρ / (μ − λ)``.

    >>> mm1_wait(0.5, 1.0)     # half-busy server, 1 s mean service: wait 1 s on average
    1.0
    """
    lam, mu, _ = _check("mm1_wait", arrival_rate, service_rate, 1)
    return (lam / mu) / (mu - lam)


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Erlang C: the probability that an arrival finds all ``servers`` busy and must wait.

    >>> round(erlang_c(1.0, 1.0, 2), 12)    # a = 1 Erlang on 2 servers: 1/3
    0.333333333333
    """
    lam, mu, c = _check("erlang_c", arrival_rate, service_rate, servers)
    a = lam / mu
    b = 1.0  # Erlang B with 0 servers
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


def mmc_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time an M/M/c customer waits before service starts: ``Wq = C(c, a) / (c·μ − λ)``.

    >>> round(mmc_wait(2.0, 1.0, 3), 12)    # 4/9 s
    0.444444444444
    """
    lam, mu, c = _check("mmc_wait", arrival_rate, service_rate, servers)
    return erlang_c(lam, mu, c) / (c * mu - lam)


# Student's t, two-sided 99 % (the 0.995 quantile), for 1 to 30 degrees of freedom.
_T_0995 = (
    63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169,
    3.106, 3.055, 3.012, 2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845,
    2.831, 2.819, 2.807, 2.797, 2.787, 2.779, 2.771, 2.763, 2.756, 2.750,
)  # fmt: skip


def batch_means(values: Sequence[float], batches: int = 20) -> tuple[float, float]:
    """The mean of a simulation's output and the half-width of its 99 % confidence interval.

    Successive waits in a queue are correlated (a customer behind a long queue is followed
    by another one), so the textbook interval for independent samples would be far too
    narrow. Batch means cuts ``values`` (already without the warm-up) into ``batches``
    consecutive equal batches; batches much longer than the queue's memory are nearly
    independent, so ``mean ± t(0.995, batches − 1) · s / √batches`` over the batch means is
    an approximate 99 % interval. Leftover values at the end (fewer than a batch) are unused.

    >>> batch_means([1.0, 3.0] * 10, batches=2)
    (2.0, 0.0)
    """
    _validate.integer("batch_means", "batches", batches, minimum=2)
    if batches > len(_T_0995) + 1:
        raise ValueError(f"batch_means(batches={batches!r}): batches must be an integer from 2 to 31")
    size = len(values) // batches
    if size < 1:
        raise ValueError(
            f"batch_means(values=<{len(values)} values>): values must hold at least batches={batches} values"
        )
    means = [statistics.fmean(values[i * size : (i + 1) * size]) for i in range(batches)]
    return statistics.fmean(means), _T_0995[batches - 2] * statistics.stdev(means) / math.sqrt(batches)
