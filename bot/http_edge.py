"""The HTTP edge of ``mailflow serve``: read deadlines and a cap on open connections.

The bot may run without a proxy in front, so slow clients are its own problem. aiohttp waits
for a request head as long as the client keeps sending, and keeps idle connections for an
hour: 400 clients sending one header line every 5 s would hold 400 connections forever.

    EdgeLimits(head_timeout_s, body_timeout_s, max_connections)
    edge = Edge(limits)
    web_app.middlewares.append(edge.middleware)     # marks each head done, reads the body in time
    site = EdgeSite(runner, host, port, edge=edge)  # a TCPSite whose connections edge watches

Strategy: each connection's protocol (aiohttp's own) is wrapped in ``_Watched``, which closes
the connection when no complete request head arrived within ``head_timeout_s``: counted from
the connection's start, and again from the end of each response (so an idle kept-alive
connection is closed after as long). The middleware runs once aiohttp has parsed a head: it
stops that clock, then reads the whole body within ``body_timeout_s`` (else 408 and close;
handlers read the cached body). At ``max_connections`` open connections, a new one pushes out
the connection that has waited longest for its head or body (the slowest client: a normal one
sends its request within milliseconds), so slow clients cannot hold every slot until their
deadline. Fairness per client: the connection pushed out is one of the client address that
holds the most open connections (an IPv6 client counts by its /64), so a flood from one
address churns its own connections and not those of other clients. Only when every
connection is inside a handler does a new one get a bare 503 and is closed before aiohttp
sees it. Each kind of refusal is logged at info, at most one line per ``LOG_EVERY_S`` with
the count since the last.

A request aiohttp cannot parse (a header line over 8 KiB, too many headers, a bad chunk size,
Content-Length and Transfer-Encoding together) gets aiohttp's 400; aiohttp would also log it
with a traceback at error level, which anyone could repeat at will. Give the runner
``edge.server_log`` (``web.AppRunner(app, logger=edge.server_log)``): such a refusal becomes a
count in the same kind of info line, and every other error stays as aiohttp logs it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("mailflow.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG_EVERY_S = 10.0
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    head_timeout_s: float = 10.0  # a request head, from the connection's start or the last response
    body_timeout_s: float = 10.0  # the body, once the head is in
    max_connections: int = 256  # open at once; more get 503


class _Tally:
    """Counts of one kind of refusal, logged at most once per ``LOG_EVERY_S``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.total = 0
        self._unlogged = 0
        self._logged_at = float("-inf")

    def add(self, detail: str = "") -> None:
        self.total += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            log.info("%s%s (%d since the last such line)", self.what, detail, self._unlogged)
            self._unlogged, self._logged_at = 0, now


class Edge:
    """The connections of one server and their deadlines; shared by ``EdgeSite`` and ``middleware``."""

    def __init__(self, limits: EdgeLimits | None = None) -> None:
        self.limits = limits or EdgeLimits()
        self.watched: dict[asyncio.BaseTransport, _Watched] = {}
        self.per_client: Counter[str] = Counter()  # open connections per client_key()
        self.slow_heads = _Tally(
            f"closed a connection with no complete request head within {self.limits.head_timeout_s:g} s"
        )
        self.slow_bodies = _Tally(f"closed a connection whose request body took over {self.limits.body_timeout_s:g} s")
        self.busy = _Tally(f"refused a connection: {self.limits.max_connections} are open and busy (HTTP 503)")
        self.pushed_out = _Tally(f"closed the slowest connection to make room: {self.limits.max_connections} were open")
        self.malformed = _Tally("refused a request that is no valid HTTP/1.1 (HTTP 400)")
        self.server_log = server_log(self.malformed)

    @property
    def open_connections(self) -> int:
        return len(self.watched)

    def add(self, watched: _Watched) -> None:
        assert watched.transport is not None
        self.watched[watched.transport] = watched
        self.per_client[watched.client] += 1

    def remove(self, watched: _Watched) -> None:
        if watched.transport is not None and self.watched.pop(watched.transport, None) is not None:
            self.per_client[watched.client] -= 1
            if self.per_client[watched.client] <= 0:
                del self.per_client[watched.client]

    def make_room(self) -> bool:
        """Push out one waiting connection of the client holding the most; False when all are busy."""
        waiting = [w for w in self.watched.values() if w.waiting_since is not None]
        if not waiting:
            return False
        max(waiting, key=lambda w: (self.per_client[w.client], -(w.waiting_since or 0.0))).push_out()
        return True

    def protocol_factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Watched(self, inner)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        watched = self.watched.get(request.transport) if request.transport is not None else None
        if watched is not None:
            watched.head_done()
        try:
            if request.body_exists:
                try:
                    async with asyncio.timeout(self.limits.body_timeout_s):
                        await request.read()  # cached: handlers read it again for free
                except TimeoutError:
                    self.slow_bodies.add()
                    raise web.HTTPRequestTimeout(headers={"Connection": "close"}) from None
            if watched is not None:
                watched.waiting_since = None  # in a handler now: not pushed out for a newcomer
            return await handler(request)
        finally:
            if watched is not None:
                watched.await_head()


