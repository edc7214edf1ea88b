"""Decide what a sender check's results show (``conclude``): pure, results in, report out.

The stable failure ids (``spf-fail``, ``dmarc-missing``, ``listed:zen.spamhaus.org`` ...), the
warnings, and the checklist for the failures found, in one language, each step filled in from
its failure's fields: the SPF record with the sending IP added, the DMARC record to start with,
the two Microsoft 365 DKIM CNAMEs, the blocklist's delisting page. Runs again on cached results
in each reader's language (``bot/sender/service.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import knowledge
from bot.parse.sender import external_ip
from bot.probes.result import ProbeResult
from bot.sender import knowledge as sender_knowledge
from bot.sender.dkim import dashed
from bot.sender.spf import M365_INCLUDE

UNFINISHED = "unfinished"
BROKEN = "broken"  # the check raised: a bug, reported as an incomplete check
FAILURE_IDS = (
    "spf-none",
    "spf-fail",
    "spf-softfail",
    "spf-permerror",
    "spf-temperror",
    "dmarc-missing",
    "dmarc-invalid",
    "dkim-missing",
    "dkim-weak",
    "dkim-revoked",
    "dkim-invalid",
    "listed:<zone>",
)


@dataclass(frozen=True, slots=True)
class SenderRequest:
    domain: str
    ip: str | None = None
    helo: str | None = None
    selectors: tuple[str, ...] = ()  # empty: Microsoft 365's selector1 and selector2
    dnsbl: tuple[str, ...] = ()  # empty: the catalog's default lists

    @property
    def name(self) -> str:
        return self.domain.strip().rstrip(".").lower()

    def command(self) -> str:
        """The CLI command that runs this check again."""
        parts = ["mailflow", "sender", self.name]
        if self.ip:
            parts += ["--ip", self.ip]
        for selector in self.selectors:
            parts += ["--selector", selector]
        for zone in self.dnsbl:
            parts += ["--dnsbl", zone]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    detail: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SenderReport:
    request: SenderRequest
    language: str
    spf: dict[str, Any] | None
    dmarc: dict[str, Any] | None
    dkim: list[dict[str, Any]]
    dnsbl: list[dict[str, Any]]
    failures: list[Finding]
    warnings: list[Finding]
    checklist: list[dict[str, str]]
    incomplete: list[str]
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        return not self.failures and not self.incomplete

    def record(self) -> dict[str, Any]:
        """The JSON answer."""
        return {
            "domain": self.request.name,
            "ip": self.request.ip,
            "helo": self.request.helo,
            "spf": self.spf,
            "dmarc": self.dmarc,
            "dkim": self.dkim,
            "dnsbl": self.dnsbl,
            "failures": [{"id": f.id, "detail": f.detail} for f in self.failures],
            "warnings": [{"id": w.id, "detail": w.detail} for w in self.warnings],
            "checklist": self.checklist,
            "incomplete": self.incomplete,
            "language": self.language,
            "elapsed_ms": self.elapsed_ms,
        }


def suggested_spf(current: str | None, ip: str | None, *, matched: str | None = None) -> str:
    """The record with the sending IP added before its ``all`` (or its redirect), or a first
    record for Microsoft 365 and that IP. ``matched``: the term of this record that failed the
    IP; when it is not ``all`` (``-ip4:203.0.113.0/24``), the IP goes before it, or it would
    still fail."""
    term = ""
    if ip:
        address = ipaddress.ip_address(ip)
        term = f"ip{address.version}:{address}"
    if not current:
        return " ".join(p for p in ("v=spf1", term, f"include:{M365_INCLUDE}", "-all") if p)
    parts = current.split()
    if not term:
        term = f"include:{M365_INCLUDE}"
    if term.lower() in (p.lower() for p in parts):
        return current
    for n, part in enumerate(parts):
        bare = part.lstrip("+-~?").lower()
        if (matched and part == matched and n > 0) or bare == "all" or bare.startswith("redirect="):
            return " ".join([*parts[:n], term, *parts[n:]])
    return " ".join([*parts, term])


def suggested_dmarc(domain: str) -> str:
    return f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"


class _Conclusion:
    """Collects findings from each check's facts."""

    def __init__(self, request: SenderRequest, results: Sequence[ProbeResult]) -> None:
        self.request = request
        self.results = results
        self.failures: list[Finding] = []
        self.warnings: list[Finding] = []
        self.incomplete: list[str] = []
        done = [r for r in results if not r.skipped and not r.facts.get(BROKEN)]
        facts = {r.name: r.facts for r in done if r.name in ("spf", "dmarc")}
        self.spf = dict(facts["spf"]) if "spf" in facts else None  # copies: the cached facts stay as run
        self.dmarc = dict(facts["dmarc"]) if "dmarc" in facts else None
        self.dkim = [r.facts for r in done if r.name == "dkim"]
        self.dnsbl = [r.facts for r in done if r.name == "dnsbl"]
        self.is_m365 = bool(self.spf and self.spf.get("includes_m365")) or any(d.get("m365_cname") for d in self.dkim)

    def base_fields(self) -> dict[str, str]:
        request = self.request
        return {"domain": request.name, "ip": request.ip or "", "command": request.command()}

    def fail(self, ident: str, detail: str, **fields: str) -> None:
        self.failures.append(Finding(ident, detail, {**self.base_fields(), **fields}))

    def warn(self, ident: str, detail: str) -> None:
        self.warnings.append(Finding(ident, detail))

    def run(self) -> None:
        for result in self.results:
            if result.skipped or result.facts.get(UNFINISHED) or result.facts.get(BROKEN):
                self.incomplete.append(f"{result.name} {result.target}")
                self.warn("incomplete", f"{result.name} {result.target}: {result.detail}")
        if self.request.ip and external_ip(self.request.ip) is None:
            self.warn("ip-internal", f"{self.request.ip} is an internal address (RFC 1918, loopback, CGNAT ...)")
        if self.spf is not None:
            self.check_spf(self.spf)
        if self.dmarc is not None:
            self.check_dmarc(self.dmarc)
        self.check_dkim()
        self.check_dnsbl()

    def check_spf(self, spf: dict[str, Any]) -> None:
        domain, ip = self.request.name, self.request.ip
        result, record = spf.get("result"), spf.get("record")
        same_record = (spf.get("matched_in") or "").rstrip(".").lower() == domain
        fields = {
            "spf_current": record or "",
            "spf_record": suggested_spf(record, ip, matched=spf.get("mechanism") if same_record else None),
            "spf_error": str(spf.get("error") or ""),
        }
        spf["suggested"] = fields["spf_record"]
        if result in ("none", "permerror", "temperror"):
            self.fail(f"spf-{result}", str(spf.get("error") or f"SPF {result} for {domain}"), **fields)
        elif result in ("fail", "softfail"):
            where = spf.get("matched_in") or domain
            detail = f"SPF {result} for {ip}: {spf.get('mechanism')} in the record of {where}"
            if spf.get("explanation"):  # the exp= text receivers quote in their rejection
                detail += f'; its explanation: "{spf["explanation"]}"'
            self.fail(f"spf-{result}", detail, **fields)
        elif result == "neutral":
            self.warn("spf-neutral", f"SPF neutral for {ip}: {spf.get('mechanism')} in the record of {domain}")
        if spf.get("ignored"):
            self.warn("spf-ignored", f"{record}: {' '.join(spf['ignored'])}")
        if result not in ("none", "temperror") and not spf.get("includes_m365") and self.is_m365:
            self.warn("spf-no-m365", f"{record}: no include:{M365_INCLUDE} in the tree")

    def check_dmarc(self, dmarc: dict[str, Any]) -> None:
        domain = self.request.name
        # Missing: the record to publish goes at the organizational domain, where it covers this
        # domain and every other subdomain (RFC 7489 section 6.6.3).
        name = dmarc.get("at") or f"_dmarc.{dmarc.get('org_domain') or domain}"
        fields = {
            "dmarc_name": name,
            "dmarc_record": suggested_dmarc(str(dmarc.get("org_domain") or domain)),
            "dmarc_error": "; ".join(dmarc.get("problems") or []),
        }
        if dmarc.get("error"):
            self.warn("dmarc-unchecked", str(dmarc["error"]))
            self.incomplete.append(f"dmarc {domain}")
            return
        if not dmarc.get("found"):
            org = dmarc.get("org_domain")
            asked = f"_dmarc.{domain}" + (f" and _dmarc.{org}" if org and org != domain else "")
            self.fail("dmarc-missing", f"no DMARC record at {asked}", **fields)
            return
        if dmarc.get("problems"):
            self.fail("dmarc-invalid", f"{name}: {fields['dmarc_error']}", **fields)
            return
        if dmarc.get("applied") == "none":
            self.warn("dmarc-monitor", f"{name}: {dmarc.get('record')}")
        if int(dmarc.get("pct", 100)) < 100:
            self.warn("dmarc-pct", f"{name}: pct={dmarc.get('pct')}")
        for item in dmarc.get("external") or []:
            if item.get("verified") is False:
                self.warn("dmarc-report-unverified", f"{item['uri']}: no v=DMARC1 record at {item['name']}")

    def dkim_fields(self, report: dict[str, Any]) -> dict[str, str]:
        domain = self.request.name
        rest = "_domainkey.<tenant>.onmicrosoft.com"
        for item in self.dkim:
            if item.get("m365_cname") and item.get("cname"):
                rest = str(item["cname"]).split(".", 1)[1]
        return {
            "dkim_name": str(report.get("name")),
            "selector1_name": f"selector1._domainkey.{domain}",
            "selector1_target": f"selector1-{dashed(domain)}.{rest}",
            "selector2_name": f"selector2._domainkey.{domain}",
            "selector2_target": f"selector2-{dashed(domain)}.{rest}",
            "bits": str(report.get("bits") or ""),
        }

    def check_dkim(self) -> None:
        explicit = bool(self.request.selectors)
        any_present = any(d.get("present") for d in self.dkim)
        strict = explicit or self.is_m365 or any_present
        quiet_missing: list[str] = []
        for report in self.dkim:
            status, name = report.get("status"), report.get("name")
            fields = self.dkim_fields(report)
            if status == "missing":
                if strict:
                    via = f" (CNAME to {report['cname']})" if report.get("cname") else ""
                    self.fail("dkim-missing", f"no DKIM key at {name}{via}", **fields)
                else:
                    quiet_missing.append(str(name))
            elif status in ("weak", "revoked", "invalid"):
                what = {
                    "weak": f"{name}: {report.get('bits')}-bit {report.get('key_type')} key (under 1024 bits)",
                    "revoked": f"{name}: empty p= (revoked key)",
                    "invalid": f"{name}: {'; '.join(report.get('problems') or [])}",
                }[str(status)]
                self.fail(f"dkim-{status}", what, **fields)
            elif status == "1024":
                self.warn("dkim-1024", f"{name}: {report.get('bits')}-bit key")
            elif status == "unknown":
                self.warn("dkim-unchecked", f"{name}: {report.get('error')}")
                self.incomplete.append(f"dkim {name}")
            if report.get("testing") and status in ("ok", "1024"):
                self.warn("dkim-testing", f"{name}: t=y")
            if report.get("m365_cname") is False and self.is_m365:
                self.warn("dkim-not-m365", f"{name} is a CNAME to {report.get('cname')}")
        if quiet_missing:
            self.warn("dkim-default-selectors", f"no key at {', '.join(quiet_missing)}")

    def check_dnsbl(self) -> None:
        for report in self.dnsbl:
            zone = str(report.get("zone"))
            if report.get("status") == "listed":
                answers = ", ".join(report.get("answers") or [])
                meaning = f" ({', '.join(report['meaning'])})" if report.get("meaning") else ""
                reason = str(report.get("reason") or f"{zone} gives no reason")
                detail = f"{self.request.ip} is listed by {zone}: {answers}{meaning}" + (
                    f"; {report['reason']}" if report.get("reason") else ""
                )
                self.fail(f"listed:{zone}", detail, zone=zone, delist=str(report.get("delist") or ""), reason=reason)
            elif report.get("status") == "unknown":
                self.warn("dnsbl-unknown", f"{zone}|{report.get('error')}|{report.get('detail')}")


