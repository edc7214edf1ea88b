"""DiagnosisService over real peers: one probe run for many requests, cache age, re-run, history.

The target is 127.0.0.1 itself (an IP literal: no MX lookup), allowlisted, with the SMTP port
pointing at a scripted peer that counts the connections it accepts; the HTTP lookups go to the
local HTTP server. Each test checks what the peer saw, so a cache that does not cache fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

import bot.cli
from bot.diagnose import DiagnoseRequest
from bot.probes.config import ProbeConfig
from bot.service import DiagnosisService
from bot.store import MemoryStore, ProbeCache, RedisStore, RedisTimeouts, Store
from tests.fixtures.http_server import HttpServer, http_server
from tests.fixtures.smtp_peers import Peer, Pki, greet_421, pki, probe_config, scripted_peer
from tests.store.conftest import FakeClock, clean

__all__ = ["http_server", "pki"]
pytestmark = pytest.mark.timeout(60)
TARGET = "127.0.0.1"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with scripted_peer("greet_421", greet_421) as started:
        yield started


@pytest.fixture
def config(peer: Peer, pki: Pki, http_server: HttpServer) -> ProbeConfig:
    return probe_config(peer.port, pki, endpoints=http_server.endpoints())


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Store]]:
    """A factory of stores sharing one state: the same MemoryStore, or new clients on one Redis."""
    if request.param == "memory":
        shared = MemoryStore()
        yield lambda: shared
        return
    url = request.getfixturevalue("redis_url")
    raw = aioredis.Redis.from_url(url)
    await clean(raw)
    opened: list[RedisStore] = []

    def make() -> Store:
        store = RedisStore.from_url(url, timeouts=RedisTimeouts(connect=2.0, read=2.0))
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            await store.close()
        await clean(raw)
        await raw.aclose()


async def test_many_requests_in_several_processes_run_the_probes_once(
    stores: Callable[[], Store], config: ProbeConfig, peer: Peer
) -> None:
    services = [DiagnosisService(stores(), config) for _ in range(3)]  # three "processes"
    request = DiagnoseRequest(TARGET)
    answers = await asyncio.gather(*(services[n % 3].diagnose(request) for n in range(60)))
    assert peer.accepted == 1
    assert {a.diagnosis.verdict.code for a in answers} == {"4.4.317"}
    assert sum(not a.from_cache for a in answers) >= 1


async def test_a_cached_answer_says_its_age_and_a_fresh_one_probes_again(
    stores: Callable[[], Store], config: ProbeConfig, peer: Peer
) -> None:
    wall = FakeClock(1_700_000_000.0)
    store = stores()
    service = DiagnosisService(store, config, cache=ProbeCache(store, clock=wall))
    request = DiagnoseRequest(TARGET)
    first = await service.diagnose(request)
    assert (first.from_cache, first.age_s, peer.accepted) == (False, 0.0, 1)
    wall.now += 42
    second = await service.diagnose(request)
    assert second.from_cache and second.age_s == pytest.approx(42.0)
    assert peer.accepted == 1
    third = await service.diagnose(request, fresh=True)
    assert not third.from_cache and peer.accepted == 2
    assert third.diagnosis.verdict.code == "4.4.317"


async def test_cached_results_are_concluded_in_each_readers_language_and_code(
    stores: Callable[[], Store], config: ProbeConfig, peer: Peer
) -> None:
    service = DiagnosisService(stores(), config)
    # Both codes imply a connector that requires TLS, so both are answered by one probe run.
    english = await service.diagnose(DiagnoseRequest(TARGET, code="4.7.320"), language="en")
    japanese = await service.diagnose(DiagnoseRequest(TARGET, code="4.4.317"), language="ja")
    assert peer.accepted == 1
    assert japanese.from_cache
    assert english.diagnosis.confirmed is False and japanese.diagnosis.confirmed is True
    assert english.diagnosis.explanation is not None and japanese.diagnosis.explanation is not None
    assert english.diagnosis.explanation.title != japanese.diagnosis.explanation.title


async def test_options_that_change_the_probes_are_cached_apart(
    stores: Callable[[], Store], config: ProbeConfig, peer: Peer
) -> None:
    service = DiagnosisService(stores(), config)
    await service.diagnose(DiagnoseRequest(TARGET))
    await service.diagnose(DiagnoseRequest(TARGET, require_tls=True))
    await service.diagnose(DiagnoseRequest(TARGET, code="4.4.316"))  # the code changes nothing probed
    assert peer.accepted == 2
    await service.diagnose(DiagnoseRequest(TARGET, code="5.4.317"))  # implies TLS: as --require-tls
    assert peer.accepted == 2


async def test_each_run_is_recorded_in_the_domains_history(
    stores: Callable[[], Store], config: ProbeConfig, peer: Peer
) -> None:
    service = DiagnosisService(stores(), config)
    await service.diagnose(DiagnoseRequest(TARGET))
    await service.diagnose(DiagnoseRequest(TARGET))  # from the cache: not a new entry
    await service.diagnose(DiagnoseRequest(TARGET), fresh=True)
    entries = await service.history(TARGET)
    assert [e.code for e in entries] == ["4.4.317", "4.4.317"]
    assert "421" in entries[0].summary
    assert peer.accepted == 2


async def test_the_cli_shares_results_through_redis_and_fresh_probes_again(
    redis_url: str, peer: Peer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = aioredis.Redis.from_url(redis_url)
    await clean(raw)
    monkeypatch.setenv("REDIS_URL", redis_url)
    args = ["diagnose", TARGET, "--port", str(peer.port), "--allow", "127.0.0.0/8", "--resolver", "127.0.0.1:9"]
    args += ["--timeout", "2"]

    async def run(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(bot.cli.main, [*args, *extra])
        return code, capsys.readouterr().out

    try:
        code, out = await run("--format", "json")
        assert code == 3 and json.loads(out)["cache"] == {"hit": False, "age_s": 0.0}
        code, out = await run("--format", "json")
        assert code == 3 and json.loads(out)["cache"]["hit"] is True
        assert json.loads(out)["verdict"] == "4.4.317"
        code, out = await run()
        assert "(cached)" in out and "--fresh" in out
        code, out = await run("--fresh", "--format", "json")
        assert json.loads(out)["cache"]["hit"] is False
        assert peer.accepted == 2
    finally:
        await clean(raw)
        await raw.aclose()
