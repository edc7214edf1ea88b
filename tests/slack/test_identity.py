"""No request waits on auth.test: bolt is authorized from the start-up identity, refreshed on a schedule.

Before, bolt called auth.test again on the first request: a 503 there gave a slash command
"Please reinstall this app" and dropped a pasted bounce after its 200; a 429 held the ack for
the whole Retry-After. Here the stand-in breaks auth.test after start-up, and the command and
the paste are answered all the same, with no second auth.test on their way.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.slack.conftest import MakeHarness

pytestmark = pytest.mark.timeout(60)
QUEUE = "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"


@pytest.mark.parametrize("outage", ["503", "429"])
async def test_a_broken_auth_test_after_start_up_delays_nothing(make_harness: MakeHarness, outage: str) -> None:
    h = await make_harness()
    if outage == "503":
        h.api.server_error("auth.test", times=10, status=503)
    else:
        h.api.rate_limit_once("auth.test", 5)
    started = time.perf_counter()
    status, body = await h.command("4.4.316")
    ack_s = time.perf_counter() - started
    assert (status, body) == (200, "")
    assert ack_s < 5 / 2  # well inside the Retry-After a second auth.test would have waited for
    status, _ = await h.message(QUEUE, channel="C2")
    assert status == 200
    await h.settle()
    posted = h.api.calls_to("chat.postMessage")
    assert sorted(c.params["channel"] for c in posted) == ["C1", "C1", "C2"]  # request line + answer, paste answer
    assert "4.4.316" in posted[-1].all_text and "reinstall" not in " ".join(c.all_text for c in h.api.calls)
    assert len(h.api.calls_to("auth.test")) == 1  # the start-up one only


async def test_the_identity_is_refreshed_on_schedule_and_a_failed_refresh_keeps_the_last(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(identity_refresh_s=0.05)
    h.slack.identity.start_refresh()
    await h.api.wait_for("auth.test", 2)
    h.api.server_error("auth.test", times=1000, status=503)
    await h.api.wait_for("auth.test", 6)  # refreshes keep failing ...
    assert h.slack.identity.identity is not None and h.slack.identity.identity["user_id"] == "UBOT"
    status, _ = await h.command("4.4.316")  # ... and requests go on, answered
    assert status == 200
    await h.settle()
    assert len(h.api.calls_to("chat.postMessage")) == 2
    await h.slack.identity.close()
    calls = len(h.api.calls_to("auth.test"))
    await asyncio.sleep(0.2)
    assert len(h.api.calls_to("auth.test")) == calls  # closed: no refresh after shutdown


async def test_building_the_app_logs_no_token_warnings(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # as in production
    with caplog.at_level(logging.WARNING):
        await make_harness()
    assert not [r.getMessage() for r in caplog.records if "token" in r.getMessage()]
    logging.getLogger("slack_bolt.AsyncApp").warning("other warnings still get through")
    assert "other warnings still get through" in caplog.text


async def test_an_identity_never_loaded_is_asked_for_again_until_slack_answers(make_harness: MakeHarness) -> None:
    h = await make_harness(identity_retry_s=0.01)
    h.slack.identity.identity = None  # as if start-up had skipped ``load``
    h.api.server_error("auth.test", times=12, status=503)  # the background load fails, more than once
    status, _ = await h.command("4.4.316")
    assert status == 200
    async with asyncio.timeout(20):
        while h.slack.identity.identity is None:
            await asyncio.sleep(0.02)
    assert h.slack.identity.identity["user_id"] == "UBOT"
    assert len(h.api.calls_to("auth.test")) > 2  # the start-up call, failed tries, then the good one
