"""The DNS edge shared by the DNS probes: one query, one explicit timeout, dnspython translated.

Strategy: a probe asks ``lookup`` (through the injected recursive resolver) or ``query_server``
(one named server, no recursion: the authoritative probe) and gets a small frozen value back, or
one of the project's errors, raised here where dnspython's enter:

    ProbeError
    ├── DnsFailure        the name does not exist (NXDOMAIN), every server failed (SERVFAIL,
    │                     REFUSED, unreachable), or the name is not a valid DNS name;
    │                     ``kind`` says which, ``negative_ttl`` how long resolvers may cache the
    │                     NXDOMAIN (RFC 2308 section 5)
    └── ProbeTimeout
        └── DnsTimeout    no answer within ``timeouts.dns``; the message names the step and seconds

NODATA (the name exists, no record of the type asked) is not an error: it is an answer with no
records and the negative TTL, because "no MX" and "no TLSA" are ordinary observations.

Also here, shared by the probes: ``display`` (names as people write them), ``txt_texts`` and
``parse_tags`` (TXT records and their ``k=v;`` lists, pure), ``elapsed_ms``.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver

from bot.errors import ProbeError, ProbeTimeout
from bot.probes.context import ProbeContext
from bot.texts import Text, raw, text


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """What the resolver answered for one name and type."""

    name: str  # the name asked, lower-case, without the final dot
    rdtype: str  # "MX", "A", ...
    records: tuple[dns.rdata.Rdata, ...]  # empty: NODATA
    ttl: int | None  # the RRset's TTL as the resolver has it now; for NODATA the negative TTL
    authenticated: bool  # AD flag: the resolver says it validated the answer with DNSSEC
    server: str  # who answered, "127.0.0.1:53"


@dataclass(frozen=True, slots=True)
class ServerReply:
    """What one server, asked directly, answered."""

    server: str
    rcode: str  # "NOERROR", "REFUSED", ...
    authoritative: bool  # AA flag: the server claims the zone
    records: tuple[dns.rdata.Rdata, ...]
    ttl: int | None
    referral: bool  # no answer, NS records in the authority section: it sent us elsewhere


class DnsFailure(ProbeError):
    """The DNS query failed; ``kind`` is nxdomain, servfail, refused, unreachable, bad_name or error."""

    def __init__(
        self,
        reason: Text | str,
        *,
        step: str,
        kind: str,
        name: str,
        rdtype: str,
        rcode: str | None = None,
        negative_ttl: int | None = None,
        servers: tuple[str, ...] = (),
    ) -> None:
        said = reason if isinstance(reason, Text) else raw(reason)
        super().__init__(f"{step}: {said.render()}", text=said)
        self.said = said  # the message without the step, for a ProbeResult's evidence
        self.reason = said.render()  # the same in English
        self.step = step
        self.kind = kind
        self.name = name
        self.rdtype = rdtype
        self.rcode = rcode
        self.negative_ttl = negative_ttl
        self.servers = servers


class DnsTimeout(ProbeTimeout):
    """No DNS answer within the timeout."""

    def __init__(self, reason: Text, *, step: str, name: str, rdtype: str, seconds: float) -> None:
        super().__init__(f"{step}: {reason.render()}", text=reason)
        self.said = reason
        self.reason = reason.render()
        self.step = step
        self.name = name
        self.rdtype = rdtype
        self.seconds = seconds


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), for ProbeResult.elapsed_ms."""
    return round((time.perf_counter() - started) * 1000, 1)


def display(name: str | dns.name.Name) -> str:
    """A name as people write it: lower-case, no final dot."""
    text = name.to_text(omit_final_dot=True) if isinstance(name, dns.name.Name) else name
    return text.strip().rstrip(".").lower()


def to_name(name: str, *, step: str, rdtype: str) -> dns.name.Name:
    """``name`` as an absolute DNS name, or DnsFailure(kind="bad_name")."""
    written = name.strip().rstrip(".")
    try:
        if not written:
            raise dns.name.EmptyLabel
        return dns.name.from_text(written)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise DnsFailure(
            text("dns.bad_name", name=name, error=type(exc).__name__),
            step=step,
            kind="bad_name",
            name=name,
            rdtype=rdtype,
        ) from None


def negative_ttl(response: dns.message.Message | None) -> int | None:
    """RFC 2308 section 5: the negative TTL is the lesser of the SOA's TTL and its MINIMUM field."""
    if response is None:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            minimum: int = rrset[0].minimum
            return min(rrset.ttl, minimum)
    return None


def _server_text(server: object) -> str:
    return str(server).removeprefix("Do53:").replace("@", ":")


