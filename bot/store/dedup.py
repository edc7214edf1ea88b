"""Slack delivery dedup: Slack retries an event it thinks we missed; handle each event id once.

Strategy: ``SET mailflow:v1:dedup:<event id> NX`` with an expiry longer than Slack's retry
horizon (three retries within minutes; 10 min by default). The first process to write the key
handles the event; every other delivery, in any process sharing the store, sees it taken. If
the store fails, the event is handled: a rare duplicate answer beats a lost one.
"""

from __future__ import annotations

import logging

from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.keys import key

log = logging.getLogger("mailflow.store")


async def first_delivery(store: Store, event_id: str, ttl: float = 600.0) -> bool:
    """True the first time ``event_id`` is seen within ``ttl`` seconds, False afterwards."""
    try:
        return await store.set_nx(key("dedup", event_id), b"1", ttl)
    except StoreError as exc:
        log.warning("delivery dedup unavailable: %s", exc)
        return True
