"""Ask the zone's own name servers for the MX, and compare with what the recursive resolver says.

Why: after an MX change, resolvers keep the old answer until its TTL runs out, so some senders
still deliver to the old host; and a lame or broken name server makes lookups fail for the
resolvers that happen to ask it (4.4.312 now and then). Both hide behind a healthy-looking
recursive answer.

Strategy, as in dnspython's ``_Resolution``: the I/O is a thin async loop, the judgement a pure
function (``judge``).
1. Find the zone: the closest enclosing name with NS records (recursive lookups).
2. At once: the recursive MX answer, and for each name server (sorted, at most ``MAX_NS``) its
   addresses through ``probe_address`` (so the guard checks them), then the MX and the zone's
   SOA serial asked of each address directly, without recursion, on ``config.dns_port``.
3. Classify each server's reply: answered (AA set, NOERROR), nxdomain (AA set: it says the
   domain does not exist), lame (REFUSED, or no AA: it does not serve the zone), servfail,
   timeout, unreachable; "not asked" when the guard refused its addresses or it had none.
4. Judge:
       every server answers the recursive answer         ok
       servers agree, the recursive answer differs       the old MX still cached (TTL left named)
       servers disagree                                  who said what, with SOA serials
       some servers broken                               named; the rest compared as above
       no server asked answered                          4.4.312
       NXDOMAIN from the recursive resolver              4.4.312 (there is no zone to ask)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.SOA

from bot.probes.address import probe_address
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import (
    DnsAnswer,
    DnsFailure,
    DnsTimeout,
    ServerReply,
    display,
    elapsed_ms,
    lookup,
    query_server,
)
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, raw, text

DNS_FAILED = "4.4.312"
MAX_NS = 6  # name servers asked; zones rarely have more, and each costs two queries per address
STEP = "authoritative"
ANSWERED, NXDOMAIN, LAME, SERVFAIL, TIMEOUT, UNREACHABLE, NOT_ASKED = (
    "answered",
    "nxdomain",
    "lame",
    "servfail",
    "timeout",
    "unreachable",
    "not asked",
)


@dataclass(frozen=True, slots=True)
class ServerView:
    """What one name server (one address of it) said."""

    ns: str
    address: str | None
    status: str
    mx: tuple[str, ...] = ()  # "10 mx1.example.com", sorted
    ttl: int | None = None
    serial: int | None = None
    said: Text | None = None  # why it is not a plain answer; ``note`` is the same in English

    @property
    def note(self) -> str:
        return self.said.render() if self.said is not None else ""

    def says(self) -> Text:
        return self.said if self.said is not None else raw(self.status)

    @property
    def label(self) -> str:
        return f"{self.ns} ({self.address})" if self.address else self.ns

    def facts(self) -> dict[str, Any]:
        return {
            "ns": self.ns,
            "address": self.address,
            "status": self.status,
            "mx": list(self.mx),
            "ttl": self.ttl,
            "serial": self.serial,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class RecursiveView:
    mx: tuple[str, ...] | None  # None: the lookup failed
    ttl: int | None
    said: Text | None = None  # why it failed

    @property
    def error(self) -> str:
        return self.said.render() if self.said is not None else ""


def mx_set(records: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(
        sorted(f"{r.preference} {display(r.exchange) or '.'}" for r in records if isinstance(r, dns.rdtypes.ANY.MX.MX))
    )


def _shown(mx: tuple[str, ...]) -> str | Text:
    return ", ".join(mx) if mx else text("authoritative.no_mx")


def classify(ns: str, address: str, mx: ServerReply | Exception, soa: ServerReply | Exception | None) -> ServerView:
    """Pure: one server's MX reply (and SOA reply, for the serial) as a ServerView."""
    serial = None
    if isinstance(soa, ServerReply) and soa.authoritative:
        serial = next((int(r.serial) for r in soa.records if isinstance(r, dns.rdtypes.ANY.SOA.SOA)), None)
    if isinstance(mx, DnsTimeout):
        return ServerView(ns, address, TIMEOUT, said=mx.said)
    if isinstance(mx, DnsFailure):
        return ServerView(ns, address, UNREACHABLE, said=mx.said)
    if isinstance(mx, Exception):
        return ServerView(ns, address, UNREACHABLE, said=raw(f"{type(mx).__name__}: {mx}"))
    if mx.rcode == "SERVFAIL":
        return ServerView(ns, address, SERVFAIL, said=text("authoritative.servfail"))
    if mx.rcode == "REFUSED":
        return ServerView(ns, address, LAME, said=text("authoritative.refused"))
    if not mx.authoritative:
        key = "authoritative.referral" if mx.referral else "authoritative.no_aa"
        return ServerView(ns, address, LAME, said=text(key))
    if mx.rcode == "NXDOMAIN":
        return ServerView(ns, address, NXDOMAIN, ttl=mx.ttl, serial=serial, said=text("authoritative.says_nxdomain"))
    if mx.rcode != "NOERROR":
        return ServerView(ns, address, UNREACHABLE, said=text("authoritative.rcode", rcode=mx.rcode))
    return ServerView(ns, address, ANSWERED, mx_set(mx.records), mx.ttl, serial)


