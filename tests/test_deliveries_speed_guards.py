"""Shortcuts of the per-recipient path (bot/parse/__init__.py, reason.py, phrases.py) that must
give the answers of the long way round: the phrase taken where the regex told openings apart,
the shared-opening gate of the separator-led phrases, the quote test of ``_json_bounced``,
``classify`` given its arguments by position, the text's lower-cased form or a function that finds
its phrases, the set that picks the MTA-named reasons, the reply opening led by its dash, the
transcript read from its last command, the lower-cased diagnostic joined to the report's opening,
whether a recipient's lines say anything, found only when asked, and the evidence tuples built
from their fields in order."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import pytest

from bot.parse import phrases as P
from bot.parse import reason as R
from bot.parse.reading import (
    _HEAD_SPAN,
    _REPLY_OPENING,
    _json_bounced,
    _last_reply,
    _Report,
    _transcript,
    _with_opening,
)
from bot.parse.reason import classify
from bot.parse.source import read


def test_each_phrase_implies_what_its_table_entry_says_wherever_a_word_starts() -> None:
    # The longest phrase at a position is the one taken: in "x " + word + " y" that is ``word``
    # itself or a longer phrase that starts with it, whose entry holds the word's reasons.
    for word, (reasons, _) in P._TABLE.items():
        for text in (word, f"x {word} y", f"({word})\n"):
            assert reasons <= P.reasons_in(text), (word, text)


def test_a_short_phrase_under_a_longer_opening_is_still_taken() -> None:
    # "mailbox full" is a prefix of the 12-character opening "mailbox full"; a longer phrase with
    # that opening that is not there must not hide it.
    assert "mailboxfull" in P.reasons_in("550 mailbox full")
    assert "mailboxfull" in P.reasons_in("550 mailbox fullness")


def test_the_phrases_behind_a_shared_opening_are_each_found() -> None:
    for shared, plain in P._PLAIN_LED:
        for word, reasons in plain:
            assert word.startswith(shared)
            assert reasons <= P.reasons_in(f"see http:{word} now"), word
    assert P.reasons_in("see http://example.org/ now") == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 user unknown", []),
        ('{"bounce": {"bouncedRecipients": [{"emailAddress": "a@example.org"}]}}', ["a@example.org"]),
        ('{"event": "bounce", "recipient": "B@Example.org"}', ["b@example.org"]),
        ('a quoted "word" and no address', []),
    ],
)
def test_json_bounced(text: str, expected: list[str]) -> None:
    assert _json_bounced(text) == expected


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("5.1.1", "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown"),
        ("5.0.0", "550 rejected by policy: sender address"),
        (None, "Connection timed out"),
        ("4.4.7", "Delivery expired, DNS query failed"),
    ],
)
def test_classify_by_position_with_the_lowered_text_answers_as_by_keyword(status: str | None, text: str) -> None:
    by_keyword = classify(status, text, reply_code="550", command="RCPT", recipient="a@example.org")
    found = P.reasons_in(text.lower())
    by_position = classify(
        status, text, False, "550", "RCPT", "SMTP", "a@example.org", found, False, True, "", text.lower()
    )
    assert by_position == by_keyword


def test_explicit_reasons_are_found_by_their_set_as_by_their_prefix() -> None:
    # ``_explicit`` picks the "!"-prefixed names out of ``found`` by a set of them: every such
    # name ``reasons_in`` can give must be in that set.
    named = {r for reasons, _ in P._TABLE.values() for r in reasons if r.startswith("!")}
    assert named
    assert named <= R._EXPLICIT_FOUND
    for reasons, _ in P._TABLE.values():
        for found in (reasons, reasons | {"mailboxfull"}, reasons | {"!expired"}):
            plain = [r[1:] for r in found if r[0] == "!"]
            expected = min(plain, key=lambda r: (r == "expired", r)) if plain else ""
            assert R._explicit(found) == expected


# The opening of a multi-line reply as a pattern led by the code (the plain form).
_OPENING_BY_CODE = re.compile(r"([245]\d\d)-([245]\.\d{1,3}\.\d{1,3} )?")


def test_the_reply_opening_led_by_its_dash_is_the_one_led_by_its_code() -> None:
    rng = random.Random(5321)
    alphabet = ["5", "4", "2", "0", "1", "9", "-", ".", " ", "x", "\u0663", "\n"]
    texts = ["550-5.2.1 at a rate that 550-5.2.1 prevents", "-550-", "a-b 451-4.7.1 x", "5-550 5.1.1 ok"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 24))) for _ in range(20000)]
    for text in texts:
        plain = _OPENING_BY_CODE.search(text)
        led = _REPLY_OPENING.search(text)
        assert (plain and (plain.groups(), plain.end())) == (led and (led.groups(), led.end())), text


def _transcript_read_whole(text: str) -> str:
    """``_transcript`` reading every line (the plain form)."""
    return _last_reply(text.split("\n")) if "<<< " in text else ""


def test_the_transcript_read_from_the_last_command_is_the_one_read_whole() -> None:
    rng = random.Random(3464)
    kinds = [">>> RCPT TO:<a@example.org>", "<<< 550-5.1.1 no", "<<< 550 5.1.1 such user", ">>>", "<<<", "", "x"]
    texts = [">>> DATA\n<<< 554 no", "<<< 550 a\n>>> QUIT", "\n>>> \n<<< 5"]
    texts += ["\n".join(rng.choice(kinds) for _ in range(rng.randrange(1, 30))) for _ in range(5000)]
    for text in texts:
        assert _transcript(text) == _transcript_read_whole(text), text


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("5.1.1", "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown"),
        ("5.7.1", "550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"),
        ("5.0.0", "550 rejected by policy: sender address"),
        ("4.4.7", "Delivery expired, DNS query failed"),
        ("5.7.1", "550 5.7.1 AUP#CDRBL blocked"),
    ],
)
def test_classify_finds_the_phrases_when_asked_as_when_given_them(status: str, text: str) -> None:
    lowered = text.lower()
    found = P.reasons_in(lowered)
    args = (status, text, False, "550", "RCPT", "SMTP", "a@example.org")
    given = classify(*args, found, False, True, "", lowered)
    assert classify(*args, lambda: found, False, True, "", lowered) == given


def test_the_diagnostic_with_the_opening_is_lowered_as_the_whole() -> None:
    # Characters whose lower-case form depends on their neighbours (a final sigma), that lower to
    # two characters (a dotted capital I), ASCII and not, around the line break and the opening's end.
    rng = random.Random(2047)
    alphabet = ["A", "b", "Z", " ", "\n", ".", "\u03a3", "\u03c3", "\u0130", "\u00c9", "\u0660", "'", "Ab\u03a3"]
    diagnostics = ["550 User Unknown", "\u03a3", "A\u03a3", "\u0130", "x"]
    diagnostics += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) for _ in range(300)]
    texts = ["Mail Delivery System\n\nUndeliverable", "\u03a3 opening", "A" * (_HEAD_SPAN - 1) + "\u03a3B"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(300)]
    texts += ["A" * (_HEAD_SPAN - 1) + "".join(rng.choice(alphabet) for _ in range(4)) for _ in range(200)]
    texts += ["x" * rng.randrange(_HEAD_SPAN - 3, _HEAD_SPAN + 3) + "\u0130" + rng.choice(alphabet) for _ in range(50)]
    for text in texts:
        report = _Report(read(text))
        for diagnostic in rng.sample(diagnostics, 8):
            context, lowered = _with_opening(diagnostic, diagnostic.lower(), report)
            assert context == diagnostic + "\n" + report.text[:_HEAD_SPAN]
            assert lowered == context.lower(), (diagnostic, text)


@pytest.mark.parametrize("said", [True, False])
def test_classify_asks_whether_the_lines_say_anything_as_when_told(said: bool) -> None:
    # Every status name, none and the vague ones, with texts that name reasons, name none or are
    # blank: the last rule (onhold or undefined) is reached by some of them.
    statuses = [None, "5.0.0", "4.0.0", "5.9.9", "4.4.7", "5.3.0", *sorted(R.STATUS_NAME)[::7]]
    texts = ["", " ", "550 user unknown", "something odd happened", "421 try again later", "said: 554"]
    for status in statuses:
        for text in texts:
            for queued in (False, True):
                args = (status, text, queued, "550" if text else None, "RCPT", "SMTP", "a@example.org")
                told = classify(*args, None, queued, said)
                assert classify(*args, None, queued, lambda: said) == told, (status, text)


def test_the_rules_read_the_command_only_through_command() -> None:
    """Evidence built before its command was looked for holds ``_LATER``: a rule that read the
    field itself would take that for a command. Only ``_command`` reads it."""
    source = Path(__file__).resolve().parent.parent / "bot" / "parse" / "reason.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))

    def reads(node: ast.AST) -> list[int]:
        return sorted(n.lineno for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr == "command")

    [reader] = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "_command"]
    assert reads(reader)
    assert reads(tree) == reads(reader)


def test_evidence_built_from_its_fields_in_order_is_the_one_the_class_builds() -> None:
    values = [
        ("userunknown", frozenset({"userunknown"}), None, "550", True, False, False),
        ("", frozenset(), "RCPT", None, False, True, True),
        ("securityerror", frozenset({"!expired", "blocked"}), "DATA", "554", True, False, True),
    ]
    for fields in values:
        built = tuple.__new__(R.Evidence, fields)
        assert type(built) is R.Evidence
        assert built == R.Evidence(*fields)
        assert built.by_status == fields[0] and built.policy == fields[-1]
        assert R._command(built) == fields[2]
    blind = (*values[0][:2], R._LATER, *values[0][3:])
    with pytest.raises(R._NeedsCommand):
        R._command(tuple.__new__(R.Evidence, blind))
    known = R._known(tuple.__new__(R.Evidence, blind), lambda: "MAIL")
    assert type(known) is R.Evidence
    assert known == R.Evidence(*values[0][:2], "MAIL", *values[0][3:])
    assert R._command(known) == "MAIL"
