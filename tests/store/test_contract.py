"""The ``Store`` contract, run against MemoryStore and RedisStore alike (the ``env`` fixture)."""

from __future__ import annotations

import asyncio
import math

import pytest

from bot.probes.result import ProbeResult
from bot.store import (
    DomainHistory,
    MemoryStore,
    ProbeCache,
    RateLimiter,
    StoreError,
    first_delivery,
    key,
)
from tests.store.conftest import Env, FakeClock, within

K = key("test", "a")


async def test_get_set_and_expiry(env: Env) -> None:
    assert await env.store.get(K) is None
    await env.store.set(K, b"v1", 0.2)
    assert await env.store.get(K) == b"v1"
    assert within(await env.store.ttl(K), 0.2)
    await env.advance(0.3)
    assert await env.store.get(K) is None
    assert await env.store.ttl(K) is None


async def test_set_replaces_value_and_expiry(env: Env) -> None:
    await env.store.set(K, b"old", 0.2)
    await env.store.set(K, b"new", 60)
    await env.advance(0.3)
    assert await env.store.get(K) == b"new"
    assert within(await env.store.ttl(K), 60)


async def test_binary_values_round_trip(env: Env) -> None:
    value = bytes(range(256))
    await env.store.set(K, value, 60)
    assert await env.store.get(K) == value


async def test_set_nx_writes_only_when_absent(env: Env) -> None:
    assert await env.store.set_nx(K, b"first", 0.2) is True
    assert await env.store.set_nx(K, b"second", 60) is False
    assert await env.store.get(K) == b"first"
    assert within(await env.store.ttl(K), 0.2)
    await env.advance(0.3)
    assert await env.store.set_nx(K, b"third", 60) is True
    assert await env.store.get(K) == b"third"


async def test_delete_plain_and_conditional(env: Env) -> None:
    assert await env.store.delete(K) is False
    await env.store.set(K, b"token-a", 60)
    assert await env.store.delete(K, if_value=b"token-b") is False
    assert await env.store.get(K) == b"token-a"
    assert await env.store.delete(K, if_value=b"token-a") is True
    assert await env.store.get(K) is None
    await env.store.set(K, b"x", 60)
    assert await env.store.delete(K) is True


