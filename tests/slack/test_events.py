"""Bounces pasted or uploaded in channels: a thread reply for a bounce, nothing for chat, once per event."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import knowledge
from tests.slack.conftest import Harness

pytestmark = pytest.mark.timeout(30)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PASTES = sorted((SAMPLES / "slack").glob("*.txt"))
CHATS = [
    SAMPLES / "not" / n
    for n in ("chat-550-people-version-5.1.1.txt", "chat-port-25-blocked.txt", "chat-question-about-codes.txt")
]
QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)


@pytest.mark.parametrize("sample", PASTES, ids=[p.name for p in PASTES])
async def test_a_pasted_bounce_is_answered_in_its_thread(harness: Harness, sample: Path) -> None:
    status, _ = await harness.message(sample.read_text(), channel="C9")
    assert status == 200
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert reply.params["channel"] == "C9"
    assert reply.params["thread_ts"].startswith("1690000000.")
    assert reply.blocks[0]["type"] == "header" and reply.params["text"]
    assert not harness.api.rejected


@pytest.mark.parametrize("sample", CHATS, ids=[p.name for p in CHATS])
async def test_ordinary_chat_never_triggers_a_reply(harness: Harness, sample: Path) -> None:
    await harness.message(sample.read_text())
    await harness.message("550 people joined, version 5.1.1 ships Tuesday")
    await harness.settle()
    assert not harness.api.calls_to("chat.postMessage")
    assert not harness.api.calls_to("users.info")  # chat costs no API call at all


async def test_a_paste_inside_a_thread_is_answered_in_that_thread(harness: Harness) -> None:
    await harness.message(QUEUE_ERROR, thread_ts="1680000000.000100")
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == "1680000000.000100"


@pytest.mark.parametrize(
    "extra",
    [
        {"subtype": "bot_message", "bot_id": "B9"},
        {"bot_id": "B9"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"user": "UBOT"},  # the bot's own message
    ],
    ids=["bot_message", "bot_id", "edit", "deletion", "own message"],
)
async def test_bots_own_messages_and_edits_are_ignored(harness: Harness, extra: dict[str, str]) -> None:
    await harness.message(QUEUE_ERROR, **extra)
    await harness.settle()
    assert not harness.api.calls_to("chat.postMessage")


async def test_slack_retries_of_an_event_get_one_reply(harness: Harness) -> None:
    event = {"type": "message", "channel": "C1", "user": "U1", "text": QUEUE_ERROR, "ts": "1690000001.000001"}
    for retry in (None, "1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        status, _ = await harness.event(event, event_id="EvRETRY1", headers=headers)
        assert status == 200
    await harness.settle()
    assert len(harness.api.calls_to("chat.postMessage")) == 1


async def test_the_same_bounce_again_gets_a_link_to_the_first_thread(harness: Harness) -> None:
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    first = harness.api.calls_to("chat.postMessage")[0]
    # Pasted again, with other spacing: the same bounce.
    await harness.message(QUEUE_ERROR.replace(" [", "\n["))
    await harness.settle()
    second = harness.api.calls_to("chat.postMessage")[1]
    assert second.params["thread_ts"] != first.params["thread_ts"]
    assert len(second.blocks) == 1 and "archives/C1/p" + first.params["thread_ts"].replace(".", "") in second.all_text
    (permalink,) = harness.api.calls_to("chat.getPermalink")
    assert permalink.params["message_ts"] == first.params["thread_ts"]
    # Another channel, or another bounce, is answered in full.
    await harness.message(QUEUE_ERROR, channel="C2")
    await harness.message(QUEUE_ERROR.replace("4.4.316 Connection refused", "4.4.315 Connection timed out"))
    await harness.settle()
    assert [c.blocks[0]["type"] for c in harness.api.calls_to("chat.postMessage")[2:]] == ["header", "header"]


async def test_the_answer_is_in_the_posters_language(harness: Harness) -> None:
    harness.api.locales["U5"] = "ko-KR"
    await harness.message(QUEUE_ERROR, user="U5")
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert knowledge.load("ko").exact["4.4.316"].title in reply.blocks[0]["text"]["text"]


async def test_user_text_cannot_ping_the_channel(harness: Harness) -> None:
    await harness.message(
        "550 5.1.1 <!channel> <@U0ALL> <https://evil.example|click> user unknown: "
        "<mailto:x@contoso.com|x@contoso.com> said: 550 5.1.1 <!here> no such user (in reply to RCPT TO command)"
    )
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    text = reply.all_text
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text


async def test_an_uploaded_eml_is_fetched_with_the_token_and_explained(harness: Harness) -> None:
    data = (SAMPLES / "exchange-online" / "eo-en-queue-expired-4.4.316.eml").read_bytes()
    file = harness.api.add_file("bounce.eml", data)
    await harness.message("", subtype="file_share", files=[file])
    await harness.settle()
    (download,) = harness.api.calls_to("file_download")
    assert download.headers["Authorization"] == "Bearer xoxb-test-token"
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert "4.4.316" in reply.blocks[0]["text"]["text"]


async def test_a_file_shared_as_a_stub_is_looked_up_then_read(harness: Harness) -> None:
    data = (SAMPLES / "exchange-online" / "eo-en-queue-expired-4.4.316.eml").read_bytes()
    stub = harness.api.add_file("bounce.eml", data, stub=True)
    photo = harness.api.add_file("holiday.png", b"\x89PNG", stub=True)
    assert set(stub) == {"id", "file_access"}
    await harness.message("", subtype="file_share", files=[photo, stub])
    await harness.settle()
    infos = [c.params["file"] for c in harness.api.calls_to("files.info")]
    assert infos == [photo["id"], stub["id"]]  # looked up first, then filtered on name and type
    (download,) = harness.api.calls_to("file_download")  # the photo is not downloaded
    assert str(download.params["path"]).endswith("/bounce.eml")
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert "4.4.316" in reply.blocks[0]["text"]["text"]


async def test_a_stub_that_files_info_cannot_find_is_said_unreadable(harness: Harness) -> None:
    await harness.message("", subtype="file_share", files=[{"id": "F404", "file_access": "check_file_info"}])
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert "Could not read F404" in reply.all_text


async def test_a_file_over_the_size_cap_is_not_read(make_harness: object) -> None:
    h: Harness = await make_harness(upload_max_bytes=1000)  # type: ignore[operator]
    data = (SAMPLES / "exchange-online" / "eo-en-queue-expired-4.4.316.eml").read_bytes()
    assert len(data) > 1000
    file = h.api.add_file("big.eml", data)
    await h.message("", subtype="file_share", files=[file])
    await h.settle()
    assert not h.api.calls_to("file_download")
    (reply,) = h.api.calls_to("chat.postMessage")
    assert "big.eml is larger than 1000 bytes" in reply.all_text


async def test_a_file_url_off_slack_never_gets_the_token(harness: Harness) -> None:
    file = {"id": "F1", "name": "bounce.eml", "size": 10, "url_private": "http://127.0.0.2:9/steal.eml"}
    await harness.message("", subtype="file_share", files=[file])
    await harness.settle()
    assert not harness.api.calls_to("file_download")
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert "Could not read bounce.eml" in reply.all_text


async def test_app_home_shows_usage_and_recent_diagnoses(harness: Harness) -> None:
    await harness.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    await harness.settle()
    (publish,) = harness.api.calls_to("views.publish")
    assert publish.params["user_id"] == "U1"
    assert "/mailflow diagnose" in str(publish.params["view"]) and "No diagnoses yet" in str(publish.params["view"])
    assert not harness.api.rejected


async def test_the_duplicate_link_never_points_at_a_thread_without_an_answer(harness: Harness) -> None:
    harness.api.fail_next("chat.postMessage", "invalid_blocks")  # the first answer fails: an error id instead
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    (failed_thread,) = {c.params["thread_ts"] for c in harness.api.calls_to("chat.postMessage")}
    assert "error id" in harness.api.calls_to("chat.postMessage")[-1].all_text
    await harness.message(QUEUE_ERROR)  # pasted again: answered in full, not linked to the failed thread
    await harness.settle()
    answer = harness.api.calls_to("chat.postMessage")[-1]
    assert answer.blocks[0]["type"] == "header" and answer.params["thread_ts"] != failed_thread
    await harness.message(QUEUE_ERROR)  # and a third time: a link to the thread that has the answer
    await harness.settle()
    (permalink,) = harness.api.calls_to("chat.getPermalink")
    assert permalink.params["message_ts"] == answer.params["thread_ts"]


async def test_a_bounce_to_300_recipients_shows_five_and_says_how_many(harness: Harness) -> None:
    from tests.test_many_recipients import postfix_bounce  # noqa: PLC0415

    harness.api.locales["U6"] = "nl-NL"
    await harness.message(postfix_bounce(300), user="U6")
    await harness.settle()
    (answer,) = harness.api.calls_to("chat.postMessage")
    field = next(f["text"] for b in answer.blocks for f in b.get("fields", []) if "user0@fabrikam.com" in f["text"])
    assert "user4@fabrikam.com" in field and "user5@fabrikam.com" not in field
    assert knowledge.load("nl").ui["recipients_more"].format(n=295, count=300) in field
    assert not harness.api.rejected
