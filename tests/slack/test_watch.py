"""``/mailflow watch``, ``unwatch`` and ``watches`` through the real app, with the book on a real Redis.

The watch state is what ``mailflow worker`` reads (tests/production show the worker posting
changes); here: what the commands answer, where, and what they leave in Redis.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from bot.watch import WatchBook
from handlers import Watches
from tests.slack.conftest import Harness, MakeHarness
from tests.store.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis-watch")))
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@pytest.fixture
async def watches(redis_url: str) -> AsyncIterator[Watches]:
    settings: Settings = load_settings(env_file=None, redis_url=redis_url, watch_max_per_channel=2)
    book = WatchBook.from_settings(settings)
    await book.redis.flushdb()
    try:
        yield Watches(book, settings)
    finally:
        await book.close()


def texts(calls: list[object]) -> str:
    return json.dumps([getattr(c, "params", None) or getattr(c, "body", None) for c in calls], ensure_ascii=False)


async def test_watch_answers_in_a_thread_and_the_book_holds_it(make_harness: MakeHarness, watches: Watches) -> None:
    h: Harness = await make_harness(watches=watches)
    status, _ = await h.command("watch contoso.test --every 2m --for 1h", channel="C7")
    await h.settle()
    assert status == 200
    parent, answer = h.api.calls_to("chat.postMessage")
    assert parent.params["channel"] == "C7" and parent.params.get("thread_ts") is None
    assert "/mailflow watch contoso.test" in parent.all_text
    assert answer.params["thread_ts"] == "1700000000.000001"  # under the request, where changes will go
    assert "Watching contoso.test every 2m" in answer.all_text
    (watch,) = await watches.book.in_channel("C7")
    assert (watch.domain, watch.every_s, watch.thread_ts) == ("contoso.test", 120.0, answer.params["thread_ts"])

    await h.command("watches", channel="C7")
    await h.settle()
    (listing,) = h.api.calls_to("response_url")
    assert "contoso.test: every 2m" in texts([listing])

    await h.command("unwatch contoso.test", channel="C7")
    await h.settle()
    assert "Stopped watching contoso.test." in h.api.calls_to("chat.postMessage")[-1].all_text
    assert await watches.book.in_channel("C7") == []


async def test_watch_in_the_readers_language_and_the_channel_cap(make_harness: MakeHarness, watches: Watches) -> None:
    h = await make_harness(watches=watches)
    for domain in ("a.test", "b.test", "c.test"):
        await h.command(f"watch {domain} --lang fr", channel="C8")
        await h.settle()
    answers = [c for c in h.api.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert "Surveillance de a.test" in texts(answers[:1])
    assert "déjà 2 surveillances" in texts(answers[2:])
    assert len(await watches.book.in_channel("C8")) == 2


async def test_bad_watch_arguments_get_a_usage_reply(make_harness: MakeHarness, watches: Watches) -> None:
    h = await make_harness(watches=watches)
    await h.command("watch contoso.test --every 1s")
    await h.settle()
    (reply,) = h.api.calls_to("response_url")
    assert "--every must be at least" in texts([reply])
    assert not h.api.calls_to("chat.postMessage")


async def test_without_redis_watches_say_what_they_need(harness: Harness) -> None:
    await harness.command("watch contoso.test")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    assert "Watches need Redis" in texts([reply])
    assert not harness.api.calls_to("chat.postMessage")


async def test_help_lists_the_watch_commands(harness: Harness) -> None:
    await harness.command("help")
    await harness.settle()
    (reply,) = harness.api.calls_to("response_url")
    shown = texts([reply])
    assert "/mailflow watch &lt;domain&gt; [--every 5m] [--for 2h]" in shown
    assert "/mailflow unwatch &lt;domain&gt;" in shown and "/mailflow watches" in shown
