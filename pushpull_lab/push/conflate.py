"""Conflation: for a slow client, the latest value per key wins.

::

    from pushpull_lab.push.conflate import ConflatingSubscriber

    async def main(lab):
        bus = ppl.PubSub("ticker")

        async def slow_screen(message):          # 0.5 s to draw one price
            await ppl.sleep(0.5)

        screen = ConflatingSubscriber(bus, "price.*", slow_screen, name="phone")
        for n in range(100):                     # 10 ticks a second over 3 symbols
            await bus.publish(f"price.{'ABC'[n % 3]}", 100 + n)
            await ppl.sleep(0.1)
        await screen.join()
        return screen.delivered, screen.conflated   # few deliveries; the rest were superseded

    run = ppl.simulate(main)

A stock ticker publishes prices faster than a phone on a slow network can draw them. Queuing
every tick (a FIFO buffer) makes the phone fall further and further behind; dropping to a buffer
of one (``PubSub.subscribe(..., buffer=1, overflow="drop_oldest")``) keeps only the newest
message *of all symbols*, so a quiet symbol's last price can be thrown away by a busy one.
**Per-key conflation** keeps at most one pending message **per key** (per symbol): a new price
for ``ABC`` replaces the pending ``ABC`` price in place, and the client receives, in turn, the
latest price of every symbol that changed. It never shows a value older than necessary and never
loses a key's final value.

:class:`ConflatingQueue` is the data structure (usable on its own); :class:`ConflatingSubscriber`
puts one between a :class:`~pushpull_lab.PubSub` and a slow handler, on the server side, as
streaming servers (Lightstreamer, market-data gateways) do per client connection.

**Trace.** The bus's own events bring each message into the subscriber (``publish`` and a
``deliver`` to ``<name>:in``, the client's connection); then, with the bus as actor and the
client as peer: ``enqueue`` (a new key is pending), ``conflate`` (``msg`` was superseded by
``replaced_by`` before it was sent: the message saved), ``deliver`` (sent to the handler), all
with the ``depth`` of pending keys. ``trace.latency("publish", "deliver", peer=name)`` is the age
of each value when the client got it. For every subscriber,
``received == delivered + conflated + pending``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from .. import _validate
from .pubsub import Message, PubSub

_MISSING = object()


class ConflatingQueue:
    """Pending items, at most one per key, oldest pending key first.

    ``put`` for a key that is already pending replaces its item **in place** (the key keeps its
    turn, so a symbol that changes all the time cannot starve the others); ``pop`` takes the
    key that has waited longest::

        q = ConflatingQueue()
        q.put("ABC", 1); q.put("XYZ", 7); q.put("ABC", 2)   # the third put returns 1 (replaced)
        q.pop()        # ('ABC', 2)
        q.pop()        # ('XYZ', 7)
    """

    def __init__(self) -> None:
        self._items: dict[Hashable, Any] = {}

    def put(self, key: Hashable, item: Any) -> Any:
        """Make ``item`` the pending item of ``key``; return the item it replaced, or None."""
        try:
            hash(key)
        except TypeError:
            raise TypeError(
                f"ConflatingQueue.put(key={key!r}): key must be hashable (a str, int, tuple...)"
            ) from None
        old = self._items.get(key, _MISSING)
        self._items[key] = item  # an existing key keeps its position in a dict
        return None if old is _MISSING else old

    def pop(self) -> tuple[Hashable, Any]:
        """Remove and return ``(key, item)`` of the key that has been pending longest."""
        if not self._items:
            raise IndexError("ConflatingQueue.pop(): the queue is empty")
        key = next(iter(self._items))
        return key, self._items.pop(key)

    def keys(self) -> list[Hashable]:
        """The pending keys, in the order they will be popped."""
        return list(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[Hashable, Any]]:
        return iter(list(self._items.items()))

    def __repr__(self) -> str:
        return f"ConflatingQueue({self._items!r})"


def _by_topic(message: Message) -> str:
    return message.topic


class ConflatingSubscriber:
    """Deliver the latest message per key from a :class:`~pushpull_lab.PubSub` to a slow handler.

    Args:
        bus: the bus to subscribe to.
        pattern: topic or glob, as for :meth:`PubSub.subscribe`.
        handler: sync or async ``fn(message)``; called one message at a time.
        key: ``fn(message) -> key`` saying which messages supersede each other; default the
            message's topic (one key per symbol when each symbol has its own topic).
        name: the client's name in the trace; given explicitly, a new subscriber with the same
            name on the same bus replaces this one.

    Counters: ``received``, ``delivered``, ``conflated`` (superseded before sending),
    ``pending`` (keys waiting now), ``errors`` (what the handler raised).
    """

    def __init__(
        self,
        bus: PubSub,
        pattern: str,
        handler: Callable,
        *,
        key: Callable[[Message], Hashable] | None = None,
        name: str | None = None,
    ):
        where = "ConflatingSubscriber"
        if not isinstance(bus, PubSub):
            raise TypeError(f"{where}(bus={bus!r}): bus must be a pushpull_lab.PubSub")
        _validate.name(where, "pattern", pattern)
        self.handler = _validate.function(where, "handler", handler)
        self.key = _by_topic if key is None else _validate.function(where, "key", key)
        self.name = bus.lab.next_id("conflating") if name is None else _validate.name(where, "name", name)
        self.bus = bus
        self.lab = bus.lab
        self.pattern = pattern
        self.received = 0
        self.delivered = 0
        self.conflated = 0
        self.errors: list[Exception] = []
        self.busy = False
        self.closed = False
        self._queue = ConflatingQueue()
        self._wakeup: asyncio.Future | None = None
        self._idle: list[asyncio.Future] = []
        self._task: asyncio.Task | None = None
        self._registry_key = f"{bus.name}/{self.name}"
        self.lab.register("conflating", self._registry_key, self)
        # The client's connection: an instant handler, so nothing waits here; "block" so that a
        # burst larger than the buffer slows the publisher instead of losing anything silently.
        self._inbox = bus.subscribe(
            pattern, self._arrive, buffer=1000, overflow="block", name=f"{self.name}:in"
        )

    @property
    def pending(self) -> int:
        """Keys with a value waiting to be sent."""
        return len(self._queue)

    def _arrive(self, message: Message) -> None:
        if self.closed:
            return
        self.received += 1
        key = self.key(message)
        replaced = self._queue.put(key, message)
        record = self.lab.trace.record
        if replaced is None:
            record("enqueue", self.bus.name, self.name, message.id, key=key, depth=len(self._queue))
        else:
            self.conflated += 1
            record(
                "conflate", self.bus.name, self.name, replaced.id,
                key=key, replaced_by=message.id, depth=len(self._queue),
            )  # fmt: skip
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"deliver:{self.name}")
        elif self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        record = self.lab.trace.record
        while True:
            if not self._queue:
                idle, self._idle = self._idle, []
                for fut in idle:
                    if not fut.done():
                        fut.set_result(None)
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            key, message = self._queue.pop()
            self.delivered += 1
            record("deliver", self.bus.name, self.name, message.id, key=key, depth=len(self._queue))
            self.busy = True
            try:
                result = self.handler(message)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the handler's bug: report it and go on
                self.errors.append(exc)
                record("error", self.name, self.bus.name, message.id, error=f"{type(exc).__name__}: {exc}")
                loop.call_exception_handler(
                    {"message": f"handler of conflating subscriber {self.name!r} raised", "exception": exc}
                )
            finally:
                self.busy = False

    async def join(self) -> None:
        """Wait until the bus has handed over everything and every pending key is handled."""
        while not self.closed:
            await self._inbox.join()
            if not self._queue and not self.busy:
                return
            fut = asyncio.get_running_loop().create_future()
            self._idle.append(fut)
            await fut

    def close(self) -> None:
        """Unsubscribe; pending values are dropped (traced as ``drop``)."""
        self._close_now()

    def _close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._inbox.close()
        for key, message in self._queue:
            self.lab.trace.record(
                "drop", self.bus.name, self.name, message.id, key=key, reason="unsubscribed"
            )
        self._queue = ConflatingQueue()
        for fut in self._idle:
            if not fut.done():
                fut.set_result(None)
        self._idle = []
        if self._task is not None:
            self._task.cancel()
        self.lab.unregister("conflating", self._registry_key, self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"pending={self.pending}"
        return (
            f"ConflatingSubscriber({self.name!r}, pattern={self.pattern!r}, received={self.received}, "
            f"delivered={self.delivered}, conflated={self.conflated}, {state})"
        )
