"""Watches: argument parsing, the book in a real Redis, and ticks driven by hand.

The ticks here use a scripted ``diagnose`` (a list of verdicts, one per tick) and a recording
poster, so each rule of ``WatchRunner`` is checked on its own; ``test_scale`` runs the same
code with real probes, real arq workers and a local Slack API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from bot.diagnose import DiagnoseRequest, Diagnosis
from bot.errors import InputError, TargetRefused
from bot.explain import explain_code
from bot.observability import Metrics
from bot.probes.result import ProbeResult
from bot.settings import Settings, load_settings
from bot.store import StoreUnavailable
from bot.verdict import INCOMPLETE, NULL_MX, Verdict
from bot.watch import (
    HEALTHY,
    PostRequest,
    WatchArgs,
    WatchBook,
    WatchRunner,
    list_watches,
    normalise_domain,
    parse_watch_args,
    start_watch,
    stop_watch,
    verdict_key,
)
from bot.watch.book import QUEUE, arq_redis
from bot.watch.messages import change_text, labels, slack_time

pytestmark = pytest.mark.timeout(30)
CHANNEL = "C0INCIDENT"
THREAD = "1732870000.000100"


@pytest.fixture
def settings() -> Settings:
    return load_settings(env_file=None, watch_min_every="1s", watch_every="5m", watch_for="2h", watch_max_per_channel=3)


# --- parsing ------------------------------------------------------------------------------------

PARSE = [
    ("contoso.com", WatchArgs("contoso.com", 300, 7200)),
    ("Contoso.COM. --every 10m", WatchArgs("contoso.com", 600, 7200)),
    ("--for 30m contoso.com --every=1m", WatchArgs("contoso.com", 60, 1800)),
    ("<http://contoso.com|contoso.com> --for 1h", WatchArgs("contoso.com", 300, 3600)),
    ("<mailto:alex@fabrikam.com|alex@fabrikam.com>", WatchArgs("fabrikam.com", 300, 7200)),
    ("alex@fabrikam.com --every 90s", WatchArgs("fabrikam.com", 90, 7200)),
]


@pytest.mark.parametrize(("text", "expected"), PARSE, ids=[p[0] for p in PARSE])
def test_parse_watch_args(settings: Settings, text: str, expected: WatchArgs) -> None:
    assert parse_watch_args(text, settings) == expected


PARSE_ERRORS = [
    ("", "name the domain to watch"),
    ("--every 5m", "name the domain to watch"),
    ("contoso.com fabrikam.com", "one domain at a time"),
    ("contoso.com --every", "--every needs a duration"),
    ("contoso.com --every soon", "not a duration"),
    ("contoso.com --often 5m", "unknown option --often"),
    ("contoso.com --for 3d", "--for must be at most 1d"),
    ("contoso.com --every 3h --for 2h", "--every (3h) is longer than --for (2h)"),
    ("not_a_domain!", "is not a domain name"),
    ("localhost", "is not a domain name"),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS, ids=[p[0] or "empty" for p in PARSE_ERRORS])
def test_parse_watch_args_refuses(settings: Settings, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_watch_args(text, settings)


def test_every_below_the_minimum_is_refused() -> None:
    settings = load_settings(env_file=None)  # MAILFLOW_WATCH_MIN_EVERY 1m
    with pytest.raises(InputError, match="--every must be at least 1m"):
        parse_watch_args("contoso.com --every 10s", settings)


def test_normalise_domain_keeps_ip_literals() -> None:
    assert normalise_domain("127.0.0.1") == "127.0.0.1"


# --- verdicts and messages ----------------------------------------------------------------------


def diagnosis(key: str | None, domain: str = "contoso.com") -> Diagnosis:
    """A diagnosis whose verdict key is ``key`` (a code, HEALTHY, NULL_MX, or None: incomplete)."""
    request = DiagnoseRequest(domain)
    if key == HEALTHY:
        verdict = Verdict(None, (), (), reachable=2, attempted=2)
    elif key in (NULL_MX, None):
        verdict = Verdict(None, (), (), reachable=0, attempted=0, failure=key or INCOMPLETE)
    else:
        refused = ProbeResult("tcp", "203.0.113.25:25", False, "203.0.113.25:25 refused the connection", code=key)
        verdict = Verdict(key, (refused,), (), reachable=0, attempted=2)
    return Diagnosis(request, verdict, (), explain_code(key) if key and "." in key else None, 1.0)


@pytest.mark.parametrize("key", ["4.4.316", "4.4.317", HEALTHY, NULL_MX, None])
def test_verdict_key(key: str | None) -> None:
    assert verdict_key(diagnosis(key).verdict) == key


def test_change_messages() -> None:
    book_watch = _watch()
    at = 1732874520.0  # 10:02 UTC
    recovered = change_text(book_watch, diagnosis(HEALTHY), at=at)
    assert recovered == f"Recovered at {slack_time(at)}: contoso.com accepts mail again (2 of 2 addresses accept mail)."
    assert slack_time(at) == "<!date^1732874520^{time}|10:02 UTC>"
    failing = change_text(book_watch, diagnosis("4.4.316"), at=at)
    title = explain_code("4.4.316")
    assert title is not None
    assert failing == (
        f"Changed at {slack_time(at)}: contoso.com now fails with 4.4.316: {title.title} "
        "(203.0.113.25:25 refused the connection)."
    )
    assert set(labels("en")) >= {"watch_recovered", "watch_failing", "watch_started"}


def _watch() -> object:
    from bot.watch import Watch  # noqa: PLC0415

    return Watch("id1", CHANNEL, THREAD, "contoso.com", 300, 0.0, 7200.0)


# --- the book in Redis --------------------------------------------------------------------------


@pytest.fixture
async def books(redis_url: str) -> AsyncIterator[Callable[..., WatchBook]]:
    """A factory of books, each on its own connection pool (one per "process")."""
    opened: list[WatchBook] = []

    def make(cap: int = 3) -> WatchBook:
        book = WatchBook(arq_redis(redis_url), max_per_channel=cap)
        opened.append(book)
        return book

    yield make
    for book in opened:
        await book.close()


async def every_key_expires(redis_url: str) -> list[str]:
    raw = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in raw.scan_iter(match="mailflow:*")]
        for name in keys:
            assert await raw.pttl(name) != -1, f"{name} has no expiry"  # -2: gone since the scan
        return sorted(keys)
    finally:
        await raw.aclose()


async def test_start_list_stop(books: Callable[..., WatchBook], redis_url: str) -> None:
    book = books()
    args = WatchArgs("contoso.com", 300, 7200)
    reply = await start_watch(book, args, channel=CHANNEL, thread_ts=THREAD, user="U1", language="en")
    assert reply.ok and reply.text.startswith("Watching contoso.com every 5m until <!date^")
    again = await start_watch(book, args, channel=CHANNEL, thread_ts="other", language="en")
    assert not again.ok and again.text.startswith("contoso.com is already watched in this channel")
    assert again.watches[0].id == reply.watches[0].id
    listed = await list_watches(book, channel=CHANNEL)
    assert [w.domain for w in listed.watches] == ["contoso.com"] and "verdict not checked yet" in listed.text
    keys = await every_key_expires(redis_url)
    assert keys == [
        "mailflow:v1:watch:all",
        f"mailflow:v1:watch:channel:{CHANNEL.lower()}",
        f"mailflow:v1:watch:state:{CHANNEL.lower()}:contoso.com",
    ]
    jobs = await book.redis.queued_jobs(queue_name=QUEUE)
    assert [(j.function, j.args) for j in jobs] == [("watch_tick", [CHANNEL, "contoso.com", reply.watches[0].id, 0])]
    stopped = await stop_watch(book, "CONTOSO.com", channel=CHANNEL)
    assert stopped.ok and stopped.text == "Stopped watching contoso.com."
    assert not (await stop_watch(book, "contoso.com", channel=CHANNEL)).ok
    assert (await list_watches(book, channel=CHANNEL)).text == "No watches in this channel."


async def test_the_cap_holds_across_processes(books: Callable[..., WatchBook], redis_url: str) -> None:
    """Two "bot processes" start 12 watches at once in one channel: exactly the cap (3) start."""
    a, b = books(), books()
    replies = await asyncio.gather(
        *(
            start_watch((a, b)[n % 2], WatchArgs(f"d{n}.example", 300, 7200), channel=CHANNEL, thread_ts=THREAD)
            for n in range(12)
        )
    )
    assert sum(r.ok for r in replies) == 3
    assert {r.text for r in replies if not r.ok} == {
        "This channel already has 3 watches. Stop one first with /mailflow unwatch DOMAIN."
    }
    assert len((await list_watches(a, channel="C0OTHER")).watches) == 0
    assert (await start_watch(b, WatchArgs("d0.example", 300, 7200), channel="C0OTHER", thread_ts=None)).ok
    await every_key_expires(redis_url)


async def test_one_domain_started_at_once_from_two_processes(books: Callable[..., WatchBook]) -> None:
    a, b = books(), books()
    args = WatchArgs("contoso.com", 300, 7200)
    replies = await asyncio.gather(
        *(start_watch((a, b)[n % 2], args, channel=CHANNEL, thread_ts=THREAD) for n in range(10))
    )
    assert sum(r.ok for r in replies) == 1
    assert len({r.watches[0].id for r in replies}) == 1


async def test_watches_end_by_themselves(books: Callable[..., WatchBook]) -> None:
    book = books()
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=0.2, for_s=0.4)
    assert len(await book.in_channel(CHANNEL)) == 1
    await asyncio.sleep(0.5)
    assert await book.in_channel(CHANNEL) == [] and await book.active() == []
    ttl = await book.redis.pttl(book.state_key(CHANNEL, "contoso.com"))
    assert 0 < ttl <= 600_000  # the state lingers for the grace period only


# --- ticks by hand ------------------------------------------------------------------------------


@dataclass
class Script:
    """``diagnose`` answering from a list of verdict keys (the last one repeats)."""

    keys: list[str | None]
    calls: int = 0

    async def __call__(self, request: DiagnoseRequest, language: str) -> Diagnosis:
        key = self.keys[min(self.calls, len(self.keys) - 1)]
        self.calls += 1
        return diagnosis(key, request.domain)


@dataclass
class Recorder:
    """A poster that records, and fails with the queued errors first."""

    posts: list[PostRequest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def __call__(self, message: PostRequest) -> str | None:
        if self.errors:
            return self.errors.pop(0)
        self.posts.append(message)
        return None


async def run_ticks(runner: WatchRunner, book: WatchBook, domain: str, n: int) -> list[str]:
    watch = await book.get(CHANNEL, domain)
    assert watch is not None
    return [await runner.tick(CHANNEL, domain, watch.id, tick) for tick in range(n)]


async def test_only_changes_are_posted(books: Callable[..., WatchBook]) -> None:
    book = books()
    script = Script(["4.4.316", "4.4.316", None, HEALTHY, HEALTHY, "4.4.317", "4.4.317"])
    recorder = Recorder()
    metrics = Metrics()
    runner = WatchRunner(book, script, recorder, metrics=metrics)
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, thread_ts=THREAD)
    outcomes = await run_ticks(runner, book, "contoso.com", 7)
    assert outcomes == ["baseline", "same", "inconclusive", "changed", "same", "changed", "same"]
    assert [p.thread_ts for p in recorder.posts] == [THREAD, THREAD]
    assert recorder.posts[0].text.startswith("Recovered at <!date^")
    assert "now fails with 4.4.317" in recorder.posts[1].text
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None and (watch.verdict, watch.changes, watch.outbox) == ("4.4.317", 2, ())
    assert metrics.registry.get_sample_value("mailflow_watch_ticks_total", {"outcome": "changed"}) == 2
    assert metrics.registry.get_sample_value("mailflow_watch_posts_total", {"result": "ok"}) == 2


async def test_a_baseline_from_the_thread_makes_the_first_tick_count(books: Callable[..., WatchBook]) -> None:
    book = books()
    recorder = Recorder()
    runner = WatchRunner(book, Script([HEALTHY]), recorder)
    await start_watch(book, WatchArgs("contoso.com", 300, 7200), channel=CHANNEL, thread_ts=THREAD, baseline="4.4.316")
    assert await run_ticks(runner, book, "contoso.com", 1) == ["changed"]
    assert len(recorder.posts) == 1


async def test_a_failed_post_is_retried_on_the_next_tick(books: Callable[..., WatchBook]) -> None:
    book = books()
    recorder = Recorder(errors=["ratelimited"])
    runner = WatchRunner(book, Script(["4.4.316", HEALTHY]), recorder)
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, thread_ts=THREAD)
    assert await run_ticks(runner, book, "contoso.com", 3) == ["baseline", "changed", "same"]
    assert len(recorder.posts) == 1 and recorder.posts[0].text.startswith("Recovered")
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None and watch.outbox == ()


async def test_a_channel_that_is_gone_stops_the_watch(books: Callable[..., WatchBook]) -> None:
    book = books()
    recorder = Recorder(errors=["channel_not_found"])
    runner = WatchRunner(book, Script(["4.4.316", HEALTHY]), recorder)
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200)
    assert await run_ticks(runner, book, "contoso.com", 3) == ["baseline", "changed", "gone"]
    assert await book.get(CHANNEL, "contoso.com") is None and recorder.posts == []


async def test_concurrent_ticks_post_a_change_once(books: Callable[..., WatchBook]) -> None:
    """Three "workers" run the same tick at once (a retry racing the original): one post."""
    recorder = Recorder()
    book = books()
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, baseline="4.4.316")
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None
    runners = [WatchRunner(books(), Script([HEALTHY]), recorder) for _ in range(3)]
    outcomes = await asyncio.gather(*(r.tick(CHANNEL, "contoso.com", watch.id, 1) for r in runners))
    assert sorted(outcomes)[0] == "changed" and set(sorted(outcomes)[1:]) <= {"same", "stale"}
    assert len(recorder.posts) == 1


async def test_a_stopped_or_replaced_watch_ends_its_chain(books: Callable[..., WatchBook]) -> None:
    book = books()
    runner = WatchRunner(book, Script([HEALTHY]), Recorder())
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200)
    old = await book.get(CHANNEL, "contoso.com")
    assert old is not None
    await book.stop(CHANNEL, "contoso.com")
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200)
    assert await runner.tick(CHANNEL, "contoso.com", old.id, 1) == "gone"
    assert await runner.tick(CHANNEL, "fabrikam.com", old.id, 1) == "gone"


async def test_ticks_chain_and_the_sweeper_does_not_duplicate(books: Callable[..., WatchBook]) -> None:
    book = books()
    runner = WatchRunner(book, Script([HEALTHY]), Recorder())
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200)
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None
    await runner.tick(CHANNEL, "contoso.com", watch.id, 0)
    assert await runner.sweep() == 1
    assert await runner.sweep() == 1
    jobs = sorted((j.args[3], j.job_id) for j in await book.redis.queued_jobs(queue_name=QUEUE))
    assert jobs == [(0, book.job_id(watch.id, 0)), (1, book.job_id(watch.id, 1))]  # tick 0 is ours, run by hand


async def test_errors_skip_a_tick_and_a_refused_target_ends_the_watch(books: Callable[..., WatchBook]) -> None:
    book = books()
    failures: list[Exception] = [StoreUnavailable("Redis at 127.0.0.1:1 is unavailable"), TargetRefused("refused")]

    async def failing(request: DiagnoseRequest, language: str) -> Diagnosis:
        raise failures.pop(0)

    runner = WatchRunner(book, failing, Recorder())
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200)
    assert await run_ticks(runner, book, "contoso.com", 1) == ["error"]
    assert await book.get(CHANNEL, "contoso.com") is not None
    assert await run_ticks(runner, book, "contoso.com", 1) == ["refused"]
    assert await book.get(CHANNEL, "contoso.com") is None


async def test_a_slow_tick_cannot_announce_an_old_verdict(books: Callable[..., WatchBook]) -> None:
    """Tick 1's probes start first and finish last (it saw 4.4.316); tick 2 started later and
    already recorded "healthy": tick 1 is stale and posts nothing."""
    book = books()
    await book.start(channel=CHANNEL, domain="contoso.com", every_s=300, for_s=7200, baseline=HEALTHY)
    watch = await book.get(CHANNEL, "contoso.com")
    assert watch is not None
    release = asyncio.Event()

    async def slow(request: DiagnoseRequest, language: str) -> Diagnosis:
        await release.wait()
        return diagnosis("4.4.316")

    recorder = Recorder()
    slow_tick = asyncio.create_task(WatchRunner(book, slow, recorder).tick(CHANNEL, "contoso.com", watch.id, 1))
    await asyncio.sleep(0.05)
    assert await WatchRunner(book, Script([HEALTHY]), recorder).tick(CHANNEL, "contoso.com", watch.id, 2) == "same"
    release.set()
    assert await slow_tick == "stale"
    assert recorder.posts == []
