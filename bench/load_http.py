"""Sustained load on the bot's HTTP endpoint: throughput, ack p50/p99, errors, memory growth, and
proof that every request was answered exactly once.

Three processes, all on 127.0.0.1: the Slack Web API stand-in (tests/fixtures/slack_api.py,
with a small summary route of its own), the bot exactly as ``mailflow serve`` builds it in HTTP
mode (``build_app`` + ``build_web_app``, signature checking on, an in-process store), and this
driver. For ``--minutes`` the driver sends signed requests at ``--rate`` per second (open loop:
a slow bot makes requests pile up, it does not slow the sender), a fixed mix:

    /mailflow 4.4.316                     code: a thread message with the explanation
    /mailflow explain <queue error>       the parsed bounce, explained in a thread
    /mailflow diagnose contoso.test       a stand-in service whose probes take --probe-delay s
    /mailflow help                        ephemeral, through the response_url
    message event: a pasted bounce        (tests/samples, Slack-escaped) answered in its thread
    message event: chat, no bounce        never answered
    the same event again                  Slack's retry (X-Slack-Retry-Num: 1), at once or of an event
                                          sent --retry-after (60) s before: not answered again

Every request has a channel of its own, so each answer is traced back to its request: at the end
(after the answers stop arriving) each request must have exactly the answers it expects;
"dropped" and "answered twice" are counted and listed. The bot's RSS (``/proc/<pid>/status``)
is sampled every ``--sample-s`` seconds after a warm-up; growth is reported from the first
sample to the last, and per minute.

    python bench/load_http.py [--minutes 2] [--rate 20] [--probe-delay 0.5] [--json]
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bot, handlers and tests.fixtures are imported in the processes

SECRET = "load-bench-signing-secret"
TOKEN = "xoxb-load-bench-token"
LOOPBACK = "127.0.0.1"
TEAM = "T0TEST"
QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)
CHAT = [
    "Can someone look at the 550 people who signed up for the webinar?",
    "Deploy of 5.1.1 is done, thanks all",
    "lunch at 12:30?",
]


# --- the stand-in process --------------------------------------------------------------------------


def run_standin(queue: Any) -> None:
    """The Slack Web API stand-in, plus GET /bench/summary on another port: the calls it saw."""
    from tests.fixtures.slack_api import SlackApi  # noqa: PLC0415

    async def main() -> None:
        api = SlackApi(token=TOKEN)
        await api.start()

        async def summary(request: web.Request) -> web.Response:
            if "count" in request.query:  # cheap polling while the answers are still arriving
                return web.json_response({"count": len(api.calls)})
            calls = [
                {
                    "method": c.method,
                    "channel": str(c.params.get("channel") or ""),
                    "thread_ts": str(c.params.get("thread_ts") or ""),
                    "name": str(c.params.get("_name") or ""),
                }
                for c in api.calls
            ]
            return web.json_response({"calls": calls, "rejected": len(api.rejected)})

        control = web.Application()
        control.router.add_get("/bench/summary", summary)
        runner = web.AppRunner(control, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        queue.put((api.base_url, f"http://{LOOPBACK}:{runner.addresses[0][1]}/bench/summary"))
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the bot process -------------------------------------------------------------------------------


class StandInService:
    """Diagnoses that take ``delay_s`` and find one healthy address: no probe leaves the machine."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    async def diagnose(self, request: Any, *, fresh: bool = False, on_result: Any = None, language: str = "en") -> Any:
        from bot.diagnose import conclude  # noqa: PLC0415
        from bot.probes.result import ProbeResult  # noqa: PLC0415
        from bot.service import Answer  # noqa: PLC0415

        del fresh
        result = ProbeResult("tcp", "mail.contoso.test (192.0.2.25:25)", True, "connected", facts={"address": "x"})
        await asyncio.sleep(self.delay_s / 2)
        if on_result is not None:
            on_result(result)
        await asyncio.sleep(self.delay_s / 2)
        return Answer(conclude(request, [result], elapsed_ms=self.delay_s * 1000, language=language), 0.0, False)

    async def history(self, domain: str, n: int = 5) -> list[Any]:
        return []


