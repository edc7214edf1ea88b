"""Diagnose concurrency: does a full diagnosis cost about as much as its slowest probe?

Everything runs on loopback with injected latency, as from a distant network:

    DNS     the local dnslib server answers every query after --dns-ms (default 200)
    SMTP    a scripted peer on 127.0.0.1 greets after --banner-ms (400), then EHLO, STARTTLS
            (a trustme certificate for mail.ok.test), EHLO again, QUIT
    HTTP    the local aiohttp server answers MTA-STS, RDAP and Microsoft 365 after --http-ms (300)

The zone: contoso.test MX 10 mail.ok.test (A 127.0.0.1), MTA-STS and TLS-RPT records, NS
ns1.contoso.test (127.0.0.1, the same server, asked directly by the authoritative probe).

Each probe is timed alone (a fresh context, the RDAP and Microsoft 365 caches cleared, so every
run is cold), then the full ``diagnose()`` of contoso.test, cold too; each figure is the median
of --rounds (5) runs. Reported:

    total / slowest single probe     the target is <= 1.15x; the delivery path is a chain
                                     (MX -> A/AAAA -> SMTP), so no schedule can beat the sum
                                     of that chain, which is reported as well:
    total / critical path            critical path = mx + address + smtp path, each alone
    peak memory                      tracemalloc peak of one more diagnosis (not timed), and the
                                     process's peak RSS

Nothing is asserted: the figures are printed (or emitted as JSON with --json).

    .venv/bin/python bench/diagnose_concurrency.py [--dns-ms 200] [--banner-ms 400] [--http-ms 300]
        [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import ssl
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.diagnose import DiagnoseRequest, diagnose
from bot.probes import m365_ranges, rdap
from bot.probes.address import probe_address
from bot.probes.authoritative import probe_authoritative
from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.probes.dane import probe_dane
from bot.probes.http import open_session
from bot.probes.m365_ranges import probe_m365_ranges
from bot.probes.mta_sts import probe_mta_sts
from bot.probes.mx import probe_mx
from bot.probes.rdap import probe_rdap
from bot.probes.smtp import probe_smtp_host
from bot.probes.tls_rpt import probe_tls_rpt
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.fixtures.http_server import HttpServer, Policy, rdap_domain

DOMAIN = "contoso.test"
HOST = "mail.ok.test"
LOOPBACK = "127.0.0.1"
TARGET_RATIO = 1.15
TIMEOUTS = Timeouts(dns=5.0, connect=5.0, banner=10.0, command=5.0, tls=5.0, http=5.0, overall=30.0)


def zone(dns: DnsServer) -> None:
    z = dns.zone
    z.add(DOMAIN, "SOA", "ns1.contoso.test. hostmaster.contoso.test. 2026010101 3600 600 86400 300")
    z.add(DOMAIN, "NS", "ns1.contoso.test.")
    z.add("ns1.contoso.test", "A", LOOPBACK)
    z.add(DOMAIN, "MX", f"10 {HOST}.")
    z.add(HOST, "A", LOOPBACK)
    z.add(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=20260101")
    z.add(f"_smtp._tls.{DOMAIN}", "TXT", "v=TLSRPTv1; rua=mailto:tlsrpt@contoso.test")


def smtp_script(banner_delay: float, tls: ssl.SSLContext) -> Callable[..., Awaitable[None]]:
    """A well-behaved SMTP server that is slow to greet (postscreen-like)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(banner_delay)
        writer.write(b"220 mail.ok.test ESMTP bench\r\n")
        secure = False
        while line := await reader.readline():
            command = line.decode("ascii", "replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                keywords = ["PIPELINING", "SIZE 10240000", *([] if secure else ["STARTTLS"])]
                lines = [HOST, *keywords]
                writer.write("".join(f"250-{x}\r\n" for x in lines[:-1]).encode() + f"250 {lines[-1]}\r\n".encode())
            elif command == "STARTTLS":
                writer.write(b"220 2.0.0 Ready to start TLS\r\n")
                await writer.drain()
                await writer.start_tls(tls)
                secure = True
            elif command == "QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 5.5.2 Not implemented\r\n")
            await writer.drain()
        writer.close()

    return serve


@contextlib.asynccontextmanager
async def smtp_peer(banner_delay: float, tls: ssl.SSLContext) -> AsyncIterator[int]:
    script = smtp_script(banner_delay, tls)
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await script(reader, writer)
        except (ConnectionError, ssl.SSLError):
            writer.transport.abort()
        finally:
            handlers.discard(task)

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def cold() -> None:
    """Forget what earlier runs fetched: every measurement starts cold."""
    rdap.BOOTSTRAP.clear()
    m365_ranges.RANGES.clear()


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    cold()
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000


async def median_ms(work: Callable[[], Awaitable[object]], rounds: int) -> float:
    return statistics.median([await timed(work) for _ in range(rounds)])


