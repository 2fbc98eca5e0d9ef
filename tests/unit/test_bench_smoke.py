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