def conclude(
    request: SenderRequest,
    results: Sequence[ProbeResult],
    *,
    elapsed_ms: float,
    language: str = knowledge.DEFAULT_LANGUAGE,
) -> SenderReport:
    """Pure: what the results show, in ``language``."""
    words = sender_knowledge.load(language)
    run = _Conclusion(request, results)
    run.run()
    warnings = [_word_warning(w, words) for w in run.warnings]
    dnsbl = list(run.dnsbl)
    if request.ip:
        dnsbl.append({"zone": "microsoft", "status": "no-zone", "delist": words.microsoft_delist, "query": None})
    return SenderReport(
        request=request,
        language=language,
        spf=run.spf,
        dmarc=run.dmarc,
        dkim=run.dkim,
        dnsbl=dnsbl,
        failures=run.failures,
        warnings=warnings,
        checklist=checklist(run.failures, words),
        incomplete=list(dict.fromkeys(run.incomplete)),
        elapsed_ms=elapsed_ms,
    )


def _word_warning(warning: Finding, words: sender_knowledge.SenderKnowledge) -> Finding:
    if warning.id != "dnsbl-unknown":
        return warning
    zone, error, detail = [*warning.detail.split("|", 2), "", ""][:3]
    said = words.dnsbl_errors.get(error, "")
    return Finding(warning.id, f"{zone}: {said}" + (f" ({detail})" if detail and detail != "None" else ""))