async def lookup(ctx: ProbeContext, name: str, rdtype: str, *, step: str, want_ad: bool = False) -> DnsAnswer:
    """Ask the injected resolver; ``want_ad`` sets the AD bit in the query (RFC 6840 section 5.7),
    which asks a validating resolver to say whether it validated the answer."""
    qname = to_name(name, step=step, rdtype=rdtype)
    shown = display(qname)
    resolver = ctx.resolver
    if want_ad:
        resolver = copy.copy(resolver)  # the shared resolver keeps its flags
        resolver.flags = dns.flags.RD | dns.flags.AD
    seconds = ctx.config.timeouts.dns
    try:
        async with asyncio.timeout(seconds):  # a belt: dnspython's lifetime is the braces
            answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, lifetime=seconds, search=False)
    except dns.resolver.NXDOMAIN as exc:
        responses = list((exc.kwargs.get("responses") or {}).values())
        raise DnsFailure(
            text("dns.nxdomain", name=shown),
            step=step,
            kind="nxdomain",
            name=shown,
            rdtype=rdtype,
            rcode="NXDOMAIN",
            negative_ttl=negative_ttl(responses[0] if responses else None),
        ) from None
    except dns.resolver.NoNameservers as exc:
        raise _all_failed(exc, step=step, name=shown, rdtype=rdtype) from None
    except (dns.exception.Timeout, TimeoutError):
        raise DnsTimeout(
            text("dns.timeout", name=shown, rdtype=rdtype, seconds=f"{seconds:g}"),
            step=step,
            name=shown,
            rdtype=rdtype,
            seconds=seconds,
        ) from None
    except dns.exception.DNSException as exc:
        raise DnsFailure(
            text("dns.failed", name=shown, rdtype=rdtype, error=raw(str(exc))),
            step=step,
            kind="error",
            name=shown,
            rdtype=rdtype,
        ) from None
    rrset = answer.rrset
    records = tuple(rrset) if rrset is not None else ()
    return DnsAnswer(
        name=shown,
        rdtype=rdtype,
        records=records,
        ttl=rrset.ttl if rrset is not None else negative_ttl(answer.response),
        authenticated=bool(answer.response.flags & dns.flags.AD),
        server=f"{answer.nameserver}:{answer.port}",
    )


class ResolverSilent(DnsTimeout):
    """Neither the lookup nor a control query through the same resolver got an answer: mailflow's
    own resolver is down or unreachable, which says nothing about the name asked."""


def resolver_label(ctx: ProbeContext) -> str:
    """The resolver the probes use, as an operator would write it (``127.0.0.1:53``)."""
    if ctx.config.resolver is not None:
        ip, port = ctx.config.resolver
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    servers = [str(n) for n in ctx.resolver.nameservers]
    return ", ".join(servers) or "the system resolver"


async def resolver_answers(ctx: ProbeContext) -> bool:
    """Does the resolver answer at all? A control query (the root zone's NS, which every resolver
    has at hand) through it: any reply counts, NXDOMAIN, SERVFAIL and REFUSED included."""
    seconds = ctx.config.timeouts.dns
    try:
        async with asyncio.timeout(seconds):
            await ctx.resolver.resolve(dns.name.root, "NS", raise_on_no_answer=False, lifetime=seconds, search=False)
    except (dns.exception.Timeout, TimeoutError):
        return False
    except dns.resolver.NoNameservers as exc:  # each server failed: did any of them reply?
        return any(isinstance(error[3], str) for error in exc.kwargs.get("errors") or [])
    except dns.exception.DNSException:
        return True  # NXDOMAIN, YXDOMAIN, ...: a reply
    return True


async def lookup_checked(ctx: ProbeContext, name: str, rdtype: str, *, step: str) -> DnsAnswer:
    """``lookup``, telling a silent resolver apart from a silent destination.

    When the lookup gets no reply (a timeout, or no server reachable), a control query through
    the same resolver (``resolver_answers``) decides: it answered, so the lookup's own error is
    raised; it did not either, so ``ResolverSilent``. The control starts once the lookup has
    waited half its timeout, so both end within one and a half DNS timeouts, inside the deadline.
    """
    main = asyncio.ensure_future(lookup(ctx, name, rdtype, step=step))
    control: asyncio.Future[bool] | None = None
    try:
        done, _ = await asyncio.wait({main}, timeout=ctx.config.timeouts.dns / 2)
        if not done:
            control = asyncio.ensure_future(resolver_answers(ctx))
        try:
            return await main
        except (DnsTimeout, DnsFailure) as exc:
            if isinstance(exc, DnsFailure) and (exc.kind != "unreachable" or exc.rcode is not None):
                raise
            if control is None:
                control = asyncio.ensure_future(resolver_answers(ctx))
            if await control:
                raise
            seconds = ctx.config.timeouts.dns
            shown = display(name)
            said = text(
                "dns.resolver_silent", resolver=resolver_label(ctx), name=shown, rdtype=rdtype, seconds=f"{seconds:g}"
            )
            raise ResolverSilent(said, step=step, name=shown, rdtype=rdtype, seconds=seconds) from None
    finally:
        for task in (main, control):
            if task is not None and not task.done():
                task.cancel()


