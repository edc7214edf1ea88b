"""Requests from anyone: the signature and the timestamp window are checked on the raw bytes
before bolt parses a body, so no unsigned body reaches a parser; a bad request gets 401 (or
400 when signed but unreadable) and one info line, never a traceback or a 500.

Everything goes over real HTTP to the bot served on 127.0.0.1 (``harness``)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator

import pytest

from handlers import verify
from tests.slack.conftest import SECRET, Harness

pytestmark = pytest.mark.timeout(60)

DEEP = 100_000
EVENT = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "text": "5.7.1"}})
JSON, FORM = "application/json", "application/x-www-form-urlencoded"

# (name, body, content type): bodies a parser would choke on.
HOSTILE_BODIES = [
    ("truncated JSON", b'{"type": "event_callback", "event": {', JSON),
    ("not JSON at all", b"{<html>", JSON),
    ("deep JSON array", b"[" * DEEP + b"]" * DEEP, JSON),
    ("deep JSON object", b'{"a":' * DEEP + b"1" + b"}" * DEEP, JSON),
    ("JSON array, not an object", b"[1, 2, 3]", JSON),
    ("JSON string", b'"event_callback"', JSON),
    ("form with a broken payload", b"payload=%7B%22type%22%3A", FORM),
    ("form with a deep payload", b"payload=" + b"%5B" * DEEP + b"%5D" * DEEP, FORM),
    ("form payload that is no object", b"payload=%5B1%5D", FORM),
    ("invalid UTF-8", b'{"type": "\xff\xfe"}', JSON),
    ("invalid UTF-8 form", b"command=%2Fmailflow&text=\xc3\x28", FORM),
]
IDS = [name for name, _, _ in HOSTILE_BODIES]


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's v0 signature, computed here from its documentation (not with the code under test)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def send(harness: Harness, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[int, str]:
    async with harness.session.post(harness.url, data=body, headers={"Content-Type": content_type, **headers}) as r:
        return r.status, await r.text()


@contextlib.contextmanager
def listening(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every line at DEBUG and up. bolt sets the "mailflow" logger's level from the root logger's
    when an app is built (an earlier test may have built one while the root was at WARNING)."""
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="mailflow"):
        yield


def lines_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.INFO]


def assert_one_quiet_line(caplog: pytest.LogCaptureFixture) -> None:
    lines = lines_logged(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    (line,) = lines
    assert line.levelno == logging.INFO and line.exc_info is None and line.name == "mailflow.slack"


@pytest.mark.parametrize(("name", "body", "content_type"), HOSTILE_BODIES, ids=IDS)
@pytest.mark.parametrize("signature", ["none", "wrong"])
async def test_an_unsigned_hostile_body_gets_401_and_is_never_parsed(
    harness: Harness, caplog: pytest.LogCaptureFixture, *, name: str, body: bytes, content_type: str, signature: str
) -> None:
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp}
    if signature == "wrong":
        headers["X-Slack-Signature"] = sign(body, timestamp, secret="not-the-secret")
    with listening(caplog):
        status, _ = await send(harness, body, content_type, headers)
        await harness.settle()
    assert status == 401
    assert_one_quiet_line(caplog)
    assert "signature" in lines_logged(caplog)[0].getMessage().lower()
    assert [c.method for c in harness.api.calls if c.method != "auth.test"] == []  # auth.test: at start-up


@pytest.mark.parametrize(("name", "body", "content_type"), HOSTILE_BODIES, ids=IDS)
async def test_a_signed_unreadable_body_gets_400(
    harness: Harness, caplog: pytest.LogCaptureFixture, name: str, body: bytes, content_type: str
) -> None:
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign(body, timestamp)}
    with listening(caplog):
        status, _ = await send(harness, body, content_type, headers)
        await harness.settle()
    assert status == 400
    assert_one_quiet_line(caplog)
    assert [c.method for c in harness.api.calls if c.method != "auth.test"] == []  # auth.test: at start-up


