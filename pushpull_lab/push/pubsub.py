"""PubSub: topics, glob patterns, and one bounded buffer per subscriber.

::

    bus = ppl.PubSub("scores")
    sub = bus.subscribe("match.*", show, buffer=100, overflow="drop_oldest")
    await bus.publish("match.42", {"home": 1})      # -> 1 subscriber it was routed to

The publisher hands each message to every matching subscription's buffer and moves on;
each subscription delivers from its buffer to its handler, one message at a time. A slow
handler therefore builds a backlog, and when the buffer is full the subscription's
``overflow`` policy decides what happens — the heart of backpressure in push systems:

``"block"``        the publisher waits for room (the producer slows to the slowest consumer)
``"drop_oldest"``  the oldest buffered message is dropped to make room (freshest data wins)
``"drop_newest"``  the incoming message is dropped (the backlog is kept)
``"error"``        the message is dropped and ``publish`` raises :class:`BufferFullError`

Every message is accounted for in the trace: for each subscription,
``delivered + dropped + pending == published to it``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import _validate
from ..errors import BufferFullError
from ..lab import Lab, resolve

OVERFLOW_POLICIES = ("block", "drop_oldest", "drop_newest", "error")
_GLOB_CHARS = re.compile(r"[*?\[]")


class Message:
    """A published message as a handler receives it."""

    __slots__ = ("data", "id", "published_at", "topic")

    def __init__(self, id: int, topic: str, data: Any, published_at: float):
        self.id = id
        self.topic = topic
        self.data = data
        self.published_at = published_at

    def __repr__(self) -> str:
        return f"Message(id={self.id}, topic={self.topic!r}, data={self.data!r}, published_at={self.published_at:.6g})"


class Subscription:
    """One subscriber: a pattern, a handler, a bounded buffer and a delivery task.

    Made by :meth:`PubSub.subscribe`. ``pending`` is how many messages wait in the buffer;
    ``delivered``/``dropped`` count what happened to the rest; ``errors`` keeps what the
    handler raised.
    """

    def __init__(self, bus: PubSub, pattern: str, handler: Callable, capacity: int, overflow: str, name: str):
        self.bus = bus
        self.pattern = pattern
        self.handler = handler
        self.capacity = capacity
        self.overflow = overflow
        self.name = name
        self.delivered = 0
        self.dropped = 0
        self.errors: list[Exception] = []
        self.busy = False
        self.closed = False
        self._buffer: deque[Message] = deque()
        self._wakeup: asyncio.Future | None = None
        self._room: deque[asyncio.Future] = deque()
        self._idle: list[asyncio.Future] = []
        self._task: asyncio.Task | None = None

    @property
    def pending(self) -> int:
        """Messages waiting in this subscription's buffer."""
        return len(self._buffer)

    def matches(self, topic: str) -> bool:
        return fnmatch.fnmatchcase(topic, self.pattern)

    # -- delivery -------------------------------------------------------------------------
    def _ensure_running(self) -> None:
        if self._task is None and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"deliver:{self.name}")

    async def _deliver(self) -> None:
        buffer = self._buffer
        record = self.bus.lab.trace.record
        bus_name = self.bus.name
        handler = self.handler
        loop = asyncio.get_running_loop()
        while True:
            if not buffer:
                self._set_idle()
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            msg = buffer.popleft()
            if self._room:
                self._wake_one_publisher()
            self.delivered += 1
            record("deliver", bus_name, self.name, msg.id, depth=len(buffer))
            self.busy = True
            try:
                result = handler(msg)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the handler's bug, not the bus's: report it and go on
                self.errors.append(exc)
                self.bus._report(exc, self, msg)
            finally:
                self.busy = False

    def _wake_one_publisher(self) -> None:
        while self._room:
            fut = self._room.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _set_idle(self) -> None:
        idle, self._idle = self._idle, []
        for fut in idle:
            if not fut.done():
                fut.set_result(None)

    def _push(self, msg: Message) -> None:  # PubSub.publish inlines this; keep them alike
        self._buffer.append(msg)
        self.bus.lab.trace.record("enqueue", self.bus.name, self.name, msg.id, depth=len(self._buffer))
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _drop(self, msg: Message, reason: str) -> None:
        self.dropped += 1
        self.bus.lab.trace.record(
            "drop", self.bus.name, self.name, msg.id, reason=reason, depth=len(self._buffer)
        )

    async def _wait_for_room(self, sender: str, msg: Message) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while len(self._buffer) >= self.capacity and not self.closed:
            fut = loop.create_future()
            self._room.append(fut)
            await fut
        self.bus.lab.trace.record("blocked", sender, self.name, msg.id, waited=loop.time() - started)

    async def join(self) -> None:
        """Wait until the buffer is empty and the handler is idle."""
        while not self.closed and (self._buffer or self.busy):
            fut = asyncio.get_running_loop().create_future()
            self._idle.append(fut)
            await fut

    # -- closing --------------------------------------------------------------------------
    def close(self) -> None:
        """Unsubscribe: buffered messages are dropped (and traced), blocked publishers released."""
        if self.closed:
            return
        self.closed = True
        while self._buffer:
            self._drop(self._buffer.popleft(), "unsubscribed")
        for fut in [*self._room, *self._idle]:
            if not fut.done():
                fut.set_result(None)
        self._room.clear()
        self._idle = []
        if self._task is not None:
            self._task.cancel()
        self.bus._remove(self)

    _close_now = close

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pending={self.pending}"
        return (
            f"Subscription({self.name!r}, pattern={self.pattern!r}, buffer={self.capacity}, "
            f"overflow={self.overflow!r}, delivered={self.delivered}, dropped={self.dropped}, {state})"
        )


