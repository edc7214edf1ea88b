"""Loopback stand-ins for the scale tests: an SMTP peer whose health is switched at will, and a
local Slack Web API that records ``chat.postMessage`` calls.

``switching_peer()`` listens on 127.0.0.1 (and more loopback addresses if asked) and one port
for the whole test; ``peer.mode`` picks
what the next connection gets: ``"ok"`` (greeting, EHLO, QUIT: a healthy path, so the verdict
is healthy) or ``"421"`` (a 421 greeting: 4.4.317). Changing the mode between ticks is an
incident starting or ending, with no port reuse race.

``slack_api()`` serves ``POST /api/chat.postMessage`` (form or JSON body, as slack_sdk sends)
and answers ``{"ok": true, "ts": ...}``; ``posts`` holds what it received, ``fail_next`` makes
the next calls answer with a Slack error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fixtures.smtp_peers import HOST, LOOPBACK


@dataclass
class SwitchingPeer:
    port: int = 0
    mode: str = "ok"
    connections: int = 0


async def _healthy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(f"220 {HOST} ESMTP ready\r\n".encode())
    await writer.drain()
    while line := await reader.readline():
        verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            writer.write(f"250-{HOST} hello\r\n250 SIZE 10240000\r\n".encode())
        elif verb == "QUIT":
            writer.write(b"221 2.0.0 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"502 5.5.2 not here\r\n")
        await writer.drain()


async def _greet_421(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(f"421 4.3.2 {HOST} Service not available, closing transmission channel\r\n".encode())
    await writer.drain()


@contextlib.asynccontextmanager
async def switching_peer(hosts: tuple[str, ...] = (LOOPBACK,)) -> AsyncIterator[SwitchingPeer]:
    """The peer on each loopback address in ``hosts``, all on one port (the probes' SMTP port)."""
    peer = SwitchingPeer()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await (_greet_421 if peer.mode == "421" else _healthy)(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
            tasks.discard(task)

    servers = [await asyncio.start_server(handle, hosts[0], 0)]
    peer.port = servers[0].sockets[0].getsockname()[1]
    try:
        for host in hosts[1:]:
            servers.append(await asyncio.start_server(handle, host, peer.port))
        yield peer
    finally:
        for server in servers:
            server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()


@dataclass
class SlackApi:
    base_url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)  # Slack error codes to answer with, in order
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def texts(self, channel: str) -> list[str]:
        return [str(p["text"]) for p in self.posts if p.get("channel") == channel]


@contextlib.asynccontextmanager
async def slack_api() -> AsyncIterator[SlackApi]:
    api = SlackApi()

    async def post_message(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body: dict[str, Any] = await request.json()
        else:
            body = dict(await request.post())
        if request.headers.get("Authorization", "") != "Bearer xoxb-test-token":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if api.fail_next:
            return web.json_response({"ok": False, "error": api.fail_next.pop(0)})
        api.posts.append(body)
        api.arrived.set()
        return web.json_response({"ok": True, "channel": body.get("channel"), "ts": f"{len(api.posts)}.000100"})

    async def other(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"})

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", post_message)
    app.router.add_route("*", "/api/{method}", other)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, LOOPBACK, 0).start()
        api.base_url = f"http://{LOOPBACK}:{runner.addresses[0][1]}/api/"
        yield api
    finally:
        await runner.cleanup()
