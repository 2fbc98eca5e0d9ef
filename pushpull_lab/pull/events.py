"""QueueEvents: push notifications about jobs, built on a pull.

::

    ev = ppl.QueueEvents("video")
    ev.on("completed", lambda e: print(e.job_id, e.result))
    ev.on("failed", lambda e: print(e.job_id, e.failed_reason))

Every state change of a job appends an event to the queue's append-only event log (a Redis
stream, ``ppl:<queue>:events``, on the Redis backends). QueueEvents runs one task that
*reads* that log with a blocking read — it pulls — and calls your listeners for each new
event — it pushes. Push built on pull: the listener never asks, but underneath someone does.

Because the log keeps its entries, a reader can start from any point: pass the
``last_event_id`` you saw last to replay what you missed (``"0"`` replays everything kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _validate
from ..backends import open_backend
from ..lab import Lab, resolve
from .queue import check_queue_name

EVENTS = (
    "waiting",
    "active",
    "progress",
    "completed",
    "failed",
    "delayed",
    "stalled",
    "drained",
    "paused",
    "resumed",
    "removed",
)
"""Events a listener can subscribe to; ``"*"`` subscribes to all of them."""

READ_BLOCK = 5.0
"""The blocking read waits at most this long before asking again (seconds)."""

_EVENT_ID = re.compile(r"^\d+(-\d+)?$")


@dataclass(frozen=True)
class QueueEvent:
    """One entry of the event log, as a listener receives it.

    ``id`` is its position in the log (pass it as ``last_event_id`` to resume after it),
    ``time`` the lab-clock second it happened. The other fields are set when they apply:
    ``result`` (completed), ``failed_reason`` (failed, and the retry that follows a failed
    attempt), ``attempts_made``, ``progress`` and ``due`` (delayed: when it becomes waiting).
    """

    id: str
    event: str
    job_id: str | None
    time: float
    result: Any = None
    failed_reason: str | None = None
    attempts_made: int | None = None
    progress: Any = None
    due: float | None = None

    @classmethod
    def _from_log(cls, event_id: str, fields: dict) -> QueueEvent:
        result, progress = fields.get("result"), fields.get("progress")
        return cls(
            id=event_id,
            event=fields["event"],
            job_id=fields.get("job_id"),
            time=fields["time"],
            result=None if result is None else json.loads(result),
            failed_reason=fields.get("failed_reason"),
            attempts_made=fields.get("attempts_made"),
            progress=None if progress is None else json.loads(progress),
            due=fields.get("due"),
        )


class QueueEvents:
    """Calls listeners for the events of one queue, in the order they happened.

    Args:
        queue_name: the queue to follow.
        last_event_id: where to start: None (default) for events from now on, ``"0"`` for
            everything the log still holds, or the ``id`` of an event already seen to
            continue right after it.
        name: how the reader appears in the trace (default ``"<queue>-events"``). Creating
            another QueueEvents with the same name closes the old one, so re-running a cell
            does not double every notification.
        lab: the lab; default :func:`~pushpull_lab.current_lab`.
        on_error: ``fn(exc, event, listener_name)`` called when a listener raises; without
            it the exception goes to the event loop's exception handler.

    It starts reading at once; ``await ev.ready()`` waits until it knows where "now" is
    (do it before adding jobs whose events you must not miss)::

        ev = ppl.QueueEvents("video")
        await ev.ready()
        ev.on("progress", lambda e: print(f"{e.job_id}: {e.progress}%"))
    """

    def __init__(
        self,
        queue_name: str,
        *,
        last_event_id: str | None = None,
        name: str | None = None,
        lab: Lab | None = None,
        on_error: Callable | None = None,
    ):
        where = "QueueEvents"
        self.lab = resolve(lab, where)
        self.queue_name = check_queue_name(where, "queue_name", queue_name)
        if last_event_id is not None and not (
            isinstance(last_event_id, str) and _EVENT_ID.match(last_event_id)
        ):
            raise ValueError(
                f"{where}(last_event_id={last_event_id!r}): last_event_id must be None (from now on), "
                "'0' (from the start) or an event id such as '1700000000000-0'"
            )
        self.name = f"{queue_name}-events" if name is None else _validate.name(where, "name", name)
        self.on_error = None if on_error is None else _validate.function(where, "on_error", on_error)
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{where}({queue_name!r}): create it inside async code — a notebook cell or the "
                "main() passed to ppl.simulate()"
            ) from None
        self.last_event_id = last_event_id
        """The id of the last event read; pass it to a new QueueEvents to resume after it."""
        self.received = 0
        self.errors: list[Exception] = []
        self.closed = False
        self._token = f"{self.name}:{uuid.uuid4().hex[:12]}"  # names this reader's wake key
        self._storage = None
        self._listeners: dict[str, list[tuple[str, Callable]]] = {}
        self._ready = self._loop.create_future()
        self.lab.register("queue_events", self.name, self)
        self._task = self._loop.create_task(self._read(), name=f"events:{self.name}")

    def on(self, event: str, fn: Callable, *, name: str | None = None) -> Callable:
        """Call ``fn(e)`` (sync or async) for every ``event`` (or ``"*"`` for all); returns ``fn``.

        ``name`` is the listener as the trace shows it (default: the function's name).
        """
        where = "QueueEvents.on"
        _validate.choice(where, "event", event, (*EVENTS, "*"))
        _validate.function(where, "fn", fn)
        if name is None:
            fn_name = getattr(fn, "__name__", "")
            name = fn_name if fn_name.isidentifier() else self.lab.next_id("listener")
        else:
            _validate.name(where, "name", name)
        self._listeners.setdefault(event, []).append((name, fn))
        return fn

    def off(self, event: str, fn: Callable) -> None:
        """Stop calling ``fn`` for ``event``."""
        _validate.choice("QueueEvents.off", "event", event, (*EVENTS, "*"))
        listeners = self._listeners.get(event, [])
        self._listeners[event] = [(n, f) for n, f in listeners if f is not fn]

    async def ready(self) -> None:
        """Wait until the reader has found its starting point in the log."""
        await asyncio.shield(self._ready)

    async def _read(self) -> None:
        """The pull underneath: read the log (blocking), then push each event to listeners."""
        lab, queue = self.lab, self.queue_name
        try:
            storage = self._storage = open_backend(lab)
            if self.last_event_id is None:
                self.last_event_id = await storage.last_event_id(queue)
        except Exception as exc:
            self._report(exc, "opening the event log")
            return
        finally:
            if not self._ready.done():
                self._ready.set_result(None)
        while not self.closed:
            try:
                entries = await storage.read_events(queue, self.last_event_id, READ_BLOCK, self._token)
            except Exception as exc:  # lost connection: report, wait, read again
                self._report(exc, "reading the event log")
                await asyncio.sleep(1.0)
                continue
            if self.closed:
                break
            if entries:
                lab.trace.record("consume", self.name, queue, count=len(entries))
            for event_id, fields in entries:
                self.last_event_id = event_id
                self.received += 1
                await self._dispatch(QueueEvent._from_log(event_id, fields))
        try:
            await storage.forget(queue, self._token)
        except Exception as exc:
            self._report(exc, "closing")

    async def _dispatch(self, e: QueueEvent) -> None:
        record = self.lab.trace.record
        for name, fn in [*self._listeners.get(e.event, ()), *self._listeners.get("*", ())]:
            record("notify", self.name, name, e.job_id, event=e.event)
            try:
                out = fn(e)
                if inspect.isawaitable(out):
                    await out
            except Exception as exc:  # the listener's bug: report it and go on
                self.errors.append(exc)
                record(
                    "error", name, self.name, e.job_id, error=f"{type(exc).__name__}: {exc}", event=e.event
                )
                handled = False
                if self.on_error is not None:
                    try:
                        self.on_error(exc, e, name)
                        handled = True
                    except Exception as handler_exc:  # reported just below
                        exc = handler_exc
                if not handled:
                    self._loop.call_exception_handler(
                        {
                            "message": f"listener {name!r} of {self.name!r} raised on {e.event!r}",
                            "exception": exc,
                        }
                    )

    def _report(self, exc: Exception, doing: str) -> None:
        self.lab.trace.record(
            "error", self.name, self.queue_name, error=f"{type(exc).__name__}: {exc}", doing=doing
        )
        self._loop.call_exception_handler(
            {"message": f"QueueEvents {self.name!r} failed {doing}", "exception": exc}
        )

    async def close(self) -> None:
        """Stop reading; listeners are not called any more."""
        self._close_now()
        await asyncio.gather(self._task, return_exceptions=True)

    def _close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._storage is None:  # not reading yet
            self._task.cancel()
        else:  # wake the blocking read through our own key; never cancel a Redis command
            with contextlib.suppress(RuntimeError):  # the loop is gone: nothing to wake
                self._loop.create_task(self._wake())
        if not self._ready.done():
            self._ready.set_result(None)
        self.lab.unregister("queue_events", self.name, self)

    async def _wake(self) -> None:
        try:
            await self._storage.wake_reader(self.queue_name, self._token)
        except Exception as exc:
            self._report(exc, "waking its blocking read")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"QueueEvents({self.name!r}, queue={self.queue_name!r}, {state}, received={self.received}, "
            f"last_event_id={self.last_event_id!r})"
        )
