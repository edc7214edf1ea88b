"""The helpers over a store that fails every call: the bot still answers.

``ResilientStore`` normally stands in front of Redis so none of this happens; these check the
helpers' own last line (a bare ``RedisStore`` in use, or a ``StoreError`` it passes on).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from bot.probes.result import ProbeResult
from bot.store import DomainHistory, ProbeCache, RateLimiter, StoreUnavailable, Window, first_delivery


class DownStore:
    """A ``Store`` whose every call fails as an unreachable Redis would."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self) -> StoreUnavailable:
        self.calls += 1
        return StoreUnavailable("Redis at 127.0.0.1:1 is unavailable")

    async def get(self, key: str) -> bytes | None:
        raise self._fail()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        raise self._fail()

    async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
        raise self._fail()

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        raise self._fail()

    async def ttl(self, key: str) -> float | None:
        raise self._fail()

    async def incr_window(self, key: str, window_s: float) -> Window:
        raise self._fail()

    async def push_capped(self, key: str, value: bytes, cap: int, ttl: float) -> None:
        raise self._fail()

    async def list_range(self, key: str, n: int) -> list[bytes]:
        raise self._fail()

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float) -> None:
        raise self._fail()

    async def hgetall(self, key: str) -> dict[str, bytes]:
        raise self._fail()

    async def add_event(self, key: str, at: float, value: bytes, *, keep_s: float, cap: int) -> None:
        raise self._fail()

    async def events_since(self, key: str, since: float, n: int) -> list[tuple[float, bytes]]:
        raise self._fail()

    async def ping(self) -> bool:
        return False

    async def close(self) -> None:
        return None


async def test_helpers_answer_over_a_failing_store(caplog: pytest.LogCaptureFixture) -> None:
    store = DownStore()
    runs = 0

    async def probe() -> list[ProbeResult]:
        nonlocal runs
        runs += 1
        return [ProbeResult("mx", "contoso.com", True, "2 hosts")]

    with caplog.at_level(logging.WARNING, "mailflow.store"):
        cache = ProbeCache(store)
        first = await cache.get_or_run("mx", "contoso.com", {}, probe)
        second = await cache.get_or_run("mx", "contoso.com", {}, probe)
        assert (first.from_cache, second.from_cache, runs) == (False, False, 2)
        assert await RateLimiter(store).check("U1", "C1") == (True, 0.0, "")
        assert await first_delivery(store, "Ev1") is True
        history = DomainHistory(store)
        await history.record("contoso.com", None, 1.0, "fine")
        assert await history.recent("contoso.com") == []
    assert store.calls > 0
    assert "not cached" in caplog.text and "lock unavailable" in caplog.text
