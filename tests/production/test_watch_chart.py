"""A watch's recovery brings the incident's chart into its thread (bot/watch/incident.py), shared
through the Web API stand-in with files.getUploadURLExternal + files.completeUploadExternal."""

# ruff: noqa: F811  (fixtures imported by name)
from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from PIL import Image
from slack_sdk.web.async_client import AsyncWebClient

from bot.store import ChannelEvents, MemoryStore
from bot.summary import Event
from bot.watch import WatchBook, WatchRunner
from bot.watch.incident import incident_charter
from tests.fixtures.slack_api import SlackApi, slack_api  # noqa: F401
from tests.production.test_watch import CHANNEL, HEALTHY, THREAD, Recorder, Script, books, run_ticks  # noqa: F401

pytestmark = pytest.mark.timeout(60)


async def _bounces(store: MemoryStore, n: int) -> None:
    events = ChannelEvents(store)
    now = time.time()
    for i in range(n):
        code = "4.4.316" if i % 3 else "4.4.317"
        await events.record(CHANNEL, Event("bounce", now - 60 * i, code, code, "expired", ("contoso.com",)))


async def test_a_recovery_shares_the_incident_chart_in_the_thread(
    books: Callable[..., WatchBook], slack_api: SlackApi
) -> None:
    store = MemoryStore()
    await _bounces(store, 9)
    client = AsyncWebClient(token=slack_api.token, base_url=slack_api.base_url)
    recorder = Recorder()
    book = books()
    runner = WatchRunner(book, Script(["4.4.316", HEALTHY]), recorder, on_recovery=incident_charter(client, store))
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, thread_ts=THREAD, language="fr")
    assert await run_ticks(runner, book, "contoso.com", 2) == ["baseline", "changed"]
    assert len(recorder.posts) == 1 and "contoso.com" in recorder.posts[0].text
    (upload,) = slack_api.shared_files()
    assert upload.shared is not None
    assert (upload.shared["channel_id"], upload.shared["thread_ts"]) == (CHANNEL, THREAD)
    assert "incident" in str(upload.shared.get("initial_comment", "")).lower()
    assert upload.data is not None
    image = Image.open(io.BytesIO(upload.data))
    assert image.format == "PNG" and image.size[0] == 1200
    assert not slack_api.calls_to("files.upload")


async def test_a_new_failure_or_a_quiet_channel_shares_no_chart(
    books: Callable[..., WatchBook], slack_api: SlackApi
) -> None:
    store = MemoryStore()
    await _bounces(store, 3)
    client = AsyncWebClient(token=slack_api.token, base_url=slack_api.base_url)
    book = books()
    runner = WatchRunner(book, Script([HEALTHY, "4.4.316"]), Recorder(), on_recovery=incident_charter(client, store))
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, thread_ts=THREAD)
    assert await run_ticks(runner, book, "contoso.com", 2) == ["baseline", "changed"]
    assert not slack_api.uploads  # a failure is no recovery
    quiet = WatchRunner(
        books(), Script(["4.4.316", HEALTHY]), Recorder(), on_recovery=incident_charter(client, MemoryStore())
    )
    await book.start(channel=CHANNEL, domain="fabrikam.com", every_s=300, for_s=7200, thread_ts=THREAD)
    assert await run_ticks(quiet, book, "fabrikam.com", 2) == ["baseline", "changed"]
    assert not slack_api.uploads  # no bounces seen: nothing to draw


async def test_a_failed_upload_leaves_the_recovery_posted(books: Callable[..., WatchBook], slack_api: SlackApi) -> None:
    store = MemoryStore()
    await _bounces(store, 3)
    client = AsyncWebClient(token=slack_api.token, base_url=slack_api.base_url)
    slack_api.fail_next("files.getUploadURLExternal", "not_in_channel")
    recorder = Recorder()
    book = books()
    runner = WatchRunner(book, Script(["4.4.316", HEALTHY]), recorder, on_recovery=incident_charter(client, store))
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, thread_ts=THREAD)
    assert await run_ticks(runner, book, "contoso.com", 3) == ["baseline", "changed", "same"]
    assert len(recorder.posts) == 1  # posted once, not again for the chart's sake
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None and watch.outbox == ()
