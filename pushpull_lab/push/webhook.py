"""Webhooks over real HTTP: the producer POSTs each event to the consumer's URL — push across services.

::

    async with ppl.WebhookReceiver("s3cret", handler=save) as receiver, \\
               ppl.WebhookSender(receiver.url, "s3cret") as sender:
        result = await sender.send({"order": 42}, event="order.paid")
        result.ok, result.status, len(result.attempts)

**Signing.** Each delivery is a JSON body ``{"id", "seq", "event", "data"}`` with three headers:

``Webhook-Id``         the delivery id (a random ``whd_...``; the same on every retry of it)
``Webhook-Timestamp``  Unix time in whole seconds when this attempt was signed
``Webhook-Signature``  ``v1=<hex>``: HMAC-SHA256 with the shared secret over
                       ``timestamp + "." + body``; several space-separated entries are allowed
                       (a sender in the middle of a secret rotation signs with both secrets)

The delivery id is also inside the signed body, and the receiver requires the two to agree:
otherwise an attacker could replay a captured request under a fresh id header and slip past
the replay cache.

**Verifying** (:class:`WebhookReceiver`), in this order, each failure answered with a 4xx and
recorded as a ``reject`` event with its ``reason``:

1. the three headers are present and the timestamp is an integer (else 400);
2. one of the signatures matches one of the receiver's secrets, compared with
   :func:`hmac.compare_digest` so the time taken does not leak how many characters matched
   (else 401);
3. the timestamp is within ``tolerance`` seconds of the receiver's clock, in the past or the
   future (else 401): an old captured request cannot be replayed once the window has passed;
4. the body is JSON whose ``id`` equals the ``Webhook-Id`` header (else 400);
5. the id was not accepted before and is not being handled right now (else 409): replays
   inside the window are caught here. Ids are remembered for ``tolerance`` seconds past their
   timestamp — after that, step 3 rejects them anyway — and at most ``replay_cache`` of them;
   a full cache answers 503 (retry later) rather than forget an id that could still be replayed.

Then the receiver's ``handler(delivery)`` runs. If it raises, the answer is 500 and the id is
*not* remembered, so the sender's retry is accepted. Success is 204 and a ``deliver`` event.

**Retrying** (:class:`WebhookSender`): a connection error, a timeout, a 5xx, 408 or 429 is
retried up to ``attempts`` attempts in all, waiting ``backoff * factor**(n-1)`` seconds
(capped at ``max_delay``) before retry ``n``; each attempt is re-signed with a fresh timestamp.
Another 4xx is final: the receiver refused this delivery and sending it again cannot help.
Every attempt is a ``webhook`` event (push: the sender initiates), every failed one also an
``error`` event, every wait a ``retry`` event, and a delivery that never succeeded a
``failed`` event; the :class:`DeliveryResult` lists every attempt. Nothing is swallowed:
``result.ok`` is False and ``result.raise_for_failure()`` raises :class:`WebhookDeliveryError`.

Timestamps are Unix wall-clock seconds (:func:`time.time`), not the lab clock: they travel
between machines, which share only the wall clock. A 409 means the receiver already accepted
(or is handling right now) this delivery id, so it is not retried either.

Latency is ``trace.latency("publish", "deliver")``: from :meth:`WebhookSender.send` to the
receiver accepting the delivery, retries included.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import _validate
from .._http import HttpClient, HttpServer, call, client_name
from ..clock import sleep
from ..errors import LabError
from ..lab import Lab

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
RETRIABLE_STATUSES = frozenset({408, 429})


class WebhookDeliveryError(LabError):
    """A webhook delivery failed on every attempt, or was refused with a final 4xx."""


def _secret_bytes(where: str, param: str, secret: Any) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ValueError(f"{where}({param}={secret!r}): {param} must be a non-empty str or bytes")
    return secret


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``Webhook-Signature`` value: ``"v1=" + hex(HMAC-SHA256(secret, f"{timestamp}." + body))``."""
    key = _secret_bytes("sign", "secret", secret)
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError(f"sign(body={body!r}): body must be bytes (the exact bytes sent)")
    digest = hmac.new(key, str(timestamp).encode() + b"." + bytes(body), hashlib.sha256).hexdigest()
    return "v1=" + digest


