"""The shortcuts taken when reading a message give what the general code gives."""

from __future__ import annotations

import email.errors
import email.header
import random

import pytest

from bot.parse import mime
from bot.parse.source import _decode_words, decode_header


def _library(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, email.errors.MessageError):
        return value


_ATOMS = [
    *("=?", "?=", "?", "q", "Q", "b", "B", " ", "  ", "\t", "(", ")", "\\", "_", "=", "!", ",", "<a@b>", "abc", "é"),
    *("utf-8", "UTF-8", "iso-8859-1", "iso-2022-jp", "us-ascii", "gb2312", "latin-1", "x-unknown"),
    *("=3D", "=E8", "=C3=A9", "=4", "GyRCJE8bKEI=", "44Gr44KD44O844KT", "SGVsbG8", "w6k"),
    *("=?utf-8?q?x?=", "=?utf-8?b?w6k=?=", "=?us-ascii?q??=", "=?iso-8859-1?q?=E8?=", "=?utf-8?q?_?="),
    *("=?iso-2022-jp?B?gaGL2Yt9?=", "=?utf-8?b?@@@?=", "=?utf-8?b?w?=", "=?shift_jis?b?gaGL?="),
    *("=?euc-jp?q?=A4=A2?=", "=?iso-8859-6?q?=FF?=", "=?windows-1252?q?=81?=", "=?us-ascii?q?=E8?="),
]


@pytest.mark.parametrize(
    "value",
    [
        "=?iso-8859-15?Q?Delivery_Status_Notification_=28Failure=29?=",
        "=?utf-8?Q?a=40example=2Ejp?= <a@example.jp>,  =?utf-8?Q?b=40example=2Eorg?= <b@example.org>",
        "DELIVERY FAILURE:  =?ISO-2022-JP?B?GyRCJWYhPCU2ITwbKEI=?= Neko (k@example.co.jp) =?US-ASCII?Q??= x",
        "=?UTF-8?B?IHwg5rGa44KM44Gm54Gw54yr44Gr44Gq44Gj44Gm44KL44GT44Go44GM44GC?= =?UTF-8?B?44KL55m954yr?=",
        "=?iso-2022-jp?B?VW5kZWxpdmVyYWJsZTogGyRCJS0lOCVIJWkhJiVVJWklQyU3JWUbKEIvGyRCJUsl=?= "
        "=?iso-2022-jp?B?YyE8JXMbKEIK=?=",
        "=?ISO-2022-JP?B?gaGL2Yt9kmyJuoKwgUmBSYGhiWaJ5oFFg0GDaoOBgUWDWIN8gVuDY4FFibmKeYH0jouSrpe/lrOXv4LFjKmV+pHogaE=?=",
        "  =?utf-8?q?a?=   =?utf-8?q?b?=  (c) =?iso-8859-1?q?d?=\\",
        "=?utf-8?q? ?= =?utf-8?q?x?=",
        "=?utf-8?x?y?= =?utf-8?q?z?=",
        "=?utf-8?q?unterminated",
    ],
)
def test_decode_header_is_the_librarys(value: str) -> None:
    assert decode_header(value) == _library(value)


def test_decode_header_is_the_librarys_on_mixed_words() -> None:
    rnd = random.Random(14)
    shortcut = 0
    for _ in range(20000):
        value = "".join(rnd.choice(_ATOMS) for _ in range(rnd.randint(1, 14)))
        if "=?" in value:
            assert decode_header(value) == _library(value), value
            shortcut += _decode_words(value) is not None
    assert shortcut > 5000  # the shortcut is taken on most of them


def test_unusual_values_are_left_to_the_library() -> None:
    assert _decode_words("=?utf-8?q?a?=\t=?utf-8?q?b?=") is None  # not printable
    assert _decode_words("=?gb2312?b?xOO6ww==?=") is None  # a charset the library renames
    assert _decode_words("é =?utf-8?q?a?=") is None  # not ASCII


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