def singles(config: ProbeConfig) -> dict[str, Callable[[], Awaitable[object]]]:
    """Each probe alone, with its own context and guarded HTTP session."""

    def alone(make: Callable[[ProbeContext], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            ctx = ProbeContext.create(config)
            async with open_session(ctx) as session:
                ctx.http = session
                return await make(ctx)

        return run

    return {
        "mx": alone(lambda ctx: probe_mx(ctx, DOMAIN)),
        "address": alone(lambda ctx: probe_address(ctx, HOST)),
        "smtp path": alone(lambda ctx: probe_smtp_host(ctx, HOST, LOOPBACK, require_tls=True)),
        "dane": alone(lambda ctx: probe_dane(ctx, HOST)),
        "mta_sts": alone(lambda ctx: probe_mta_sts(ctx, DOMAIN, [HOST])),
        "tls_rpt": alone(lambda ctx: probe_tls_rpt(ctx, DOMAIN)),
        "authoritative": alone(lambda ctx: probe_authoritative(ctx, DOMAIN)),
        "rdap": alone(lambda ctx: probe_rdap(ctx, DOMAIN)),
        "m365_ranges": alone(probe_m365_ranges),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    ca = trustme.CA()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(server_tls)
    with start_dns() as dns, ca.cert_pem.tempfile() as ca_file:
        zone(dns)
        http = HttpServer()
        await http.start()
        http.policies[DOMAIN] = Policy(f"version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n")
        http.rdap[DOMAIN] = rdap_domain(DOMAIN)
        try:
            async with smtp_peer(args.banner_ms / 1000, server_tls) as port:
                config = ProbeConfig(
                    resolver=dns.address,
                    dns_port=dns.port,
                    smtp_port=port,
                    timeouts=TIMEOUTS,
                    ca_file=ca_file,
                    allow=("127.0.0.0/8",),
                    endpoints=http.endpoints(),
                    ehlo_name="bench.mailflow.test",
                )
                request = DiagnoseRequest(DOMAIN, require_tls=True)

                async def full() -> object:
                    diagnosis = await diagnose(request, config)
                    if not diagnosis.verdict.healthy or diagnosis.incomplete:
                        raise RuntimeError(f"the bench lab is not healthy: {diagnosis.verdict}")
                    return diagnosis

                await full()  # warm up imports and the loop; measurements below start cold anyway
                dns.zone.delay = args.dns_ms / 1000
                http.delay = args.http_ms / 1000
                alone = {name: await median_ms(work, args.rounds) for name, work in singles(config).items()}
                total = await median_ms(full, args.rounds)
                cold()
                tracemalloc.start()
                await full()
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
        finally:
            await http.close()
    slowest = max(alone, key=lambda name: alone[name])
    critical = alone["mx"] + alone["address"] + alone["smtp path"]
    return {
        "delays_ms": {"dns": args.dns_ms, "smtp_banner": args.banner_ms, "http": args.http_ms},
        "rounds": args.rounds,
        "single_ms": {name: round(ms, 1) for name, ms in alone.items()},
        "slowest_single": slowest,
        "total_ms": round(total, 1),
        "ratio_to_slowest": round(total / alone[slowest], 3),
        "critical_path_ms": round(critical, 1),
        "ratio_to_critical_path": round(total / critical, 3),
        "target_ratio": TARGET_RATIO,
        "sum_of_singles_ms": round(sum(alone.values()), 1),
        "tracemalloc_peak_kib": round(peak / 1024, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def report(figures: dict[str, Any]) -> str:
    delays = figures["delays_ms"]
    lines = [
        f"injected latency: DNS {delays['dns']} ms, SMTP banner {delays['smtp_banner']} ms, HTTP {delays['http']} ms;"
        f" median of {figures['rounds']} cold runs",
        "",
        "each probe alone:",
        *(f"  {name:<14} {ms:8.1f} ms" for name, ms in figures["single_ms"].items()),
        f"  {'sum':<14} {figures['sum_of_singles_ms']:8.1f} ms (if run one after another)",
        "",
        f"full diagnosis       {figures['total_ms']:8.1f} ms",
        f"slowest single       {figures['single_ms'][figures['slowest_single']]:8.1f} ms ({figures['slowest_single']})",
        f"  total / slowest    {figures['ratio_to_slowest']:8.3f}x (target <= {figures['target_ratio']}x)",
        f"critical path        {figures['critical_path_ms']:8.1f} ms (mx + address + smtp path, each alone)",
        f"  total / critical   {figures['ratio_to_critical_path']:8.3f}x",
        "",
        f"peak memory: tracemalloc {figures['tracemalloc_peak_kib']:.1f} KiB for one diagnosis;"
        f" process max RSS {figures['max_rss_mib']:.1f} MiB (servers included)",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dns-ms", type=float, default=200.0)
    parser.add_argument("--banner-ms", type=float, default=400.0)
    parser.add_argument("--http-ms", type=float, default=300.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(bench(args))
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
