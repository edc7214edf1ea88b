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
import logging
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


async def test_past_the_cap_a_flood_from_one_address_pushes_out_its_own_connections(slack_api: SlackApi) -> None:
    """Fairness per client address: a client on 127.0.0.1 that started its request first (the
    oldest waiting connection) keeps its connection while 127.0.0.2 opens ten times the cap;
    the flood churns its own connections, and the first client's request is then served."""
    cap = 4
    async with serving(slack_api, http_head_timeout="30s", http_max_connections=cap) as port:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        flood = [await asyncio.open_connection(LOOPBACK, port, local_addr=("127.0.0.2", 0)) for _ in range(10 * cap)]
        await asyncio.sleep(0.2)
        writer.write(b"Connection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
        writer.close()
        still_open = 0
        for flood_reader, flood_writer in flood:
            try:
                still_open += await asyncio.wait_for(flood_reader.read(), 0.05) != b""
            except ConnectionError:
                pass
            except TimeoutError:
                still_open += 1
            flood_writer.close()
        assert still_open == cap - 1  # the newest of the flood; the rest were pushed out in turn


def test_an_ipv6_client_counts_by_its_64() -> None:
    from bot.http_edge import client_key  # noqa: PLC0415

    assert client_key(("2001:db8:1:2::5", 1, 0, 0)) == client_key(("2001:db8:1:2:ffff::9", 2, 0, 0))
    assert client_key(("2001:db8:1:2::5", 1, 0, 0)) != client_key(("2001:db8:1:3::5", 1, 0, 0))
    assert client_key(("::ffff:192.0.2.1", 1, 0, 0)) == client_key(("192.0.2.1", 1)) == "192.0.2.1"
    assert client_key(None) == ""


# -- requests that are no valid HTTP/1.1: aiohttp's 400, one info line, no traceback -----------

_HEAD = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n"
MALFORMED = {
    "a header line over 8 KiB": b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n",
    "a request line over 8 KiB": b"GET /healthz?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: b\r\n\r\n",
    "5,000 headers": b"GET /healthz HTTP/1.1\r\nHost: b\r\n"
    + b"".join(b"X-%d: y\r\n" % i for i in range(5000))
    + b"\r\n",
    "a chunk size of 2**80": _HEAD + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\nabc",
    "a chunk size of 100 hex digits": _HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 100 + b"\r\n",
    "Content-Length with Transfer-Encoding": _HEAD
    + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two different Content-Lengths": _HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    "a negative Content-Length": _HEAD + b"Content-Length: -5\r\n\r\n",
    "a Content-Length with a sign": _HEAD + b"Content-Length: +5\r\n\r\nabcde",
    "a folded header line": b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-A: a\r\n b\r\n\r\n",
    "a NUL in a header": b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-A: a\x00b\r\n\r\n",
    "bare LF line ends": b"GET /healthz HTTP/1.1\nHost: b\n\n",
}


async def exchange(port: int, data: bytes, wait_s: float = 5.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it (or ``wait_s``)."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    answer = b""
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait_s):
            while chunk := await reader.read(65536):
                answer += chunk
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    return answer


async def test_malformed_requests_get_400_and_one_info_line_without_traceback(
    slack_api: SlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    # bolt sets the "mailflow" logger's level when an app is built: listen there too
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="mailflow"):
        async with serving(slack_api, http_head_timeout="2s") as port:
            answers = {name: await exchange(port, data) for name, data in MALFORMED.items()}
            assert await healthy(port)
    assert {name: a.split(b"\r\n", 1)[0] for name, a in answers.items()} == dict.fromkeys(
        MALFORMED, b"HTTP/1.0 400 Bad Request"
    )
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    said = [r.getMessage() for r in caplog.records if "no valid HTTP/1.1" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith("(1 since the last such line)"), said  # then counted


async def test_bodies_over_the_limit_pipelining_and_framing(slack_api: SlackApi) -> None:
    """Over 2 MiB by Content-Length or in chunks: 413. Three pipelined requests: three answers
    in order. A body shorter than its Content-Length says leaves the rest to be read as the
    next request (no desync: the signed-request check sees only the declared bytes)."""
    async with serving(slack_api, http_head_timeout="1s", http_body_timeout="1s") as port:
        oversize = await exchange(port, _HEAD + b"Content-Length: 3000000\r\n\r\n" + b"a" * 3_000_000)
        chunks = (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 3 + b"0\r\n\r\n"
        chunked = await exchange(port, _HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
        get = b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n"
        pipelined = await exchange(port, get + get + get.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        short = _HEAD + b"Content-Length: 2\r\n\r\n{}" + get.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        smuggled = await exchange(port, short)
    assert oversize.startswith(b"HTTP/1.1 413")
    assert chunked.startswith(b"HTTP/1.1 413")
    assert pipelined.count(b"HTTP/1.1 200 OK") == 3
    assert smuggled.startswith(b"HTTP/1.1 401") and smuggled.count(b"HTTP/1.1 200 OK") == 1


async def test_an_http_10_keep_alive_connection_is_closed_at_the_head_deadline(slack_api: SlackApi) -> None:
    async with serving(slack_api, http_head_timeout="500ms") as port:
        started = time.monotonic()
        answer = await exchange(port, b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", wait_s=TRICKLE_S)
        held = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.0 200"), answer[:80]
    assert b"connection: keep-alive" in answer.lower()  # kept open after the answer ...
    assert held < TRICKLE_S  # ... then closed by the server, not by the client giving up
