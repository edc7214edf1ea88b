"""The ``Store`` interface: a small async key-value seam with Redis semantics.

Two implementations answer it: ``MemoryStore`` (in-process, the default) and ``RedisStore``
(shared by every process of the bot); ``ResilientStore`` puts a fallback behind the second. The
helpers above it (``ProbeCache``, ``SingleFlight``, ``RateLimiter``, ``DomainHistory``,
``first_delivery``) only ever talk to this interface, so each is tested against both.

Every write carries an expiry (``ttl`` in seconds, > 0): nothing the bot stores lives forever.
Values are bytes; keys are built with ``keys.key()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple, Protocol, runtime_checkable


class Window(NamedTuple):
    """A fixed-window counter after one increment."""

    hits: int  # hits in the current window, this one included
    reset_in_s: float  # seconds until the window (and the count) ends


@runtime_checkable
class Store(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The value at ``key``, or None when it is missing or expired."""

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Write ``value``, replacing what was there, expiring after ``ttl`` seconds."""

    async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
        """Write ``value`` only if ``key`` is absent; True when this call wrote it."""

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        """Remove ``key`` (only if it holds ``if_value``, when given); True when removed."""

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires; None when missing, ``math.inf`` if it never does."""

    async def incr_window(self, key: str, window_s: float) -> Window:
        """Count one hit in the window at ``key``; the first hit opens a window of ``window_s``."""

    async def push_capped(self, key: str, value: bytes, cap: int, ttl: float) -> None:
        """Put ``value`` at the head of the list at ``key``, keep the newest ``cap``, renew the expiry."""

    async def list_range(self, key: str, n: int) -> list[bytes]:
        """The newest ``n`` values of the list at ``key``, newest first."""

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float) -> None:
        """Set fields of the hash at ``key`` and renew the expiry of the whole hash."""

    async def hgetall(self, key: str) -> dict[str, bytes]:
        """Every field of the hash at ``key`` (empty when missing)."""

    async def add_event(self, key: str, at: float, value: bytes, *, keep_s: float, cap: int) -> None:
        """Add ``value`` at time ``at`` (epoch seconds) to the time-ordered events at ``key``; drop
        those older than ``at - keep_s`` and all but the newest ``cap``; the whole set expires
        ``keep_s`` after this write. Values are a set: an equal value replaces the earlier one."""

    async def events_since(self, key: str, since: float, n: int) -> list[tuple[float, bytes]]:
        """The newest ``n`` events at ``key`` at or after ``since``, oldest first, with their times."""

    async def ping(self) -> bool:
        """True when the store answers now. Never raises."""

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""


def check_ttl(ttl: float) -> float:
    """``ttl`` itself, or ValueError: every key needs a finite, positive expiry."""
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a finite number of seconds > 0, not {ttl!r}")
    return ttl
