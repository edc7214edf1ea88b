"""DNS blocklists: is the sending IP listed, and what does each list say (RFC 5782).

A query is the IP's reversed octets (IPv4) or nibbles (IPv6) under the list's zone, asked as
an A record through the configured resolver: NXDOMAIN means "not listed", an address in
127.0.0.0/8 means "listed" (section 2.3), and the TXT record at the same name says why.

Some answers are not listings: Spamhaus answers 127.255.255.252 for a query to a wrong zone,
.254 for a query through a public resolver and .255 for too many queries; the catalog
(``knowledge/catalog/sender.toml``) names each list's error answers. Those, a DNS failure, and
an answer outside 127.0.0.0/8 (a resolver that rewrites NXDOMAIN to an advertising page) are
"unknown", never "listed". All lists are asked at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.sender.dns import SenderDns, TempFailure
from bot.sender.knowledge import Blocklist

LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")


@dataclass(slots=True)
class DnsblReport:
    zone: str
    query: str
    status: str  # listed, clear, unknown
    answers: list[str] = field(default_factory=list)
    meaning: list[str] = field(default_factory=list)  # the list's names for the answers ("SBL", "XBL")
    reason: str | None = None  # the TXT record
    error: str | None = None  # why unknown: an error id of the catalog, "dns", or "not-loopback"
    detail: str | None = None
    delist: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "query": self.query,
            "status": self.status,
            "answers": self.answers,
            "meaning": self.meaning,
            "reason": self.reason,
            "error": self.error,
            "detail": self.detail,
            "delist": self.delist,
        }


def query_name(ip: str, zone: str) -> str:
    """``192.0.2.1`` under ``zen.example`` -> ``1.2.0.192.zen.example`` (nibbles for IPv6)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    reverse = address.reverse_pointer.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")
    return f"{reverse}.{zone.strip().rstrip('.').lower()}"


async def check_list(dns: SenderDns, ip: str, blocklist: Blocklist) -> DnsblReport:
    name = query_name(ip, blocklist.zone)
    report = DnsblReport(zone=blocklist.zone, query=name, status="unknown", delist=blocklist.delist)
    try:
        answer = await dns.get(name, "A")
    except TempFailure as exc:
        report.error, report.detail = "dns", exc.reason
        return report
    if answer.void:
        report.status = "clear"
        return report
    report.answers = sorted(answer.values)
    errors = [blocklist.errors[a] for a in report.answers if a in blocklist.errors]
    if errors:
        report.error = errors[0]
        report.detail = f"{blocklist.zone} answered {', '.join(report.answers)}: an error answer, not a listing"
        return report
    if not all(ipaddress.ip_address(a) in LOOPBACK_NET for a in report.answers):
        report.error = "not-loopback"
        answers = ", ".join(report.answers)
        report.detail = f"{blocklist.zone} answered {answers}, outside 127.0.0.0/8: not a blocklist answer"
        return report
    report.status = "listed"
    report.meaning = [blocklist.codes[a] for a in report.answers if a in blocklist.codes]
    try:
        reason = await dns.get(name, "TXT")
        report.reason = " ".join(reason.values) or None
    except TempFailure:
        pass  # the listing stands; only its reason is missing
    report.detail = f"{ip} is listed by {blocklist.zone} ({', '.join(report.answers)})"
    return report


async def check_dnsbl(dns: SenderDns, ip: str, lists: Sequence[Blocklist]) -> list[DnsblReport]:
    return list(await asyncio.gather(*(check_list(dns, ip, b) for b in lists)))
