"""Slow clients against ``mailflow serve``'s HTTP edge (bot/http_edge.py), all on 127.0.0.1.

The attack from issue 10: ``--clients`` connections that each send one header line every
``--drip`` seconds and never finish their request head. The bot runs exactly as ``mailflow
serve`` does (``serve()`` in HTTP mode, against the Slack Web API stand-in) with the given
``--head-timeout`` and ``--max-connections``. While the attack runs, a normal client asks
``/healthz`` every 0.2 s. Reported: how many slow connections got 503, how many the bot closed
(pushed out to make room past the cap, or cut at the head deadline) and after how long, how
many were still open when the driver gave up (``--seconds``), and /healthz under attack.

Fairness per client address: ``--flood-from 127.0.0.2`` sends the slow clients from another
loopback address, ``--reconnect`` makes each one connect again as soon as it is cut (a flood
of fresh connections), and ``--honest-pause 0.5`` makes the /healthz client slow but honest:
it sends half its request head, waits that long, then the rest.

    python bench/slow_clients.py [--clients 400] [--drip 5] [--head-timeout 10] [--max-connections 256] [--seconds 30]
        [--flood-from 127.0.0.1] [--reconnect] [--honest-pause 0]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bot.cli.serve import serve
from bot.settings import load_settings
from tests.fixtures.slack_api import SlackApi
from tests.store.redis_server import free_port

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"


async def slow_client(port: int, drip: float, give_up_at: float, source: str) -> tuple[str, float]:
    """("503" | "cut" | "open", seconds the connection lived)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    outcome = "open"
    try:
        while time.monotonic() < give_up_at:
            try:
                data = await asyncio.wait_for(reader.read(1024), drip)
            except TimeoutError:
                writer.write(b"X-Pad: y\r\n")
                try:
                    await writer.drain()
                except ConnectionError:
                    outcome = "cut"
                    break
                continue
            except ConnectionError:
                outcome = "cut"
                break
            outcome = "503" if data.startswith(b"HTTP/1.1 503") else "cut"
            break
    finally:
        writer.close()
    return outcome, time.monotonic() - started


async def flood_client(
    port: int, drip: float, give_up_at: float, source: str, reconnect: bool
) -> list[tuple[str, float]]:
    """One slow client; with ``reconnect``, connecting again each time it is cut, until the end."""
    outcomes = [await slow_client(port, drip, give_up_at, source)]
    while reconnect and time.monotonic() < give_up_at:
        try:
            outcomes.append(await slow_client(port, drip, give_up_at, source))
        except OSError:
            await asyncio.sleep(0.05)
    return outcomes


async def honest_healthz(port: int, pause: float) -> bool:
    """/healthz from 127.0.0.1, its head sent in two halves ``pause`` seconds apart."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n")
        await asyncio.sleep(pause)
        writer.write(b"Connection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        return answer.startswith(b"HTTP/1.1 200")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def main(args: argparse.Namespace) -> dict[str, object]:
    api = SlackApi(token=TOKEN)
    await api.start()
    port = free_port()
    settings = load_settings(
        None,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api.base_url,
        port=port,
        http_head_timeout=args.head_timeout,
        http_max_connections=args.max_connections,
        log_level="WARNING",
    )
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(serve(settings, out, stop=stop))
    while "HTTP mode" not in out.getvalue():
        await asyncio.sleep(0.05)
    give_up_at = time.monotonic() + args.seconds
    clients = [
        asyncio.create_task(flood_client(port, args.drip, give_up_at, args.flood_from, args.reconnect))
        for _ in range(args.clients)
    ]
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        while not all(c.done() for c in clients) and time.monotonic() < give_up_at + 1:
            started = time.monotonic()
            if args.honest_pause > 0:
                ok = await honest_healthz(port, args.honest_pause)
            else:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
            if ok:
                latencies.append(time.monotonic() - started)
            else:
                failures += 1
            await asyncio.sleep(0.2)
    results = [outcome for each in await asyncio.gather(*clients) for outcome in each]
    stop.set()
    await task
    await api.close()
    cut = [t for outcome, t in results if outcome == "cut"]
    return {
        "clients": args.clients,
        "connections": len(results),
        "refused_503": sum(1 for outcome, _ in results if outcome == "503"),
        "closed_by_the_bot": len(cut),
        "closed_after_s_min_max": [round(min(cut), 2), round(max(cut), 2)] if cut else None,
        "still_open_at_end": sum(1 for outcome, _ in results if outcome == "open"),
        "healthz_ok": len(latencies),
        "healthz_failed": failures,
        "healthz_ms_p50_max": [round(statistics.median(latencies) * 1000, 1), round(max(latencies) * 1000, 1)]
        if latencies
        else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--drip", type=float, default=5.0)
    parser.add_argument("--head-timeout", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--flood-from", default="127.0.0.1", help="the slow clients' source address (loopback)")
    parser.add_argument("--reconnect", action="store_true", help="each slow client connects again once cut")
    parser.add_argument("--honest-pause", type=float, default=0.0, help="/healthz sent in two halves this far apart")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
