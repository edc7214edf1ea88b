"""Key names: namespaced, versioned, quoted, and never holding an address."""

from __future__ import annotations

import hashlib

import pytest

from bot.store.keys import MAX_PART, digest, key, key_part


def sha(text: str) -> str:
    return "#" + hashlib.sha256(text.encode()).hexdigest()[:24]


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("Contoso.COM", "contoso.com"),
        ("  mail.contoso.com  ", "mail.contoso.com"),
        ("203.0.113.25:25", "203.0.113.25%3A25"),
        ("[2001:db8::1]:25", "[2001%3Adb8%3A%3A1]%3A25"),
        ("U0123ABC", "u0123abc"),
        (25, "25"),
        ("#literal", "%23literal"),
        ("a b/c", "a%20b%2Fc"),
        ("Jane.Doe@Contoso.com", sha("jane.doe@contoso.com")),
        ("jane.doe@contoso.com", sha("jane.doe@contoso.com")),
        ("x" * (MAX_PART + 1), sha("x" * (MAX_PART + 1))),
    ],
)
def test_key_part(part: str | int, expected: str) -> None:
    assert key_part(part) == expected


def test_key_is_namespaced_versioned_and_address_free() -> None:
    name = key("probe", "smtp", "Jane@Contoso.com", "ab12")
    assert name == f"mailflow:v1:probe:smtp:{sha('jane@contoso.com')}:ab12"
    assert "@" not in name


def test_parts_cannot_run_into_each_other() -> None:
    assert key("x", "a:b", "c") != key("x", "a", "b:c")


def test_options_digest_ignores_order() -> None:
    assert digest({"port": 25, "tls": True}) == digest({"tls": True, "port": 25})
    assert digest({"port": 25}) != digest({"port": 587})
