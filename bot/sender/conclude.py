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
from bot.fill import fill_step, step_record
from bot.knowledge import Step
from bot.parse.sender import external_ip
from bot.probes.result import ProbeResult
from bot.sender import knowledge as sender_knowledge
from bot.sender.dkim import dashed
from bot.sender.dmarc import organizational_domain
from bot.sender.spf import M365_INCLUDE
from bot.texts import Text, raw, text

UNFINISHED = "unfinished"
RESOLVER_UNREACHABLE = "resolver-unreachable"  # our resolver, not the domain: exit 1, like diagnose
RESOLVER_UNREACHABLE_FACT = "resolver_unreachable"
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
    "dkim-target-missing",
    "dkim-weak",
    "dkim-revoked",
    "dkim-invalid",
    "listed:<zone>",
    RESOLVER_UNREACHABLE,
)


@dataclass(frozen=True, slots=True)
class SenderRequest:
    domain: str
    ip: str | None = None
    helo: str | None = None
    selectors: tuple[str, ...] = ()  # empty: Microsoft 365's selector1 and selector2
    dnsbl: tuple[str, ...] = ()  # empty: the catalog's default lists
    mailfrom: str | None = None  # the MAIL FROM (Return-Path) domain when it is not ``domain``

    @property
    def name(self) -> str:
        return self.domain.strip().rstrip(".").lower()

    @property
    def spf_domain(self) -> str:
        """The domain SPF is checked on: the envelope's (MAIL FROM), which receivers check, not
        the From: domain; they are one unless the mail went out through an email service."""
        return (self.mailfrom or "").strip().rstrip(".").lower() or self.name

    def command(self) -> str:
        """The CLI command that runs this check again."""
        parts = ["mailflow", "sender", self.name]
        if self.ip:
            parts += ["--ip", self.ip]
        if self.spf_domain != self.name:
            parts += ["--mailfrom", self.spf_domain]
        for selector in self.selectors:
            parts += ["--selector", selector]
        for zone in self.dnsbl:
            parts += ["--dnsbl", zone]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """A failure or warning: its stable id, what was observed (a knowledge-base text), and the
    fields its checklist steps are filled from."""

    id: str
    said: Text
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        """What was observed, in English: the JSON ``detail``, logs and history."""
        return self.said.render()

    def says(self, language: str) -> str:
        return self.said.render(language)


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
    checklist: list[dict[str, Any]]
    incomplete: list[str]
    elapsed_ms: float
    alignment: dict[str, Any] | None = None  # DMARC SPF alignment of the MAIL FROM and From: domains

    @property
    def ok(self) -> bool:
        return not self.failures and not self.incomplete

    def record(self) -> dict[str, Any]:
        """The JSON answer."""
        return {
            "domain": self.request.name,
            "ip": self.request.ip,
            "helo": self.request.helo,
            "mailfrom": self.request.spf_domain,
            "alignment": self.alignment,
            "spf": self.spf,
            "dmarc": self.dmarc,
            "dkim": self.dkim,
            "dnsbl": self.dnsbl,
            "failures": [self.finding(f) for f in self.failures],
            "warnings": [self.finding(w) for w in self.warnings],
            "checklist": self.checklist,
            "incomplete": self.incomplete,
            "language": self.language,
            "elapsed_ms": self.elapsed_ms,
        }

    def finding(self, item: Finding) -> dict[str, str]:
        """``detail`` in English (stable), ``text`` in the report's language."""
        return {"id": item.id, "detail": item.detail, "text": item.says(self.language)}

    @property
    def has_placeholders(self) -> bool:
        return any(s.get("placeholders") for s in self.checklist)


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


TXT_STRING = 255  # the longest character-string in a TXT record (RFC 1035 section 3.3)
SPF_SIZE = 450  # RFC 7208 section 3.4: keep the SPF answer within a 512-byte UDP DNS reply


