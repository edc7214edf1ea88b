"""MX lookup: which hosts receive a domain's mail, in the order senders try them.

Strategy: one MX query through the injected resolver (``dnsquery.lookup``, which owns the
timeout and translates dnspython's errors), then a pure reading of the answer
(``read_mx``). What each outcome becomes:

    MX records                  ok; hosts by preference (ties by name), capped at max_mx
    no MX, the name exists      ok; implicit MX: the domain itself (RFC 5321 section 5.1)
    null MX "0 ."               not ok, no code: the domain accepts no mail (RFC 7505 section 3)
    NXDOMAIN                    4.4.312, with the negative TTL resolvers cache it for
    SERVFAIL, REFUSED, ...      4.4.312, naming what each server said
    no answer in time           4.4.312, naming the step and the seconds, when a control query
                                through the same resolver is answered; when it is not either,
                                no code: mailflow's resolver is unreachable (``facts
                                ["resolver_unreachable"]``), the destination's DNS did not fail

A null MX next to other MX records breaks RFC 7505 section 3 ("MUST NOT"): the other hosts are
kept, so the delivery path is still probed, and the result says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.rdtypes.ANY.MX

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
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, render_all, text

DNS_FAILED = "4.4.312"


@dataclass(frozen=True, slots=True, order=True)
class MxHost:
    preference: int
    host: str  # lower-case, no final dot; "." never appears (null MX is reported, not returned)


@dataclass(frozen=True, slots=True)
class MxReading:
    """What an MX answer means: the hosts to try, and how to report it."""

    ok: bool
    said: tuple[Text, ...]
    hosts: tuple[MxHost, ...]
    facts: dict[str, Any]

    @property
    def detail(self) -> str:
        return render_all(self.said)


def read_mx(domain: str, answer: DnsAnswer, max_mx: int) -> MxReading:
    """Pure: the hosts senders would try for ``domain``, from the resolver's MX answer."""
    records = sorted(
        MxHost(int(r.preference), display(r.exchange)) for r in answer.records if isinstance(r, dns.rdtypes.ANY.MX.MX)
    )
    facts: dict[str, Any] = {
        "mx": [{"preference": h.preference, "host": h.host or "."} for h in records],
        "ttl": answer.ttl,
    }
    if not records:
        # RFC 5321 section 5.1: no MX RRs, so the domain itself is the implicit MX, preference 0.
        return MxReading(
            True,
            (text("mx.implicit", domain=domain),),
            (MxHost(0, domain),),
            {**facts, "ttl": None, "implicit": True, "negative_ttl": answer.ttl},
        )
    real = [h for h in records if h.host]
    if len(real) < len(records):
        if not real:
            return MxReading(
                False,
                (text("mx.null", domain=domain),),
                (),
                {**facts, "null_mx": True},
            )
        notes, ok = [text("mx.null_beside")], False
    else:
        notes, ok = [], True
    hosts = real[:max_mx]
    shown = ", ".join(f"{h.preference} {h.host}" for h in hosts)
    if len(real) > len(hosts):
        found = text(
            "mx.found_capped", domain=domain, hosts=shown, shown=len(hosts), total=len(real), ttl=str(answer.ttl)
        )
    else:
        found = text("mx.found", domain=domain, hosts=shown, ttl=str(answer.ttl))
    facts |= {"total": len(real), "capped": len(real) > len(hosts)}
    if not ok:
        facts["null_mx"] = True
    return MxReading(ok, (found, *notes), tuple(hosts), facts)


async def probe_mx(ctx: ProbeContext, domain: str) -> tuple[ProbeResult, list[MxHost]]:
    """The "mx" step: its result, and the hosts to probe in preference order."""
    started = time.perf_counter()
    name = display(domain)

    def result(ok: bool, said: Text | Sequence[Text], code: str | None = None, **facts: Any) -> ProbeResult:
        return observed("mx", name, ok, said, code, elapsed_ms(started), facts)

    try:
        answer = await lookup_checked(ctx, name, "MX", step="mx")
    except ResolverSilent as exc:
        facts = {"resolver_unreachable": True, "resolver": resolver_label(ctx), "timeout": exc.seconds}
        return result(False, exc.said, None, rcode=None, **facts), []
    except DnsTimeout as exc:
        return result(False, exc.said, DNS_FAILED, rcode=None, timeout=exc.seconds), []
    except DnsFailure as exc:
        if exc.kind == "bad_name":
            return result(False, exc.said, None, rcode=None), []
        said = [exc.said]
        if exc.kind == "nxdomain" and exc.negative_ttl is not None:
            said.append(text("dns.nxdomain_cached", ttl=exc.negative_ttl))
        return result(False, said, DNS_FAILED, rcode=exc.rcode, kind=exc.kind, negative_ttl=exc.negative_ttl), []
    reading = read_mx(name, answer, ctx.config.max_mx)
    return result(reading.ok, reading.said, None, server=answer.server, **reading.facts), list(reading.hosts)