def server_log(malformed: _Tally | None = None) -> logging.Logger:
    """A logger for aiohttp's server (``web.AppRunner(app, logger=...)``) that counts requests it
    could not parse in ``malformed`` instead of logging each with a traceback. It is a logger of
    its own (not in logging's registry, so not shared between servers) whose records go on to
    mailflow.http's handlers."""
    logger = logging.Logger("mailflow.http.server")
    logger.parent = log
    logger.addFilter(_MalformedRequests(malformed or _Tally("refused a request that is no valid HTTP/1.1 (HTTP 400)")))
    return logger


class _MalformedRequests(logging.Filter):
    """Turns aiohttp's traceback for a request it could not parse into a count in ``tally``."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.tally.add(f": {type(exc).__name__}")
            return False
        return True


class _Watched(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed when its request head is too slow."""

    def __init__(self, edge: Edge, inner: Callable[[], asyncio.Protocol]) -> None:
        self.edge = edge
        self.make_inner = inner
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.waiting_since: float | None = None  # for its head or body; None inside a handler
        self.client = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.client = client_key(transport.get_extra_info("peername"))
        self.waiting_since = time.monotonic()
        if len(self.edge.watched) >= self.edge.limits.max_connections:
            self.edge.per_client[self.client] += 1  # the newcomer counts: a flood pushes out its own
            try:
                room = self.edge.make_room()
            finally:
                self.edge.per_client[self.client] -= 1
                if self.edge.per_client[self.client] <= 0:
                    del self.edge.per_client[self.client]
            if not room:
                self.edge.busy.add()
                transport.write(_BUSY)
                transport.close()
                return
        self.edge.add(self)
        self.inner = self.make_inner()
        self.inner.connection_made(transport)
        self.await_head()

    def push_out(self) -> None:
        """Close this connection now to make room for a new one."""
        self.head_done()
        if self.transport is not None:
            self.edge.remove(self)
            self.edge.pushed_out.add()
            self.transport.abort()

    def await_head(self) -> None:
        self.head_done()
        self.waiting_since = time.monotonic()
        if self.transport is not None and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self.deadline = loop.call_later(self.edge.limits.head_timeout_s, self._too_slow)

    def head_done(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_slow(self) -> None:
        self.deadline = None
        if self.transport is not None and not self.transport.is_closing():
            self.edge.slow_heads.add()
            self.transport.abort()  # no lingering: the client gets nothing more

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.head_done()
        self.edge.remove(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)


def client_key(peer: object) -> str:
    """The client a connection counts against: its IPv4 address, or its IPv6 /64 (one site's prefix)."""
    host = peer[0] if isinstance(peer, tuple) and peer and isinstance(peer[0], str) else ""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class EdgeSite(web.TCPSite):
    """``web.TCPSite`` whose connections ``edge`` watches."""

    def __init__(self, runner: web.BaseRunner, host: str | None, port: int | None, *, edge: Edge) -> None:
        super().__init__(runner, host, port)
        self.edge = edge

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.edge.protocol_factory(server),
            self._host,
            self._port,
            # a burst of up to the cap waits in the kernel's queue rather than retrying its SYN a second later
            backlog=max(self._backlog, self.edge.limits.max_connections),
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]
