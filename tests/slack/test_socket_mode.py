"""Socket Mode as ``mailflow serve`` runs it (bolt's AsyncSocketModeHandler), against a local Slack.

The stand-in (tests/fixtures/slack_api.py) serves Slack's side on 127.0.0.1: apps.connections.open
hands out its ws:// URL, the connection says hello, envelopes are pushed down it and the bot's
acks recorded. Covered: the hello, an events_api envelope and its ack, a disconnect (warned, as
Slack does before it rotates a connection, and abrupt) followed by the reconnect, and a retried
envelope answered once.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.fixtures.slack_api import SlackApi
from tests.slack.conftest import TOKEN
from tests.store.redis_server import free_port

pytestmark = pytest.mark.timeout(60)
QUEUE = "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"


@dataclass
class Served:
    api: SlackApi
    port: int
    out: io.StringIO

    async def ready(self) -> tuple[int, dict[str, object]]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def served(slack_api: SlackApi) -> AsyncIterator[Served]:
    from bot.cli.serve import serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    port = free_port()
    settings = load_settings(
        None, slack_bot_token=TOKEN, slack_app_token=slack_api.app_token, slack_api_url=slack_api.base_url, port=port
    )
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(serve(settings, out, stop=stop))
    try:
        await slack_api.wait_socket(1)
        yield Served(slack_api, port, out)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def event(event_id: str, ts: str, channel: str = "C2") -> dict[str, object]:
    return {
        "type": "event_callback",
        "team_id": "T0TEST",
        "api_app_id": "A1",
        "event_id": event_id,
        "event": {"type": "message", "channel": channel, "user": "U1", "ts": ts, "text": QUEUE},
    }


async def answers_in(api: SlackApi, channel: str) -> list[str]:
    return [c.params["thread_ts"] for c in api.calls_to("chat.postMessage") if c.params["channel"] == channel]


async def test_hello_opens_a_ready_connection_and_gets_no_ack(served: Served) -> None:
    api = served.api
    (hello,) = api.calls_to("socket_hello")
    assert hello.params["type"] == "hello"
    (opened,) = api.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {api.app_token}"  # the app-level token, not the bot's
    assert "Socket Mode" in served.out.getvalue()
    status, body = await served.ready()
    assert status == 200 and body["checks"] == {"store": True, "slack": True}
    await asyncio.sleep(0.3)  # an ack to the hello would have come by now
    assert not api.calls_to("socket_ack")  # hello carries no envelope: nothing to acknowledge


async def test_an_events_api_envelope_is_acked_then_answered(served: Served) -> None:
    api = served.api
    await api.push("events_api", event("EvS1", "1690000000.000101"), envelope_id="env-a")
    (ack,) = await api.wait_for("socket_ack", 1)
    assert ack.params == {"envelope_id": "env-a"}  # events take no response payload
    (answer,) = await api.wait_for("chat.postMessage", 1)
    assert answer.params["thread_ts"] == "1690000000.000101" and "4.4.316" in answer.all_text
    assert ack.at <= answer.at  # acknowledged before the answer's work


@pytest.mark.parametrize("warned", [True, False], ids=["disconnect-message", "abrupt-close"])
async def test_a_dropped_connection_is_reopened_and_envelopes_keep_flowing(served: Served, warned: bool) -> None:
    api = served.api
    await api.push("events_api", event("EvS2", "1690000000.000102"), envelope_id="env-b")
    await api.wait_for("chat.postMessage", 1)
    await api.disconnect(warn=warned)
    await api.wait_socket(2, timeout=20)  # a new connection, through a new apps.connections.open
    assert len(api.calls_to("apps.connections.open")) == 2
    await api.push("events_api", event("EvS3", "1690000000.000103"), envelope_id="env-c")
    acks = await api.wait_for("socket_ack", 2, timeout=20)
    assert [a.params["envelope_id"] for a in acks] == ["env-b", "env-c"]
    await api.wait_for("chat.postMessage", 2, timeout=20)
    assert await answers_in(api, "C2") == ["1690000000.000102", "1690000000.000103"]
    status, _ = await served.ready()
    assert status == 200


async def test_a_retried_envelope_is_acked_and_answered_once(served: Served) -> None:
    api = served.api
    payload = event("EvS4", "1690000000.000104", channel="C5")
    await api.push("events_api", payload, envelope_id="env-d")
    await api.push("events_api", payload, envelope_id="env-e", retry_attempt=1)  # Slack's retry: a new envelope
    command = {"team_id": "T0TEST", "channel_id": "C6", "user_id": "U1", "command": "/mailflow", "text": "4.4.316"}
    command |= {"response_url": api.response_url("sock"), "trigger_id": "t-retried"}
    await api.push("slash_commands", command, envelope_id="env-f")
    await api.push("slash_commands", command, envelope_id="env-g", retry_attempt=1)
    acks = await api.wait_for("socket_ack", 4)
    assert {a.params["envelope_id"] for a in acks} == {"env-d", "env-e", "env-f", "env-g"}
    await api.wait_for("chat.postMessage", 3)  # the paste's answer; the command's line and answer
    await asyncio.sleep(0.5)  # a second answer to either retry would have come by now
    assert await answers_in(api, "C5") == ["1690000000.000104"]
    assert len([c for c in api.calls_to("chat.postMessage") if c.params["channel"] == "C6"]) == 2
