"""Shared plumbing of the real-HTTP protocol demos: a traced aiohttp server and client on 127.0.0.1.

Used by :mod:`pushpull_lab.push.webhook`, :mod:`pushpull_lab.push.channels` and
:mod:`pushpull_lab.pull.http_polling`. aiohttp is imported only when a server or client
starts, so ``import pushpull_lab`` stays light.

Every server listens on ``127.0.0.1`` only, on a port the operating system picks (port 0,
so two servers never race for the same port), and records into the lab's trace:

``listen`` / ``closed``   the server started (``url``) / stopped
``connect``              a TCP connection carried its first request (actor: the client,
                         named by its ``X-PPL-Client`` header; ``open`` = connections open now)
``http``                 one HTTP request, recorded when its response ends (``method``,
                         ``path``, ``status``, ``duration``): the request count
``disconnect``           a connection closed: the exact bytes it carried each way on the wire
                         (``bytes_in`` = client to server, ``bytes_out``, headers included),
                         how many requests it carried, how long it was open, ``open`` after it

So requests, bytes and open connections come from the trace like every other number in the
lab. Bytes are counted on the server's socket transport, below HTTP: request lines, headers,
chunked framing and WebSocket frames are all included.

These are real sockets and real time: inside :func:`~pushpull_lab.simulate` every server
and client refuses to start with :class:`~pushpull_lab.errors.VirtualTimeError`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from . import _validate
from .clock import VirtualTimeLoop, _refuse
from .lab import Lab, resolve

HOST = "127.0.0.1"
CLIENT_HEADER = "X-PPL-Client"
"""Request header carrying the client's name, so the server's trace names who initiated."""
SERVER_HEADER = "X-PPL-Server"
"""Response header carrying the server's name, so the client's trace names its peer."""


def require_real_time(where: str, lab: Lab) -> None:
    """Raise :class:`VirtualTimeError` at once if ``lab`` or the running loop is virtual."""
    if lab.virtual or isinstance(asyncio._get_running_loop(), VirtualTimeLoop):
        _refuse(f"{where}: real HTTP on {HOST}")


def check_url(where: str, url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(
            f"{where}(url={url!r}): url must be an http:// address such as a server's .url "
            "('http://127.0.0.1:PORT/...')"
        )
    return url


async def call(fn: Callable, *args: Any) -> Any:
    """Call a sync or async function."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


