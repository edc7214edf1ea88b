"""``ResilientStore``: Redis when it answers, an in-process fallback while it does not.

Strategy: a small state machine (``Health``, no I/O, driven by an injectable monotonic clock)
decides where each call goes; ``ResilientStore`` is the thin async loop around it.

    up    -- every call goes to the primary; a ``StoreUnavailable`` marks it down and the call
             is answered by the fallback instead
    down  -- calls go straight to the fallback (no socket touched, so nothing waits on a dead
             Redis); once the backoff has passed, one call at a time probes the primary; its
             success brings the store back up, its failure doubles the backoff (up to a cap)

A warning is logged when the primary goes down and at most once per ``warn_interval_s`` while
it stays down (with the count of calls the fallback answered meanwhile); its return is logged
at INFO. While down, the cache, rate limits and dedup are per process: better a duplicate
probe or message than no answer. What the fallback learnt is not copied back to Redis, and
each outage starts from an empty fallback.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from bot.store.base import Store, Window
from bot.store.errors import StoreUnavailable
from bot.store.memory import MemoryStore

log = logging.getLogger("mailflow.store")
T = TypeVar("T")
Clock = Callable[[], float]


class Health:
    """Whether to use the primary now, and what to log about it. Pure: no I/O, no logging."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        warn_interval_s: float = 60.0,
        retry_min_s: float = 1.0,
        retry_max_s: float = 30.0,
    ) -> None:
        self._clock = clock
        self.warn_interval_s = warn_interval_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.down_since: float | None = None
        self._backoff = retry_min_s
        self._retry_at = 0.0
        self._probing = False
        self._last_warning = -math.inf
        self._unreported = 0

    @property
    def up(self) -> bool:
        return self.down_since is None

    def begin(self) -> bool:
        """True: send this call to the primary (when down, it becomes the one probe)."""
        if self.down_since is None:
            return True
        if self._probing or self._clock() < self._retry_at:
            self._unreported += 1
            return False
        self._probing = True
        return True

    def abandoned(self) -> None:
        """The call sent to the primary was cancelled: neither success nor failure."""
        self._probing = False

    def failed(self, reason: str) -> str | None:
        """Record a failure; the warning to log, or None inside the quiet interval."""
        now = self._clock()
        if self.down_since is None:
            self.down_since = now
            self._backoff = self.retry_min_s
        elif self._probing:
            self._backoff = min(self._backoff * 2, self.retry_max_s)
        self._probing = False
        self._retry_at = now + self._backoff
        if now - self._last_warning < self.warn_interval_s:
            self._unreported += 1
            return None
        self._last_warning = now
        unreported, self._unreported = self._unreported, 0
        more = f"; {unreported} call(s) answered by the fallback since the last warning" if unreported else ""
        return (
            f"shared store unavailable, answering from the in-process fallback "
            f"(retrying in {self._backoff:g} s){more}: {reason}"
        )

    def succeeded(self) -> str | None:
        """Record a success; a message when this ends an outage."""
        self._probing = False
        if self.down_since is None:
            return None
        outage = self._clock() - self.down_since
        self.down_since = None
        self._backoff = self.retry_min_s
        self._last_warning = -math.inf
        self._unreported = 0
        return f"shared store is back after {outage:.1f} s; using it again"


class ResilientStore:
    """A ``Store`` that never raises ``StoreUnavailable``: ``primary``, else a fallback.

    ``fallback`` makes the fallback store; a fresh one is made each time the primary goes
    down, so nothing from an earlier outage (a lock whose release went to Redis, results
    Redis has since replaced) outlives the Redis it stood in for.
    """

    def __init__(
        self, primary: Store, fallback: Callable[[], Store] = MemoryStore, *, health: Health | None = None
    ) -> None:
        self.primary = primary
        self._make_fallback = fallback
        self.fallback = fallback()
        self.health = health or Health()

    async def _call(self, op: Callable[[Store], Awaitable[T]]) -> T:
        if self.health.begin():
            try:
                result = await op(self.primary)
            except StoreUnavailable as exc:
                if self.health.up:  # going down now: start from an empty fallback
                    stale, self.fallback = self.fallback, self._make_fallback()
                    await stale.close()
                if message := self.health.failed(str(exc)):
                    log.warning(message)
            except BaseException:
                self.health.abandoned()
                raise
            else:
                if message := self.health.succeeded():
                    log.info(message)
                return result
        return await op(self.fallback)

    async def get(self, key: str) -> bytes | None:
        return await self._call(lambda s: s.get(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._call(lambda s: s.set(key, value, ttl))

    async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
        return await self._call(lambda s: s.set_nx(key, value, ttl))

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        return await self._call(lambda s: s.delete(key, if_value=if_value))

    async def ttl(self, key: str) -> float | None:
        return await self._call(lambda s: s.ttl(key))

    async def incr_window(self, key: str, window_s: float) -> Window:
        return await self._call(lambda s: s.incr_window(key, window_s))

    async def push_capped(self, key: str, value: bytes, cap: int, ttl: float) -> None:
        await self._call(lambda s: s.push_capped(key, value, cap, ttl))

    async def list_range(self, key: str, n: int) -> list[bytes]:
        return await self._call(lambda s: s.list_range(key, n))

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float) -> None:
        await self._call(lambda s: s.hset(key, mapping, ttl))

    async def hgetall(self, key: str) -> dict[str, bytes]:
        return await self._call(lambda s: s.hgetall(key))

    async def add_event(self, key: str, at: float, value: bytes, *, keep_s: float, cap: int) -> None:
        await self._call(lambda s: s.add_event(key, at, value, keep_s=keep_s, cap=cap))

    async def events_since(self, key: str, since: float, n: int) -> list[tuple[float, bytes]]:
        return await self._call(lambda s: s.events_since(key, since, n))

    async def ping(self) -> bool:
        """Whether the primary answers now (the fallback always would)."""
        return await self.primary.ping()

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()
