"""A trace replay: a Play button and a time slider scrubbing through a recorded run.

::

    run = scenarios.slow_subscriber(buffer=5)
    ppl.widgets.replay(run)                 # last line of the cell
    ppl.widgets.replay(run, lanes=["stadium", "scores", "slow-phone"], frames=40)

Each frame shows the run up to one moment: the sequence diagram of every exchange so far
(drawn from its initiator, as in :func:`ppl.viz.timeline`; the exchanges new since the
previous frame drawn bold, older ones faded), and below it how full each queue and buffer
was up to that moment. A line under the figure says what the trace holds by then.

The Play button is linked to the slider in the browser (``jslink``), so playing needs no
round trip through Python to move the slider; each new slider value replaces the PNG of an
``Image`` widget (a value update: strict nbval still passes). Frames are drawn when first
shown and kept in a small cache, so scrubbing back and forth is fast.
"""

from __future__ import annotations

import bisect
import html
import time
import traceback
from collections import OrderedDict
from typing import Any

from .. import _validate
from ..trace import Trace, direction, format_seconds
from ..viz.depth import _settled
from ..viz.style import PALETTE, series_colour, to_png
from ..viz.timeline import DEPOSIT_KINDS, _legend


class TraceReplay:
    """Play + slider + figure + a summary line. Display it (it is the last expression).

    Attributes:
        slider, play: the frame controls (``replay.slider.value = 10`` shows frame 10).
        image: the ``ipywidgets.Image`` with the current frame's PNG.
        summary: the ``ipywidgets.HTML`` line ``t = … s: N events, …``.
        times: the moment each frame shows (seconds), from 0 to the end of the trace.
        last_render_seconds: wall time of the last frame drawn (0 when it came from the cache).
    """

    def __init__(
        self,
        run_or_trace: Any,
        *,
        frames: int = 60,
        lanes: list[str] | None = None,
        interval: int = 200,
        cache: int = 120,
        dpi: int = 72,
    ):
        where = "replay"
        trace = getattr(run_or_trace, "trace", run_or_trace)
        if not isinstance(trace, Trace):
            raise TypeError(
                f"{where}(run_or_trace={run_or_trace!r}): run_or_trace must be a Run (what "
                "ppl.simulate returns) or a Trace (e.g. lab.trace)"
            )
        if not len(trace):
            raise ValueError(f"{where}(run_or_trace={run_or_trace!r}): the trace has no events to replay")
        _validate.integer(where, "frames", frames, minimum=2)
        _validate.integer(where, "interval", interval, minimum=10)
        _validate.integer(where, "cache", cache, minimum=1)
        known = trace.actors
        if lanes is None:
            lanes = known
        else:
            if isinstance(lanes, str) or not isinstance(lanes, (list, tuple)) or not lanes:
                raise TypeError(
                    f"{where}(lanes={lanes!r}): lanes must be a non-empty list of actor names, e.g. {known[:3]!r}"
                )
            unknown = [name for name in lanes if name not in known]
            if unknown:
                raise ValueError(
                    f"{where}(lanes={lanes!r}): {unknown!r} never appear in the trace; its actors are {known!r}"
                )
            lanes = list(lanes)
        self.trace, self.lanes, self.frames, self.dpi = trace, lanes, frames, dpi
        self.end = trace.end
        self.times = [self.end * k / (frames - 1) for k in range(frames)]
        self._prepare()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_size = cache
        self._boxes: list | None = None
        self.last_render_seconds = 0.0

        import ipywidgets as w

        last = frames - 1
        self.play = w.Play(value=last, min=0, max=last, step=1, interval=interval, description="play")
        self.slider = w.IntSlider(
            value=last, min=0, max=last, step=1, description="frame",
            continuous_update=True, readout=True, layout=w.Layout(width="420px"),
        )  # fmt: skip
        self.link = w.jslink((self.play, "value"), (self.slider, "value"))
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.summary = w.HTML()
        self.widget = w.VBox([w.HBox([self.play, self.slider]), self.image, self.summary])
        self.widget.add_class("pushpull-replay")
        self.slider.observe(self._changed, names="value")
        self.show(last)

    # -- precomputed once -----------------------------------------------------------------
    def _prepare(self) -> None:
        lanes = self.lanes
        y = self._y = {name: -i for i, name in enumerate(lanes)}
        events = list(self.trace)
        self._event_times = [e.time for e in events]
        self._kind_times: dict[str, list[float]] = {}
        for e in events:
            self._kind_times.setdefault(e.kind, []).append(e.time)
        arrows, marks = [], []
        for e in events:
            if e.actor not in y or (e.peer is not None and e.peer not in y):
                continue
            if e.kind == "drop" and e.peer is not None:
                marks.append((e.time, y[e.peer], "drop"))
                continue
            if e.kind == "error":
                marks.append((e.time, y[e.actor], "error"))
                continue
            way = direction(e.kind) or ("other" if e.kind in DEPOSIT_KINDS else None)
            if way is None or e.peer is None or e.peer == e.actor:
                continue
            arrows.append((e.time, y[e.actor], y[e.peer], way, e.kind == "empty_poll"))
        # Same-instant exchanges side by side, as viz.timeline does, with one step for the
        # whole run so an arrow stays in place from frame to frame.
        step = self.end * 0.006 or 0.002
        at_instant: dict[float, int] = {}
        for a in arrows:
            at_instant[a[0]] = at_instant.get(a[0], 0) + 1
        placed: dict[float, int] = {}
        self._arrows = []
        for t, y0, y1, way, empty in arrows:
            i = placed.get(t, 0)
            placed[t] = i + 1
            self._arrows.append((t, t + (i - (at_instant[t] - 1) / 2) * step, y0, y1, way, empty))
        self._arrow_times = [a[0] for a in self._arrows]
        self._marks = marks
        self._mark_times = [m[0] for m in marks]
        # Depth per queue or buffer: the event's peer (the buffer's owner), else its actor.
        depth: dict[str, list[tuple[float, int]]] = {}
        for t, _kind, actor, peer, _msg, fields in self.trace._rows():
            if "depth" in fields:
                name = peer if peer is not None else actor
                if name not in y:
                    continue
                depth.setdefault(name, []).append((t, fields["depth"]))
        self._depth = {name: _settled(points) for name, points in depth.items()}
        self._depth_times = {name: [t for t, _ in pts] for name, pts in self._depth.items()}
        self._depth_top = max([1] + [d for pts in self._depth.values() for _, d in pts])

    # -- showing a frame ------------------------------------------------------------------
    def _changed(self, change: dict) -> None:
        self.show(change["new"])

    def show(self, frame: int) -> None:
        """Show ``frame`` (0 … frames-1): replace the PNG and the summary line."""
        if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < self.frames:
            raise ValueError(
                f"TraceReplay.show(frame={frame!r}): frame must be an integer 0 … {self.frames - 1}"
            )
        try:
            self.image.value = self.png(frame)
            self.summary.value = self.describe(frame)
        except Exception as exc:  # shown under the figure, where the learner is looking
            self.summary.value = (
                f"<pre style='color:#b00'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}\n\n"
                f"{html.escape(traceback.format_exc(limit=4))}</pre>"
            )

    def png(self, frame: int) -> bytes:
        """The PNG of ``frame``, drawn on first use and cached."""
        cached = self._cache.get(frame)
        if cached is not None:
            self._cache.move_to_end(frame)
            self.last_render_seconds = 0.0
            return cached
        started = time.perf_counter()
        data = to_png(self.figure(frame), dpi=self.dpi)
        self.last_render_seconds = time.perf_counter() - started
        self._cache[frame] = data
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def describe(self, frame: int) -> str:
        """The summary line of ``frame``: time, events so far, counts per kind."""
        t = self.times[frame]
        n = bisect.bisect_right(self._event_times, t)
        kinds = {k: bisect.bisect_right(ts, t) for k, ts in sorted(self._kind_times.items())}
        parts = ", ".join(f"{c} {html.escape(k)}" for k, c in kinds.items() if c)
        waiting = [
            f"{html.escape(name)} {self._depth_at(name, t)}"
            for name in self._depth
            if bisect.bisect_right(self._depth_times[name], t)
        ]
        line = f"t = {t:.3f} s: {n} events" + (f" ({parts})" if parts else "")
        if waiting:
            line += " · waiting: " + ", ".join(waiting)
        return f"{line} · frame {frame}/{self.frames - 1}, run ends at {format_seconds(self.end)}"

    def _depth_at(self, name: str, t: float) -> int:
        i = bisect.bisect_right(self._depth_times[name], t)
        return self._depth[name][i - 1][1] if i else 0

    def figure(self, frame: int):
        """The matplotlib Figure of ``frame`` (timeline so far, depth so far)."""
        if self._boxes is None:
            # Lay out the last frame once (it has every lane, tick and legend entry) and put
            # every frame's axes in the same boxes: the picture does not jump while playing,
            # and a frame skips matplotlib's layout pass (about half its drawing time).
            fig = self._draw(self.frames - 1, None)
            fig.draw_without_rendering()
            self._boxes = [a.get_position().bounds for a in fig.axes[: 2 if self._depth else 1]]
        return self._draw(frame, self._boxes)

    def _draw(self, frame: int, boxes: list | None):
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        t = self.times[frame]
        previous = self.times[frame - 1] if frame else -1.0
        lanes, y = self.lanes, self._y
        has_depth = bool(self._depth)
        lane_height = max(2.0, 0.5 * len(lanes) + 1.2)
        size = (9.0, lane_height + (2.3 if has_depth else 0))
        if boxes is not None:
            fig = Figure(figsize=size)
            ax = fig.add_axes(boxes[0])
            dax = fig.add_axes(boxes[1]) if has_depth else None
            if dax is not None:
                ax.tick_params(labelbottom=False)
        elif has_depth:
            fig = Figure(figsize=size, layout="constrained")
            ax, dax = fig.subplots(2, 1, sharex=True, height_ratios=[lane_height, 2.3])
        else:
            fig = Figure(figsize=size, layout="constrained")
            ax, dax = fig.add_subplot(), None
        pad = self.end * 0.03 or 0.05
        ax.set_xlim(-pad, self.end + pad)
        if dax is not None:
            dax.set_xlim(-pad, self.end + pad)

        # Exchanges so far: old ones faded, the ones new since the previous frame bold.
        upto = bisect.bisect_right(self._arrow_times, t)
        groups: dict[tuple[str, bool, bool], list] = {}
        for at, x, y0, y1, way, empty in self._arrows[:upto]:
            groups.setdefault((way, empty, at > previous), []).append((x, y0, y1))
        seen: set[str] = set()
        for (way, empty, new), items in groups.items():
            seen.add("empty" if empty else way)
            colour = PALETTE[way]
            alpha = (0.9 if new else 0.3) * (0.7 if empty else 1.0)
            shrink = 0.12
            segments = [
                [(x, y0 + shrink * _sign(y1 - y0)), (x, y1 - 2 * shrink * _sign(y1 - y0))]
                for x, y0, y1 in items
            ]
            ax.add_collection(
                LineCollection(
                    segments, colors=colour, linewidths=2.4 if new else 1.1, alpha=alpha,
                    linestyles=(0, (2, 2)) if empty else "solid",
                )
            )  # fmt: skip
            for down in (True, False):
                heads = [(x, y1 - shrink * _sign(y1 - y0)) for x, y0, y1 in items if (y1 < y0) == down]
                if heads:
                    ax.scatter(
                        [h[0] for h in heads], [h[1] for h in heads], marker="v" if down else "^",
                        s=42 if new else 18, color=colour, alpha=alpha, linewidths=0, zorder=3,
                    )  # fmt: skip
        upto_marks = bisect.bisect_right(self._mark_times, t)
        for kind, marker, size in (("drop", "x", 8), ("error", "*", 10)):
            pts = [(mt, my) for mt, my, k in self._marks[:upto_marks] if k == kind]
            if pts:
                seen.add(kind)
                ax.plot(
                    [p[0] for p in pts], [p[1] for p in pts], marker=marker, color=PALETTE[kind],
                    markersize=size, mew=2, linestyle="none",
                )  # fmt: skip
        ax.set_yticks([y[n] for n in lanes], lanes)
        ax.set_ylim(-len(lanes) + 0.4, 0.6)
        for lane in y.values():
            ax.axhline(lane, color="#dddddd", lw=0.8, zorder=0)
        ax.axvline(t, color="#444444", lw=1, ls=":")
        ax.set_title(f"Who initiates each exchange, up to t = {t:.3f} s (bold: new since the last frame)")
        _legend(ax, seen)
        if dax is None:
            ax.set_xlabel("time (s)")
            return fig

        # How full each queue or buffer was, up to t.
        for i, (name, points) in enumerate(self._depth.items()):
            k = bisect.bisect_right(self._depth_times[name], t)
            if not k:
                continue
            shown = points[:k]
            times = [0.0] + [p[0] for p in shown] + [t]
            values = [0] + [p[1] for p in shown] + [shown[-1][1]]
            dax.step(times, values, where="post", color=series_colour(i), lw=1.6, label=name)
        dax.axvline(t, color="#444444", lw=1, ls=":")
        dax.set_ylim(0, self._depth_top * 1.08)
        dax.yaxis.set_major_locator(MaxNLocator(integer=True))
        dax.set_xlabel("time (s)")
        dax.set_ylabel("waiting")
        dax.set_title("Queues and buffers filling up", fontsize="medium")
        if dax.get_legend_handles_labels()[0]:
            dax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        return fig

    def render_all(self) -> None:
        """Draw every frame now (fills the cache up to its size), e.g. before a demo."""
        for frame in range(self.frames):
            self.png(frame)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<TraceReplay {self.frames} frames over {format_seconds(self.end)}, {len(self.trace)} events>"


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def replay(
    run_or_trace: Any, *, frames: int = 60, lanes: list[str] | None = None, **options: Any
) -> TraceReplay:
    """A :class:`TraceReplay` of a run (or a trace) in ``frames`` steps from 0 to its end.

    ``lanes`` picks and orders the actors drawn (default: all, in order of appearance);
    ``interval`` (ms between frames when playing), ``cache`` (frames kept) and ``dpi`` are
    also accepted.
    """
    return TraceReplay(run_or_trace, frames=frames, lanes=lanes, **options)
