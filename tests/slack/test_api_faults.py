"""Every Web API call survives any answer: HTML error pages, a 405 in plain text, empty bodies,
truncated JSON, JSON that is no object, ``ok`` with missing or mistyped fields. Each fault is
served by the Web API stand-in (``SlackApi.fault``, its FAULTS table) to the real bolt app over
signed HTTP; the bot must still answer what it can, and whatever fails is a ``SlackSendError``
logged with an error id, never an AttributeError or KeyError escaping a handler."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from bot.settings import load_settings
from bot.slack_answers import UNREADABLE
from bot.watch.jobs import slack_client, slack_poster
from bot.watch.runner import PostRequest
from tests.fixtures.slack_api import FAULTS, SlackApi
from tests.slack.conftest import TOKEN, Harness

pytestmark = pytest.mark.timeout(60)
KINDS = list(FAULTS)
QUEUE_ERROR = "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com]"
CRASHES = (AttributeError, KeyError, TypeError, IndexError, ValueError)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="mailflow"):
        yield caplog


def crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records carrying an exception of a kind that means a handler tripped over the body."""
    return [
        f"{r.getMessage()}: {r.exc_info[1]!r}"
        for r in caplog.records
        if r.exc_info and isinstance(r.exc_info[1], CRASHES)
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_the_language_lookup_falls_back_to_english(
    harness: Harness, logged: pytest.LogCaptureFixture, kind: str
) -> None:
    await harness.command("help", user="U2")  # an English speaker, for comparison
    await harness.settle()
    harness.api.locales["U1"] = "ja-JP"
    harness.api.fault("users.info", kind)
    await harness.command("help", user="U1")
    await harness.settle()
    english, reply = harness.api.calls_to("response_url")
    assert "/mailflow" in reply.all_text  # the help text arrived...
    assert reply.all_text == english.all_text  # ...in English, as the lookup could not say Japanese
    assert crashes(logged) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failed_post_is_an_error_with_an_id_told_to_the_user(
    harness: Harness, logged: pytest.LogCaptureFixture, kind: str
) -> None:
    harness.api.fault("chat.postMessage", kind)
    await harness.command("4.4.316")
    await harness.settle()
    assert crashes(logged) == []
    failures = [r for r in logged.records if "error id" in r.getMessage()]
    if failures:  # the post did not go through: the user hears of it, with the id
        error_id = re.search(r"error id (\w+)", failures[0].getMessage())
        replies = harness.api.calls_to("response_url")
        assert error_id and replies and error_id.group(1) in replies[-1].all_text
    else:  # the body was odd but said ok: the answer went on (an update of the first post)
        assert harness.api.calls_to("chat.postMessage") or harness.api.calls_to("chat.update")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pasted_bounce_survives_a_faulty_post(
    harness: Harness, logged: pytest.LogCaptureFixture, kind: str
) -> None:
    harness.api.fault("chat.postMessage", kind)
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    assert crashes(logged) == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["chat.getPermalink", "views.publish", "files.info", "chat.update"])
async def test_other_calls_survive(harness: Harness, logged: pytest.LogCaptureFixture, method: str, kind: str) -> None:
    harness.api.fault(method, kind)
    if method == "views.publish":
        await harness.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    elif method == "files.info":
        await harness.message("", files=[{"id": "F000001", "name": "bounce.eml"}])
    elif method == "chat.getPermalink":  # asked when the same bounce is pasted again
        await harness.message(QUEUE_ERROR)
        await harness.settle()
        await harness.message(QUEUE_ERROR)
    else:  # "diagnosing…" posted, then replaced by the guard's refusal
        await harness.command("diagnose 10.1.2.3")
    await harness.settle()
    assert crashes(logged) == []
    assert harness.api.calls_to(method), f"{method} was never called: the test did not reach it"


@pytest.mark.parametrize("kind", KINDS)
async def test_the_workers_poster_reads_an_error_code_out_of_any_answer(slack_api: SlackApi, kind: str) -> None:
    """``mailflow worker`` posts watch results with its own client (bot/watch/jobs.py)."""
    settings = load_settings(None, slack_bot_token=TOKEN, slack_api_url=slack_api.base_url)
    post = slack_poster(slack_client(settings))
    slack_api.fault("chat.postMessage", kind)
    error = await post(PostRequest(channel="C1", thread_ts=None, text="watch: mx.contoso.com answers again"))
    status = FAULTS[kind][0]
    ok_anyway = kind in ("ok, no fields", "ok, fields of the wrong type")
    expected = None if ok_anyway else f"http_{status}" if status != 200 else UNREADABLE
    assert error == expected
