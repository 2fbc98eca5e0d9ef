"""Benchmarks: pushpull_lab's Queue and Worker next to the tools people would otherwise use.

Run from the repository root::

    .venv/bin/python bench/bench_queues.py --redis redis://127.0.0.1:6379/0   # full sizes
    .venv/bin/python bench/bench_queues.py --quick                             # a smoke run

Without ``--redis`` the URL comes from ``PUSHPULL_REDIS_URL``; with neither, only the
in-memory part runs and the script prints a note that the Redis part was skipped.

1. **Memory** (CPU time of this process, ``time.process_time``: everything happens here).
   ``ppl.Queue`` + ``ppl.Worker(concurrency=10)`` with a no-op ``async`` processor on a
   real-time ``ppl.Lab(backend="memory")`` under ``asyncio.run()``. The worker is started
   and idle; the clock starts; ``Queue.add_bulk`` adds N jobs; the clock stops when
   ``worker.completed`` reaches N (looked at every millisecond). Against a raw asyncio
   worker pool: one ``asyncio.Queue``, 10 consumer tasks that ``await`` the same no-op and
   call ``task_done()``; the clock runs from the first ``put_nowait`` until ``join()``
   returns. Two more rows: the same with a job that does ``await asyncio.sleep(0)`` on both
   sides (so the 10 slots really interleave), and the lab side run in ``ppl.simulate()``.
2. **Redis** (wall time, ``time.perf_counter``: the work is shared between a client, the
   Redis server and, for rq, worker processes). One server, a fresh queue name per run,
   every key deleted afterwards:

   - the lab: ``ppl.Lab(backend=URL)``, ``Queue.add_bulk`` + ``Worker(concurrency=10)``,
     no-op async processor; done when ``worker.completed`` reaches N;
   - ``bullmq``: ``Queue.addBulk`` + ``Worker`` with ``concurrency`` 10 and a no-op async
     processor; done when the worker's ``completed`` event has fired N times;
   - ``rq``: 10 ``rq.SimpleWorker`` processes (an rq worker runs one job at a time; a
     SimpleWorker runs it in its own process instead of forking a child per job);
     ``Queue.enqueue_many`` enqueues N jobs calling a no-op function; done when rq's
     finished-job registry holds N jobs (looked at every 2 ms).

   On every side the workers are started and idle before the clock starts, and the clock
   starts just before the jobs are added; process start-up is never timed. The lab and
   bullmq runs each happen in a fresh Python process: bullmq 3.4.4's ``Worker.close()``
   sometimes never returns (it cancels the worker's blocking BZPOPMIN), and a fresh process
   lets the next run start regardless; the script says how often that happened.
   ``--phases`` adds a split for the lab and bullmq: add N jobs with no worker running,
   then start the worker and process them.

Each benchmark runs ``--repeats`` times (default 5), rotating the order of the sides
between repeats so that a busy, shared machine slows them alike. Rates are medians; a
ratio is the median of the per-repeat ratios peer time / our time (above 1: ours faster).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from _common import machine, ratio_and_verdict  # bench/ is on sys.path when a script here runs

import pushpull_lab as ppl

CONCURRENCY = 10
POLL = 0.001  # how often the lab side looks at worker.completed (seconds)
RQ_POLL = 0.002  # how often the rq side looks at the finished-job registry (seconds)
CLOSE_TIMEOUT = 5.0  # seconds to wait for a worker to close after the timed part
BENCH_DIR = Path(__file__).resolve().parent

FULL = {"memory_jobs": 20_000, "redis_jobs": 2_000, "repeats": 5}
QUICK = {"memory_jobs": 300, "redis_jobs": 100, "repeats": 3}

TARGETS = {"memory": 0.5, "bullmq": 1.0, "rq": 1.0}


async def _async_noop(_job: object) -> None:
    return None


async def _async_yield(_job: object) -> None:
    """A job that awaits something: it gives the loop a turn, so the 10 slots interleave."""
    await asyncio.sleep(0)


def rq_noop(_i: object) -> None:
    """The job rq's workers run (imported by name: ``bench_queues.rq_noop``)."""
    return None


