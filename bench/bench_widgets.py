"""Benchmark: slider-to-figure time of the experiment panels in notebooks 01-03.

Run from the repository root::

    .venv/bin/python bench/bench_widgets.py            # 40 moves per panel
    .venv/bin/python bench/bench_widgets.py --quick    # 5 moves per panel (a smoke run)

Each panel is built exactly as its notebook builds it (same scenario, same figure, same
summary). A "move" sets one control's value from Python (``control.value = x``), the same
trait change a browser slider causes; the panel then re-runs the virtual-time experiment,
draws the figure, renders it to PNG and replaces ``panel.image.value``. Controls are moved
round-robin to seeded random values, each different from the current one.

Per move it records the wall time around ``control.value = x`` (and the process's CPU time
over the same span, less sensitive to other work on a shared machine) and the panel's own
``last_update_seconds``, split into: simulate (the scenario), figure (building the
matplotlib Figure), png (``to_png``: matplotlib's layout and rendering) and the rest
(summary text, widget traits). It also times a LiveMonitor depth-figure redraw and a
TraceReplay frame. Medians are the numbers to read; the target is a median slider-to-figure
time <= 150 ms on this machine (DESIGN §5). This measures the kernel side only: the
browser's round trip (a few ms on localhost) and the PNG decode are not included.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pushpull_lab as ppl
from pushpull_lab import scenarios
from pushpull_lab.widgets import panel as panel_module

TARGET = 0.150  # seconds, median slider-to-figure


class Timer:
    """Wraps a function; remembers how long its last call took."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn, self.last = fn, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.last = time.perf_counter() - started


# -- the three notebook panels, as the notebooks build them ----------------------------------
def panel_01(sim: Timer, draw: Timer):
    def summary(run):
        v = run.value
        s = v["slow"]
        return (
            f"<b>slow-phone</b>: delivered {s['delivered']}, dropped {s['dropped']}, buffered {s['pending']} "
            f"&nbsp;·&nbsp; <b>publisher</b> held up {v['publisher_waited']:.2f} s, errors {v['publisher_errors']}"
            f"&nbsp;·&nbsp; phone latency p99 {ppl.trace.format_seconds(run.trace.latency(peer='slow-phone').p99)}"
        )

    sim.fn = lambda handling, interval, buffer, overflow: scenarios.slow_subscriber(
        handling=handling, interval=interval, buffer=buffer, overflow=overflow
    )
    draw.fn = lambda run: ppl.viz.depth(run.trace, ["slow-phone"], capacity=run.value["buffer"])
    return ppl.widgets.experiment(
        sim,
        draw=draw,
        summary=summary,
        handling=(0.05, 0.5, 0.05, 0.25),
        interval=(0.05, 0.5, 0.05, 0.1),
        buffer=(1, 40, 1, 5),
        overflow=["drop_newest", "drop_oldest", "block", "error"],
    )


def panel_02(sim: Timer, draw: Timer):
    def pulled(style, interval):
        run = scenarios.pull_styles(style, interval=interval)
        start, end = ("add", "fetch") if style == "blocking" else ("append", "consume")
        run.value["latency_values"] = run.trace.latencies(start, end)
        return run

    def summary(run):
        v = run.value
        return (
            f"<b>{v['requests']}</b> requests, <b>{v['empty']}</b> of them empty &nbsp;·&nbsp; "
            f"mean latency <b>{ppl.trace.format_seconds(v['latency'].mean)}</b>, "
            f"p99 <b>{ppl.trace.format_seconds(v['latency'].p99)}</b>"
        )

    sim.fn = pulled
    draw.fn = lambda run: ppl.viz.latency(
        {"store → consume": run.value["latency_values"]}, title="Latency of the 50 stories"
    )
    return ppl.widgets.experiment(
        sim, draw, summary, style=["short", "long", "blocking"], interval=(0.1, 4.0, 0.1, 1.0)
    )


def panel_03(sim: Timer, draw: Timer):
    def summary(run):
        v = run.value
        return (
            f"last job done at <b>{v['makespan']:g} s</b> &nbsp;·&nbsp; throughput <b>{v['throughput']:.2f}</b> jobs/s"
            f" &nbsp;·&nbsp; wait in queue: mean <b>{v['wait'].mean:.2f} s</b>, max <b>{v['wait'].max:.2f} s</b>"
        )

    sim.fn = lambda concurrency, duration, spacing: scenarios.worker_pool(
        jobs=40, duration=duration, concurrency=concurrency, spacing=spacing
    )
    draw.fn = lambda run: ppl.viz.depth(
        run.trace, ["video"], title="Jobs waiting in the queue", ylabel="jobs waiting"
    )
    return ppl.widgets.experiment(
        sim,
        draw=draw,
        summary=summary,
        concurrency=(1, 8, 1, 1),
        duration=(0.5, 4.0, 0.5, 2.0),
        spacing=(0.1, 2.0, 0.1, 0.5),
    )


