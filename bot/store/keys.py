"""Key names: ``mailflow:v1:<kind>:<part>:<part>...``, safe to log and free of addresses.

Parts are lower-cased and percent-quoted (``:`` becomes ``%3A``, so parts never run into each
other); a part holding ``@`` (an email address) or longer than ``MAX_PART`` characters is
replaced by ``#`` and the first 24 hex digits of its keyed hash (``address_hash``), so no raw
address ever lands in a key, a ``MONITOR`` trace or a log. ``#`` is quoted in literal parts, so a hash never collides
with one. Bump ``VERSION`` when the shape of a stored value changes: old keys simply expire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.store.errors import StoreError

if TYPE_CHECKING:
    from bot.store.base import Store

log = logging.getLogger("mailflow.store")

PREFIX = "mailflow"
VERSION = "v1"
MAX_PART = 100
_SAFE = ".-_+[]"  # quote() also keeps letters, digits and "~"

# Addresses are hashed with HMAC-SHA256 under a per-deployment key, so a stored hash cannot be
# matched against a list of likely addresses by whoever reads the store. The key comes from
# MAILFLOW_HASH_KEY, else is derived from SLACK_SIGNING_SECRET, else is generated once and kept
# in the store (``hash_key_in_store``): every replica of one deployment hashes alike. The default
# below only serves the command line, whose hashes never leave the process.
_hash_key: bytes = b"mailflow:address-hash:local"
HASH_KEY_KEY = "mailflow:v1:hash-key"
HASH_KEY_TTL_S = 10 * 365 * 86400.0


def derive_hash_key(secret: str) -> bytes:
    """A key for ``address_hash`` derived from another secret (so it differs from that secret)."""
    return hmac.new(secret.encode(), b"mailflow address hash v1", hashlib.sha256).digest()


def use_hash_key(secret: bytes) -> None:
    """Hash addresses under ``secret`` from now on (set once at start-up; never logged)."""
    global _hash_key  # noqa: PLW0603 - one key per process, set at start-up
    if not secret:
        raise ValueError("the address hash key is empty")
    _hash_key = secret


async def hash_key_in_store(store: Store) -> bytes:
    """The deployment's generated key: written once (first replica wins), then read by all.
    When the store cannot be reached, a key of this process's own (its hashes then match no
    other replica's until a restart; set MAILFLOW_HASH_KEY to avoid that)."""
    fresh = secrets.token_hex(32).encode()
    try:
        await store.set_nx(HASH_KEY_KEY, fresh, HASH_KEY_TTL_S)
        kept = await store.get(HASH_KEY_KEY)
    except StoreError as exc:
        log.warning("address hash key not read from the store (%s): this process uses one of its own", exc)
        return fresh
    return kept or fresh


def address_hash(text: str, digits: int = 24) -> str:
    """The first ``digits`` hex digits of the keyed hash (HMAC-SHA256) of ``text``."""
    return hmac.new(_hash_key, text.encode(), hashlib.sha256).hexdigest()[:digits]


def key_part(value: str | int) -> str:
    """One key component: lower-cased and quoted, or hashed when it holds an address."""
    text = str(value).strip().lower()
    if "@" in text or len(text) > MAX_PART:
        return "#" + address_hash(text)
    return quote(text, safe=_SAFE)


def key(kind: str, *parts: str | int) -> str:
    """``mailflow:v1:<kind>:<parts>``, each part through ``key_part``."""
    return ":".join((PREFIX, VERSION, key_part(kind), *(key_part(p) for p in parts)))


def digest(options: Mapping[str, Any]) -> str:
    """A short, order-independent digest of ``options`` (for cache keys)."""
    canonical = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (TypeError for values JSON cannot hold)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
