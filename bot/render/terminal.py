"""Terminal text: the root cause first, then what it means, the causes and the checklist.

Colour (ANSI) only when asked for; the CLI asks when stdout is a terminal and NO_COLOR is unset.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Mapping

from bot.explain import Explanation
from bot.fill import has_placeholders
from bot.parse import Bounce

_WIDTH = 88


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def title(self, text: str) -> str:
        return self._wrap("1;31", text)

    def heading(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


# Japanese breaks between any two characters; everything else (Korean included) between words.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]|[^\s\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]+|\s+")


def _cells(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _wrap(text: str, first: str, rest: str) -> list[str]:
    """textwrap for Latin text; for CJK, greedy filling by display width."""
    if not any(_cells(c) == 2 for c in text):
        return textwrap.wrap(text, _WIDTH, initial_indent=first, subsequent_indent=rest) or [first.rstrip()]
    lines: list[str] = []
    line, used = first, len(first)
    for token in _TOKEN.findall(text):
        width = sum(_cells(c) for c in token)
        if used + width > _WIDTH and line.strip():
            lines.append(line.rstrip())
            line, used = rest, len(rest)
            if token.isspace():
                continue
        line += token
        used += width
    lines.append(line.rstrip())
    return lines


def _para(text: str, indent: str = "  ") -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap(paragraph, indent, indent) if paragraph.strip() else [""])
    return lines


def _numbered(items: list[str], marker: str) -> list[str]:
    lines: list[str] = []
    for n, item in enumerate(items, 1):
        head = f"  {marker}{n}. "
        lines.extend(_wrap(item, head, " " * len(head)))
    return lines


def _explanation(explanation: Explanation, ui: Mapping[str, str], style: _Style) -> list[str]:
    lines = ["", style.heading(ui["what_happened"]), *_para(explanation.summary)]
    if not explanation.specific:
        lines.extend(_para(style.dim(ui["unknown_code"])))
    if explanation.causes:
        lines += ["", style.heading(ui["causes"]), *_numbered([c.text for c in explanation.causes], "")]
    if explanation.checklist:
        lines += ["", style.heading(ui["checklist"]), *_numbered([s.text for s in explanation.checklist], "[ ] ")]
        if has_placeholders(explanation.checklist):
            lines += ["", *_para(style.dim(ui["placeholder_note"]))]
    return lines


def render_code(explanation: Explanation, ui: Mapping[str, str], *, color: bool = False) -> str:
    style = _Style(color)
    lines = [style.title(f"{explanation.code}  {explanation.title}"), *_explanation(explanation, ui, style)]
    return "\n".join(lines) + "\n"


def render_text(
    bounce: Bounce,
    explanation: Explanation | None,
    ui: Mapping[str, str],
    *,
    color: bool = False,
    file: str | None = None,
) -> str:
    style = _Style(color)
    lines: list[str] = [style.dim(f"== {file}")] if file else []
    if not bounce.is_ndr:
        lines.append(f"{ui['not_a_bounce']}: {bounce.why_not}")
        return "\n".join(lines) + "\n"
    primary = bounce.primary
    if primary is not None:
        code = " ".join(filter(None, (primary.reply_code, primary.status)))
        title = explanation.title if explanation else ""
        lines.append(style.title(f"{code}  {title}".rstrip()))
        if primary.text:
            lines.extend(_para(style.dim(primary.text[:300])))
    facts = [
        (ui["recipient"], ", ".join(bounce.recipients[:10]) + (" ..." if len(bounce.recipients) > 10 else "")),
        (ui["remote_server"], bounce.remote_host),
        (ui["remote_ip"], bounce.remote_ip),
        (ui["reporting_server"], bounce.reporting_server),
        (ui["language"], bounce.language),
    ]
    shown = [(k, v) for k, v in facts if v]
    if shown:
        lines += ["", style.heading(ui["facts"])]
        width = max(len(k) for k, _ in shown)
        lines += [f"  {k.ljust(width)}  {v}" for k, v in shown]
    others = [
        c for c in bounce.codes if c is not primary and c.status and c.status != (primary.status if primary else None)
    ]
    if others:
        lines.append(f"  {ui['codes']}: " + ", ".join(dict.fromkeys(c.status or "" for c in others)))
    if explanation is not None:
        lines += _explanation(explanation, ui, style)
    if bounce.truncated:
        lines += ["", style.dim(ui["truncated"])]
    return "\n".join(lines) + "\n"