def signature_matches(secrets: list[bytes], timestamp: str, body: bytes, header: str) -> bool:
    """True if one ``v1=`` entry of ``header`` is the signature of ``body`` under one of ``secrets``.

    Every comparison goes through :func:`hmac.compare_digest` (constant time in the length).
    """
    candidates = [e[3:].encode("utf-8", "replace") for e in header.split() if e.startswith("v1=")]
    ok = False
    for key in secrets:
        expected = sign(key, timestamp, body)[3:].encode()
        for candidate in candidates:
            ok |= hmac.compare_digest(expected, candidate)
    return ok


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery as the receiver's handler gets it."""

    id: str
    event: str
    data: Any
    timestamp: int
    seq: Any
    sender: str


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery: its number, HTTP status (None if no response), error, timings."""

    number: int
    status: int | None
    error: str | None
    duration: float
    delay: float
    """Seconds waited before this attempt (0 for the first)."""


@dataclass
class DeliveryResult:
    """What :meth:`WebhookSender.send` returns: the outcome and every attempt."""

    delivery_id: str
    seq: int
    ok: bool = False
    status: int | None = None
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def raise_for_failure(self) -> DeliveryResult:
        """Raise :class:`WebhookDeliveryError` unless the delivery succeeded; else return self."""
        if not self.ok:
            raise WebhookDeliveryError(
                f"webhook delivery {self.delivery_id} failed after {len(self.attempts)} attempt(s): {self.error}"
            )
        return self


class WebhookReceiver(HttpServer):
    """An HTTP endpoint that verifies signed webhook deliveries (see the module text for the rules).

    Args:
        secret: the shared secret (str or bytes), or a list of them while rotating secrets.
        handler: ``fn(delivery)``, sync or async, run for each verified delivery; raising
            makes the answer 500 (the sender retries). Default: only keep it in ``received``.
        tolerance: how far (seconds) a timestamp may be from the receiver's clock, either way.
        replay_cache: at most this many delivery ids remembered (>= 1).
        path: the URL path; ``url`` is the full address once started.
        name, lab: the receiver's name in the lab's trace, and the lab.

    Use ``async with``; :attr:`received` lists accepted deliveries, :attr:`rejected` counts
    refusals by reason.
    """

    def __init__(
        self,
        secret: str | bytes | list,
        *,
        handler: Callable | None = None,
        tolerance: float = 300.0,
        replay_cache: int = 10_000,
        path: str = "/webhook",
        name: str = "webhook-receiver",
        lab: Lab | None = None,
    ):
        where = "WebhookReceiver"
        if isinstance(secret, (list, tuple)):
            if not secret:
                raise ValueError(
                    f"{where}(secret=[]): secret must be a non-empty str/bytes or a non-empty list"
                )
            self._secrets = [_secret_bytes(where, "secret", s) for s in secret]
        else:
            self._secrets = [_secret_bytes(where, "secret", secret)]
        self.handler = None if handler is None else _validate.function(where, "handler", handler)
        self.tolerance = _validate.number(where, "tolerance", tolerance, positive=True)
        self.replay_cache = _validate.integer(where, "replay_cache", replay_cache, minimum=1)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}(path={path!r}): path must be a string starting with '/'")
        self.path = path
        super().__init__(where, name, lab)
        self.received: list[Delivery] = []
        self.rejected: Counter[str] = Counter()
        self._seen: OrderedDict[str, int] = OrderedDict()  # delivery id -> its timestamp
        self._in_progress: set[str] = set()

    def _add_routes(self, app: Any, web: Any) -> None:
        app.router.add_post(self.path, self._receive)

    def _forget_expired(self, now: float) -> None:
        # Ids are remembered in arrival order; one whose timestamp left the window can go
        # (step 3 rejects a replay of it). Arrival order is close to timestamp order, so
        # look at every entry rather than stop at the first fresh one.
        for delivery_id, ts in list(self._seen.items()):
            if ts < now - self.tolerance:
                del self._seen[delivery_id]

    async def _receive(self, request: Any) -> Any:
        from aiohttp import web

        sender = client_name(request)
        record = self.lab.trace.record

        def reject(status: int, reason: str, delivery_id: str | None) -> Any:
            self.rejected[reason] += 1
            record("reject", sender, self.name, None, status=status, reason=reason, delivery_id=delivery_id)
            return web.json_response({"error": reason}, status=status)

        headers = request.headers
        delivery_id = headers.get(ID_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        missing = [
            h
            for h, v in (
                (ID_HEADER, delivery_id),
                (TIMESTAMP_HEADER, timestamp),
                (SIGNATURE_HEADER, signature),
            )
            if not v
        ]
        if missing:
            return reject(400, "missing header " + ", ".join(missing), delivery_id)
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return reject(400, "timestamp is not an integer", delivery_id)
        body = await request.read()
        if not signature_matches(self._secrets, timestamp, body, signature):
            return reject(401, "bad signature", delivery_id)
        now = time.time()
        ts = int(timestamp)
        if abs(now - ts) > self.tolerance:
            return reject(401, "timestamp outside tolerance", delivery_id)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or payload.get("id") != delivery_id:
            return reject(400, "body id does not match the Webhook-Id header", delivery_id)
        if delivery_id in self._seen or delivery_id in self._in_progress:
            return reject(409, "replayed delivery id", delivery_id)
        self._forget_expired(now)
        if len(self._seen) + len(self._in_progress) >= self.replay_cache:
            return reject(503, "replay cache full", delivery_id)
        seq = payload.get("seq")
        delivery = Delivery(delivery_id, payload.get("event"), payload.get("data"), ts, seq, sender)
        self._in_progress.add(delivery_id)
        try:
            if self.handler is not None:
                await call(self.handler, delivery)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            record("error", self.name, None, seq, delivery_id=delivery_id, error=error)
            return web.json_response({"error": "handler failed"}, status=500)
        finally:
            self._in_progress.discard(delivery_id)
        self._seen[delivery_id] = ts
        self.received.append(delivery)
        record("deliver", sender, self.name, seq, delivery_id=delivery_id, event=delivery.event)
        return web.Response(status=204)


class WebhookSender(HttpClient):
    """POSTs signed webhook deliveries to ``url`` and retries with exponential backoff.

    Args:
        url: the receiver's address (a :class:`WebhookReceiver`'s ``url``).
        secret: the shared secret (str or bytes).
        attempts: attempts in all per delivery, first one included (>= 1).
        backoff: seconds before the first retry (> 0); each next wait is ``factor`` times longer.
        factor: growth of the wait (>= 1), capped at ``max_delay`` seconds.
        timeout: seconds one attempt may take before it counts as failed (> 0).
        name, lab: the sender's name in the trace, and the lab.

    Use ``async with`` (it holds one HTTP session, keep-alive).
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        factor: float = 2.0,
        max_delay: float = 30.0,
        timeout: float = 10.0,
        name: str = "webhook-sender",
        lab: Lab | None = None,
    ):
        where = "WebhookSender"
        self._secret = _secret_bytes(where, "secret", secret)
        self.attempts = _validate.integer(where, "attempts", attempts, minimum=1)
        self.backoff = _validate.number(where, "backoff", backoff, positive=True)
        self.factor = _validate.number(where, "factor", factor, minimum=1)
        self.max_delay = _validate.number(where, "max_delay", max_delay, positive=True)
        self.timeout = _validate.number(where, "timeout", timeout, positive=True)
        super().__init__(where, url, name, lab)

    def delay_before(self, attempt: int) -> float:
        """Seconds waited before attempt number ``attempt`` (1 = the first, which waits 0)."""
        if attempt <= 1:
            return 0.0
        return min(self.max_delay, self.backoff * self.factor ** (attempt - 2))

    async def __aenter__(self) -> WebhookSender:
        self._open_session()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._close_session()

    async def close(self) -> None:
        await self._close_session()

    async def send(self, data: Any = None, *, event: str = "message") -> DeliveryResult:
        """Deliver ``data`` (JSON-serialisable) as ``event``; returns a :class:`DeliveryResult`.

        Never raises for a failed delivery: look at ``result.ok`` (or call
        ``result.raise_for_failure()``); every attempt is also in the trace.
        """
        import aiohttp

        where = "WebhookSender.send"
        _validate.name(where, "event", event)
        if self._session is None:
            raise RuntimeError(f"{where}: {self.name!r} is not open; use 'async with WebhookSender(...)'")
        lab = self.lab
        record = lab.trace.record
        seq = next(lab.message_ids)
        delivery_id = "whd_" + uuid.uuid4().hex
        try:
            body = json.dumps(
                {"id": delivery_id, "seq": seq, "event": event, "data": data}, separators=(",", ":")
            ).encode()
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}(data={data!r}): data must be JSON-serialisable ({exc})") from None
        result = DeliveryResult(delivery_id, seq)
        record("publish", self.name, None, seq, delivery_id=delivery_id, event=event)
        for number in range(1, self.attempts + 1):
            delay = self.delay_before(number)
            if delay:
                record("retry", self.name, self.peer, seq, attempt=number, delay=delay, error=result.error)
                await sleep(delay)
            timestamp = str(int(time.time()))
            headers = {
                ID_HEADER: delivery_id,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
                "Content-Type": "application/json",
            }
            started = lab.now()
            status: int | None = None
            try:
                async with self._session.post(
                    self.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as response:
                    status = response.status
                    text = await response.text()
                error = None if 200 <= status < 300 else f"HTTP {status}: {text[:200]}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            duration = lab.now() - started
            result.attempts.append(Attempt(number, status, error, duration, delay))
            result.status, result.error = status, error
            record(
                "webhook",
                self.name,
                self.peer,
                seq,
                attempt=number,
                status=status,
                duration=duration,
                delivery_id=delivery_id,
            )
            if error is None:
                result.ok = True
                return result
            record("error", self.name, self.peer, seq, attempt=number, error=error)
            if status is not None and status < 500 and status not in RETRIABLE_STATUSES:
                break  # the receiver refused this delivery: sending it again cannot help
        record(
            "failed",
            self.name,
            self.peer,
            seq,
            attempts_made=len(result.attempts),
            status=result.status,
            error=result.error,
        )
        return result

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"WebhookSender({self.name!r}, url={self.url!r}, attempts={self.attempts}, {state})"