def txt_strings(record: str) -> str:
    """The record as a TXT value: itself when it fits one string, else quoted strings of at most
    255 characters, which receivers join with nothing between them (RFC 7208 section 3.3). Each
    string but the last ends at a space, so the split is plain to see and the join is exact."""
    if len(record) <= TXT_STRING:
        return record
    pieces: list[str] = []
    rest = record
    while len(rest) > TXT_STRING:
        cut = rest.rfind(" ", 0, TXT_STRING)
        cut = TXT_STRING if cut <= 0 else cut + 1  # keep the space with the first string
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return " ".join(f'"{piece}"' for piece in pieces)


def suggested_dmarc(domain: str) -> str:
    return f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"


def spf_alignment(mailfrom: str, from_domain: str, mode: str) -> dict[str, Any]:
    """DMARC's SPF identifier alignment (RFC 7489 section 3.1.2): strict (``aspf=s``) wants the
    same name; relaxed (the default) the same organizational domain, found with the Public
    Suffix List (``bounce.contoso.com`` is aligned with ``contoso.com``, ``esp.example`` not)."""
    mode = "s" if mode == "s" else "r"
    orgs = (organizational_domain(mailfrom), organizational_domain(from_domain))
    aligned = mailfrom == from_domain if mode == "s" else orgs[0] == orgs[1]
    return {
        "mailfrom": mailfrom,
        "from": from_domain,
        "mode": "strict" if mode == "s" else "relaxed",
        "mailfrom_org": orgs[0],
        "from_org": orgs[1],
        "aligned": aligned,
    }


def _observed(key: str, /, **fields: str | Text | tuple[Text, ...]) -> Text:
    return text(f"sender.observed.{key}", **fields)


