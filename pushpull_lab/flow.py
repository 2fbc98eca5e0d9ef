"""Flow control: the consumer sets the pace, and the sending side obeys.

Messages here still travel by **push** — the broker or the producer initiates every
delivery — but the **consumer** decides how many may be on their way to it. That is why this
module lives at the top of the package and not in ``push/`` or ``pull/``: both mechanisms are
a hybrid of the two models, exactly where the source text says backpressure gets hard.

:class:`PrefetchQueue` — AMQP's ``basic.qos(prefetch_count=N)``
    A broker queue pushes messages to its consumers, never more than ``prefetch``
    unacknowledged ones to each. A consumer acknowledges a message when its handler returns,
    which frees a slot for the next delivery. The **consumer** is protected; the broker's
    backlog is not bounded: a producer that is faster than its consumers fills the broker.

:class:`CreditChannel` — Reactive Streams' ``subscription.request(n)``
    The consumer grants credit; the producer may send only while it holds credit and
    **waits** in ``await channel.send(...)`` when it holds none. Nothing is dropped and never
    more than the credit granted is in flight: the backpressure reaches the producer.

::

    import pushpull_lab as ppl
    from pushpull_lab.flow import CreditChannel, PrefetchQueue

    async def main(lab):
        async def slow(message):                     # the consumer: 0.2 s per message
            await ppl.sleep(0.2)

        broker = PrefetchQueue("orders")
        broker.consume(slow, prefetch=5, name="billing")
        for n in range(20):
            await broker.publish(n, sender="shop")   # never waits: the broker holds the rest

        link = CreditChannel(slow, name="readings", consumer="dashboard", initial=5, refill=1)
        for n in range(20):
            await link.send(n, sender="sensor")      # waits whenever the sensor has no credit
        await broker.join(); await link.join()
        broker.close(); link.close()

    run = ppl.simulate(main)
    run.trace.counts()  # {'ack': 20, 'active': 40, 'blocked': 15, 'deliver': 40, 'publish': 40, 'request': 21}

Trace (``actor`` is who initiates; ``q`` is the queue or channel name):

==========  ====================  ===========================================================
kind        actor → peer          meaning
==========  ====================  ===========================================================
publish     producer → q          the producer hands over a message (``depth``: broker
                                  backlog after it, for the queue; ``credit`` held, channel)
blocked     producer → q          the producer waited ``waited`` s for credit (as in PubSub)
deliver     q → consumer          sent on to the consumer (push); ``unacked`` and ``depth``
                                  (queue) or ``credit`` left (channel)
active      consumer → q          the consumer's handler starts on it (as a Worker's job)
ack         consumer → q          handled; frees a prefetch slot when it reaches the broker
request     consumer → q          a credit grant of ``n``: the consumer initiates (pull)
error       consumer → q          the handler raised (``error="Type: text"``)
returned    q → consumer          unacknowledged, put back when its consumer closed
drop        q → consumer          never handled: the queue/channel closed (``reason="closed"``;
                                  no peer for a queue's undelivered backlog)
==========  ====================  ===========================================================

``delay`` is the one-way latency of the link: a delivery reaches the consumer ``delay`` s
after it is sent, and an ack or a credit grant reaches the broker or producer ``delay`` s
after the consumer sends it. With a delay, a small prefetch or credit window leaves the
consumer idle while acknowledgements travel (the window must cover the round trip).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from . import _validate
from .lab import Lab, resolve
from .push.pubsub import Message


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _wake(futures: list[asyncio.Future]) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_result(None)
    futures.clear()


class _Consumer:
    """The consumer's end of a link: an inbox and one task that handles a message at a time.

    Subclasses say what happens after each message (:meth:`_after`) and where errors go.
    """

    kind = "consumer"

    def __init__(self, lab: Lab, link: str, actor: str, handler: Callable, delay: float):
        self.lab = lab
        self.link = link
        self.actor = actor
        self.handler = handler
        self.delay = delay
        self.handled = 0
        self.errors: list[Exception] = []
        self.busy = False
        self.closed = False
        self._inbox: deque[Message] = deque()
        self._current: Message | None = None
        self._in_transit: dict[int, tuple[asyncio.TimerHandle, Message]] = {}
        self._replies: dict[int, asyncio.TimerHandle] = {}
        self._reply_ids = itertools.count()
        self._wakeup: asyncio.Future | None = None
        self._task: asyncio.Task | None = None

    @property
    def pending(self) -> int:
        """Messages that reached the consumer and wait for its handler."""
        return len(self._inbox)

    @property
    def in_transit(self) -> int:
        """Messages sent to the consumer that have not reached it yet (only with ``delay``)."""
        return len(self._in_transit)

    def _arrive(self, msg: Message) -> None:
        """A message was sent to this consumer: it lands now, or after the link's delay."""
        if not self.delay:
            self._land(msg)
            return

        def land() -> None:
            self._in_transit.pop(msg.id, None)
            self._land(msg)

        handle = asyncio.get_running_loop().call_later(self.delay, land)
        self._in_transit[msg.id] = (handle, msg)

    def _land(self, msg: Message) -> None:
        self._inbox.append(msg)
        if self._task is None and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.kind}:{self.actor}")
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _reply(self, callback: Callable[[], None]) -> None:
        """Send something back toward the sender (an ack, a grant): applied after the delay."""
        if not self.delay:
            callback()
            return
        key = next(self._reply_ids)

        def arrive() -> None:
            self._replies.pop(key, None)
            callback()

        self._replies[key] = asyncio.get_running_loop().call_later(self.delay, arrive)

    async def _run(self) -> None:
        record = self.lab.trace.record
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        while True:
            if not inbox:
                self._idle()
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            msg = self._current = inbox.popleft()
            record("active", self.actor, self.link, msg.id, pending=len(inbox))
            self.busy = True
            try:
                result = self.handler(msg)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception as exc:  # the handler's bug: recorded and surfaced, then go on
                self.errors.append(exc)
                self._report(exc, msg)
            finally:
                self.busy = False
            self._current = None
            self.handled += 1
            self._after(msg)

    def _report(self, exc: Exception, msg: Message) -> None:
        raise NotImplementedError

    def _after(self, msg: Message) -> None:
        raise NotImplementedError

    def _idle(self) -> None:
        raise NotImplementedError

    def _stop(self) -> list[Message]:
        """Stop handling; return what this consumer held and never finished, oldest first."""
        self.closed = True
        held = [msg for handle, msg in self._in_transit.values()]
        for handle, _ in self._in_transit.values():
            handle.cancel()
        self._in_transit.clear()
        unfinished = ([self._current] if self._current is not None else []) + list(self._inbox)
        self._inbox.clear()
        self._current = None
        if self._task is not None:
            self._task.cancel()
        return sorted(unfinished + held, key=lambda m: m.id)


