"""Shared state for the bot: probe cache, single-flight, rate limits, history, delivery dedup.

``open_store(url)`` picks the store: with a Redis URL (``os.environ.get("REDIS_URL")``), a
``ResilientStore`` over ``RedisStore`` that answers from an in-process ``MemoryStore`` while
Redis is down; without one, a ``MemoryStore`` alone (the CLI, a single bot process). Neither
touches the network when created.

Key layout (every key has an expiry; parts are lower-cased and quoted, and any part holding
an ``@`` is replaced by ``#`` + 24 hex digits of its keyed HMAC-SHA256, see ``keys.key_part``):

    mailflow:v1:probe:<probe>:<target>:<options digest>   JSON {"at", "results"}; 10 min ok, 1 min failed
    mailflow:v1:lock:probe:<probe>:<target>:<digest>      single-flight lock token; 120 s
    mailflow:v1:rate:user:<user id>                       fixed-window counter; the window (60 s)
    mailflow:v1:rate:channel:<channel id>                 fixed-window counter; the window (60 s)
    mailflow:v1:history:<domain>                          list of JSON {"at", "code", "summary"},
                                                          newest first, capped at 20; 30 days
    mailflow:v1:dedup:<kind>:<id>                         "1"; 10 min (kind: event, command, interaction)
    mailflow:v1:checklist:<channel>:<message ts>          hash step -> JSON tick state (``hset``);
                                                          expiry chosen by its writer
    mailflow:v1:answer:<answer id>                        JSON {"text", "blocks"}: an answer with a checklist,
                                                          to redraw a tick Slack sends without the message
                                                          (an ephemeral answer's); 1 day
    mailflow:v1:locale:<user id>                          the user's Slack locale; 1 day ("-": users.info
                                                          said user_not_found; 1 hour)
    mailflow:v1:locale-refused                            "-": users.info refused for the app (missing_scope
                                                          ...), so nobody's locale is asked; 1 hour
    mailflow:v1:paste:<channel>:<bounce fingerprint>      the thread that answered a pasted bounce; 10 min
    mailflow:v1:recent:<team id>                          recent diagnoses for App Home, capped at 20; 30 days
    mailflow:v1:summary:<channel>                         sorted set: bounces answered and diagnoses run in
                                                          the channel (JSON events: domains, hashed recipients,
                                                          no address), scored by time; 7 days, at most 5000
    mailflow:v1:watch:...                                 incident watches (see bot/watch/book.py)

Modules: ``base`` (the ``Store`` protocol), ``memory``, ``redis_store``, ``resilient``,
``keys``, ``errors``; and on top of ``Store``: ``cache`` (``ProbeCache``), ``flight``
(``SingleFlight``), ``limits`` (``RateLimiter``), ``history`` (``DomainHistory``), ``dedup``
(``first_delivery``), ``events`` (``ChannelEvents``, for ``/mailflow summary``).
"""

from __future__ import annotations

from bot.store.base import Store, Window
from bot.store.cache import CachedResults, ProbeCache
from bot.store.dedup import first_delivery
from bot.store.errors import StoreError, StoreUnavailable
from bot.store.events import ChannelEvents
from bot.store.flight import SingleFlight
from bot.store.history import DomainHistory, HistoryEntry
from bot.store.keys import key, key_part
from bot.store.limits import Limit, RateDecision, RateLimiter
from bot.store.memory import MemoryStore
from bot.store.redis_store import RedisStore, RedisTimeouts
from bot.store.resilient import Health, ResilientStore

__all__ = [
    "CachedResults",
    "ChannelEvents",
    "DomainHistory",
    "Health",
    "HistoryEntry",
    "Limit",
    "MemoryStore",
    "ProbeCache",
    "RateDecision",
    "RateLimiter",
    "RedisStore",
    "RedisTimeouts",
    "ResilientStore",
    "SingleFlight",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Window",
    "first_delivery",
    "key",
    "key_part",
    "open_store",
]


def open_store(url: str | None, *, timeouts: RedisTimeouts | None = None, health: Health | None = None) -> Store:
    """The store for ``url``: Redis with an in-process fallback, or in-process only when None/empty."""
    if not url:
        return MemoryStore()
    return ResilientStore(RedisStore.from_url(url, timeouts=timeouts), MemoryStore, health=health)
