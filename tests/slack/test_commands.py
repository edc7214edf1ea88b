"""``/mailflow`` over HTTP: ack at once, the answer in a thread, language, usage replies."""

from __future__ import annotations

import asyncio

import pytest

from bot import knowledge
from bot.store import key
from tests.slack.conftest import Harness, MakeHarness

pytestmark = pytest.mark.timeout(30)

QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)


async def test_help_is_private_and_posts_nothing_in_the_channel(harness: Harness) -> None:
    status, body = await harness.command("help")
    assert (status, body) == (200, "")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert "/mailflow diagnose" in reply.all_text
    assert not harness.api.calls_to("chat.postMessage")


async def test_a_code_is_explained_in_a_thread_under_the_request(harness: Harness) -> None:
    status, _ = await harness.command("4.4.316")
    assert status == 200
    await harness.settle()
    parent, answer = harness.api.calls_to("chat.postMessage")
    assert parent.params["channel"] == "C1" and parent.params.get("thread_ts") is None
    assert "<@U1>" in parent.all_text and "/mailflow 4.4.316" in parent.all_text
    assert answer.params["thread_ts"] == "1700000000.000001"
    assert answer.blocks[0]["type"] == "header"
    assert answer.blocks[0]["text"]["text"].startswith("4.4.316")
    assert answer.params["text"]  # the plain-text fallback


@pytest.mark.parametrize("lang", ["es", "fr", "ja", "nl", "ko"])
async def test_lang_option_picks_the_language(harness: Harness, lang: str) -> None:
    await harness.command(f"4.4.316 --lang {lang}")
    await harness.settle()
    answer = harness.api.calls_to("chat.postMessage")[1]
    title = knowledge.load(lang).exact["4.4.316"].title
    assert title in answer.blocks[0]["text"]["text"]
    assert not harness.api.calls_to("users.info")  # --lang wins: the locale is not even asked


async def test_the_users_slack_locale_is_used_and_cached(harness: Harness) -> None:
    harness.api.locales["U7"] = "ja-JP"
    await harness.command("4.4.316", user="U7")
    await harness.command("5.7.1", user="U7")  # at the same time: one users.info for both
    await harness.settle()
    await harness.command("550", user="U7")  # later: from the store
    await harness.settle()
    answers = [c for c in harness.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert knowledge.load("ja").exact["4.4.316"].title in answers[0].all_text
    assert knowledge.load("ja").ui["what_happened"] in answers[1].all_text
    assert len(harness.api.calls_to("users.info")) == 1
    assert harness.api.calls_to("users.info")[0].params["include_locale"] in ("true", "1", True)


async def test_an_unsupported_locale_falls_back_to_english(harness: Harness) -> None:
    harness.api.locales["U8"] = "de-DE"
    await harness.command("4.4.316", user="U8")
    await harness.settle()
    answer = harness.api.calls_to("chat.postMessage")[1]
    assert knowledge.load("en").exact["4.4.316"].title in answer.all_text


async def test_explain_pasted_text(harness: Harness) -> None:
    await harness.command(f"explain {QUEUE_ERROR}")
    await harness.settle()
    parent, answer = harness.api.calls_to("chat.postMessage")
    assert answer.params["thread_ts"] == parent.params.get("ts", "1700000000.000001")
    text = answer.all_text
    assert "4.4.316" in text and "mail.contoso.com" in text and "203.0.113.25" in text
    buttons = [e for b in answer.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["run_probes"]
    steps = [b for b in answer.blocks if str(b.get("block_id", "")).startswith("step:")]
    assert steps and all(b["accessory"]["type"] == "checkboxes" for b in steps)


async def test_explain_of_chat_says_not_a_bounce_privately(harness: Harness) -> None:
    await harness.command("explain 550 people joined, version 5.1.1 ships Tuesday")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert knowledge.load("en").ui["not_a_bounce"] in reply.all_text
    assert not harness.api.calls_to("chat.postMessage")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("frobnicate contoso.com", "unknown command"),
        ("diagnose", "which domain?"),
        ("diagnose not_a_domain!", "is not a domain"),
        ("diagnose contoso.com --smart-host", "--smart-host needs a value"),
        ("diagnose contoso.com --bogus", "unknown option --bogus"),
        ("history", "name one domain"),
        ("4.4.316 --lang de", "--lang wants one of"),
        ("explain", "paste the bounce"),
    ],
)
async def test_bad_arguments_get_a_short_usage_reply(harness: Harness, text: str, problem: str) -> None:
    status, _ = await harness.command(text)
    assert status == 200
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert problem in reply.all_text and "Usage" in reply.all_text
    assert not harness.api.calls_to("chat.postMessage")