BAD_TIMESTAMPS = ["", "abc", "1e9", "12.5", "-5", " 1700000000", "1700000000 ", "0x65", "١٧٠٠٠٠٠٠٠٠", "9" * 40, "0"]


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
async def test_a_timestamp_that_is_no_recent_whole_number_gets_401(
    harness: Harness, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    """Signed with the right secret over that timestamp, so only the timestamp check stands in the way."""
    body = EVENT.encode()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign(body, timestamp)}
    with listening(caplog):
        status, _ = await send(harness, body, JSON, headers)
        await harness.settle()
    assert status == 401
    assert_one_quiet_line(caplog)
    assert "X-Slack-Request-Timestamp" in lines_logged(caplog)[0].getMessage()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Slack-Signature": "v0=00"}, {"X-Slack-Signature": "v0=ü€"}, {"X-Slack-Signature": ""}],
    ids=["no headers", "no timestamp", "non-ASCII signature", "empty signature"],
)
async def test_missing_or_odd_signature_headers_get_401(
    harness: Harness, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    if headers.get("X-Slack-Signature") in ("v0=ü€", ""):
        headers = {"X-Slack-Request-Timestamp": str(int(time.time())), **headers}
    with listening(caplog):
        status, _ = await send(harness, EVENT.encode(), JSON, headers)
    assert status == 401
    assert_one_quiet_line(caplog)


async def test_a_signed_good_request_still_goes_through(harness: Harness) -> None:
    """The same path with a body Slack would send: bolt answers it (the ack is 200)."""
    body = EVENT.encode()
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign(body, timestamp)}
    status, _ = await send(harness, body, JSON, headers)
    assert status == 200


def test_without_a_signing_secret_nothing_over_http_is_trusted() -> None:
    """Socket Mode runs with no signing secret; an HMAC keyed with "" would be anyone's."""
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign(b"{}", timestamp, secret="")}
    why = verify.refusal_from_headers(headers, secret="", now=time.time())
    assert why is not None and "signing secret" in why


# -- replays: a signed request captured on the way is answered once within the window ------------


async def test_a_replayed_slash_command_is_acked_but_run_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The same signed bytes sent again (as someone who saw them could, within the five-minute
    window) are acked with an empty 200 and not run: one answer at the response_url, not two."""
    form = (
        "team_id=T0TEST&channel_id=C1&user_id=U1&command=%2Fmailflow&text=help"
        f"&response_url={harness.api.response_url('replay')}&trigger_id=t-replay"
    )
    timestamp = str(int(time.time()))
    headers = {verify.TIMESTAMP: timestamp, verify.SIGNATURE: sign(form.encode(), timestamp)}
    with listening(caplog):
        first = await send(harness, form.encode(), FORM, headers)
        again = [await send(harness, form.encode(), FORM, headers) for _ in range(3)]
        await harness.settle()
    assert first[0] == 200
    assert again == [(200, "")] * 3
    assert len(harness.api.calls_to("response_url")) == 1
    replays = [r for r in caplog.records if "delivered again" in r.getMessage()]
    assert len(replays) == 3 and all(r.levelno == logging.INFO for r in replays)


async def test_a_replayed_event_is_answered_once(harness: Harness) -> None:
    """An event resent with the same signature and a new event id (bytes changed, so the
    signature would not match) is refused; the same bytes are acked and not run again."""
    body = json.dumps(
        {
            "team_id": "T0TEST",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": "EvReplay1",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": "C1",
                "user": "U1",
                "text": "550 5.7.1 denied",
                "ts": "1690000000.777",
            },
            "authorizations": [{"team_id": "T0TEST", "user_id": "UBOT", "is_bot": True}],
        }
    ).encode()
    timestamp = str(int(time.time()))
    headers = {verify.TIMESTAMP: timestamp, verify.SIGNATURE: sign(body, timestamp)}
    assert (await send(harness, body, JSON, headers))[0] == 200
    assert (await send(harness, body, JSON, headers)) == (200, "")
    forged = body.replace(b"EvReplay1", b"EvReplay2")
    assert (await send(harness, forged, JSON, headers))[0] == 401
    await harness.settle()
    assert len(harness.api.calls_to("chat.postMessage")) == 1
