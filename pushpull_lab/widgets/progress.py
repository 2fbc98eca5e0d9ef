"""A live progress board for a queue's jobs, fed only by pushed ``QueueEvents``.

::

    board = ppl.widgets.job_progress("video")    # last line of a cell: the board appears
    await queue.add("transcode", {"file": "a.mp4"})  # a row appears, fills up, turns green

The board never asks the queue anything. Every change on it comes from an event that
:class:`~pushpull_lab.QueueEvents` pushed to it (waiting, active, progress, completed,
failed, ...): the front-end half of the hybrid model, whose other half is the workers that
pull the jobs. Only an ``HTML`` widget's value changes, so the cell that displays the board
still passes strict nbval.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from .. import _validate
from ..lab import Lab, resolve
from ..pull.events import QueueEvents

_COLOURS = {  # Okabe-Ito, as the figures
    "waiting": "#999999",
    "delayed": "#999999",
    "active": "#0072B2",
    "completed": "#009E73",
    "failed": "#D55E00",
    "stalled": "#E69F00",
}
_REDRAW_AFTER = 0.05  # s: events arriving together are drawn once


class JobProgress:
    """A table of the most recent jobs of one queue: state, progress bar, last event.

    Attributes:
        widget: the ``ipywidgets.VBox`` to display (it is the last expression of a cell).
        events: the :class:`~pushpull_lab.QueueEvents` listener that feeds the board.
        jobs: ``{job_id: {"state", "progress", "since"}}`` as the pushed events told it.
        received: how many events reached the board.
    """

    def __init__(self, queue_name: str, *, limit: int = 10, name: str | None = None, lab: Lab | None = None):
        where = "job_progress"
        self.lab = resolve(lab, where)
        self.limit = _validate.integer(where, "limit", limit, minimum=1)
        if self.lab.virtual:
            raise ValueError(
                f"{where}(lab={self.lab!r}): this lab runs in virtual time (inside simulate); the "
                "board shows a real-time queue. To watch a simulated run use ppl.widgets.replay(run)"
            )
        import ipywidgets as w

        self.events = QueueEvents(queue_name, name=name or f"{queue_name}-board", lab=self.lab)
        self.events.on("*", self._on_event, name="progress-board")
        self.jobs: dict[str, dict[str, Any]] = {}
        self.received = 0
        self.title = w.HTML()
        self.table = w.HTML()
        self.widget = w.VBox([self.title, self.table])
        self.widget.add_class("pushpull-progress")
        self._loop = asyncio.get_running_loop()  # QueueEvents has checked that one runs
        self._redraw: asyncio.TimerHandle | None = None
        self._render()

    @property
    def queue_name(self) -> str:
        return self.events.queue_name

    def _on_event(self, e) -> None:
        self.received += 1
        if e.job_id is None:  # drained, paused, resumed: not about one job
            return
        job = self.jobs.setdefault(e.job_id, {"state": "waiting", "progress": 0, "since": e.time})
        if e.event == "progress" and isinstance(e.progress, int | float):
            job["progress"] = max(0.0, min(100.0, float(e.progress)))
        elif e.event != "progress":
            job["state"] = e.event
            if e.event == "completed":
                job["progress"] = 100.0
        job["last"] = e.time
        while len(self.jobs) > self.limit:  # keep the newest rows
            del self.jobs[next(iter(self.jobs))]
        if self._redraw is None:
            self._redraw = self._loop.call_later(_REDRAW_AFTER, self._render)

    def _render(self) -> None:
        self._redraw = None
        states: dict[str, int] = {}
        for job in self.jobs.values():
            states[job["state"]] = states.get(job["state"], 0) + 1
        tally = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no jobs yet"
        self.title.value = (
            f"<b>{html.escape(self.queue_name)}</b>: {tally} &nbsp;·&nbsp; "
            f"{self.received} events pushed to this board, 0 requests made by it"
        )
        rows = []
        for job_id, job in reversed(self.jobs.items()):
            colour = _COLOURS.get(job["state"], "#555555")
            rows.append(
                f"<tr><td>job {html.escape(job_id)}</td><td style='color:{colour}'>{job['state']}</td>"
                f"<td><div style='width:160px;height:10px;background:#eee'>"
                f"<div style='width:{job['progress']:.0f}%;height:10px;background:{colour}'></div></div></td>"
                f"<td style='text-align:right'>{job['progress']:.0f}%</td></tr>"
            )
        self.table.value = "<table>" + "".join(rows) + "</table>" if rows else ""

    def refresh(self) -> None:
        """Draw the board now, from the calling cell (see :meth:`LiveMonitor.refresh
        <pushpull_lab.widgets.monitor.LiveMonitor.refresh>` for why a saved notebook needs it)."""
        if self._redraw is not None:
            self._redraw.cancel()
        self._render()
        # Sent even when the values did not change: the background redraw may have set them
        # already, in a message that belongs to another cell.
        self.title.send_state("value")
        self.table.send_state("value")

    async def close(self) -> None:
        """Stop listening (the board keeps its last state)."""
        if self._redraw is not None:
            self._redraw.cancel()
            self._render()
        await self.events.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"JobProgress({self.queue_name!r}, jobs={len(self.jobs)}, received={self.received})"


def job_progress(
    queue_name: str, *, limit: int = 10, name: str | None = None, lab: Lab | None = None
) -> JobProgress:
    """A :class:`JobProgress` board for ``queue_name``, showing its ``limit`` newest jobs.

    Create it in a notebook cell (it needs the kernel's running loop). ``name`` is its
    QueueEvents reader's name (default ``"<queue>-board"``): re-running the cell replaces it.
    """
    return JobProgress(queue_name, limit=limit, name=name, lab=lab)
