"""The literals that gate a pattern (looked for with ``in`` or ``find`` before the pattern runs)
are in every match of it, where the code expects them: a gate that a match could lack would
drop a finding."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.parse.extract import (
    _FOLDED,
    _HOST_SHAPES,
    _MAIL_SYSTEM_AT,
    _MAIL_SYSTEM_NEEDLES,
    _MAIL_SYSTEM_REACH,
    _REPORTING,
    _REPORTING_NEEDLES,
    _REPORTING_REACH,
    _shared,
)
from bot.parse.reading import (
    _CHALLENGE,
    _CHALLENGE_WORDS,
    _DELIVERED,
    _DELIVERED_OPENING,
    _QUOTA_NOTICE,
    _SUGGESTIONS,
    _quota_words,
    _without_suggestions,
)
from bot.parse.source import read
from tests.conftest import SHARED

SAMPLES = Path(__file__).parent / "samples"
CORPUS = SHARED / "corpus" / "sisimai" / "maildir" / "bsd"

# Text that each host shape matches, so that every shape is checked even without a corpus.
HOST_LINES = (
    "[LastAttemptedServerName=mx.example.net] [LastAttemptedIP=192.0.2.1:25]",
    "{FQDN=mx.example.net};{IP=192.0.2.1}",
    "Remote Server at mx.example.net (192.0.2.1) returned '550 5.1.1'",
    "host mx.example.net[192.0.2.1] said: 550 5.1.1",
    "connect to mx.example.net[192.0.2.1]:25: Connection refused",
    "host\n    mx.example.net[192.0.2.1] said:",
    "Last attempted host: mx.example.net [192.0.2.1]",
    "mx.example.net\nRemote server returned '550 5.1.1 user unknown'",
    "[mail.example.net. 192.0.2.1: timed out]",
    "Remote host: mx.example.net [192.0.2.1]",
    "while talking to mx.example.net.:",
    "Connection refused by mx.example.net",
    "Connected to 192.0.2.1 but sender was rejected.",
    "192.0.2.1 does not like recipient.",
    "192.0.2.1 failed after I sent the message.",
    "The last endpoint attempted was 192.0.2.1:25",
    '"remoteMtaIp": "dns; mx.example.net"',
    "mx=mx.example.net",
    "host=smtp.example.com:587",
)


def _texts() -> list[str]:
    paths = [p for p in SAMPLES.rglob("*") if p.is_file()]
    if CORPUS.is_dir():
        paths += sorted(CORPUS.iterdir())
    return [*HOST_LINES, *(read(p.read_bytes()).text for p in paths)]


TEXTS = _texts()


@pytest.mark.parametrize("shape", range(len(_HOST_SHAPES)))
def test_a_host_shape_holds_its_needle_within_its_reach(shape: int) -> None:
    needle, pattern, reach = _HOST_SHAPES[shape]
    needles = (needle,) if isinstance(needle, str) else needle
    assert all(_shared(needles) in n for n in needles)  # what the needles share, gated on ("" when none)
    if reach is None:
        return
    for text in TEXTS:
        for m in pattern.finditer("\n" + text):
            # the folded needle stands for its letters in any case, and needs an "=" besides
            seen = m.group(0).lower() if needle is _FOLDED else m.group(0)
            assert any(seen.find(n, 0, reach + len(n)) != -1 for n in needles), m.group(0)
            assert needle is not _FOLDED or "=" in m.group(0)


@pytest.mark.parametrize(
    ("pattern", "needles", "reach"),
    [(_REPORTING, _REPORTING_NEEDLES, _REPORTING_REACH), (_MAIL_SYSTEM_AT, _MAIL_SYSTEM_NEEDLES, _MAIL_SYSTEM_REACH)],
    ids=["generating-server", "mail-system-at"],
)
def test_a_reporting_label_holds_a_needle_within_reach(
    pattern: re.Pattern[str], needles: tuple[str, ...], reach: int
) -> None:
    labels = [
        *("generating server: a.example", "servidor de generación: a.example", "serveur de génération: a.example"),
        *("servidor gerador: a.example", "genererende server: a.example", "server voor genereren: a.example"),
        *("generierender server: a.example", "erstellender server: a.example", "生成サーバー: a.example"),
        *("생성 서버: a.example", "server di generazione: a.example", "this is the mail system at host a.example"),
        *("this is the qmail-send program at a.example", '"reportingmta": "dsn; a.example'),
    ]
    for text in [*labels, *(t.lower() for t in TEXTS)]:
        for m in pattern.finditer(text):
            assert any(m.group(0).find(n, 0, reach + len(n)) != -1 for n in needles), m.group(0)


def test_every_challenge_notice_holds_a_gate_word() -> None:
    phrases = (
        *("challenge-response", "confirm that you are a human", "prove you are not a", "verify your address"),
        *("sender verification", "approved senders list", "whitelisted", "awaiting your verification"),
        *("allowlist", "allow list", "safe sender list"),
    )
    for text in [*phrases, *(t.lower() for t in TEXTS)]:
        for m in _CHALLENGE.finditer(text):
            assert any(word in m.group(0) for word in _CHALLENGE_WORDS), m.group(0)


def test_each_quota_notice_is_looked_for_where_its_words_occur() -> None:
    made = [f"x {n} y" for n in _QUOTA_NOTICE] + [f"x {n[:-1]}" for n in _QUOTA_NOTICE]
    for text in [*TEXTS, *made]:
        opening = text.lower()[:600]
        assert _quota_words(opening) == any(n in opening for n in _QUOTA_NOTICE), text[:80]
    assert all(_quota_words(notice) for notice in _QUOTA_NOTICE)


def test_the_delivered_pattern_finds_what_the_phrases_find() -> None:
    made = [f"x {p} y" for p in _DELIVERED] + [f"x {p[:-1]}" for p in _DELIVERED]
    for text in [*TEXTS, *made]:
        lowered = text.lower()[:3000]
        assert (_DELIVERED_OPENING.search(lowered) is not None) == any(p in lowered for p in _DELIVERED), text[:80]


def test_each_suggestion_is_looked_for_where_its_words_occur() -> None:
    made = [f"550 unknown\n{n}: a@b.example\n" for n in _SUGGESTIONS] + [f"x\n{n[:-1]}\n" for n in _SUGGESTIONS]
    made += ["x\nsimilar names\ny\ndid you mean\n", "x\npossible matches\nnames that may match\n"]
    for text in [*TEXTS, *made]:
        lowered = text.lower()
        first = min((lowered.find(n) for n in _SUGGESTIONS if n in lowered), default=-1)
        plain = text[: text.rfind("\n", 0, first) + 1] if first != -1 else text
        assert _without_suggestions(text, lowered) == plain, text[:80]
