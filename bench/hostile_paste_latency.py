"""Acks and /healthz while a hostile paste is being read: in the parse pool, against on the event loop.

The paste is the one that froze the bot (colons after ``[LastAttemptedIP=``), read by
``tests/slack/backtracking.parse_with_backtracking``: the real parser plus the pattern that
backtracked, standing in for the next such bug (the real parser reads the paste in 2 ms). Two
modes of the same bolt app (``build_app`` + ``build_web_app`` with the /healthz route), each in
a process of its own, the Slack Web API stand-in in a third, this client in a fourth:

- ``pool``: what the bot does now, the paste read in a worker process (deadline ``--deadline``);
- ``inline``: what it did before, the parser called on the event loop.

The client sends the paste as a signed message event, then for ``--seconds`` sends a signed
``/mailflow help`` and a ``GET /healthz`` every 50 ms, and reports p50, p99 and max of each.

    .venv/bin/python bench/hostile_paste_latency.py [--size 12000] [--seconds 3] [--deadline 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.ack_latency import LOOPBACK, SECRET, TOKEN, SleepyService, _serve, run_standin


class InlineParser:
    """The parser on the event loop, as the handlers called it before the parse pool."""

    def __init__(self, parse: Any) -> None:
        self._parse = parse
        self.timeout_s = float("inf")

    async def start(self) -> None:
        return None

    async def parse(self, data: bytes | str) -> Any:
        return self._parse(data)

    async def close(self) -> None:
        return None


def run_app(api_url: str, mode: str, deadline: float, ports: Any) -> None:
    from bot.observability import routes  # noqa: PLC0415
    from bot.parse_pool import ParsePool  # noqa: PLC0415
    from bot.store import Limit, MemoryStore  # noqa: PLC0415
    from handlers import SlackConfig, build_app, build_web_app  # noqa: PLC0415
    from tests.slack.backtracking import parse_with_backtracking  # noqa: PLC0415

    async def main() -> None:
        store = MemoryStore()
        unlimited = Limit(10**9, 60.0)
        config = SlackConfig(TOKEN, SECRET, api_url, per_user=unlimited, per_channel=unlimited)
        parser: Any = (
            ParsePool(2, deadline, parse=parse_with_backtracking)
            if mode == "pool"
            else InlineParser(parse_with_backtracking)
        )
        app = build_app(config, store, SleepyService(0.1), parser=parser)
        await app.identity.load()
        ports.put(await _serve(build_web_app(app, routes(store=store))))
        await asyncio.Event().wait()

    asyncio.run(main())


def signed(body: str, content_type: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body),
    }


def paste_event(text: str) -> str:
    event = {"type": "message", "channel": "C1", "user": "U1", "text": text, "ts": f"{time.time():.6f}"}
    return json.dumps(
        {"team_id": "T1", "api_app_id": "A1", "event": event, "type": "event_callback", "event_id": "Ev1"}
    )


def command(n: int, api_url: str) -> str:
    return urlencode(
        {
            "team_id": "T1",
            "channel_id": f"C{n}",
            "user_id": "U1",
            "command": "/mailflow",
            "text": "help",
            "response_url": f"{api_url.rstrip('/').removesuffix('/api')}/response/r{n}",
            "trigger_id": f"t{n}",
        }
    )


async def timed(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> float:
    started = time.perf_counter()
    async with session.request(method, url, **kw) as response:
        await response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def measure(port: int, api_url: str, size: int, seconds: float) -> dict[str, Any]:
    base = f"http://{LOOPBACK}:{port}"
    hostile = "450 4.4.316 Connection refused [LastAttemptedIP=" + ":" * (size - 48)
    acks: list[float] = []
    health: list[float] = []
    async with aiohttp.ClientSession() as session:
        body = paste_event(hostile)
        await timed(session, "POST", f"{base}/slack/events", data=body, headers=signed(body, "application/json"))
        await asyncio.sleep(0.2)  # the paste is being read now
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            n += 1
            form = command(n, api_url)
            headers = signed(form, "application/x-www-form-urlencoded")
            ack, probe = await asyncio.gather(
                timed(session, "POST", f"{base}/slack/events", data=form, headers=headers),
                timed(session, "GET", f"{base}/healthz"),
            )
            acks.append(ack)
            health.append(probe)
            await asyncio.sleep(0.05)
    return {"ack": figures(acks), "healthz": figures(health)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=12_000, help="characters in the paste")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long acks and /healthz are measured")
    parser.add_argument("--deadline", type=float, default=5.0, help="the pool's parse deadline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    standin = context.Process(target=run_standin, args=(queue,), daemon=True)
    standin.start()
    api_url = queue.get(timeout=30)
    report: dict[str, Any] = {"size": args.size, "seconds": args.seconds}
    try:
        for mode in ("pool", "inline"):
            # not a daemon: the parse pool starts processes of its own (killed with it below)
            app = context.Process(target=run_app, args=(api_url, mode, args.deadline, queue))
            app.start()
            try:
                port = queue.get(timeout=60)
                report[mode] = asyncio.run(measure(port, api_url, args.size, args.seconds))
            finally:
                app.kill()
                app.join()
    finally:
        standin.kill()
        standin.join()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"a {args.size:,}-character hostile paste, then /mailflow help and /healthz every 50 ms, {args.seconds:g} s")
    for mode in ("pool", "inline"):
        for what in ("ack", "healthz"):
            fig = report[mode][what]
            print(
                f"  {mode:<6} {what:<8} n={fig['n']:<4} p50 {fig['p50_ms']:>8.1f} ms   "
                f"p99 {fig['p99_ms']:>8.1f} ms   max {fig['max_ms']:>8.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
