"""Rate limits per user and per channel: fixed windows counted in the store.

Strategy: one counter per (scope, id) under ``mailflow:v1:rate:<scope>:<id>``; the first hit
opens a window of ``per_s`` seconds (the counter's expiry), every hit counts, and a hit past
``hits`` is refused until the window ends. The store returns the count and the time left in
one atomic step, so processes sharing Redis share the limit and ``retry_after_s`` is exact.
A fixed window lets a burst of up to twice the limit straddle a window edge; for a chat bot
that is fine, and it costs one round trip per scope.

``check`` counts the user first and the channel only if the user is allowed, so a user over
their limit does not use up the channel's. If the store fails, the request is allowed: the
bot answers rather than refuse everyone.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.keys import key

log = logging.getLogger("mailflow.store")


class Limit(NamedTuple):
    hits: int  # allowed per window
    per_s: float  # window length


class RateDecision(NamedTuple):
    allowed: bool
    retry_after_s: float  # 0 when allowed; else seconds until the window that refused ends
    scope: str = ""  # "user" or "channel": which limit refused (empty when allowed)


ALLOWED = RateDecision(True, 0.0)
USER_LIMIT = Limit(10, 60.0)
CHANNEL_LIMIT = Limit(30, 60.0)


class RateLimiter:
    def __init__(self, store: Store, *, per_user: Limit = USER_LIMIT, per_channel: Limit = CHANNEL_LIMIT) -> None:
        self.store = store
        self.per_user = per_user
        self.per_channel = per_channel

    async def check(self, user: str, channel: str | None = None) -> RateDecision:
        """Count one request by ``user`` (in ``channel``, if any) and say whether to serve it."""
        decision = await self.hit("user", user, self.per_user)
        if decision.allowed and channel is not None:
            decision = await self.hit("channel", channel, self.per_channel)
        return decision

    async def hit(self, scope: str, ident: str, limit: Limit) -> RateDecision:
        """Count one hit against ``limit`` for ``ident`` in ``scope``."""
        try:
            window = await self.store.incr_window(key("rate", scope, ident), limit.per_s)
        except StoreError as exc:
            log.warning("rate limit not checked (%s): %s", scope, exc)
            return ALLOWED
        if window.hits <= limit.hits:
            return ALLOWED
        return RateDecision(False, window.reset_in_s, scope)
