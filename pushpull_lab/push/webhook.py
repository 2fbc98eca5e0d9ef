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
                       ``timestamp + "." + body``; up to :data:`MAX_SIGNATURES` space-separated
                       entries are allowed (a sender in the middle of a secret rotation signs
                       with both secrets); more is a 400

The delivery id is also inside the signed body, and the receiver requires the two to agree:
otherwise an attacker could replay a captured request under a fresh id header and slip past
the replay cache.

**Verifying** (:class:`WebhookReceiver`), in this order, each failure answered with a 4xx and
recorded as a ``reject`` event with its ``reason``:

1. the three headers are present, the timestamp is an integer and the signature header has
   at most :data:`MAX_SIGNATURES` entries (else 400: a header of many guesses must not buy
   an attacker many tries per request);
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
   Expired ids are forgotten at the start of **every** request, whatever its verdict, so a
   receiver that gets only rejected requests (replays, forgeries) still empties its cache.

These rules live in :class:`WebhookVerifier`, which takes the clock as a parameter (so the
same rules also run in virtual time); the receiver passes it ``time.time()``.

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

**Where a sender may deliver** (:class:`DestinationPolicy`): a webhook URL usually comes
from a user, and a sender inside a network that POSTs wherever it is told is a
server-side request forgery (SSRF) tool. So a sender refuses non-http(s) URLs, URLs with
credentials, and hosts that are or resolve to any address that is not globally reachable
(see :func:`why_internal`: loopback, private, link-local — the cloud metadata address
169.254.169.254 —, IANA special-purpose ranges, and IPv6 addresses that embed such an IPv4
address) — unless their ``host:port`` is allowed explicitly
(``WebhookSender(url, secret, allow=["127.0.0.1:8080"])``; the lab's own receivers are
allowed by default, see :class:`DestinationPolicy`). Names are checked when the connection is made, on
every address they resolve to; redirects are never followed. A refusal raises
:class:`DestinationRefusedError` from ``send`` and is a ``reject`` event by the sender.

Timestamps are Unix wall-clock seconds (:func:`time.time`), not the lab clock: they travel
between machines, which share only the wall clock. A 409 means the receiver already accepted
(or is handling right now) this delivery id, so it is not retried either.