def run_bot(api_url: str, probe_delay: float, queue: Any) -> None:
    from bot.store import Limit, MemoryStore  # noqa: PLC0415
    from handlers import SlackConfig, build_app, build_web_app  # noqa: PLC0415

    async def main() -> None:
        unlimited = Limit(10**9, 60.0)
        config = SlackConfig(TOKEN, SECRET, api_url, per_user=unlimited, per_channel=unlimited)
        slack = build_app(config, MemoryStore(), StandInService(probe_delay))
        await slack.identity.load()  # as mailflow serve does at start-up
        runner = web.AppRunner(build_web_app(slack), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0, backlog=1024)
        await site.start()
        queue.put((os.getpid(), f"http://{LOOPBACK}:{runner.addresses[0][1]}/slack/events"))
        await asyncio.Event().wait()

    asyncio.run(main())


# --- the driver ------------------------------------------------------------------------------------


def pasted_bounces() -> list[str]:
    """Text samples the parser reads as bounces, as Slack's ``text`` field holds them."""
    from bot.parse import parse_bounce  # noqa: PLC0415

    texts = []
    for folder in ("slack", "exchange-online", "queue"):
        for path in sorted((ROOT / "tests" / "samples" / folder).glob("*.txt")):
            text = path.read_text("utf-8", errors="replace")
            if parse_bounce(text).is_ndr:
                texts.append(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return texts


@dataclass
class Sent:
    """One request and what must come back for it."""

    n: int
    kind: str
    channel: str
    ts: str = ""  # events: the message's ts (the answer's thread_ts)
    response: str = ""  # commands: the response_url name
    status: int = 0
    ack_ms: float = 0.0
    error: str = ""


@dataclass
class Driver:
    bot_url: str
    api_url: str
    session: aiohttp.ClientSession
    bounces: list[str]
    sent: list[Sent] = field(default_factory=list)
    retry_after_s: float = 60.0
    in_flight: int = 0
    peak_in_flight: int = 0
    pastes: list[tuple[float, Sent, str]] = field(default_factory=list)  # (sent at, request, body)

    def signed(self, body: str, content_type: str, retry: bool) -> dict[str, str]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": str(SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)),
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        return headers

    def request(self, n: int) -> tuple[Sent, str, str, bool]:
        kind = ("code", "explain", "diagnose", "help", "paste", "paste", "chat", "retry")[n % 8]
        channel = f"C{n:07d}"
        user = f"U{n % 40:03d}"
        if kind in ("code", "explain", "diagnose", "help"):
            text = {
                "code": "4.4.316",
                "explain": f"explain {QUEUE_ERROR}",
                "diagnose": "diagnose contoso.test",
                "help": "help",
            }[kind]
            sent = Sent(n, kind, channel, response=f"r{n}")
            form = {
                "team_id": TEAM,
                "channel_id": channel,
                "user_id": user,
                "command": "/mailflow",
                "text": text,
                "response_url": self.api_url.replace("/api/", f"/response/r{n}"),
                "trigger_id": f"load-{n}",
            }
            return sent, urlencode(form), "application/x-www-form-urlencoded", False
        if kind == "retry":
            # Slack delivers an event again when the ack was late: at once, after 1 min, after 5 min.
            # Half the retries repeat the last paste, half one sent about retry_after_s ago.
            _, previous, body = self.pastes[-1]
            if n % 16 == 15:
                wanted = time.monotonic() - self.retry_after_s
                older = [p for p in self.pastes if p[0] <= wanted]
                if older:
                    _, previous, body = older[-1]
            return Sent(n, "retry", previous.channel, ts=previous.ts), body, "application/json", True
        ts = f"1764446400.{n:06d}"
        text = self.bounces[n % len(self.bounces)] if kind == "paste" else CHAT[n % len(CHAT)]
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts}
        body = json.dumps(
            {
                "team_id": TEAM,
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": f"Ev{n:010d}",
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
            }
        )
        sent = Sent(n, kind, channel, ts=ts)
        if kind == "paste":
            self.pastes.append((time.monotonic(), sent, body))
        return sent, body, "application/json", False

    async def send(self, n: int) -> None:
        sent, body, content_type, retry = self.request(n)
        self.sent.append(sent)
        headers = self.signed(body, content_type, retry)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        started = time.perf_counter()
        try:
            async with self.session.post(self.bot_url, data=body.encode(), headers=headers) as response:
                await response.read()
                sent.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sent.error = f"{type(exc).__name__}: {exc}"
        finally:
            sent.ack_ms = (time.perf_counter() - started) * 1000
            self.in_flight -= 1


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def summary(session: aiohttp.ClientSession, url: str, *, count_only: bool = False) -> dict[str, Any]:
    async with session.get(url, params={"count": "1"} if count_only else None) as response:
        data: dict[str, Any] = await response.json()
        return data


