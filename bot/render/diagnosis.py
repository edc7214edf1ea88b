"""A diagnosis as JSON or terminal text, with the checklist filled in from what was observed.

The checklist is the knowledge base's for the verdict, preceded by the observations that
decided it ("203.0.113.25:25 refused the connection") and, for a refused or timed-out
connection, the Microsoft 365 ranges to allow on TCP 25 when the ranges lookup returned them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.diagnose import Diagnosis
from bot.probes.result import ProbeResult
from bot.render.record import explanation_record
from bot.verdict import FAILURE_KNOWLEDGE

_FIREWALL_CODES = ("4.4.315", "4.4.316")
_MAX_RANGES = 40


def _ranges(diagnosis: Diagnosis) -> list[str]:
    for result in diagnosis.results:
        if result.name == "m365_ranges" and result.ok:
            ranges = [*result.facts.get("ipv4", []), *result.facts.get("ipv6", [])]
            return [str(r) for r in ranges]
    return []


def filled_checklist(diagnosis: Diagnosis, ui: Mapping[str, str]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    verdict = diagnosis.verdict
    for n, result in enumerate(verdict.evidence):
        steps.append({"id": f"observed-{n + 1}", "text": f"{ui['observed']}: {result.detail}", "observed": True})
    ranges = _ranges(diagnosis)
    if verdict.code in _FIREWALL_CODES and ranges:
        shown = ", ".join(ranges[:_MAX_RANGES]) + (" ..." if len(ranges) > _MAX_RANGES else "")
        steps.append({"id": "allow-m365-ranges-now", "text": f"{ui['allow_ranges']}: {shown}", "observed": True})
    if not verdict.healthy and diagnosis.explanation is not None:
        steps += [{"id": s.id, "text": s.text, "observed": False} for s in diagnosis.explanation.checklist]
    return steps


def _probe(result: ProbeResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "target": result.target,
        "ok": result.ok,
        "code": result.code,
        "detail": result.detail,
        "elapsed_ms": result.elapsed_ms,
        "skipped": result.skipped,
        "facts": result.facts,
    }


def diagnosis_record(diagnosis: Diagnosis, ui: Mapping[str, str]) -> dict[str, Any]:
    request = diagnosis.request
    return {
        "target": request.target,
        "smart_host": request.smart_host,
        "code": request.code,
        "verdict": diagnosis.verdict.code,
        "healthy": diagnosis.verdict.healthy,
        "failure": diagnosis.verdict.failure,  # "null-mx", "incomplete": failures with no connector code
        "confirmed": diagnosis.confirmed,
        "reachable_addresses": diagnosis.verdict.reachable,
        "attempted_addresses": diagnosis.verdict.attempted,
        "probes": [_probe(r) for r in diagnosis.results],
        "warnings": [_probe(r) for r in diagnosis.verdict.warnings],
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


def progress_line(result: ProbeResult) -> str:
    mark = "skip" if result.skipped else ("ok" if result.ok else "FAIL")
    code = f" [{result.code}]" if result.code else ""
    return f"{mark:>4} {result.name:<13} {result.target}: {result.detail}{code} ({result.elapsed_ms:.0f} ms)"


def render_diagnosis_text(diagnosis: Diagnosis, ui: Mapping[str, str]) -> str:
    verdict = diagnosis.verdict
    request = diagnosis.request
    lines: list[str] = []
    title = diagnosis.explanation.title if diagnosis.explanation else ""
    if verdict.healthy:
        lines.append(ui["healthy"])
    elif verdict.code is not None:
        lines.append(f"{ui['verdict']}: {verdict.code}  {title}".rstrip())
    elif verdict.failure in FAILURE_KNOWLEDGE:  # no connector code: say what failed in the KB's words
        lines.append(f"{ui['verdict']}: {title or verdict.failure}")
    else:  # the deadline cut the deciding path
        lines.append(f"{ui['verdict']}: {ui['incomplete']}")
    if request.code and diagnosis.confirmed is not None:  # None: the deadline cut what would tell
        key = "confirmed" if diagnosis.confirmed else "not_confirmed"
        lines.append(ui[key].format(code=request.code))
    lines += ["", ui["probes"]]
    lines += ["  " + progress_line(r) for r in diagnosis.results]
    if verdict.warnings and verdict.healthy:
        lines += ["", ui["warnings"]]
        lines += [f"  - {r.name} {r.target}: {r.detail}" for r in verdict.warnings]
    steps = filled_checklist(diagnosis, ui)
    if steps:
        lines += ["", ui["checklist"]]
        lines += [f"  [ ] {n}. {s['text']}" for n, s in enumerate(steps, 1)]
    if diagnosis.incomplete:
        lines += ["", f"{ui['incomplete']}: {', '.join(diagnosis.incomplete)}"]
    return "\n".join(lines) + "\n"
