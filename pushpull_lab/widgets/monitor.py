"""A live monitor for real-time demos: what every open primitive of a lab is doing now.

::

    bus = ppl.PubSub("alerts")                 # name it: the lab tracks named primitives
    phone = bus.subscribe("alert.*", handler, buffer=10, name="phone")
    ppl.widgets.monitor()                      # last line of the cell: the widget appears

A table row per live primitive (queues: waiting / active / completed / failed; workers: in
flight / completed / failed; each subscription of a bus: pending / delivered / dropped) with
its rates over the last ``window`` seconds, read from the lab's trace, and a small figure of
every queue's and buffer's depth over that window. An asyncio task on the running loop (the
kernel's, in a notebook) refreshes it every ``every`` seconds; ``monitor.stop()`` (or its
Stop button) cancels the task and draws the final state.

Only the values of an ``HTML`` and an ``Image`` widget change (never an ``Output`` that is
cleared and refilled), so the cell that displays the monitor still passes strict nbval.
One monitor per lab: making a new one stops the previous one, so re-running the cell does
not leave two refreshing tasks behind.
"""

from __future__ import annotations

import asyncio
import html
import time
import traceback
import weakref
from collections import Counter, deque
from typing import Any

from .. import _validate
from ..lab import Lab, resolve
from ..viz.style import PALETTE, new_figure, series_colour, to_png

# Event kinds whose rates the table shows, and the words it uses for them.
_RATE_WORDS = {
    "publish": "published",
    "deliver": "delivered",
    "drop": "dropped",
    "add": "added",
    "fetch": "fetched",
    "completed": "completed",
    "failed": "failed",
    "append": "appended",
    "consume": "consumed",
    "notify": "notified",
    "emit": "emitted",
}
_SLOTS = 240  # rate and depth history kept per window: slots of window / _SLOTS seconds

_monitors: weakref.WeakKeyDictionary[Lab, weakref.ref] = weakref.WeakKeyDictionary()


async def _refresh_loop(ref: weakref.ref, every: float) -> None:
    # Holds the monitor only weakly between ticks: a monitor nobody references any more is
    # collected, and its finalizer cancels this task.
    while True:
        await asyncio.sleep(every)
        monitor = ref()
        if monitor is None:
            return
        monitor._tick()
        del monitor