async def settled(session: aiohttp.ClientSession, url: str, quiet_s: float, limit_s: float) -> dict[str, Any]:
    """The stand-in's calls once nothing new has arrived for ``quiet_s`` (or ``limit_s`` passed)."""
    end = time.monotonic() + limit_s
    last = (await summary(session, url, count_only=True))["count"]
    quiet_since = time.monotonic()
    while time.monotonic() < end:
        await asyncio.sleep(0.25)
        now = (await summary(session, url, count_only=True))["count"]
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            break
    return await summary(session, url)


def expected(kind: str) -> tuple[int, int, int]:
    """(top-level posts, thread answers, response_url posts) one request of ``kind`` must get."""
    return {
        "code": (1, 1, 0),  # "<user>: /mailflow ..." in the channel, the answer in its thread
        "explain": (1, 1, 0),
        "diagnose": (1, 1, 0),  # progress, then the result, by chat.update of the same message
        "help": (0, 0, 1),
        "paste": (0, 1, 0),
        "chat": (0, 0, 0),
        "retry": (0, 0, 0),  # counted with the event it repeats
    }[kind]


def check_answers(sent: list[Sent], calls: list[dict[str, Any]]) -> dict[str, Any]:
    top: Counter[str] = Counter()
    thread: Counter[tuple[str, str]] = Counter()
    in_threads: Counter[str] = Counter()  # thread answers per channel, whatever the thread
    responses: Counter[str] = Counter()
    for call in calls:
        if call["method"] == "chat.postMessage":
            if call["thread_ts"]:
                thread[(call["channel"], call["thread_ts"])] += 1
                in_threads[call["channel"]] += 1
            else:
                top[call["channel"]] += 1
        elif call["method"] == "response_url":
            responses[call["name"]] += 1
    parents: dict[str, int] = {}
    dropped: list[str] = []
    doubled: list[str] = []
    for s in sent:
        if s.kind == "retry":
            continue
        want_top, want_thread, want_response = expected(s.kind)
        # An event's answer is in the event's thread; a command's in the thread of its own post.
        got_thread = thread[(s.channel, s.ts)] if s.kind in ("paste", "chat") else in_threads[s.channel]
        got = (top[s.channel], got_thread, responses[s.response] if s.response else 0)
        want = (want_top, want_thread, want_response)
        parents[s.kind] = parents.get(s.kind, 0) + 1
        if any(g < w for g, w in zip(got, want, strict=True)):
            dropped.append(f"{s.kind} #{s.n} ({s.channel}): got {got}, want {want} (top, thread, response_url)")
        elif any(g > w for g, w in zip(got, want, strict=True)):
            doubled.append(f"{s.kind} #{s.n} ({s.channel}): got {got}, want {want} (top, thread, response_url)")
    return {"requests_by_kind": parents, "dropped": dropped, "answered_twice": doubled}


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


