"""Benchmarks: pushpull_lab's push primitives and virtual clock next to their peers.

Run from the repository root::

    .venv/bin/python bench/bench_push_and_clock.py            # full sizes, 5 repeats
    .venv/bin/python bench/bench_push_and_clock.py --quick    # small sizes (a smoke run)

Three pairs, each run alternately (ours, then the peer, then the peer, then ours, ...) so
that a noisy, shared machine slows both sides alike:

1. ``ppl.PubSub`` fan-out to 10 subscribers with sync no-op handlers (buffers never full),
   against the same fan-out done by hand: 10 ``asyncio.Queue`` and 10 consumer tasks that
   call the same no-op. Both run under ``asyncio.run()`` on asyncio's standard loop, the
   loop a raw-asyncio program runs on. PubSub traces a ``publish`` event per message and an
   ``enqueue`` and a ``deliver`` event per delivery; the raw fan-out records nothing.
2. ``ppl.EventEmitter`` with 10 sync listeners against ``pyee.EventEmitter``. Ours traces an
   ``emit`` event per emit and a ``deliver`` event per delivery; pyee records nothing.
3. ``ppl.simulate()`` running an M/M/1 queue (arrivals at rate 0.9 spawn customer tasks with
   ``asyncio.create_task``; the server is an ``asyncio.Semaphore(1)``; service takes
   ``ppl.sleep(expovariate(1.0))``) against SimPy 4 on the same model with the same random
   draws in the same order. The mean waits must be identical; if they are not, the script
   exits with status 1.

The rows "trace capped at 1,000 events" repeat 1 and 2 with ``Lab(trace_limit=1000)``: they
separate the cost of recording events from the cost of keeping hundreds of thousands of
them (a real-time Lab keeps up to 1,000,000).

Times are CPU time of this process (``time.process_time``), so other processes on the
machine count less. Rates are medians over the repeats; a ratio is the median of the
per-repeat ratios peer time / our time (above 1 means ours is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version

import pyee
import simpy
from _common import machine, ratio_and_verdict  # bench/ is on sys.path when a script here runs

import pushpull_lab as ppl

FANOUT = 10  # subscribers, queues or listeners
BURST = 100  # messages published between two yields to the loop

FULL = {"messages": 20_000, "emits": 50_000, "customers": 200_000, "repeats": 5}
QUICK = {"messages": 500, "emits": 1_000, "customers": 2_000, "repeats": 3}

TARGETS = {"pubsub": 0.5, "emitter": None, "mm1": 1.0}


def cpu_seconds(fn: Callable[[], object]) -> tuple[float, object]:
    """Run ``fn()``; return (CPU seconds it took, its result). Garbage is collected first."""
    gc.collect()
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def _noop(_message: object) -> None:
    return None


# -- 1. fan-out to 10 subscribers -------------------------------------------------------------


def pubsub_fanout(messages: int, trace_limit: int = 1_000_000) -> float:
    """Seconds for ppl.PubSub to deliver ``messages`` x 10 (setup not counted).

    ``trace_limit`` 1,000,000 is a real-time Lab's default: the run keeps its whole trace.
    """

    async def main() -> float:
        lab = ppl.Lab(trace_limit=trace_limit)
        bus = ppl.PubSub(lab=lab)
        subs = [bus.subscribe("t", _noop, buffer=BURST, overflow="block") for _ in range(FANOUT)]
        await asyncio.sleep(0)  # delivery tasks started and idle
        start = time.process_time()
        for i in range(messages):
            await bus.publish("t", i)
            if i % BURST == BURST - 1:
                await asyncio.sleep(0)
        await bus.join()
        elapsed = time.process_time() - start
        assert sum(s.delivered for s in subs) == messages * FANOUT
        bus.close()
        return elapsed

    gc.collect()
    return asyncio.run(main())


def raw_queue_fanout(messages: int) -> float:
    """Seconds for 10 asyncio.Queue + 10 consumer tasks to deliver ``messages`` x 10."""

    async def main() -> float:
        queues = [asyncio.Queue() for _ in range(FANOUT)]

        async def consume(q: asyncio.Queue) -> int:
            n = 0
            while True:
                m = await q.get()
                if m is None:
                    return n
                _noop(m)
                n += 1

        consumers = [asyncio.create_task(consume(q)) for q in queues]
        await asyncio.sleep(0)
        start = time.process_time()
        for i in range(messages):
            for q in queues:
                q.put_nowait(i)
            if i % BURST == BURST - 1:
                await asyncio.sleep(0)
        for q in queues:
            q.put_nowait(None)
        received = await asyncio.gather(*consumers)
        elapsed = time.process_time() - start
        assert sum(received) == messages * FANOUT
        return elapsed

    gc.collect()
    return asyncio.run(main())


# -- 2. emitter with 10 sync listeners --------------------------------------------------------


def listeners() -> list[Callable]:
    # Ten distinct functions: pyee keeps one entry per function object.
    return [lambda *args: None for _ in range(FANOUT)]


def ppl_emitter(emits: int, trace_limit: int = 1_000_000) -> float:
    em = ppl.EventEmitter(lab=ppl.Lab(trace_limit=trace_limit))
    for fn in listeners():
        em.on("tick", fn)

    def run() -> None:
        for i in range(emits):
            em.emit("tick", i)

    return cpu_seconds(run)[0]


def pyee_emitter(emits: int) -> float:
    ee = pyee.EventEmitter()
    for fn in listeners():
        ee.on("tick", fn)

    def run() -> None:
        for i in range(emits):
            ee.emit("tick", i)

    return cpu_seconds(run)[0]


# -- 3. M/M/1 queue: simulate() against SimPy -------------------------------------------------

ARRIVAL_RATE, SERVICE_RATE, SEED = 0.9, 1.0, 1


def ppl_mm1(customers: int) -> float:
    """Mean wait of ``customers`` customers of an M/M/1 queue in ppl.simulate()."""

    async def main(lab):
        rng = lab.rng
        server = asyncio.Semaphore(1)
        waits = []
        left = customers
        all_served = asyncio.Event()

        async def customer():
            nonlocal left
            arrived = lab.now()
            async with server:
                waits.append(lab.now() - arrived)
                await ppl.sleep(rng.expovariate(SERVICE_RATE))
            left -= 1
            if not left:
                all_served.set()

        for _ in range(customers):
            await ppl.sleep(rng.expovariate(ARRIVAL_RATE))
            asyncio.create_task(customer())
        await all_served.wait()
        return sum(waits) / len(waits)

    return ppl.simulate(main, seed=SEED).value


def simpy_mm1(customers: int) -> float:
    """The same model in SimPy: same draws from random.Random(SEED), in the same order."""
    env = simpy.Environment()
    rng = random.Random(SEED)
    server = simpy.Resource(env, capacity=1)
    waits = []

    def customer():
        arrived = env.now
        with server.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(SERVICE_RATE))

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(ARRIVAL_RATE))
            env.process(customer())

    env.process(source())
    env.run()
    return sum(waits) / len(waits)


# -- running and reporting --------------------------------------------------------------------


def compare(repeats: int, ours: Callable[[], float], peer: Callable[[], float]) -> tuple[list, list]:
    """Alternate ours and the peer ``repeats`` times each; return both lists of seconds."""
    ours_s, peer_s = [], []
    for r in range(repeats):
        if r % 2 == 0:
            ours_s.append(ours())
            peer_s.append(peer())
        else:
            peer_s.append(peer())
            ours_s.append(ours())
    return ours_s, peer_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--repeats", type=int, help="runs of each side (default 5; 3 with --quick)")
    args = parser.parse_args(argv)
    size = dict(QUICK if args.quick else FULL)
    repeats = args.repeats or size["repeats"]

    print(
        f"pushpull-lab benchmarks, {datetime.date.today()}{' (--quick: sizes too small to mean much)' if args.quick else ''}"
    )
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), {machine()}")
    print(
        f"pushpull-lab {ppl.__version__}, simpy {version('simpy')}, pyee {version('pyee')}; "
        f"{repeats} repeats each, alternating; CPU time; medians"
    )
    print()

    rows = []  # (key, benchmark, peer, unit, work per run, our seconds, peer seconds)
    m = size["messages"]
    ours, peer = compare(repeats, lambda: pubsub_fanout(m), lambda: raw_queue_fanout(m))
    rows.append(
        (
            "pubsub",
            f"PubSub fan-out x{FANOUT}, {m:,} msgs",
            "asyncio.Queue x10",
            "deliveries/s",
            m * FANOUT,
            ours,
            peer,
        )
    )
    ours, peer = compare(repeats, lambda: pubsub_fanout(m, trace_limit=1000), lambda: raw_queue_fanout(m))
    rows.append(
        (
            "pubsub_capped",
            "  same, trace capped at 1,000 events",
            "asyncio.Queue x10",
            "deliveries/s",
            m * FANOUT,
            ours,
            peer,
        )
    )

    e = size["emits"]
    ours, peer = compare(repeats, lambda: ppl_emitter(e), lambda: pyee_emitter(e))
    rows.append(
        (
            "emitter",
            f"EventEmitter x{FANOUT} listeners, {e:,} emits",
            "pyee.EventEmitter",
            "deliveries/s",
            e * FANOUT,
            ours,
            peer,
        )
    )
    ours, peer = compare(repeats, lambda: ppl_emitter(e, trace_limit=1000), lambda: pyee_emitter(e))
    rows.append(
        (
            "emitter_capped",
            "  same, trace capped at 1,000 events",
            "pyee.EventEmitter",
            "deliveries/s",
            e * FANOUT,
            ours,
            peer,
        )
    )

    c = size["customers"]
    waits: dict[str, set[float]] = {"ours": set(), "simpy": set()}

    def ours_mm1() -> float:
        seconds, mean = cpu_seconds(lambda: ppl_mm1(c))
        waits["ours"].add(mean)
        return seconds

    def peer_mm1() -> float:
        seconds, mean = cpu_seconds(lambda: simpy_mm1(c))
        waits["simpy"].add(mean)
        return seconds

    ours, peer = compare(repeats, ours_mm1, peer_mm1)
    rows.append(("mm1", f"simulate() M/M/1, {c:,} customers", "SimPy 4", "customers/s", c, ours, peer))

    header = f"{'benchmark':<42}{'ours':>12}  {'peer':<18}{'peer':>12}  {'unit':<13}{'ratio':>6}  target"
    print(header)
    print("-" * len(header))
    ratios = {}
    for key, name, peer_name, unit, work, ours_s, peer_s in rows:
        ratio, verdict = ratio_and_verdict(ours_s, peer_s, TARGETS.get(key))
        ratios[key] = ratio
        print(
            f"{name:<42}{work / statistics.median(ours_s):>12,.0f}  {peer_name:<18}"
            f"{work / statistics.median(peer_s):>12,.0f}  {unit:<13}{ratio:>5.2f}x  {verdict}".rstrip()
        )
    print()
    print("CPU seconds per run, median (min-max):")
    for _, name, peer_name, _, _, ours_s, peer_s in rows:
        print(f"  {name.strip():<42} ours {_spread(ours_s)}   {peer_name} {_spread(peer_s)}")
    print()

    ours_w, simpy_w = sorted(waits["ours"]), sorted(waits["simpy"])
    same = len(ours_w) == 1 and ours_w == simpy_w
    print(
        f"M/M/1 mean wait: ours {ours_w[0]!r}, SimPy {simpy_w[0]!r} -> {'identical' if same else 'DIFFERENT'}"
    )
    print()
    print(f"ratio pubsub_vs_asyncio_queue {ratios['pubsub']:.3f}")
    print(f"ratio emitter_vs_pyee {ratios['emitter']:.3f}")
    print(f"ratio simulate_vs_simpy {ratios['mm1']:.3f}")
    if not same:
        print(f"error: the M/M/1 mean waits differ (ours {ours_w}, SimPy {simpy_w})", file=sys.stderr)
        return 1
    return 0


def _spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.3f} ({min(seconds):.3f}-{max(seconds):.3f})"


if __name__ == "__main__":
    sys.exit(main())
