"""Probe cache latency: a cached diagnosis lookup against an uncached one, on a real Redis.

The "diagnosis" is a stand-in probe that sleeps ``--delay`` ms (default 50, roughly a quick
real run on a near network) and returns 14 realistic ProbeResults with facts, so the cached
path pays for the JSON of a full diagnosis. Through ``ProbeCache.get_or_run``:

    uncached   --misses (100) lookups, each for a new target: miss, run, write
    cached     --hits (2000) lookups of one warmed target: one GET and the JSON decoding
    flight     200 concurrent lookups of one new target: how many runs (must be 1), wall time
    service    the real pipeline: ``DiagnosisService.diagnose`` of 127.0.0.1 against a local SMTP
               peer that greets after ``--delay`` ms (TCP, banner, M365 ranges from a local HTTP
               server, verdict, explanation); uncached runs are re-runs (``fresh=True``), cached
               ones are concluded again from the stored results

p50 and p99 of each are printed, with the ratio uncached p50 / cached p50; the same cached
figures on the in-process MemoryStore are given for reference. Redis is ``REDIS_URL`` or
redis://127.0.0.1:6379/0 and must be on loopback. The bench writes only keys for targets of its
own (``bench-<pid>-...``), deletes them at the end, and runs for a few seconds.

    python bench/cache_latency.py [--delay 50] [--misses 100] [--hits 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.diagnose import DiagnoseRequest
from bot.probes.config import ProbeConfig
from bot.probes.result import ProbeResult
from bot.service import DiagnosisService
from bot.store import MemoryStore, ProbeCache, RedisStore, SingleFlight, Store
from tests.fixtures.http_server import HttpServer
from tests.fixtures.smtp_peers import TEST_TIMEOUTS, greet_421, scripted_peer

CONCURRENT = 200


def diagnosis(target: str) -> list[ProbeResult]:
    """What a healthy two-MX diagnosis reports: policy lookups, then two hosts' SMTP paths."""

    def seen(name: str, probed: str, detail: str, ms: float, **facts: object) -> ProbeResult:
        return ProbeResult(name, probed, True, detail, elapsed_ms=ms, facts=facts)

    results = [
        seen("mta_sts", target, "policy mode enforce", 80.1, mode="enforce", mx=["*.mail.example"]),
        seen("tls_rpt", target, "rua=mailto:tls@report.example", 31.0, rua=["tls@report.example"]),
        seen("rdap", target, "registered 2004-03-01", 120.4, registrar="Example Registrar, Inc."),
        seen("mx", target, "2 hosts", 12.2, hosts=[["mx1." + target, 10], ["mx2." + target, 20]]),
    ]
    for n, ip in ((1, "203.0.113.25"), (2, "203.0.113.26")):
        host, peer = f"mx{n}.{target}", f"{ip}:25"
        results += [
            seen("address", host, f"{host} has 1 address", 8.0, a=[ip], aaaa=[]),
            seen("tcp", peer, f"{peer} accepted the connection", 21.3, ip=ip, port=25),
            seen("banner", peer, "220 ESMTP ready", 40.2, code=220, masked=False),
            seen("starttls", peer, "STARTTLS accepted", 15.5, ehlo=["SIZE", "8BITMIME", "STARTTLS"]),
            seen("certificate", peer, f"valid for {host}", 30.8, subject=host, issuer="R11", sans=[host, target],
                 not_after="2026-01-01T00:00:00Z", days_left=71),
        ]  # fmt: skip
    return results


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(samples_ms), 3), "p99_ms": round(cuts[98], 3), "n": len(samples_ms)}


async def timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return (time.perf_counter() - started) * 1000


async def measure(store: Store, prefix: str, delay_s: float, misses: int, hits: int) -> dict[str, object]:
    cache = ProbeCache(store, flight=SingleFlight(store, poll_s=0.01))
    runs = 0

    def probe(target: str) -> Callable[[], Awaitable[list[ProbeResult]]]:
        async def run() -> list[ProbeResult]:
            nonlocal runs
            runs += 1
            await asyncio.sleep(delay_s)
            return diagnosis(target)

        return run

    targets = [f"{prefix}-miss-{n}.example" for n in range(misses)]
    uncached = [await timed(cache.get_or_run("diagnose", t, {}, probe(t))) for t in targets]
    warm = f"{prefix}-warm.example"
    await cache.get_or_run("diagnose", warm, {}, probe(warm))
    cached = [await timed(cache.get_or_run("diagnose", warm, {}, probe(warm))) for _ in range(hits)]
    flight = f"{prefix}-flight.example"
    runs = 0
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(cache.get_or_run("diagnose", flight, {}, probe(flight)) for _ in range(CONCURRENT))
    )
    flight_ms = (time.perf_counter() - started) * 1000
    assert all(len(a.results) == 14 for a in answers)
    for target in [*targets, warm, flight]:
        await store.delete(cache.key("diagnose", target, {}))
    return {
        "uncached": percentiles(uncached),
        "cached": percentiles(cached),
        "ratio_p50": round(statistics.median(uncached) / statistics.median(cached), 1),
        "flight": {"requests": CONCURRENT, "runs": runs, "wall_ms": round(flight_ms, 1)},
    }


