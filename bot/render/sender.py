"""A sender check as terminal text and as a Slack message (the JSON is ``SenderReport.record()``).

Like a diagnosis: the outcome first (the failures in the reader's words, each with what was
observed), then each check on one line, the warnings, and the checklist with the records to
publish, examples marked as placeholders with the same note as every checklist. Every word is a
knowledge-base text (``knowledge/<lang>/sender.toml``) said in the report's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render import blocks
from bot.render.diagnosis import ago
from bot.sender.conclude import SenderReport, failure_kind
from bot.texts import labelled, say


def _label(language: str, key: str, **fields: str) -> str:
    return say(language, f"sender.labels.{key}", **fields)


def _status(language: str, status: object) -> str:
    return say(language, f"sender.status.{status}")


def failure_title(ident: str, language: str) -> str:
    return say(language, f"sender.failures.{failure_kind(ident)}")


def warning_title(ident: str, language: str) -> str:
    return say(language, f"sender.warnings.{ident}")


def spf_line(spf: dict[str, Any] | None, language: str) -> str:
    name = _label(language, "spf")
    if spf is None:
        return f"{name}: {_status(language, 'unknown')}"
    lookups = _label(language, "lookups", n=str(spf.get("lookups", 0)))
    if spf.get("result") and spf.get("mechanism"):
        head = f"{spf['result']} ({spf['mechanism']})"
    elif spf.get("result"):
        head = str(spf["result"])  # an RFC 7208 result name: the same in every language
    else:
        head = _label(language, "valid") if spf.get("valid") else _status(language, "unknown")
    m365 = ", include:spf.protection.outlook.com" if spf.get("includes_m365") else ""
    record = f"  {spf['record']}" if spf.get("record") else ""
    return f"{name}: {head}, {lookups}{m365}{record}"


def alignment_line(report: SenderReport, language: str) -> str | None:
    """SPF alignment, shown when the MAIL FROM domain is not the From: domain."""
    alignment = report.alignment
    if not alignment or alignment.get("mailfrom") == alignment.get("from"):
        return None
    said = _label(language, "aligned" if alignment.get("aligned") else "not_aligned")
    return _label(
        language,
        "alignment",
        mailfrom=str(alignment.get("mailfrom")),
        domain=str(alignment.get("from")),
        mode=str(alignment.get("mode")),
        said=said,
    )


def spf_checks(report: SenderReport, language: str) -> list[str]:
    """The SPF line (naming the MAIL FROM domain it was checked on when that is not the From:
    domain) and the alignment line."""
    line = spf_line(report.spf, language)
    mailfrom = report.request.spf_domain
    if mailfrom != report.request.name:
        name = _label(language, "spf")
        line = line.replace(name, f"{name} ({mailfrom})", 1)
    aligned = alignment_line(report, language)
    return [line] if aligned is None else [line, aligned]


def dmarc_line(dmarc: dict[str, Any] | None, language: str) -> str:
    name = _label(language, "dmarc")
    if dmarc is None or dmarc.get("error"):
        return f"{name}: {_status(language, 'unknown')}"
    if not dmarc.get("found"):
        return f"{name}: {_status(language, 'missing')}"
    return f"{name}: p={dmarc.get('applied')} ({dmarc.get('at')})  {dmarc.get('record')}"


def dkim_line(dkim: dict[str, Any], language: str) -> str:
    shown = _status(language, dkim.get("status"))
    bits = ""
    if dkim.get("bits"):
        bits = ", " + _label(language, "key_bits", key_type=str(dkim.get("key_type")), bits=str(dkim.get("bits")))
    cname = f", CNAME {dkim.get('cname')}" if dkim.get("cname") else ""
    return f"{_label(language, 'dkim')} {dkim.get('selector')}: {shown}{bits}{cname}"


def dnsbl_line(item: dict[str, Any], language: str) -> str:
    if item.get("status") == "no-zone":
        return _label(language, "no_zone", delist=str(item.get("delist")))
    status = str(item.get("status"))
    answers = f" ({', '.join(item.get('answers') or [])})" if item.get("answers") else ""
    reason = f": {item['reason']}" if item.get("reason") else ""
    delist = f"  {item['delist']}" if status == "listed" and item.get("delist") else ""
    return f"{item.get('zone')}: {_status(language, status)}{answers}{reason}{delist}"


def _title(report: SenderReport, ui: Mapping[str, str]) -> str:
    request = report.request
    target = request.name + (f" / {request.ip}" if request.ip else "")
    return labelled(ui, _label(report.language, "title"), target)


def _check_lines(report: SenderReport) -> list[str]:
    language = report.language
    lines = [*spf_checks(report, language), dmarc_line(report.dmarc, language)]
    return lines + [dkim_line(d, language) for d in report.dkim]


def render_sender_text(report: SenderReport, ui: Mapping[str, str]) -> str:
    language = report.language
    lines = [_title(report, ui)]
    if report.failures:
        lines += ["", _label(language, "failures")]
        for failure in report.failures:
            lines.append(f"  {failure.id}  {failure_title(failure.id, language)}")
            lines.append("      " + labelled(ui, _label(language, "observed"), failure.says(language)))
    elif not report.incomplete:
        lines += ["", _label(language, "all_good")]
    lines += ["", *("  " + line for line in _check_lines(report))]
    if report.dnsbl:
        lines += ["", _label(language, "blocklists")]
        lines += ["  " + dnsbl_line(item, language) for item in report.dnsbl]
    if report.warnings:
        lines += ["", ui["warnings"]]
        lines += ["  - " + labelled(ui, warning_title(w.id, language), w.says(language)) for w in report.warnings]
    if report.checklist:
        lines += ["", ui["checklist"]]
        lines += [f"  [ ] {n}. {s['text']}" for n, s in enumerate(report.checklist, 1)]
        if report.has_placeholders:
            lines += ["", ui["placeholder_note"]]
    if report.incomplete:
        lines += ["", labelled(ui, ui["incomplete"], ", ".join(report.incomplete))]
    return "\n".join(lines) + "\n"


# --- Slack -------------------------------------------------------------------------------------


def sender_progress_message(domain: str, language: str) -> blocks.Message:
    title = _label(language, "checking", domain=domain)
    return blocks.Message(blocks.fit([blocks.header(title)]), blocks.shorten(title, blocks.MAX_FALLBACK))


def sender_message(
    report: SenderReport,
    ui: Mapping[str, str],
    *,
    age_s: float = 0.0,
    from_cache: bool = False,
    ticks: Mapping[str, blocks.Tick] | None = None,
) -> blocks.Message:
    """A sender check in Slack: the failures, one line per check, the checklist to tick."""
    language = report.language
    esc = blocks.escape
    title = _title(report, ui)
    out: list[blocks.Block] = [blocks.header(title)]
    if report.failures:
        lines = [
            f"• `{esc(f.id)}` {esc(failure_title(f.id, language))}\n    _{esc(f.says(language))}_"
            for f in report.failures
        ]
        text = f"*{esc(_label(language, 'failures'))}*\n" + "\n".join(lines)
        out += [blocks.section(piece) for piece in blocks.split_text(text, blocks.MAX_SECTION)]
    elif not report.incomplete:
        out.append(blocks.section(esc(_label(language, "all_good"))))
    checks = [*_check_lines(report), *(dnsbl_line(item, language) for item in report.dnsbl)]
    out += [blocks.section(piece) for piece in blocks.split_text("\n".join(esc(c) for c in checks), blocks.MAX_SECTION)]
    if report.warnings:
        warned = "\n".join(
            "• " + esc(labelled(ui, warning_title(w.id, language), w.says(language))) for w in report.warnings
        )
        heading = f"*{esc(ui['warnings'])}*\n"
        out += [blocks.section(p) for p in blocks.split_text(heading + warned, 3000)][:2]
    steps = [(str(s["id"]), esc(str(s["text"]))) for s in report.checklist]
    if steps:
        out.append(blocks.section(f"*{esc(ui['checklist'])}*"))
        out += blocks.steps_blocks(steps, ui, ticks or {}, blocks.MAX_BLOCKS - len(out) - 2)
    age = blocks.label(ui, "cached", age=ago(age_s)) if from_cache else blocks.label(ui, "slack_fresh")
    notes = [age, f"{report.elapsed_ms / 1000:.1f} s"]
    if report.has_placeholders:
        notes.append(esc(ui["placeholder_note"]))
    if report.incomplete:
        notes.append(esc(labelled(ui, ui["incomplete"], ", ".join(report.incomplete))))
    out.append(blocks.context(*notes))
    return blocks.Message(blocks.fit(out, ui=ui), blocks.shorten(title, blocks.MAX_FALLBACK))
