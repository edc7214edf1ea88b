"""Key names: ``mailflow:v1:<kind>:<part>:<part>...``, safe to log and free of addresses.

Parts are lower-cased and percent-quoted (``:`` becomes ``%3A``, so parts never run into each
other); a part holding ``@`` (an email address) or longer than ``MAX_PART`` characters is
replaced by ``#`` and the first 24 hex digits of its SHA-256, so no raw address ever lands in a
key, a ``MONITOR`` trace or a log. ``#`` is quoted in literal parts, so a hash never collides
with one. Bump ``VERSION`` when the shape of a stored value changes: old keys simply expire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

PREFIX = "mailflow"
VERSION = "v1"
MAX_PART = 100
_SAFE = ".-_+[]"  # quote() also keeps letters, digits and "~"


def key_part(value: str | int) -> str:
    """One key component: lower-cased and quoted, or hashed when it holds an address."""
    text = str(value).strip().lower()
    if "@" in text or len(text) > MAX_PART:
        return "#" + hashlib.sha256(text.encode()).hexdigest()[:24]
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