async def drive(args: argparse.Namespace, bot_pid: int, bot_url: str, api_url: str, summary_url: str) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.max_in_flight)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        driver = Driver(bot_url, api_url, session, pasted_bounces(), retry_after_s=args.retry_after)
        # Warm-up (not measured): bolt's first request calls auth.test; the parser's tables load.
        await asyncio.gather(*(driver.send(n) for n in range(16)))
        await settled(session, summary_url, quiet_s=1.0, limit_s=10.0)
        warm = len(driver.sent)
        driver.peak_in_flight = 0
        samples = [(0.0, rss_mb(bot_pid))]
        started = time.monotonic()
        end = started + args.minutes * 60
        tasks: set[asyncio.Task[None]] = set()
        n = warm
        next_sample = started + args.sample_s
        while (now := time.monotonic()) < end:
            due = warm + int((now - started) * args.rate)
            while n < due:
                task = asyncio.create_task(driver.send(n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            if now >= next_sample:
                samples.append((now - started, rss_mb(bot_pid)))
                next_sample += args.sample_s
            await asyncio.sleep(min(0.01, 1 / args.rate))
        sending_s = time.monotonic() - started
        await asyncio.gather(*tasks)
        state = await settled(session, summary_url, quiet_s=max(2.0, args.probe_delay * 3), limit_s=120.0)
        samples.append((time.monotonic() - started, rss_mb(bot_pid)))
    measured = driver.sent[warm:]
    acks = [s.ack_ms for s in measured if s.status == 200]
    errors = Counter(s.error.split(":")[0] if s.error else f"HTTP {s.status}" for s in measured if s.status != 200)
    answers = check_answers(driver.sent, state["calls"])
    growth = samples[-1][1] - samples[0][1]
    minutes = max(samples[-1][0] / 60, 1e-9)
    return {
        "minutes": args.minutes,
        "rate_asked": args.rate,
        "requests": len(measured),
        "throughput_per_s": round(len(acks) / sending_s, 1),
        "ack_p50_ms": round(percentile(acks, 50), 2),
        "ack_p99_ms": round(percentile(acks, 99), 2),
        "ack_max_ms": round(max(acks, default=0.0), 2),
        "peak_in_flight": driver.peak_in_flight,
        "errors": dict(errors),
        "web_api_calls": len(state["calls"]),
        "rejected_blocks": state["rejected"],
        "dropped": len(answers["dropped"]),
        "answered_twice": len(answers["answered_twice"]),
        "examples": (answers["dropped"] + answers["answered_twice"])[:10],
        "requests_by_kind": answers["requests_by_kind"],
        "rss_start_mb": round(samples[0][1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_growth_mb": round(growth, 1),
        "rss_growth_mb_per_min": round(growth / minutes, 2),
        "rss_samples_mb": [round(mb, 1) for _, mb in samples],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--probe-delay", type=float, default=0.5, help="seconds a stand-in diagnosis takes")
    parser.add_argument("--max-in-flight", type=int, default=500)
    parser.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval")
    parser.add_argument("--retry-after", type=float, default=60.0, help="age of the events the late retries repeat")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    standin = context.Process(target=run_standin, args=(queue,), daemon=True)
    standin.start()
    api_url, summary_url = queue.get(timeout=30)
    bot = context.Process(target=run_bot, args=(api_url, args.probe_delay, queue), daemon=True)
    bot.start()
    bot_pid, bot_url = queue.get(timeout=60)
    try:
        result = asyncio.run(drive(args, bot_pid, bot_url, api_url, summary_url))
    finally:
        for process in (bot, standin):
            process.terminate()
            process.join(5)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['requests']} requests in {result['minutes']} min at {result['rate_asked']}/s asked: "
            f"{result['throughput_per_s']}/s acked; ack p50 {result['ack_p50_ms']} ms, p99 {result['ack_p99_ms']} ms, "
            f"max {result['ack_max_ms']} ms; errors {result['errors'] or 'none'}; "
            f"dropped {result['dropped']}, answered twice {result['answered_twice']}; "
            f"RSS {result['rss_start_mb']} -> {result['rss_end_mb']} MB ({result['rss_growth_mb_per_min']} MB/min)"
        )
        for line in result["examples"]:
            print("  " + line)
    return 0 if not (result["dropped"] or result["answered_twice"] or result["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
