"""What every benchmark script prints about the machine it ran on."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """``'Linux x86_64, Intel(R) Xeon(R) Processor, nproc=2'``: the CPUs this process may use."""
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, nproc={nproc}"


def ratio_and_verdict(ours_s: list[float], peer_s: list[float], target: float | None) -> tuple[float, str]:
    """The median of per-repeat ratios peer time / our time (> 1: we are faster), and the
    verdict against ``target``: the one rule every benchmark page states."""
    import statistics

    ratio = statistics.median(p / o for o, p in zip(ours_s, peer_s))
    verdict = "" if target is None else f">= {target}x " + ("met" if ratio >= target else "NOT met")
    return ratio, verdict
