"""REST short polling and long polling over real HTTP on 127.0.0.1: the client keeps asking.

::

    async with ppl.PollingServer() as server, ppl.PollingClient(server.url, name="app") as client:
        await server.publish({"order": 1})
        await client.poll(timeout=0)          # short poll: answers at once, maybe with nothing
        await client.poll(timeout=5)          # long poll: held until an event arrives (or 5 s)

One endpoint serves both: ``GET /events?after=ID&limit=N&wait=SECONDS`` answers with the
events newer than ``after`` (``{"events": [{"id", "data"}, ...], "next": ID, "gap": bool}``).
With ``wait=0`` it answers at once — a **short poll**, often an *empty poll* that cost a whole
request and response and brought nothing. With ``wait > 0`` and nothing new, the server
**holds** the request until an event is published (and answers at once) or ``wait`` seconds
pass (capped at ``max_hold``) and it answers empty — a **long poll**. The client initiates
every exchange either way: both are pull.

:class:`PollingClient` has the ``poll(max_records, timeout)`` method of a
:class:`~pushpull_lab.Consumer`, so the lab's own loops drive it::

    asyncio.create_task(ppl.short_poll(client, handle, interval=0.5))   # or
    asyncio.create_task(ppl.long_poll(client, handle, hold=30))

Trace (the same kinds as :class:`~pushpull_lab.Consumer`): the server's ``publish``; on the
client per request ``poll`` (``count``, ``waited``) or ``empty_poll``, and ``consume`` per
event — arrows from the client, who initiates; ``trace.latency("publish", "consume")`` is the
publish-to-client latency. Requests, bytes and connections come from
:mod:`pushpull_lab._http`.

The server keeps the last ``history`` events; a client whose cursor is older than that gets
``gap: true`` (recorded as ``gap=True`` on its ``poll`` event) — the events in between are gone.

**Behind authentication.** Pull lets the consumer side stay closed: only the server listens,
so it can sit behind a firewall and ask every caller to prove who it is::

    async with ppl.PollingServer(token="t0ken") as server, \\
               ppl.PollingClient(server.url, token="t0ken") as client:
        await client.poll()

A server with a ``token`` answers a request only if it carries ``Authorization: Bearer
<token>`` (several tokens are allowed while rotating them). The comparison is constant-time
(:func:`hmac.compare_digest` on SHA-256 digests, so not even the length leaks). Anything else
gets ``401`` with a ``WWW-Authenticate: Bearer`` header and a ``reject`` event in the trace
(``status=401``, ``reason`` "missing token" or "wrong token"); the client raises
:class:`PermissionError`. A token authenticates a *caller*; it says nothing about which
events that caller may read — give each tenant its own server (or path) and token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import deque
from dataclasses import dataclass
from typing import Any

from .. import _validate
from .._http import HttpClient, HttpServer, client_name, connection_of
from ..lab import Lab


def _token_digests(where: str, token: Any) -> list[bytes]:
    """SHA-256 digests of the accepted tokens ([] for None), checked: non-empty, no spaces."""
    if token is None:
        return []
    tokens = token if isinstance(token, (list, tuple)) else [token]
    if not tokens or not all(isinstance(t, str) and t and t == t.strip() and " " not in t for t in tokens):
        raise ValueError(
            f"{where}(token=...): token must be a non-empty string without spaces (or a non-empty "
            "list of them), or None for no authentication"
        )
    return [hashlib.sha256(t.encode()).digest() for t in tokens]


@dataclass(frozen=True)
class PolledEvent:
    """One event as a polling client received it."""

    id: int
    data: Any


class PollingServer(HttpServer):
    """A REST endpoint for short and long polling (see the module text).

    Args:
        name: the server's name in the trace.
        path: the endpoint's URL path; ``url`` is the full address once started.
        history: how many recent events are kept for clients to fetch (>= 1).
        max_hold: the longest a long poll is held, in seconds, whatever the client asks (> 0).
        token: a bearer token (or a list of them, while rotating) every request must carry;
            None (default) for an open endpoint. See "Behind authentication" above.
        lab: the lab to record into.
    """

    def __init__(
        self,
        name: str = "rest-server",
        *,
        path: str = "/events",
        history: int = 10_000,
        max_hold: float = 30.0,
        token: str | list[str] | None = None,
        lab: Lab | None = None,
    ):
        where = "PollingServer"
        self._token_digests = _token_digests(where, token)
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}(path={path!r}): path must be a string starting with '/'")
        self.path = path
        self.history = _validate.integer(where, "history", history, minimum=1)
        self.max_hold = _validate.number(where, "max_hold", max_hold, positive=True)
        super().__init__(where, name, lab)
        self._log: deque[tuple[int, Any]] = deque()
        self._forgotten_upto = 0  # the newest id dropped from the history
        self._new: asyncio.Event | None = None

    async def start(self) -> PollingServer:
        self._new = asyncio.Event()
        await super().start()
        return self

    def _add_routes(self, app: Any, web: Any) -> None:
        app.router.add_get(self.path, self._get)

    def _wake(self) -> None:
        new, self._new = self._new, asyncio.Event()
        new.set()

    async def publish(self, data: Any = None) -> int:
        """Store ``data`` (JSON-serialisable) for clients to fetch; returns its id."""
        import json

        where = "PollingServer.publish"
        try:
            json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}(data={data!r}): data must be JSON-serialisable ({exc})") from None
        self._check_running(where)
        msg_id = next(self.lab.message_ids)
        self._log.append((msg_id, data))
        if len(self._log) > self.history:
            self._forgotten_upto = self._log.popleft()[0]
        self.lab.trace.record("publish", self.name, None, msg_id, stored=len(self._log))
        self._wake()
        return msg_id

    def _after(self, after: int, limit: int) -> list[dict]:
        out = []
        for msg_id, data in self._log:
            if msg_id > after:
                out.append({"id": msg_id, "data": data})
                if len(out) == limit:
                    break
        return out

    def _authorised(self, request: Any) -> str | None:
        """None if the request may proceed, else why not ("missing token" / "wrong token")."""
        if not self._token_digests:
            return None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return "missing token"
        digest = hashlib.sha256(given.strip().encode("utf-8", "replace")).digest()
        ok = False
        for expected in self._token_digests:  # every one compared: time does not say which matched
            ok |= hmac.compare_digest(digest, expected)
        return None if ok else "wrong token"

    async def _get(self, request: Any) -> Any:
        from aiohttp import web

        refused = self._authorised(request)
        if refused is not None:
            self.lab.trace.record(
                "reject", client_name(request), self.name, None, status=401, reason=refused, path=request.path
            )
            challenge = 'Bearer realm="pushpull-lab"' + (
                ', error="invalid_token"' if refused == "wrong token" else ""
            )
            return web.json_response({"error": refused}, status=401, headers={"WWW-Authenticate": challenge})
        query = request.query
        try:
            after = int(query.get("after", "0"))
            limit = int(query.get("limit", "100"))
            wait = float(query.get("wait", "0"))
            if after < 0 or limit < 1 or not (0 <= wait < float("inf")):
                raise ValueError
        except ValueError:
            raise web.HTTPBadRequest(
                text="after must be an integer >= 0, limit an integer >= 1, wait a number of seconds >= 0"
            ) from None
        wait = min(wait, self.max_hold)
        events = self._after(after, limit)
        if not events and wait > 0 and not self.closing:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            conn = connection_of(request)
            if conn is not None and self._wake not in conn.on_lost:  # once per connection (keep-alive)
                conn.on_lost.append(self._wake)  # a client that hangs up is let go at once
            while not events and not self.closing and (left := deadline - loop.time()) > 0:
                if conn is not None and conn not in self._open:
                    break  # the client hung up: nobody to answer
                try:
                    await asyncio.wait_for(self._new.wait(), left)
                except asyncio.TimeoutError:
                    break
                events = self._after(after, limit)
        nxt = events[-1]["id"] if events else after
        return web.json_response({"events": events, "next": nxt, "gap": after < self._forgotten_upto})

    async def _on_close(self) -> None:
        self._wake()  # held requests answer now (empty)


class PollingClient(HttpClient):
    """Polls a :class:`PollingServer`; ``poll`` has the shape of :meth:`Consumer.poll`.

    Args:
        url: the server's ``url``.
        name: the client's name in the trace.
        after: start after this event id (0: from the oldest the server still has).
        token: the bearer token to send (``Authorization: Bearer <token>``); None for none.
        lab: the lab to record into.

    Use ``async with``. :attr:`cursor` is the id of the last event received.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "rest-client",
        after: int = 0,
        token: str | None = None,
        lab: Lab | None = None,
    ):
        where = "PollingClient"
        self.cursor = _validate.integer(where, "after", after, minimum=0)
        if token is not None and isinstance(token, (list, tuple)):
            raise ValueError(f"{where}(token=...): a client sends one token: a non-empty string, or None")
        _token_digests(where, token)  # validates it
        self._auth = {} if token is None else {"Authorization": f"Bearer {token}"}
        super().__init__(where, url, name, lab)
        self._polling = False

    async def __aenter__(self) -> PollingClient:
        self._open_session()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._close_session()

    async def close(self) -> None:
        await self._close_session()

    async def poll(self, max_records: int = 100, timeout: float = 0.0) -> list[PolledEvent]:
        """One GET: up to ``max_records`` events newer than :attr:`cursor`.

        ``timeout=0`` is a short poll (answered at once); ``timeout > 0`` a long poll that the
        server holds until an event arrives or ``timeout`` seconds pass. Returns ``[]`` for
        an empty poll. A non-200 answer raises :class:`ConnectionError`.
        """
        import aiohttp

        where = "PollingClient.poll"
        _validate.integer(where, "max_records", max_records, minimum=1)
        timeout = _validate.number(where, "timeout", timeout, minimum=0)
        if self._session is None:
            raise RuntimeError(f"{where}: {self.name!r} is not open; use 'async with PollingClient(...)'")
        if self._polling:
            raise RuntimeError(f"{where}: {self.name!r} is already polling; use one task per client")
        lab = self.lab
        started = lab.now()
        params = {"after": str(self.cursor), "limit": str(max_records), "wait": repr(timeout)}
        self._polling = True
        try:
            async with self._session.get(
                self.url,
                params=params,
                headers=self._auth,
                timeout=aiohttp.ClientTimeout(total=timeout + 10.0),
            ) as response:
                if response.status == 401:
                    reason = (await response.text())[:200]
                    raise PermissionError(
                        f"{where}: {self.url} answered 401 {reason}: "
                        + (
                            "give the server's token: PollingClient(url, token=...)"
                            if not self._auth
                            else "the token was refused"
                        )
                    )
                if response.status != 200:
                    text = (await response.text())[:200]
                    raise ConnectionError(f"{where}: {self.url} answered {response.status}: {text}")
                body = await response.json()
        finally:
            self._polling = False
        events = [PolledEvent(e["id"], e["data"]) for e in body["events"]]
        record = lab.trace.record
        waited = lab.now() - started
        extra = {"gap": True} if body.get("gap") else {}
        if not events:
            record("empty_poll", self.name, self.peer, None, waited=waited, **extra)
            return events
        record("poll", self.name, self.peer, None, count=len(events), waited=waited, **extra)
        for event in events:
            record("consume", self.name, self.peer, event.id)
        self.cursor = body["next"]
        return events

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "closed"
        return f"PollingClient({self.name!r}, url={self.url!r}, cursor={self.cursor}, {state})"
