"""ProbeCache and SingleFlight in one process, against both stores."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from bot.probes.result import ProbeResult
from bot.store import ProbeCache, SingleFlight
from bot.store.cache import decode, encode
from tests.store.conftest import Env, within

OK = [
    ProbeResult(
        "mx",
        "contoso.com",
        True,
        "2 hosts",
        elapsed_ms=12.5,
        facts={"hosts": ["mx1.contoso.com", "mx2.contoso.com"], "pref": {"mx1": 10}, "dnssec": False, "ttl": 300},
    ),
    ProbeResult("tcp", "203.0.113.25:25", True, "connected", facts={"ip": "203.0.113.25", "port": 25, "rtt": 0.25}),
    ProbeResult("dane", "mx1.contoso.com", True, "no TLSA", skipped=True, facts={"why": None}),
]
FAILED = [*OK[:1], ProbeResult("tcp", "203.0.113.25:25", False, "refused", code="4.4.316", facts={"errno": 111})]


class Probe:
    """A probe that counts its runs and returns ``results`` (or raises ``error``)."""

    def __init__(self, results: Sequence[ProbeResult] = OK, *, delay: float = 0.0) -> None:
        self.results = list(results)
        self.delay = delay
        self.runs = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> list[ProbeResult]:
        self.runs += 1
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.results


def cache_for(env: Env, **kwargs: Any) -> ProbeCache:
    flight = SingleFlight(
        env.store, poll_s=0.01, lock_ttl_s=kwargs.pop("lock_ttl_s", 30.0), wait_s=kwargs.pop("wait_s", None)
    )
    return ProbeCache(env.store, clock=env.wall, flight=flight, **kwargs)


def test_results_round_trip_through_json() -> None:
    decoded = decode(encode(OK, 1_700_000_000.5))
    assert decoded == (tuple(OK), 1_700_000_000.5)
    assert decode(b"not json") is None
    assert decode(b'{"at": 1, "results": [{"bogus": 1}]}') is None


async def test_miss_runs_then_hit_reports_its_age(env: Env) -> None:
    cache, probe = cache_for(env), Probe()
    first = await cache.get_or_run("mx", "contoso.com", {}, probe)
    assert (first.from_cache, first.age_s, first.cached_at) == (False, 0.0, env.wall())
    assert first.results == tuple(OK)
    await env.advance(0.2)
    second = await cache.get_or_run("mx", "contoso.com", {}, probe)
    assert second.from_cache is True
    assert second.results == tuple(OK)
    assert second.cached_at == first.cached_at
    assert second.age_s == pytest.approx(0.2)
    assert probe.runs == 1


async def test_success_kept_long_failure_briefly(env: Env) -> None:
    cache = cache_for(env, ok_ttl_s=60.0, failure_ttl_s=0.2)
    healthy, failing = Probe(OK), Probe(FAILED)
    await cache.get_or_run("smtp", "ok.example", {}, healthy)
    await cache.get_or_run("smtp", "down.example", {}, failing)
    assert within(await env.store.ttl(cache.key("smtp", "ok.example", {})), 60)
    assert within(await env.store.ttl(cache.key("smtp", "down.example", {})), 0.2)
    await env.advance(0.3)
    again_ok = await cache.get_or_run("smtp", "ok.example", {}, healthy)
    again_failed = await cache.get_or_run("smtp", "down.example", {}, failing)
    assert (again_ok.from_cache, healthy.runs) == (True, 1)
    assert (again_failed.from_cache, failing.runs) == (False, 2)


async def test_no_results_count_as_a_failure(env: Env) -> None:
    cache = cache_for(env, ok_ttl_s=60.0, failure_ttl_s=5.0)
    await cache.get_or_run("mx", "empty.example", {}, Probe([]))
    assert within(await env.store.ttl(cache.key("mx", "empty.example", {})), 5.0)


async def test_bypass_reruns_and_overwrites(env: Env) -> None:
    cache, probe = cache_for(env), Probe(FAILED)
    await cache.get_or_run("smtp", "contoso.com", {}, probe)
    probe.results = OK
    await env.advance(0.1)
    rerun = await cache.get_or_run("smtp", "contoso.com", {}, probe, bypass=True)
    assert (rerun.from_cache, rerun.results, probe.runs) == (False, tuple(OK), 2)
    after = await cache.get_or_run("smtp", "contoso.com", {}, probe)
    assert (after.from_cache, after.results, after.cached_at) == (True, tuple(OK), rerun.cached_at)
    assert probe.runs == 2


async def test_options_and_targets_are_separate_entries(env: Env) -> None:
    cache, probe = cache_for(env), Probe()
    await cache.get_or_run("smtp", "contoso.com", {"port": 25, "tls": True}, probe)
    assert (await cache.get_or_run("smtp", "contoso.com", {"tls": True, "port": 25}, probe)).from_cache
    assert not (await cache.get_or_run("smtp", "contoso.com", {"port": 587}, probe)).from_cache
    assert not (await cache.get_or_run("smtp", "fabrikam.com", {"port": 25, "tls": True}, probe)).from_cache
    assert probe.runs == 3


async def test_unserialisable_facts_are_returned_not_cached(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    cache = cache_for(env)
    probe = Probe([ProbeResult("mx", "contoso.com", True, "odd", facts={"when": object()})])
    with caplog.at_level(logging.WARNING, "mailflow.store"):
        first = await cache.get_or_run("mx", "contoso.com", {}, probe)
        second = await cache.get_or_run("mx", "contoso.com", {}, probe)
    assert (first.from_cache, second.from_cache, probe.runs) == (False, False, 2)
    assert "not cached" in caplog.text
    assert await env.keys() == []  # the lock is released too


async def test_a_corrupt_entry_is_a_miss(env: Env) -> None:
    cache, probe = cache_for(env), Probe()
    await env.store.set(cache.key("mx", "contoso.com", {}), b"\xff garbage", 60)
    result = await cache.get_or_run("mx", "contoso.com", {}, probe)
    assert (result.from_cache, probe.runs) == (False, 1)


@pytest.mark.parametrize("bypass", [False, True])
async def test_200_concurrent_requests_run_the_probe_once(env: Env, bypass: bool) -> None:
    cache, probe = cache_for(env), Probe(delay=0.05)
    answers = await asyncio.gather(
        *(cache.get_or_run("smtp", "contoso.com", {"port": 25}, probe, bypass=bypass) for _ in range(200))
    )
    assert probe.runs == 1
    assert all(a.results == tuple(OK) for a in answers)
    assert [k for k in await env.keys() if ":lock:" in k] == []


async def test_a_failing_run_reaches_every_waiter_and_releases_the_lock(env: Env) -> None:
    cache, probe = cache_for(env), Probe(delay=0.02)
    probe.error = RuntimeError("resolver exploded")
    outcomes = await asyncio.gather(
        *(cache.get_or_run("mx", "contoso.com", {}, probe) for _ in range(20)), return_exceptions=True
    )
    assert probe.runs == 1
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert await env.keys() == []
    probe.error = None
    assert (await cache.get_or_run("mx", "contoso.com", {}, probe)).from_cache is False
    assert probe.runs == 2


async def test_a_caller_giving_up_does_not_cancel_the_run_for_others(env: Env) -> None:
    cache, probe = cache_for(env), Probe()
    probe.gate = asyncio.Event()
    impatient = asyncio.create_task(cache.get_or_run("mx", "contoso.com", {}, probe))
    patient = asyncio.create_task(cache.get_or_run("mx", "contoso.com", {}, probe))
    await asyncio.sleep(0.05)
    impatient.cancel()
    probe.gate.set()
    assert (await patient).results == tuple(OK)
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert probe.runs == 1
    assert (await cache.get_or_run("mx", "contoso.com", {}, probe)).from_cache is True


async def test_a_dead_holders_lock_expires_and_a_waiter_takes_over(env: Env) -> None:
    cache, probe = cache_for(env), Probe()
    lock = cache.lock_key("mx", "contoso.com", {})
    assert await env.store.set_nx(lock, b"a process that died", 0.3)
    waiter = asyncio.create_task(cache.get_or_run("mx", "contoso.com", {}, probe))
    await asyncio.sleep(0.05)
    assert not waiter.done() and probe.runs == 0  # waiting on the lock
    await env.advance(0.4)
    result = await waiter
    assert (result.from_cache, probe.runs) == (False, 1)


async def test_a_waiter_past_its_deadline_runs_the_probe_itself(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    cache, probe = cache_for(env, wait_s=0.1), Probe()
    lock = cache.lock_key("mx", "contoso.com", {})
    await env.store.set_nx(lock, b"a slow holder elsewhere", 60)
    with caplog.at_level(logging.WARNING, "mailflow.store"):
        result = await cache.get_or_run("mx", "contoso.com", {}, probe)
    assert (result.from_cache, probe.runs) == (False, 1)
    assert "running it here" in caplog.text
    assert await env.store.get(lock) == b"a slow holder elsewhere"  # not ours to delete
