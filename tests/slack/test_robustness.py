"""Signatures, Slack's retries and rate limits, failures with error ids, tokens kept out of logs,
and two bot processes sharing one Redis answering a retried event exactly once."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Limit, RedisStore, RedisTimeouts
from tests.slack.conftest import TOKEN, Harness, MakeHarness
from tests.store.redis_server import RedisServer

pytestmark = pytest.mark.timeout(30)

QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)


@pytest.mark.parametrize(
    ("secret", "skew_s"),
    [("not-the-secret", 0), (None, -6 * 60), (None, 6 * 60)],
    ids=["bad signature", "stale timestamp", "future timestamp"],
)
async def test_unsigned_or_stale_requests_are_refused(harness: Harness, secret: str | None, skew_s: int) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "text": QUEUE_ERROR}})
    sign: dict[str, object] = {"timestamp": int(time.time()) + skew_s}
    if secret:
        sign["secret"] = secret
    status, _ = await harness.post(body, "application/json", **sign)
    assert status == 401
    await harness.settle()
    assert [c.method for c in harness.api.calls] in ([], ["auth.test"])


async def test_a_slack_429_is_retried_after_retry_after(harness: Harness) -> None:
    harness.api.rate_limit_once("chat.postMessage", retry_after=1)
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    limited, posted = harness.api.calls_to("chat.postMessage")
    assert posted.at - limited.at >= 0.9
    assert posted.blocks[0]["type"] == "header"


async def test_a_slack_error_is_logged_and_the_user_gets_an_error_id(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.api.fail_next("chat.postMessage", "internal_error")
    with caplog.at_level(logging.ERROR, logger="mailflow.slack"):
        await harness.command("4.4.316")
        await harness.settle()
    (record,) = [r for r in caplog.records if "error id" in r.getMessage()]
    error_id = re.search(r"error id (\w+)", record.getMessage())
    assert error_id and "internal_error" in (record.exc_text or "")
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral" and error_id.group(1) in reply.all_text


async def test_a_failed_paste_answer_says_so_in_the_thread(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.api.fail_next("chat.postMessage", "fatal_error")
    with caplog.at_level(logging.ERROR, logger="mailflow.slack"):
        await harness.message(QUEUE_ERROR)
        await harness.settle()
    failed, told = harness.api.calls_to("chat.postMessage")
    assert told.params["thread_ts"] == failed.params["thread_ts"]
    assert re.search(r"error id `\w+`", told.all_text)
    assert any("error id" in r.getMessage() for r in caplog.records)


async def test_rate_limits_get_a_friendly_reply(make_harness: MakeHarness) -> None:
    h = await make_harness(per_user=Limit(2, 60), per_channel=Limit(100, 60))
    for _ in range(3):
        await h.command("4.4.316")
    await h.settle()
    assert len(h.api.calls_to("chat.postMessage")) == 4  # two answers, each with its request line
    (refused,) = h.api.calls_to("response_url")
    assert refused.params["response_type"] == "ephemeral" and "Too many requests" in refused.all_text
    # A paste over the limit: told privately, nothing in the channel.
    await h.message(QUEUE_ERROR)
    await h.settle()
    (ephemeral,) = h.api.calls_to("chat.postEphemeral")
    assert ephemeral.params["user"] == "U1" and len(h.api.calls_to("chat.postMessage")) == 4


async def test_tokens_never_reach_the_logs(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    samples = Path(__file__).resolve().parent.parent / "samples"
    file = harness.api.add_file("b.eml", (samples / "exchange-online" / "eo-en-queue-expired-4.4.316.eml").read_bytes())
    harness.api.fail_next("chat.update", "invalid_auth")
    with caplog.at_level(logging.DEBUG):
        await harness.command("4.4.316")
        await harness.message("", subtype="file_share", files=[file])
        await harness.settle()
    assert caplog.records
    assert TOKEN not in caplog.text
    assert "xoxb-" not in "".join(str(r.args) for r in caplog.records)


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


async def test_two_processes_sharing_redis_answer_a_retried_event_once(
    make_harness: MakeHarness, redis_url: str
) -> None:
    stores = [RedisStore.from_url(redis_url, timeouts=RedisTimeouts(connect=2.0, read=2.0)) for _ in range(2)]
    try:
        one, two = [await make_harness(store=store) for store in stores]
        event = {"type": "message", "channel": "C1", "user": "U1", "text": QUEUE_ERROR, "ts": "1690000009.000001"}
        await one.event(event, event_id="EvTWICE")
        await two.event(
            event, event_id="EvTWICE", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        )
        await one.event(
            event, event_id="EvTWICE", headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}
        )
        await one.settle()
        await two.settle()
        assert len(one.api.calls_to("chat.postMessage")) == 1  # one stand-in behind both apps
        # A slash command redelivered to the other process (same trigger_id): one answer too.
        await one.command("4.4.316", trigger_id="trig-shared")
        await two.command("4.4.316", trigger_id="trig-shared")
        await one.settle()
        await two.settle()
        assert len(one.api.calls_to("chat.postMessage")) == 3
    finally:
        for store in stores:
            await store.close()


async def test_a_slack_500_is_retried_once(harness: Harness) -> None:
    harness.api.server_error("chat.postMessage")
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    failed, posted = harness.api.calls_to("chat.postMessage")  # retried after a look in the thread
    assert posted.params["thread_ts"] == failed.params["thread_ts"]
    assert posted.blocks[0]["type"] == "header"


async def test_slack_down_gives_the_user_an_error_id(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.api.server_error("chat.postMessage", times=2, status=503)
    with caplog.at_level(logging.ERROR, logger="mailflow.slack"):
        await harness.message(QUEUE_ERROR)
        await harness.settle()
    # The answer, looked for in the thread, posted once more; then the error notice.
    failed, _, notice = harness.api.calls_to("chat.postMessage")
    assert harness.api.calls_to("conversations.replies")
    (record,) = [r for r in caplog.records if "error id" in r.getMessage()]
    error_id = re.search(r"error id (\w+)", record.getMessage())
    assert error_id and error_id.group(1) in notice.all_text
    assert notice.params["thread_ts"] == failed.params["thread_ts"]
