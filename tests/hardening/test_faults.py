"""Faults, as the user meets them: each test breaks one dependency, runs a whole diagnosis (the
last one: the delivery dedup under it), and checks what the user is shown and that the answer
came within its deadline (nothing hangs).

    the DNS server is dead (no listener; a black hole)   4.4.312, DNS named, within the DNS timeout
    an SMTP peer accepts and never speaks                4.4.318, "sent no greeting", socket closed
    a step slower than the overall deadline              an answer at the deadline, the cut step named
    Redis killed mid-diagnosis, then restarted           the answer still comes (fallback), later
                                                         ones too; Redis is used again once it is back
    a busy bot without Redis (the in-process store)      Slack's 5-minute retry not answered twice

``tests/store/test_resilience.py`` covers the store alone (every call, backoff, warnings); here
the same outage happens under ``DiagnosisService``, the code path the Slack handlers call.
Everything listens on 127.0.0.1; the network jail (conftest.py) checks nothing else is contacted.
"""

# ruff: noqa: F811  (the fixtures are imported by name, and pytest passes them back as arguments)
from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis

from bot import knowledge
from bot.diagnose import DiagnoseRequest, Diagnosis, diagnose
from bot.probes.config import Endpoints, ProbeConfig, Timeouts
from bot.probes.result import ProbeResult
from bot.render.diagnosis import render_diagnosis_text
from bot.service import DiagnosisService
from bot.store import Health, MemoryStore, RedisStore, RedisTimeouts, ResilientStore, first_delivery
from bot.verdict import RESOLVER_UNREACHABLE
from tests.fixtures import smtp_peers
from tests.fixtures.dns_server import DnsServer, dns_server  # noqa: F401
from tests.fixtures.smtp_peers import HOST, Peer, Pki
from tests.hardening.conftest import Jail
from tests.store.conftest import FakeClock
from tests.store.redis_server import RedisServer, redis_server  # noqa: F401

pki = smtp_peers.pki
start_peer = smtp_peers.start_peer

pytestmark = pytest.mark.timeout(30)

StartPeer = Callable[[str], Awaitable[Peer]]
DOMAIN = "contoso.test"
SLACK = 1.5  # seconds of scheduling slack allowed on top of a deadline on a loaded CI machine
NOWHERE = Endpoints(
    rdap_bootstrap="http://rdap.lab.invalid/dns.json",
    m365_endpoints="http://m365.lab.invalid/endpoints/worldwide",
    m365_version="http://m365.lab.invalid/version/worldwide",
)


def lab(resolver: tuple[str, int], **overrides: object) -> ProbeConfig:
    settings: dict[str, object] = {
        "resolver": resolver,
        "dns_port": resolver[1],
        "smtp_port": 9,
        "timeouts": Timeouts(dns=0.5, connect=0.5, banner=0.5, command=1.0, tls=1.0, http=1.0, overall=5.0),
        "endpoints": NOWHERE,
        "allow": ("127.0.0.0/8",),
        "ehlo_name": "probe.mailflow.test",
    }
    return ProbeConfig(**(settings | overrides))  # type: ignore[arg-type]


def shown(diagnosis: Diagnosis) -> str:
    """The text the user reads (the CLI's rendering; the Slack blocks carry the same lines)."""
    return render_diagnosis_text(diagnosis, knowledge.load("en").ui)


def result(diagnosis: Diagnosis, name: str) -> ProbeResult:
    found = [r for r in diagnosis.results if r.name == name]
    assert found, f"no {name} result in {[r.name for r in diagnosis.results]}"
    return found[0]


async def timed(work: Awaitable[Diagnosis], bound: float) -> tuple[Diagnosis, float]:
    started = time.perf_counter()
    async with asyncio.timeout(bound + SLACK):  # a hang fails here, with a clear message
        diagnosis = await work
    return diagnosis, time.perf_counter() - started