def _all_failed(exc: dns.resolver.NoNameservers, *, step: str, name: str, rdtype: str) -> DnsFailure:
    """NoNameservers carries (server, tcp, port, error, response) per attempt: name what each said."""
    errors = exc.kwargs.get("errors") or []
    said: dict[Text, None] = {}
    rcodes: list[str] = []
    servers: list[str] = []
    for error in errors:
        server, what = _server_text(error[0]), error[3]
        servers.append(server)
        if isinstance(what, str):
            rcodes.append(what)
            said[text("dns.server_said", rcode=what, server=server)] = None
        elif str(what):
            said[text("dns.server_said", rcode=f"{type(what).__name__} ({what})", server=server)] = None
        else:
            said[raw(type(what).__name__)] = None
    rcode = rcodes[0] if rcodes else None
    if rcode == "SERVFAIL":
        kind = "servfail"
    elif rcode == "REFUSED":
        kind = "refused"
    elif rcode is None:
        kind = "unreachable"
    else:
        kind = "error"
    evidence: Text | tuple[Text, ...] = tuple(said) if said else text("dns.no_server")
    return DnsFailure(
        text("dns.failed", name=name, rdtype=rdtype, error=evidence),
        step=step,
        kind=kind,
        name=name,
        rdtype=rdtype,
        rcode=rcode,
        servers=tuple(dict.fromkeys(servers)),
    )


async def query_server(ctx: ProbeContext, name: str, rdtype: str, address: str, *, step: str) -> ServerReply:
    """Ask one server at ``address`` (already guard-checked) directly, without recursion (RD clear),
    on ``config.dns_port``: UDP, then TCP when the answer is truncated."""
    qname = to_name(name, step=step, rdtype=rdtype)
    ip = str(ctx.guard.check(address))  # a belt: the caller checked already
    port = ctx.config.dns_port
    server = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    query = dns.message.make_query(qname, rdtype, flags=0)
    seconds = ctx.config.timeouts.dns
    try:
        async with asyncio.timeout(seconds):
            response, _ = await dns.asyncquery.udp_with_fallback(query, ip, timeout=seconds, port=port)
    except (dns.exception.Timeout, TimeoutError):
        raise DnsTimeout(
            text("dns.server_timeout", server=server, name=display(qname), rdtype=rdtype, seconds=f"{seconds:g}"),
            step=step,
            name=display(qname),
            rdtype=rdtype,
            seconds=seconds,
        ) from None
    except (dns.exception.DNSException, OSError, EOFError) as exc:
        raise DnsFailure(
            text(
                "dns.server_failed",
                server=server,
                name=display(qname),
                rdtype=rdtype,
                error=raw(f"{type(exc).__name__} {exc}".rstrip()),
            ),
            step=step,
            kind="unreachable" if isinstance(exc, OSError) else "error",
            name=display(qname),
            rdtype=rdtype,
            servers=(server,),
        ) from None
    wanted = dns.rdatatype.from_text(rdtype)
    answer = next((r for r in response.answer if r.rdtype == wanted and r.name == qname), None)
    referral = answer is None and any(r.rdtype == dns.rdatatype.NS for r in response.authority)
    return ServerReply(
        server=server,
        rcode=dns.rcode.to_text(response.rcode()),
        authoritative=bool(response.flags & dns.flags.AA),
        records=tuple(answer) if answer is not None else (),
        ttl=answer.ttl if answer is not None else negative_ttl(response),
        referral=referral,
    )


def txt_texts(answer: DnsAnswer) -> list[str]:
    """Each TXT record as one string: its character-strings joined (RFC 7208 section 3.3 style)."""
    texts: list[str] = []
    for record in answer.records:
        strings: tuple[bytes, ...] = getattr(record, "strings", ())
        texts.append(b"".join(strings).decode("utf-8", errors="replace"))
    return texts


def parse_tags(text: str) -> list[tuple[str, str]]:
    """``v=STSv1; id=abc;`` -> [("v", "STSv1"), ("id", "abc")]: the tag=value lists of MTA-STS
    (RFC 8461 section 3.1) and TLS-RPT (RFC 8460 section 3). Pure; malformed parts are kept with
    an empty value so the caller can name them."""
    tags: list[tuple[str, str]] = []
    for piece in text.split(";"):
        part = piece.strip(" \t")
        if not part:
            continue
        key, sep, value = part.partition("=")
        tags.append((key.strip(" \t"), value.strip(" \t") if sep else ""))
    return tags
