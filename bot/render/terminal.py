"""Terminal text: the root cause first, then what it means, the causes and the checklist.

Colour (ANSI) only when asked for; the CLI asks when stdout is a terminal and NO_COLOR is unset.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import wcwidth

from bot.explain import Explanation
from bot.fill import has_placeholders
from bot.parse import Bounce
from bot.parse.providers import provider_note
from bot.sender.offer import code_command, has_placeholder, sender_command
from bot.texts import labelled

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


# Line breaking. Japanese and Chinese break between any two characters; everything else (Korean
# included) between words. Display width, not character count, decides where a line ends: a
# CJK character takes two terminal cells (wcwidth). Japanese and Korean typesetting (kinsoku
# shori, JIS X 4051) never start a line with closing punctuation nor end one with an opening
# bracket, so such characters are glued to their neighbour before lines are filled.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_TOKEN = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+|\\s+")
# Never at the start of a line: closing brackets and quotes, stops and commas, iteration marks,
# small kana, the prolonged sound mark, and the Western marks French sets after a space.
NO_LINE_START = frozenset(
    ")]}\u00bb\u203a,.;:!?%"
    "\u3001\u3002\u3009\u300b\u300d\u300f\u3011\u3015\u3017\u3019\u301b\u301e\u301f"
    "\uff09\uff3d\uff5d\uff0c\uff0e\uff1a\uff1b\uff1f\uff01\uff60\uff63"
    "\u2019\u201d\u2026\u2025\u30fb\u30fc\u309d\u309e\u30fd\u30fe\u3005"
    "\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u3095\u3096"
    "\u30a1\u30a3\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30f5\u30f6"
)
# Never at the end of a line: opening brackets and quotes.
NO_LINE_END = frozenset(
    "([{\u00ab\u2039\u2018\u201c"
    "\u3008\u300a\u300c\u300e\u3010\u3014\u3016\u3018\u301a\u301d"
    "\uff08\uff3b\uff5b\uff5f\uff62"
)


# What a bounce says goes to an admin's terminal: its control characters (ESC starts a sequence
# that can retitle the window, move the cursor, or worse) are shown, never obeyed. C0 and C1
# controls and DEL become the replacement character; a tab becomes a space; line breaks stay.
_SHOWN = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"} | {ord("\t"): " "}


def printable(text: str) -> str:
    """``text`` with its terminal control characters made harmless (see ``_SHOWN``)."""
    return text.translate(_SHOWN)


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: 2 for wide East Asian characters, 0 for combining marks."""
    width = wcwidth.wcswidth(text)
    if width >= 0:
        return int(width)
    return sum(max(int(wcwidth.wcwidth(c)), 0) for c in text)  # control characters count as 0


