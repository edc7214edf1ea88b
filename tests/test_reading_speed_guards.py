"""The shortcuts taken when reading a message give what the general code gives."""

from __future__ import annotations

import pytest

from bot.parse import mime


def test_wanted_fields_are_found_in_any_letter_case() -> None:
    block = (
        b"fROM: a@example.org\nRECEIVED: x\nx-FAILED-recipients:\n b@example.org\n"
        b"Subject : hi\ncontent-TYPE: text/plain\nSubjects: no\n\xc4\xb0n-Reply-To: no"
    )
    assert mime.parse_headers(block) == [
        ("from", "a@example.org"),
        ("x-failed-recipients", "b@example.org"),
        ("subject", "hi"),
        ("content-type", "text/plain"),
    ]
    assert mime.parse_headers(block, mime.ORIGINAL_FIELDS)[1] == ("received", "x")


@pytest.mark.parametrize(
    "tail",
    [
        "From: a@example.org\nSubject: hi\n\nbody\n\nmore",
        "From: \udcc3\udca9 <a@example.org>\nTo: b@example.org\n\nbody \udcff",
        "\nFrom: a@example.org",
        "Subject: caf\u00e9\n To: x",
    ],
)
def test_quoted_header_block_reads_as_the_bytes_would(tail: str) -> None:
    block, _ = mime.split_header_block(tail.encode("utf-8", "surrogateescape"))
    want = mime.parse_headers(block, mime.ORIGINAL_FIELDS)
    assert mime.parse_header_text(mime.quoted_header_block(tail), mime.ORIGINAL_FIELDS) == want
