"""Server-Sent Events and WebSocket over real HTTP on 127.0.0.1: the server pushes on a held connection.

::

    async with ppl.SSEServer() as server, ppl.SSEClient(server.url, name="browser") as client:
        await server.publish({"price": 101.5})
        await client.wait_for(1)
        client.received[0].data                # {'price': 101.5}

Both keep one connection per client open for as long as the client listens. The client
initiates that connection once; after that every event is pushed by the server the moment
it is published — no request per event, no empty answers.

**SSE** (:class:`SSEServer`, :class:`SSEClient`) is one long HTTP response of type
``text/event-stream``: each event is ``id: N`` / ``event: name`` / ``data: JSON`` lines and a
blank line. It is one-way (server to client). A client that reconnects sends the last id it
saw as ``Last-Event-ID`` and the server first replays what it missed from its ``history``.

**WebSocket** (:class:`WebSocketServer`, :class:`WebSocketClient`) upgrades the HTTP
connection to a two-way stream of frames: the server pushes ``{"id", "data"}`` text frames,
and the client can :meth:`~WebSocketClient.send` on the same connection.

Trace: the server's ``publish`` (actor: the server) and, on the client when an event
arrives, ``deliver`` (actor: the server, peer: the client) — the push arrow; so
``trace.latency("publish", "deliver")`` is the publish-to-client latency. WebSocket messages
from a client are a ``publish`` by the client and a ``deliver`` at the server. Connections,
requests and bytes come from :mod:`pushpull_lab._http` (``connect``/``http``/``disconnect``).

Each connected client has its own unbounded queue on the server (events reach every client
in publish order); a client that disconnects is forgotten at once. Bounded buffers and
overflow policies are :class:`~pushpull_lab.PubSub`'s subject, not these demos'.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _validate
from .._http import HttpClient, HttpServer, call, client_name, connection_of
from ..lab import Lab

_CLOSE = None  # queue sentinel: the server is closing or the client left


def _dumps(where: str, data: Any) -> str:
    try:
        return json.dumps(data, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}(data={data!r}): data must be JSON-serialisable ({exc})") from None


def _check_path(where: str, path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"{where}(path={path!r}): path must be a string starting with '/'")
    return path


@dataclass(frozen=True)
class ChannelEvent:
    """An event as a client received it: its id, SSE event name (None on WebSocket) and data."""

    id: int | str | None
    event: str | None
    data: Any


class _Listener:
    """What SSE and WebSocket clients share: a reader task, ``received``, ``wait_for``."""

    def _init_listener(self, where: str, on_event: Callable | None) -> None:
        self.on_event = None if on_event is None else _validate.function(where, "on_event", on_event)
        self.received: list[ChannelEvent] = []
        self.ended = False
        self._reader: asyncio.Task | None = None
        self._arrived: asyncio.Event | None = None

    async def _got(self, event: ChannelEvent) -> None:
        self.received.append(event)
        self.lab.trace.record("deliver", self.peer, self.name, event.id)
        self._arrived.set()
        if self.on_event is not None:
            await call(self.on_event, event)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ChannelEvent]:
        """Wait until ``count`` events have arrived in all; returns ``received``.

        Raises :class:`TimeoutError` after ``timeout`` seconds, and re-raises what ended the
        reader (an ``on_event`` that raised, a broken connection).
        """
        where = f"{type(self).__name__}.wait_for"
        _validate.integer(where, "count", count, minimum=0)
        _validate.number(where, "timeout", timeout, positive=True)
        if self._reader is None:
            raise RuntimeError(f"{where}: {self.name!r} is not connected; use 'async with'")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._reader.done() and not self._reader.cancelled():
                self._reader.result()  # raises what ended the reader, if anything did
            if len(self.received) >= count:
                return self.received
            if self._reader.done():
                raise RuntimeError(
                    f"{where}: the server closed the stream after {len(self.received)} of {count} events"
                )
            self._arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{where}: {len(self.received)} of {count} events after {timeout:g} s")
            waiter = asyncio.ensure_future(self._arrived.wait())
            try:
                await asyncio.wait({waiter, self._reader}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is None:
            return
        if not reader.done():
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


# -- Server-Sent Events -----------------------------------------------------------------------
class SSEServer(HttpServer):
    """A ``text/event-stream`` endpoint that pushes every published event to every connected client.

    Args:
        name: the server's name in the trace.
        path: the stream's URL path; ``url`` is the full address once started.
        history: how many recent events are kept for ``Last-Event-ID`` resumption (>= 0).
        heartbeat: seconds between ``: ping`` comment lines on an idle stream (keeps proxies
            from closing it), or None for none.
        lab: the lab to record into.
    """

    def __init__(
        self,
        name: str = "sse-server",
        *,
        path: str = "/events",
        history: int = 1000,
        heartbeat: float | None = 15.0,
        lab: Lab | None = None,
    ):
        where = "SSEServer"
        self.path = _check_path(where, path)
        self.history = _validate.integer(where, "history", history, minimum=0)
        self.heartbeat = _validate.optional_number(where, "heartbeat", heartbeat, positive=True)
        super().__init__(where, name, lab)
        self._log: deque[tuple[int, bytes]] = deque(maxlen=history)
        self._clients: dict[int, asyncio.Queue] = {}
        self._client_ids = 0

    @property
    def clients(self) -> int:
        """Clients connected right now."""
        return len(self._clients)

    def _add_routes(self, app: Any, web: Any) -> None:
        app.router.add_get(self.path, self._stream)

    async def publish(self, data: Any = None, *, event: str | None = None) -> int:
        """Push ``data`` (JSON-serialisable) to every connected client; returns how many."""
        where = "SSEServer.publish"
        if event is not None:
            _validate.name(where, "event", event)
            if "\n" in event or "\r" in event:
                raise ValueError(f"{where}(event={event!r}): event must be one line")
        text = _dumps(where, data)
        self._check_running(where)
        msg_id = next(self.lab.message_ids)
        frame = f"id: {msg_id}\n" + (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
        item = (msg_id, frame.encode())
        self.lab.trace.record("publish", self.name, None, msg_id, event=event, clients=len(self._clients))
        self._log.append(item)
        for queue in self._clients.values():
            queue.put_nowait(item)
        return len(self._clients)

    async def _stream(self, request: Any) -> Any:
        from aiohttp import web

        last = request.headers.get("Last-Event-ID")
        if last is not None and not (last.isascii() and last.isdigit()):
            raise web.HTTPBadRequest(text="Last-Event-ID must be an event id this server sent (an integer)")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        queue: asyncio.Queue = asyncio.Queue()
        self._client_ids += 1
        key = self._client_ids
        # Registered before the answer starts, so an event published as soon as the client
        # sees the headers reaches it; ids replayed below are skipped when they come
        # through the queue.
        self._clients[key] = queue
        conn = connection_of(request)
        if conn is not None:
            conn.on_lost.append(lambda: queue.put_nowait(_CLOSE))
        sent = int(last) if last is not None else 0
        client = client_name(request)
        try:
            await response.prepare(request)
            missed = [item for item in self._log if item[0] > sent] if last is not None else []
            await response.write(b": connected\n\n" + b"".join(frame for _, frame in missed))
            if missed:
                sent = missed[-1][0]
                self.lab.trace.record("replay", self.name, client, None, events=len(missed), after=int(last))
            while not self.closing:
                try:
                    item = await asyncio.wait_for(queue.get(), self.heartbeat)
                except asyncio.TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if item is _CLOSE:
                    break
                msg_id, frame = item
                if msg_id <= sent:
                    continue
                await response.write(frame)
                sent = msg_id
        except ConnectionError:
            pass  # the client left; the disconnect is in the trace
        finally:
            del self._clients[key]
        return response

    async def _on_close(self) -> None:
        for queue in self._clients.values():
            queue.put_nowait(_CLOSE)


class SSEClient(_Listener, HttpClient):
    """Connects to an :class:`SSEServer` and collects its events in ``received``.

    Args:
        url: the server's ``url``.
        name: the client's name in the trace.
        on_event: ``fn(event)``, sync or async, called for each :class:`ChannelEvent`; if it
            raises, the client stops reading and :meth:`wait_for` re-raises it.
        last_event_id: resume after this event id (sent as ``Last-Event-ID``): the server
            first replays the newer events it still has.
        lab: the lab to record into.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "sse-client",
        on_event: Callable | None = None,
        last_event_id: int | None = None,
        lab: Lab | None = None,
    ):
        where = "SSEClient"
        if last_event_id is not None:
            _validate.integer(where, "last_event_id", last_event_id, minimum=0)
        HttpClient.__init__(self, where, url, name, lab)
        self._init_listener(where, on_event)
        self.last_event_id = last_event_id
        self._response: Any = None

    async def __aenter__(self) -> SSEClient:
        session = self._open_session()
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        try:
            response = await session.get(self.url, headers=headers, timeout=None)
            if response.status != 200 or response.content_type != "text/event-stream":
                text = (await response.text())[:200]
                response.release()
                raise ConnectionError(
                    f"SSEClient({self.url!r}): expected a 200 text/event-stream answer, got "
                    f"{response.status} {response.content_type}: {text}"
                )
        except BaseException:
            await self._close_session()
            raise
        self._response = response
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read(response), name=f"sse:{self.name}")
        return self

    async def _read(self, response: Any) -> None:
        msg_id: str | None = None
        event: str | None = None
        data: list[str] = []
        try:
            async for raw in response.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:  # a blank line dispatches the event
                    if data:
                        ident: int | str | None = int(msg_id) if msg_id and msg_id.isdigit() else msg_id
                        if ident is not None:
                            self.last_event_id = ident
                        await self._got(ChannelEvent(ident, event, json.loads("\n".join(data))))
                    msg_id, event, data = None, None, []
                    continue
                if line.startswith(":"):
                    continue  # a comment: the greeting or a heartbeat
                field_name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field_name == "id":
                    msg_id = value
                elif field_name == "event":
                    event = value
                elif field_name == "data":
                    data.append(value)
            self.ended = True
        finally:
            response.release()

    async def close(self) -> None:
        try:
            await self._stop_reader()
        finally:
            # The reader releases it when it ends; a reader cancelled before its first
            # step never ran at all.
            response, self._response = self._response, None
            if response is not None:
                response.release()
            await self._close_session()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"SSEClient({self.name!r}, url={self.url!r}, received={len(self.received)})"


