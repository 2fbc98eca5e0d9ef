"""The sequence diagram: one lane per actor, one arrow per exchange, drawn from its initiator.

Push arrows (blue) start at the producer side; pull arrows (vermillion) start at the
consumer. Reading which way the arrows point is reading push vs pull.
"""

from __future__ import annotations

from ..trace import Trace, direction
from .style import PALETTE, new_figure

# Exchanges a producer makes into a store a consumer will pull from: neither push nor pull.
DEPOSIT_KINDS = frozenset({"add", "append"})


def timeline(
    trace: Trace,
    *,
    actors: list[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    max_events: int = 400,
    title: str = "Who initiates each exchange",
    width: float = 9.0,
):
    """Draw the trace as lanes and arrows; returns a matplotlib Figure.

    Args:
        actors: lanes to show, top to bottom (default: everyone, in order of appearance).
        since, until: the time window (seconds) to draw.
        max_events: draw at most this many exchanges (the first ones in the window).

    Exchanges at the same instant are drawn side by side, a small step apart, so none hides
    another; the step is for reading only, not a time difference.
    """
    window = trace.filter(since=since, until=until)
    lanes = actors if actors is not None else window.actors
    y = {name: -i for i, name in enumerate(lanes)}
    fig, ax = new_figure(width, max(2.2, 0.55 * len(lanes) + 1.4))
    seen: set[str] = set()
    arrows = []
    for e in window:
        if e.actor not in y or (e.peer is not None and e.peer not in y):
            continue
        if e.kind == "drop" and e.peer is not None:
            ax.plot(
                e.time, y[e.peer], marker="x", color=PALETTE["drop"], markersize=8, mew=2, linestyle="none"
            )
            seen.add("drop")
            continue
        if e.kind == "error":
            ax.plot(e.time, y[e.actor], marker="*", color=PALETTE["error"], markersize=10, linestyle="none")
            seen.add("error")
            continue
        way = direction(e.kind) or ("other" if e.kind in DEPOSIT_KINDS else None)
        if way is None or e.peer is None or e.peer == e.actor:
            continue
        if len(arrows) >= max_events:
            break
        arrows.append((e, way))
    start = since if since is not None else 0.0
    end = until if until is not None else max(window.end, start + 1e-9)
    # Exchanges at the same instant would be drawn on top of each other and hide one
    # another; set them side by side, a small fixed step apart, centred on their time.
    step = (end - start) * 0.006 or 0.002
    at_instant: dict[float, int] = {}
    for e, _ in arrows:
        at_instant[e.time] = at_instant.get(e.time, 0) + 1
    placed: dict[float, int] = {}
    for e, way in arrows:
        i = placed.get(e.time, 0)
        placed[e.time] = i + 1
        x = e.time + (i - (at_instant[e.time] - 1) / 2) * step
        empty = e.kind == "empty_poll"  # a request that brought nothing: the cost of polling
        seen.add("empty" if empty else way)
        ax.annotate(
            "",
            xy=(x, y[e.peer]),
            xytext=(x, y[e.actor]),
            arrowprops={
                "arrowstyle": "-|>",
                "color": PALETTE[way],
                "lw": 1.2,
                "shrinkA": 3,
                "shrinkB": 3,
                "linestyle": (0, (2, 2)) if empty else "-",
                "alpha": 0.6 if empty else 1.0,
            },
        )
    ax.set_yticks([y[n] for n in lanes], lanes)
    ax.set_ylim(-len(lanes) + 0.4, 0.6)
    pad = (end - start) * 0.03 or 0.05
    ax.set_xlim(start - pad, end + pad)
    for lane in y.values():
        ax.axhline(lane, color="#dddddd", lw=0.8, zorder=0)
    ax.set_xlabel("time (s)")
    ax.set_title(title)
    _legend(ax, seen)
    return fig


def _legend(ax, seen: set[str]) -> None:
    from matplotlib.lines import Line2D

    labels = {
        "push": ("push: the producer side initiates", {"color": PALETTE["push"], "lw": 2}),
        "pull": ("pull: the consumer initiates", {"color": PALETTE["pull"], "lw": 2}),
        "empty": ("pull that found nothing", {"color": PALETTE["pull"], "lw": 2, "ls": ":", "alpha": 0.6}),
        "other": ("deposit into a store", {"color": PALETTE["other"], "lw": 2}),
        "drop": (
            "dropped",
            {"color": PALETTE["drop"], "marker": "x", "linestyle": "none", "markersize": 8, "mew": 2},
        ),
        "error": ("error", {"color": PALETTE["error"], "marker": "*", "linestyle": "none", "markersize": 10}),
    }
    handles = [Line2D([], [], label=labels[k][0], **labels[k][1]) for k in labels if k in seen]
    if handles:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False
        )
