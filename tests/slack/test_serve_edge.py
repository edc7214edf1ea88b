"""``mailflow serve``'s own HTTP edge (bot/http_edge.py) against slow clients, over real sockets
on 127.0.0.1: a head or body sent a byte at a time is cut off at its deadline, connections past
the cap push out the slowest (503 only when every connection is busy in a handler), and normal
requests keep working throughout.

The deadlines are set short (MAILFLOW_HTTP_HEAD_TIMEOUT and _BODY_TIMEOUT, 0.5 s) so the slow
clients below trickle for at most ``TRICKLE_S``; the assertion is that the server closed the
connection while the client was still sending, not how fast."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.http_edge import Edge, EdgeLimits, EdgeSite
from tests.fixtures.slack_api import SlackApi
from tests.slack.conftest import SECRET, TOKEN, signed_headers
from tests.store.redis_server import free_port

pytestmark = pytest.mark.timeout(60)
LOOPBACK = "127.0.0.1"
TRICKLE_S = 15.0  # a slow client gives up after this; the deadlines are 0.5 s
STEP_S = 0.1


@contextlib.asynccontextmanager
async def serving(slack_api: SlackApi, **limits: Any) -> AsyncIterator[int]:
    """``serve()`` exactly as ``mailflow serve`` runs it, in HTTP mode on a free loopback port."""
    from bot.cli.serve import serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    port = free_port()
    settings = load_settings(
        None,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack_api.base_url,
        port=port,
        **limits,
    )
    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, out, stop=stop))
    try:
        async with asyncio.timeout(20):
            while "HTTP mode" not in out.getvalue():
                assert not task.done(), task
                await asyncio.sleep(0.02)
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def healthy(port: int) -> bool:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.get(f"http://{LOOPBACK}:{port}/healthz") as response,
    ):
        return response.status == 200


async def signed_command(port: int, slack_api: SlackApi) -> int:
    fields = {"team_id": "T0TEST", "channel_id": "C1", "user_id": "U1", "command": "/mailflow", "text": "5.7.1"}
    form = urlencode(fields | {"response_url": slack_api.response_url("edge"), "trigger_id": "t-edge"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(form)}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.post(f"http://{LOOPBACK}:{port}/slack/events", data=form, headers=headers) as response,
    ):
        return response.status


async def trickle(port: int, head: bytes, drip: bytes) -> tuple[bool, bytes, float]:
    """Send ``head``, then ``drip`` every STEP_S until the server closes or TRICKLE_S pass.

    Returns (closed by the server, what it answered, seconds the client kept sending)."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    started = time.monotonic()
    answer = b""
    closed = False
    try:
        writer.write(head)
        while time.monotonic() - started < TRICKLE_S:
            try:
                chunk = await asyncio.wait_for(reader.read(4096), STEP_S)
            except TimeoutError:
                writer.write(drip)
                try:
                    await writer.drain()
                except ConnectionError:
                    closed = True
                    break
                continue
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            answer += chunk
        return closed, answer, time.monotonic() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


SLOW_CLIENTS = {
    "header lines one at a time": (b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n", b"X-Pad: y\r\n"),
    "a header a byte at a time": (b"GET /healthz HTTP/1.1\r\nHost: b", b"o"),
    "nothing after connecting": (b"", b""),
    "a body a byte at a time": (
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
        b"[",
    ),
}


@pytest.mark.parametrize("client", list(SLOW_CLIENTS))
async def test_a_slow_client_is_cut_off_and_others_are_still_served(slack_api: SlackApi, client: str) -> None:
    head, drip = SLOW_CLIENTS[client]
    async with serving(slack_api, http_head_timeout="500ms", http_body_timeout="500ms") as port:
        slow = asyncio.create_task(trickle(port, head, drip))
        assert await healthy(port)  # served while the slow client holds its connection
        closed, answer, sent_for = await slow
        assert closed, f"still open after {sent_for:.1f} s of trickling"
        assert sent_for < TRICKLE_S
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert await healthy(port)
        assert await signed_command(port, slack_api) == 200


async def test_past_the_cap_the_slowest_connection_makes_room(slack_api: SlackApi) -> None:
    """Four idle connections fill a cap of four: a newcomer pushes out the one that has waited
    longest for its request head, so normal requests are served at once, not after the deadline."""
    cap = 4
    async with serving(slack_api, http_head_timeout="30s", http_max_connections=cap) as port:
        idle = [await asyncio.open_connection(LOOPBACK, port) for _ in range(cap)]
        await asyncio.sleep(0.2)  # the server has accepted all four
        assert await healthy(port)
        assert await signed_command(port, slack_api) == 200
        assert await healthy(port)
        closed = []
        for reader, writer in idle:  # the first newcomer pushed out the oldest; then there was room
            try:
                closed.append(await asyncio.wait_for(reader.read(), 0.5) == b"")
            except ConnectionError:
                closed.append(True)
            except TimeoutError:
                closed.append(False)
            writer.close()
        assert closed == [True, False, False, False]


async def test_when_every_connection_is_busy_a_newcomer_gets_503() -> None:
    """The edge alone, on a handler that holds its requests: nothing to push out, so 503."""
    release = asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="done")

    edge = Edge(EdgeLimits(head_timeout_s=5, body_timeout_s=5, max_connections=2))
    app = web.Application(middlewares=[edge.middleware])
    app.router.add_get("/hold", hold)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = EdgeSite(runner, LOOPBACK, 0, edge=edge)
    await site.start()
    try:
        url = f"http://{LOOPBACK}:{site.port}/hold"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            held = [asyncio.create_task(session.get(url)) for _ in range(2)]
            while edge.open_connections < 2 or any(w.waiting_since is not None for w in edge.watched.values()):
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection(LOOPBACK, site.port)
            writer.write(b"GET /hold HTTP/1.1\r\nHost: bot\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert edge.busy.total == 1
            release.set()
            for response in await asyncio.gather(*held):
                assert response.status == 200
                response.release()
    finally:
        await runner.cleanup()


async def test_a_kept_alive_connection_serves_requests_until_it_idles_past_the_deadline(slack_api: SlackApi) -> None:
    async with serving(slack_api, http_head_timeout="500ms") as port:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        for _ in range(3):  # three requests on one connection, each well within the deadline
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 10)
            assert status.startswith(b"HTTP/1.1 200"), status
            await asyncio.wait_for(reader.readuntil(b'{"alive": true}'), 10)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then idle: closed
        writer.close()
