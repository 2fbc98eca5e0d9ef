"""bench/bench_push_and_clock.py runs: a smoke run, not a timing check."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "bench_push_and_clock.py"


def test_bench_quick_run_prints_three_ratios_and_matching_mm1_waits():
    """The --quick run exits 0 (so the M/M/1 waits matched SimPy's) and prints the three ratio lines."""
    missing = [m for m in ("simpy", "pyee") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the bench extras are not installed ({', '.join(missing)}): pip install -e .[bench]"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ratios = re.findall(r"^ratio (\w+) (\d+\.\d+)$", done.stdout, flags=re.MULTILINE)
    assert [name for name, _ in ratios] == [
        "pubsub_vs_asyncio_queue",
        "emitter_vs_pyee",
        "simulate_vs_simpy",
    ]
    assert all(float(value) > 0 for _, value in ratios)
    assert re.search(r"^M/M/1 mean wait: .* -> identical$", done.stdout, flags=re.MULTILINE)


QUEUES_SCRIPT = SCRIPT.with_name("bench_queues.py")
MEMORY_RATIOS = [
    "memory_vs_asyncio_pool",
    "memory_yield_vs_asyncio_pool",
    "memory_simulate_vs_asyncio_pool",
]


def _run_queues_quick(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(QUEUES_SCRIPT), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_bench_queues_quick_run_without_redis_does_the_memory_part_and_says_it_skipped_redis():
    """No Redis URL: the memory benchmarks run, the Redis part is skipped with a note."""
    env = {k: v for k, v in os.environ.items() if k != "PUSHPULL_REDIS_URL"}
    done = _run_queues_quick(env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    ratios = re.findall(r"^ratio (\w+) (\d+\.\d+)$", done.stdout, flags=re.MULTILINE)
    assert [name for name, _ in ratios] == MEMORY_RATIOS
    assert all(float(value) > 0 for _, value in ratios)
    assert "note: the Redis part was skipped" in done.stdout


@pytest.mark.redis
def test_bench_queues_quick_run_on_redis_compares_with_bullmq_and_rq(redis_url):
    """With a Redis server the lab, bullmq and rq all process their jobs (no timing checked)."""
    missing = [m for m in ("bullmq", "rq") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the bench extras are not installed ({', '.join(missing)}): pip install -e .[bench]"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)

    done = _run_queues_quick("--redis", redis_url)
    assert done.returncode == 0, done.stdout + done.stderr
    ratios = re.findall(r"^ratio (\w+) (\d+\.\d+)$", done.stdout, flags=re.MULTILINE)
    assert [name for name, _ in ratios] == [*MEMORY_RATIOS, "redis_vs_bullmq", "redis_vs_rq"]
    assert all(float(value) > 0 for _, value in ratios)
    assert "the Redis part was skipped" not in done.stdout


def test_bench_scaling_quick_run_prints_a_wall_median():
    """bench_scaling.py --quick runs notebook 10's push experiment at 1,000 clients and prints its median."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT.with_name("bench_scaling.py")), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    median = re.search(r"^wall_median_s (\d+\.\d+)", done.stdout, flags=re.MULTILINE)
    assert median and float(median.group(1)) > 0, done.stdout