def _server_said(servers: list[ServerView]) -> tuple[Text, ...]:
    return tuple(text("authoritative.server_said", server=s.label, said=s.says()) for s in servers)


def _server_says(s: ServerView) -> Text:
    """One answering server's view, for a disagreement: its MX (or NXDOMAIN), TTL and serial."""
    mx: str | Text = _shown(s.mx) if s.status == ANSWERED else "NXDOMAIN"
    if s.serial is not None:
        return text("authoritative.server_says_serial", server=s.label, mx=mx, ttl=str(s.ttl), serial=s.serial)
    return text("authoritative.server_says", server=s.label, mx=mx, ttl=str(s.ttl))


def judge(
    domain: str, zone: str, recursive: RecursiveView, servers: list[ServerView]
) -> tuple[bool, str | None, list[Text]]:
    """Pure: (ok, code, evidence) from the recursive answer and each server's view."""
    answered = [s for s in servers if s.status in (ANSWERED, NXDOMAIN)]
    broken = [s for s in servers if s.status not in (ANSWERED, NXDOMAIN, NOT_ASKED)]
    not_asked = [s for s in servers if s.status == NOT_ASKED]
    parts: list[Text] = []
    if not answered:
        code = DNS_FAILED if broken else None  # only refusals by the guard: nothing was asked
        return False, code, [text("authoritative.none_answered", zone=zone, domain=domain, said=_server_said(servers))]
    views = {s.mx if s.status == ANSWERED else ("NXDOMAIN",) for s in answered}
    if len(views) > 1:
        said = tuple(_server_says(s) for s in answered)
        parts.append(text("authoritative.disagree", zone=zone, domain=domain, said=said))
    elif recursive.mx is not None:
        (zone_view,) = views
        if zone_view != recursive.mx:
            theirs: str | Text = _shown(zone_view) if zone_view != ("NXDOMAIN",) else "NXDOMAIN"
            cached = _shown(recursive.mx)
            stale = text(
                "authoritative.stale", cached=cached, domain=domain, ttl=str(recursive.ttl), zone=zone, mx=theirs
            )
            parts.append(stale)
    if broken:
        key = "authoritative.broken_many" if len(broken) > 1 else "authoritative.broken_one"
        servers_said = tuple(text("authoritative.broken_server", server=s.label, said=s.says()) for s in broken)
        parts.append(text(key, servers=servers_said))
    if not_asked:
        parts.append(text("authoritative.not_asked", servers=_server_said(not_asked)))
    if recursive.mx is None:
        parts.append(text("authoritative.recursive_failed", reason=recursive.said or raw("")))
    if not parts or (not_asked and len(parts) == 1):
        (zone_view,) = views
        key = "authoritative.agree_many" if len(answered) > 1 else "authoritative.agree_one"
        agreed = text(key, count=len(answered), zone=zone, domain=domain, mx=_shown(zone_view), ttl=str(recursive.ttl))
        return True, None, [agreed, *parts]
    return False, None, parts


