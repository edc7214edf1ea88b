"""The real bot over HTTP on 127.0.0.1, signed requests in, a local Slack Web API stand-in out.

``harness`` starts the stand-in (tests/fixtures/slack_api.py), builds the app exactly as
``mailflow serve`` does (``build_app`` + ``build_web_app``) with its API base pointed at the
stand-in, serves it on 127.0.0.1 and a free port, and sends requests signed with Slack's
algorithm (``slack_sdk.signature.SignatureVerifier``). ``await h.settle()`` waits for the work
the listeners started after their ack. Only 127.0.0.0/8 is ever contacted.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.observability import routes
from bot.parse_pool import ParsePool
from bot.probes.config import Endpoints, ProbeConfig
from bot.service import DiagnosisService
from bot.store import MemoryStore, Store
from handlers import SlackApp, SlackConfig, Watches, build_app, build_web_app
from handlers.bot import Counters, DiagnosisRunner
from tests.fixtures.slack_api import TEAM, SlackApi
from tests.fixtures.slack_api import slack_api as slack_api  # noqa: PLC0414 - the fixture

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
LOOPBACK = "127.0.0.1"
# Probes never leave the machine: the resolver and the HTTP lookups on a loopback port where
# nothing answers (the diagnose tests bring their own lab).
_NOWHERE = f"http://{LOOPBACK}:9"
OFFLINE_PROBES = ProbeConfig(
    resolver=(LOOPBACK, 9),
    allow=("127.0.0.0/8",),
    endpoints=Endpoints(
        rdap_bootstrap=f"{_NOWHERE}/rdap/dns.json",
        m365_endpoints=f"{_NOWHERE}/m365/endpoints",
        m365_version=f"{_NOWHERE}/m365/version",
        mta_sts_policy=_NOWHERE + "/mta-sts/{domain}",
    ),
)

_counter = itertools.count(1)


def signed_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


@dataclass
class Harness:
    api: SlackApi
    slack: SlackApp
    store: Store
    url: str
    session: aiohttp.ClientSession
    runner: web.AppRunner
    sent: list[float] = field(default_factory=list)

    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, **sign: Any
    ) -> tuple[int, str]:
        all_headers = {"Content-Type": content_type, **signed_headers(body, **sign), **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            return response.status, await response.text()

    async def command(
        self, text: str, *, user: str = "U1", channel: str = "C1", trigger_id: str | None = None
    ) -> tuple[int, str]:
        n = next(_counter)
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "mail",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/mailflow",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.api.response_url(f"cmd{n}"),
            "trigger_id": trigger_id or f"trigger-{n}",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        body = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        }
        return await self.post(json.dumps(body), "application/json", headers=headers)

    async def message(self, text: str, *, user: str = "U1", channel: str = "C1", **extra: Any) -> tuple[int, str]:
        ts = f"1690000000.{next(_counter):06d}"
        return await self.event({"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, **extra})

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        payload = {"team": {"id": TEAM}, "api_app_id": "A1", "trigger_id": f"trigger-{next(_counter)}", **payload}
        payload.setdefault("response_url", self.api.response_url(f"act{next(_counter)}"))
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    async def settle(self, timeout_s: float = 20.0) -> None:
        await self.slack.bot.drain(timeout_s)

    async def close(self) -> None:
        await self.session.close()
        await self.runner.cleanup()


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest_asyncio.fixture
async def make_harness(slack_api: SlackApi) -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    async def make(
        *,
        store: Store | None = None,
        service: DiagnosisRunner | None = None,
        probes: ProbeConfig = OFFLINE_PROBES,
        metrics: Counters | None = None,
        watches: Watches | None = None,
        parser: ParsePool | None = None,
        health: bool = False,
        **overrides: Any,
    ) -> Harness:
        store = store or MemoryStore()
        service = service or DiagnosisService(store, probes)
        settings: dict[str, Any] = {"progress_interval_s": 0.05, "parse_workers": 1} | overrides
        config = SlackConfig(bot_token=TOKEN, signing_secret=SECRET, api_url=slack_api.base_url, **settings)
        slack = build_app(config, store, service, metrics=metrics, watches=watches, parser=parser)
        await slack.identity.load()  # as ``mailflow serve`` does before taking requests
        runner = web.AppRunner(build_web_app(slack, routes(store=store) if health else ()), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        port = runner.addresses[0][1]
        harness = Harness(
            slack_api, slack, store, f"http://{LOOPBACK}:{port}/slack/events", aiohttp.ClientSession(), runner
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()


@pytest_asyncio.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    return await make_harness()


def thread_replies(api: SlackApi, thread_ts: str) -> list[Any]:
    return [c for c in api.calls_to("chat.postMessage") if c.params.get("thread_ts") == thread_ts]


def rerun_click(answer: Any, *, response_url: str | None = None) -> dict[str, Any]:
    """A click on the "Run again" button of ``answer`` (a diagnosis posted in thread 1700000000.000001)."""
    (button,) = [e for b in answer.blocks for e in b.get("elements", []) if e.get("action_id") == "rerun_probes"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U2"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": answer.params["ts"], "channel_id": "C1"},
        "message": {"ts": answer.params["ts"], "thread_ts": "1700000000.000001", "blocks": answer.blocks},
        "actions": [{"action_id": "rerun_probes", "block_id": "probe", "value": button["value"], "type": "button"}],
    }
    return payload | ({"response_url": response_url} if response_url else {})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
