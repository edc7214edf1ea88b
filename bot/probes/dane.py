"""DANE for SMTP: TLSA records at ``_25._tcp.<mx>`` (RFC 7672), and whether DNSSEC vouched for them.

Strategy: one TLSA lookup through the injected resolver with the AD bit set in the query
(RFC 6840 section 5.7), the cheap way to learn whether a validating resolver authenticated the
answer; a non-validating resolver never sets AD, so "not authenticated" means "unsigned, or this
resolver does not validate", and the detail says both. The reading (``read_tlsa``) is pure.

    no TLSA (NXDOMAIN, NODATA)              ok: no DANE, senders use opportunistic TLS
    TLSA records, answer authenticated      ok: DANE senders require a certificate that matches
    TLSA records, not authenticated         ok, with the caveat: senders ignore unsigned TLSA
    lookup failure or timeout               not ok, no code: DANE senders that cannot tell
                                            whether TLSA records exist defer the mail (RFC 7672)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import dns.rdtypes.ANY.TLSA

from bot.probes.context import ProbeContext
from bot.probes.dnsquery import DnsAnswer, DnsFailure, DnsTimeout, display, elapsed_ms, lookup
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, text

STEP = "dane"
USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}  # RFC 6698 section 2.1.1, RFC 7218


@dataclass(frozen=True, slots=True)
class TlsaReading:
    ok: bool
    said: Text
    facts: dict[str, Any]

    @property
    def detail(self) -> str:
        return self.said.render()


def read_tlsa(name: str, answer: DnsAnswer) -> TlsaReading:
    """Pure: the TLSA answer for ``name`` as a reading."""
    records = [r for r in answer.records if isinstance(r, dns.rdtypes.ANY.TLSA.TLSA)]
    if not records:
        return TlsaReading(True, text("dane.none", name=name), {"present": False})
    texts = [f"{r.usage} {r.selector} {r.mtype} {r.cert.hex()}" for r in records]
    usages = sorted({USAGES.get(r.usage, str(r.usage)) for r in records})
    facts: dict[str, Any] = {
        "present": True,
        "records": texts,
        "usages": usages,
        "authenticated": answer.authenticated,
        "ttl": answer.ttl,
    }
    shown = ", ".join(usages)
    if len(records) == 1:
        found = text("dane.found_one", name=name, usages=shown)
    else:
        found = text("dane.found_many", count=len(records), name=name, usages=shown)
    key = "dane.validated" if answer.authenticated else "dane.not_validated"
    return TlsaReading(True, text(key, records=found), facts)


async def probe_dane(ctx: ProbeContext, host: str) -> ProbeResult:
    """The "dane" step for one MX host."""
    started = time.perf_counter()
    name = f"_25._tcp.{display(host)}"

    def result(ok: bool, said: Text | list[Text], **facts: Any) -> ProbeResult:
        return observed(STEP, display(host), ok, said, None, elapsed_ms(started), {"name": name, **facts})

    try:
        answer = await lookup(ctx, name, "TLSA", step=STEP, want_ad=True)
    except DnsTimeout as exc:
        return result(False, [exc.said, text("dane.defer")], timeout=exc.seconds)
    except DnsFailure as exc:
        if exc.kind == "nxdomain":
            return result(True, text("dane.none", name=name), present=False)
        return result(False, [exc.said, text("dane.defer")], rcode=exc.rcode)
    reading = read_tlsa(name, answer)
    return result(reading.ok, reading.said, **reading.facts)
