"""How full each buffer or queue was over time: the backlog a slow consumer builds."""

from __future__ import annotations

from ..trace import Trace
from .style import new_figure, series_colour


def depth(
    trace: Trace,
    names: list[str] | None = None,
    *,
    capacity: int | None = None,
    title: str = "Backlog over time",
    ylabel: str = "messages waiting",
    width: float = 8.0,
):
    """Step plot of ``trace.depth(name)`` for each name; returns a matplotlib Figure.

    Args:
        names: buffers/queues to plot (default: every actor or peer with depth events).
        capacity: draw the buffer limit as a dashed line.
    """
    if names is None:
        names = [n for n in trace.actors if trace.depth(n)]
    fig, ax = new_figure(width, 3.2)
    end = trace.end
    for i, name in enumerate(names):
        points = _settled(trace.depth(name))
        if not points:
            continue
        times = [0.0] + [t for t, _ in points] + [end]
        values = [0] + [d for _, d in points] + [points[-1][1]]
        ax.step(times, values, where="post", color=series_colour(i), lw=1.6, label=name)
    if capacity is not None:
        ax.axhline(capacity, color="#555555", ls="--", lw=1, label=f"buffer limit ({capacity})")
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    # A depth is a count: whole-number ticks, and an empty queue still gets a readable axis.
    top = max([capacity or 0] + [d for n in names for _, d in trace.depth(n)] + [1])
    ax.set_ylim(0, top * 1.08)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    if names:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return fig


def _settled(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Keep the depth *after* all changes at one instant.

    A message enqueued and delivered at the same virtual instant would otherwise draw a
    zero-width spike; the depth "at time t" a reader means is the one after t's events.
    """
    out: list[tuple[float, int]] = []
    for t, d in points:
        if out and out[-1][0] == t:
            out[-1] = (t, d)
        else:
            out.append((t, d))
    return out
