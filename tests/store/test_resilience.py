"""Redis down at start, killed mid-test, frozen, and back: the store keeps answering.

Each test has a ``redis-server`` of its own (``redis_server``) to kill (SIGKILL: connections
reset), freeze (SIGSTOP: nothing answers) and restart on the same port. ``Health`` runs on a
fake clock, so the warning interval and the retry backoff pass when the test says so.
"""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from bot.errors import ConfigError
from bot.probes.result import ProbeResult
from bot.store import (
    Health,
    ProbeCache,
    RateLimiter,
    RedisStore,
    RedisTimeouts,
    ResilientStore,
    StoreUnavailable,
    first_delivery,
    key,
    open_store,
)
from bot.store.memory import MemoryStore
from tests.store.conftest import FakeClock
from tests.store.redis_server import RedisServer, free_port

K = key("test", "a")
FAST = RedisTimeouts(connect=0.2, read=0.2)


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mailflow.store" and r.levelno == logging.WARNING]


def resilient(url: str, clock: FakeClock) -> ResilientStore:
    health = Health(clock=clock, warn_interval_s=60.0, retry_min_s=1.0, retry_max_s=8.0)
    return ResilientStore(RedisStore.from_url(url, timeouts=FAST), lambda: MemoryStore(clock=clock), health=health)


async def exercise(store: ResilientStore, n: int) -> None:
    """Every kind of call the bot makes; each must answer."""
    await store.set(K, b"v", 60)
    assert await store.get(K) is not None
    await store.set_nx(key("test", "nx", n), b"1", 60)
    await store.incr_window(key("test", "rate"), 60)
    await store.push_capped(key("test", "list"), b"x", 3, 60)
    assert await store.list_range(key("test", "list"), 3)
    await store.hset(key("test", "hash"), {"f": b"1"}, 60)
    assert await store.hgetall(key("test", "hash")) == {"f": b"1"}
    assert await store.ttl(K) is not None
    await store.delete(key("test", "nx", n))


async def test_redis_down_at_start_answers_from_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    store = resilient(f"redis://127.0.0.1:{free_port()}/0", clock)
    try:
        with caplog.at_level(logging.INFO, "mailflow.store"):
            for n in range(20):
                await exercise(store, n)
            assert (await RateLimiter(store).check("U1", "C1")).allowed
            assert await first_delivery(store, "Ev1") is True
            assert await first_delivery(store, "Ev1") is False  # per process while Redis is down
        assert await store.ping() is False
        assert store.health.up is False
        assert len(warnings_in(caplog)) == 1
        assert "answering from the in-process fallback" in warnings_in(caplog)[0]
    finally:
        await store.close()


