"""A hostile paste cannot freeze the bot: bounces are read in worker processes with a deadline.

On the real bolt app over signed HTTP. Two parsers: the real one (its patterns are linear: the
39 KB paste that once took 74 s is read at once) and ``backtracking.parse_with_backtracking``,
the real one plus the pattern that froze the bot, standing in for the next such bug: its worker
is stuck in the regex engine until the pool kills it at the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable

import pytest

from bot import knowledge
from bot.parse_pool import ParsePool
from tests.slack.backtracking import HOSTILE_39K, parse_with_backtracking
from tests.slack.conftest import Harness, MakeHarness, thread_replies

pytestmark = pytest.mark.timeout(60)

ERROR_ID = re.compile(r"`([0-9a-f]{8})`")
QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)


def too_complex(lang: str = "en") -> str:
    """The label's text before its error id: enough to recognise it in a message."""
    return knowledge.load(lang).ui["slack_too_complex"].split("{error_id}")[0].rstrip("(`（ ")


async def timed(request: Awaitable[tuple[int, str]]) -> tuple[float, tuple[int, str]]:
    started = time.perf_counter()
    result = await request
    return time.perf_counter() - started, result


async def test_a_39_kb_hostile_paste_then_a_command_is_acked_in_under_a_second(harness: Harness) -> None:
    assert len(HOSTILE_39K) == 39_000
    status, _ = await harness.message(HOSTILE_39K)
    assert status == 200
    elapsed, (status, body) = await timed(harness.command("help"))
    assert (status, body) == (200, "") and elapsed < 1.0, f"ack after {elapsed:.2f} s"
    await harness.settle()
    (answer,) = [c for c in harness.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert "4.4.316" in answer.all_text  # the paste is a bounce, and it was read
    assert harness.api.calls_to("response_url")  # the help, privately


async def test_while_a_worker_is_stuck_acks_and_health_still_answer(make_harness: MakeHarness) -> None:
    """The same paste, read by a parser that backtracks: the worker is stuck until the deadline,
    yet the command is acked and /healthz answers before it passes."""
    parser = ParsePool(1, 3.0, parse=parse_with_backtracking)
    h = await make_harness(parser=parser, health=True)
    health = h.url.replace("/slack/events", "/healthz")
    sent = time.perf_counter()
    await h.message(HOSTILE_39K)
    await asyncio.sleep(0.2)  # the worker is inside the pattern now
    elapsed, (status, body) = await timed(h.command("help"))
    assert (status, body) == (200, "") and elapsed < 1.0, f"ack after {elapsed:.2f} s"
    async with h.session.get(health) as response:
        assert response.status == 200 and (await response.json()) == {"alive": True}
    answered_by = time.perf_counter() - sent
    await h.settle()
    assert answered_by < parser.timeout_s  # both came back while the paste was still being read
    (told,) = [c for c in h.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert too_complex() in told.all_text


async def test_past_the_deadline_the_user_gets_an_error_id_and_the_pool_recovers(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    parser = ParsePool(1, 1.0, parse=parse_with_backtracking)
    h = await make_harness(parser=parser)
    with caplog.at_level(logging.WARNING, logger="mailflow.slack"):
        await h.message(HOSTILE_39K)
        await h.settle()
    (told,) = [c for c in h.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    error_id = ERROR_ID.search(told.all_text)
    assert error_id and too_complex() in told.all_text
    assert any(error_id.group(1) in r.getMessage() for r in caplog.records)  # the log line to find
    assert parser.replaced == 1  # the stuck worker was killed and replaced
    # The next paste is read by the new worker, as if nothing had happened.
    await h.message(QUEUE_ERROR)
    await h.settle()
    answer = [c for c in h.api.calls_to("chat.postMessage") if c.params.get("thread_ts")][-1]
    assert answer.blocks[0]["type"] == "header" and "4.4.316" in answer.all_text


@pytest.mark.parametrize("lang", knowledge.LANGUAGES)
async def test_explain_past_the_deadline_answers_privately_in_the_readers_language(
    make_harness: MakeHarness, lang: str
) -> None:
    h = await make_harness(parser=ParsePool(1, 0.5, parse=parse_with_backtracking))
    await h.command(f"explain {HOSTILE_39K} --lang {lang}")
    await h.settle()
    (reply,) = h.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert too_complex(lang) in reply.all_text and ERROR_ID.search(reply.all_text)
    assert not h.api.calls_to("chat.postMessage")


async def test_an_uploaded_file_past_the_deadline_is_named(make_harness: MakeHarness) -> None:
    h = await make_harness(parser=ParsePool(1, 0.5, parse=parse_with_backtracking))
    file = h.api.add_file("queue.txt", HOSTILE_39K.encode())
    await h.message("", subtype="file_share", files=[file])
    await h.settle()
    (told,) = thread_replies(h.api, told_thread(h))
    assert "queue.txt" in told.all_text and ERROR_ID.search(told.all_text)


def told_thread(h: Harness) -> str:
    (call,) = h.api.calls_to("chat.postMessage")
    return str(call.params["thread_ts"])
