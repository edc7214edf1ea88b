"""The DNS edge of the sender checks: each lookup as a small value, or ``TempFailure``.

Every check (SPF, DMARC, DKIM, blocklists) asks through a ``SenderDns``: the configured resolver
(``ProbeConfig.resolver``, the ``--resolver`` of the CLI), the per-query timeout of
``Timeouts.dns``, dnspython's errors translated by ``probes.dnsquery.lookup``. What the checks
need to tell apart:

    Records(values=(...))              an answer
    Records(values=(), nxdomain=...)   a "void" answer (RFC 7208 section 4.6.4): NODATA or NXDOMAIN
    Records(bad_name=True)             the name cannot be asked (too long a label, empty label)
    TempFailure                        SERVFAIL, REFUSED, unreachable or a timeout: no answer at all

``queries`` counts what was asked, for the tests and the benchmark.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import dns.exception
import dns.name

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import DnsFailure, DnsTimeout, display, lookup, txt_texts


def ascii_domain(domain: str) -> str:
    """A domain as the DNS is asked it: lower case, no final dot, internationalised labels as
    A-labels (``Bücher.example.`` -> ``xn--bcher-kva.example``); ValueError when it cannot be."""
    text = domain.strip().rstrip(".").lower()
    if text.isascii():
        return text
    try:
        return dns.name.from_text(text).to_text(omit_final_dot=True).lower()
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"{domain!r} is not a domain name ({type(exc).__name__})") from None


def plain_ip(text: str) -> str | None:
    """An address as the checks use it (an IPv4-mapped IPv6 address is its IPv4 address,
    RFC 7208 section 5); None when ``text`` is not an address."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class TempFailure(ProbeError):
    """The DNS gave no usable answer (server failure or timeout); the message says which."""

    def __init__(self, reason: str, *, name: str, rdtype: str, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name
        self.rdtype = rdtype
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class Records:
    name: str
    rdtype: str
    values: tuple[str, ...] = ()  # TXT: each record's strings joined; A/AAAA: addresses; MX: hosts; PTR: names
    nxdomain: bool = False
    bad_name: bool = False
    preferences: tuple[int, ...] = ()  # MX only, beside ``values``

    @property
    def void(self) -> bool:
        return not self.values


@dataclass(slots=True)
class SenderDns:
    ctx: ProbeContext
    queries: list[tuple[str, str]] = field(default_factory=list)

    async def get(self, name: str, rdtype: str) -> Records:
        """``name``'s ``rdtype`` records as text; TempFailure when the DNS does not answer."""
        self.queries.append((name, rdtype))
        step = f"{rdtype} {display(name) or name}"
        try:
            answer = await lookup(self.ctx, name, rdtype, step=step)
        except DnsFailure as exc:
            if exc.kind == "nxdomain":
                return Records(display(name), rdtype, nxdomain=True)
            if exc.kind == "bad_name":
                return Records(name, rdtype, bad_name=True)
            raise TempFailure(exc.reason, name=exc.name, rdtype=rdtype) from None
        except DnsTimeout as exc:
            raise TempFailure(exc.reason, name=exc.name, rdtype=rdtype, timeout=True) from None
        if rdtype == "TXT":
            return Records(answer.name, rdtype, tuple(txt_texts(answer)))
        if rdtype == "MX":
            pairs = [(int(r.preference), display(r.exchange)) for r in answer.records]  # type: ignore[attr-defined]
            return Records(answer.name, rdtype, tuple(h for _, h in pairs), preferences=tuple(p for p, _ in pairs))
        if rdtype in ("PTR", "CNAME"):
            return Records(answer.name, rdtype, tuple(display(r.target) for r in answer.records))  # type: ignore[attr-defined]
        return Records(answer.name, rdtype, tuple(r.to_text() for r in answer.records))