def cut_to_width(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` cells, else as much of it as fits with "…" after it."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        cells = display_width(char)
        if used + cells > width - 1:
            break
        out.append(char)
        used += cells
    return "".join(out) + "…"


def _units(text: str) -> list[str]:
    """Tokens that may be separated by a line break, with the kinsoku rules applied."""
    units: list[str] = []
    for token in _TOKEN.findall(text):
        if units and not token.isspace():
            if token[0] in NO_LINE_START:
                if units[-1].isspace() and len(units) > 1:
                    space = units.pop()  # "mot ;" or "단어 )": keep the mark with its word
                    units[-1] += space + token
                    continue
                if not units[-1].isspace():
                    units[-1] += token
                    continue
            elif units[-1][-1] in NO_LINE_END:
                units[-1] += token
                continue
            elif units[-1].isspace() and len(units) > 1 and units[-2][-1] in NO_LINE_END:
                space = units.pop()  # "« mot": the French opening guillemet keeps its space
                units[-1] += space + token
                continue
        units.append(token)
    return units


def _wrap(text: str, first: str, rest: str) -> list[str]:
    """Fill lines up to ``_WIDTH`` cells; a unit wider than a line gets a line of its own."""
    lines: list[str] = []
    line, used = first, display_width(first)
    for unit in _units(text):
        width = display_width(unit)
        if used + width > _WIDTH and line.strip():
            lines.append(line.rstrip())
            line, used = rest, display_width(rest)
            if unit.isspace():
                continue
        if unit.isspace() and not line.strip():
            continue  # no blank run at the start of a line
        line += unit
        used += width
    lines.append(line.rstrip())
    return lines


def wrap_paragraphs(text: str, indent: str = "  ", paint: Callable[[str], str] | None = None) -> list[str]:
    """Each paragraph of ``text`` wrapped to the terminal width; ``paint`` styles each line's text."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap(paragraph, indent, indent) if paragraph.strip() else [""])
    if paint is None:
        return lines
    return [line[: len(line) - len(line.lstrip())] + paint(line.lstrip()) if line else line for line in lines]


def _facts(shown: list[tuple[str, str]]) -> list[str]:
    """Label and value columns, aligned by display width (a Japanese label is twice as wide)."""
    width = max(display_width(k) for k, _ in shown)
    return [f"  {k}{' ' * (width - display_width(k))}  {v}" for k, v in shown]


def _numbered(items: list[str], marker: str) -> list[str]:
    lines: list[str] = []
    for n, item in enumerate(items, 1):
        head = f"  {marker}{n}. "
        lines.extend(_wrap(item, head, " " * len(head)))
    return lines


def _explanation(explanation: Explanation, ui: Mapping[str, str], style: _Style) -> list[str]:
    lines = ["", style.heading(ui["what_happened"]), *wrap_paragraphs(explanation.summary)]
    if not explanation.specific:
        lines.extend(wrap_paragraphs(ui["unknown_code"], paint=style.dim))
    if explanation.causes:
        lines += ["", style.heading(ui["causes"]), *_numbered([c.text for c in explanation.causes], "")]
    if explanation.checklist:
        lines += ["", style.heading(ui["checklist"]), *_numbered([s.text for s in explanation.checklist], "[ ] ")]
        if has_placeholders(explanation.checklist):
            lines += ["", *wrap_paragraphs(ui["placeholder_note"], paint=style.dim)]
    return lines


SHOWN_RECIPIENTS = 10


def _recipients(recipients: tuple[str, ...], ui: Mapping[str, str]) -> str:
    """The first ``SHOWN_RECIPIENTS``, then how many more there are (the JSON formats list them all)."""
    shown = ", ".join(recipients[:SHOWN_RECIPIENTS])
    if len(recipients) <= SHOWN_RECIPIENTS:
        return shown
    more = ui["recipients_more"].format(n=len(recipients) - SHOWN_RECIPIENTS, count=len(recipients))
    return f"{shown} {more}"


def render_code(explanation: Explanation, ui: Mapping[str, str], *, color: bool = False) -> str:
    style = _Style(color)
    lines = [style.title(f"{explanation.code}  {explanation.title}"), *_explanation(explanation, ui, style)]
    lines += _sender_hint(code_command(explanation.code), explanation, ui, style)
    return "\n".join(lines) + "\n"


def _sender_hint(
    command: str | None, explanation: Explanation | None, ui: Mapping[str, str], style: _Style
) -> list[str]:
    """The hint to check the sender, with the placeholder note when only the hint has examples."""
    if not command:
        return []
    lines = ["", *wrap_paragraphs(ui["sender_hint"]), f"  {command}"]  # the command on its own line
    if has_placeholder(command) and not (explanation is not None and has_placeholders(explanation.checklist)):
        lines += wrap_paragraphs(ui["placeholder_note"], paint=style.dim)
    return lines


def render_text(
    bounce: Bounce,
    explanation: Explanation | None,
    ui: Mapping[str, str],
    *,
    color: bool = False,
    file: str | None = None,
) -> str:
    style = _Style(color)
    lines: list[str] = [style.dim(f"== {printable(file)}")] if file else []
    if not bounce.is_ndr:
        lines.append(labelled(ui, ui["not_a_bounce"], printable(bounce.why_not or "")))
        return "\n".join(lines) + "\n"
    primary = bounce.primary
    if primary is not None:
        code = " ".join(filter(None, (primary.reply_code, primary.status)))
        title = explanation.title if explanation else ""
        lines.append(style.title(f"{code}  {title}".rstrip()))
        if primary.text:
            lines.extend(wrap_paragraphs(printable(primary.text[:300]), paint=style.dim))
    facts = [
        (ui["recipient"], _recipients(bounce.recipients, ui)),
        (ui["remote_server"], bounce.remote_host),
        (ui["remote_ip"], bounce.remote_ip),
        (ui["reporting_server"], bounce.reporting_server),
        (ui["sending_domain"], bounce.sender.domain),
        (ui["sending_ip"], bounce.sender.ip),
        (ui["language"], bounce.language),
        (ui["provider_code"], provider_note((d.diagnostic for d in bounce.deliveries), ui)),
    ]
    shown = [(k, printable(v)) for k, v in facts if v]
    if shown:
        lines += ["", style.heading(ui["facts"])]
        lines += _facts(shown)
    others = [
        c for c in bounce.codes if c is not primary and c.status and c.status != (primary.status if primary else None)
    ]
    if others:
        lines.append(
            "  " + labelled(ui, ui["codes"], printable(", ".join(dict.fromkeys(c.status or "" for c in others))))
        )
    if explanation is not None:
        lines += _explanation(explanation, ui, style)
    lines += _sender_hint(sender_command(bounce), explanation, ui, style)
    if bounce.truncated:
        lines += ["", style.dim(ui["truncated"])]
    return "\n".join(lines) + "\n"
