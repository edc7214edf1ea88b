"""DMARC: the policy that applies to the sending domain (RFC 7489).

Strategy: ask ``_dmarc.DOMAIN``; when it has no record, ask ``_dmarc.ORG`` where ORG is the
organizational domain from the Public Suffix List (section 3.2: ``mail.contoso.co.uk`` ->
``contoso.co.uk``; taking the last two labels would give ``co.uk``). The record is read as
tag=value pairs (section 6.3), its problems listed. For each rua/ruf address in another
organizational domain, the destination must publish ``POLICYDOMAIN._report._dmarc.DEST``
(section 7.1), or the receivers will not send it reports: those lookups run concurrently.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import asdict, dataclass, field
from typing import Any

from publicsuffixlist import PublicSuffixList

from bot.probes.dnsquery import parse_tags
from bot.sender.dns import SenderDns, TempFailure

POLICIES = ("none", "quarantine", "reject")


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped with the package: no download, no I/O after this


def organizational_domain(domain: str) -> str:
    """RFC 7489 section 3.2 with the Public Suffix List; a domain that is itself a public suffix
    (or unknown to the list and single-label) is its own organizational domain."""
    name = domain.strip().rstrip(".").lower()
    return _psl().privatesuffix(name) or name


@dataclass(slots=True)
class DmarcReport:
    domain: str
    org_domain: str
    found: bool = False
    at: str | None = None  # the name the record was found at
    inherited: bool = False  # found at the organizational domain, not at the domain itself
    record: str | None = None
    policy: str | None = None  # p=
    subdomain_policy: str | None = None  # sp= (p= when absent)
    applied: str | None = None  # the policy for this domain: sp= when inherited, else p=
    nonexistent_policy: str | None = None  # np= (DMARCbis: for subdomains that do not exist)
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"
    rua: list[str] = field(default_factory=list)
    ruf: list[str] = field(default_factory=list)
    external: list[dict[str, Any]] = field(default_factory=list)  # {uri, domain, verified, name}
    problems: list[str] = field(default_factory=list)  # syntax: the record is invalid
    error: str | None = None  # the DNS did not answer

    @property
    def valid(self) -> bool:
        return self.found and not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The JSON ``dmarc`` object (the domain is the answer's own field)."""
        fields = {k: v for k, v in asdict(self).items() if k != "domain"}
        fields["np"] = fields.pop("nonexistent_policy")
        return fields | {"valid": self.valid}


def select_records(texts: list[str]) -> list[str]:
    return [t for t in texts if t.split(";", 1)[0].strip().replace(" ", "") == "v=DMARC1"]


def read_record(report: DmarcReport, text: str) -> None:
    """Fill ``report`` from one record (pure); problems go to ``report.problems``."""
    tags = parse_tags(text)
    seen: dict[str, str] = {}
    for key, value in tags:
        name = key.lower()
        if name in seen:
            report.problems.append(f"tag {name}= appears twice")
        seen.setdefault(name, value)
    policy = seen.get("p")
    if policy is None:
        report.problems.append("no p= tag (the policy is required, RFC 7489 section 6.3)")
    elif policy.lower() not in POLICIES:
        report.problems.append(f"p={policy} is not none, quarantine or reject")
    else:
        report.policy = policy.lower()
    sub = seen.get("sp")
    if sub is not None and sub.lower() not in POLICIES:
        report.problems.append(f"sp={sub} is not none, quarantine or reject")
    report.subdomain_policy = sub.lower() if sub is not None and sub.lower() in POLICIES else report.policy
    np = seen.get("np", "").lower()
    report.nonexistent_policy = np if np in POLICIES else None  # unknown to RFC 7489: never a problem
    if "pct" in seen:
        pct = seen["pct"]
        if pct.isascii() and pct.isdigit() and 0 <= int(pct) <= 100:
            report.pct = int(pct)
        else:
            report.problems.append(f"pct={pct} is not a whole number from 0 to 100")
    for tag in ("adkim", "aspf"):
        value = seen.get(tag, "r").lower()
        if value not in ("r", "s"):
            report.problems.append(f"{tag}={value} is not r or s")
        else:
            setattr(report, tag, value)
    for tag in ("rua", "ruf"):
        uris = [u.strip() for u in seen.get(tag, "").split(",") if u.strip()]
        for uri in uris:
            if ":" not in uri or not uri.split(":", 1)[1]:
                report.problems.append(f"{tag}: {uri!r} is not a URI (mailto:address)")
        setattr(report, tag, uris)


def _mailto_domain(uri: str) -> str | None:
    scheme, _, rest = uri.partition(":")
    if scheme.lower() != "mailto" or "@" not in rest:
        return None
    return rest.split("!", 1)[0].rsplit("@", 1)[1].strip().rstrip(".").lower() or None


async def check_dmarc(dns: SenderDns, domain: str) -> DmarcReport:
    domain = domain.strip().rstrip(".").lower()
    org = organizational_domain(domain)
    report = DmarcReport(domain=domain, org_domain=org)
    try:
        names = [domain] if org == domain else [domain, org]
        for n, name in enumerate(names):
            found = select_records(list((await dns.get(f"_dmarc.{name}", "TXT")).values))
            if found:
                report.found, report.at, report.inherited = True, f"_dmarc.{name}", n > 0
                report.record = found[0]
                if len(found) > 1:
                    report.problems.append(f"{len(found)} DMARC records at _dmarc.{name}: receivers ignore them all")
                read_record(report, found[0])
                break
    except TempFailure as exc:
        report.error = exc.reason
        return report
    if report.found:
        report.applied = report.subdomain_policy if report.inherited else report.policy
        if report.applied is None and any(_mailto_domain(uri) for uri in report.rua):
            report.applied = "none"  # section 6.6.3: no valid p= but a usable rua=: read as p=none
        policy_domain = (report.at or "").removeprefix("_dmarc.")
        await _verify_external(dns, report, policy_domain)
    return report


async def _verify_external(dns: SenderDns, report: DmarcReport, policy_domain: str) -> None:
    """RFC 7489 section 7.1: a report address in another organizational domain must consent."""
    wanted: list[tuple[str, str, str]] = []
    for uri in (*report.rua, *report.ruf):
        dest = _mailto_domain(uri)
        if dest and organizational_domain(dest) != organizational_domain(policy_domain):
            wanted.append((uri, dest, f"{policy_domain}._report._dmarc.{dest}"))

    async def verify(uri: str, dest: str, name: str) -> dict[str, Any]:
        try:
            texts = list((await dns.get(name, "TXT")).values)
        except TempFailure as exc:
            return {"uri": uri, "domain": dest, "name": name, "verified": None, "error": exc.reason}
        return {"uri": uri, "domain": dest, "name": name, "verified": bool(select_records(texts)), "error": None}

    report.external = list(await asyncio.gather(*(verify(*w) for w in wanted)))