Latency is ``trace.latency("publish", "deliver")``: from :meth:`WebhookSender.send` to the
receiver accepting the delivery, retries included.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import ipaddress
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from .. import _validate
from .._http import HOST, HttpClient, HttpServer, call, client_name
from ..clock import sleep
from ..errors import LabError
from ..lab import Lab

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
RETRIABLE_STATUSES = frozenset({408, 429})
MAX_SIGNATURES = 4
"""At most this many ``v1=`` entries in one ``Webhook-Signature`` header (rotation needs 2)."""


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
    A header with more than :data:`MAX_SIGNATURES` entries never matches: otherwise one
    request could carry thousands of guesses (and cost the receiver thousands of HMACs).
    """
    entries = header.split()
    if len(entries) > MAX_SIGNATURES:
        return False
    candidates = [e[3:].encode("utf-8", "replace") for e in entries if e.startswith("v1=")]
    ok = False
    for key in secrets:
        expected = sign(key, timestamp, body)[3:].encode()
        for candidate in candidates:
            ok |= hmac.compare_digest(expected, candidate)
    return ok


@dataclass(frozen=True)
class Verification:
    """What :meth:`WebhookVerifier.verify` decided: ``status`` 0 means "go ahead and handle it"."""

    status: int
    reason: str | None = None
    delivery_id: str | None = None
    timestamp: int | None = None
    payload: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status == 0


class WebhookVerifier:
    """The receiver's rules (steps 1-5 of the module text), without HTTP and with the clock passed in.

    :class:`WebhookReceiver` runs every request through one of these with ``now = time.time()``.
    Because ``now`` is a parameter, the same rules also run in virtual time
    (``scenarios.webhook_window`` runs twenty minutes of traffic through them in a fraction
    of a second)::

        verifier = WebhookVerifier("s3cret", tolerance=300)
        verdict = verifier.verify(headers, body, now=time.time())
        if verdict.ok:
            verifier.begin(verdict)       # now "being handled": a concurrent replay gets 409
            ...                           # handle it
            verifier.finish(verdict, accepted=True)   # remembered until it leaves the window

    Args: ``secret``, ``tolerance`` and ``replay_cache`` as for :class:`WebhookReceiver`.
    """

    def __init__(
        self,
        secret: str | bytes | list,
        *,
        tolerance: float = 300.0,
        replay_cache: int = 10_000,
        _where: str = "WebhookVerifier",
    ):
        where = _where
        if isinstance(secret, (list, tuple)):
            if not secret:
                raise ValueError(
                    f"{where}(secret=[]): secret must be a non-empty str/bytes or a non-empty list"
                )
            self._secrets = [_secret_bytes(where, "secret", s) for s in secret]
        else:
            self._secrets = [_secret_bytes(where, "secret", secret)]
        self.tolerance = _validate.number(where, "tolerance", tolerance, positive=True)
        self.replay_cache = _validate.integer(where, "replay_cache", replay_cache, minimum=1)
        self._seen: dict[str, int] = {}  # delivery id -> its timestamp
        self._expiry: list[tuple[int, str]] = []  # a heap of (timestamp, id): the oldest first
        self._in_progress: set[str] = set()

    @property
    def remembered(self) -> int:
        """Delivery ids held right now (accepted and still inside the window, or being handled)."""
        return len(self._seen) + len(self._in_progress)

    def forget_expired(self, now: float) -> int:
        """Forget every id whose timestamp left the window at ``now``; returns how many went.

        Safe: step 3 rejects a replay of such an id anyway. :meth:`verify` calls it first,
        on every request; call it yourself to prune on a timer while no request arrives.
        """
        forgotten = 0
        while self._expiry and self._expiry[0][0] < now - self.tolerance:
            ts, delivery_id = heapq.heappop(self._expiry)
            if self._seen.get(delivery_id) == ts:
                del self._seen[delivery_id]
                forgotten += 1
        return forgotten

    def verify(self, headers: Any, body: bytes, now: float) -> Verification:
        """Check one request (``headers``: a mapping; ``body``: the exact bytes) at time ``now``."""
        self.forget_expired(now)  # on every request, rejected ones included
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
            return Verification(400, "missing header " + ", ".join(missing), delivery_id)
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return Verification(400, "timestamp is not an integer", delivery_id)
        if len(signature.split()) > MAX_SIGNATURES:
            return Verification(400, f"more than {MAX_SIGNATURES} signatures", delivery_id)
        if not signature_matches(self._secrets, timestamp, body, signature):
            return Verification(401, "bad signature", delivery_id)
        ts = int(timestamp)
        if abs(now - ts) > self.tolerance:
            return Verification(401, "timestamp outside tolerance", delivery_id, ts)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or payload.get("id") != delivery_id:
            return Verification(400, "body id does not match the Webhook-Id header", delivery_id, ts)
        if delivery_id in self._seen or delivery_id in self._in_progress:
            return Verification(409, "replayed delivery id", delivery_id, ts)
        if self.remembered >= self.replay_cache:
            return Verification(503, "replay cache full", delivery_id, ts)
        return Verification(0, None, delivery_id, ts, payload)

    def begin(self, verdict: Verification) -> None:
        """Mark an ok verdict's id as being handled (a concurrent copy of it gets 409)."""
        self._in_progress.add(verdict.delivery_id)

    def finish(self, verdict: Verification, *, accepted: bool) -> None:
        """The handler ended: remember the id if ``accepted``; else forget it so a retry can land."""
        self._in_progress.discard(verdict.delivery_id)
        if accepted:
            self._seen[verdict.delivery_id] = verdict.timestamp
            heapq.heappush(self._expiry, (verdict.timestamp, verdict.delivery_id))


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


# -- where a sender may deliver: the SSRF guard ------------------------------------------------
class DestinationRefusedError(LabError, ValueError):
    """A webhook URL points somewhere a sender must not deliver (see :class:`DestinationPolicy`)."""


class _Refused(OSError):
    """Raised inside aiohttp's resolver so aiohttp aborts the connection; carries the real error."""

    def __init__(self, error: DestinationRefusedError):
        super().__init__(str(error))
        self.error = error


