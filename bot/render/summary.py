"""The war-room table (``bot/summary.py``) as terminal text, CSV, and a Slack message. Pure.

The table leads with the grouping asked for (``--by code|domain|reason``) and keeps the others
short below it: codes with their title, count and share, destinations, reasons, then first and
last seen and the distinct recipients. Columns are padded by display width, so Japanese and
Korean titles line up too. Labels come from ``knowledge/<lang>/ui.toml`` (``summary_*``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from bot.explain import explain_code
from bot.render.blocks import (
    MAX_FALLBACK,
    MAX_SECTION,
    Message,
    context,
    escape,
    fields_section,
    fit,
    header,
    label,
    section,
    shorten,
    split_text,
)
from bot.render.terminal import cut_to_width as _cut
from bot.render.terminal import display_width as _width
from bot.render.terminal import printable
from bot.summary import NO_CODE, Group, Summary, code_title, when
from bot.verdict import FAILURE_KNOWLEDGE, INCOMPLETE

TOP_ROWS = 15  # rows of the leading table; the rest are summed in one line
TOP_OTHERS = 5  # rows of the other tables
TOP_PARTS = 3  # domains (or codes) named beside a row


def _pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    rows = [[printable(cell) for cell in row] for row in rows]  # domains come from the bounces
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(cell, widths[i], right=right[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 or share == 0 else "<1%"


def _parts(group: Group, ui: Mapping[str, str], n: int = TOP_PARTS) -> str:
    names = [f"{k} {v}" for k, v in sorted(group.parts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
    more = len(group.parts) - n
    return ", ".join(names) + (f", +{more}" if more > 0 else "")


def _name(group: Group, by: str, ui: Mapping[str, str]) -> str:
    if group.name is not None:
        # A reason in words (``reason_*`` in ui.toml); its Sisimai name stays in JSON and CSV.
        return ui.get(f"reason_{group.name}", group.name) if by == "reason" else group.name
    return ui["summary_no_code"] if by == "code" else ui["summary_unknown"]


def _stamp(epoch: float | None) -> str:
    text = when(epoch)
    return text.replace("T", " ").replace("Z", " UTC") if text else "-"


def _rows(summary: Summary, by: str, ui: Mapping[str, str], language: str, limit: int) -> list[list[str]]:
    groups = {"code": summary.by_code, "domain": summary.by_domain, "reason": summary.by_reason}[by]
    rows = []
    for group in groups[:limit]:
        share = _percent(summary.share(group.count))
        if by == "code":
            title = code_title(group.name, group.key, language) or ""
            rows.append([_name(group, by, ui), _cut(title, 48), str(group.count), share, _parts(group, ui)])
        else:
            rows.append([_cut(_name(group, by, ui), 40), str(group.count), share, _parts(group, ui)])
    rest = groups[limit:]
    if rest:
        count = sum(g.count for g in rest)
        filler = ["…", ""] if by == "code" else ["…"]
        rows.append([*filler, str(count), _percent(summary.share(count)), f"+{len(rest)}"])
    return rows


def _heading(by: str, ui: Mapping[str, str]) -> list[str]:
    if by == "code":
        return [
            ui["summary_code"],
            ui["summary_title"],
            ui["summary_count"],
            ui["summary_share"],
            ui["summary_domains"],
        ]
    name = ui["summary_domain"] if by == "domain" else ui["summary_reason"]
    return [name, ui["summary_count"], ui["summary_share"], ui["summary_codes"]]


def _grouping_table(summary: Summary, by: str, ui: Mapping[str, str], language: str, limit: int) -> list[str]:
    rows = _rows(summary, by, ui, language, limit)
    right = [False, False, True, True, False] if by == "code" else [False, True, True, False]
    return _table([_heading(by, ui), *rows], right)


def _overview(summary: Summary, ui: Mapping[str, str]) -> list[tuple[str, str]]:
    pairs = [(ui["summary_bounces"], str(summary.bounces))]
    if summary.not_bounces:
        pairs.append((ui["summary_not_bounces"], str(summary.not_bounces)))
    if summary.unreadable:
        pairs.append((ui["summary_unreadable"], str(summary.unreadable)))
    pairs += [
        (ui["summary_recipients"], str(summary.recipients)),
        (ui["summary_first_seen"], _stamp(summary.first)),
        (ui["summary_last_seen"], _stamp(summary.last)),
    ]
    return pairs


def _notes(summary: Summary, ui: Mapping[str, str]) -> list[str]:
    notes = []
    if summary.undated:
        notes.append(label(ui, "summary_undated", count=summary.undated))
    if summary.future:
        notes.append(label(ui, "summary_future", count=summary.future))
    if summary.left_out:
        notes.append(label(ui, "summary_left_out", count=summary.left_out))
    return notes


def _failure_words(failure: str | None, ui: Mapping[str, str], language: str) -> str:
    """A diagnosis without a connector code, as the diagnosis itself words it (``render/diagnosis.py``)."""
    if failure is None:
        return ui["summary_healthy"]
    if failure in FAILURE_KNOWLEDGE:  # null-mx: the knowledge entry's title
        explanation = explain_code(FAILURE_KNOWLEDGE[failure], language)
        return explanation.title if explanation else failure
    return ui["incomplete"] if failure == INCOMPLETE else failure


def render_summary_text(summary: Summary, ui: Mapping[str, str], *, by: str = "code", language: str = "en") -> str:
    """``mailflow summary`` on a terminal."""
    lines = _table([[name, value] for name, value in _overview(summary, ui)], [False, False])
    if not summary.bounces:
        return "\n".join([*lines, "", ui["summary_none"], *_notes(summary, ui)]) + "\n"
    lines += ["", *_grouping_table(summary, by, ui, language, TOP_ROWS)]
    for other in ("code", "domain", "reason"):
        if other != by:
            lines += ["", *_grouping_table(summary, other, ui, language, TOP_OTHERS)]
    notes = _notes(summary, ui)
    return "\n".join([*lines, *(["", *notes] if notes else [])]) + "\n"


def render_summary_csv(summary: Summary, *, by: str = "code", language: str = "en") -> str:
    """One row per group of ``by``: the name, (title,) count, share, first/last seen, breakdown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    groups = {"code": summary.by_code, "domain": summary.by_domain, "reason": summary.by_reason}[by]
    parts = "domains" if by == "code" else "codes"
    writer.writerow([by, *(["title"] if by == "code" else []), "count", "share", "first_seen", "last_seen", parts])
    for g in groups:
        name = g.name if g.name is not None else (NO_CODE if by == "code" else "")
        breakdown = ";".join(f"{k}={v}" for k, v in sorted(g.parts.items(), key=lambda kv: (-kv[1], kv[0])))
        title = [code_title(g.name, g.key, language) or ""] if by == "code" else []
        writer.writerow(
            [name, *title, g.count, f"{summary.share(g.count):.4f}", when(g.first) or "", when(g.last) or "", breakdown]
        )
    return out.getvalue()