def _report_error(lab: Lab, on_error: Callable | None, exc: Exception, msg: Message, who: Any, where: str):
    lab.trace.record("error", who.actor, who.link, msg.id, error=f"{type(exc).__name__}: {exc}")
    if on_error is not None:
        on_error(exc, msg, who)
    else:
        asyncio.get_running_loop().call_exception_handler(
            {"message": f"handler of {who.actor!r} on {where} raised", "exception": exc}
        )


# -- prefetch --------------------------------------------------------------------------------------
class PrefetchConsumer(_Consumer):
    """A consumer of a :class:`PrefetchQueue`, made by :meth:`PrefetchQueue.consume`.

    ``unacked`` is how many messages the broker has sent it without an ack back yet (never
    more than ``prefetch``); ``delivered``/``acked`` count the rest; ``max_unacked`` is the
    most it ever held; ``errors`` keeps what its handler raised.
    """

    kind = "prefetch-consumer"

    def __init__(self, queue: PrefetchQueue, name: str, handler: Callable, prefetch: int):
        super().__init__(queue.lab, queue.name, name, handler, queue.delay)
        self.name = name
        self.queue = queue
        self.prefetch = prefetch
        self.unacked = 0
        self.delivered = 0
        self.acked = 0
        self.max_unacked = 0
        self._unacked_ids: set[int] = set()

    def _after(self, msg: Message) -> None:
        self.acked += 1
        self._unacked_ids.discard(msg.id)
        self.lab.trace.record("ack", self.actor, self.link, msg.id)
        self._reply(self._ack_arrived)

    def _ack_arrived(self) -> None:
        if self.closed:
            return
        self.unacked -= 1
        self.queue._dispatch()
        self.queue._check_idle()

    def _idle(self) -> None:
        self.queue._check_idle()

    def _report(self, exc: Exception, msg: Message) -> None:
        _report_error(self.lab, self.queue.on_error, exc, msg, self, f"PrefetchQueue {self.link!r}")

    def close(self) -> None:
        """Stop consuming (AMQP ``basic.cancel``): unacknowledged messages go back to the queue.

        They are redelivered to the other consumers, ahead of newer messages (traced as
        ``returned``); a message whose handler was interrupted may therefore be handled twice.
        """
        if self.closed:
            return
        for handle in self._replies.values():  # acks on their way: the consumer is gone anyway
            handle.cancel()
        self._replies.clear()
        back = [m for m in self._stop() if m.id in self._unacked_ids]
        self._unacked_ids.clear()
        self.unacked = 0
        self.queue._consumer_closed(self, back)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"unacked={self.unacked}"
        return (
            f"PrefetchConsumer({self.name!r}, prefetch={self.prefetch}, delivered={self.delivered}, "
            f"acked={self.acked}, {state})"
        )


