"""``/mailflow summary`` through the real bolt app: bounces pasted and diagnoses run in a channel,
then the table in a thread and the chart uploaded there with files.getUploadURLExternal +
files.completeUploadExternal (the stand-in refuses the retired files.upload)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import bot.store.events
import handlers.summary
from bot import knowledge
from bot.diagnose import DiagnoseRequest, OnResult, conclude
from bot.parse import parse_bounce
from bot.probes.result import ProbeResult
from bot.render.chart import WIDTH_PX
from bot.service import Answer
from bot.store import HistoryEntry, MemoryStore, key
from bot.summary import recipient_key
from tests.fixtures.slack_api import SlackApi
from tests.slack.conftest import SECRET, TOKEN, Harness, MakeHarness, thread_replies

pytestmark = pytest.mark.timeout(60)


def queue_error(host: str, code: str = "4.4.316") -> str:
    return (
        f"450 {code} Connection refused [Message=Socket error code 10061] "
        f"[LastAttemptedServerName=mail.{host}] [LastAttemptedIP=203.0.113.25:25]"
    )


def pasted_ndr(recipient: str) -> str:
    return (
        f"Delivery has failed to these recipients or groups:\n\n{recipient}\n\n"
        "Diagnostic information for administrators:\nGenerating server: AM0PR01MB1234.eurprd01.prod.outlook.com\n"
        f"{recipient}\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n"
    )


class HealthyService:
    """Diagnoses that find the path working at once (one accepted connection)."""

    async def diagnose(
        self, request: DiagnoseRequest, *, fresh: bool = False, on_result: OnResult | None = None, language: str = "en"
    ) -> Answer:
        results = [ProbeResult("tcp", "127.0.0.1:25", True, "accepted the connection", facts={"address": "127.0.0.1"})]
        return Answer(conclude(request, results, elapsed_ms=1.0, language=language), 0.0, False)

    async def history(self, domain: str, n: int = 5) -> list[HistoryEntry]:
        return []


async def _incident(h: Harness) -> None:
    """Three bounces answered in C1 (two 4.4.316, one 5.1.1), one in C2, one diagnosis in C1."""
    await h.message(queue_error("contoso.com"))
    await h.message(queue_error("contoso.com").replace("203.0.113.25", "203.0.113.26"))
    await h.message(pasted_ndr("ann.lee@fabrikam.com"))
    await h.message(queue_error("tailspin.example"), channel="C2")
    await h.command("diagnose contoso.com")
    await h.settle()


def _summary_answer(h: Harness) -> tuple[str, str]:
    """(the request line's ts, the table's text) of the last summary."""
    posts = h.api.calls_to("chat.postMessage")
    parent = next(c for c in reversed(posts) if "/mailflow summary" in c.all_text)
    answer = next(c for c in posts[posts.index(parent) + 1 :] if c.params.get("thread_ts"))
    return str(answer.params["thread_ts"]), answer.all_text


async def test_summary_counts_the_channels_bounces_and_uploads_the_chart_in_the_thread(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(service=HealthyService())
    await _incident(h)
    await h.command("summary --since 2h")
    await h.settle()
    thread_ts, text = _summary_answer(h)
    assert "4.4.316" in text and knowledge.load("en").exact["4.4.316"].title in text
    assert "5.1.1" in text and "fabrikam.com" in text and "contoso.com" in text
    assert "tailspin.example" not in text  # C2's bounce stays in C2
    assert "Diagnoses run here" in text and "healthy" in text
    assert "ann.lee" not in text
    # The chart: the two steps of the upload, the bytes to the URL between them, into the thread.
    methods = [c.method for c in h.api.calls if c.method.startswith("files") or c.method == "file_upload"]
    assert methods == ["files.getUploadURLExternal", "file_upload", "files.completeUploadExternal"]
    (upload,) = h.api.shared_files()
    assert upload.shared is not None
    assert upload.shared["channel_id"] == "C1" and upload.shared["thread_ts"] == thread_ts
    assert upload.data is not None
    image = Image.open(io.BytesIO(upload.data))
    assert image.format == "PNG" and image.size[0] == WIDTH_PX
    assert not h.api.calls_to("files.upload")
    assert not h.api.rejected


async def test_summary_in_the_readers_language(make_harness: MakeHarness) -> None:
    h = await make_harness(service=HealthyService())
    await _incident(h)
    await h.command("summary --lang fr")
    await h.settle()
    _, text = _summary_answer(h)
    ui = knowledge.load("fr").ui
    assert ui["summary_bounces"] in text and knowledge.load("fr").exact["4.4.316"].title in text


async def test_summary_of_a_quiet_channel_says_so_without_a_chart(harness: Harness) -> None:
    await harness.command("summary --since 30m", channel="C9")
    await harness.settle()
    _, text = _summary_answer(harness)
    assert "No bounces to count" in text
    assert not harness.api.uploads


async def test_the_store_keeps_domains_and_hashed_recipients_only(make_harness: MakeHarness) -> None:
    h = await make_harness(service=HealthyService())
    store = h.store
    assert isinstance(store, MemoryStore)
    await _incident(h)
    events = await store.events_since(key("summary", "C1"), 0, 100)
    assert len(events) == 4  # three bounces and one diagnosis
    raw = b"\n".join(value for _, value in events)
    assert b"@" not in raw and b"ann.lee" not in raw
    assert b"fabrikam.com" in raw and b"contoso.com" in raw
    assert 0 < (await store.ttl(key("summary", "C1")) or 0) <= 7 * 86400


async def test_recipients_are_hashed_under_the_deployments_key(make_harness: MakeHarness) -> None:
    h = await make_harness(service=HealthyService(), hash_key="k" * 32)
    await h.message(pasted_ndr("ann.lee@fabrikam.com"))
    await h.settle()
    [(_, raw)] = await h.store.events_since(key("summary", "C1"), 0, 100)
    hashes = json.loads(raw.split(b" ", 1)[1])["h"]
    plain = hashlib.sha256(b"ann.lee@fabrikam.com").hexdigest()[:16]
    keyed = hmac.new(recipient_key("k" * 32), b"ann.lee@fabrikam.com", hashlib.sha256).hexdigest()[:16]
    assert hashes == [keyed] and plain not in hashes
    assert recipient_key("k" * 32) != recipient_key(SECRET)  # MAILFLOW_HASH_KEY, not the signing secret


@pytest.mark.parametrize("text", ["summary --since forever", "summary --since 30d", "summary --by code"])
async def test_bad_arguments_get_the_usage_privately(harness: Harness, text: str) -> None:
    await harness.command(text)
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert "/mailflow summary [--since 2h]" in reply.all_text
    assert not harness.api.calls_to("chat.postMessage")


async def test_a_failed_upload_is_said_in_the_answer(make_harness: MakeHarness) -> None:
    h = await make_harness(service=HealthyService())
    await _incident(h)
    h.api.fail_next("files.completeUploadExternal", "not_allowed_token_type")
    await h.command("summary")
    await h.settle()
    update = h.api.calls_to("chat.update")[-1]
    assert "The chart could not be attached" in update.all_text and "error id" in update.all_text
    assert "4.4.316" in update.all_text  # the table stays


async def test_without_the_chart_extra_the_table_says_why(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await make_harness(service=HealthyService())
    await _incident(h)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    await h.command("summary")
    await h.settle()
    _, text = _summary_answer(h)
    assert "chart extra" in text and "4.4.316" in text
    assert not h.api.uploads


async def test_the_stand_in_refuses_the_retired_files_upload(slack_api: SlackApi) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack_api.base_url)
    with pytest.raises(SlackApiError) as failure:
        await client.api_call("files.upload", data={"channels": "C1", "content": "x", "filename": "x.txt"})
    assert failure.value.response["error"] == "method_deprecated"
    # An upload completed without its bytes is refused too.
    started = await client.files_getUploadURLExternal(filename="a.png", length=3)
    with pytest.raises(SlackApiError) as missing:
        await client.files_completeUploadExternal(files=[{"id": started["file_id"]}], channel_id="C1")
    assert missing.value.response["error"] == "file_not_found"


def test_help_lists_summary() -> None:
    from handlers.commands import usages  # noqa: PLC0415

    assert ("/mailflow summary [--since 2h]", "slack_help_summary") in usages()


async def test_threads_are_used(make_harness: MakeHarness) -> None:
    h = await make_harness(service=HealthyService())
    await h.command("summary")
    await h.settle()
    thread_ts, _ = _summary_answer(h)
    assert thread_replies(h.api, thread_ts)


async def test_a_chart_without_a_font_for_the_language_says_its_labels_are_english(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.render import chart  # noqa: PLC0415

    h = await make_harness(service=HealthyService())
    await _incident(h)
    monkeypatch.setattr(chart, "cjk_font", lambda language: "" if language in ("ja", "ko") else None)
    await h.command("summary --lang ja")
    await h.settle()
    _, text = _summary_answer(h)
    assert knowledge.load("ja").ui["summary_chart_english"] in text
    assert len(h.api.shared_files()) == 1  # the chart still comes, in English
    await h.command("summary --lang fr")
    await h.settle()
    _, text = _summary_answer(h)
    assert knowledge.load("fr").ui["summary_chart_english"] not in text


def _on_the_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_the_table_is_counted_and_drawn_off_the_event_loop(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A week of a busy channel is thousands of events: the loop must stay free to ack Slack.
    seen: list[tuple[str, bool]] = []

    def watched(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            seen.append((name, _on_the_loop()))
            return real(*args, **kwargs)

        return run

    for name in ("summarise", "summary_message"):
        monkeypatch.setattr(handlers.summary, name, watched(name, getattr(handlers.summary, name)))
    monkeypatch.setattr(bot.store.events, "_decoded", watched("decode", bot.store.events._decoded))
    h = await make_harness(service=HealthyService())
    await _incident(h)
    await h.command("summary")
    await h.settle()
    assert "4.4.316" in _summary_answer(h)[1]
    assert {name for name, _ in seen} == {"summarise", "summary_message", "decode"}
    assert not [name for name, on_loop in seen if on_loop]


async def test_the_duplicate_paste_key_is_keyed_too(make_harness: MakeHarness) -> None:
    # The paste key's fingerprint covers the recipients: a plain SHA-256 of a guessed bounce
    # (a common text and a likely address) would find it in the store.
    h = await make_harness(service=HealthyService())
    await h.message(pasted_ndr("ann.lee@fabrikam.com"))
    await h.settle()
    store = h.store
    assert isinstance(store, MemoryStore)
    pastes = [k for k in store._entries if ":paste:" in k]
    bounce = parse_bounce(pasted_ndr("ann.lee@fabrikam.com").encode())
    primary = bounce.primary
    assert primary is not None
    parts = [primary.status, primary.reply_code, " ".join(primary.text.lower().split()), "ann.lee@fabrikam.com"]
    plain = hashlib.sha256("\x1f".join([*(p or "" for p in parts), "", ""]).encode()).hexdigest()[:32]
    assert len(pastes) == 1 and plain not in pastes[0]
