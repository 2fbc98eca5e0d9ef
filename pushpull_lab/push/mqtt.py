"""MQTT-style telemetry: topic filters with ``+`` and ``#``, and QoS 0 / QoS 1 over lossy links.

::

    from pushpull_lab.push.mqtt import Broker, topic_matches

    topic_matches("site/+/temp", "site/floor-2/temp")      # True: + is exactly one level
    topic_matches("site/#", "site/floor-2/room-7/temp")    # True: # is every level below

    async def main(lab):
        broker = Broker("broker")
        got = []
        dashboard = broker.connect("dashboard", on_message=got.append)
        dashboard.subscribe("site/+/temp", qos=1)
        sensor = broker.connect("sensor-1", loss=0.2)      # a flaky radio link
        for n in range(100):
            await sensor.publish("site/floor-2/temp", 20 + n % 3, qos=1)
            await ppl.sleep(1.0)
        await broker.join()                                 # every retransmission settled
        return dashboard.received, dashboard.duplicates     # (>= 100, how many came twice)

    run = ppl.simulate(main, seed=1)

**Topics** are levels separated by ``/`` (``site/floor-2/room-7/temp``). A subscription's
**filter** may use ``+`` for exactly one whole level and ``#``, as the last level only, for that
level and everything below it — ``site/#`` also matches ``site`` itself. Topics that start with
``$`` (broker-internal, like ``$SYS/...``) are not matched by a filter that starts with a
wildcard. These are the rules of the MQTT 3.1.1 / 5.0 specifications (section 4.7).

**QoS** is chosen per hop: the publisher's QoS on the way to the broker, and the smaller of the
publisher's and the subscription's QoS on the way to each subscriber.

- **QoS 0** (*at most once*): one transmission, no acknowledgement. A packet the link loses is gone.
- **QoS 1** (*at least once*): the receiver answers every PUBLISH with a **PUBACK**; the sender keeps
  the message and, if no PUBACK arrives within ``retry_after`` seconds, sends it again with the
  **dup** flag set, up to ``max_retries`` times. When the PUBACK is the packet that got lost, the
  receiver gets the message twice: QoS 1 trades loss for **duplicates**, and the receiver must
  be idempotent (notebook 13). The broker forwards a duplicate it receives like a new message,
  as the specification requires, so duplicates travel on to subscribers.

(MQTT 3.1.1 clients commonly resend after a timeout as here; MQTT 5 resends only when a session
reconnects. The loss accounting is the same.) QoS 2 (*exactly once*, a four-packet handshake)
is left out.

**Links.** Each client connects over its own link, used in both directions: every packet on
it (PUBLISH or PUBACK) is lost with probability ``loss`` (drawn from ``lab.rng``, so a run is
reproducible) and otherwise arrives ``delay`` seconds later.

**Trace** (who initiated each exchange is the actor):

``publish``  client → broker: the application published (once per message; its ``msg`` id is
             the message's id everywhere, so ``trace.latency("publish", "deliver")`` is end to end)
``send``     sender → receiver: one transmission of a PUBLISH packet (``dup``, ``attempt``, ``packet_id``)
``lost``     sender → receiver: the link lost a packet (``packet`` is ``"PUBLISH"`` or ``"PUBACK"``)
``route``    broker: a PUBLISH arrived and was forwarded to ``routed`` subscribers
``deliver``  broker → client: a copy reached the subscriber's ``on_message`` (``dup``, ``qos``)
``puback``   receiver → sender: an acknowledgement was sent
``give_up``  sender → receiver: ``max_retries`` retransmissions were not acknowledged
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _validate
from ..lab import Lab, resolve

QOS_LEVELS = (0, 1)


# -- topics and filters -----------------------------------------------------------------------


def check_topic(where: str, param: str, topic: Any) -> str:
    """Return ``topic`` if it is a topic name one can publish to (no wildcards)."""
    if not isinstance(topic, str):
        raise TypeError(
            f"{where}({param}={topic!r}): {param} must be a topic string such as 'site/floor-2/temp'"
        )
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise ValueError(
            f"{where}({param}={topic!r}): {param} must be a non-empty topic name without the wildcards "
            "+ and # (levels separated by '/', e.g. 'site/floor-2/temp'); wildcards are for subscribe()"
        )
    return topic


def check_filter(where: str, param: str, topic_filter: Any) -> str:
    """Return ``topic_filter`` if it is a valid subscription filter (``+`` and ``#`` as whole levels)."""
    if not isinstance(topic_filter, str):
        raise TypeError(
            f"{where}({param}={topic_filter!r}): {param} must be a topic filter string such as 'site/+/temp'"
        )
    if not topic_filter or "\x00" in topic_filter:
        raise ValueError(f"{where}({param}={topic_filter!r}): {param} must be a non-empty topic filter")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(
                f"{where}({param}={topic_filter!r}): {param} may use '#' only as the whole last level "
                "(e.g. 'site/#')"
            )
        if "+" in level and level != "+":
            raise ValueError(
                f"{where}({param}={topic_filter!r}): {param} may use '+' only as a whole level "
                "(e.g. 'site/+/temp', not 'site/floor+/temp')"
            )
    return topic_filter


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Does a subscription ``topic_filter`` match a published ``topic``? (MQTT rules)

    ::

        topic_matches("site/+/temp", "site/f2/temp")     # True
        topic_matches("site/+/temp", "site/f2/r7/temp")  # False: + is exactly one level
        topic_matches("site/#", "site")                  # True: # includes the parent level
        topic_matches("#", "$SYS/uptime")                # False: $ topics need an explicit first level
    """
    check_filter("topic_matches", "topic_filter", topic_filter)
    check_topic("topic_matches", "topic", topic)
    f_levels = topic_filter.split("/")
    t_levels = topic.split("/")
    if topic.startswith("$") and f_levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(f_levels) == len(t_levels)


# -- messages and in-flight state ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """A message as ``on_message`` receives it: ``dup`` is the DUP flag of the packet that carried it."""

    id: int
    topic: str
    payload: Any
    qos: int
    dup: bool
    published_at: float


class _Inflight:
    """A QoS 1 PUBLISH waiting for its PUBACK on one hop."""

    __slots__ = ("acked", "arrive", "attempts", "link", "message", "packet_id", "receiver", "sender", "timer")

    def __init__(self, packet_id, sender, receiver, link, message, arrive):
        self.packet_id = packet_id
        self.sender = sender
        self.receiver = receiver
        self.link = link
        self.message = message
        self.arrive = arrive
        self.attempts = 0
        self.acked = False
        self.timer: asyncio.TimerHandle | None = None


# -- the broker ------------------------------------------------------------------------------------


class Broker:
    """An in-process MQTT-style broker: clients connect over lossy links, publish and subscribe.

    Args:
        name: the broker's name in the trace; a new broker with the same name in the same lab
            replaces (closes) the old one, so re-running a cell is safe.
        lab: the lab to record into; default :func:`~pushpull_lab.current_lab`.

    ::

        broker = Broker("broker")
        app = broker.connect("app", on_message=print)
        app.subscribe("site/#", qos=1)
        sensor = broker.connect("sensor", loss=0.1, delay=0.02, retry_after=0.5)
        await sensor.publish("site/f1/temp", 21.5, qos=1)
        await broker.join()
    """

    def __init__(self, name: str = "broker", *, lab: Lab | None = None):
        self.name = _validate.name("Broker", "name", name)
        self.lab = resolve(lab, "Broker")
        self.closed = False
        self._clients: dict[str, MqttClient] = {}
        self._inflight: dict[int, _Inflight] = {}
        self._packet_ids = itertools.count(1)
        self._busy = 0  # packets on the wire + QoS 1 messages not yet acknowledged + running handlers
        self._idle: list[asyncio.Future] = []
        self.lab.register("mqtt", self.name, self)

    def connect(
        self,
        client_id: str,
        on_message: Callable | None = None,
        *,
        loss: float = 0.0,
        delay: float = 0.01,
        retry_after: float = 0.5,
        max_retries: int = 10,
    ) -> MqttClient:
        """Connect a client over its own link and return it.

        Args:
            client_id: the client's name in the trace; connecting again with the same id
                replaces the old connection (as an MQTT broker does).
            on_message: ``fn(message)`` (sync or async) called for every message delivered.
            loss: probability in [0, 1] that the link loses a packet, each way.
            delay: seconds a packet takes on the link (>= 0).
            retry_after: seconds a QoS 1 sender waits for a PUBACK before resending (> 0).
            max_retries: resends of one QoS 1 message before the sender gives up (>= 0).
        """
        where = "Broker.connect"
        if self.closed:
            raise RuntimeError(f"{where}: the broker {self.name!r} is closed")
        _validate.name(where, "client_id", client_id)
        if client_id == self.name:
            raise ValueError(
                f"{where}(client_id={client_id!r}): client_id must differ from the broker's name"
            )
        if on_message is not None:
            _validate.function(where, "on_message", on_message)
        loss = _validate.number(where, "loss", loss, minimum=0)
        if loss > 1:
            raise ValueError(f"{where}(loss={loss!r}): loss must be a probability from 0 to 1")
        delay = _validate.number(where, "delay", delay, minimum=0)
        retry_after = _validate.number(where, "retry_after", retry_after, positive=True)
        _validate.integer(where, "max_retries", max_retries, minimum=0)
        old = self._clients.get(client_id)
        if old is not None:
            old.disconnect()
        client = MqttClient(self, client_id, on_message, loss, delay, retry_after, max_retries)
        self._clients[client_id] = client
        self.lab.trace.record("connect", client_id, self.name, None, loss=loss, delay=delay)
        return client

    @property
    def clients(self) -> list[str]:
        """Ids of the connected clients."""
        return list(self._clients)

    # -- the wire ------------------------------------------------------------------------------
    def _transmit(
        self, sender: str, receiver: str, link: MqttClient, packet: str, msg_id: int, arrive, **fields
    ):
        """Put one packet on ``link``: lost with probability ``link.loss``, else ``arrive()`` after ``delay``."""
        record = self.lab.trace.record
        if packet == "PUBLISH":
            record("send", sender, receiver, msg_id, **fields)
        else:
            record("puback", sender, receiver, msg_id, **fields)
        if link.loss and self.lab.rng.random() < link.loss:
            record("lost", sender, receiver, msg_id, packet=packet, packet_id=fields.get("packet_id"))
            return
        self._busy += 1

        def land():
            try:
                arrive()
            finally:
                self._done()

        asyncio.get_running_loop().call_later(link.delay, land)

    def _send_publish(
        self, sender: str, receiver: str, link: MqttClient, message: MqttMessage, arrive
    ) -> None:
        """Send ``message`` over one hop at ``message.qos``; ``arrive(copy)`` runs for every copy that lands."""
        packet_id = next(self._packet_ids)
        if message.qos == 0:
            self._transmit(
                sender, receiver, link, "PUBLISH", message.id, lambda: arrive(message),
                packet_id=packet_id, qos=0, dup=False, attempt=1,
            )  # fmt: skip
            return
        state = _Inflight(packet_id, sender, receiver, link, message, arrive)
        self._inflight[packet_id] = state
        self._busy += 1
        self._attempt(state)

    def _attempt(self, state: _Inflight) -> None:
        if not state.link.connected:  # the connection is gone: nobody left to acknowledge
            self._abandon(state, "disconnected")
            return
        state.attempts += 1
        dup = state.attempts > 1
        copy = state.message if not dup else _with_dup(state.message)

        def landed():
            if not state.link.connected:  # the client went away while the packet was on the wire
                return
            state.arrive(copy)
            # The receiver acknowledges every QoS 1 PUBLISH it gets, duplicates included.
            self._transmit(
                state.receiver, state.sender, state.link, "PUBACK", copy.id, lambda: self._acked(state.packet_id),
                packet_id=state.packet_id,
            )  # fmt: skip

        self._transmit(
            state.sender, state.receiver, state.link, "PUBLISH", copy.id, landed,
            packet_id=state.packet_id, qos=1, dup=dup, attempt=state.attempts,
        )  # fmt: skip
        state.timer = asyncio.get_running_loop().call_later(state.link.retry_after, self._timeout, state)

    def _timeout(self, state: _Inflight) -> None:
        if state.acked or self.closed:
            return
        if state.attempts > state.link.max_retries:
            self._abandon(state, "max_retries")
            return
        self._attempt(state)

    def _abandon(self, state: _Inflight, reason: str) -> None:
        self._inflight.pop(state.packet_id, None)
        self.lab.trace.record(
            "give_up", state.sender, state.receiver, state.message.id,
            packet_id=state.packet_id, attempts=state.attempts, reason=reason,
        )  # fmt: skip
        state.link.gave_up += 1
        self._done()

    def _acked(self, packet_id: int) -> None:
        state = self._inflight.pop(packet_id, None)
        if state is None:  # a second PUBACK (for a resent copy), or one after giving up
            return
        state.acked = True
        if state.timer is not None:
            state.timer.cancel()
        self._done()

    # -- routing -------------------------------------------------------------------------------
    def _route(self, message: MqttMessage) -> None:
        """A PUBLISH reached the broker: forward it to every client with a matching subscription."""
        targets = []
        for client in self._clients.values():
            qos = client._max_qos(message.topic)
            if qos is not None:
                targets.append((client, min(qos, message.qos)))
        self.lab.trace.record(
            "route", self.name, None, message.id, topic=message.topic, routed=len(targets), dup=message.dup
        )
        for client, qos in targets:
            out = MqttMessage(message.id, message.topic, message.payload, qos, False, message.published_at)
            self._send_publish(self.name, client.client_id, client, out, client._arrive)

    def _done(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            idle, self._idle = self._idle, []
            for fut in idle:
                if not fut.done():
                    fut.set_result(None)

    async def join(self) -> None:
        """Wait until no packet is on the wire, every QoS 1 message is acknowledged or given up,
        and every handler has returned."""
        while self._busy and not self.closed:
            fut = asyncio.get_running_loop().create_future()
            self._idle.append(fut)
            await fut

    # -- closing -------------------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect every client; messages still in flight are abandoned."""
        self._close_now()

    def _close_now(self) -> None:
        if self.closed:
            return
        self.closed = True
        for state in self._inflight.values():
            if state.timer is not None:
                state.timer.cancel()
        self._inflight.clear()
        for client in list(self._clients.values()):
            client.disconnect()
        for fut in self._idle:
            if not fut.done():
                fut.set_result(None)
        self._idle = []
        self.lab.unregister("mqtt", self.name, self)

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        return f"Broker({self.name!r}, clients={len(self._clients)}, in_flight={len(self._inflight)}{state})"


def _with_dup(message: MqttMessage) -> MqttMessage:
    return MqttMessage(message.id, message.topic, message.payload, message.qos, True, message.published_at)


# -- the client ----------------------------------------------------------------------------------


class MqttClient:
    """One connection to a :class:`Broker` (made by :meth:`Broker.connect`).

    Counters: ``published`` (messages this client published), ``received`` (copies delivered
    to ``on_message``, duplicates included), ``duplicates`` (copies of a message already
    received), ``gave_up`` (QoS 1 messages this client's link gave up on, either direction).
    """

    def __init__(self, broker, client_id, on_message, loss, delay, retry_after, max_retries):
        self.broker = broker
        self.client_id = client_id
        self.on_message = on_message
        self.loss = loss
        self.delay = delay
        self.retry_after = retry_after
        self.max_retries = max_retries
        self.connected = True
        self.published = 0
        self.received = 0
        self.duplicates = 0
        self.gave_up = 0
        self.errors: list[Exception] = []
        self._seen: set[int] = set()
        self._subscriptions: dict[str, int] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def subscriptions(self) -> dict[str, int]:
        """``{topic filter: QoS}`` of this client's subscriptions."""
        return dict(self._subscriptions)

    def subscribe(self, topic_filter: str, *, qos: int = 0) -> None:
        """Receive messages whose topic matches ``topic_filter`` at up to ``qos`` (0 or 1).

        Subscribing again to the same filter replaces its QoS. A message matching several of
        a client's filters is delivered once, at the highest of their QoS levels.
        """
        where = "MqttClient.subscribe"
        self._check_connected(where)
        check_filter(where, "topic_filter", topic_filter)
        _validate.choice(where, "qos", qos, QOS_LEVELS)
        self._subscriptions[topic_filter] = qos
        self.broker.lab.trace.record(
            "subscribe", self.client_id, self.broker.name, None, filter=topic_filter, qos=qos
        )

    def unsubscribe(self, topic_filter: str) -> None:
        """Stop receiving messages for ``topic_filter`` (a filter this client subscribed to)."""
        where = "MqttClient.unsubscribe"
        check_filter(where, "topic_filter", topic_filter)
        if topic_filter not in self._subscriptions:
            known = ", ".join(repr(f) for f in self._subscriptions) or "none"
            raise ValueError(
                f"{where}(topic_filter={topic_filter!r}): topic_filter must be one this client "
                f"subscribed to (subscriptions: {known})"
            )
        del self._subscriptions[topic_filter]
        self.broker.lab.trace.record(
            "unsubscribe", self.client_id, self.broker.name, None, filter=topic_filter
        )

    async def publish(self, topic: str, payload: Any = None, *, qos: int = 0) -> int:
        """Publish ``payload`` to ``topic`` at ``qos`` (0 or 1) and return the message id.

        Returns at once (like a real client's non-blocking publish): QoS 1 retransmissions
        carry on in the background; ``await broker.join()`` waits for them to settle.
        """
        where = "MqttClient.publish"
        self._check_connected(where)
        check_topic(where, "topic", topic)
        _validate.choice(where, "qos", qos, QOS_LEVELS)
        broker = self.broker
        lab = broker.lab
        message = MqttMessage(next(lab.message_ids), topic, payload, qos, False, lab.now())
        self.published += 1
        lab.trace.record("publish", self.client_id, broker.name, message.id, topic=topic, qos=qos)
        broker._send_publish(self.client_id, broker.name, self, message, broker._route)
        return message.id

    def _max_qos(self, topic: str) -> int | None:
        best = None
        for topic_filter, qos in self._subscriptions.items():
            if topic_matches(topic_filter, topic) and (best is None or qos > best):
                best = qos
        return best

    def _arrive(self, message: MqttMessage) -> None:
        """A PUBLISH from the broker landed here: hand it to ``on_message``."""
        if not self.connected:
            return
        broker = self.broker
        self.received += 1
        if message.id in self._seen:
            self.duplicates += 1
        self._seen.add(message.id)
        broker.lab.trace.record(
            "deliver",
            broker.name,
            self.client_id,
            message.id,
            topic=message.topic,
            qos=message.qos,
            dup=message.dup,
        )
        if self.on_message is None:
            return
        try:
            result = self.on_message(message)
        except Exception as exc:
            self._report(exc, message)
            return
        if result is not None and inspect.isawaitable(result):
            broker._busy += 1
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(lambda t, m=message: self._finished(t, m))

    def _finished(self, task: asyncio.Task, message: MqttMessage) -> None:
        self._tasks.discard(task)
        try:
            if not task.cancelled() and task.exception() is not None:
                self._report(task.exception(), message)
        finally:
            self.broker._done()

    def _report(self, exc: BaseException, message: MqttMessage) -> None:
        self.errors.append(exc)
        self.broker.lab.trace.record(
            "error", self.client_id, self.broker.name, message.id, error=f"{type(exc).__name__}: {exc}"
        )
        asyncio.get_running_loop().call_exception_handler(
            {"message": f"on_message of MQTT client {self.client_id!r} raised", "exception": exc}
        )

    def _check_connected(self, where: str) -> None:
        if not self.connected:
            raise RuntimeError(f"{where}: client {self.client_id!r} is disconnected")

    def disconnect(self) -> None:
        """Leave the broker: no more deliveries to this client."""
        if not self.connected:
            return
        self.connected = False
        broker = self.broker
        if broker._clients.get(self.client_id) is self:
            del broker._clients[self.client_id]
        for task in self._tasks:
            task.cancel()
        broker.lab.trace.record("disconnect", self.client_id, broker.name, None)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return (
            f"MqttClient({self.client_id!r}, {state}, loss={self.loss:g}, published={self.published}, "
            f"received={self.received}, duplicates={self.duplicates})"
        )