# -- DNS ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def dead_dns(kind: str) -> Iterator[tuple[str, int]]:
    """A resolver address where DNS is dead: nothing bound there ("closed": the kernel answers
    ICMP port unreachable), or a socket that reads nothing ("black hole": queries vanish)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        if kind == "closed":
            udp.close()
        yield ("127.0.0.1", port)


@pytest.mark.parametrize("kind", ["closed", "black hole"])
async def test_dead_dns_is_our_resolver_unreachable_within_the_dns_timeout(kind: str, jail: Jail) -> None:
    """Dead DNS at mailflow's own resolver is not the destination's 4.4.312: the control query
    through the same resolver gets no answer either, and the verdict says the resolver is down."""
    with dead_dns(kind) as resolver:
        config = lab(resolver)
        diagnosis, elapsed = await timed(diagnose(DiagnoseRequest(DOMAIN), config), config.timeouts.overall)

    assert (diagnosis.verdict.code, diagnosis.verdict.failure) == (None, RESOLVER_UNREACHABLE)
    mx = result(diagnosis, "mx")
    assert not mx.ok and mx.code is None and mx.facts["resolver_unreachable"] is True
    assert "does not answer" in mx.detail and f"{resolver[0]}:{resolver[1]}" in mx.detail, mx.detail
    assert not diagnosis.incomplete  # every lookup ended on its own timeout, before the deadline
    # The lookup waits at most the DNS timeout and the control query starts halfway through it:
    # about one and a half DNS timeouts in all.
    assert elapsed < 3 * config.timeouts.dns + SLACK, f"{elapsed:.2f} s"
    text = shown(diagnosis)
    verdict_line = text.splitlines()[0]
    assert "4.4.312" not in verdict_line and "resolver does not answer" in verdict_line, verdict_line
    assert mx.detail in text
    assert jail.tcp() == []


# -- SMTP -----------------------------------------------------------------------------------------


async def test_a_peer_that_accepts_and_never_speaks_is_reported(
    dns_server: DnsServer, start_peer: StartPeer, pki: Pki, jail: Jail
) -> None:
    peer = await start_peer("silent")
    dns_server.zone.add(DOMAIN, "MX", f"10 {HOST}.")
    dns_server.zone.add(HOST, "A", "127.0.0.1")
    config = lab(dns_server.address, smtp_port=peer.port, ca_file=pki.ca_file)

    diagnosis, elapsed = await timed(diagnose(DiagnoseRequest(DOMAIN), config), config.timeouts.overall)

    banner = result(diagnosis, "banner")
    assert diagnosis.verdict.code == "4.4.318"
    assert (banner.ok, banner.code, banner.facts.get("timeout")) == (False, "4.4.318", True)
    assert "sent no greeting" in banner.detail and "0.5 s" in banner.detail, banner.detail
    assert elapsed < config.timeouts.banner + config.timeouts.connect + SLACK
    assert "sent no greeting" in shown(diagnosis)
    async with asyncio.timeout(1.0):
        await peer.closed.wait()  # the probe hung up: no socket left open towards the peer
    assert jail.tcp(peer.port) == [("127.0.0.1", peer.port)]  # one connection, no retry storm


async def test_the_overall_deadline_answers_on_time_and_names_what_was_cut(
    dns_server: DnsServer, start_peer: StartPeer, pki: Pki
) -> None:
    """A banner timeout longer than the whole diagnosis: the answer comes at the deadline."""
    peer = await start_peer("silent")
    dns_server.zone.add(DOMAIN, "MX", f"10 {HOST}.")
    dns_server.zone.add(HOST, "A", "127.0.0.1")
    slow = Timeouts(dns=0.5, connect=0.5, banner=30.0, command=1.0, tls=1.0, http=1.0, overall=1.5)
    config = lab(dns_server.address, smtp_port=peer.port, ca_file=pki.ca_file, timeouts=slow)

    diagnosis, elapsed = await timed(diagnose(DiagnoseRequest(DOMAIN), config), slow.overall)

    assert slow.overall <= elapsed < slow.overall + SLACK
    assert any(item.startswith("banner") for item in diagnosis.incomplete), diagnosis.incomplete
    banner = result(diagnosis, "banner")
    assert banner.skipped and "overall deadline of 1.5 s" in banner.detail
    assert "overall deadline of 1.5 s" in shown(diagnosis)
    async with asyncio.timeout(1.0):
        await peer.closed.wait()  # cancelled at the deadline, and the socket closed


# -- Redis ----------------------------------------------------------------------------------------


async def cached_in_redis(server: RedisServer) -> list[str]:
    raw = aioredis.Redis.from_url(server.url)
    try:
        return sorted([k.decode() async for k in raw.scan_iter(match="mailflow:*probe:diagnose*")])
    finally:
        await raw.aclose()


async def test_redis_killed_mid_diagnosis_and_restarted(
    redis_server: RedisServer, dns_server: DnsServer, start_peer: StartPeer, pki: Pki
) -> None:
    peer = await start_peer("greet_554")  # a quick, deterministic failure: 4.4.317
    for domain in (DOMAIN, "fabrikam.test", "wingtip.test"):
        dns_server.zone.add(domain, "MX", f"10 {HOST}.")
    dns_server.zone.add(HOST, "A", "127.0.0.1")
    config = lab(dns_server.address, smtp_port=peer.port, ca_file=pki.ca_file)
    health = Health(warn_interval_s=60.0, retry_min_s=0.2, retry_max_s=0.4)
    fast = RedisTimeouts(connect=0.2, read=0.2)
    store = ResilientStore(RedisStore.from_url(redis_server.url, timeouts=fast), MemoryStore, health=health)
    service = DiagnosisService(store, config)
    bound = config.timeouts.overall

    def kill_redis_once(probe: ProbeResult) -> None:
        if probe.name == "mx" and redis_server.proc is not None:
            redis_server.kill()  # mid-run: the single-flight lock is in Redis, the results are not yet

    try:
        async with asyncio.timeout(4 * (bound + SLACK)):
            warm = await service.diagnose(DiagnoseRequest(DOMAIN))
            assert (warm.from_cache, warm.diagnosis.verdict.code) == (False, "4.4.317")
            assert len(await cached_in_redis(redis_server)) == 1

            # Killed while a diagnosis runs: that diagnosis still answers, from its own probes.
            during = await service.diagnose(DiagnoseRequest("fabrikam.test"), on_result=kill_redis_once)
            assert redis_server.proc is None, "the run never reached the MX step"
            assert (during.from_cache, during.diagnosis.verdict.code) == (False, "4.4.317")
            assert store.health.up is False
            assert "4.4.317" in shown(during.diagnosis)

            # While Redis is down every request is answered; the fallback caches meanwhile.
            down = await service.diagnose(DiagnoseRequest("wingtip.test"))
            again = await service.diagnose(DiagnoseRequest("wingtip.test"))
            assert (down.from_cache, again.from_cache) == (False, True)
            assert again.diagnosis.verdict.code == "4.4.317"

            # Back (same port, empty): after the backoff the next request uses Redis again.
            redis_server.start()
            await asyncio.sleep(health.retry_max_s + 0.1)
            back = await service.diagnose(DiagnoseRequest("fabrikam.test"))
            assert back.diagnosis.verdict.code == "4.4.317"
            assert store.health.up is True
            assert await cached_in_redis(redis_server), "nothing written to Redis after it came back"
    finally:
        await store.close()


async def test_a_slack_retry_after_a_busy_five_minutes_is_not_answered_twice() -> None:
    """Without Redis (one bot process, or Redis down) the in-process store keeps delivery dedup.
    Slack retries an event after 1 and 5 minutes; at 100 events a second (bench/load_http.py),
    that is 30,000 other events in between. Found by the load bench: the store then held 10,000
    entries and evicted the least recently used, dedup keys included (3,181 answers sent twice
    in 10 minutes at 100/s); it now sweeps expired entries first and holds 100,000."""
    clock = FakeClock(1000.0)
    store = MemoryStore(clock=clock)
    assert await first_delivery(store, "Ev0000000001") is True
    for n in range(2, 30_002):
        clock.now += 0.01  # 100 events a second
        await first_delivery(store, f"Ev{n:010d}")
    assert await first_delivery(store, "Ev0000000001") is False  # the 5-minute retry: already handled