def failure_kind(ident: str) -> str:
    return "listed" if ident.startswith("listed:") else ident


def checklist(failures: Sequence[Finding], words: sender_knowledge.SenderKnowledge) -> list[dict[str, str]]:
    """The steps for the failures found, in order, each once (per zone for blocklists), the
    re-check last; each filled in from its failure's fields, with what was observed."""
    steps: list[dict[str, str]] = []
    seen: set[str] = set()
    last: dict[str, str] | None = None
    for failure in failures:
        for step in words.checklists.get(failure_kind(failure.id), ()):
            key = f"{step}:{failure.fields.get('zone', '')}" if failure.id.startswith("listed:") else step
            if key in seen:
                continue
            seen.add(key)
            values = _Fields(failure.fields)
            if "delist" in values and not values["delist"]:  # a list the catalog does not know
                values["delist"] = words.labels["delist_unknown"]
            text = words.steps[step].format_map(values)
            item = {"id": key.rstrip(":"), "text": text, "observed": failure.detail}
            if step == "recheck":
                last = item
            else:
                steps.append(item)
    if last is not None:
        steps.append(last)
    return steps


class _Fields(dict[str, str]):
    """format_map() values: a field the failure did not fill reads as "?" rather than failing."""

    def __missing__(self, key: str) -> str:
        return "?"