class _Conclusion:
    """Collects findings from each check's facts."""

    def __init__(self, request: SenderRequest, results: Sequence[ProbeResult]) -> None:
        self.request = request
        self.results = results
        self.failures: list[Finding] = []
        self.warnings: list[Finding] = []
        self.incomplete: list[str] = []
        self.alignment: dict[str, Any] | None = None
        self.resolver_silent = False
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

    def fail(self, ident: str, said: Text, **fields: str) -> None:
        self.failures.append(Finding(ident, said, {**self.base_fields(), **fields}))

    def warn(self, ident: str, said: Text) -> None:
        self.warnings.append(Finding(ident, said))

    def run(self) -> None:
        silent = next((r for r in self.results if r.facts.get(RESOLVER_UNREACHABLE_FACT)), None)
        if silent is not None:
            self.fail(RESOLVER_UNREACHABLE, raw(str(silent.facts.get("said") or silent.detail)), resolver=silent.target)
        self.resolver_silent = silent is not None
        for result in self.results:
            if result.name == "resolver":
                continue
            if result.skipped or result.facts.get(UNFINISHED) or result.facts.get(BROKEN):
                self.incomplete.append(f"{result.name} {result.target}")
                said = result.texts or (raw(result.detail),)
                self.warn("incomplete", _observed("incomplete", check=result.name, target=result.target, said=said))
        if self.request.ip and external_ip(self.request.ip) is None:
            self.warn("ip-internal", _observed("ip-internal", ip=self.request.ip))
        if self.spf is not None:
            self.check_spf(self.spf)
        if self.dmarc is not None:
            self.check_dmarc(self.dmarc)
        self.check_dkim()
        self.check_dnsbl()
        self.check_alignment()
        if self.resolver_silent:
            # No answer came from our own resolver: a temperror or an unchecked record says
            # nothing about the domain, so it is not blamed on it (what did answer stays).
            blind = ("spf-temperror", "dmarc-unchecked", "dkim-unchecked", "dnsbl-unknown")
            self.failures = [f for f in self.failures if f.id not in blind]
            self.warnings = [w for w in self.warnings if w.id not in blind]

    def check_alignment(self) -> None:
        """SPF counts for DMARC only when the MAIL FROM domain is aligned with the From: domain."""
        request = self.request
        mode = str(self.dmarc.get("aspf") or "r") if self.dmarc and self.dmarc.get("found") else "r"
        self.alignment = spf_alignment(request.spf_domain, request.name, mode)
        if not self.alignment["aligned"]:
            self.warn(
                "spf-unaligned",
                _observed(
                    "spf-unaligned",
                    mailfrom=request.spf_domain,
                    domain=request.name,
                    **{k: str(self.alignment[k]) for k in ("mode", "mailfrom_org", "from_org")},
                ),
            )

    def check_spf(self, spf: dict[str, Any]) -> None:
        domain, ip = self.request.spf_domain, self.request.ip
        result, record = spf.get("result"), spf.get("record")
        error = str(spf.get("error") or "")
        same_record = (spf.get("matched_in") or "").rstrip(".").lower() == domain
        fields = {
            "spf_current": record or "",
            "spf_record": suggested_spf(record, ip, matched=spf.get("mechanism") if same_record else None),
            "spf_error": error or f"SPF {result}",
            "domain": domain,  # the MAIL FROM domain: the record to change is that one
        }
        spf["suggested"] = fields["spf_record"]
        fields["spf_record"] = txt_strings(fields["spf_record"])
        publish = spf["suggested"] if result in ("none", "fail", "softfail") else record
        if publish and len(publish.encode()) > SPF_SIZE:
            self.warn("spf-long", _observed("spf-long", size=str(len(publish.encode())), record=publish))
        result = str(result)
        if result in ("none", "permerror", "temperror"):
            said = (  # "none" says it all; a permerror's or temperror's reason is the evaluator's (data)
                _observed("spf-error", result=result, domain=domain, error=error)
                if error and result != "none"
                else _observed("spf-result", result=result, domain=domain)
            )
            self.fail(f"spf-{result}", said, **fields)
        elif result in ("fail", "softfail", "neutral"):
            where = str(spf.get("matched_in") or domain)
            matched = {"result": result, "ip": str(ip), "mechanism": str(spf.get("mechanism")), "where": where}
            if result == "neutral":
                self.warn("spf-neutral", _observed("spf-matched", **matched))
            elif spf.get("explanation"):  # the exp= text receivers quote in their rejection
                self.fail(
                    f"spf-{result}", _observed("spf-matched-exp", **matched, exp=str(spf["explanation"])), **fields
                )
            else:
                self.fail(f"spf-{result}", _observed("spf-matched", **matched), **fields)
        if spf.get("ignored"):
            self.warn("spf-ignored", _observed("record", name=str(record), record=" ".join(spf["ignored"])))
        # An email service's own MAIL FROM domain has no reason to include Microsoft 365.
        own = domain == self.request.name
        if own and result not in ("none", "temperror") and not spf.get("includes_m365") and self.is_m365:
            self.warn("spf-no-m365", _observed("spf-no-m365", record=str(record)))

    def check_dmarc(self, dmarc: dict[str, Any]) -> None:
        domain = self.request.name
        # Missing: the record to publish goes at the organizational domain, where it covers this
        # domain and every other subdomain (RFC 7489 section 6.6.3).
        name = str(dmarc.get("at") or f"_dmarc.{dmarc.get('org_domain') or domain}")
        problems = "; ".join(dmarc.get("problems") or [])
        fields = {
            "dmarc_name": name,
            "dmarc_record": suggested_dmarc(str(dmarc.get("org_domain") or domain)),
            "dmarc_error": problems,
        }
        if dmarc.get("error"):
            self.warn("dmarc-unchecked", _observed("record", name=name, record=str(dmarc["error"])))
            self.incomplete.append(f"dmarc {domain}")
            return
        if not dmarc.get("found"):
            org = dmarc.get("org_domain")
            said = (
                _observed("dmarc-missing-org", name=f"_dmarc.{domain}", org_name=f"_dmarc.{org}")
                if org and org != domain
                else _observed("dmarc-missing", name=f"_dmarc.{domain}")
            )
            self.fail("dmarc-missing", said, **fields)
            return
        if problems:
            self.fail("dmarc-invalid", _observed("record", name=name, record=problems), **fields)
            return
        if dmarc.get("applied") == "none":
            self.warn("dmarc-monitor", _observed("record", name=name, record=str(dmarc.get("record"))))
        if int(dmarc.get("pct", 100)) < 100:
            self.warn("dmarc-pct", _observed("dmarc-pct", name=name, pct=str(dmarc.get("pct"))))
        for item in dmarc.get("external") or []:
            if item.get("verified") is False:
                said = _observed("dmarc-report-unverified", uri=str(item["uri"]), name=str(item["name"]))
                self.warn("dmarc-report-unverified", said)

    def dkim_fields(self, report: dict[str, Any]) -> dict[str, str]:
        """The step fields of a DKIM failure. The Microsoft 365 CNAME targets are known only when a
        selector already points there (the tenant's name is in it); otherwise they stay examples."""
        domain = self.request.name
        fields = {
            "dkim_name": str(report.get("name")),
            "dkim_target": str(report.get("cname") or ""),
            "selector1_name": f"selector1._domainkey.{domain}",
            "selector2_name": f"selector2._domainkey.{domain}",
            "bits": str(report.get("bits") or ""),
        }
        for item in self.dkim:
            if item.get("m365_cname") and item.get("cname"):
                rest = str(item["cname"]).split(".", 1)[1]
                fields["selector1_target"] = f"selector1-{dashed(domain)}.{rest}"
                fields["selector2_target"] = f"selector2-{dashed(domain)}.{rest}"
        return fields

    def check_dkim(self) -> None:
        explicit = bool(self.request.selectors)
        any_present = any(d.get("present") for d in self.dkim)
        strict = explicit or self.is_m365 or any_present
        quiet_missing: list[str] = []
        for report in self.dkim:
            status, name = report.get("status"), str(report.get("name"))
            fields = self.dkim_fields(report)
            if status == "missing" and report.get("cname"):
                # The CNAME is there, its target has no key: for Microsoft 365, signing is not
                # created or not enabled yet (Microsoft publishes the key when it is).
                target = str(report["cname"])
                said = _observed("dkim-target-missing", name=str(name), cname=target)
                self.fail("dkim-target-missing", said, **fields)
            elif status == "missing":
                if strict:
                    said = (
                        _observed("dkim-missing-cname", name=name, cname=str(report["cname"]))
                        if report.get("cname")
                        else _observed("dkim-missing", name=name)
                    )
                    self.fail("dkim-missing", said, **fields)
                else:
                    quiet_missing.append(name)
            elif status == "weak":
                bits, key_type = str(report.get("bits")), str(report.get("key_type"))
                self.fail("dkim-weak", _observed("dkim-weak", name=name, bits=bits, key_type=key_type), **fields)
            elif status == "revoked":
                self.fail("dkim-revoked", _observed("dkim-revoked", name=name), **fields)
            elif status == "invalid":
                problems = "; ".join(report.get("problems") or [])
                self.fail("dkim-invalid", _observed("record", name=name, record=problems), **fields)
            elif status == "1024":
                self.warn("dkim-1024", _observed("dkim-1024", name=name, bits=str(report.get("bits"))))
            elif status == "unknown":
                self.warn("dkim-unchecked", _observed("record", name=name, record=str(report.get("error"))))
                self.incomplete.append(f"dkim {name}")
            if report.get("testing") and status in ("ok", "1024"):
                self.warn("dkim-testing", _observed("record", name=name, record="t=y"))
            if report.get("m365_cname") is False and self.is_m365:
                self.warn("dkim-not-m365", _observed("dkim-not-m365", name=name, cname=str(report.get("cname"))))
        if quiet_missing:
            self.warn("dkim-default-selectors", _observed("dkim-default-selectors", names=", ".join(quiet_missing)))

    def check_dnsbl(self) -> None:
        for report in self.dnsbl:
            zone = str(report.get("zone"))
            if report.get("status") == "listed":
                answers = ", ".join(report.get("answers") or [])
                if report.get("meaning"):
                    answers += f" ({', '.join(report['meaning'])})"
                reason = str(report.get("reason") or "")
                ip = str(self.request.ip)
                said = (
                    _observed("listed-reason", ip=ip, zone=zone, answers=answers, reason=reason)
                    if reason
                    else _observed("listed", ip=ip, zone=zone, answers=answers)
                )
                self.fail(
                    f"listed:{zone}",
                    said,
                    zone=zone,
                    delist=str(report.get("delist") or ""),
                    reason=reason,
                )
            elif report.get("status") == "unknown":
                error = text(f"sender.dnsbl_errors.{report.get('error')}")
                # The answers are data; without any, the DNS failure's own reason.
                detail = ", ".join(report.get("answers") or []) or report.get("detail")
                said = (
                    _observed("dnsbl-unknown-detail", zone=zone, error=error, detail=str(detail))
                    if detail
                    else _observed("dnsbl-unknown", zone=zone, error=error)
                )
                self.warn("dnsbl-unknown", said)


