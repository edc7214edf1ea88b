"""A 5xx from chat.postMessage: the answer arrives once, by whatever path is left.

Slack may answer a post with a 500 or 503 and have posted it all the same. The bot looks in the
thread (conversations.replies) or the channel (conversations.history) before posting again, so
it never posts twice; when posting keeps failing, a command's answer goes through its
response_url instead.
"""

from __future__ import annotations

import json

import pytest

from tests.slack.conftest import Harness

pytestmark = pytest.mark.timeout(60)
QUEUE = "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"


@pytest.mark.parametrize("done", [True, False], ids=["posted-anyway", "not-posted"])
async def test_a_503_on_the_answer_to_a_paste_never_posts_it_twice(harness: Harness, done: bool) -> None:
    harness.api.server_error("chat.postMessage", status=503, done=done)
    await harness.message(QUEUE, channel="C3")
    await harness.settle()
    (thread,) = {c.params["thread_ts"] for c in harness.api.calls_to("chat.postMessage")}
    api = harness.api
    answers = [ts for channel, ts in api.posted if api.messages[(channel, ts)].get("thread_ts") == thread]
    assert len(answers) == 1  # exactly one answer in the thread, however the 503 went
    assert harness.api.calls_to("conversations.replies")  # looked before posting again
    assert len(harness.api.calls_to("chat.postMessage")) == (1 if done else 2)
    assert "4.4.316" in harness.api.messages[("C3", answers[0])]["text"]


async def test_a_503_on_the_request_line_is_checked_in_the_channel_history(harness: Harness) -> None:
    harness.api.server_error("chat.postMessage", status=503, done=True)
    await harness.command("4.4.316")
    await harness.settle()
    assert harness.api.calls_to("conversations.history")
    parent, answer = harness.api.calls_to("chat.postMessage")  # the line once (posted despite the 503), the answer
    assert parent.params.get("thread_ts") is None and answer.params["thread_ts"] == "1700000000.000001"
    assert not harness.api.calls_to("response_url")


async def test_when_posting_keeps_failing_a_command_is_answered_through_its_response_url(harness: Harness) -> None:
    harness.api.server_error("chat.postMessage", times=10, status=500)
    await harness.command("4.4.316")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "in_channel" and "4.4.316" in reply.blocks[0]["text"]["text"]
    assert not harness.api.posted


async def test_when_the_thread_cannot_be_read_it_is_not_posted_again(harness: Harness) -> None:
    harness.api.server_error("chat.postMessage", status=503, done=True)
    harness.api.fail_next("conversations.replies", "missing_scope")
    await harness.message(QUEUE, channel="C4")
    await harness.settle()
    answers = [ts for _, ts in harness.api.posted if "4.4.316" in harness.api.messages[("C4", ts)]["text"]]
    assert len(answers) == 1  # the answer, not a second copy (then an error id: the bot could not tell)


async def test_a_failed_post_is_not_taken_for_an_earlier_message_with_the_same_text(harness: Harness) -> None:
    # The same command twice: two identical request lines. The second line's post fails with a
    # 503 and was not posted; the first line, same text, is in the channel. The second answer
    # must get a line of its own, not adopt the first one's.
    await harness.command("4.4.316")
    await harness.settle()
    harness.api.server_error("chat.postMessage", status=503, done=False)
    await harness.command("4.4.316")
    await harness.settle()
    assert harness.api.calls_to("conversations.history")  # looked before posting again
    api = harness.api
    lines = [ts for channel, ts in api.posted if not api.messages[(channel, ts)].get("thread_ts")]
    assert len(lines) == 2
    threads = [api.messages[(channel, ts)]["thread_ts"] for channel, ts in api.posted if ts not in lines]
    assert sorted(threads) == sorted(lines)  # each answer under its own request line


async def test_every_post_carries_its_own_id_in_its_metadata(harness: Harness) -> None:
    await harness.command("4.4.316")
    await harness.settle()
    ids = [c.params["metadata"] for c in harness.api.calls_to("chat.postMessage")]
    payloads = [(m if isinstance(m, dict) else json.loads(m))["event_payload"]["post_id"] for m in ids]
    assert len(payloads) == 2 and len(set(payloads)) == 2