PANELS = {
    "01 push: slow_subscriber + viz.depth": panel_01,
    "02 pull: pull_styles + viz.latency": panel_02,
    "03 workers: worker_pool + viz.depth": panel_03,
}


def choices(control) -> list[Any]:
    if hasattr(control, "options"):
        return list(control.options)
    n = round((control.max - control.min) / control.step)
    return [round(control.min + i * control.step, 10) for i in range(n + 1)]


def measure(build: Callable, moves: int, rng: random.Random) -> dict[str, list[float]]:
    sim, draw, png = Timer(None), Timer(None), Timer(panel_module.to_png)
    panel_module.to_png = png  # the panel module's reference: time matplotlib's rendering
    try:
        panel = build(sim, draw)
        controls = list(panel.controls.values())
        keys = ("wall", "cpu", "update", "simulate", "figure", "png", "rest")
        rows: dict[str, list[float]] = {k: [] for k in keys}
        for k in range(moves):
            control = controls[k % len(controls)]
            value = rng.choice([v for v in choices(control) if v != control.value])
            before = panel.image.value
            started, cpu = time.perf_counter(), time.process_time()
            control.value = value
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            if panel.image.value is before or "color:#b00" in panel.summary.value:
                raise SystemExit(f"move {k}: the figure was not replaced ({panel.summary.value[:200]})")
            rows["wall"].append(wall)
            rows["cpu"].append(cpu)
            rows["update"].append(panel.last_update_seconds)
            rows["simulate"].append(sim.last)
            rows["figure"].append(draw.last)
            rows["png"].append(png.last)
            rows["rest"].append(panel.last_update_seconds - sim.last - draw.last - png.last)
        return rows
    finally:
        panel_module.to_png = png.fn


def monitor_and_replay(repeats: int) -> dict[str, list[float]]:
    """A LiveMonitor depth-figure redraw and TraceReplay frames (no cache) on small examples."""
    out: dict[str, list[float]] = {"monitor figure": [], "replay frame": []}

    async def live():
        lab = ppl.Lab()
        bus = ppl.PubSub("alerts", lab=lab)
        bus.subscribe("a.*", lambda m: None, buffer=5, name="phone")
        mon = ppl.widgets.monitor(lab, every=60)
        for i in range(200):
            await bus.publish("a.x", i)
        for _ in range(repeats):
            mon._refresh(figure=True)
            out["monitor figure"].append(mon.draw_seconds)
        mon.stop()

    asyncio.run(live())
    run = scenarios.slow_subscriber()
    replay = ppl.widgets.replay(run, frames=repeats + 1, cache=1)
    for frame in range(repeats):
        replay.show(frame)
        out["replay frame"].append(replay.last_render_seconds)
    return out


def ms(v: float) -> str:
    return f"{v * 1e3:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 moves per panel (smoke run)")
    parser.add_argument("--moves", type=int, default=40, help="moves per panel (default 40)")
    args = parser.parse_args()
    moves = 5 if args.quick else args.moves
    print(
        f"# bench_widgets {datetime.date.today()} · Python {platform.python_version()} · "
        f"{os.cpu_count()} CPUs · matplotlib {version('matplotlib')} · ipywidgets {version('ipywidgets')}"
    )
    load = " · load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"# {moves} moves per panel; milliseconds; wall = around control.value = x, cpu = its process time{load}"
    )
    header = f"{'panel':<40} {'stat':<6}" + "".join(
        f"{k:>9}" for k in ("wall", "cpu", "update", "simulate", "figure", "png", "rest")
    )
    print(header)
    rng = random.Random(0)
    verdicts = []
    for name, build in PANELS.items():
        rows = measure(build, moves, rng)
        for stat, fn in (
            ("median", statistics.median),
            ("p90", lambda v: sorted(v)[int(0.9 * (len(v) - 1))]),
        ):
            print(f"{name:<40} {stat:<6}" + "".join(f"{ms(fn(rows[k])):>9}" for k in rows))
        median = statistics.median(rows["wall"])
        verdicts.append((name, median))
    extra = monitor_and_replay(5 if args.quick else 20)
    for name, values in extra.items():
        print(f"{name:<40} median {ms(statistics.median(values)):>9}")
    for name, median in verdicts:
        met = "met" if median <= TARGET else "MISSED"
        print(f"target {name.split(':')[0]} median {median * 1e3:.1f} ms <= {TARGET * 1e3:.0f} ms: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
