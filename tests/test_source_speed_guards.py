"""The shortcuts taken when reading a message (``bot/parse/source.py``, ``bot/parse/mime.py``)
give what the general code gives."""

from __future__ import annotations

import binascii
import random

import pytest

from bot.parse import mime, parse_bounce, source
from tests.test_reading_speed_guards import _INPUTS


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


def _decoded_by_the_library(value: str) -> str:
    """``decode_header`` as ``email.header`` alone reads a value (the value itself where it fails)."""
    import email.header  # noqa: PLC0415

    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return value


@pytest.mark.parametrize(
    "value",
    [
        "=?UTF-8?B?a3VuaXl1a2kgYXp1bWE=?= <kijitora@example.org>",
        "=?utf-8?B?a3VuaXl1a2kgYXp1bWE?=(x)",  # padding missing; a parenthesis after it
        "=?utf-8?B?8J+QiPCfkIg=?=@example.org",  # set off by a space
        "=?iso-8859-15?Q?Delivery_Status_Notification_=28Failure=29?=",
        "=?iso-8859-1?q?caf=E9?=",
        "=?iso-2022-jp?B?VW5kZWxpdmVyYWJsZTogGyRCJUslYyE8JXMbKEI=?=",
        "=?utf-8?B?gA==?= x",  # not UTF-8: kept as sent
        "=?utf-8?B?YQ?= \\x",
        "=?utf-8?Q?a=4?= x",  # a stray "=": left to the library
        "=?utf-8?Q?a=?= x",
        "=?utf-8?Q?a?= =?utf-8?Q?b?=",  # two words
        "=?utf-8?Q?a?=\rb",  # two lines
        "=?utf-8?Q?a?=\tb",
        "=?us-ascii?Q?a?= b",  # not one of the charsets read here
        "=?utf-8*en?Q?a?= b",
        "x =?utf-8?Q?a?=",
        "=?utf-8?Q?caf\u00e9?=",
    ],
)
def test_an_encoded_word_decodes_as_the_library_decodes_it(value: str) -> None:
    assert source.decode_header(value) == _decoded_by_the_library(value)


def test_random_encoded_words_decode_as_the_library_decodes_them() -> None:
    rng = random.Random(2047)
    charsets = ["utf-8", "UTF-8", "iso-8859-1", "ISO-8859-15", "iso-2022-jp", "us-ascii", "koi8-r"]
    rests = ["", " <a@example.org>", "@example.org", "(c)", ")", "\\", "  x", "x", " =?utf-8?q?x?=", "\ty", "?= x"]
    texts = ["caf\u00e9", "\u30cb\u30e3\u30fc\u30f3", "plain words", "a_b=c?d", ""]
    taken = 0
    for _ in range(3000):
        charset = rng.choice(charsets)
        if rng.random() < 0.7:
            try:
                data = rng.choice(texts).encode(charset)
            except (UnicodeError, LookupError):
                data = rng.choice(texts).encode("utf-8")
        else:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
        if rng.random() < 0.5:
            payload = binascii.b2a_base64(data, newline=False).decode()
            payload = payload.rstrip("=") if rng.random() < 0.3 else payload
            payload += rng.choice(["", "", "=", "A", " ", "!"])
            encoding = rng.choice("bB")
        else:
            payload = "".join(
                "_" if b == 32 and rng.random() < 0.7 else chr(b) if 33 <= b < 127 and b not in b"=?_" else f"={b:02X}"
                for b in data
            )
            payload += rng.choice(["", "", "=", "=4", "=4g", "_", "?"])
            encoding = rng.choice("qQ")
        value = f"=?{charset}?{encoding}?{payload}?={rng.choice(rests)}"
        taken += source._ENCODED_WORD.match(value) is not None
        assert source.decode_header(value) == _decoded_by_the_library(value), value
    assert taken > 1000  # the shortcut was taken