class LiveMonitor:
    """A real-time view of a lab's live primitives. Display it (it is the last expression).

    Attributes:
        widget: the ``ipywidgets.VBox`` (status line, table, depth figure, Stop button).
        rows: the table as data, one dict per row (``kind``, ``name``, ``counts``, ``rates``).
        ticks: refreshes done so far; ``error``: the last refresh error, or None.
        draw_seconds: wall time of the last figure redraw (matplotlib → PNG).
    """

    def __init__(
        self, lab: Lab | None = None, *, every: float = 0.25, window: float = 30.0, figure_every: float = 1.0
    ):
        where = "monitor"
        self.lab = resolve(lab, where)
        self.every = _validate.number(where, "every", every, positive=True)
        self.window = _validate.number(where, "window", window, positive=True)
        self.figure_every = _validate.number(where, "figure_every", figure_every, minimum=0)
        if self.lab.virtual:
            raise ValueError(
                f"{where}(lab={self.lab!r}): this lab runs in virtual time (inside simulate), where "
                "a simulated minute passes in milliseconds; a live monitor is for real-time labs. "
                "To watch a simulated run, scrub through it: ppl.widgets.replay(run)"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{where}(): no asyncio event loop is running, so nothing could refresh the monitor. "
                "Create it in a notebook cell (the kernel runs a loop) or inside async code "
                "(e.g. a coroutine run with asyncio.run)"
            ) from None
        import ipywidgets as w

        self.status = w.HTML()
        self.table = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.button = w.Button(description="Stop", icon="stop", layout=w.Layout(width="90px"))
        ref = weakref.ref(self)
        self.button.on_click(lambda _b: (m := ref()) is not None and m.stop())  # weak: see _refresh_loop
        self.widget = w.VBox([w.HBox([self.button, self.status]), self.table, self.image])
        self.widget.add_class("pushpull-monitor")

        self.rows: list[dict[str, Any]] = []
        self.ticks = 0
        self.error: str | None = None
        self.draw_seconds = 0.0
        self._stopped = False
        self._seen = 0  # trace.recorded already read
        self._totals: Counter = Counter()  # (kind, actor, peer) -> count since the trace began
        self._slot = self.window / _SLOTS
        self._rates: deque[tuple[int, Counter]] = deque()  # (slot, Counter of (kind, actor, peer))
        self._depth: dict[str, deque[list]] = {}  # name -> [slot, max depth in slot, last depth]
        self._last_depth: dict[str, int] = {}
        self._depth_changed = True
        self._drawn_at = -float("inf")

        previous = _monitors.get(self.lab)
        if previous is not None and previous() is not None:
            previous().stop()
        _monitors[self.lab] = ref

        self._refresh(figure=True)
        self._task = loop.create_task(_refresh_loop(ref, self.every), name="pushpull-monitor")
        self._finalizer = weakref.finalize(self, self._task.cancel)

    # -- state --------------------------------------------------------------------------
    @property
    def task(self) -> asyncio.Task:
        """The refreshing task (done once stopped)."""
        return self._task

    @property
    def running(self) -> bool:
        return not self._stopped and not self._task.done()

    def stop(self) -> None:
        """Stop refreshing: cancel the task, draw the final state once more, say "stopped"."""
        if self._stopped:
            return
        self._stopped = True
        self._task.cancel()
        self.button.disabled = True
        self._refresh(figure=True)

    def refresh(self) -> None:
        """Redraw the table and the figure now, from the calling cell.

        The refreshing task belongs to the cell that made the monitor; a tool that records
        widget state cell by cell (nbconvert, when it saves a notebook) keeps only what a
        cell drew while it ran. Calling this at the end of a later cell saves the final state.
        """
        self._refresh(figure=True)
        for widget in (self.status, self.table, self.image):  # sent even if unchanged
            widget.send_state("value")

    # -- refreshing ---------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        due = self._depth_changed and now - self._drawn_at >= self.figure_every
        self._refresh(figure=due)

    def _refresh(self, *, figure: bool) -> None:
        """Read new trace events and the primitives, then update the widgets' values."""
        try:
            self._read_trace()
            self.rows = self._build_rows()
            self.table.value = self._table_html()
            if figure:
                started = time.perf_counter()
                self.image.value = to_png(self._figure(), dpi=96)
                self.draw_seconds = time.perf_counter() - started
                self._drawn_at = time.monotonic()
                self._depth_changed = False
            self.ticks += 1
            self.error = None
            self.status.value = self._status_html()
        except Exception as exc:  # shown in the widget, where the learner is looking
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = (
                f"<pre style='color:#b00'>monitor refresh failed: {html.escape(self.error)}\n\n"
                f"{html.escape(traceback.format_exc(limit=4))}</pre>"
            )

    def _read_trace(self) -> None:
        trace = self.lab.trace
        if trace.recorded < self._seen:  # the trace was cleared: start over
            self._seen = 0
            self._totals.clear()
            self._rates.clear()
            self._depth.clear()
            self._last_depth.clear()
            self._depth_changed = True
        new = min(trace.recorded - self._seen, len(trace))
        self._seen = trace.recorded
        if new <= 0:
            return
        width = self._slot
        current_slot, counter = self._rates[-1] if self._rates else (None, None)
        for t, kind, actor, peer, _msg, f in trace.tail(new):  # only what is new since last tick
            key = (kind, actor, peer)
            self._totals[key] += 1
            slot = int(t // width)
            if slot != current_slot:
                counter = Counter()
                self._rates.append((slot, counter))
                current_slot = slot
            counter[key] += 1
            if "depth" in f:
                name = peer if peer is not None else actor
                d = f["depth"]
                series = self._depth.get(name)
                if series is None:
                    series = self._depth[name] = deque()
                if series and series[-1][0] == slot:
                    series[-1][1] = max(series[-1][1], d)
                    series[-1][2] = d
                else:
                    series.append([slot, d, d])
                self._last_depth[name] = d
                self._depth_changed = True
        self._prune()

    def _prune(self) -> None:
        oldest = int((self.lab.now() - self.window) // self._slot)
        while self._rates and self._rates[0][0] < oldest:
            self._rates.popleft()
        for series in self._depth.values():
            # keep one point before the window: the depth the window starts with
            while len(series) > 1 and series[1][0] <= oldest:
                series.popleft()

    # -- what is shown ------------------------------------------------------------------
    def _span(self) -> float:
        """Seconds the rates are averaged over: the window, or the lab's age if younger."""
        return max(min(self.window, self.lab.now()), 1e-9)

    def _rate(self, kind: str, actor: str | None = None, peer: str | None = None) -> float:
        n = 0
        for _, counter in self._rates:
            for (k, a, p), c in counter.items():
                if k == kind and (actor is None or a == actor) and (peer is None or p == peer):
                    n += c
        return n / self._span()

    def _total(self, kind: str, actor: str | None = None, peer: str | None = None) -> int:
        return sum(
            c
            for (k, a, p), c in self._totals.items()
            if k == kind and (actor is None or a == actor) and (peer is None or p == peer)
        )

    def _rates_for(self, kinds: tuple[str, ...], **who: str) -> dict[str, float]:
        return {_RATE_WORDS.get(k, k): self._rate(k, **who) for k in kinds}

    def _build_rows(self) -> list[dict[str, Any]]:
        from ..pull.queue import Queue
        from ..pull.worker import Worker
        from ..push.pubsub import PubSub

        live = self.lab.live
        workers = [p for p in live if isinstance(p, Worker)]
        rows: list[dict[str, Any]] = []
        for p in live:
            if isinstance(p, Queue):
                mine = [w for w in workers if w.queue_name == p.name]
                counts = {
                    "waiting": self._last_depth.get(p.name, 0),
                    "active": sum(len(w.running) for w in mine),
                    "completed": self._total("completed", peer=p.name),
                    "failed": self._total("failed", peer=p.name),
                }
                rates = self._rates_for(("add", "completed", "failed"), peer=p.name)
                rows.append({"kind": "queue", "name": p.name, "counts": counts, "rates": rates})
            elif isinstance(p, Worker):
                counts = {
                    "in flight": len(p.running),
                    "slots": p.concurrency,
                    "completed": p.completed,
                    "failed": p.failed,
                }
                rates = self._rates_for(("fetch", "completed", "failed"), actor=p.name)
                rows.append({"kind": "worker", "name": p.name, "counts": counts, "rates": rates})
            elif isinstance(p, PubSub):
                rates = self._rates_for(("publish",), peer=p.name)
                counts = {"published": p.published, "subscriptions": len(p.subscriptions)}
                rows.append({"kind": "pubsub", "name": p.name, "counts": counts, "rates": rates})
                for sub in p.subscriptions:
                    counts = {
                        "pending": sub.pending,
                        "buffer": sub.capacity,
                        "delivered": sub.delivered,
                        "dropped": sub.dropped,
                    }
                    rates = self._rates_for(("deliver", "drop"), actor=p.name, peer=sub.name)
                    rows.append({"kind": "subscription", "name": sub.name, "counts": counts, "rates": rates})
            else:
                name = getattr(p, "name", "?")
                events = sum(c for (_, a, q), c in self._totals.items() if name in (a, q))
                rows.append(
                    {
                        "kind": type(p).__name__.lower(),
                        "name": name,
                        "counts": {"events": events},
                        "rates": {},
                    }
                )
        return rows

    def _table_html(self) -> str:
        if not self.rows:
            return (
                "<div>no live primitives in this lab yet (a PubSub is tracked when it has a "
                "name: <code>ppl.PubSub('alerts')</code>)</div>"
            )
        span = self._span()
        head = (
            "<tr><th style='text-align:left'>primitive</th><th style='text-align:left'>name</th>"
            "<th style='text-align:left'>now</th>"
            f"<th style='text-align:left'>per second, last {span:.3g} s</th></tr>"
        )
        body = []
        for row in self.rows:
            indent = "&nbsp;&nbsp;└ " if row["kind"] == "subscription" else ""
            counts = " · ".join(f"{k} <b>{v}</b>" for k, v in row["counts"].items())
            rates = " · ".join(f"{k} <b>{v:.3g}</b>/s" for k, v in row["rates"].items()) or "–"
            body.append(
                f"<tr><td>{indent}{row['kind']}</td><td><code>{html.escape(str(row['name']))}</code></td>"
                f"<td>{counts}</td><td>{rates}</td></tr>"
            )
        return f"<table class='pushpull-monitor-table'>{head}{''.join(body)}</table>"

    def _status_html(self) -> str:
        t = self.lab.now()
        if self._stopped:
            return f"<b>stopped</b> at t = {t:.1f} s (lab clock) after {self.ticks} refreshes"
        return f"<b>live</b>: t = {t:.1f} s (lab clock), refreshing every {self.every:g} s"

    def _depth_points(self, series, start: float, now: float) -> tuple[list[float], list[int]]:
        """Step points: each slot shows its peak for the slot, then its last depth until the next."""
        times, values = [], []
        for j, (slot, peak, last) in enumerate(series):
            times.append(max(start, slot * self._slot))
            values.append(peak)
            ends = (slot + 1) * self._slot
            following = series[j + 1][0] * self._slot if j + 1 < len(series) else now
            if ends < following:
                times.append(max(start, ends))
                values.append(last)
        return [*times, now], [*values, series[-1][2]]

    def _figure(self):
        now = self.lab.now()
        start = max(0.0, now - self.window)
        fig, ax = new_figure(6.5, 1.9)
        drawn = 0
        for i, (name, series) in enumerate(self._depth.items()):
            if not series:
                continue
            times, values = self._depth_points(series, start, now)
            ax.step(times, values, where="post", color=series_colour(i), lw=1.4, label=name)
            drawn += 1
        ax.set_xlim(start, max(now, start + 1e-9))
        top = max([1] + [peak for series in self._depth.values() for _, peak, _ in series])
        ax.set_ylim(0, top * 1.1)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("time on the lab clock (s)")
        ax.set_ylabel("waiting")
        ax.set_title(f"Queue and buffer depth, last {self.window:g} s", fontsize="medium")
        if drawn:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        else:
            ax.text(
                0.5, 0.5, "no queue or buffer activity yet", transform=ax.transAxes,
                ha="center", va="center", color=PALETTE["other"],
            )  # fmt: skip
        return fig

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "live"
        return (
            f"<LiveMonitor {state}, every={self.every:g}s, window={self.window:g}s, {self.ticks} refreshes>"
        )


def monitor(
    lab: Lab | None = None, *, every: float = 0.25, window: float = 30.0, figure_every: float = 1.0
) -> LiveMonitor:
    """A :class:`LiveMonitor` of ``lab`` (default: the current lab), refreshed every ``every`` s.

    Rates are averaged over the last ``window`` seconds; the depth figure is redrawn at most
    every ``figure_every`` seconds, and only when a depth changed (a redraw costs tens of
    milliseconds of the kernel's loop). Needs a running event loop (any notebook cell).
    """
    return LiveMonitor(lab, every=every, window=window, figure_every=figure_every)