# -- 1. memory: Queue + Worker against an asyncio worker pool ---------------------------------


async def _lab_memory_run(jobs: int, lab: ppl.Lab, processor: Callable) -> float:
    specs = [{"name": "noop", "data": i} for i in range(jobs)]
    queue = ppl.Queue("bench", lab=lab)
    worker = ppl.Worker("bench", processor, concurrency=CONCURRENCY, lab=lab)
    await asyncio.sleep(0.01)  # the worker has started and is blocked on the empty queue
    start = time.process_time()
    await queue.add_bulk(specs)
    while worker.completed < jobs:
        await asyncio.sleep(POLL)
    elapsed = time.process_time() - start
    await worker.close()
    await queue.close()
    if worker.completed != jobs or worker.failed:
        raise RuntimeError(f"the lab's worker ended with {worker!r}")
    return elapsed


def lab_memory(jobs: int, processor: Callable = _async_noop) -> float:
    """CPU seconds for the lab's memory Queue + Worker to process ``jobs`` no-op jobs."""

    async def main() -> float:
        return await _lab_memory_run(jobs, ppl.Lab(backend="memory"), processor)

    gc.collect()
    return asyncio.run(main())


def lab_memory_simulated(jobs: int) -> float:
    """The same in ``ppl.simulate()`` (virtual time); CPU seconds."""

    async def main(lab: ppl.Lab) -> float:
        return await _lab_memory_run(jobs, lab, _async_noop)

    gc.collect()
    return ppl.simulate(main, seed=1).value


def asyncio_pool(jobs: int, processor: Callable = _async_noop) -> float:
    """CPU seconds for one asyncio.Queue + 10 consumer tasks to process ``jobs`` no-op jobs."""

    async def main() -> float:
        queue: asyncio.Queue = asyncio.Queue()

        async def consume() -> None:
            while True:
                item = await queue.get()
                await processor(item)
                queue.task_done()

        consumers = [asyncio.create_task(consume()) for _ in range(CONCURRENCY)]
        await asyncio.sleep(0)
        start = time.process_time()
        for i in range(jobs):
            queue.put_nowait(i)
        await queue.join()
        elapsed = time.process_time() - start
        for c in consumers:
            c.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        return elapsed

    gc.collect()
    return asyncio.run(main())


# -- 2. real Redis: the lab, bullmq and rq ----------------------------------------------------


def _queue_name(side: str) -> str:
    return f"bench-{side}-{uuid.uuid4().hex[:10]}"


