"""Bad input gets a clear answer: no exception, no hang, bounded memory.

Each case runs under pytest-timeout (a hang fails the test) and tracemalloc (memory stays
bounded however large the input).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from bot.parse import parse_bounce
from bot.parse.source import MAX_BYTES


def _nested_mime(depth: int) -> bytes:
    head = b"From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
    body = b"Content-Type: text/plain\n\n550 5.1.1 <user@example.com>: Recipient address rejected\n"
    for n in range(depth):
        boundary = f"b{n}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\n\n--'
            + boundary
            + b"\n"
            + body
            + b"\n--"
            + boundary
            + b"--\n"
        )
    return head + body


CASES: list[tuple[str, Callable[[], bytes | str]]] = [
    ("empty bytes", lambda: b""),
    ("empty text", lambda: ""),
    ("whitespace", lambda: " \n\t\r\n "),
    ("binary garbage", lambda: bytes(range(256)) * 64),
    ("invalid utf-8", lambda: b"550 5.1.1 user unknown \xff\xfe\xc3\x28 <a@example.com>"),
    ("nul bytes", lambda: b"\x00" * 100_000),
    ("20 MB paste", lambda: b"450 4.4.316 Connection refused [LastAttemptedIP=203.0.113.9:25]\n" * 330_000),
    ("mime nested 100 deep", lambda: _nested_mime(100)),
    ("1 MB of 5.5.5", lambda: b"5.5.5 " * 180_000),
    ("1 MB of [{LED=", lambda: b"[{LED=" * 180_000),
    ("1 MB of brackets and codes", lambda: b"[{LED=450 4.4.316 x [Message=" * 40_000),
    ("header only", lambda: b"From: a@example.com\nTo: b@example.com\nSubject: x\nDate: now\n"),
    (
        "unterminated multipart",
        lambda: b'Content-Type: multipart/report; boundary="x"\nFrom: a@b.c\nTo: d@e.f\nSubject: s\n\n--x\n',
    ),
    (
        "bogus charset",
        lambda: (
            b"From: a@b.example\nTo: c@d.example\nSubject: Undeliverable\n"
            b"Content-Type: text/plain; charset=nope-42\n\n550 5.1.1 no such user"
        ),
    ),
    ("many addresses", lambda: (" ".join(f"u{n}@example.com" for n in range(50_000))).encode()),
    (
        "1 MB of trace tables",  # each dash line starts a table whose rows run to the end of the input
        lambda: (
            b"said: 550 5.1.1 <x@example.net>\n"
            + b"Sender Status\n------ ------\nalerts@example.com Pending\n" * 25_000
        ),
    ),
    (
        "1 MB of mailq entries",
        lambda: b"4F2C11A0B7*  2145 Tue Jun 11 08:14:22  a@b.example\n (connect to x[1.2.3.4]:25)\n" * 12_000,
    ),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_answered(name: str, make: Callable[[], bytes | str]) -> None:
    data = make()
    tracemalloc.start()
    try:
        bounce = parse_bounce(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert bounce.is_ndr or bounce.why_not
    # The parser keeps at most a bounded prefix: peak memory does not grow with the input.
    assert peak < 64 * MAX_BYTES, f"{name}: peak {peak} bytes"


def test_huge_paste_says_it_was_cut() -> None:
    data = b"450 4.4.316 Connection refused [LastAttemptedIP=203.0.113.9:25]\n" * 330_000
    bounce = parse_bounce(data)
    assert bounce.is_ndr
    assert bounce.truncated
    assert any(str(len(data)) in note for note in bounce.notes)
    assert bounce.primary is not None and bounce.primary.status == "4.4.316"


def test_nested_mime_still_finds_the_bounce_at_a_sane_depth() -> None:
    bounce = parse_bounce(_nested_mime(5))
    assert bounce.is_ndr
    assert bounce.primary is not None and bounce.primary.status == "5.1.1"
