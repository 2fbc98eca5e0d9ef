"""Worker processes on a real Redis server (issue 3, item 4: across processes and machines).

Each test starts ``python -m pushpull_lab worker`` processes on one queue of the real
Redis server behind ``PUSHPULL_REDIS_URL`` (a unique queue per test) and drives them from
the outside: jobs in with ``ppl.Queue(...).add_bulk``, signals to the processes, results
read back from Redis. The processor (:mod:`processors`) records every run in Redis, so
"none lost" and "how many ran twice" are measured, not assumed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio

import pushpull_lab as ppl

pytestmark = pytest.mark.redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STARTED = "pulling from queue"


class WorkerProcess:
    """One ``python -m pushpull_lab worker`` process; its output is collected by a thread."""

    def __init__(self, redis_url: str, queue: str, *, name: str, concurrency: int, lock_duration: float):
        path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path, PPL_TEST_REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
        command = [
            sys.executable,
            "-m",
            "pushpull_lab",
            "worker",
            "--redis",
            redis_url,
            "--queue",
            queue,
            "--concurrency",
            str(concurrency),
            "--processor",
            "processors:record",
            "--lock-duration",
            str(lock_duration),
            "--name",
            name,
            "--report-every",
            "1",
        ]
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            await asyncio.sleep(0.02)
        pytest.fail(f"{self.name} printed no line with {text!r} within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return "\n".join(f"  [{self.name}] {line}" for line in self.lines)

    def end(self) -> None:
        """In a finally: make sure the process is gone, whatever happened."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        finally:
            self._reader.join(5)
            self.proc.stdout.close()


def count_in(line: str, label: str) -> int:
    """``count_in("... | lock lost 2 | ...", "lock lost")`` → 2."""
    return int(line.split(f"| {label} ", 1)[1].split(" ", 1)[0])


