"""EventEmitter: the smallest push. ``emit`` calls every listener, right now.

::

    em = ppl.EventEmitter("uploads")
    em.on("done", lambda name: print("finished", name))
    em.emit("done", "a.mp4")        # the producer calls the consumer: push

Sync listeners run inside ``emit``; async listeners are started as tasks. A listener that
raises is reported as an ``"error"`` event; with no ``"error"`` listener the exception is
raised from ``emit`` (sync) or reported to the event loop (async) — never swallowed.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
from collections.abc import Callable
from typing import Any

from .. import _validate
from ..lab import Lab, resolve

_is_once = operator.itemgetter(1)  # of a listener entry (fn, once, name)


def _listener_name(fn: Callable) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


class EventEmitter:
    """Node-style emitter with sync and async listeners, recording into the lab trace.

    Args:
        name: how it appears in the trace; given explicitly, creating another emitter with
            the same name in the same lab replaces (closes) this one.
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.
    """

    def __init__(self, name: str | None = None, *, lab: Lab | None = None):
        self.lab = resolve(lab, "EventEmitter")
        self.name = (
            self.lab.next_id("emitter") if name is None else _validate.name("EventEmitter", "name", name)
        )
        self._listeners: dict[str, list[tuple[Callable, bool, str]]] = {}
        self._tasks: set[asyncio.Task] = set()
        if name is not None:
            self.lab.register("emitter", self.name, self)

    def on(self, event: str, fn: Callable | None = None):
        """Call ``fn`` on every ``emit(event, ...)``. Usable as a decorator: ``@em.on("x")``."""
        if fn is None:
            return lambda f: self._add(event, f, False, "on")
        return self._add(event, fn, False, "on")

    def once(self, event: str, fn: Callable | None = None):
        """Like :meth:`on`, but the listener is removed after its first call."""
        if fn is None:
            return lambda f: self._add(event, f, True, "once")
        return self._add(event, fn, True, "once")

    def _add(self, event: str, fn: Callable, once: bool, method: str) -> Callable:
        _validate.name(f"EventEmitter.{method}", "event", event)
        _validate.function(f"EventEmitter.{method}", "fn", fn)
        self._listeners.setdefault(event, []).append((fn, once, _listener_name(fn)))
        return fn

    def off(self, event: str, fn: Callable) -> None:
        """Remove ``fn`` from ``event``; a ValueError if it was not listening."""
        entries = self._listeners.get(event, [])
        for i, (f, _, _) in enumerate(entries):
            if f is fn:
                del entries[i]
                return
        raise ValueError(
            f"EventEmitter.off(event={event!r}, fn={_listener_name(fn)}): fn is not listening to {event!r}"
        )

    def listeners(self, event: str) -> list[Callable]:
        return [f for f, _, _ in self._listeners.get(event, [])]

    @property
    def event_names(self) -> list[str]:
        return [e for e, ls in self._listeners.items() if ls]

    def emit(self, event: str, *args: Any, **kwargs: Any) -> bool:
        """Call every listener of ``event`` now; returns whether there was any."""
        entries = self._listeners.get(event)
        if not entries:
            if event == "error":
                exc = args[0] if args else None
                if isinstance(exc, BaseException):
                    raise exc
                raise RuntimeError(f"EventEmitter {self.name!r}: unhandled 'error' event {args!r}")
            return False
        lab = self.lab
        record = lab.trace.record
        msg = next(lab.message_ids)
        record("emit", self.name, None, msg, event=event, listeners=len(entries))
        if any(map(_is_once, entries)):  # map/itemgetter: no Python call per listener
            self._listeners[event] = [e for e in entries if not e[1]]
        for fn, _, fname in list(entries):
            record("deliver", self.name, fname, msg, event=event)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                self._failed(event, fname, msg, exc)
                continue
            if result is not None and inspect.isawaitable(result):  # sync listeners return None
                self._start(result, event, fname, msg)
        return True

    def _start(self, awaitable: Any, event: str, fname: str, msg: int) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._failed(event, fname, msg, t.exception(), loop=t.get_loop())

        task.add_done_callback(done)

    def _failed(self, event: str, fname: str, msg: int, exc: BaseException, loop=None) -> None:
        self.lab.trace.record(
            "error", fname, self.name, msg, event=event, error=f"{type(exc).__name__}: {exc}"
        )
        if event != "error" and self._listeners.get("error"):
            self.emit("error", exc)
        elif loop is None:
            raise exc
        else:
            loop.call_exception_handler(
                {"message": f"listener {fname} of {self.name}.{event} raised", "exception": exc}
            )

    async def wait_for(self, event: str) -> tuple:
        """Wait for the next ``emit(event, ...)`` and return its positional arguments."""
        fut = asyncio.get_running_loop().create_future()

        def resolve_once(*args: Any, **kwargs: Any) -> None:
            if not fut.done():
                fut.set_result(args)

        self.once(event, resolve_once)
        try:
            return await fut
        finally:
            if resolve_once in self.listeners(event):
                self.off(event, resolve_once)

    def _close_now(self) -> None:
        self._listeners.clear()
        for t in list(self._tasks):
            t.cancel()
        self.lab.unregister("emitter", self.name, self)

    close = _close_now

    def __repr__(self) -> str:
        counts = {e: len(ls) for e, ls in self._listeners.items() if ls}
        return f"EventEmitter({self.name!r}, listeners={counts})"