def summary_message(
    summary: Summary, ui: Mapping[str, str], *, language: str, window: str, chart_note: str | None = None
) -> Message:
    """``/mailflow summary`` in Slack: the same table, in code blocks, and the diagnoses run."""
    title = label(ui, "summary_slack_title", window=window)
    blocks = [header(title), fields_section([(escape(n), escape(v)) for n, v in _overview(summary, ui)][:10])]
    if summary.bounces:
        for by, limit in (("code", TOP_ROWS), ("domain", TOP_OTHERS), ("reason", TOP_OTHERS)):
            table = "\n".join(_grouping_table(summary, by, ui, language, limit))
            blocks += [section(f"```{piece}```") for piece in split_text(escape(table), MAX_SECTION - 6)]
    else:
        blocks.append(section(escape(ui["summary_none"])))
    if summary.diagnoses:
        lines = []
        for d in summary.diagnoses[:10]:
            verdict = f"`{escape(d.code)}`" if d.code else escape(_failure_words(d.failure, ui, language))
            lines.append(f"• {escape(d.domain)}: {verdict} ({d.count}×, {escape(_stamp(d.at))})")
        blocks.append(section(f"*{escape(ui['summary_diagnoses'])}*\n" + "\n".join(lines)))
    notes = [escape(n) for n in _notes(summary, ui)] + ([escape(chart_note)] if chart_note else [])
    if notes:
        blocks.append(context(*notes))
    fallback = f"{title}: {summary.bounces} {ui['summary_bounces'].lower()}"
    return Message(fit(blocks, ui=ui), shorten(fallback, MAX_FALLBACK))