# -- server side ------------------------------------------------------------------------------
class _CountingTransport:
    """Stands in for the socket transport handed to aiohttp and counts what it writes."""

    __slots__ = ("_conn", "_transport")

    def __init__(self, transport: asyncio.Transport, conn: _Connection):
        self._transport = transport
        self._conn = conn

    def write(self, data: Any) -> None:
        self._conn.bytes_out += len(data)
        self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        chunks = list(chunks)
        self._conn.bytes_out += sum(len(c) for c in chunks)
        self._transport.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Connection(asyncio.Protocol):
    """One accepted TCP connection: counts bytes in and out, then hands everything to aiohttp."""

    def __init__(self, server: HttpServer, inner: asyncio.Protocol):
        self.server = server
        self.inner = inner
        self.client: str | None = None
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.opened = server.lab.now()
        self.on_lost: list[Callable[[], None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.server._open.add(self)
        self.inner.connection_made(_CountingTransport(transport, self))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        try:
            self.inner.connection_lost(exc)
        finally:
            self.server._lost(self)
            callbacks, self.on_lost = self.on_lost, []
            for cb in callbacks:
                cb()


def connection_of(request: Any) -> _Connection | None:
    """The traced connection an aiohttp request arrived on (None once it is closed)."""
    transport = request.transport
    return transport._conn if isinstance(transport, _CountingTransport) else None


class HttpServer:
    """An aiohttp application on ``127.0.0.1`` and a free port, traced; an async context manager.

    Subclasses add their routes in :meth:`_add_routes` and end their long-running handlers
    in :meth:`_on_close`. ``url`` and ``port`` are set once it has started.
    """

    _shutdown_timeout = 5.0
    _scheme = "http"
    path = ""

    def __init__(self, where: str, name: str, lab: Lab | None):
        self._where = where
        self.lab = resolve(lab, where)
        self.name = _validate.name(where, "name", name)
        require_real_time(where, self.lab)
        self.url: str | None = None
        self.port: int | None = None
        self._runner: Any = None
        self._listener: asyncio.AbstractServer | None = None
        self._open: set[_Connection] = set()
        self.closing = False

    # -- for subclasses ---------------------------------------------------------------------
    def _add_routes(self, app: Any, web: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _on_close(self) -> None:
        """End every long-running handler (streams, held requests, sockets)."""

    def _check_running(self, where: str) -> None:
        if self._listener is None or self.closing:
            raise RuntimeError(
                f"{where}: the server {self.name!r} is not running; use 'async with' (or await .start())"
            )

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        return len(self._open)

    # -- life cycle -------------------------------------------------------------------------
    async def start(self) -> HttpServer:
        require_real_time(self._where, self.lab)
        if self._runner is not None:
            raise RuntimeError(f"{self._where}: the server {self.name!r} was already started")
        from aiohttp import web

        app = web.Application(middlewares=[self._middleware()])
        app.on_response_prepare.append(self._stamp)
        self._add_routes(app, web)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        self._runner = runner
        factory = runner.server
        loop = asyncio.get_running_loop()
        # What aiohttp's TCPSite does, with each connection wrapped to count its bytes.
        self._listener = await loop.create_server(lambda: _Connection(self, factory()), HOST, 0)
        self.port = self._listener.sockets[0].getsockname()[1]
        self.url = f"{self._scheme}://{HOST}:{self.port}{self.path}"
        self.lab.trace.record("listen", self.name, None, url=self.url)
        # Registered like workers: re-running the cell that started it replaces it, and
        # %pushpull stop (or the kernel shutting down) closes it.
        self.lab.register("http_server", self.name, self)
        return self

    @property
    def closed(self) -> bool:
        return self.closing

    def _close_now(self) -> None:
        """Close from synchronous code (the lab's registry): schedule :meth:`close` on the loop."""
        if self._runner is None or self.closing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop left (interpreter exit): the sockets die with the process
            return
        self._closing_task = loop.create_task(self.close(), name=f"close:{self.name}")

    async def close(self) -> None:
        """Stop accepting, end open streams and held requests, close every connection."""
        if self._runner is None or self.closing:
            return
        self.closing = True
        try:
            await self._on_close()
            self._listener.close()
            await self._runner.cleanup()
            await self._listener.wait_closed()
        finally:
            self.lab.unregister("http_server", self.name, self)
            self.lab.trace.record("closed", self.name, None, open=len(self._open))

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- tracing ----------------------------------------------------------------------------
    async def _stamp(self, request: Any, response: Any) -> None:
        response.headers[SERVER_HEADER] = self.name

    def _middleware(self):
        from aiohttp import web

        server = self
        record = self.lab.trace.record

        @web.middleware
        async def traced(request, handler):
            client = client_name(request)
            conn = connection_of(request)
            if conn is not None:
                conn.requests += 1
                if conn.client is None:
                    conn.client = client
                    record("connect", client, server.name, open=len(server._open))
            started = server.lab.now()
            status: int | str = 500  # an exception the handler did not turn into a response
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            except asyncio.CancelledError:
                status = "cancelled"
                raise
            finally:
                record(
                    "http",
                    client,
                    server.name,
                    method=request.method,
                    path=request.path,
                    status=status,
                    duration=server.lab.now() - started,
                )

        return traced

    def _lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        actor, peer = (conn.client, self.name) if conn.client is not None else (self.name, None)
        self.lab.trace.record(
            "disconnect",
            actor,
            peer,
            bytes_in=conn.bytes_in,
            bytes_out=conn.bytes_out,
            requests=conn.requests,
            duration=self.lab.now() - conn.opened,
            open=len(self._open),
        )

    def __repr__(self) -> str:
        state = "closed" if self.closing else (self.url or "not started")
        return f"{type(self).__name__}({self.name!r}, {state}, open_connections={len(self._open)})"


def client_name(request: Any) -> str:
    """The ``X-PPL-Client`` name a request carries (trimmed to 64 characters), else ``'anonymous'``."""
    name = (request.headers.get(CLIENT_HEADER) or "").strip()[:64]
    return name or "anonymous"


# -- client side ------------------------------------------------------------------------------
class HttpClient:
    """An aiohttp ``ClientSession`` that names itself to servers and learns their names."""

    def __init__(self, where: str, url: Any, name: str, lab: Lab | None):
        self._where = where
        self.lab = resolve(lab, where)
        self.name = _validate.name(where, "name", name)
        self.url = check_url(where, url)
        require_real_time(where, self.lab)
        from urllib.parse import urlsplit

        self.peer = urlsplit(url).netloc or url
        """The server's name once a response told it (``X-PPL-Server``), else ``host:port``."""
        self._session: Any = None

    def _open_session(self) -> Any:
        require_real_time(self._where, self.lab)
        if self._session is not None:
            raise RuntimeError(f"{self._where}: {self.name!r} is already open")
        import aiohttp

        trace = aiohttp.TraceConfig()

        async def on_request_end(session, context, params):
            name = params.response.headers.get(SERVER_HEADER)
            if name:
                self.peer = name

        trace.on_request_end.append(on_request_end)
        self._session = aiohttp.ClientSession(
            headers={CLIENT_HEADER: self.name}, trace_configs=[trace], connector=self._connector()
        )
        return self._session

    def _connector(self) -> Any:
        """The session's connector; None for aiohttp's default (a subclass may check destinations)."""
        return None

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