_INTERNAL = (  # the most specific reason first: 0.0.0.0 and 169.254.x.x are "private" too
    ("is_unspecified", "the unspecified address (0.0.0.0 or ::, which reaches this machine)"),
    ("is_loopback", "a loopback address (this machine)"),
    ("is_link_local", "a link-local address (cloud metadata services live at 169.254.169.254)"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address (an internal network)"),
    ("is_reserved", "a reserved address"),
)
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)  # what "private" means to a reader; Python's is_private also covers documentation ranges
_NOT_GLOBAL = tuple(  # IANA special-purpose ranges that are not globally reachable (or N/A)
    (ipaddress.ip_network(n), why)
    for n, why in (
        ("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
        ("100.64.0.0/10", "shared address space of carrier-grade NAT (100.64.0.0/10)"),
        ("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24, not globally reachable)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast range (192.88.99.0/24)"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
        ("::/96", "the deprecated IPv4-compatible range (::/96)"),
        ("::ffff:0:0/96", "IPv4-mapped (::ffff:0:0/96)"),
        ("64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"),
        ("100::/64", "discard-only (100::/64)"),
        ("2001::/23", "IETF protocol assignments (2001::/23, Teredo included)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("3fff::/20", "documentation (3fff::/20)"),
        ("5f00::/16", "segment routing (5f00::/16)"),
        ("fec0::/10", "deprecated site-local (fec0::/10)"),
    )
)
_EMBEDDING = (  # IPv6 ranges that carry an IPv4 address, and where
    (ipaddress.ip_network("::ffff:0:0/96"), "IPv4-mapped"),
    (ipaddress.ip_network("::/96"), "IPv4-compatible"),
    (ipaddress.ip_network("64:ff9b::/96"), "NAT64"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "local-use NAT64"),
    (ipaddress.ip_network("2002::/16"), "6to4"),
    (ipaddress.ip_network("2001::/32"), "Teredo"),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Receivers started by each lab, as (host, port): trusted by a policy with lab_receivers=True.
_LAB_RECEIVERS: WeakKeyDictionary[Lab, set[tuple[str, int]]] = WeakKeyDictionary()


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and how (None if it carries none).

    IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``
    (and local-use ``64:ff9b:1::/48``), 6to4 ``2002:AABB:CCDD::`` and Teredo ``2001:0::``
    (the client address, de-obfuscated).
    """
    for net, how in _EMBEDDING:
        if ip in net:
            if how == "6to4":
                return ip.sixtofour, how
            if how == "Teredo":
                return ip.teredo[1], how
            if how == "IPv4-compatible" and int(ip) <= 1:
                return None  # :: and ::1 are the unspecified and loopback addresses
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), how
    return None


def why_internal(address: str) -> str | None:
    """Why the IP ``address`` may not receive webhooks (None if it is a globally reachable address).

    Refused: every address Python's :mod:`ipaddress` does not call ``is_global``, and — since
    those tables depend on the Python version — every range of :data:`_NOT_GLOBAL` (the IANA
    special-purpose ranges that are not globally reachable), multicast and reserved addresses.
    An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4,
    Teredo) is refused if that IPv4 address is; an IPv4-mapped one (``::ffff:10.0.0.1``,
    how a dual-stack socket writes an IPv4 peer) is judged by the IPv4 address alone.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            inner, how = embedded
            if how == "IPv4-mapped":
                ip = inner
            else:
                reason = why_internal(str(inner))
                if reason is not None:
                    return f"an IPv6 address that carries {inner} ({how}), {reason}"
    for attribute, reason in _INTERNAL:
        if getattr(ip, attribute) and (
            attribute != "is_private" or any(ip in net for net in _PRIVATE_NETWORKS)
        ):
            return reason
    for net, why in _NOT_GLOBAL:
        if ip.version == net.version and ip in net:
            return f"an address that is not globally reachable: {why}"
    if not ip.is_global:
        return "an address that is not globally reachable (a special-purpose range)"
    return None


def _host_port(where: str, param: str, entry: Any) -> tuple[str, int]:
    """``"host:port"`` (or ``"[v6]:port"``) as a normalised (host, port) pair."""
    if isinstance(entry, str):
        host, sep, port = entry.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return host.lower().rstrip("."), int(port)
    raise ValueError(
        f"{where}({param}=...{entry!r}...): each entry must be 'host:port', such as "
        "'127.0.0.1:8080', 'hooks.internal:443' or '[::1]:8080'"
    )


class DestinationPolicy:
    """Where a :class:`WebhookSender` may deliver: the guard against SSRF.

    A webhook URL usually comes from a user ("notify me at ..."). Without a policy, a user could
    register ``http://169.254.169.254/latest/meta-data/`` or ``http://10.0.0.5/admin`` and make
    the sender — which sits *inside* the network — send requests there for them
    (server-side request forgery). So by default a sender refuses:

    - schemes other than ``http`` and ``https`` (no ``file://``, ``gopher://`` …);
    - URLs with credentials (``http://user:pw@host/``): secrets do not belong in URLs, and
      ``user@`` is a classic way to disguise the real host;
    - hosts that are, or **resolve to**, an address that is not globally reachable
      (:func:`why_internal`): loopback, private, link-local (the cloud metadata address
      169.254.169.254), unspecified (0.0.0.0), multicast, reserved, every IANA special-purpose
      range that is not globally reachable (such as 100.64.0.0/10 and 192.0.0.0/24, checked
      from the lab's own table, not only Python's, whose tables differ between versions), and
      IPv6 addresses that carry such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64,
      6to4, Teredo) — every address a name resolves to is checked, not just the first;

    unless the URL's ``host:port`` is on the explicit ``allow`` list (matched as written in the
    URL; ``http`` means port 80 and ``https`` port 443 when the URL names none).

    Args:
        allow: ``"host:port"`` entries that may be reached even though they are internal,
            e.g. ``["127.0.0.1:8080"]`` for a receiver you run yourself.
        lab_receivers: also allow the ``host:port`` of every :class:`WebhookReceiver` the
            sender's own lab has started. Set False for a sender that only trusts ``allow``.
            **This is an exception inside a security control**, and the default is True only
            for the teaching notebooks: notebook 09 and its exercise checks deliver to their own
            loopback receivers without an ``allow`` list, and they are maintained separately.
            A production sender must not rely on it: a receiver the platform itself started in
            the same process is rarely what a user's URL should reach. Use
            ``lab_receivers=False`` and an explicit ``allow`` (notebook 14 does).

    **What is and is not covered.** Names are resolved when the connection is made, by the
    resolver of the sender's HTTP session, and the connection goes only to addresses this
    policy checked — so a name that resolves to a public address when registered and to
    ``127.0.0.1`` when delivering (DNS rebinding) is refused at delivery. Redirects are never
    followed (a 3xx is a final answer), so a receiver cannot bounce the sender inward. Not
    covered: HTTP proxies (the sender does not use any), and an allow-listed name whose DNS
    an attacker controls — allow addresses, or names you control.
    """

    def __init__(self, allow: Any = (), *, lab_receivers: bool = True):
        where = "DestinationPolicy"
        if isinstance(allow, str) or not isinstance(allow, (list, tuple, set, frozenset)):
            raise ValueError(
                f"{where}(allow={allow!r}): allow must be a list of 'host:port' strings, "
                "such as ['127.0.0.1:8080']"
            )
        self.allow = frozenset(_host_port(where, "allow", entry) for entry in allow)
        if not isinstance(lab_receivers, bool):
            raise TypeError(f"{where}(lab_receivers={lab_receivers!r}): lab_receivers must be True or False")
        self.lab_receivers = lab_receivers

    def allows(self, host: str, port: int, lab: Lab | None = None) -> str | None:
        """Why ``host:port`` is allowed without address checks (None if it is not listed)."""
        key = (host.lower().rstrip("."), port)
        if key in self.allow:
            return "on the allow list"
        if self.lab_receivers and lab is not None and key in _LAB_RECEIVERS.get(lab, ()):
            return "a WebhookReceiver of the sender's lab"
        return None

    def check_url(self, where: str, url: str, lab: Lab | None = None) -> tuple[str, int]:
        """Refuse ``url`` if its scheme, credentials or literal IP host are not allowed.

        Returns its (host, port). A host *name* is checked later, when it is resolved
        (:meth:`check_address`); this method never does DNS.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise DestinationRefusedError(
                f"{where}(url={url!r}): only http:// and https:// URLs can receive webhooks, not {scheme}://"
            )
        if parts.username is not None or parts.password is not None:
            raise DestinationRefusedError(
                f"{where}(url={_redact(url)!r}): the URL carries credentials (user:password@); "
                "secrets do not belong in a URL (they end up in logs), and user@host can disguise "
                "the real host. Authenticate with the signature instead."
            )
        host = (parts.hostname or "").rstrip(".")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise ValueError(f"{where}(url={url!r}): the port is not a number from 1 to 65535") from None
        if not host:
            raise ValueError(f"{where}(url={url!r}): the URL has no host")
        if self.allows(host, port, lab) is None:
            try:
                ipaddress.ip_address(host.split("%", 1)[0])
            except ValueError:
                return host, port  # a name: checked when it is resolved
            self.check_address(where, url, host, port, host)
        return host, port

    def check_address(self, where: str, url: str, host: str, port: int, address: str) -> None:
        """Refuse the resolved ``address`` of ``host`` unless it is public (or ``host:port`` allowed)."""
        reason = why_internal(address)
        if reason is None:
            return
        via = "" if address == host else f" (it resolves to {address})"
        raise DestinationRefusedError(
            f"{where}(url={url!r}): refused to deliver to {_entry(host, port)}{via}, {reason}. A webhook URL "
            "supplied by a user must not reach internal services (SSRF). If this receiver is yours, "
            f"allow it explicitly: WebhookSender(url, secret, allow=[{_entry(host, port)!r}])"
        )

    def check(self, url: str, lab: Lab | None = None) -> list[str]:
        """Check ``url`` now, resolving its host: the addresses it reaches, or DestinationRefusedError.

        For the moment a user *registers* a webhook URL (refuse it early, with a reason);
        the sender checks again when it connects, because DNS answers can change. This call
        blocks while the name resolves: do not call it from async code.
        """
        host, port = self.check_url("DestinationPolicy.check", url, lab)
        if self.allows(host, port, lab) is not None:
            return [host]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise DestinationRefusedError(
                f"DestinationPolicy.check(url={url!r}): {host} does not resolve ({exc})"
            ) from None
        addresses = sorted({info[4][0] for info in infos})
        for address in addresses:
            self.check_address("DestinationPolicy.check", url, host, port, address)
        return addresses

    def __repr__(self) -> str:
        entries = sorted(_entry(h, p) for h, p in self.allow)
        return f"DestinationPolicy(allow={entries}, lab_receivers={self.lab_receivers})"


def _entry(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc="***@" + netloc).geturl()


def _policy_resolver(policy: DestinationPolicy, sender: WebhookSender) -> Any:
    """An aiohttp resolver that checks every address a name resolves to before any connection."""
    from aiohttp.abc import AbstractResolver
    from aiohttp.resolver import ThreadedResolver

    class PolicyResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = ThreadedResolver()

        async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list:
            results = await self._inner.resolve(host, port, family)
            if policy.allows(host, port, sender.lab) is None:
                for result in results:
                    try:
                        policy.check_address("WebhookSender.send", sender.url, host, port, result["host"])
                    except DestinationRefusedError as exc:
                        raise _Refused(exc) from None
            return results

        async def close(self) -> None:
            await self._inner.close()

    return PolicyResolver()


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
        self.verifier = WebhookVerifier(secret, tolerance=tolerance, replay_cache=replay_cache, _where=where)
        """The rules every request goes through (see :class:`WebhookVerifier`)."""
        self.handler = None if handler is None else _validate.function(where, "handler", handler)
        self.tolerance = self.verifier.tolerance
        self.replay_cache = self.verifier.replay_cache
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}(path={path!r}): path must be a string starting with '/'")
        self.path = path
        super().__init__(where, name, lab)
        self.received: list[Delivery] = []
        self.rejected: Counter[str] = Counter()

    async def start(self) -> WebhookReceiver:
        await super().start()
        _LAB_RECEIVERS.setdefault(self.lab, set()).add((HOST, self.port))
        return self

    def _add_routes(self, app: Any, web: Any) -> None:
        app.router.add_post(self.path, self._receive)

    async def _receive(self, request: Any) -> Any:
        from aiohttp import web

        sender = client_name(request)
        record = self.lab.trace.record
        body = await request.read()
        verdict = self.verifier.verify(request.headers, body, time.time())
        if not verdict.ok:
            self.rejected[verdict.reason] += 1
            record(
                "reject",
                sender,
                self.name,
                None,
                status=verdict.status,
                reason=verdict.reason,
                delivery_id=verdict.delivery_id,
            )
            return web.json_response({"error": verdict.reason}, status=verdict.status)
        payload, delivery_id = verdict.payload, verdict.delivery_id
        seq = payload.get("seq")
        delivery = Delivery(
            delivery_id, payload.get("event"), payload.get("data"), verdict.timestamp, seq, sender
        )
        self.verifier.begin(verdict)
        accepted = False
        try:
            if self.handler is not None:
                await call(self.handler, delivery)
            accepted = True
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            record("error", self.name, None, seq, delivery_id=delivery_id, error=error)
            return web.json_response({"error": "handler failed"}, status=500)
        finally:
            self.verifier.finish(verdict, accepted=accepted)
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
        allow: ``"host:port"`` entries this sender may reach although they are internal
            (loopback, private, link-local ...), e.g. ``["127.0.0.1:8080"]``; see
            :class:`DestinationPolicy`.
        policy: a whole :class:`DestinationPolicy` instead of ``allow`` (not both).
        name, lab: the sender's name in the trace, and the lab.

    Use ``async with`` (it holds one HTTP session, keep-alive).

    **Where it may deliver.** ``url`` is checked against the destination policy on every
    attempt, before any byte is sent, and every address its host resolves to is checked when
    the connection is made: internal addresses are refused unless allowed (see
    :class:`DestinationPolicy`; by default the receivers of the sender's own lab are allowed).
    A refusal raises :class:`DestinationRefusedError` from :meth:`send` and records a
    ``reject`` event by the sender. Redirects are never followed: a 3xx answer is final.
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
        allow: Any = (),
        policy: DestinationPolicy | None = None,
        name: str = "webhook-sender",
        lab: Lab | None = None,
    ):
        where = "WebhookSender"
        self._secret = _secret_bytes(where, "secret", secret)
        if policy is None:
            self.policy = DestinationPolicy(allow)
        elif not isinstance(policy, DestinationPolicy):
            raise TypeError(f"{where}(policy={policy!r}): policy must be a DestinationPolicy or None")
        elif allow:
            raise ValueError(
                f"{where}(allow={allow!r}, policy=...): give allow or policy, not both "
                "(put the entries in DestinationPolicy(allow=[...]))"
            )
        else:
            self.policy = policy
        self.attempts = _validate.integer(where, "attempts", attempts, minimum=1)
        self.backoff = _validate.number(where, "backoff", backoff, positive=True)
        self.factor = _validate.number(where, "factor", factor, minimum=1)
        self.max_delay = _validate.number(where, "max_delay", max_delay, positive=True)
        self.timeout = _validate.number(where, "timeout", timeout, positive=True)
        super().__init__(where, url, name, lab)
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            self.policy.check_url(where, url)  # raises: no credentials in a webhook URL

    def delay_before(self, attempt: int) -> float:
        """Seconds waited before attempt number ``attempt`` (1 = the first, which waits 0)."""
        if attempt <= 1:
            return 0.0
        return min(self.max_delay, self.backoff * self.factor ** (attempt - 2))

    async def __aenter__(self) -> WebhookSender:
        self._open_session()
        return self

    def _connector(self) -> Any:
        import aiohttp

        return aiohttp.TCPConnector(resolver=_policy_resolver(self.policy, self))

    def check_destination(self) -> None:
        """Raise :class:`DestinationRefusedError` (and trace a ``reject``) if :attr:`url` may not be used.

        Covers the scheme, credentials and a literal IP host; a host name is checked when it
        is resolved, during :meth:`send`.
        """
        try:
            self.policy.check_url("WebhookSender.send", self.url, self.lab)
        except DestinationRefusedError as exc:
            self._refused(exc)
            raise

    def _refused(self, exc: DestinationRefusedError, seq: int | None = None) -> None:
        self.lab.trace.record(
            "reject", self.name, self.peer, seq, reason="destination refused", error=str(exc)
        )

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
        self.check_destination()
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
                    self.url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                    allow_redirects=False,  # never: a redirect could point the sender inward
                ) as response:
                    status = response.status
                    text = await response.text()
                    location = response.headers.get("Location")
                if 300 <= status < 400:
                    error = (
                        f"HTTP {status}: redirect to {location!r} not followed (webhooks are not redirected)"
                    )
                else:
                    error = None if 200 <= status < 300 else f"HTTP {status}: {text[:200]}"
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, _Refused):  # a name resolved to an internal address
                    self._refused(exc.os_error.error, seq)
                    raise exc.os_error.error from None
                error = f"{type(exc).__name__}: {exc}"
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
