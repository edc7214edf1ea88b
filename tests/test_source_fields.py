"""Header values with encoded words are decoded when read (``source._Fields``): every way of
reading them gives the decoded value, as the eagerly decoded dict did."""

from __future__ import annotations

from bot.parse.mime import Part
from bot.parse.source import _headers_of, decode_header

ENCODED = "=?utf-8?q?Caf=C3=A9?= au lait"
FIELDS = [
    ("subject", ENCODED),
    ("from", "a@b.example"),
    ("subject", "second"),
    ("to", "=?utf-8?b?w6k=?= <c@d.example>"),
]
DECODED = {"subject": decode_header(ENCODED), "from": "a@b.example", "to": decode_header(FIELDS[3][1])}


def test_values_are_decoded_when_read() -> None:
    for read in (
        lambda f: f["subject"],
        lambda f: f.get("subject"),
        lambda f: dict(f.items())["subject"],
        lambda f: next(iter(f.values())),
        lambda f: f.copy()["subject"],
    ):
        assert read(_headers_of(Part(headers=FIELDS))) == "Café au lait"


def test_the_mapping_equals_the_decoded_dict() -> None:
    fields = _headers_of(Part(headers=FIELDS))
    assert fields == DECODED
    assert (fields != DECODED) is False
    assert repr(fields) == repr(DECODED)
    assert list(fields) == ["subject", "from", "to"]
    assert fields.get("cc") is None and fields.get("cc", "") == ""
    assert "subject" in fields and len(fields) == 3 and fields


def test_plain_values_stay_a_plain_dict() -> None:
    fields = _headers_of(Part(headers=[("from", "a@b.example")]))
    assert type(fields) is dict
