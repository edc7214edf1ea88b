"""Terminal layout: columns aligned by display width, lines broken by the kinsoku rules.

Japanese and Korean characters take two terminal cells, so the facts column is aligned on
display width; no line starts with closing punctuation (、。」）...) or ends with an opening
bracket. Checked over real bounces and over every entry of the knowledge base in ja, ko and en.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import knowledge
from bot.diagnose import DiagnoseRequest, conclude
from bot.explain import explain_bounce, explain_code
from bot.parse import parse_bounce
from bot.probes.result import ProbeResult
from bot.render.diagnosis import progress_line, render_diagnosis_text
from bot.render.terminal import (
    NO_LINE_END,
    NO_LINE_START,
    display_width,
    printable,
    render_code,
    render_text,
    wrap_paragraphs,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "samples"
BOUNCES = [
    ROOT / "docs" / "examples" / "ndr-queue-expired-4.4.316.eml",
    SAMPLES / "exchange-online" / "eo-en-queue-expired-4.4.312.eml",
    SAMPLES / "exchange-online" / "eo-de-queue-expired-4.7.320.eml",
    SAMPLES / "exchange-online" / "eo-en-5.4.316-message-expired.txt",
]
LANGS = ("ja", "ko", "en")
WIDTH = 88


def _bounce_text(path: Path, lang: str) -> str:
    bounce = parse_bounce(path.read_bytes())
    assert bounce.is_ndr, path
    return render_text(bounce, explain_bounce(bounce, lang), knowledge.load(lang).ui)


def _body_lines(text: str) -> list[str]:
    """The lines as a reader sees them, without the indent and the checklist marker."""
    out = []
    for line in text.splitlines():
        body = line.strip()
        for marker in ("[ ] ",):
            body = body.removeprefix(marker)
        head, dot, rest = body.partition(". ")
        if dot and head.isdigit():
            body = rest
        if body:
            out.append(body)
    return out


def _assert_kinsoku(text: str) -> None:
    for line in _body_lines(text):
        assert line[0] not in NO_LINE_START, f"line starts with closing punctuation: {line!r}"
        assert line[-1] not in NO_LINE_END, f"line ends with an opening bracket: {line!r}"


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("abc", 3),
        ("受信者", 6),
        ("리모트 서버", 11),
        ("メール フロー", 13),
        ("Remote IP", 9),
        ("e\u0301", 1),  # a combining accent takes no cell
        ("\x1b", 0),
    ],
)
def test_display_width(text: str, cells: int) -> None:
    assert display_width(text) == cells


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", BOUNCES, ids=lambda p: p.name)
def test_facts_values_start_in_one_display_column(path: Path, lang: str) -> None:
    text = _bounce_text(path, lang)
    ui = knowledge.load(lang).ui
    labels = [ui[k] for k in ("recipient", "remote_server", "remote_ip", "reporting_server", "language")]
    rows = [line for line in text.splitlines() if line.startswith("  ") and line[2:].startswith(tuple(labels))]
    assert len(rows) >= 2, text
    columns = set()
    for row in rows:
        label = next(x for x in labels if row[2:].startswith(x))
        gap = row[2 + len(label) :]
        value = gap.lstrip(" ")
        assert len(gap) - len(value) >= 2, row
        columns.add(display_width(row[: len(row) - len(value)]))
    assert len(columns) == 1, f"{lang}: values start at columns {sorted(columns)}:\n" + "\n".join(rows)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", BOUNCES, ids=lambda p: p.name)
def test_bounce_lines_follow_the_line_breaking_rules(path: Path, lang: str) -> None:
    text = _bounce_text(path, lang)
    _assert_kinsoku(text)
    for line in text.splitlines()[1:]:  # the title line is not wrapped
        assert display_width(line) <= WIDTH or " " not in line.strip(), line


@pytest.mark.parametrize("lang", LANGS)
def test_every_entry_wraps_by_the_rules(lang: str) -> None:
    """Every code of the knowledge base, rendered: the rules hold for all of the text we ship."""
    kb = knowledge.load(lang)
    codes = [c for c in kb.exact if c != knowledge.CONNECTOR_OTHER]
    codes += [f"{klass}.{subject}.{low}" for klass, subject, low, _, _ in kb.ranges]
    codes += [f"5.{key}" for key in kb.registry]
    codes += list(kb.replies)
    checked = 0
    for code in codes:
        explanation = explain_code(code, lang)
        assert explanation is not None, code
        text = render_code(explanation, kb.ui)
        _assert_kinsoku(text)
        for line in text.splitlines()[1:]:  # the title line is not wrapped
            assert display_width(line) <= WIDTH or " " not in line.strip(), line
        checked += 1
    assert checked > 150


@pytest.mark.parametrize(
    ("text", "mark"),
    [
        # 43 wide characters fill a line (2 cells of indent + 86): the mark would open the next one.
        ("あ" * 43 + "。次の文です。", "。"),
        ("あ" * 43 + "、次です。", "、"),
        ("あ" * 38 + "「コネクタ」を開きます。", "」"),
        ("あ" * 43 + "）を確認します。", "）"),
        ("あ" * 43 + "ー", "ー"),
        ("Vérifiez " + "x" * 76 + " ; puis relancez.", ";"),
        ("Vérifiez " + "x" * 76 + " » puis relancez.", "»"),
    ],
)
def test_closing_punctuation_never_starts_a_line(text: str, mark: str) -> None:
    naive = text.replace(mark, "x" if display_width(mark) == 1 else "あ", 1)
    assert len(wrap_paragraphs(naive)) >= 2  # the mark sits exactly at a break
    wrapped = wrap_paragraphs(text)
    assert len(wrapped) >= 2, wrapped
    assert "".join(line.strip() for line in wrapped).replace(" ", "") == text.replace(" ", "")
    for line in wrapped:
        assert not line.strip().startswith(mark), wrapped
        assert display_width(line) <= WIDTH, wrapped


@pytest.mark.parametrize(
    "text",
    [
        "あ" * 42 + "（メール フロー > コネクタ）を開きます。",
        "あ" * 42 + "「今すぐ修正」をクリックします。",
        "Ouvrez " + "x" * 77 + " « Flux de messagerie ».",
    ],
)
def test_opening_bracket_never_ends_a_line(text: str) -> None:
    wrapped = wrap_paragraphs(text)
    assert len(wrapped) >= 2, wrapped
    for line in wrapped:
        assert line.rstrip()[-1] not in NO_LINE_END, wrapped
        assert display_width(line) <= WIDTH, wrapped


@pytest.mark.parametrize("lang", LANGS)
def test_cjk_lines_use_the_width(lang: str) -> None:
    """Lines are filled by display width: a Japanese line holds about half the characters."""
    explanation = explain_code("4.4.316", lang)
    assert explanation is not None
    lines = wrap_paragraphs(explanation.summary)
    assert len(lines) >= 2
    assert all(display_width(line) <= WIDTH for line in lines)
    assert max(display_width(line) for line in lines) >= WIDTH - 12  # filled, not cut short


# A bounce is written by whoever sent it: its control characters must not reach the terminal.
_HOSTILE = (
    "Subject: Undelivered Mail Returned to Sender\n\n"
    "<ann@contoso.com>: host mx.contoso.com[203.0.113.9] said: 550 5.1.1 <ann@contoso.com>:"
    " user unknown \x1b]0;pwned\x07 \x1b[2J\x9b31m\x08\x08\tend\n"
)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_control_characters_in_a_bounce_are_shown_not_obeyed(lang: str) -> None:
    bounce = parse_bounce(_HOSTILE.encode("utf-8"))
    assert bounce.is_ndr
    text = render_text(bounce, explain_bounce(bounce, lang), knowledge.load(lang).ui, file="a\x1b[2Jb.eml")
    assert not [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert "\ufffd]0;pwned\ufffd" in text and "user unknown" in text
    colored = render_text(bounce, explain_bounce(bounce, lang), knowledge.load(lang).ui, color=True)
    assert {c for c in colored if ord(c) < 0x20} == {"\n", "\x1b"} and "pwned\x07" not in colored
    assert printable("a\tb\nc\x00\x7f\x85") == "a b\nc\ufffd\ufffd\ufffd"


def test_a_servers_control_characters_in_a_diagnosis_are_shown_not_obeyed() -> None:
    banner = "554 go away \x1b]0;pwned\x07\x1b[2J"
    results = [
        ProbeResult("tcp", "127.0.0.1:25", True, "accepted the connection", facts={"address": "127.0.0.1"}),
        ProbeResult("banner", "127.0.0.1:25", False, f"greeted with {banner}", code="4.4.317"),
    ]
    diagnosis = conclude(DiagnoseRequest("contoso.com"), results, elapsed_ms=1.0, language="en")
    text = render_diagnosis_text(diagnosis, knowledge.load("en").ui)
    assert "go away" in text and "\ufffd]0;pwned\ufffd" in text
    assert not [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert "\x1b" not in "".join(progress_line(r) for r in results)


@pytest.mark.parametrize("language", knowledge.LANGUAGES)
def test_the_sender_hint_is_wrapped_and_its_command_kept_whole_on_one_line(language: str) -> None:
    bounce = parse_bounce((SAMPLES / "sender" / "postfix-5.7.1-spamhaus-client-host.eml").read_bytes())
    text = render_text(bounce, explain_bounce(bounce, language), knowledge.load(language).ui)
    lines = text.splitlines()
    assert max(display_width(line) for line in lines) <= WIDTH
    command = "mailflow sender contoso.com --ip 203.0.113.5"
    assert any(line.strip() == command or line.endswith(" " + command) for line in lines)