class PrefetchQueue:
    """A broker queue that pushes to consumers, at most ``prefetch`` unacknowledged each (AMQP).

    Args:
        name: how the queue appears in the trace; given explicitly, a new queue with the same
            name in the same lab replaces (closes) the old one — re-running a cell is safe.
        delay: one-way latency of the link to the consumers, seconds (>= 0).
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.
        on_error: ``fn(exc, message, consumer)`` called when a handler raises. Without it the
            exception goes to the event loop's exception handler (in
            :func:`~pushpull_lab.simulate` that makes the run raise at the end). Either way it
            is an ``error`` event in the trace, and the message is acknowledged (not retried).

    ``publish`` never waits: what the consumers cannot take yet waits in the broker
    (``backlog``), however long that gets. Prefetch protects the consumer, not the broker.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        delay: float = 0.0,
        lab: Lab | None = None,
        on_error: Callable | None = None,
    ):
        where = "PrefetchQueue"
        self.lab = resolve(lab, where)
        self.name = self.lab.next_id("prefetch") if name is None else _validate.name(where, "name", name)
        self.delay = _validate.number(where, "delay", delay, minimum=0)
        self.on_error = None if on_error is None else _validate.function(where, "on_error", on_error)
        self.published = 0
        self.closed = False
        self._ready: deque[Message] = deque()
        self._consumers: list[PrefetchConsumer] = []
        self._turn = 0
        self._idle: list[asyncio.Future] = []
        if name is not None:
            self.lab.register("prefetch", self.name, self)

    @property
    def backlog(self) -> int:
        """Messages waiting in the broker for a consumer with a free prefetch slot."""
        return len(self._ready)

    @property
    def consumers(self) -> list[PrefetchConsumer]:
        return list(self._consumers)

    def consume(self, handler: Callable, *, prefetch: int = 1, name: str | None = None) -> PrefetchConsumer:
        """Start pushing messages to ``handler(message)``, at most ``prefetch`` unacknowledged.

        Args:
            handler: sync or async function of one :class:`~pushpull_lab.push.pubsub.Message`;
                the message is acknowledged when it returns (or raises).
            prefetch: the most messages the consumer may hold unacknowledged (>= 1). AMQP's
                ``0`` means "no limit", which is plain push: use a ``PubSub`` for that.
            name: the consumer's name in the trace; given explicitly, consuming again with
                the same name replaces the old consumer.
        """
        where = "PrefetchQueue.consume"
        self._check_open(where)
        _validate.function(where, "handler", handler)
        _validate.integer(where, "prefetch", prefetch, minimum=1)
        if name is None:
            name = self.lab.next_id("consumer")
        else:
            _validate.name(where, "name", name)
            for old in [c for c in self._consumers if c.name == name]:
                old.close()
        consumer = PrefetchConsumer(self, name, handler, prefetch)
        self._consumers.append(consumer)
        if _loop_running():  # else the next publish dispatches
            self._dispatch()
        return consumer

    async def publish(self, data: Any = None, *, sender: str = "producer") -> int:
        """Put a message on the queue and return its id. Never waits."""
        self._check_open("PrefetchQueue.publish")
        _validate.name("PrefetchQueue.publish", "sender", sender)
        msg = Message(next(self.lab.message_ids), self.name, data, self.lab.now())
        self.published += 1
        self._ready.append(msg)
        self.lab.trace.record("publish", sender, self.name, msg.id, depth=len(self._ready))
        self._dispatch()
        return msg.id

    def _dispatch(self) -> None:
        """Send ready messages to consumers with a free slot, taking turns."""
        ready, consumers = self._ready, self._consumers
        record = self.lab.trace.record
        while ready and consumers:
            n = len(consumers)
            for step in range(n):
                consumer = consumers[(self._turn + step) % n]
                if consumer.unacked < consumer.prefetch:
                    self._turn = (self._turn + step + 1) % n
                    break
            else:
                return  # every consumer is full: the rest waits in the broker
            msg = ready.popleft()
            consumer.unacked += 1
            consumer.delivered += 1
            consumer._unacked_ids.add(msg.id)
            consumer.max_unacked = max(consumer.max_unacked, consumer.unacked)
            record("deliver", self.name, consumer.name, msg.id, depth=len(ready), unacked=consumer.unacked)
            consumer._arrive(msg)

    def _consumer_closed(self, consumer: PrefetchConsumer, back: list[Message]) -> None:
        if consumer in self._consumers:
            self._consumers.remove(consumer)
        self._turn = 0
        for msg in reversed(back):
            self._ready.appendleft(msg)
        for msg in back:
            self.lab.trace.record("returned", self.name, consumer.name, msg.id, depth=len(self._ready))
        if not self.closed:
            self._dispatch()
        self._check_idle()

    def _busy(self) -> bool:
        return bool(self._ready) or any(c.unacked or c.busy or c.pending for c in self._consumers)

    def _check_idle(self) -> None:
        if not self._busy():
            _wake(self._idle)

    async def join(self) -> None:
        """Wait until every message has been handled and acknowledged.

        Without a consumer the backlog never drains; in :func:`~pushpull_lab.simulate` that is
        reported as a deadlock.
        """
        while not self.closed and self._busy():
            fut = asyncio.get_running_loop().create_future()
            self._idle.append(fut)
            await fut

    def _check_open(self, where: str) -> None:
        if self.closed:
            raise RuntimeError(f"{where}: the queue {self.name!r} is closed")

    def close(self) -> None:
        """Stop every consumer; what was never handled is traced as ``drop`` (reason ``closed``)."""
        if self.closed:
            return
        self.closed = True
        for consumer in list(self._consumers):
            consumer.close()
        while self._ready:
            msg = self._ready.popleft()
            self.lab.trace.record("drop", self.name, None, msg.id, reason="closed", depth=len(self._ready))
        _wake(self._idle)
        self.lab.unregister("prefetch", self.name, self)

    _close_now = close

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"backlog={self.backlog}"
        return (
            f"PrefetchQueue({self.name!r}, consumers={len(self._consumers)}, published={self.published}, "
            f"{state})"
        )


# -- credit ----------------------------------------------------------------------------------------
class CreditChannel(_Consumer):
    """A producer→consumer link driven by credit, as Reactive Streams' ``request(n)``.

    Args:
        handler: the consumer: a sync or async function of one
            :class:`~pushpull_lab.push.pubsub.Message`, called one message at a time.
        name: the channel's name in the trace (the producer side); given explicitly, a new
            channel with the same name in the same lab replaces (closes) the old one.
        consumer: the consumer's name in the trace (default ``"<name>-consumer"``).
        initial: credit the consumer grants at the start (>= 0).
        refill: after handling every ``refill`` messages the consumer requests ``refill``
            more (1 <= refill <= initial), so at most ``initial`` messages are ever granted
            and not yet handled. ``None``: no automatic grants; call :meth:`request` yourself.
        delay: one-way latency of the link, seconds (>= 0): deliveries and grants take it.
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.
        on_error: ``fn(exc, message, channel)`` called when the handler raises; without it
            the exception goes to the event loop's exception handler. The message counts as
            handled either way (and a refill is still granted).

    The producer calls ``await channel.send(data)``: it returns at once while the producer
    holds credit, spending one; with none it waits until a grant arrives. ``credit`` never
    goes below zero.
    """

    kind = "credit-consumer"

    def __init__(
        self,
        handler: Callable,
        *,
        name: str | None = None,
        consumer: str | None = None,
        initial: int = 1,
        refill: int | None = 1,
        delay: float = 0.0,
        lab: Lab | None = None,
        on_error: Callable | None = None,
    ):
        where = "CreditChannel"
        lab = resolve(lab, where)
        _validate.function(where, "handler", handler)
        link = lab.next_id("credit") if name is None else _validate.name(where, "name", name)
        consumer = f"{link}-consumer" if consumer is None else _validate.name(where, "consumer", consumer)
        _validate.integer(where, "initial", initial, minimum=0)
        if refill is not None:
            _validate.integer(where, "refill", refill, minimum=1)
            if refill > initial:
                raise ValueError(
                    f"{where}(refill={refill!r}): refill must be <= initial ({initial}); the consumer "
                    "would wait for more messages than it ever granted, and the link would stall"
                )
        delay = _validate.number(where, "delay", delay, minimum=0)
        super().__init__(lab, link, consumer, handler, delay)
        self.name = link
        self.consumer = consumer
        self.on_error = None if on_error is None else _validate.function(where, "on_error", on_error)
        self.initial = initial
        self.refill = refill
        self.credit = 0
        """Credit the producer holds now: grants that reached it minus messages sent."""
        self.granted = 0
        self.sent = 0
        self.waited = 0.0
        """Total seconds producers spent waiting for credit."""
        self._since_refill = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._idle_waiters: list[asyncio.Future] = []
        self._started = False
        if name is not None:
            lab.register("credit", link, self)
        if not delay or _loop_running():  # grant now, as a subscriber does in onSubscribe
            self._start()

    @property
    def waiting(self) -> int:
        """Producers waiting in :meth:`send` for credit right now."""
        return sum(1 for f in self._waiters if not f.done())

    def request(self, n: int) -> None:
        """The consumer grants ``n`` more messages (``n`` >= 1; Reactive Streams rule 3.9).

        Recorded as a ``request`` by the consumer; the producer can use the credit once the
        grant reaches it (after ``delay``).
        """
        where = "CreditChannel.request"
        _validate.integer(where, "n", n, minimum=1)
        if self.closed:
            raise RuntimeError(f"{where}: the channel {self.link!r} is closed")
        self.granted += n
        self.lab.trace.record("request", self.actor, self.link, None, n=n)
        self._reply(lambda: self._grant_arrived(n))

    def _grant_arrived(self, n: int) -> None:
        if self.closed:
            return
        self.credit += n
        for _ in range(n):  # each waiter needs one credit; a woken one re-checks
            while self._waiters:
                fut = self._waiters.popleft()
                if not fut.done():
                    fut.set_result(None)
                    break
            else:
                return

    def _start(self) -> None:
        if not self._started:
            self._started = True
            if self.initial:
                self.request(self.initial)

    async def send(self, data: Any = None, *, sender: str = "producer") -> bool:
        """Send one message, waiting first while the producer holds no credit.

        Returns True once sent, False if the channel closed while the producer waited (the
        message is then traced as ``drop`` with reason ``closed``).
        """
        where = "CreditChannel.send"
        if self.closed:
            raise RuntimeError(f"{where}: the channel {self.link!r} is closed")
        _validate.name(where, "sender", sender)
        self._start()
        lab = self.lab
        record = lab.trace.record
        msg = Message(next(lab.message_ids), self.link, data, lab.now())
        record("publish", sender, self.link, msg.id, credit=self.credit)
        if self.credit <= 0:
            loop = asyncio.get_running_loop()
            started = loop.time()
            while self.credit <= 0 and not self.closed:
                fut = loop.create_future()
                self._waiters.append(fut)
                await fut
            waited = loop.time() - started
            self.waited += waited
            record("blocked", sender, self.link, msg.id, waited=waited)
            if self.closed:
                record("drop", self.link, self.actor, msg.id, reason="closed")
                return False
        self.credit -= 1
        self.sent += 1
        record("deliver", self.link, self.actor, msg.id, credit=self.credit)
        self._arrive(msg)
        return True

    def _after(self, msg: Message) -> None:
        if self.refill is not None and not self.closed:
            self._since_refill += 1
            if self._since_refill >= self.refill:
                self._since_refill = 0
                self.request(self.refill)

    def _idle(self) -> None:
        if not self._in_transit:
            _wake(self._idle_waiters)

    def _report(self, exc: Exception, msg: Message) -> None:
        _report_error(self.lab, self.on_error, exc, msg, self, f"CreditChannel {self.link!r}")

    async def join(self) -> None:
        """Wait until every message sent so far has been handled (waiting producers aside)."""
        while not self.closed and (self._inbox or self._in_transit or self.busy):
            fut = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            await fut

    def close(self) -> None:
        """Close the link: waiting producers wake (their ``send`` returns False), messages not
        yet handled are traced as ``drop`` (reason ``closed``)."""
        if self.closed:
            return
        for handle in self._replies.values():
            handle.cancel()
        self._replies.clear()
        for msg in self._stop():
            self.lab.trace.record("drop", self.link, self.actor, msg.id, reason="closed")
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()
        _wake(self._idle_waiters)
        self.lab.unregister("credit", self.link, self)

    _close_now = close

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"credit={self.credit}, pending={self.pending}"
        return (
            f"CreditChannel({self.link!r}, consumer={self.consumer!r}, initial={self.initial}, "
            f"refill={self.refill}, sent={self.sent}, handled={self.handled}, {state})"
        )
