"""The shortcuts taken when reading a message (``bot/parse/source.py``, ``bot/parse/mime.py``)
give what the general code gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.parse import mime, parse_bounce, source

_ROOT = Path(__file__).resolve().parent.parent
_INPUTS = sorted(
    path
    for folder in (_ROOT / "tests" / "samples", _ROOT / "docs" / "examples")
    for path in folder.rglob("*")
    if path.is_file() and path.suffix != ".toml"
)


@pytest.mark.parametrize(
    "block",
    [
        "From: a@example.org\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <1@example.org>",
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <1@example.org>",  # none of the read ones
        "Content-Type: text/plain\nContent-Transfer-Encoding: 7bit",
        "Envelope-To: b@example.net",
        "MIME-Version: 1.0\nX-Mailer: x",  # no field of a returned original at all
        "received: from a\n by b\nDATE: x\nsubject:\n hi",
        "",
    ],
)
def test_the_original_fields_read_are_empty_exactly_when_all_of_them_are(block: str) -> None:
    fields = mime.original_headers(block)
    every = mime.parse_header_text(block, mime.ORIGINAL_FIELDS)
    assert bool(fields) == bool(every)
    read = [(name, value) for name, value in every if name in mime.ORIGINAL_READ_FIELDS]
    assert fields == (read or every)


def test_an_original_of_unread_fields_is_still_an_original() -> None:
    data = (
        b"From: MAILER-DAEMON@example.org\nTo: a@example.org\nSubject: Undelivered\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\n550 5.1.1 no such user\n\n"
        b"--- Original message follows ---\nFrom: c@example.org\n\n"
        b"--b\nContent-Type: text/rfc822-headers\n\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"Message-ID: <1@example.org>\n--b--\n"
    )
    read = source.read(data)
    assert read.original == {"date": "Mon, 1 Jan 2024 00:00:00 +0000", "message-id": "<1@example.org>"}
    assert "Original message follows" in read.text  # not cut: the report has its original


def test_the_original_fields_left_unread_are_read_by_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The returned original's fields outside ORIGINAL_READ_FIELDS (Date, Message-ID, Content-*,
    Envelope-To) change no answer: every sample and example parses to the same bounce when the
    original's block is read with all of ORIGINAL_FIELDS."""
    assert len(_INPUTS) > 50
    datas = [path.read_bytes() for path in _INPUTS]
    narrow = [parse_bounce(data) for data in datas]
    monkeypatch.setattr(mime, "ORIGINAL_READ_FIELDS", mime.ORIGINAL_FIELDS)
    wide = [parse_bounce(data) for data in datas]
    assert wide == narrow