def conclude(
    request: SenderRequest,
    results: Sequence[ProbeResult],
    *,
    elapsed_ms: float,
    language: str = knowledge.DEFAULT_LANGUAGE,
) -> SenderReport:
    """Pure: what the results show, in ``language``."""
    facts = sender_knowledge.load()
    run = _Conclusion(request, results)
    run.run()
    dnsbl = list(run.dnsbl)
    if request.ip:
        dnsbl.append({"zone": "microsoft", "status": "no-zone", "delist": facts.microsoft_delist, "query": None})
    return SenderReport(
        request=request,
        language=language,
        spf=run.spf,
        dmarc=run.dmarc,
        dkim=run.dkim,
        dnsbl=dnsbl,
        failures=run.failures,
        warnings=run.warnings,
        checklist=checklist(run.failures, language),
        incomplete=list(dict.fromkeys(run.incomplete)),
        elapsed_ms=elapsed_ms,
        alignment=run.alignment,
    )


def failure_kind(ident: str) -> str:
    return "listed" if ident.startswith("listed:") else ident


def examples(failure: Finding) -> dict[str, str]:
    """The examples, fitted to the case, for the fields a failure could not fill: the Microsoft
    365 CNAME targets with the domain's first label as the tenant."""
    domain = failure.fields.get("domain", "contoso.com")
    tenant = f"{domain.split('.', 1)[0]}.onmicrosoft.com"
    return {
        "selector1_target": f"selector1-{dashed(domain)}._domainkey.{tenant}",
        "selector2_target": f"selector2-{dashed(domain)}._domainkey.{tenant}",
    }


