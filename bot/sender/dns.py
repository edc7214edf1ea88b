"""The DNS edge of the sender checks: each lookup as a small value, or ``TempFailure``.

Every check (SPF, DMARC, DKIM, blocklists) asks through a ``SenderDns``: the configured resolver
(``ProbeConfig.resolver``, the ``--resolver`` of the CLI), the per-query timeout of
``Timeouts.dns``, dnspython's errors translated by ``probes.dnsquery.lookup``. What the checks
need to tell apart:

    Records(values=(...))              an answer
    Records(values=(), nxdomain=...)   a "void" answer (RFC 7208 section 4.6.4): NODATA or NXDOMAIN
    Records(bad_name=True)             the name cannot be asked (too long a label, empty label)
    TempFailure                        SERVFAIL, REFUSED, unreachable or a timeout: no answer at all
    TempFailure(silent=True)           no reply, and none to a control query either: mailflow's own
                                       resolver is down or unreachable, which says nothing about
                                       the domain (``SenderDns.silent`` keeps what was said)

The control query (the root zone's NS through the same resolver, ``resolver_answers``) is asked
once per check run, as diagnose does it: it starts when a lookup has waited half its timeout
(or failed to reach any server), and every lookup that gets no reply waits for that one answer.

``queries`` counts what was asked, for the tests and the benchmark.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

import dns.exception
import dns.name

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import (
    DnsAnswer,
    DnsFailure,
    DnsTimeout,
    display,
    lookup,
    resolver_answers,
    resolver_label,
    txt_texts,
)
from bot.texts import text


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

    def __init__(self, reason: str, *, name: str, rdtype: str, timeout: bool = False, silent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name
        self.rdtype = rdtype
        self.timeout = timeout
        self.silent = silent  # mailflow's own resolver answers nothing, not even the control query


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
    silent: str | None = None  # set when our own resolver answered nothing: what to say about it
    _control: asyncio.Future[bool] | None = None

    def control(self) -> asyncio.Future[bool]:
        """The run's one control query: does the resolver answer at all?"""
        if self._control is None:
            self._control = asyncio.ensure_future(resolver_answers(self.ctx))
        return self._control

    def close(self) -> None:
        if self._control is not None and not self._control.done():
            self._control.cancel()

    async def _lookup(self, name: str, rdtype: str, step: str) -> DnsAnswer:
        main = asyncio.ensure_future(lookup(self.ctx, name, rdtype, step=step))
        try:
            done, _ = await asyncio.wait({main}, timeout=self.ctx.config.timeouts.dns / 2)
            if not done:
                self.control()  # started early, so a silent resolver is known within 1.5 timeouts
            return await main
        finally:
            if not main.done():
                main.cancel()

    async def _resolver_silent(self, name: str, rdtype: str) -> TempFailure | None:
        if await asyncio.shield(self.control()):
            return None
        seconds = self.ctx.config.timeouts.dns
        said = text(
            "dns.resolver_silent",
            resolver=resolver_label(self.ctx),
            name=display(name) or name,
            rdtype=rdtype,
            seconds=f"{seconds:g}",
        ).render()
        self.silent = said
        return TempFailure(said, name=name, rdtype=rdtype, timeout=True, silent=True)

    async def get(self, name: str, rdtype: str) -> Records:
        """``name``'s ``rdtype`` records as text; TempFailure when the DNS does not answer."""
        self.queries.append((name, rdtype))
        step = f"{rdtype} {display(name) or name}"
        try:
            answer = await self._lookup(name, rdtype, step)
        except DnsFailure as exc:
            if exc.kind == "nxdomain":
                return Records(display(name), rdtype, nxdomain=True)
            if exc.kind == "bad_name":
                return Records(name, rdtype, bad_name=True)
            if (
                exc.kind == "unreachable"
                and exc.rcode is None
                and (silent := await self._resolver_silent(name, rdtype))
            ):
                raise silent from None
            raise TempFailure(exc.reason, name=exc.name, rdtype=rdtype) from None
        except DnsTimeout as exc:
            if silent := await self._resolver_silent(name, rdtype):
                raise silent from None
            raise TempFailure(exc.reason, name=exc.name, rdtype=rdtype, timeout=True) from None
        if rdtype == "TXT":
            return Records(answer.name, rdtype, tuple(txt_texts(answer)))
        if rdtype == "MX":
            pairs = [(int(r.preference), display(r.exchange)) for r in answer.records]  # type: ignore[attr-defined]
            return Records(answer.name, rdtype, tuple(h for _, h in pairs), preferences=tuple(p for p, _ in pairs))
        if rdtype in ("PTR", "CNAME"):
            return Records(answer.name, rdtype, tuple(display(r.target) for r in answer.records))  # type: ignore[attr-defined]
        return Records(answer.name, rdtype, tuple(r.to_text() for r in answer.records))
