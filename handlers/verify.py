"""Slack request signatures, checked on the raw bytes before anything parses the body.

bolt parses the body (JSON, or a form with a JSON ``payload``) when it builds its request
object, and only then verifies the signature; so a request without a valid signature could
make the parser work (a 100,000-deep JSON array) and fail (HTTP 500 with a traceback). Here
the order is the other way round, as Slack documents it (api.slack.com/authentication/verifying-requests-from-slack):

1. ``X-Slack-Request-Timestamp`` is a whole number of seconds within five minutes of now, and
   ``X-Slack-Signature`` is present: checked from the headers alone, before the body is read.
2. ``v0=`` + HMAC-SHA256(signing secret, ``v0:{timestamp}:{raw body}``) matches the signature,
   compared in constant time, over the bytes as received (no decoding first).

``refusal_from_headers`` and ``refusal_from_body`` return why a request is refused, or None.
An empty signing secret (Socket Mode) refuses every HTTP request: an HMAC with an empty key
is no secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP = "X-Slack-Request-Timestamp"
SIGNATURE = "X-Slack-Signature"
WINDOW_S = 5 * 60  # Slack's own replay window
_MAX_TIMESTAMP_DIGITS = 12


def refusal_from_headers(headers: Mapping[str, str], *, secret: str, now: float) -> str | None:
    """Why the request must be refused from its headers alone, or None to go on reading it."""
    if not secret:
        return "no signing secret is configured (Socket Mode takes no requests over HTTP)"
    timestamp = headers.get(TIMESTAMP)
    if timestamp is None:
        return f"no {TIMESTAMP} header"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return f"{TIMESTAMP} is not a whole number of seconds"
    if abs(now - int(timestamp)) > WINDOW_S:
        return f"{TIMESTAMP} is more than {WINDOW_S // 60} minutes from now"
    if not headers.get(SIGNATURE):
        return f"no {SIGNATURE} header"
    return None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def refusal_from_body(headers: Mapping[str, str], body: bytes, *, secret: str) -> str | None:
    """Why the signature does not match ``body``, or None; call after ``refusal_from_headers``."""
    expected = signature(secret, headers[TIMESTAMP], body).encode()
    given = headers.get(SIGNATURE, "").encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        return "the signature does not match the body"
    return None
