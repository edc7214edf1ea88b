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
        reason: str,
        *,
        step: str,
        kind: str,
        name: str,
        rdtype: str,
        rcode: str | None = None,
        negative_ttl: int | None = None,
        servers: tuple[str, ...] = (),
    ) -> None:
        super().__init__(f"{step}: {reason}")
        self.reason = reason  # the message without the step, for a ProbeResult's detail
        self.step = step
        self.kind = kind
        self.name = name
        self.rdtype = rdtype
        self.rcode = rcode
        self.negative_ttl = negative_ttl
        self.servers = servers


class DnsTimeout(ProbeTimeout):
    """No DNS answer within the timeout."""

    def __init__(self, reason: str, *, step: str, name: str, rdtype: str, seconds: float) -> None:
        super().__init__(f"{step}: {reason}")
        self.reason = reason
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
    text = name.strip().rstrip(".")
    try:
        if not text:
            raise dns.name.EmptyLabel
        return dns.name.from_text(text)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise DnsFailure(
            f"{name!r} is not a valid DNS name ({type(exc).__name__})",
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
            f"{shown} does not exist (NXDOMAIN)",
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
            f"no DNS answer for {shown} {rdtype} within {seconds:g} s",
            step=step,
            name=shown,
            rdtype=rdtype,
            seconds=seconds,
        ) from None
    except dns.exception.DNSException as exc:
        raise DnsFailure(
            f"the DNS query for {shown} {rdtype} failed: {exc}", step=step, kind="error", name=shown, rdtype=rdtype
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


def _all_failed(exc: dns.resolver.NoNameservers, *, step: str, name: str, rdtype: str) -> DnsFailure:
    """NoNameservers carries (server, tcp, port, error, response) per attempt: name what each said."""
    errors = exc.kwargs.get("errors") or []
    said: list[str] = []
    rcodes: list[str] = []
    servers: list[str] = []
    for error in errors:
        server, what = _server_text(error[0]), error[3]
        servers.append(server)
        if isinstance(what, str):
            rcodes.append(what)
            said.append(f"{what} from {server}")
        else:
            said.append(f"{type(what).__name__} ({what}) from {server}" if str(what) else f"{type(what).__name__}")
    rcode = rcodes[0] if rcodes else None
    if rcode == "SERVFAIL":
        kind = "servfail"
    elif rcode == "REFUSED":
        kind = "refused"
    elif rcode is None:
        kind = "unreachable"
    else:
        kind = "error"
    evidence = "; ".join(dict.fromkeys(said)) or "no server could answer"
    return DnsFailure(
        f"the DNS query for {name} {rdtype} failed: {evidence}",
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
            f"{server} did not answer {display(qname)} {rdtype} within {seconds:g} s",
            step=step,
            name=display(qname),
            rdtype=rdtype,
            seconds=seconds,
        ) from None
    except (dns.exception.DNSException, OSError, EOFError) as exc:
        raise DnsFailure(
            f"asking {server} for {display(qname)} {rdtype} failed: {type(exc).__name__} {exc}".rstrip(),
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
    for raw in text.split(";"):
        part = raw.strip(" \t")
        if not part:
            continue
        key, sep, value = part.partition("=")
        tags.append((key.strip(" \t"), value.strip(" \t") if sep else ""))
    return tags
