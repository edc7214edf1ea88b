"""Rate limits, domain history and delivery dedup, against both stores."""

from __future__ import annotations

import pytest

from bot.store import DomainHistory, HistoryEntry, Limit, RateLimiter, first_delivery, key
from bot.store.history import MAX_SUMMARY
from tests.store.conftest import Env, within


async def test_user_limit_refuses_then_the_window_reopens(env: Env) -> None:
    limiter = RateLimiter(env.store, per_user=Limit(3, 0.3), per_channel=Limit(100, 0.3))
    decisions = [await limiter.check("U1", "C1") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    refused = decisions[3]
    assert refused.scope == "user"
    assert 0 < refused.retry_after_s <= 0.3 + 0.001
    assert decisions[0].retry_after_s == 0
    assert (await limiter.check("U2", "C1")).allowed  # another user, same channel
    await env.advance(0.4)
    assert (await limiter.check("U1", "C1")).allowed


async def test_channel_limit_is_shared_by_its_users(env: Env) -> None:
    limiter = RateLimiter(env.store, per_user=Limit(2, 60), per_channel=Limit(3, 60))
    results = [(await limiter.check(user, "C1")).allowed for user in ("U1", "U2", "U3", "U4")]
    assert results == [True, True, True, False]
    refused = await limiter.check("U5", "C1")
    assert (refused.allowed, refused.scope) == (False, "channel")
    assert within(refused.retry_after_s, 60)
    assert (await limiter.check("U5", "C2")).allowed  # U5 is fine elsewhere
    assert (await limiter.check("U6")).allowed  # a direct message: no channel limit


async def test_a_refused_user_does_not_use_up_the_channel(env: Env) -> None:
    limiter = RateLimiter(env.store, per_user=Limit(1, 60), per_channel=Limit(2, 60))
    assert (await limiter.check("U1", "C1")).allowed
    for _ in range(5):
        assert not (await limiter.check("U1", "C1")).allowed
    assert (await limiter.check("U2", "C1")).allowed


async def test_history_keeps_the_last_n_newest_first(env: Env) -> None:
    history = DomainHistory(env.store, cap=5, ttl_s=60)
    for n in range(8):
        await history.record("Contoso.COM.", None if n % 2 else "4.4.316", 1_700_000_000 + n, f"run {n}")
    recent = await history.recent("contoso.com", 10)
    assert [e.summary for e in recent] == ["run 7", "run 6", "run 5", "run 4", "run 3"]
    assert recent[0] == HistoryEntry(1_700_000_007, None, "run 7")
    assert recent[1].code == "4.4.316"
    assert [e.summary for e in await history.recent("contoso.com", 2)] == ["run 7", "run 6"]
    assert await history.recent("fabrikam.com") == []
    assert within(await env.store.ttl(key("history", "contoso.com")), 60)


async def test_history_expires_and_cuts_long_summaries(env: Env) -> None:
    history = DomainHistory(env.store, cap=5, ttl_s=0.2)
    await history.record("contoso.com", "4.4.315", 1.0, "x" * 1000)
    assert len((await history.recent("contoso.com"))[0].summary) == MAX_SUMMARY
    await env.advance(0.3)
    assert await history.recent("contoso.com") == []


async def test_history_skips_entries_it_cannot_read(env: Env) -> None:
    history = DomainHistory(env.store)
    await env.store.push_capped(key("history", "contoso.com"), b"{not json", 5, 60)
    await history.record("contoso.com", None, 2.0, "fine")
    assert await history.recent("contoso.com") == [HistoryEntry(2.0, None, "fine")]


async def test_first_delivery_once_per_event_id(env: Env) -> None:
    assert await first_delivery(env.store, "Ev01ABC", ttl=0.2) is True
    assert await first_delivery(env.store, "Ev01ABC", ttl=0.2) is False
    assert await first_delivery(env.store, "Ev02DEF", ttl=0.2) is True
    await env.advance(0.3)
    assert await first_delivery(env.store, "Ev01ABC", ttl=0.2) is True


@pytest.mark.parametrize("ttl", [600.0, 30.0])
async def test_dedup_key_expires(env: Env, ttl: float) -> None:
    await first_delivery(env.store, "Ev03GHI", ttl=ttl)
    assert within(await env.store.ttl(key("dedup", "Ev03GHI")), ttl)
