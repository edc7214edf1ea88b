"""DNS blocklists: is the sending IP listed, and what does each list say (RFC 5782).

A query is the IP's reversed octets (IPv4) or nibbles (IPv6) under the list's zone, asked as
an A record through the configured resolver: NXDOMAIN means "not listed", an address in
127.0.0.0/8 means "listed" (section 2.3), and the TXT record at the same name says why.

Some answers are not listings: Spamhaus answers 127.255.255.252 for a query to a wrong zone,
.254 for a query through a public resolver and .255 for too many queries; the catalog
(``knowledge/facts/sender.toml``) names each list's error answers. For a list the catalog
does not know, any 127.255.255.x answer and 127.0.0.1 (which RFC 5782 section 5 reserves: no
list holds it, lists answer it to refuse a query) are error answers too. Those, a DNS failure,
a query name the DNS cannot carry, and an answer outside 127.0.0.0/8 (a resolver that rewrites
NXDOMAIN to an advertising page) are "unknown", never "listed". A list the catalog marks
``ipv6 = false`` is not asked about an IPv6 address ("no-ipv6"): its NXDOMAIN would read as
"not listed" when the list simply holds no IPv6 addresses. All lists are asked at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.sender.dns import SenderDns, TempFailure
from bot.sender.knowledge import Blocklist

LOOPBACK_NET = ipaddress.ip_network("127.0.0.0/8")
ERROR_NET = ipaddress.ip_network("127.255.255.0/24")


@dataclass(slots=True)
class DnsblReport:
    zone: str
    query: str
    status: str  # listed, clear, unknown, no-ipv6 (an IPv4-only list, an IPv6 address: not asked)
    answers: list[str] = field(default_factory=list)
    meaning: list[str] = field(default_factory=list)  # the list's names for the answers ("SBL", "XBL")
    reason: str | None = None  # the TXT record
    error: str | None = None  # why unknown: an error id of the catalog, "dns", or "not-loopback"
    detail: str | None = None
    delist: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def query_name(ip: str, zone: str) -> str:
    """``192.0.2.1`` under ``zen.example`` -> ``1.2.0.192.zen.example`` (nibbles for IPv6)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    reverse = address.reverse_pointer.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")
    return f"{reverse}.{zone.strip().rstrip('.').lower()}"


def error_answer(blocklist: Blocklist, answer: str) -> str | None:
    """The error id when ``answer`` is one of the list's error answers, not a listing."""
    if answer in blocklist.errors:
        return blocklist.errors[answer]
    try:
        address = ipaddress.ip_address(answer)
    except ValueError:
        return None
    return "error-answer" if address in ERROR_NET or str(address) == "127.0.0.1" else None


async def check_list(dns: SenderDns, ip: str, blocklist: Blocklist) -> DnsblReport:
    name = query_name(ip, blocklist.zone)
    report = DnsblReport(zone=blocklist.zone, query=name, status="unknown", delist=blocklist.delist)
    if not blocklist.ipv6 and ":" in ip and ipaddress.IPv6Address(ip).ipv4_mapped is None:
        report.status = "no-ipv6"  # not asked: its "not listed" would say nothing
        return report
    try:
        answer = await dns.get(name, "A")
    except TempFailure as exc:
        report.error, report.detail = "dns", exc.reason
        return report
    if answer.bad_name:
        report.error, report.detail = "bad-name", f"{name} is not a name the DNS can carry"
        return report
    if answer.void:
        report.status = "clear"
        return report
    report.answers = sorted(answer.values)
    errors = [e for a in report.answers if (e := error_answer(blocklist, a))]
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