@pytest.mark.parametrize("ttl", [0, -1, math.inf, math.nan])
async def test_every_write_needs_a_finite_positive_ttl(env: Env, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await env.store.set(K, b"v", ttl)
    with pytest.raises(ValueError, match="ttl"):
        await env.store.set_nx(K, b"v", ttl)
    with pytest.raises(ValueError, match="ttl"):
        await env.store.push_capped(K, b"v", 5, ttl)
    with pytest.raises(ValueError, match="ttl"):
        await env.store.hset(K, {"f": b"v"}, ttl)
    with pytest.raises(ValueError, match="ttl"):
        await env.store.incr_window(K, ttl)
    assert await env.keys() == []


async def test_incr_window_counts_within_a_window_then_restarts(env: Env) -> None:
    counts = [await env.store.incr_window(K, 0.3) for _ in range(4)]
    assert [c.hits for c in counts] == [1, 2, 3, 4]
    assert all(0 < c.reset_in_s <= 0.3 + 0.001 for c in counts)
    assert within(await env.store.ttl(K), 0.3)
    await env.advance(0.4)
    again = await env.store.incr_window(K, 0.3)
    assert again.hits == 1
    assert 0 < again.reset_in_s <= 0.3 + 0.001


async def test_incr_window_does_not_extend_the_window(env: Env) -> None:
    await env.store.incr_window(K, 0.5)
    await env.advance(0.3)
    second = await env.store.incr_window(K, 0.5)
    assert second.hits == 2
    assert second.reset_in_s <= 0.2 + 0.001


async def test_push_capped_keeps_the_newest(env: Env) -> None:
    for n in range(7):
        await env.store.push_capped(K, str(n).encode(), 5, 60)
    assert await env.store.list_range(K, 10) == [b"6", b"5", b"4", b"3", b"2"]
    assert await env.store.list_range(K, 2) == [b"6", b"5"]
    assert await env.store.list_range(K, 0) == []
    assert await env.store.list_range(key("test", "missing"), 3) == []
    assert within(await env.store.ttl(K), 60)


async def test_push_capped_renews_the_expiry(env: Env) -> None:
    await env.store.push_capped(K, b"a", 5, 0.3)
    await env.advance(0.2)
    await env.store.push_capped(K, b"b", 5, 0.3)
    await env.advance(0.2)
    assert await env.store.list_range(K, 5) == [b"b", b"a"]
    await env.advance(0.2)
    assert await env.store.list_range(K, 5) == []


async def test_hash_fields_merge_and_expire_together(env: Env) -> None:
    assert await env.store.hgetall(K) == {}
    await env.store.hset(K, {"mx": b"1", "tls": b"0"}, 60)
    await env.store.hset(K, {"tls": b"1", "spf": b"0"}, 0.2)
    assert await env.store.hgetall(K) == {"mx": b"1", "tls": b"1", "spf": b"0"}
    assert within(await env.store.ttl(K), 0.2)
    await env.store.hset(K, {}, 60)  # nothing to set: nothing written, expiry untouched
    assert within(await env.store.ttl(K), 0.2)
    await env.advance(0.3)
    assert await env.store.hgetall(K) == {}


async def test_wrong_type_is_a_store_error(env: Env) -> None:
    await env.store.set(K, b"a string", 60)
    with pytest.raises(StoreError, match=r"WRONGTYPE|holds a bytes"):
        await env.store.push_capped(K, b"x", 3, 60)
    with pytest.raises(StoreError):
        await env.store.hgetall(K)
    await env.store.push_capped(key("test", "list"), b"x", 3, 60)
    with pytest.raises(StoreError):
        await env.store.get(key("test", "list"))


async def test_ping(env: Env) -> None:
    assert await env.store.ping() is True


async def test_every_key_is_namespaced_expiring_and_address_free(env: Env) -> None:
    """A day of the bot in miniature, then every key it left is checked."""
    cache = ProbeCache(env.store, clock=env.wall)

    async def run() -> list[ProbeResult]:
        return [ProbeResult("mx", "Jane.Doe@Contoso.com", True, "2 hosts")]

    await cache.get_or_run("mx", "Jane.Doe@Contoso.com", {"port": 25}, run)
    await cache.get_or_run("tcp", "203.0.113.25:25", {}, run, bypass=True)
    await DomainHistory(env.store).record("contoso.com", "4.4.316", env.wall(), "refused")
    await RateLimiter(env.store).check("U0123ABC", "C0456DEF")
    await first_delivery(env.store, "Ev0789GHI")
    await env.store.hset(key("checklist", "1700000000.123456"), {"mx": b"1"}, 86400)
    await env.store.set_nx(key("lock", "probe", "manual"), b"token", 30)

    keys = await env.keys()
    assert {k.split(":")[2] for k in keys} == {"probe", "history", "rate", "dedup", "checklist", "lock"}
    for name in keys:
        assert name.startswith("mailflow:v1:")
        assert "@" not in name and "jane" not in name
        left = await env.store.ttl(name)
        assert left is not None and 0 < left < math.inf, name
        if env.raw is not None:
            assert await env.raw.pttl(name) > 0, name


async def test_memory_store_evicts_the_least_recently_used() -> None:
    store = MemoryStore(max_entries=3, clock=FakeClock(0.0))
    for name in "abc":
        await store.set(name, name.encode(), 60)
    await store.get("a")  # "b" is now the least recently used
    await store.set("d", b"d", 60)
    assert store.keys() == ["c", "a", "d"]
    assert len(store) == 3
    assert await store.get("b") is None


async def test_memory_store_forgets_expired_entries() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock)
    await store.set("a", b"1", 5)
    await store.set("b", b"1", 50)
    clock.now = 10.0
    assert store.keys() == ["b"]
    assert await store.get("a") is None
    assert len(store) == 1
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)


