"""Per-channel events for the war-room view (``/mailflow summary``): what the bot answered there.

Strategy: one time-ordered set per channel under ``mailflow:v1:summary:<channel>`` (a Redis
sorted set scored by epoch seconds; ``Store.add_event``), each member one ``bot.summary.Event``
as compact JSON after a short random id (so two equal events both count). Events hold no
address: destination domains and hashed recipients only. Each write drops the events older
than ``keep_s`` and all but the newest ``cap``, and renews the expiry, so a channel's set is
bounded and disappears ``keep_s`` after its last bounce. Like the history, this is a nicety: a
store error loses an event (logged) or reads as none, it never fails an answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.keys import key
from bot.summary import Event

log = logging.getLogger("mailflow.store")
KEEP_S = 7 * 86400.0
CAP = 5000


class ChannelEvents:
    def __init__(self, store: Store, *, keep_s: float = KEEP_S, cap: int = CAP) -> None:
        self.store = store
        self.keep_s = keep_s
        self.cap = cap

    async def record(self, channel: str, event: Event) -> None:
        at = time.time() if event.at is None else event.at
        value = secrets.token_hex(4).encode() + b" " + event.dumps()
        try:
            await self.store.add_event(key("summary", channel), at, value, keep_s=self.keep_s, cap=self.cap)
        except StoreError as exc:
            log.warning("summary event not recorded for %s: %s", channel, exc)

    async def since(self, channel: str, since: float) -> list[Event]:
        """The channel's events at or after ``since`` (epoch seconds), oldest first."""
        try:
            raw = await self.store.events_since(key("summary", channel), since, self.cap)
        except StoreError as exc:
            log.warning("summary events not read for %s: %s", channel, exc)
            return []
        return await asyncio.to_thread(_decoded, [value for _, value in raw])  # up to ``cap`` JSON objects


def _decoded(values: list[bytes]) -> list[Event]:
    events = (Event.loads(value.partition(b" ")[2]) for value in values)
    return [event for event in events if event is not None]
