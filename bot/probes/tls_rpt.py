"""TLS-RPT: does the domain ask senders for TLS failure reports (RFC 8460)?

Strategy: one TXT lookup at ``_smtp._tls.<domain>`` (``dnsquery.lookup``), then a pure reading
(``read_tls_rpt``). RFC 8460 section 3: records that do not begin with ``v=TLSRPTv1`` are
discarded; if the number left is not one, senders assume the domain has no TLS-RPT. The record
needs ``rua=`` with one or more ``mailto:`` or ``https:`` URIs, comma-separated.

    no record (NXDOMAIN, NODATA, no v=TLSRPTv1)     ok: optional, nothing is reported
    one valid record                                 ok: where reports go, in facts["rua"]
    several, or no usable rua                        not ok, no code: reports are lost
    lookup failure or timeout                        not ok, no code: the failure named

TLS-RPT never blocks mail, so no result here carries a connector error code; its reports are
where a domain owner sees the TLS failures behind 4.4.317 / 4.7.320 from every sender.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.probes.context import ProbeContext
from bot.probes.dnsquery import DnsFailure, DnsTimeout, display, elapsed_ms, lookup, parse_tags, txt_texts
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, text

STEP = "tls_rpt"
VERSION = "v=TLSRPTv1"
SCHEMES = ("mailto:", "https:")


@dataclass(frozen=True, slots=True)
class TlsRptReading:
    ok: bool
    said: Text
    facts: dict[str, Any]

    @property
    def detail(self) -> str:
        return self.said.render()


def read_tls_rpt(name: str, texts: list[str]) -> TlsRptReading:
    """Pure: the TXT strings found at ``name`` (``_smtp._tls.<domain>``) as a reading."""
    records = [t for t in texts if t.startswith(VERSION)]
    if not records:
        return TlsRptReading(True, text("tls_rpt.none", name=name), {"present": False})
    if len(records) > 1:
        said = text("tls_rpt.several", count=len(records), name=name)
        return TlsRptReading(False, said, {"present": True, "records": records, "valid": False})
    record = records[0]
    tags = dict(parse_tags(record))
    rua = [uri.strip() for uri in tags.get("rua", "").split(",") if uri.strip()]
    bad = [uri for uri in rua if not uri.lower().startswith(SCHEMES)]
    facts: dict[str, Any] = {"present": True, "record": record, "rua": rua}
    if not rua:
        return TlsRptReading(False, text("tls_rpt.no_rua", name=name), {**facts, "valid": False})
    if bad:
        said = text("tls_rpt.bad_rua", name=name, uris=", ".join(bad))
        return TlsRptReading(False, said, {**facts, "valid": False})
    return TlsRptReading(True, text("tls_rpt.ok", name=name, uris=", ".join(rua)), {**facts, "valid": True})


async def probe_tls_rpt(ctx: ProbeContext, domain: str) -> ProbeResult:
    """The "tls_rpt" step for ``domain``."""
    started = time.perf_counter()
    name = f"_smtp._tls.{display(domain)}"

    def result(ok: bool, said: Text, **facts: Any) -> ProbeResult:
        return observed(STEP, display(domain), ok, said, None, elapsed_ms(started), {"name": name, **facts})

    try:
        answer = await lookup(ctx, name, "TXT", step=STEP)
    except DnsTimeout as exc:
        return result(False, exc.said, timeout=exc.seconds)
    except DnsFailure as exc:
        if exc.kind == "nxdomain":
            return result(True, text("tls_rpt.none", name=name), present=False)
        return result(False, exc.said, rcode=exc.rcode)
    reading = read_tls_rpt(name, txt_texts(answer))
    return result(reading.ok, reading.said, ttl=answer.ttl, **reading.facts)
