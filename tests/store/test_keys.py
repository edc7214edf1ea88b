"""Key names: namespaced, versioned, quoted, and never holding an address."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest

from bot.store import MemoryStore
from bot.store import keys as keys_module
from bot.store.keys import MAX_PART, digest, hash_key_in_store, key, key_part, use_hash_key

KEY = b"per-deployment secret"


@pytest.fixture(autouse=True)
def _deployment_key() -> Iterator[None]:
    kept = keys_module._hash_key
    use_hash_key(KEY)
    yield
    use_hash_key(kept)


def sha(text: str) -> str:
    return "#" + hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()[:24]


def test_an_address_is_hashed_under_the_deployments_key_not_plain_sha256() -> None:
    plain = "#" + hashlib.sha256(b"jane.doe@contoso.com").hexdigest()[:24]
    assert key_part("jane.doe@contoso.com") != plain  # a list of likely addresses cannot reverse it
    hashed = key_part("jane.doe@contoso.com")
    use_hash_key(b"another deployment")
    assert key_part("jane.doe@contoso.com") != hashed


async def test_a_generated_key_is_kept_in_the_store_and_shared_by_every_replica() -> None:
    store = MemoryStore()
    first = await hash_key_in_store(store)
    assert len(first) == 64
    assert await hash_key_in_store(store) == first  # the second replica reads the first one's key
    assert await hash_key_in_store(MemoryStore()) != first  # another deployment, another key


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


async def test_a_store_that_cannot_be_reached_still_gives_a_key_of_the_process_own() -> None:
    from bot.store.errors import StoreError  # noqa: PLC0415

    class Down(MemoryStore):
        async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
            raise StoreError("connection refused")

    first = await hash_key_in_store(Down())
    assert len(first) == 64 and first != await hash_key_in_store(Down())