async def _find_zone(ctx: ProbeContext, domain: str) -> tuple[str, list[str]]:
    """The closest enclosing name that has NS records, and those name servers' names."""
    labels = domain.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        try:
            answer = await lookup(ctx, candidate, "NS", step=STEP)
        except DnsFailure as exc:
            if exc.kind == "nxdomain" and i > 0:
                continue  # an empty non-terminal parent; keep climbing
            raise
        names = sorted({display(r.target) for r in answer.records if isinstance(r, dns.rdtypes.ANY.NS.NS)})
        if names:
            return candidate, names
    said = text("authoritative.no_zone", domain=domain)
    raise DnsFailure(said, step=STEP, kind="error", name=domain, rdtype="NS")


async def _ask_server(ctx: ProbeContext, domain: str, zone: str, ns: str) -> list[ServerView]:
    result, addresses = await probe_address(ctx, ns)
    if not addresses:
        status = NOT_ASKED if result.facts.get("refused") else UNREACHABLE
        return [ServerView(ns, None, status, said=result.texts[0] if result.texts else raw(result.detail))]

    async def one(address: str) -> ServerView:
        mx, soa = await asyncio.gather(
            query_server(ctx, domain, "MX", address, step=STEP),
            query_server(ctx, zone, "SOA", address, step=STEP),
            return_exceptions=True,
        )
        for reply in (mx, soa):
            if isinstance(reply, BaseException) and not isinstance(reply, Exception):
                raise reply  # cancellation and the like pass through
        assert isinstance(mx, ServerReply | Exception) and isinstance(soa, ServerReply | Exception)
        return classify(ns, address, mx, soa)

    return list(await asyncio.gather(*(one(a) for a in addresses)))


async def _recursive(ctx: ProbeContext, domain: str) -> RecursiveView | DnsFailure:
    try:
        answer: DnsAnswer = await lookup(ctx, domain, "MX", step=STEP)
    except DnsFailure as exc:
        if exc.kind == "nxdomain":
            return exc
        return RecursiveView(None, None, exc.said)
    except DnsTimeout as exc:
        return RecursiveView(None, None, exc.said)
    return RecursiveView(mx_set(answer.records), answer.ttl)


async def probe_authoritative(ctx: ProbeContext, domain: str) -> ProbeResult:
    """The "authoritative" step: the zone's name servers asked directly, compared with the resolver."""
    started = time.perf_counter()
    name = display(domain)

    def result(ok: bool, said: Text | list[Text], code: str | None = None, **facts: Any) -> ProbeResult:
        return observed(STEP, name, ok, said, code, elapsed_ms(started), facts)

    try:
        zone, ns_names = await _find_zone(ctx, name)
    except DnsTimeout as exc:
        return result(False, text("authoritative.no_ns", reason=exc.said), DNS_FAILED, timeout=exc.seconds)
    except DnsFailure as exc:
        code = None if exc.kind == "bad_name" else DNS_FAILED
        return result(False, text("authoritative.no_ns", reason=exc.said), code, rcode=exc.rcode)
    asked = ns_names[:MAX_NS]
    async with asyncio.TaskGroup() as group:
        recursive_task = group.create_task(_recursive(ctx, name))
        ns_tasks = [group.create_task(_ask_server(ctx, name, zone, ns)) for ns in asked]
    recursive = recursive_task.result()
    per_ns = [task.result() for task in ns_tasks]
    if isinstance(recursive, DnsFailure):
        return result(False, recursive.said, DNS_FAILED, zone=zone, rcode="NXDOMAIN")
    servers = [view for views in per_ns for view in views]
    ok, code, said = judge(name, zone, recursive, servers)
    seen: dict[str, Any] = {"mx": list(recursive.mx) if recursive.mx is not None else None, "ttl": recursive.ttl}
    if recursive.error:
        seen["error"] = recursive.error
    facts = {"zone": zone, "ns": asked, "recursive": seen, "servers": [s.facts() for s in servers], "agree": ok}
    return result(ok, said, code, **facts)