async def test_a_burst_of_concurrent_calls_all_answer(env: Env) -> None:
    """More callers at once than the Redis pool has connections: they wait their turn, none fails."""
    names = [key("test", "burst", n) for n in range(300)]
    await asyncio.gather(*(env.store.set(name, str(n).encode(), 60) for n, name in enumerate(names)))
    values = await asyncio.gather(*(env.store.get(name) for name in names))
    assert values == [str(n).encode() for n in range(300)]


async def test_events_are_kept_in_time_order_and_read_by_window(env: Env) -> None:
    await env.store.add_event(K, 100.0, b"b", keep_s=60, cap=10)
    await env.store.add_event(K, 90.0, b"a", keep_s=60, cap=10)
    await env.store.add_event(K, 130.0, b"c", keep_s=60, cap=10)
    assert await env.store.events_since(K, 0, 10) == [(90.0, b"a"), (100.0, b"b"), (130.0, b"c")]
    assert await env.store.events_since(K, 100.0, 10) == [(100.0, b"b"), (130.0, b"c")]
    assert await env.store.events_since(K, 0, 2) == [(100.0, b"b"), (130.0, b"c")]  # the newest n
    assert await env.store.events_since(K, 131.0, 10) == []
    assert await env.store.events_since(key("test", "none"), 0, 10) == []
    assert within(await env.store.ttl(K), 60)


async def test_events_older_than_the_window_and_beyond_the_cap_are_dropped(env: Env) -> None:
    await env.store.add_event(K, 1000.0, b"old", keep_s=60, cap=3)
    for n in range(4):
        await env.store.add_event(K, 1100.0 + n, f"e{n}".encode(), keep_s=60, cap=3)
    assert [v for _, v in await env.store.events_since(K, 0, 10)] == [b"e1", b"e2", b"e3"]
    await env.store.add_event(K, 1103.0, b"e3", keep_s=60, cap=3)  # the same value again: kept once
    assert len(await env.store.events_since(K, 0, 10)) == 3


async def test_events_expire_after_keep_s(env: Env) -> None:
    await env.store.add_event(K, 5.0, b"x", keep_s=0.2, cap=5)
    await env.advance(0.3)
    assert await env.store.events_since(K, 0, 5) == []
    with pytest.raises(ValueError, match="ttl"):
        await env.store.add_event(K, 5.0, b"x", keep_s=0, cap=5)
    await env.store.set(key("test", "plain"), b"v", 60)
    with pytest.raises(StoreError):
        await env.store.add_event(key("test", "plain"), 5.0, b"x", keep_s=60, cap=5)


async def test_channel_events_keep_no_address(env: Env) -> None:
    from bot.explain import explain_bounce  # noqa: PLC0415
    from bot.parse import parse_bounce  # noqa: PLC0415
    from bot.store import ChannelEvents  # noqa: PLC0415
    from bot.summary import event_from_bounce  # noqa: PLC0415

    bounce = parse_bounce(
        "Delivery has failed to these recipients or groups:\n\nann.lee@fabrikam.com\n\n"
        "Remote Server returned '550 5.1.1 User unknown'\n"
    )
    assert bounce.is_ndr
    events = ChannelEvents(env.store)
    await events.record("C1", event_from_bounce(bounce, explain_bounce(bounce), at=1000.0))
    await events.record("C1", event_from_bounce(bounce, explain_bounce(bounce), at=1001.0))
    await events.record("C2", event_from_bounce(bounce, explain_bounce(bounce), at=1002.0))
    (first, second) = await events.since("C1", 0)
    assert first.domains == ("fabrikam.com",) and first.code == "5.1.1" and first.at == 1000.0
    assert first.recipients == second.recipients and len(first.recipients[0]) == 16
    assert [e.at for e in await events.since("C1", 1001.0)] == [1001.0]
    for name in await env.keys():
        assert "@" not in name
        if env.raw is not None:
            for member in await env.raw.zrange(name, 0, -1):
                assert b"@" not in member and b"ann.lee" not in member