# -- WebSocket --------------------------------------------------------------------------------
class WebSocketServer(HttpServer):
    """A WebSocket endpoint: pushes every published event to every connected client, and takes
    messages from them.

    Args:
        name: the server's name in the trace.
        path: the endpoint's URL path; ``url`` is the full ``ws://`` address once started.
        on_message: ``fn(client_name, data)``, sync or async, for each message a client sends;
            if it raises, an ``error`` event is recorded and the connection is closed (1011).
        lab: the lab to record into.

    ``received`` lists ``(client_name, data)`` of the messages clients sent.
    """

    def __init__(
        self,
        name: str = "ws-server",
        *,
        path: str = "/ws",
        on_message: Callable | None = None,
        lab: Lab | None = None,
    ):
        where = "WebSocketServer"
        self.path = _check_path(where, path)
        self.on_message = None if on_message is None else _validate.function(where, "on_message", on_message)
        super().__init__(where, name, lab)
        self._scheme = "ws"
        self._clients: dict[Any, asyncio.Queue] = {}
        self.received: list[tuple[str, Any]] = []
        self.errors: list[Exception] = []

    @property
    def clients(self) -> int:
        """Clients connected right now."""
        return len(self._clients)

    def _add_routes(self, app: Any, web: Any) -> None:
        app.router.add_get(self.path, self._socket)

    async def publish(self, data: Any = None) -> int:
        """Push ``data`` (JSON-serialisable) to every connected client; returns how many."""
        where = "WebSocketServer.publish"
        _dumps(where, data)
        self._check_running(where)
        msg_id = next(self.lab.message_ids)
        frame = _dumps(where, {"id": msg_id, "data": data})
        self.lab.trace.record("publish", self.name, None, msg_id, clients=len(self._clients))
        for queue in self._clients.values():
            queue.put_nowait(frame)
        return len(self._clients)

    async def _socket(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse()
        client = client_name(request)
        queue: asyncio.Queue = asyncio.Queue()
        self._clients[ws] = queue  # before the handshake: nothing published after it is missed
        try:
            await ws.prepare(request)
        except BaseException:
            del self._clients[ws]
            raise

        async def write() -> None:
            while (frame := await queue.get()) is not _CLOSE:
                await ws.send_str(frame)
            await ws.close(message=b"server closing")

        writer = asyncio.create_task(write(), name=f"ws-writer:{self.name}:{client}")
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                    msg_id = payload.get("id") if isinstance(payload, dict) else None
                    data = payload.get("data") if isinstance(payload, dict) else payload
                    self.received.append((client, data))
                    self.lab.trace.record("deliver", client, self.name, msg_id)
                    if self.on_message is not None:
                        await call(self.on_message, client, data)
                except Exception as exc:
                    self.errors.append(exc)
                    self.lab.trace.record(
                        "error", self.name, client, None, error=f"{type(exc).__name__}: {exc}"
                    )
                    await ws.close(code=1011, message=b"message handler failed")
                    break
        finally:
            del self._clients[ws]
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
        return ws

    async def _on_close(self) -> None:
        for queue in self._clients.values():
            queue.put_nowait(_CLOSE)


class WebSocketClient(_Listener, HttpClient):
    """Connects to a :class:`WebSocketServer`: collects pushed events in ``received``, and
    :meth:`send` messages back on the same connection.

    Args:
        url: the server's ``url`` (``ws://...``).
        name: the client's name in the trace.
        on_event: ``fn(event)``, sync or async, for each :class:`ChannelEvent`; if it raises,
            the client stops reading and :meth:`wait_for` re-raises it.
        lab: the lab to record into.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "ws-client",
        on_event: Callable | None = None,
        lab: Lab | None = None,
    ):
        where = "WebSocketClient"
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(
                f"{where}(url={url!r}): url must be a ws:// address such as a WebSocketServer's .url"
            )
        HttpClient.__init__(self, where, "http" + url[2:], name, lab)
        self.url = url
        self._init_listener(where, on_event)
        self._ws: Any = None

    async def __aenter__(self) -> WebSocketClient:
        session = self._open_session()
        try:
            self._ws = await session.ws_connect(self.url)
        except BaseException:
            await self._close_session()
            raise
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"ws:{self.name}")
        return self

    async def _read(self) -> None:
        from aiohttp import WSMsgType

        async for msg in self._ws:
            if msg.type == WSMsgType.TEXT:
                payload = json.loads(msg.data)
                await self._got(ChannelEvent(payload.get("id"), None, payload.get("data")))
            elif msg.type == WSMsgType.ERROR:
                raise ConnectionError(f"WebSocketClient {self.name!r}: {self._ws.exception()}")
        self.ended = True

    async def send(self, data: Any = None) -> int:
        """Send ``data`` (JSON-serialisable) to the server; returns its message id."""
        where = "WebSocketClient.send"
        _dumps(where, data)
        if self._ws is None or self._ws.closed:
            raise RuntimeError(f"{where}: {self.name!r} is not connected; use 'async with'")
        msg_id = next(self.lab.message_ids)
        self.lab.trace.record("publish", self.name, None, msg_id)
        await self._ws.send_str(_dumps(where, {"id": msg_id, "data": data}))
        return msg_id

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        try:
            if ws is not None:
                await ws.close()
            await self._stop_reader()
        finally:
            await self._close_session()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"WebSocketClient({self.name!r}, url={self.url!r}, received={len(self.received)})"