class PubSub:
    """Publish/subscribe with topics, glob patterns and per-subscriber buffers.

    Args:
        name: how the bus appears in the trace; given explicitly, a new bus with the same
            name in the same lab replaces (closes) the old one — re-running a cell is safe.
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.
        on_error: ``fn(exc, message, subscription)`` called when a handler raises. Without
            it the exception goes to the event loop's exception handler (in
            :func:`~pushpull_lab.simulate` that makes the run raise at the end).
    """

    def __init__(self, name: str | None = None, *, lab: Lab | None = None, on_error: Callable | None = None):
        self.lab = resolve(lab, "PubSub")
        self.name = self.lab.next_id("pubsub") if name is None else _validate.name("PubSub", "name", name)
        self.on_error = None if on_error is None else _validate.function("PubSub", "on_error", on_error)
        self.published = 0
        self._subs: list[Subscription] = []
        self._by_name: dict[str, Subscription] = {}  # so a named re-subscribe need not scan 10,000 subs
        self._routes: dict[str, list[Subscription]] = {}
        self.closed = False
        if name is not None:
            self.lab.register("pubsub", self.name, self)

    def subscribe(
        self,
        pattern: str,
        handler: Callable,
        *,
        buffer: int = 100,
        overflow: str = "drop_oldest",
        name: str | None = None,
    ) -> Subscription:
        """Deliver messages whose topic matches ``pattern`` to ``handler(message)``.

        Args:
            pattern: a topic (``"scores"``) or a glob (``"match.*"``, ``"sensor.?.temp"``),
                matched like Redis ``PSUBSCRIBE``.
            handler: sync or async function of one :class:`Message`.
            buffer: how many messages may wait for this subscriber (>= 1).
            overflow: what happens when the buffer is full: ``"block"``,
                ``"drop_oldest"``, ``"drop_newest"`` or ``"error"``.
            name: the subscriber's name in the trace; given explicitly, subscribing again
                with the same name replaces the old subscription.
        """
        where = "PubSub.subscribe"
        if self.closed:
            raise RuntimeError(f"{where}: the bus {self.name!r} is closed")
        _validate.name(where, "pattern", pattern)
        _validate.function(where, "handler", handler)
        _validate.integer(where, "buffer", buffer, minimum=1)
        _validate.choice(where, "overflow", overflow, OVERFLOW_POLICIES)
        if name is None:
            name = self.lab.next_id("sub")
        else:
            _validate.name(where, "name", name)
            old = self._by_name.get(name)
            if old is not None:
                old.close()
        sub = Subscription(self, pattern, handler, buffer, overflow, name)
        self._subs.append(sub)
        self._by_name[name] = sub
        self._routes.clear()
        with contextlib.suppress(RuntimeError):  # no loop yet: the first publish starts it
            sub._ensure_running()
        return sub

    def _route(self, topic: str) -> list[Subscription]:
        subs = self._routes.get(topic)
        if subs is None:
            subs = self._routes[topic] = [
                s
                for s in self._subs
                if s.pattern == topic or (_GLOB_CHARS.search(s.pattern) and s.matches(topic))
            ]
        return subs

    async def publish(self, topic: str, data: Any = None, *, sender: str = "publisher") -> int:
        """Hand ``data`` to every subscription matching ``topic``; returns how many matched.

        Returns as soon as every matching buffer has taken the message (or dropped it by
        its policy); only ``overflow="block"`` makes it wait.
        """
        if self.closed:
            raise RuntimeError(f"PubSub.publish: the bus {self.name!r} is closed")
        # A topic already routed was already checked: _routes holds only valid topics.
        subs = self._routes.get(topic) if topic.__class__ is str else None
        if subs is None:
            if not isinstance(topic, str) or not topic or _GLOB_CHARS.search(topic):
                raise ValueError(
                    f"PubSub.publish(topic={topic!r}): topic must be a non-empty string without "
                    "glob characters (* ? [); patterns are for subscribe()"
                )
            subs = self._route(topic)
        lab = self.lab
        record = lab.trace.record
        name = self.name
        msg = Message(next(lab.message_ids), topic, data, lab.now())
        self.published += 1
        record("publish", sender, name, msg.id, topic=topic, routed=len(subs))
        overflowed = []
        for sub in subs:
            if sub._task is None:
                sub._ensure_running()
            buffer = sub._buffer
            if len(buffer) >= sub.capacity:
                policy = sub.overflow
                if policy == "drop_oldest":
                    sub._drop(buffer.popleft(), "drop_oldest")
                elif policy == "drop_newest":
                    sub._drop(msg, "drop_newest")
                    continue
                elif policy == "error":
                    sub._drop(msg, "error")
                    overflowed.append(sub)
                    continue
                else:
                    await sub._wait_for_room(sender, msg)
                    if sub.closed:
                        sub._drop(msg, "unsubscribed")
                        continue
            # sub._push(msg), inlined: this runs once per message and subscriber.
            buffer.append(msg)
            record("enqueue", name, sub.name, msg.id, depth=len(buffer))
            wakeup = sub._wakeup
            if wakeup is not None and not wakeup.done():
                wakeup.set_result(None)
        if overflowed:
            names = ", ".join(repr(s.name) for s in overflowed)
            raise BufferFullError(
                f"PubSub.publish(topic={topic!r}): the buffer of subscriber {names} is full "
                f"({overflowed[0].capacity} messages) and its overflow policy is 'error'; "
                "the message was dropped for it and delivered to the others"
            )
        return len(subs)

    def _report(self, exc: Exception, sub: Subscription, msg: Message) -> None:
        self.lab.trace.record("error", sub.name, self.name, msg.id, error=f"{type(exc).__name__}: {exc}")
        if self.on_error is not None:
            self.on_error(exc, msg, sub)
        else:
            asyncio.get_running_loop().call_exception_handler(
                {"message": f"handler of subscriber {sub.name!r} on {self.name!r} raised", "exception": exc}
            )

    def _remove(self, sub: Subscription) -> None:
        if self._by_name.get(sub.name) is sub:
            del self._by_name[sub.name]
        if sub in self._subs:
            self._subs.remove(sub)
            self._routes.clear()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs)

    async def join(self) -> None:
        """Wait until every subscriber has handled everything in its buffer."""
        for sub in list(self._subs):
            await sub.join()

    def close(self) -> None:
        """Close every subscription (their buffered messages are traced as dropped)."""
        for sub in list(self._subs):
            sub.close()
        self.closed = True
        self.lab.unregister("pubsub", self.name, self)

    _close_now = close

    def __repr__(self) -> str:
        return f"PubSub({self.name!r}, subscriptions={len(self._subs)}, published={self.published})"