async def _finish(aw: object) -> bool:
    """Await a close/cleanup step for at most CLOSE_TIMEOUT seconds; False if it did not return."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait([task], timeout=CLOSE_TIMEOUT)
    return bool(done)


async def lab_redis(url: str, jobs: int, phases: bool = False) -> dict:
    """The lab's Redis Queue + Worker(concurrency 10) on ``jobs`` no-op jobs; wall seconds.

    ``phases``: add every job first with no worker running, then start the worker; the
    result's ``add`` and ``process`` say how long each part took.
    """
    name = _queue_name("ppl")
    lab = ppl.Lab(backend=url)
    queue = ppl.Queue(name, lab=lab)
    storage = queue.storage
    specs = [{"name": "noop", "data": i} for i in range(jobs)]
    worker = None
    if not phases:
        worker = ppl.Worker(name, _async_noop, concurrency=CONCURRENCY, lab=lab)
        await asyncio.sleep(0.2)  # connected, blocked on the empty queue
    start = time.perf_counter()
    await queue.add_bulk(specs)
    added = time.perf_counter()
    if worker is None:
        worker = ppl.Worker(name, _async_noop, concurrency=CONCURRENCY, lab=lab)
    while worker.completed < jobs:
        await asyncio.sleep(POLL)
    done = time.perf_counter()
    closed = await _finish(worker.close())
    if worker.completed != jobs or worker.failed:
        raise RuntimeError(f"the lab's worker ended with {worker!r}")
    await _finish(queue.obliterate())
    await queue.close()
    await _finish(storage.aclose())
    return {"seconds": done - start, "add": added - start, "process": done - added, "close_hung": not closed}


async def bullmq_redis(url: str, jobs: int, phases: bool = False) -> dict:
    """bullmq's Queue.addBulk + Worker(concurrency 10) on ``jobs`` no-op jobs; wall seconds."""
    import bullmq

    name = _queue_name("bullmq")
    completed = failed = 0

    def on_completed(*_args: object) -> None:
        nonlocal completed
        completed += 1

    def on_failed(_job: object, err: object) -> None:
        nonlocal failed
        failed += 1
        print(f"bullmq job failed: {err!r}", file=sys.stderr)

    async def process(_job: object, _token: str) -> None:
        return None

    def start_worker() -> bullmq.Worker:
        w = bullmq.Worker(name, process, {"connection": url, "concurrency": CONCURRENCY})
        w.on("completed", on_completed)
        w.on("failed", on_failed)
        return w

    queue = bullmq.Queue(name, {"connection": url})
    specs = [{"name": "noop", "data": i} for i in range(jobs)]
    worker = None
    if not phases:
        worker = start_worker()
        await asyncio.sleep(0.2)  # connected, blocked on the empty queue
    start = time.perf_counter()
    await queue.addBulk(specs)
    added = time.perf_counter()
    if worker is None:
        worker = start_worker()
    while completed + failed < jobs:
        await asyncio.sleep(POLL)
    done = time.perf_counter()
    # bullmq 3.4.4: Worker.close() sometimes never returns when it cancels the worker's
    # blocking BZPOPMIN (seen about 1 run in 4 here). The jobs are done and timed by then.
    closed = await _finish(worker.close())
    if failed:
        raise RuntimeError(f"bullmq: {failed} job(s) failed")
    await _finish(queue.obliterate(force=True))
    await _finish(queue.close())
    return {"seconds": done - start, "add": added - start, "process": done - added, "close_hung": not closed}


_CHILD = """\
import sys
sys.path.insert(0, sys.argv[1])
import bench_queues
bench_queues._child(*sys.argv[2:])
"""
_SIDES = {"ppl": lab_redis, "bullmq": bullmq_redis}


def _child(side: str, url: str, jobs: str, phases: str) -> None:
    """Entry point of the process that runs one Redis measurement (see :func:`in_child`)."""
    loop = asyncio.new_event_loop()
    gc.collect()
    result = loop.run_until_complete(_SIDES[side](url, int(jobs), phases == "1"))
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # skip the loop's teardown: it would wait for a hung close forever


def in_child(side: str, url: str, jobs: int, phases: bool = False) -> dict:
    """Run one Redis measurement of the lab or bullmq in a fresh Python process.

    A fresh process for every run: a worker whose close() hangs (bullmq, see above) cannot
    hold up the next run, and both sides start from the same clean interpreter.
    """
    args = [sys.executable, "-c", _CHILD, str(BENCH_DIR), side, url, str(jobs), "1" if phases else "0"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the {side} run failed (exit status {done.returncode}):\n{done.stdout}")
    return json.loads(found[-1][len("RESULT ") :])


_RQ_WORKER = """\
import sys
sys.path.insert(0, sys.argv[1])
import bench_queues
bench_queues._rq_worker(*sys.argv[2:])
"""


def _rq_worker(url: str, queue_name: str, worker_name: str) -> None:
    """Entry point of one rq worker process. ``bench_queues`` is imported before the worker
    starts, so no job pays for importing ``bench_queues.rq_noop``."""
    import redis
    import rq

    connection = redis.Redis.from_url(url)
    queue = rq.Queue(queue_name, connection=connection)
    worker = rq.SimpleWorker([queue], name=worker_name, connection=connection)
    worker.work(burst=False, logging_level="WARNING")


def rq_redis(url: str, jobs: int) -> float:
    """Wall seconds for 10 rq SimpleWorker processes to process ``jobs`` no-op jobs."""
    import redis
    import rq

    name = _queue_name("rq")
    connection = redis.Redis.from_url(url)
    queue = rq.Queue(name, connection=connection)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RQ_WORKER, str(BENCH_DIR), url, name, f"{name}-w{i}"],
            stdout=subprocess.DEVNULL,
        )
        for i in range(CONCURRENCY)
    ]
    job_ids: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while rq.Worker.count(queue=queue) < CONCURRENCY:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("rq: the worker processes did not start")
            time.sleep(0.05)
        time.sleep(0.3)  # every worker is now blocked on the empty queue
        specs = [rq.Queue.prepare_data("bench_queues.rq_noop", (i,)) for i in range(jobs)]
        finished, failed = queue.finished_job_registry, queue.failed_job_registry
        gc.collect()
        start = time.perf_counter()
        job_ids = [job.id for job in queue.enqueue_many(specs)]
        while finished.count < jobs:
            if failed.count:
                raise RuntimeError(f"rq: {failed.count} job(s) failed")
            time.sleep(RQ_POLL)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)  # warm shutdown: the workers are idle
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # The queue's keys and the workers' keys contain the queue name; jobs and results do not.
        keys = list(connection.scan_iter(match=f"*{name}*", count=1000))
        keys += [f"rq:{kind}:{job_id}" for job_id in job_ids for kind in ("job", "results")]
        for i in range(0, len(keys), 500):
            connection.delete(*keys[i : i + 500])
        connection.srem("rq:queues", queue.key)  # rq's set of known queues
        connection.close()
    return elapsed