async def measure_service(store: Store, delay_s: float, misses: int, hits: int) -> dict[str, object]:
    async def slow_421(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay_s)
        await greet_421(reader, writer)

    http = HttpServer()
    await http.start()
    try:
        async with scripted_peer("slow_421", slow_421) as peer:
            config = ProbeConfig(
                smtp_port=peer.port,
                allow=("127.0.0.0/8",),
                timeouts=TEST_TIMEOUTS,
                resolver=("127.0.0.1", 9),  # nothing answers there: no lookup can leave the machine
                endpoints=http.endpoints(),
            )
            service = DiagnosisService(store, config)
            request = DiagnoseRequest("127.0.0.1")
            uncached = [await timed(service.diagnose(request, fresh=True)) for _ in range(misses)]
            cached = [await timed(service.diagnose(request)) for _ in range(hits)]
            answer = await service.diagnose(request)
            assert answer.from_cache and answer.diagnosis.verdict.code == "4.4.317", answer
            runs = peer.accepted
    finally:
        await http.close()
    return {
        "uncached": percentiles(uncached),
        "cached": percentiles(cached),
        "ratio_p50": round(statistics.median(uncached) / statistics.median(cached), 1),
        "probe_runs": runs,
    }


async def bench(url: str, delay_s: float, misses: int, hits: int) -> dict[str, object]:
    redis = RedisStore.from_url(url)
    try:
        if not await redis.ping():
            raise SystemExit(f"bench: no Redis answers at {url} (start redis-server or set REDIS_URL)")
        prefix = f"bench-{os.getpid()}"
        on_redis = await measure(redis, prefix, delay_s, misses, hits)
        service = await measure_service(redis, delay_s, min(misses, 50), min(hits, 500))
    finally:
        await redis.close()
    on_memory = await measure(MemoryStore(), prefix, delay_s, min(misses, 20), hits)
    return {
        "delay_ms": delay_s * 1000,
        "redis": on_redis,
        "memory": {"cached": on_memory["cached"]},
        "service": service,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--delay", type=float, default=50.0, help="probe delay in ms")
    parser.add_argument("--misses", type=int, default=100)
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"bench: {url} is not on loopback; the bench only talks to 127.0.0.1")
    if not (2 <= args.misses <= 1000 and 2 <= args.hits <= 100_000 and 0 <= args.delay <= 1000):
        raise SystemExit("bench: --misses 2..1000, --hits 2..100000, --delay 0..1000 ms")
    result = asyncio.run(bench(url, args.delay / 1000, args.misses, args.hits))
    if args.json:
        print(json.dumps(result))
        return 0
    redis, memory = result["redis"], result["memory"]
    assert isinstance(redis, dict) and isinstance(memory, dict)
    print(f"probe delay {args.delay:g} ms, Redis at {urlsplit(url).netloc}")
    for name, fig in (
        ("uncached", redis["uncached"]),
        ("cached", redis["cached"]),
        ("cached (memory)", memory["cached"]),
    ):
        print(f"  {name:<16} p50 {fig['p50_ms']:>8.3f} ms  p99 {fig['p99_ms']:>8.3f} ms  (n={fig['n']})")
    print(f"  ratio uncached / cached p50 (Redis): {redis['ratio_p50']}x")
    flight = redis["flight"]
    requests, runs, wall = flight["requests"], flight["runs"], flight["wall_ms"]
    print(f"  {requests} concurrent requests for one target: {runs} probe run(s), {wall} ms")
    service = result["service"]
    assert isinstance(service, dict)
    print("  the real pipeline (DiagnosisService, SMTP peer on 127.0.0.1, Redis):")
    for name in ("uncached", "cached"):
        fig = service[name]
        print(f"    {name:<14} p50 {fig['p50_ms']:>8.3f} ms  p99 {fig['p99_ms']:>8.3f} ms  (n={fig['n']})")
    print(f"    ratio uncached / cached p50: {service['ratio_p50']}x; {service['probe_runs']} SMTP connections")
    return 0 if flight["runs"] == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
