"""Addresses of one host (A and AAAA, asked in parallel), each checked by the address guard.

Strategy: the host name is resolved once, here; every address goes through
``ctx.guard.check(ip, host=host)``, and only the addresses it accepts are returned, so the
callers connect to exactly what was checked (no second lookup, no DNS-rebinding window). An IP
literal is not looked up: the guard checks it directly.

    addresses found, some accepted       ok; refused ones dropped and named (rule per address)
    addresses found, every one refused   not ok, no code: the detail names the guard's rule and
                                         ``facts["refused"] is True`` (the orchestrator turns
                                         that into a refusal of the whole request)
    NXDOMAIN (for either type)           4.4.312, with the negative TTL
    the name exists, no A and no AAAA    4.4.312
    SERVFAIL / timeout for both types    4.4.312, naming what failed
    one type fails, the other answers    ok; the failure is kept in the detail and facts

A, then AAAA, in answer order, duplicates dropped, capped at ``max_addresses``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA

from bot.errors import TargetRefused
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import (
    DnsAnswer,
    DnsFailure,
    DnsTimeout,
    ResolverSilent,
    display,
    elapsed_ms,
    lookup_checked,
    resolver_label,
)
from bot.probes.guard import parse_ip, refusal
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, raw, text

DNS_FAILED = "4.4.312"
TYPES = ("A", "AAAA")


async def _ask(ctx: ProbeContext, host: str, rdtype: str) -> DnsAnswer | DnsFailure | DnsTimeout:
    try:
        return await lookup_checked(ctx, host, rdtype, step="address")
    except (DnsFailure, DnsTimeout) as exc:
        return exc


def _rule(address: str, exc: TargetRefused) -> str:
    ip = parse_ip(address)
    return (refusal(ip) if ip is not None else None) or str(exc)


def _literal(ctx: ProbeContext, host: str, started: float) -> tuple[ProbeResult, list[str]]:
    try:
        ip = ctx.guard.check(host)
    except TargetRefused as exc:
        rule = _rule(host, exc)
        facts = {"addresses": [], "refused": True, "rule": rule, "refusals": [{"address": host, "rule": rule}]}
        return observed("address", host, False, raw(str(exc)), None, elapsed_ms(started), facts), []
    address = str(ip)
    said = text("address.literal", address=address)
    return observed("address", host, True, said, None, elapsed_ms(started), {"addresses": [address]}), [address]


async def probe_address(ctx: ProbeContext, host: str) -> tuple[ProbeResult, list[str]]:
    """The "address" step for ``host``: its result, and the guard-accepted addresses to connect to."""
    started = time.perf_counter()
    if parse_ip(host) is not None:
        return _literal(ctx, host.strip().strip("[]"), started)
    name = display(host)

    def result(ok: bool, said: Text | list[Text], code: str | None = None, **facts: Any) -> ProbeResult:
        return observed("address", name, ok, said, code, elapsed_ms(started), facts)

    outcomes = dict(zip(TYPES, await asyncio.gather(*(_ask(ctx, name, t) for t in TYPES)), strict=True))
    answers = {t: o for t, o in outcomes.items() if isinstance(o, DnsAnswer)}
    errors = {t: o for t, o in outcomes.items() if not isinstance(o, DnsAnswer)}
    error_facts = {t: e.reason for t, e in errors.items()}
    ttls = {t: a.ttl for t, a in answers.items()}

    failures = [e for e in errors.values() if isinstance(e, DnsFailure)]
    if bad := next((e for e in failures if e.kind == "bad_name"), None):
        return result(False, bad.said, None, addresses=[]), []
    if nx := next((e for e in failures if e.kind == "nxdomain"), None):
        # NXDOMAIN means the name has no records of any type, whichever query saw it.
        said = [text("dns.nxdomain", name=name)]
        if nx.negative_ttl is not None:
            said.append(text("dns.nxdomain_cached", ttl=nx.negative_ttl))
        return result(False, said, DNS_FAILED, addresses=[], rcode="NXDOMAIN", negative_ttl=nx.negative_ttl), []

    found: list[str] = []
    for rdtype in TYPES:
        answer = answers.get(rdtype)
        for record in answer.records if answer else ():
            if isinstance(record, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA) and record.address not in found:
                found.append(str(record.address))
    if not found:
        if errors:
            first = errors.get("A") or errors["AAAA"]
            timeout = first.seconds if isinstance(first, DnsTimeout) else None
            if isinstance(first, ResolverSilent) and all(isinstance(e, ResolverSilent) for e in errors.values()):
                silent = {"resolver_unreachable": True, "resolver": resolver_label(ctx)}
                return result(False, first.said, None, addresses=[], errors=error_facts, timeout=timeout, **silent), []
            return result(
                False, first.said, DNS_FAILED, addresses=[], errors=error_facts, ttl=ttls, timeout=timeout
            ), []
        return result(False, text("address.none", name=name), DNS_FAILED, addresses=[], ttl=ttls), []

    accepted: list[str] = []
    refusals: list[dict[str, str]] = []
    for address in found:
        try:
            accepted.append(str(ctx.guard.check(address, host=name)))
        except TargetRefused as exc:
            refusals.append({"address": address, "rule": _rule(address, exc)})
    refused_text = ", ".join(f"{r['address']} ({r['rule']})" for r in refusals)
    if not accepted:
        refused_all = text("address.all_refused", name=name, refusals=refused_text)
        rule = refusals[0]["rule"]
        return result(False, refused_all, None, addresses=[], refused=True, rule=rule, refusals=refusals, ttl=ttls), []

    kept = accepted[: ctx.config.max_addresses]
    shown = ", ".join(kept)
    if len(kept) < len(accepted):
        found_text = text("address.found_capped", name=name, count=len(accepted), addresses=shown, shown=len(kept))
    elif len(accepted) > 1:
        found_text = text("address.found_many", name=name, count=len(accepted), addresses=shown)
    else:
        found_text = text("address.found_one", name=name, addresses=shown)
    texts = [found_text]
    if refusals:
        texts.append(text("address.dropped", refusals=refused_text))
    for rdtype, error in errors.items():
        texts.append(text("address.type_failed", rdtype=rdtype, reason=error.said))
    facts: dict[str, Any] = {
        "addresses": kept,
        "ttl": ttls,
        "total": len(accepted),
        "capped": len(kept) < len(accepted),
    }
    if refusals:
        facts["refusals"] = refusals
    if errors:
        facts["errors"] = error_facts
    return result(True, texts, None, refused=False, **facts), kept
