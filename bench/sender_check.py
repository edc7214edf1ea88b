"""Sender check concurrency: does a full sender check cost about as much as its slowest DNS chain?

Everything runs on loopback: the local dnslib server answers every query after --dns-ms
(default 100), as a distant resolver would. The zone is a realistic Microsoft 365 sender:

    contoso.test          v=spf1 include:_spf1.contoso.test include:spf.protection.outlook.com -all
    _spf1.contoso.test    v=spf1 include:_spf2.contoso.test a:relay.contoso.test ip4:198.51.100.0/24 ~all
    _spf2.contoso.test    v=spf1 ip4:192.0.2.0/24 -all
    spf.protection.outlook.com, relay.contoso.test, _dmarc at the organizational domain with a
    report address in another domain (its section 7.1 record), two DKIM CNAMEs to Microsoft
    365 targets, and the sending IP listed on one of the four blocklists (A then TXT)

checked as ``mailflow sender mail.contoso.test``-style for the domain contoso.test and the IP
203.0.113.5 (which matches nothing, so SPF walks the whole tree: 5 queries one after another).

Each check is timed alone (SPF, DMARC, each DKIM selector, each blocklist: each one a chain of
dependent queries), then the full ``run_checks()``; each figure is the median of --rounds (5)
runs. Reported: total / slowest single chain (the goal is <= 1.1x), and every check run one
after another, for scale. Nothing is asserted.

    .venv/bin/python bench/sender_check.py [--dns-ms 100] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.sender.check import blocklists_for, run_checks
from bot.sender.conclude import SenderRequest
from bot.sender.dkim import check_selector
from bot.sender.dmarc import check_dmarc
from bot.sender.dns import SenderDns
from bot.sender.dnsbl import check_list
from bot.sender.spf import check_spf
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.sender.world import REVERSED, m365_dkim

DOMAIN = "contoso.test"
IP = "203.0.113.5"
TARGET_RATIO = 1.1


def zone(dns: DnsServer) -> None:
    z = dns.zone
    z.add(DOMAIN, "TXT", "v=spf1 include:_spf1.contoso.test include:spf.protection.outlook.com -all")
    z.add(f"_spf1.{DOMAIN}", "TXT", "v=spf1 include:_spf2.contoso.test a:relay.contoso.test ip4:198.51.100.0/24 ~all")
    z.add(f"_spf2.{DOMAIN}", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    z.add(f"relay.{DOMAIN}", "A", "198.51.100.20")
    z.add("spf.protection.outlook.com", "TXT", "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 -all")
    z.add(f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=quarantine; rua=mailto:agg@reports.example")
    z.add(f"{DOMAIN}._report._dmarc.reports.example", "TXT", "v=DMARC1")
    m365_dkim(z, DOMAIN)
    z.add(f"{REVERSED}.bl.spamcop.net", "A", "127.0.0.2")
    z.add(f"{REVERSED}.bl.spamcop.net", "TXT", "Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.5")


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000


def singles(config: ProbeConfig, request: SenderRequest) -> dict[str, Callable[[], Awaitable[object]]]:
    """Each check alone, on a fresh context (nothing shared with the others)."""

    def fresh() -> SenderDns:
        return SenderDns(ProbeContext.create(config))

    work: dict[str, Callable[[], Awaitable[object]]] = {
        "spf": lambda: check_spf(fresh(), DOMAIN, IP),
        "dmarc": lambda: check_dmarc(fresh(), DOMAIN),
    }
    for selector in ("selector1", "selector2"):
        work[f"dkim {selector}"] = lambda s=selector: check_selector(fresh(), DOMAIN, s)  # type: ignore[misc]
    for blocklist in blocklists_for(request):
        work[f"dnsbl {blocklist.zone}"] = lambda b=blocklist: check_list(fresh(), IP, b)  # type: ignore[misc]
    return work


async def measure(dns_ms: float, rounds: int) -> dict[str, Any]:
    with start_dns() as dns:
        zone(dns)
        dns.zone.delay = dns_ms / 1000
        config = ProbeConfig(resolver=dns.address, timeouts=Timeouts(dns=5.0, overall=30.0))
        request = SenderRequest(DOMAIN, IP)
        alone: dict[str, list[float]] = {}
        totals: list[float] = []
        for _ in range(rounds):
            for name, work in singles(config, request).items():
                alone.setdefault(name, []).append(await timed(work))
            totals.append(await timed(lambda: run_checks(request, config)))
        asked = len(dns.queries)
    single = {name: statistics.median(values) for name, values in alone.items()}
    slowest = max(single, key=lambda n: single[n])
    total = statistics.median(totals)
    return {
        "dns_ms": dns_ms,
        "rounds": rounds,
        "total_ms": round(total, 1),
        "slowest_chain": slowest,
        "slowest_chain_ms": round(single[slowest], 1),
        "ratio": round(total / single[slowest], 3),
        "target_ratio": TARGET_RATIO,
        "sequential_ms": round(sum(single.values()), 1),
        "checks_ms": {name: round(ms, 1) for name, ms in single.items()},
        "queries": asked,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dns-ms", type=float, default=100.0, help="delay of every DNS answer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.dns_ms, args.rounds))
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"DNS answers after {figures['dns_ms']:g} ms; median of {figures['rounds']} runs")
    for name, ms in figures["checks_ms"].items():
        print(f"  {name:<30} {ms:8.1f} ms")
    print(f"full sender check              {figures['total_ms']:8.1f} ms")
    print(
        f"slowest single chain ({figures['slowest_chain']}) {figures['slowest_chain_ms']:.1f} ms: "
        f"ratio {figures['ratio']:.2f}x (goal <= {TARGET_RATIO}x)"
    )
    print(f"every check one after another    {figures['sequential_ms']:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
