"""A diagnosis as JSON or terminal text, with the checklist filled in from what was observed.

The checklist is the knowledge base's for the verdict, its commands filled in with the hosts,
addresses and names the probes found (bot/fill.py; what nobody knows stays a marked example,
``<mail.contoso.com>``), preceded by the observations that decided it ("203.0.113.25:25
refused the connection", in the reader's language) and, for a refused or timed-out connection,
the Microsoft 365 ranges to allow on TCP 25 when the ranges lookup returned them.

With ``--code``, the output says what the NDR's code implies about the connector
(``Diagnosis.request.assumed``) and whether the probes reproduce the code now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.diagnose import Diagnosis
from bot.fill import has_placeholders, step_record
from bot.knowledge import DEFAULT_LANGUAGE
from bot.probes.result import ProbeResult
from bot.render.record import explanation_record
from bot.render.terminal import printable
from bot.texts import labelled
from bot.verdict import FAILURE_KNOWLEDGE, RESOLVER_UNREACHABLE

_FIREWALL_CODES = ("4.4.315", "4.4.316")
_MAX_RANGES = 40


def _ranges(diagnosis: Diagnosis) -> list[str]:
    for result in diagnosis.results:
        if result.name == "m365_ranges" and result.ok:
            ranges = [*result.facts.get("ipv4", []), *result.facts.get("ipv6", [])]
            return [str(r) for r in ranges]
    return []


def _observed(step_id: str, text: str) -> dict[str, Any]:
    return {"id": step_id, "text": text, "observed": True, "filled": {}, "placeholders": {}}


def filled_checklist(diagnosis: Diagnosis, ui: Mapping[str, str]) -> list[dict[str, Any]]:
    """The steps, each ``{id, text, observed, filled, placeholders}``: what was observed first."""
    steps: list[dict[str, Any]] = []
    verdict = diagnosis.verdict
    for n, result in enumerate(verdict.evidence):
        steps.append(_observed(f"observed-{n + 1}", labelled(ui, ui["observed"], result.says(diagnosis.language))))
    ranges = _ranges(diagnosis)
    if verdict.code in _FIREWALL_CODES and ranges:
        shown = ", ".join(ranges[:_MAX_RANGES]) + (" ..." if len(ranges) > _MAX_RANGES else "")
        steps.append(_observed("allow-m365-ranges-now", labelled(ui, ui["allow_ranges"], shown)))
    if not verdict.healthy and diagnosis.explanation is not None:
        steps += [step_record(s) | {"observed": False} for s in diagnosis.explanation.checklist]
    return steps


def assumed_line(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str | None:
    """What the NDR's code implies about the connector, in the reader's words; None without one."""
    assumed = diagnosis.request.assumed
    return ui[assumed.key].format(code=assumed.code) if assumed is not None else None


def failure_help(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str | None:
    """What to do about a failure that has no knowledge-base entry (mailflow's own resolver)."""
    return ui["resolver_unreachable_help"] if diagnosis.verdict.failure == RESOLVER_UNREACHABLE else None


def outcome_line(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str | None:
    """ "Confirmed" or "Not reproduced" for --code; None when the probes cannot tell."""
    request = diagnosis.request
    if not request.code or diagnosis.confirmed is None:
        return None
    return ui["confirmed" if diagnosis.confirmed else "not_confirmed"].format(code=request.code)


def placeholder_note(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str | None:
    explanation = diagnosis.explanation
    if diagnosis.verdict.healthy or explanation is None or not has_placeholders(explanation.checklist):
        return None
    return ui["placeholder_note"]


def _probe(result: ProbeResult, language: str) -> dict[str, Any]:
    return {
        "name": result.name,
        "target": result.target,
        "ok": result.ok,
        "code": result.code,
        "detail": result.detail,  # English, stable for scripts
        "text": result.says(language),  # the same in the reader's language
        "elapsed_ms": result.elapsed_ms,
        "skipped": result.skipped,
        "facts": result.facts,
    }


def diagnosis_record(diagnosis: Diagnosis, ui: Mapping[str, str]) -> dict[str, Any]:
    request = diagnosis.request
    language = diagnosis.language
    assumed = request.assumed
    return {
        "target": request.target,
        "smart_host": request.smart_host,
        "code": request.code,
        "language": language,
        "assumed": None
        if assumed is None
        else {
            "code": assumed.code,
            "require_tls": assumed.require_tls,
            "validate_certificate": assumed.validate_certificate,
            "text": assumed_line(diagnosis, ui),
        },
        "verdict": diagnosis.verdict.code,
        "healthy": diagnosis.verdict.healthy,
        # "null-mx", "incomplete", "resolver-unreachable": failures with no connector code
        "failure": diagnosis.verdict.failure,
        "failure_text": failure_help(diagnosis, ui),
        "confirmed": diagnosis.confirmed,
        "confirmed_text": outcome_line(diagnosis, ui),
        "reachable_addresses": diagnosis.verdict.reachable,
        "attempted_addresses": diagnosis.verdict.attempted,
        "probes": [_probe(r, language) for r in diagnosis.results],
        "warnings": [_probe(r, language) for r in diagnosis.verdict.warnings],
        "checklist": filled_checklist(diagnosis, ui),
        "explanation": explanation_record(diagnosis.explanation),
        "incomplete": list(diagnosis.incomplete),
        "elapsed_ms": diagnosis.elapsed_ms,
    }


def ago(seconds: float) -> str:
    """A short age: ``12 s``, ``4 min``, ``3 h``, ``2 d``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def progress_line(result: ProbeResult, language: str = DEFAULT_LANGUAGE) -> str:
    mark = "skip" if result.skipped else ("ok" if result.ok else "FAIL")
    code = f" [{result.code}]" if result.code else ""
    line = f"{mark:>4} {result.name:<13} {result.target}: {result.says(language)}{code} ({result.elapsed_ms:.0f} ms)"
    return printable(line)  # a server's own words (its banner, its reply) never drive the terminal


def verdict_line(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str:
    """The verdict as the first line says it (without the domain)."""
    verdict = diagnosis.verdict
    title = diagnosis.explanation.title if diagnosis.explanation else ""
    if verdict.healthy:
        return ui["healthy"]
    if verdict.code is not None:
        return labelled(ui, ui["verdict"], f"{verdict.code}  {title}".rstrip())
    if verdict.failure in FAILURE_KNOWLEDGE:  # no connector code: say what failed in the KB's words
        return labelled(ui, ui["verdict"], str(title or verdict.failure))
    if verdict.failure == RESOLVER_UNREACHABLE:
        return labelled(ui, ui["verdict"], ui["resolver_unreachable"])
    return labelled(ui, ui["verdict"], ui["incomplete"])  # the deadline cut the deciding path


def render_diagnosis_text(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str:
    verdict = diagnosis.verdict
    language = diagnosis.language
    lines: list[str] = [verdict_line(diagnosis, ui)]
    said = (failure_help(diagnosis, ui), assumed_line(diagnosis, ui), outcome_line(diagnosis, ui))
    lines += [line for line in said if line]
    lines += ["", ui["probes"]]
    lines += ["  " + progress_line(r, language) for r in diagnosis.results]
    if verdict.warnings and verdict.healthy:
        lines += ["", ui["warnings"]]
        lines += [f"  - {r.name} {r.target}: {r.says(language)}" for r in verdict.warnings]
    steps = filled_checklist(diagnosis, ui)
    if steps:
        lines += ["", ui["checklist"]]
        lines += [f"  [ ] {n}. {s['text']}" for n, s in enumerate(steps, 1)]
        if note := placeholder_note(diagnosis, ui):
            lines += ["", note]
    if diagnosis.incomplete:
        lines += ["", labelled(ui, ui["incomplete"], ", ".join(diagnosis.incomplete))]
    return printable("\n".join(lines) + "\n")
