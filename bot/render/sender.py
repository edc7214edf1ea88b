"""A sender check as terminal text (the JSON is ``SenderReport.record()``).

Like a diagnosis: the outcome first (the failures in the reader's words, each with what was
observed), then each check on one line, the warnings, and the checklist with the records to
publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.render import blocks
from bot.render.diagnosis import ago
from bot.sender.conclude import SenderReport
from bot.sender.knowledge import SenderKnowledge


def failure_title(ident: str, words: SenderKnowledge) -> str:
    return words.failures.get("listed" if ident.startswith("listed:") else ident, ident)


def spf_line(spf: dict[str, Any] | None, words: SenderKnowledge) -> str:
    if spf is None:
        return f"{words.labels['spf']}: {words.labels['unknown']}"
    lookups = words.labels["lookups"].format(n=spf.get("lookups", 0))
    if spf.get("result") and spf.get("mechanism"):
        head = f"{spf['result']} ({spf['mechanism']})"
    else:
        head = str(spf.get("result") or ("valid" if spf.get("valid") else words.labels["unknown"]))
    m365 = ", include:spf.protection.outlook.com" if spf.get("includes_m365") else ""
    record = f"  {spf['record']}" if spf.get("record") else ""
    return f"{words.labels['spf']}: {head}, {lookups}{m365}{record}"


def dmarc_line(dmarc: dict[str, Any] | None, words: SenderKnowledge) -> str:
    if dmarc is None or dmarc.get("error"):
        return f"{words.labels['dmarc']}: {words.labels['unknown']}"
    if not dmarc.get("found"):
        return f"{words.labels['dmarc']}: {words.labels['not_found']}"
    return f"{words.labels['dmarc']}: p={dmarc.get('applied')} ({dmarc.get('at')})  {dmarc.get('record')}"


def dkim_line(dkim: dict[str, Any], words: SenderKnowledge) -> str:
    status = str(dkim.get("status"))
    shown = words.labels["not_found"] if status == "missing" else status
    bits = f", {dkim.get('key_type')} {dkim.get('bits')} bits" if dkim.get("bits") else ""
    cname = f", CNAME {dkim.get('cname')}" if dkim.get("cname") else ""
    return f"{words.labels['dkim']} {dkim.get('selector')}: {shown}{bits}{cname}"


def dnsbl_line(item: dict[str, Any], words: SenderKnowledge) -> str:
    if item.get("status") == "no-zone":
        return words.labels["no_zone"].format(delist=item.get("delist"))
    status = str(item.get("status"))
    shown = words.labels.get(status.replace("-", "_"), status)
    answers = f" ({', '.join(item.get('answers') or [])})" if item.get("answers") else ""
    reason = f": {item['reason']}" if item.get("reason") else ""
    delist = f"  {item['delist']}" if status == "listed" and item.get("delist") else ""
    return f"{item.get('zone')}: {shown}{answers}{reason}{delist}"


def render_sender_text(report: SenderReport, words: SenderKnowledge) -> str:
    request = report.request
    labels = words.labels
    lines = [f"{labels['title']}: {request.name}" + (f" / {request.ip}" if request.ip else "")]
    if report.failures:
        lines += ["", labels["failures"]]
        for failure in report.failures:
            lines.append(f"  {failure.id}  {failure_title(failure.id, words)}")
            lines.append(f"      {labels['observed']}: {failure.detail}")
    elif not report.incomplete:
        lines += ["", labels["all_good"]]
    lines += ["", "  " + spf_line(report.spf, words), "  " + dmarc_line(report.dmarc, words)]
    lines += ["  " + dkim_line(d, words) for d in report.dkim]
    if report.dnsbl:
        lines += ["", labels["blocklists"]]
        lines += ["  " + dnsbl_line(item, words) for item in report.dnsbl]
    if report.warnings:
        lines += ["", labels["warnings"]]
        lines += [f"  - {words.warnings.get(w.id, w.id)}: {w.detail}" for w in report.warnings]
    if report.checklist:
        lines += ["", labels["checklist"]]
        lines += [f"  [ ] {n}. {s['text']}" for n, s in enumerate(report.checklist, 1)]
    if report.incomplete:
        lines += ["", f"{labels['incomplete']}: {', '.join(report.incomplete)}"]
    return "\n".join(lines) + "\n"


# --- Slack -------------------------------------------------------------------------------------


def sender_progress_message(domain: str, words: SenderKnowledge) -> blocks.Message:
    title = words.labels["checking"].format(domain=domain)
    return blocks.Message(blocks.fit([blocks.header(title)]), blocks.shorten(title, blocks.MAX_FALLBACK))


def sender_message(
    report: SenderReport,
    words: SenderKnowledge,
    ui: Mapping[str, str],
    *,
    age_s: float = 0.0,
    from_cache: bool = False,
    ticks: Mapping[str, blocks.Tick] | None = None,
) -> blocks.Message:
    """A sender check in Slack: the failures, one line per check, the checklist to tick."""
    request = report.request
    esc = blocks.escape
    title = f"{words.labels['title']}: {request.name}" + (f" / {request.ip}" if request.ip else "")
    out: list[blocks.Block] = [blocks.header(title)]
    if report.failures:
        lines = [f"• `{esc(f.id)}` {esc(failure_title(f.id, words))}\n    _{esc(f.detail)}_" for f in report.failures]
        text = f"*{esc(words.labels['failures'])}*\n" + "\n".join(lines)
        out += [blocks.section(piece) for piece in blocks.split_text(text, blocks.MAX_SECTION)]
    elif not report.incomplete:
        out.append(blocks.section(esc(words.labels["all_good"])))
    checks = [spf_line(report.spf, words), dmarc_line(report.dmarc, words)]
    checks += [dkim_line(d, words) for d in report.dkim]
    checks += [dnsbl_line(item, words) for item in report.dnsbl]
    out += [blocks.section(piece) for piece in blocks.split_text("\n".join(esc(c) for c in checks), blocks.MAX_SECTION)]
    if report.warnings:
        warned = "\n".join(f"• {esc(words.warnings.get(w.id, w.id))}: {esc(w.detail)}" for w in report.warnings)
        out += [blocks.section(p) for p in blocks.split_text(f"*{esc(words.labels['warnings'])}*\n{warned}", 3000)][:2]
    steps = [(str(s["id"]), esc(str(s["text"]))) for s in report.checklist]
    if steps:
        out.append(blocks.section(f"*{esc(words.labels['checklist'])}*"))
        out += blocks.steps_blocks(steps, ui, ticks or {}, blocks.MAX_BLOCKS - len(out) - 2)
    age = blocks.label(ui, "cached", age=ago(age_s)) if from_cache else blocks.label(ui, "slack_fresh")
    notes = [age, f"{report.elapsed_ms / 1000:.1f} s"]
    if report.incomplete:
        notes.append(f"{esc(words.labels['incomplete'])}: {esc(', '.join(report.incomplete))}")
    out.append(blocks.context(*notes))
    return blocks.Message(blocks.fit(out, ui=ui), blocks.shorten(title, blocks.MAX_FALLBACK))
