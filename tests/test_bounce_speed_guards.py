"""The parser's cheaper ways of building its results give what the general code gives."""

from __future__ import annotations

import dataclasses

import pytest

from bot.parse import Bounce, Code, Delivery, parse_bounce, reason
from bot.parse.dates import iso, parse_date, report_date
from bot.parse.model import Sender
from bot.parse.reading import _AUTOREPLY, _transcript

_BOUNCE = (
    True,
    None,
    "en",
    Code("5.1.1", "550", "x"),
    (Code("5.1.1", "550", "x"),),
    (Delivery("a@example.org", "5.1.1", "550", "userunknown"),),
    "mx.example.org",
    "192.0.2.1",
    "mail.example.com",
    "dsn",
    False,
    ("a note",),
    Sender("example.com", "192.0.2.9", "b@example.com"),
    "2026-12-06T01:02:03Z",
)


def test_keyword_and_positional_construction_agree() -> None:
    """``_parse`` builds its bounce by position: the order is the fields' order."""
    names = [f.name for f in dataclasses.fields(Bounce)]
    assert Bounce(*_BOUNCE) == Bounce(**dict(zip(names, _BOUNCE, strict=True)))


@pytest.mark.parametrize(
    "data",
    [" \t\r\n", b" \t\r\n\x0b\x0c", "\u2003\u00a0\x1c\x1d\x1e\x1f\x85", "\u3000\n", b"\x00", "x", b" x ", "\u200b"],
)
def test_white_space_test_is_strip(data: str | bytes) -> None:
    """``isspace`` on a non-empty prefix says what an empty ``strip`` says."""
    assert data.isspace() == (not data.strip())
    empty = parse_bounce(data).why_not == "empty input"
    assert empty == (not data.strip())


@pytest.mark.parametrize(
    "value",
    [
        "Thu, 29 Apr 2010 23:34:45 +0900",
        "Fri, 1 Jan 1999 00:30:00 +0100",
        "Thu, 31 Dec 2098 23:59:59 -1130",
        "Mon, 9 Feb 2004 08:07:06 +0000",
        "Thursday, April 09, 2003 9:00 AM",
        "29 Feb 2000 12:00:00 -0000",
    ],
)
def test_report_date_writes_what_iso_writes(value: str) -> None:
    when = parse_date(value)
    assert when is not None
    assert report_date({"date": value}, {}, []) == iso(when)


def _dsn(*actions: str) -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; r{i}@example.org\n" + (f"Action: {action}\n" if action else "") + "Status: 2.0.0\n\n"
        for i, action in enumerate(actions)
    )
    return (
        "From: MAILER-DAEMON@example.org\nTo: s@example.com\nSubject: Delivery Status Notification\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message.\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        f"{blocks}--b--\n"
    ).encode()


@pytest.mark.parametrize(
    "actions",
    [
        ("delivered",),
        ("relayed", "Expanded (to a list)"),
        ("delivered", "failed"),
        ("failed", "delivered"),
        ("delayed",),
        ("", "delivered"),
        ("",),
    ],
)
def test_a_receipt_is_a_dsn_whose_every_action_is_a_success(actions: tuple[str, ...]) -> None:
    """The loop over the Actions decides as the set of their first words did."""
    words = {a.lower().split()[0] for a in actions if a}
    receipt = bool(words) and words <= {"delivered", "relayed", "expanded"}
    bounce = parse_bounce(_dsn(*actions))
    assert (bounce.why_not == "a delivery receipt: every recipient was delivered") == receipt


def test_first_pass_keyed_by_fields_answers_as_the_evidence_does() -> None:
    """``classify`` asks the first pass with the evidence's fields as a plain tuple (the evidence
    is built only where the answer is not cached): the answer is the evidence's own, and the
    blind pass asks for the command exactly where a probe reads it."""
    statuses = ("", "userunknown", "filtered", "rejected", "securityerror", "mailboxfull", "blocked")
    founds = (frozenset(), frozenset({"userunknown"}), frozenset({"rejected", "filtered"}), frozenset({"spamdetected"}))
    for by_status in statuses:
        for found in founds:
            for command in (None, "RCPT", "DATA", "MAIL"):
                for reply_code in (None, "525", "530"):
                    fields = (by_status, found, command, reply_code, bool(by_status), False, not by_status)
                    expected = reason._first_pass_of(reason.Evidence(*fields))
                    assert reason._first_pass(fields) == expected == reason._first_pass(reason.Evidence(*fields))
                    blind = (by_status, found, reason._LATER, reply_code, bool(by_status), False, not by_status)
                    try:
                        direct = reason._first_pass_of(reason.Evidence(*blind))
                    except reason._NeedsCommand:
                        direct = reason._UNKNOWN
                    assert reason._first_pass(blind) == direct
                    # a blind answer is the one every command gives
                    assert direct in (reason._UNKNOWN, expected)


def test_gated_readers_give_nothing_where_their_gate_fails() -> None:
    """A transcript needs its "<<< " replies, an auto-reply its non-empty Auto-Submitted field."""
    assert _transcript("550 5.1.1 no such user\n>>> RCPT TO:<a@example.org>\n") == ""
    assert _AUTOREPLY.search("") is None
