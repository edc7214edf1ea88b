"""Fixtures for the store tests: every contract test runs once per implementation.

``env`` is parametrized over ``memory`` (a ``MemoryStore`` on a fake monotonic clock) and
``redis`` (a ``RedisStore`` on a ``redis-server`` this session starts on 127.0.0.1 and a free
port, or on ``REDIS_URL`` when it is set, and points at 127.0.0.1). ``env.advance(s)`` makes
``s`` seconds pass for the store: the fake clock jumps for memory, the test sleeps for Redis
(whose expiry runs on its own clock). ``env.wall`` is the fake wall clock handed to the
helpers that stamp times (probe cache, history); ``advance`` moves it too. Before each Redis
test the ``mailflow:*`` keys are deleted (and nothing else, should REDIS_URL be a shared one).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from bot.store import MemoryStore, RedisStore, RedisTimeouts, Store
from tests.store.redis_server import LOOPBACK, RedisServer, redis_server  # noqa: F401 - a fixture


def within(ttl: float | None, expected: float) -> bool:
    """An expiry set to ``expected`` seconds, read back soon after (ms rounding, a little time)."""
    return ttl is not None and expected - 1.0 < ttl <= expected + 0.001


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    kind: str
    store: Store
    wall: FakeClock
    mono: FakeClock | None  # the memory store's clock; None for Redis
    raw: aioredis.Redis | None  # a plain client on the same Redis, for inspection

    async def advance(self, seconds: float) -> None:
        self.wall.now += seconds
        if self.mono is not None:
            self.mono.now += seconds
        else:
            await asyncio.sleep(seconds)

    async def keys(self) -> list[str]:
        if isinstance(self.store, MemoryStore):
            return self.store.keys()
        assert self.raw is not None
        return sorted([k.decode() async for k in self.raw.scan_iter(match="mailflow:*")])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        assert urlsplit(url).hostname in (LOOPBACK, "localhost"), "the store tests only talk to 127.0.0.1"
        yield url
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


async def clean(raw: aioredis.Redis) -> None:
    keys = [k async for k in raw.scan_iter(match="mailflow:*")]
    if keys:
        await raw.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    wall = FakeClock(1_700_000_000.0)
    if request.param == "memory":
        mono = FakeClock(1000.0)
        yield Env("memory", MemoryStore(clock=mono), wall, mono, None)
        return
    url = request.getfixturevalue("redis_url")
    raw = aioredis.Redis.from_url(url)
    await clean(raw)
    store = RedisStore.from_url(url, timeouts=RedisTimeouts(connect=2.0, read=2.0))
    try:
        yield Env("redis", store, wall, None, raw)
    finally:
        await store.close()
        await clean(raw)
        await raw.aclose()