@pytest.mark.parametrize(
    ("text", "lang", "problem"),
    [
        ("diagnose", "ja", "どのドメインですか?"),
        ("diagnose contoso.com --bogus", "fr", "option inconnue --bogus"),
        ("summary --since", "ko", "--since에는 2h 같은 기간이 필요합니다"),
        ("sender ok.test --ip 999.1.1.1", "nl", "--ip verwacht een IPv4- of IPv6-adres, niet '999.1.1.1'"),
        ("frobnicate", "es", "comando desconocido 'frobnicate'"),
    ],
)
async def test_bad_arguments_are_said_in_the_users_language(
    harness: Harness, text: str, lang: str, problem: str
) -> None:
    harness.api.locales["U8"] = lang
    await harness.command(text, user="U8")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert problem in reply.all_text, reply.all_text
    assert knowledge.load(lang).ui["slack_usage"] in reply.all_text


async def test_history_lists_recorded_verdicts(harness: Harness) -> None:
    from bot.store import DomainHistory  # noqa: PLC0415

    await DomainHistory(harness.store).record("contoso.com", "4.4.316", 1_700_000_000.0, "203.0.113.25:25 refused")
    await harness.command("history contoso.com")
    await harness.settle()
    answer = harness.api.calls_to("chat.postMessage")[1]
    assert "contoso.com" in answer.all_text and "4.4.316" in answer.all_text and "refused" in answer.all_text


async def test_a_channel_the_bot_is_not_in_is_answered_through_response_url(harness: Harness) -> None:
    harness.api.fail_next("chat.postMessage", "not_in_channel")
    await harness.command("4.4.316")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "in_channel"
    assert "4.4.316" in reply.blocks[0]["text"]["text"]


async def test_what_slack_escaped_in_the_command_is_shown_escaped_once(harness: Harness) -> None:
    # As Slack sends it: &, < and > of the typed text arrive escaped (the user typed "&quot;" literally).
    typed = "explain 550 5.1.1 <bob@contoso.com>: Recipient address rejected & &quot;unknown&quot;"
    sent = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    status, _ = await harness.command(sent)
    assert status == 200
    await harness.settle()
    parent, answer = harness.api.calls_to("chat.postMessage")
    line = parent.blocks[0]["text"]["text"]
    assert "&lt;bob@contoso.com&gt;" in line and "rejected &amp; &amp;quot;unknown&amp;quot;" in line
    assert "&amp;lt;" not in parent.all_text and "&amp;amp;" not in parent.all_text  # never twice
    assert "bob@contoso.com" in answer.all_text  # the bounce itself was read as typed


async def test_a_hanging_users_info_never_holds_the_answer_and_the_next_one_is_in_the_users_language(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(locale_wait_s=0.2)
    h.api.locales["U9"] = "ja-JP"
    h.api.delay("users.info", 1.0)  # longer than the answer waits
    await h.command("4.4.316", user="U9")
    await h.settle()
    first = h.api.calls_to("chat.postMessage")[1]
    assert knowledge.load("en").exact["4.4.316"].title in first.all_text  # not held: English
    async with asyncio.timeout(10):  # the lookup, left running, caches the language
        while await h.store.get(key("locale", "U9")) is None:
            await asyncio.sleep(0.05)
    await h.command("4.4.316", user="U9")
    await h.settle()
    second = h.api.calls_to("chat.postMessage")[3]
    assert knowledge.load("ja").exact["4.4.316"].title in second.all_text
    assert len(h.api.calls_to("users.info")) == 1


async def test_a_missing_scope_for_users_info_is_remembered(harness: Harness) -> None:
    harness.api.fail_next("users.info", "missing_scope")
    await harness.command("4.4.316", user="U10")
    await harness.settle()
    await harness.command("5.7.1", user="U10")
    await harness.command("5.7.1", user="U11")
    await harness.settle()
    assert len(harness.api.calls_to("users.info")) == 1  # asked once, not on every message
    answers = [c for c in harness.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert len(answers) == 3 and knowledge.load("en").exact["4.4.316"].title in answers[0].all_text
