"""Slash-command ack latency: mailflow's bolt app against a bare bolt app that only acks, same run.

Three processes, all on 127.0.0.1: the Slack Web API stand-in (tests/fixtures/slack_api.py), a
server process with both apps (each on its own port, each a bolt ``AsyncApp`` behind aiohttp,
signature checking on), and this process sending signed ``/mailflow`` commands, ``--concurrency``
(50) at a time. The clock runs from sending the request to reading the HTTP response (the ack).
With two CPUs or more, the server process has one to itself (the client and the stand-in share
another), so the two apps are measured on the same, undisturbed CPU.

mailflow gets a realistic mix: ``4.4.316`` (explain a code), ``explain <queue error>``,
``diagnose <domain>`` (a stand-in service whose probes take ``--probe-delay`` seconds, so probes
are in flight while acks are measured), ``help``; its answers go to the stand-in as they would to
Slack. The bare app gets the same requests. The two are measured in alternating rounds (each
going first every other round, with a pause for the answers to finish) so drift hits both; the
p50 and p99 of each and the ratio mailflow / bare are printed (aim: within 1.5x).

    python bench/ack_latency.py [--commands 500] [--concurrency 50] [--rounds 5] [--probe-delay 1.0] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
LOOPBACK = "127.0.0.1"
QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)
MIX = ["4.4.316", f"explain {QUEUE_ERROR}", "diagnose contoso.test", "help"]


# --- server processes -----------------------------------------------------------------------------


def pin(cpu: int) -> None:
    """Keep this process on one CPU (when there are two or more): the apps never share theirs."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def run_standin(ports: Any) -> None:
    from tests.fixtures.slack_api import SlackApi  # noqa: PLC0415

    pin(0)

    async def main() -> None:
        api = SlackApi(token=TOKEN)
        await api.start()
        ports.put(api.base_url)
        await asyncio.Event().wait()

    asyncio.run(main())


class SleepyService:
    """Probes that take ``delay_s`` and find the path healthy: the ack must not wait for them."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def diagnose(self, request: Any, *, fresh: bool = False, on_result: Any = None, language: str = "en") -> Any:
        from bot.diagnose import conclude  # noqa: PLC0415
        from bot.probes.result import ProbeResult  # noqa: PLC0415
        from bot.service import Answer  # noqa: PLC0415

        result = ProbeResult("tcp", "127.0.0.1:25", True, "accepted", facts={"address": "127.0.0.1"})
        await asyncio.sleep(self.delay_s / 2)
        if on_result:
            on_result(result)
        await asyncio.sleep(self.delay_s / 2)
        return Answer(conclude(request, [result], elapsed_ms=self.delay_s * 1000, language=language), 0.0, False)

    async def history(self, domain: str, n: int = 5) -> list[Any]:
        return []


async def _serve(app: web.Application) -> int:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0, backlog=1024)
    await site.start()
    return int(runner.addresses[0][1])


def run_apps(api_url: str, probe_delay: float, ports: Any) -> None:
    from bot.store import Limit, MemoryStore  # noqa: PLC0415
    from handlers import SlackConfig, build_app, build_web_app  # noqa: PLC0415

    pin(1)

    async def main() -> None:
        bare = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET)

        @bare.command("/mailflow")
        async def only_ack(ack: Any) -> None:
            await ack()

        bare_port = await _serve(bare.server(port=0, path="/slack/events").web_app)
        store = MemoryStore()
        unlimited = Limit(10**9, 60.0)
        config = SlackConfig(TOKEN, SECRET, api_url, per_user=unlimited, per_channel=unlimited)
        mailflow = build_app(config, store, SleepyService(probe_delay))
        await mailflow.identity.load()  # as mailflow serve does at start-up
        mailflow_port = await _serve(build_web_app(mailflow))
        ports.put((bare_port, mailflow_port))
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the client -----------------------------------------------------------------------------------


def signed(body: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body),
    }


async def one(session: aiohttp.ClientSession, url: str, api_url: str, n: int, limit: asyncio.Semaphore) -> float:
    body = urlencode(
        {
            "team_id": "T0BENCH",
            "channel_id": f"C{n % 20}",
            "user_id": f"U{n % 50}",
            "command": "/mailflow",
            "text": MIX[n % len(MIX)],
            "response_url": api_url.replace("/api/", f"/response/r{n}"),
            "trigger_id": f"bench-{time.time_ns()}-{n}",
        }
    )
    headers = signed(body)
    async with limit:
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"{url} answered HTTP {response.status}")
    return elapsed


async def phase(url: str, api_url: str, count: int, concurrency: int) -> list[float]:
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        return list(await asyncio.gather(*(one(session, url, api_url, n, limit) for n in range(count))))


def figures(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(cuts[98], 2), "n": len(samples)}


async def measure(args: argparse.Namespace, api_url: str, ports: tuple[int, int]) -> dict[str, Any]:
    urls = {
        name: f"http://{LOOPBACK}:{port}/slack/events" for name, port in zip(("bare", "mailflow"), ports, strict=True)
    }
    for url in urls.values():  # warm-up: bolt's first request calls auth.test
        await phase(url, api_url, 50, 10)
    await asyncio.sleep(args.probe_delay + 0.5)
    samples: dict[str, list[float]] = {"bare": [], "mailflow": []}
    per_round = max(1, args.commands // args.rounds)
    for n in range(args.rounds):
        order = list(urls.items()) if n % 2 == 0 else list(reversed(urls.items()))  # no order bias
        for name, url in order:
            samples[name] += await phase(url, api_url, per_round, args.concurrency)
            await asyncio.sleep(args.probe_delay + 2.5)  # the round's answers finish (acks first: <= 1 s later)
    bare, mailflow = figures(samples["bare"]), figures(samples["mailflow"])
    return {
        "commands": per_round * args.rounds,
        "concurrency": args.concurrency,
        "bare_bolt": bare,
        "mailflow": mailflow,
        "ratio_p50": round(mailflow["p50_ms"] / bare["p50_ms"], 2),
        "ratio_p99": round(mailflow["p99_ms"] / bare["p99_ms"], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--probe-delay", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pin(0)  # the client shares a CPU with the stand-in; the apps have the other one
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    standin = context.Process(target=run_standin, args=(queue,), daemon=True)
    standin.start()
    api_url = queue.get(timeout=30)
    apps = context.Process(target=run_apps, args=(api_url, args.probe_delay, queue), daemon=True)
    apps.start()
    try:
        ports = queue.get(timeout=60)
        report = asyncio.run(measure(args, api_url, ports))
    finally:
        apps.terminate()
        standin.terminate()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"ack latency, {report['commands']} slash commands each, {report['concurrency']} concurrent, loopback")
    for name in ("bare_bolt", "mailflow"):
        fig = report[name]
        print(f"  {name:<10} p50 {fig['p50_ms']:>7.2f} ms   p99 {fig['p99_ms']:>7.2f} ms")
    print(f"  ratio mailflow / bare bolt: p50 {report['ratio_p50']:.2f}x, p99 {report['ratio_p99']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