async def wait_for_counts(queue: ppl.Queue, done, timeout: float, what: str) -> dict[str, int]:
    """Poll ``get_job_counts`` until ``done(counts)``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await queue.get_job_counts()
        if done(counts):
            return counts
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}; counts are {counts}")
        await asyncio.sleep(0.05)


async def cleanup(queue: ppl.Queue, client: redis.asyncio.Redis, key: str) -> None:
    await queue.obliterate()
    stale = [k async for k in client.scan_iter(match=f"{key}:*")]
    if stale:
        await client.delete(*stale)


# -- three processes, one SIGKILLed ----------------------------------------------------------
JOBS = 2000
WORKERS = 3
CONCURRENCY = 8
LOCK_DURATION = 2.0  # seconds: the killed worker's jobs stall and are recovered within ~3 s
SLEEP = 0.05  # seconds each job is held, so every worker always has jobs in hand


def test_three_worker_processes_lose_no_job_when_one_is_sigkilled(redis_url, capsys):
    """3 worker processes share 2,000 jobs; one is SIGKILLed holding jobs: all complete, none lost, duplicates bounded."""
    workers: list[WorkerProcess] = []

    def show(text: str) -> None:  # the numbers belong in every log, passed or failed
        with capsys.disabled():
            print(text, flush=True)

    try:
        asyncio.run(asyncio.wait_for(_sigkill_scenario(redis_url, workers, show), 150))
    finally:
        for w in workers:
            w.end()


async def _sigkill_scenario(redis_url: str, workers: list[WorkerProcess], show) -> None:
    started = time.monotonic()
    name = f"it-sigkill-{uuid.uuid4().hex[:8]}"
    key = f"ppl-test:{name}"
    lab = ppl.Lab(backend=redis_url)
    queue = ppl.Queue(name, lab=lab)
    client = redis.asyncio.from_url(redis_url, decode_responses=True)
    try:
        for i in range(WORKERS):
            workers.append(
                WorkerProcess(
                    redis_url, name, name=f"w{i}", concurrency=CONCURRENCY, lock_duration=LOCK_DURATION
                )
            )
        for w in workers:
            await w.wait_for_line(STARTED, 30)

        # The workers pull while the jobs are still being added.
        adding = asyncio.create_task(
            queue.add_bulk([{"name": "record", "data": {"key": key, "sleep": SLEEP}} for _ in range(JOBS)])
        )

        # Mid-run: a quarter done, and the victim must be holding jobs. SIGSTOP freezes it so
        # what it holds can be read exactly; then SIGKILL: no finally, no cleanup, no release.
        victim = workers[0]
        at_kill = await wait_for_counts(queue, lambda c: c["completed"] >= JOBS // 4, 60, "a quarter done")
        held: set[str] = set()
        for _ in range(50):
            os.kill(victim.pid, signal.SIGSTOP)
            await asyncio.sleep(0.2)  # let commands already sent reach Redis
            held = await client.smembers(f"{key}:inflight:{victim.pid}")
            if held:
                break
            os.kill(victim.pid, signal.SIGCONT)
            await asyncio.sleep(0.05)
        assert held, f"the victim never held a job in flight:\n{victim.output()}"
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.proc.wait(timeout=10) == -signal.SIGKILL
        ids = {job.id for job in await asyncio.wait_for(adding, 60)}
        assert len(ids) == JOBS

        counts = await wait_for_counts(
            queue,
            lambda c: c["completed"] + c["failed"] >= JOBS and c["active"] == 0,
            120,
            f"all {JOBS} jobs to finish after the SIGKILL",
        )
        finished = time.monotonic()

        # The survivors stop gracefully on SIGTERM: exit status 0.
        for w in workers[1:]:
            w.proc.send_signal(signal.SIGTERM)
        for w in workers[1:]:
            assert w.proc.wait(timeout=30) == 0, f"{w.name} did not stop cleanly:\n{w.output()}"

        finals = {w.name: await w.wait_for_line("stopped |", 10) for w in workers[1:]}
        recovered = sum(count_in(line, "recovered stalled") for line in finals.values())
        lock_lost = sum(count_in(line, "lock lost") for line in finals.values())

        runs = {job_id: int(n) for job_id, n in (await client.hgetall(f"{key}:runs")).items()}
        completed = await queue.get_jobs(["completed"])
        duplicates = {job_id: n for job_id, n in runs.items() if n > 1}
        extra_runs = sum(n - 1 for n in duplicates.values())
        stalled = {job.id: job.stalled_count for job in completed if job.stalled_count}
        by_pid = Counter(job.result["pid"] for job in completed)
        pid_names = {w.pid: w.name for w in workers}

        show(
            f"\n[worker processes] {JOBS} jobs, {WORKERS} worker processes x concurrency {CONCURRENCY}, "
            f"lock {LOCK_DURATION:g} s, {SLEEP * 1000:g} ms per job"
            f"\nkilled {victim.name} (pid {victim.pid}) at {at_kill['completed']} completed, holding "
            f"{len(held)} job(s) in its processor: {sorted(held, key=int)}"
            f"\ncounts at the end: {counts}"
            f"\njobs processed more than once: {len(duplicates)} ({extra_runs} extra run(s)): "
            f"{sorted(duplicates, key=int)}"
            f"\njobs recovered as stalled: {len(stalled)} ({len(stalled.keys() - held)} of them not in its processor "
            "when it was killed); completions by worker: "
            + ", ".join(f"{pid_names.get(pid, pid)}={n}" for pid, n in sorted(by_pid.items()))
            + f"\nthe survivors recovered {recovered} stalled job(s) and traced {lock_lost} lock_lost event(s)"
            f"\nwall time: {finished - started:.1f} s from starting the workers to the last job"
        )
        output = "\n".join(w.output() for w in workers)

        assert counts == {"waiting": 0, "active": 0, "delayed": 0, "completed": JOBS, "failed": 0}, output
        assert {job.id for job in completed} == ids
        lost = ids - runs.keys()
        assert not lost, f"jobs never processed: {sorted(lost, key=int)}"
        # Every job the victim held had started and could not finish: it ran again elsewhere.
        assert all(runs[job_id] >= 2 for job_id in held), {job_id: runs[job_id] for job_id in held}
        assert all(stalled.get(job_id, 0) >= 1 for job_id in held), stalled
        # At least once, not "many times": the extra runs come from the victim's jobs in hand
        # (plus at most a slot's worth that finished processing but not yet completing).
        assert extra_runs <= len(held) + CONCURRENCY, (
            f"{extra_runs} extra runs > {len(held)} held + {CONCURRENCY}; runs: {duplicates}; "
            f"stalled: {stalled}; lock_lost traced by live workers: {lock_lost}\n{output}"
        )
    finally:
        await cleanup(queue, client, key)
        await client.aclose()
        await queue.close()


# -- a graceful stop ----------------------------------------------------------------------------
def test_sigterm_makes_a_worker_process_finish_its_jobs_in_hand_and_exit_0(redis_url):
    """SIGTERM: the worker process stops pulling, completes the jobs it holds (none abandoned) and exits 0."""
    workers: list[WorkerProcess] = []
    try:
        asyncio.run(asyncio.wait_for(_sigterm_scenario(redis_url, workers), 90))
    finally:
        for w in workers:
            w.end()


async def _sigterm_scenario(redis_url: str, workers: list[WorkerProcess]) -> None:
    jobs = 40
    name = f"it-sigterm-{uuid.uuid4().hex[:8]}"
    key = f"ppl-test:{name}"
    lab = ppl.Lab(backend=redis_url)
    queue = ppl.Queue(name, lab=lab)
    client = redis.asyncio.from_url(redis_url, decode_responses=True)
    try:
        worker = WorkerProcess(redis_url, name, name="graceful", concurrency=4, lock_duration=10)
        workers.append(worker)
        await worker.wait_for_line(STARTED, 30)
        await queue.add_bulk([{"name": "record", "data": {"key": key, "sleep": 0.5}} for _ in range(jobs)])

        inflight = f"{key}:inflight:{worker.pid}"
        deadline = time.monotonic() + 30
        while not await client.smembers(inflight):
            assert time.monotonic() < deadline, f"no job started within 30 s:\n{worker.output()}"
            await asyncio.sleep(0.02)
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=30) == 0, worker.output()

        counts = await queue.get_job_counts()
        runs = await client.hgetall(f"{key}:runs")
        assert await client.smembers(inflight) == set(), "a processor was cut off"
        assert counts["active"] == 0 and counts["failed"] == 0, counts
        assert counts["completed"] >= 1 and counts["completed"] + counts["waiting"] == jobs, counts
        assert counts["waiting"] > 0, "it should have stopped pulling, not emptied the queue"
        assert sorted(set(runs.values())) == ["1"], runs
        assert any("stopped |" in line for line in worker.lines), worker.output()
    finally:
        await cleanup(queue, client, key)
        await client.aclose()
        await queue.close()
