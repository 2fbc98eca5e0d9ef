"""Latency distributions: how long messages took from one event to another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..trace import Stats, Trace, format_seconds
from .style import new_figure, series_colour


def latency(
    traces: Trace | dict[str, Trace | Sequence[float]],
    start: str = "publish",
    end: str = "deliver",
    *,
    where: dict[str, Any] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    width: float = 8.0,
):
    """Cumulative distribution of ``start``→``end`` latency, one curve per trace.

    A curve further left is faster; where it reaches the top is the worst case. The p50
    and p99 of each series are in the legend. A series is a trace (``start``/``end``/
    ``where`` pick its latencies) or a list of latencies in seconds, e.g.
    ``{"phone": trace.latencies(peer="phone")}``; then say what was measured with
    ``xlabel=`` (the default label names ``start`` and ``end``).
    """
    if isinstance(traces, Trace):
        traces = {"latency": traces}
    fig, ax = new_figure(width, 3.2)
    drawn = 0
    for i, (label, series) in enumerate(traces.items()):
        if isinstance(series, Trace):
            series = series.latencies(start, end, **(where or {}))
        values = sorted(series)
        if not values:
            continue
        drawn += 1
        stats = Stats.of(values)
        n = len(values)
        ax.step(
            values,
            [(k + 1) / n for k in range(n)],
            where="post",
            color=series_colour(i),
            lw=1.8,
            label=f"{label}: p50 {format_seconds(stats.p50)}, p99 {format_seconds(stats.p99)}",
        )
    ax.set_xlabel(xlabel or f"latency from {start} to {end} (s)")
    ax.set_ylabel("fraction of messages")
    ax.set_ylim(0, 1.02)
    ax.margins(x=0.03)  # a series of zero latencies stays visible, off the y axis
    ax.set_title(title or f"Latency, {start} → {end}")
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    else:
        ax.text(0.5, 0.5, "no latencies to show", transform=ax.transAxes, ha="center", color="#555555")
    return fig
