"""``MemoryStore``: the embedded store, for the CLI and a single bot process (no Redis needed).

Strategy: one ``OrderedDict`` of entries in least-recently-used order, each with an absolute
expiry on an injectable monotonic clock. Expired entries are dropped when they are touched;
the size is bounded by ``max_entries``: when full, expired entries go first, then the least
recently used, so a busy bot cannot grow it without limit. The bound is large (100,000: ten
minutes of delivery ids at over 150 events a second) because an evicted dedup key is a reply
sent twice. Semantics follow Redis (a list is capped on push, a
hash's expiry covers the whole hash, a counter's window opens at its first hit), so the
contract tests run unchanged against both stores. Nothing here awaits: every call completes
at once, which is also why concurrent callers cannot interleave inside one.
"""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from bot.store.base import Window, check_ttl
from bot.store.errors import StoreError

Clock = Callable[[], float]


class _Events:
    """A time-ordered set of events: (time, value) pairs sorted by time, each value once."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[float, bytes]] = []


_Value = bytes | int | list[bytes] | dict[str, bytes] | _Events
_T = TypeVar("_T", bytes, int, list[bytes], dict[str, bytes], _Events)


@dataclass(slots=True)
class _Entry:
    value: _Value
    expires_at: float


class MemoryStore:
    """An in-process ``Store`` with expiry and LRU eviction."""

    def __init__(self, *, max_entries: int = 100_000, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._next_sweep = 0.0

    def keys(self) -> list[str]:
        """The live keys, least recently used first (for inspection and tests)."""
        now = self._clock()
        return [k for k, e in self._entries.items() if e.expires_at > now]

    def __len__(self) -> int:
        return len(self._entries)

    # -- internals ---------------------------------------------------------------------------

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _typed(self, key: str, kind: type[_T]) -> tuple[_Entry, _T] | None:
        entry = self._live(key)
        if entry is None:
            return None
        if not isinstance(entry.value, kind):
            raise StoreError(f"{key} holds a {type(entry.value).__name__}, not a {kind.__name__}")
        return entry, entry.value

    def _put(self, key: str, value: _Value, ttl: float) -> None:
        self._entries[key] = _Entry(value, self._clock() + check_ttl(ttl))
        self._entries.move_to_end(key)
        now = self._clock()
        if len(self._entries) > self.max_entries and now >= self._next_sweep:
            self._next_sweep = now + 1.0  # a full scan at most once a second
            for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                del self._entries[stale]
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    # -- Store -------------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        found = self._typed(key, bytes)
        return None if found is None else found[1]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._put(key, bytes(value), ttl)

    async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
        check_ttl(ttl)
        if self._live(key) is not None:
            return False
        self._put(key, bytes(value), ttl)
        return True

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        entry = self._live(key)
        if entry is None or (if_value is not None and entry.value != if_value):
            return False
        del self._entries[key]
        return True

    async def ttl(self, key: str) -> float | None:
        entry = self._live(key)
        return None if entry is None else max(0.0, entry.expires_at - self._clock())

    async def incr_window(self, key: str, window_s: float) -> Window:
        found = self._typed(key, int)
        if found is None:
            self._put(key, 1, window_s)
            return Window(1, window_s)
        entry, count = found
        entry.value = count + 1
        return Window(count + 1, max(0.0, entry.expires_at - self._clock()))

    async def push_capped(self, key: str, value: bytes, cap: int, ttl: float) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        found = self._typed(key, list)
        items = [] if found is None else found[1]
        self._put(key, [bytes(value), *items][:cap], ttl)

    async def list_range(self, key: str, n: int) -> list[bytes]:
        found = self._typed(key, list)
        return [] if found is None or n < 1 else list(found[1][:n])

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float) -> None:
        check_ttl(ttl)
        if not mapping:
            return
        found = self._typed(key, dict)
        fields = {} if found is None else found[1]
        self._put(key, {**fields, **{k: bytes(v) for k, v in mapping.items()}}, ttl)

    async def hgetall(self, key: str) -> dict[str, bytes]:
        found = self._typed(key, dict)
        return {} if found is None else dict(found[1])

    async def add_event(self, key: str, at: float, value: bytes, *, keep_s: float, cap: int) -> None:
        check_ttl(keep_s)
        if cap < 1:
            raise ValueError("cap must be at least 1")
        found = self._typed(key, _Events)
        events = _Events() if found is None else found[1]
        kept = [(t, v) for t, v in events.items if v != value and t >= at - keep_s]
        bisect.insort(kept, (at, bytes(value)))
        events.items = kept[-cap:]
        self._put(key, events, keep_s)

    async def events_since(self, key: str, since: float, n: int) -> list[tuple[float, bytes]]:
        found = self._typed(key, _Events)
        if found is None or n < 1:
            return []
        items = found[1].items
        return items[bisect.bisect_left(items, (since, b"")) :][-n:]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()
