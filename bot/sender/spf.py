"""SPF: evaluate a domain's policy for the IP that sent the mail, as RFC 7208 says.

Strategy: ``_Evaluation`` is ``check_host()`` (section 4) as a plain class over an injected
``SenderDns``; the counters live on it, so the limits hold across includes and redirects:

    - 10 terms that query the DNS (include, a, mx, ptr, exists, redirect), counted when they are
      reached, the 11th is a permerror (section 4.6.4); the A/AAAA lookups an "mx" or "ptr" makes
      for its names are limits of their own (more than 10 MX names: permerror; PTR names past the
      10th: ignored), and are asked at once;
    - 2 void lookups (NXDOMAIN or no records) by those terms; the 3rd is a permerror;
    - a name with two SPF records is a permerror (section 4.5).

Without an IP, ``analyse_spf`` follows the record's includes and redirect and says whether it is
valid, how many lookups it uses and whether it includes Microsoft 365's record. Terms after
``all`` are never reached (nor is a redirect beside an ``all``): they are listed as ``ignored``,
and neither counted nor followed (``include:spf.protection.outlook.com`` after ``-all`` does
not include Microsoft 365).

``check_spf`` and ``analyse_spf`` return an ``SpfReport`` (JSON-ready); only a bug raises.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.sender.dns import Records, SenderDns, TempFailure
from bot.sender.spf_record import (
    DNS_TERMS,
    QUALIFIERS,
    PermError,
    Record,
    Term,
    expand,
    parse_record,
    select_record,
    uses_ip,
)

MAX_LOOKUPS = 10
MAX_VOID = 2
MAX_MX_NAMES = 10
MAX_PTR_NAMES = 10
M365_INCLUDE = "spf.protection.outlook.com"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TempError(Exception):
    """A DNS error during evaluation: the result is temperror."""


@dataclass(slots=True)
class SpfReport:
    domain: str
    ip: str | None
    result: str | None  # pass fail softfail neutral none permerror temperror; None: not evaluated
    mechanism: str | None = None  # the term that matched ("-all", "ip4:192.0.2.0/24"), or "default"
    matched_in: str | None = None  # the domain whose record holds that term
    record: str | None = None  # the domain's own record
    valid: bool | None = None
    lookups: int = 0
    void_lookups: int = 0
    includes: list[str] = field(default_factory=list)  # every record followed (include and redirect)
    includes_m365: bool = False
    ignored: list[str] = field(default_factory=list)  # terms of the record no evaluation reaches
    error: str | None = None  # why permerror / temperror / none
    explanation: str | None = None  # the exp= text on fail
    suggested: str | None = None  # the record with the sending IP added (filled in by the check)

    def as_dict(self) -> dict[str, Any]:
        """The JSON ``spf`` object (the domain and IP are the answer's own fields)."""
        return {k: v for k, v in asdict(self).items() if k not in ("domain", "ip")}


def client_ip(text: str) -> IPAddress:
    """The client address; an IPv4-mapped IPv6 address is its IPv4 address (RFC 7208 section 5)."""
    ip = ipaddress.ip_address(text.strip().strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _canonical(name: str) -> str:
    """Names compare without case and without a final dot (RFC 7208 section 4.3; RFC 4343)."""
    return name.rstrip(".").lower()


def valid_domain(domain: str) -> bool:
    """Section 4.3: a domain with an empty or over-long label, or a single label, gets "none"."""
    labels = domain.rstrip(".").split(".")
    return len(labels) > 1 and all(0 < len(label) <= 63 for label in labels) and len(domain) <= 253


@dataclass(frozen=True, slots=True)
class _Match:
    result: str
    term: str
    domain: str
    explanation: str | None = None


class _Evaluation:
    def __init__(self, dns: SenderDns, ip: IPAddress, sender: str, helo: str) -> None:
        self.dns = dns
        self.ip = ip
        self.sender = sender
        self.helo = helo
        self.lookups = 0
        self.void = 0
        self.followed: list[str] = []
        self._validated: str | None = None
        self.top_record: str | None = None  # the domain's own record, as read by the evaluation
        self.ignored: list[str] = []  # its terms that no evaluation reaches
        self.chain: list[str] = []  # the records being evaluated, outermost first (for loops)

    # Counters.

    def count_lookup(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise PermError(f"more than {MAX_LOOKUPS} DNS lookups (the 11th is {term!r}; RFC 7208 section 4.6.4)")

    def count_void(self, records: Records, term: str) -> None:
        if records.void:
            self.void += 1
            if self.void > MAX_VOID:
                raise PermError(f"more than {MAX_VOID} void DNS lookups (the 3rd is {term!r}; RFC 7208 section 4.6.4)")

    async def get(self, name: str, rdtype: str) -> Records:
        try:
            return await self.dns.get(name, rdtype)
        except TempFailure as exc:
            raise TempError(exc.reason) from None

    # check_host (section 4).

    async def check_host(self, domain: str, *, top: bool = False, explain: bool = True) -> _Match:
        """``explain``: look up the exp= text on fail (not for an include: section 6.2)."""
        if not valid_domain(domain):
            return _Match("none", "", domain)
        if _canonical(domain) in self.chain:
            # The same name with the same sender and IP evaluates the same way again: a loop,
            # which the 10-lookup limit would end as a permerror anyway (section 4.6.4).
            path = " -> ".join([*self.chain, _canonical(domain)])
            raise PermError(f"a loop of includes or redirects ({path}); RFC 7208 section 4.6.4")
        self.chain.append(_canonical(domain))
        try:
            return await self._check_host(domain, top=top, explain=explain)
        finally:
            self.chain.pop()

    async def _check_host(self, domain: str, *, top: bool, explain: bool) -> _Match:
        records = await self.get(domain, "TXT")
        text = select_record(list(records.values))
        if top:
            self.top_record = text
        record = parse_record(text) if text is not None else None
        if record is None:
            return _Match("none", "", domain)
        if not top:
            self.followed.append(domain)
        if top:
            self.ignored = record.ignored
        for term in record.terms:
            if term.name in DNS_TERMS:
                self.count_lookup(term.text)
            if await self.matches(term, domain):
                result = QUALIFIERS[term.qualifier]
                explanation = await self.explain(record, domain) if result == "fail" and explain else None
                return _Match(result, term.text, domain, explanation)
        if record.redirect is not None and not record.has_all:
            self.count_lookup(f"redirect={record.redirect}")
            await self.prepare_p(record.redirect, domain)
            target = expand(record.redirect, self.values(domain))
            found = await self.check_host(target, explain=explain)
            if found.result == "none":
                raise PermError(f"redirect={target}: {target} has no SPF record")
            return found
        return _Match("neutral", "default", domain)

    async def matches(self, term: Term, domain: str) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            if term.spec is None:
                return False
            prefix = term.cidr4 if name == "ip4" else term.cidr6
            network = ipaddress.ip_network(f"{term.spec}/{prefix}", strict=False)
            return self.ip.version == network.version and self.ip in network
        await self.prepare_p(term.spec, domain)
        target = expand(term.spec, self.values(domain)) if term.spec else domain
        if name == "include":
            found = await self.check_host(target, explain=False)  # its errors propagate: temperror, permerror
            if found.result == "none":
                raise PermError(f"{term.text}: {target} has no SPF record")
            return found.result == "pass"
        if name == "a":
            records = await self.addresses(target)
            self.count_void(records, term.text)
            return self.in_any(records.values, term)
        if name == "mx":
            return await self.mx(target, term)
        if name == "ptr":
            validated = await self.validated_names(target, term=term)
            wanted = _canonical(target)
            return any(n == wanted or n.endswith("." + wanted) for n in validated)
        if name == "exists":
            records = await self.get(target, "A")  # A even for an IPv6 client (section 5.7)
            self.count_void(records, term.text)
            return not records.void
        raise PermError(f"unknown mechanism {term.text!r}")  # parse_record lets none through

    async def addresses(self, name: str) -> Records:
        return await self.get(name, "A" if self.ip.version == 4 else "AAAA")

    def in_any(self, addresses: tuple[str, ...], term: Term) -> bool:
        prefix = (term.cidr4 if term.cidr4 is not None else 32) if self.ip.version == 4 else term.cidr6
        for address in addresses:
            network = ipaddress.ip_network(f"{address}/{prefix if prefix is not None else 128}", strict=False)
            if self.ip in network:
                return True
        return False

    async def mx(self, target: str, term: Term) -> bool:
        records = await self.get(target, "MX")
        self.count_void(records, term.text)
        hosts = [h for h in records.values if h not in ("", ".")]  # a null MX names no host (RFC 7505)
        if len(hosts) > MAX_MX_NAMES:
            raise PermError(f"{term.text}: {target} has {len(hosts)} MX names; SPF allows {MAX_MX_NAMES}")
        # The names' addresses are asked at once: an mx term costs one round trip more, not ten.
        answers = await asyncio.gather(*(self.addresses(host) for host in hosts), return_exceptions=True)
        if any(isinstance(a, Records) and self.in_any(a.values, term) for a in answers):
            return True
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer  # TempError: no match, and one name could not be read
        return False

    async def validated_names(self, target: str, *, term: Term | None = None) -> list[str]:
        """Section 5.5: the PTR names of the IP whose own addresses include the IP."""
        reverse = self.ip.reverse_pointer
        try:
            records = await self.dns.get(reverse, "PTR")
        except TempFailure:
            return []  # "If a DNS error occurs while doing the PTR RR lookup, then this mechanism fails to match."
        if term is not None:
            self.count_void(records, term.text)
        names = list(records.values)[:MAX_PTR_NAMES]
        wanted = _canonical(target)
        preferred = sorted(names, key=lambda n: not (n == wanted or n.endswith("." + wanted)))
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        answers = await asyncio.gather(*(self.dns.get(n, rdtype) for n in preferred), return_exceptions=True)
        validated = []
        for name, answer in zip(preferred, answers, strict=True):
            if isinstance(answer, TempFailure):
                continue  # a name that cannot be checked is not validated
            if isinstance(answer, BaseException):
                raise answer
            if any(ipaddress.ip_address(a) == self.ip for a in answer.values):
                validated.append(name)
        return validated

    def values(self, domain: str, *, validated: str | None = None) -> dict[str, str]:
        local, _, sender_domain = self.sender.rpartition("@")
        ip = self.ip
        i = str(ip) if isinstance(ip, ipaddress.IPv4Address) else ".".join(ip.exploded.replace(":", ""))
        return {
            "s": self.sender,
            "l": local or "postmaster",
            "o": sender_domain,
            "d": domain,
            "i": i,
            "p": validated or self._validated or "unknown",
            "v": "in-addr" if ip.version == 4 else "ip6",
            "h": self.helo,
            "c": str(ip),
            "r": "unknown",
            "t": str(int(time.time())),
        }

    async def prepare_p(self, text: str | None, domain: str) -> None:
        """%{p} needs a validated name: looked up only when a macro asks for it (section 7.3)."""
        if text and "%{p" in text.lower() and self._validated is None:
            names = await self.validated_names(domain)
            self._validated = names[0] if names else "unknown"

    async def explain(self, record: Record, domain: str) -> str | None:
        """The exp= text (section 6.2); any problem with it means no explanation, not an error."""
        if record.exp is None:
            return None
        try:
            await self.prepare_p(record.exp, domain)
            target = expand(record.exp, self.values(domain))
            records = await self.dns.get(target, "TXT")
            if len(records.values) != 1:
                return None
            await self.prepare_p(records.values[0], domain)
            return expand(records.values[0], self.values(domain), exp=True, domain=False)
        except (PermError, TempFailure):
            return None


async def check_spf(dns: SenderDns, domain: str, ip: str, *, sender: str | None = None, helo: str = "") -> SpfReport:
    """check_host(ip, domain, sender) with the term that decided it."""
    evaluation = _Evaluation(dns, client_ip(ip), sender or f"postmaster@{domain}", helo or "unknown")
    report = SpfReport(domain=domain, ip=str(evaluation.ip), result=None)
    try:
        match = await evaluation.check_host(domain, top=True)
        report.result, report.matched_in, report.explanation = match.result, match.domain, match.explanation
        report.mechanism = match.term or None
        report.valid = match.result != "none"
        if match.result == "none":
            known = valid_domain(domain)
            report.error = f"{domain} publishes no SPF record" if known else f"{domain!r} is not a domain"
    except PermError as exc:
        report.result, report.error, report.valid = "permerror", str(exc), False
    except TempError as exc:
        report.result, report.error = "temperror", str(exc)
    report.record, report.ignored = evaluation.top_record, evaluation.ignored
    report.lookups, report.void_lookups = min(evaluation.lookups, MAX_LOOKUPS + 1), evaluation.void
    report.includes = list(dict.fromkeys(map(_canonical, evaluation.followed)))
    report.includes_m365 = M365_INCLUDE in report.includes
    return report


async def analyse_spf(dns: SenderDns, domain: str) -> SpfReport:
    """Without an IP: is the record valid, how many lookups does it use, does it include Microsoft 365?

    Every include and redirect whose target names no IP-dependent macro is followed; each
    DNS-querying term anywhere counts, as it would in an evaluation that reaches it."""
    report = SpfReport(domain=domain, ip=None, result=None)
    walker = _Walker(dns)
    try:
        record = await walker.record(domain)
        if record is None:
            report.valid, report.error = False, f"{domain} publishes no SPF record"
            report.result = "none"
            return report
        report.record, report.ignored = record.text, record.ignored
        await walker.walk(record, domain)
        report.valid = walker.lookups <= MAX_LOOKUPS and not walker.problems
        if walker.problems:
            report.error = walker.problems[0]
        elif walker.lookups > MAX_LOOKUPS:
            report.error = f"the record needs {walker.lookups} DNS lookups; RFC 7208 allows {MAX_LOOKUPS}"
        if not report.valid:
            report.result = "permerror"
    except PermError as exc:
        report.valid, report.error, report.result = False, str(exc), "permerror"
    except TempFailure as exc:
        report.error, report.result = exc.reason, "temperror"
    report.lookups, report.void_lookups = walker.lookups, walker.void
    report.includes = list(dict.fromkeys(map(_canonical, walker.followed)))
    report.includes_m365 = M365_INCLUDE in report.includes
    return report


class _Walker:
    """The static half: the record tree as far as it can be followed without the IP."""

    def __init__(self, dns: SenderDns) -> None:
        self.dns = dns
        self.lookups = 0
        self.void = 0
        self.followed: list[str] = []
        self.problems: list[str] = []

    async def record(self, domain: str) -> Record | None:
        text = select_record(list((await self.dns.get(domain, "TXT")).values))
        return parse_record(text) if text is not None else None

    async def walk(self, record: Record, domain: str, chain: tuple[str, ...] = ()) -> None:
        chain = (*chain, _canonical(domain))
        targets: list[tuple[str, str]] = [(t.name, t.spec) for t in record.reached if t.name == "include" and t.spec]
        self.lookups += sum(1 for t in record.reached if t.name in DNS_TERMS)
        if record.redirect is not None and not record.has_all:
            self.lookups += 1
            targets.append(("redirect", record.redirect))
        if len(chain) > MAX_LOOKUPS or self.lookups > MAX_LOOKUPS:
            return
        for kind, spec in targets:
            if uses_ip(spec):
                continue
            target = expand(spec, {"d": domain})
            self.followed.append(target)
            if _canonical(target) in chain:
                path = " -> ".join([*chain, _canonical(target)])
                self.problems.append(f"a loop of includes or redirects ({path}); RFC 7208 section 4.6.4")
                continue
            try:
                found = await self.record(target)
            except PermError as exc:
                self.problems.append(f"{kind} {target}: {exc}")
                continue
            if found is None:
                self.void += 1
                self.problems.append(f"{kind}:{target} has no SPF record (a permerror when it is reached)")
                continue
            await self.walk(found, target, chain)