async def test_killed_mid_test_then_restarted(redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    store = resilient(redis_server.url, clock)
    raw = aioredis.Redis.from_url(redis_server.url)
    cache = ProbeCache(store)
    runs = 0

    async def probe() -> list[ProbeResult]:
        nonlocal runs
        runs += 1
        return [ProbeResult("mx", "contoso.com", True, "2 hosts")]

    try:
        with caplog.at_level(logging.INFO, "mailflow.store"):
            await store.set(K, b"in redis", 60)
            assert await raw.get(K) == b"in redis"

            redis_server.kill()
            for n in range(30):  # all answered; one warning for the lot
                await exercise(store, n)
                await cache.get_or_run("mx", "contoso.com", {}, probe)
            assert runs == 1  # the fallback caches while Redis is down
            assert store.health.up is False
            assert len(warnings_in(caplog)) == 1

            clock.now += 61  # past the warning interval (and the backoff): one more warning
            for n in range(10):
                await exercise(store, n)
            assert len(warnings_in(caplog)) == 2
            assert "call(s) answered by the fallback since the last warning" in warnings_in(caplog)[1]

            redis_server.start()  # same port
            await store.set(K, b"fallback only", 60)  # still inside the backoff: not sent to Redis
            clock.now += 10
            await store.set(K, b"in redis again", 60)
            assert store.health.up is True
            await raw.aclose()
            raw = aioredis.Redis.from_url(redis_server.url)  # the old one's connection died with the server
            assert await raw.get(K) == b"in redis again"
            assert any("back after" in r.getMessage() for r in caplog.records)
            assert len(warnings_in(caplog)) == 2
            await exercise(store, 99)
            assert await raw.pttl(key("test", "list")) > 0
    finally:
        await store.close()
        await raw.aclose()


async def test_each_outage_starts_from_an_empty_fallback(redis_server: RedisServer) -> None:
    clock = FakeClock(0.0)
    store = resilient(redis_server.url, clock)
    try:
        redis_server.kill()
        assert await store.set_nx(K, b"lock taken while down", 60) is True
        redis_server.start()
        clock.now += 2
        assert await store.delete(K, if_value=b"lock taken while down") is False  # released against Redis
        assert store.health.up is True
        redis_server.kill()
        assert await store.set_nx(K, b"a new outage", 60) is True  # not blocked by the old one
    finally:
        await store.close()


async def test_a_frozen_redis_times_out_and_the_fallback_answers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(0.0)
    store = resilient(redis_server.url, clock)
    try:
        await store.set(K, b"in redis", 60)
        redis_server.freeze()
        with caplog.at_level(logging.WARNING, "mailflow.store"):
            assert await store.get(K) is None  # the fallback never saw it
            await store.set(K, b"fallback", 60)
            assert await store.get(K) == b"fallback"
        assert "did not answer GET within 0.2 s" in warnings_in(caplog)[0]
        redis_server.thaw()
        clock.now += 2
        assert await store.get(K) == b"in redis"
        assert store.health.up is True
    finally:
        redis_server.thaw()
        await store.close()


async def test_redis_store_alone_translates_errors(redis_server: RedisServer) -> None:
    store = RedisStore.from_url(redis_server.url, timeouts=FAST)
    try:
        await store.set(K, b"v", 60)
        redis_server.kill()
        with pytest.raises(StoreUnavailable, match=rf"Redis at 127.0.0.1:{redis_server.port} is unavailable \(GET\)"):
            await store.get(K)
        assert await store.ping() is False
    finally:
        await store.close()


def test_open_store_picks_by_url() -> None:
    assert isinstance(open_store(None), MemoryStore)
    assert isinstance(open_store(""), MemoryStore)
    store = open_store("redis://127.0.0.1:1/0")
    assert isinstance(store, ResilientStore)
    assert isinstance(store.primary, RedisStore)
    with pytest.raises(ConfigError, match="REDIS_URL: cannot use this Redis URL"):  # bad configuration: exit 2
        open_store("http://127.0.0.1/")


# Health on its own: (clock, event) steps and what it must answer.
def test_health_backoff_doubles_up_to_the_cap_and_resets() -> None:
    clock = FakeClock(0.0)
    health = Health(clock=clock, warn_interval_s=60, retry_min_s=1, retry_max_s=4)
    assert health.begin() is True
    assert health.failed("refused") is not None  # first failure: warn
    retries = []
    for _ in range(5):
        assert health.begin() is False  # inside the backoff: the fallback answers
        waited = 0.0
        while not health.begin():
            clock.now += 0.5
            waited += 0.5
        assert health.begin() is False  # one probe at a time
        retries.append(waited)
        assert health.failed("refused") is None  # inside the warning interval
    assert retries == [1.0, 2.0, 4.0, 4.0, 4.0]
    clock.now += 60
    assert health.begin() is True
    message = health.failed("refused")
    assert message is not None and "call(s) answered by the fallback" in message
    clock.now += 4
    assert health.begin() is True
    assert health.succeeded() == "shared store is back after 79.0 s; using it again"
    assert health.up and health.begin() and health.succeeded() is None


def test_health_cancelled_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock(0.0)
    health = Health(clock=clock, retry_min_s=1)
    health.failed("refused")
    clock.now += 1
    assert health.begin() is True
    health.abandoned()
    assert health.begin() is True