def checklist(failures: Sequence[Finding], language: str = knowledge.DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
    """The steps for the failures found, in order, each once (per zone for blocklists), the
    re-check last; each filled in from its failure's fields the way every checklist is
    (``bot.fill``: what is not known is a marked example), with what was observed (English)."""
    facts = sender_knowledge.load()
    templates = knowledge.load(language).texts
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    last: dict[str, Any] | None = None
    for failure in failures:
        for step in facts.checklists.get(failure_kind(failure.id), ()):
            key = f"{step}:{failure.fields.get('zone', '')}" if failure.id.startswith("listed:") else step
            if key in seen:
                continue
            seen.add(key)
            template = templates.get(f"sender.steps.{step}") or knowledge.load().texts[f"sender.steps.{step}"]
            known = dict(failure.fields)
            if failure.id.startswith("listed:") and not known.get("reason"):
                known["reason"] = _observed("no-reason", zone=known.get("zone", "")).render(language)
            if "delist" in known and not known["delist"]:  # a list the facts do not know
                known["delist"] = text("sender.labels.delist_unknown").render(language)
            filled = fill_step(Step(key.rstrip(":"), template), known, examples(failure))
            item = step_record(filled) | {"observed": failure.detail}
            if step == "recheck":
                last = item
            else:
                steps.append(item)
    if last is not None:
        steps.append(last)
    return steps