# -- running and reporting --------------------------------------------------------------------


def rotate(repeats: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every side ``repeats`` times, rotating the order; seconds per side."""
    names = list(sides)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        if r % 2:
            order.reverse()
        for n in order:
            out[n].append(sides[n]())
    return out


def redis_version(url: str) -> str:
    import redis

    connection = redis.Redis.from_url(url)
    try:
        return connection.info("server")["redis_version"]
    finally:
        connection.close()


def pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--repeats", type=int, help="runs of each side (default 5; 3 with --quick)")
    parser.add_argument(
        "--redis", metavar="URL", help="Redis server for part 2 (default: $PUSHPULL_REDIS_URL; none: skipped)"
    )
    parser.add_argument("--memory-jobs", type=int, metavar="N", help="jobs per in-memory run")
    parser.add_argument("--redis-jobs", type=int, metavar="N", help="jobs per Redis run")
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time adding and processing separately on Redis (the lab and bullmq)",
    )
    args = parser.parse_args(argv)
    size = dict(QUICK if args.quick else FULL)
    repeats = args.repeats or size["repeats"]
    mjobs = args.memory_jobs or size["memory_jobs"]
    rjobs = args.redis_jobs or size["redis_jobs"]
    url = args.redis or os.environ.get("PUSHPULL_REDIS_URL", "").strip() or None
    if url:
        missing = [m for m in ("bullmq", "rq") if importlib.util.find_spec(m) is None]
        if missing:
            print(
                f"error: the Redis part needs {' and '.join(missing)}: pip install -e .[bench]",
                file=sys.stderr,
            )
            return 2

    print(
        f"pushpull-lab queue benchmarks, {datetime.date.today()}"
        f"{' (--quick: sizes too small to mean much)' if args.quick else ''}"
    )
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), {machine()}")
    print(
        f"pushpull-lab {ppl.__version__}, redis-py {pkg('redis')}, bullmq {pkg('bullmq')}, rq {pkg('rq')}; "
        f"{repeats} repeats each, order rotated; medians"
    )
    if url:
        print(f"Redis server {redis_version(url)} at {url}")
    print(f"load average before: {_load()}")
    print()

    rows = []  # (key, benchmark, peer, clock, jobs, our seconds, peer seconds)
    t = rotate(repeats, {"ours": lambda: lab_memory(mjobs), "peer": lambda: asyncio_pool(mjobs)})
    rows.append(
        ("memory", f"memory Queue+Worker x10, {mjobs:,} jobs", "asyncio pool x10", "CPU", mjobs, *t.values())
    )
    t = rotate(
        repeats,
        {"ours": lambda: lab_memory(mjobs, _async_yield), "peer": lambda: asyncio_pool(mjobs, _async_yield)},
    )
    rows.append(
        ("memory_yield", "  same, job awaits asyncio.sleep(0)", "asyncio pool x10", "CPU", mjobs, *t.values())
    )
    t = rotate(repeats, {"ours": lambda: lab_memory_simulated(mjobs), "peer": lambda: asyncio_pool(mjobs)})
    rows.append(
        ("memory_sim", "  same, lab under ppl.simulate()", "asyncio pool x10", "CPU", mjobs, *t.values())
    )

    hung: dict[str, int] = {"ppl": 0, "bullmq": 0}

    def redis_side(side: str, phases: bool = False) -> Callable[[], float | dict]:
        def run() -> float | dict:
            result = in_child(side, url, rjobs, phases)
            hung[side] += result["close_hung"]
            return result if phases else result["seconds"]

        return run

    if url:
        t = rotate(
            repeats,
            {"ours": redis_side("ppl"), "bullmq": redis_side("bullmq"), "rq": lambda: rq_redis(url, rjobs)},
        )
        name = f"Redis Queue+Worker x10, {rjobs:,} jobs"
        rows.append(("bullmq", name, "bullmq Worker x10", "wall", rjobs, t["ours"], t["bullmq"]))
        rows.append(("rq", name, "rq SimpleWorker x10", "wall", rjobs, t["ours"], t["rq"]))

    header = f"{'benchmark':<40}{'ours':>10}  {'peer':<20}{'peer':>10}  {'unit':<8}{'clock':<6}{'ratio':>6}  target"
    print(header)
    print("-" * len(header))
    ratios = {}
    for key, name, peer_name, clock, work, ours_s, peer_s in rows:
        ratio, verdict = ratio_and_verdict(ours_s, peer_s, TARGETS.get(key))
        ratios[key] = ratio
        print(
            f"{name:<40}{work / statistics.median(ours_s):>10,.0f}  {peer_name:<20}"
            f"{work / statistics.median(peer_s):>10,.0f}  {'jobs/s':<8}{clock:<6}{ratio:>5.2f}x  {verdict}".rstrip()
        )
    print()
    print("seconds per run, median (min-max):")
    for _, name, peer_name, clock, _, ours_s, peer_s in rows:
        print(f"  {name.strip():<40} {clock:<4}  ours {_spread(ours_s)}   {peer_name} {_spread(peer_s)}")
    print()

    if url and args.phases:
        t = rotate(repeats, {"ours": redis_side("ppl", True), "bullmq": redis_side("bullmq", True)})
        print(f"--phases: Redis, {rjobs:,} jobs added with no worker running, then processed (wall, jobs/s):")
        for side, label in (("ours", "pushpull-lab add_bulk"), ("bullmq", "bullmq addBulk")):
            add = statistics.median(r["add"] for r in t[side])
            proc = statistics.median(r["process"] for r in t[side])
            print(f"  {label:<24} add {rjobs / add:>8,.0f}   then Worker x10 {rjobs / proc:>8,.0f}")
        print()

    for side, label in (("ppl", "pushpull-lab Worker"), ("bullmq", "bullmq Worker")):
        if hung[side]:
            print(
                f"note: {label}.close() had not returned {CLOSE_TIMEOUT:g} s after the timed part in "
                f"{hung[side]} run(s); that run's process was ended (the jobs were all done and timed)"
            )

    if not url:
        print(
            "note: the Redis part was skipped: no Redis URL (pass --redis redis://HOST:PORT/DB "
            "or set PUSHPULL_REDIS_URL)"
        )
        print()
    print(f"load average after: {_load()}")
    print(f"ratio memory_vs_asyncio_pool {ratios['memory']:.3f}")
    print(f"ratio memory_yield_vs_asyncio_pool {ratios['memory_yield']:.3f}")
    print(f"ratio memory_simulate_vs_asyncio_pool {ratios['memory_sim']:.3f}")
    if url:
        print(f"ratio redis_vs_bullmq {ratios['bullmq']:.3f}")
        print(f"ratio redis_vs_rq {ratios['rq']:.3f}")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.3f} ({min(seconds):.3f}-{max(seconds):.3f})"


if __name__ == "__main__":
    sys.exit(main())
