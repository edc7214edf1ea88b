"""Logging (redaction on every line, JSON or console), metrics and the health routes.

The routes are served by a real aiohttp server on 127.0.0.1 (``aiohttp_server``-free: an
``AppRunner`` on port 0) and asked with a real client; the store behind ``/readyz`` is a real
``RedisStore`` on the test Redis, or one pointed at a closed port.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from multidict import CIMultiDict

from bot.observability import (
    MASK,
    Metrics,
    configure_logging,
    get_logger,
    log_context,
    redact_text,
    register_secret,
    request_id_middleware,
    routes,
)
from bot.probes.result import ProbeResult
from bot.settings import load_settings
from bot.store import MemoryStore, RedisStore, RedisTimeouts, Store
from tests.store.redis_server import free_port

pytestmark = pytest.mark.timeout(20)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Logging is process-wide: put the root logger and structlog back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


REDACTIONS = [
    ("token xoxb-1234-5678-abcDEF in text", "token xoxb-*** in text"),
    ("user token xoxp-1-2-3-abc", "user token xoxp-***"),
    ("app token xapp-1-A0-123-abc", "app token xapp-***"),
    ("refresh xoxe.xoxp-1-abc and xoxe-1-abc", "refresh xoxe.xoxp-*** and xoxe-***"),
    (
        "X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "X-Slack-Signature: v0=***",
    ),
    ("to alex.wilber@fabrikam.com failed", "to ***@fabrikam.com failed"),
    ("<mailto:Adele.V+tag@contoso.onmicrosoft.com|x>", "<mailto:***@contoso.onmicrosoft.com|x>"),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    ("rediss://default:s3cr3t@redis.example.net:6380", "rediss://default:***@redis.example.net:6380"),
    ("450 4.4.316 Connection refused [203.0.113.25]", "450 4.4.316 Connection refused [203.0.113.25]"),
    ("mailflow:v1:probe:diagnose:#0123456789abcdef01234567", "mailflow:v1:probe:diagnose:#0123456789abcdef01234567"),
    ("contoso.com MX 10 mail.contoso.com", "contoso.com MX 10 mail.contoso.com"),
    # Address spellings that got through before (issue 10, item 7):
    ('from "john doe"@fabrikam.com', "from ***@fabrikam.com"),  # quoted local part
    (r'from "john \"jd\" doe"@fabrikam.com', "from ***@fabrikam.com"),  # with quoted pairs
    ("jörg.müller@beispiel.de", "***@beispiel.de"),  # non-ASCII local part (RFC 6531)
    ("宛先 用户@例子.广告 不明", "宛先 ***@例子.广告 不明"),
    ("ユーザー＠例え.jp", "***＠例え.jp"),  # full-width at sign
    ("RCPT TO:<user@[10.1.2.3]>", "RCPT TO:<***@[10.1.2.3]>"),  # domain literal
    ("user@[IPv6:2001:db8::25] refused", "***@[IPv6:2001:db8::25] refused"),
    ("root@intranet said", "***@intranet said"),  # single-label domain
    ("?to=alex%40fabrikam.com&x=1", "?to=***%40fabrikam.com&x=1"),  # URL-escaped
    ("alex&#64;fabrikam.com", "***&#64;fabrikam.com"),  # HTML-escaped, decimal
    ("alex&#x40;fabrikam.com", "***&#x40;fabrikam.com"),  # hexadecimal
    ("alex&commat;fabrikam.com", "***&commat;fabrikam.com"),  # named
    ("redis://:p@ss@cache:6379/0", "redis://:***@cache:6379/0"),  # an @ in the password
    ("redis://default:p@ss:w@rd@cache:6379", "redis://default:***@cache:6379"),
    ("https://ghp_abc123@github.com/org/repo", "https://***@github.com/org/repo"),  # a token as the user
    ("write to a@b.com.", "write to ***@b.com."),  # a sentence's full stop is not the domain's
    ("<@U0123> and @channel", "<@U0123> and @channel"),  # Slack mentions are no addresses
]


@pytest.mark.parametrize(("text", "expected"), REDACTIONS)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# Inputs that make a backtracking pattern quadratic, built around each anchor the masking reads
# outwards from; n characters, then 4n.
HOSTILE_SHAPES = {
    "at signs": lambda n: "a@" * n,
    "bare at signs": lambda n: "@" * n,
    "url-escaped": lambda n: "a%40" * n,
    "html-escaped": lambda n: "&#" + "0" * n,
    "quotes": lambda n: '"' * n + "@x",
    "open quote": lambda n: '"' + "a" * n + '"@x',
    "scheme run": lambda n: "a" * n + "://",
    "schemes": lambda n: "a://" * n,
    "userinfo": lambda n: "s://" + "u:" * n + "@h",
    "long local": lambda n: "a." * n + "@x.com",
    "long domain": lambda n: "a@" + "b." * n,
    "addresses": lambda n: "a@b.c " * n,
}


@pytest.mark.parametrize("shape", list(HOSTILE_SHAPES), ids=list(HOSTILE_SHAPES))
def test_masking_time_grows_linearly(shape: str) -> None:
    """4x the input takes at most 6x the time (best of 5 interleaved runs), for every hostile shape."""
    build = HOSTILE_SHAPES[shape]

    def once(text: str) -> float:
        started = time.perf_counter()
        redact_text(text)
        return time.perf_counter() - started

    n = 10_000
    while min(once(build(n)) for _ in range(3)) < 0.02 and n < 2_000_000:  # noise small beside it, caches full
        n *= 2
    small_text, large_text = build(n), build(4 * n)
    ratios = []
    for _ in range(3):  # noise on a shared machine can pass 6x once; quadratic time (16x) fails every time
        smalls, larges = [], []
        for _ in range(5):  # interleaved, so both sizes see the same load
            smalls.append(once(small_text))
            larges.append(once(large_text))
        ratios.append(min(larges) / min(smalls))
        if ratios[-1] <= 6:
            break
    assert min(ratios) <= 6, f"{shape}: 4x the input took {', '.join(f'{r:.1f}' for r in ratios)}x the time (n={n})"


def test_registered_secret_is_masked() -> None:
    register_secret("8f14e45fceea167a5a36dedd4bea2543")
    assert redact_text("secret=8f14e45fceea167a5a36dedd4bea2543!") == f"secret={MASK}!"


@pytest.fixture
def captured() -> Callable[[str], list[dict[str, Any]]]:
    """Configure JSON logging into a buffer; the returned function parses what was written."""
    buffer = io.StringIO()
    configure_logging(log_format="json", level="DEBUG", stream=buffer, force=True)

    def lines(_: str = "") -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    return lines


def test_every_json_line_is_redacted(captured: Callable[[str], list[dict[str, Any]]]) -> None:
    log = get_logger("test")
    log.info("posting for alex@fabrikam.com", token="xoxb-should-vanish", channel="C1", body={"auth": "xoxp-1-2"})
    log.warning("with a key named like a secret", signing_secret="plain-text-value", url="redis://:pw@r.test:6379")
    logging.getLogger("slack_bolt.App").error("stdlib line with xapp-1-abc and bob@contoso.com")
    try:
        raise RuntimeError("failed for carol@example.org with xoxb-in-exception")
    except RuntimeError:
        log.exception("probe crashed")
    lines = captured("")
    text = json.dumps(lines)
    for secret in (
        "should-vanish",
        "xoxp-1-2",
        "plain-text-value",
        "pw@",
        "alex@",
        "bob@",
        "carol@",
        "xapp-1-abc",
        "in-exception",
    ):
        assert secret not in text, secret
    assert lines[0]["event"] == "posting for ***@fabrikam.com" and lines[0]["token"] == MASK
    assert lines[0]["body"] == {"auth": "xoxp-***"} and lines[0]["channel"] == "C1"
    assert lines[1]["signing_secret"] == MASK
    assert lines[2]["logger"] == "slack_bolt.App" and "***@contoso.com" in lines[2]["event"]
    assert "***@example.org" in lines[3]["exception"]
    assert all({"timestamp", "level", "event"} <= line.keys() for line in lines)


def test_context_ids_are_bound(captured: Callable[[str], list[dict[str, Any]]]) -> None:
    log = get_logger("test")
    with log_context(event_id="Ev123", surface="event", channel=None):
        log.info("inside")
        logging.getLogger("aiohttp.server").warning("stdlib inside")
    log.info("outside")
    inside, stdlib_inside, outside = captured("")
    assert inside["event_id"] == "Ev123" and inside["surface"] == "event" and "channel" not in inside
    assert stdlib_inside["event_id"] == "Ev123"
    assert "event_id" not in outside


def test_console_format_is_readable_and_redacted() -> None:
    buffer = io.StringIO()
    configure_logging(log_format="console", level="INFO", stream=buffer, force=True)
    get_logger("test").info("hello", token="xoxb-1-secret", who="dan@fabrikam.com")
    get_logger("test").debug("below the level")
    out = buffer.getvalue()
    assert "hello" in out and "xoxb-1-secret" not in out and "***@fabrikam.com" in out
    assert "below the level" not in out
    assert not out.lstrip().startswith("{")


def test_auto_is_json_when_not_a_terminal() -> None:
    buffer = io.StringIO()  # isatty() is False
    configure_logging(load_settings(env_file=None, log_format="auto"), stream=buffer, force=True)
    get_logger("test").info("auto")
    assert json.loads(buffer.getvalue())["event"] == "auto"


def test_configure_runs_once_unless_forced() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(log_format="json", stream=first, force=True)
    configure_logging(log_format="json", stream=second)  # ignored
    get_logger("test").info("once")
    assert "once" in first.getvalue() and second.getvalue() == ""


def test_metrics_families() -> None:
    metrics = Metrics()
    metrics.count_request("slash")
    metrics.count_request("event")
    metrics.observe_probe(ProbeResult("tcp", "127.0.0.1:25", False, "refused", code="4.4.316", elapsed_ms=12.0))
    metrics.observe_probe(ProbeResult("mx", "contoso.com", True, "2 hosts", elapsed_ms=3.0))
    metrics.count_cache(hit=True)
    metrics.count_slack_error("chat.postMessage", "channel_not_found")
    metrics.watches_running.set(3)
    value = metrics.registry.get_sample_value
    assert value("mailflow_requests_total", {"surface": "slash"}) == 1
    assert value("mailflow_requests_total", {"surface": "shortcut"}) == 0
    assert value("mailflow_probe_duration_seconds_count", {"probe": "tcp", "outcome": "failed"}) == 1
    assert value("mailflow_probe_duration_seconds_sum", {"probe": "mx", "outcome": "ok"}) == pytest.approx(0.003)
    assert value("mailflow_probe_cache_total", {"result": "hit"}) == 1
    assert value("mailflow_probe_cache_total", {"result": "miss"}) == 0
    assert value("mailflow_slack_api_errors_total", {"method": "chat.postMessage", "error": "channel_not_found"}) == 1
    assert value("mailflow_watches_running") == 3
    with pytest.raises(ValueError, match="unknown surface"):
        metrics.count_request("email")
    assert Metrics().registry.get_sample_value("mailflow_requests_total", {"surface": "slash"}) == 0  # own registry


Get = Callable[[str], Awaitable[tuple[int, str, CIMultiDict[str]]]]


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[Get]:
    """``app`` on 127.0.0.1 and a free port; yields ``get(path) -> (status, body, headers)``."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:

            async def get(path: str) -> tuple[int, str, CIMultiDict[str]]:
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    return response.status, await response.text(), CIMultiDict(response.headers)

            yield get
    finally:
        await runner.cleanup()


def app_for(store: Store | None, slack: Any, metrics: Metrics | None) -> web.Application:
    app = web.Application(middlewares=[request_id_middleware])
    app.add_routes(routes(store=store, slack_connected=slack, metrics=metrics))
    return app


async def test_health_routes_when_all_is_well(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    metrics = Metrics()
    metrics.count_request("slash")
    refreshed: list[int] = []

    async def refresh() -> None:
        refreshed.append(1)
        metrics.watches_running.set(2)

    metrics.before_scrape(refresh)

    async def slack_ok() -> bool:
        return True

    async with serve(app_for(store, slack_ok, metrics)) as get:
        status, body, headers = await get("/healthz")
        assert (status, json.loads(body)) == (200, {"alive": True}) and len(headers["X-Request-Id"]) == 16
        status, body, _ = await get("/readyz")
        assert (status, json.loads(body)) == (200, {"ready": True, "checks": {"store": True, "slack": True}})
        status, body, headers = await get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert 'mailflow_requests_total{surface="slash"} 1.0' in body
        assert "mailflow_watches_running 2.0" in body and refreshed
    await store.close()


@pytest.mark.parametrize("failing", ["store", "slack", "slack raises"])
async def test_readyz_names_the_failing_check(failing: str) -> None:
    if failing == "store":  # a Redis that is not there: PING fails fast
        store: Store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeouts=RedisTimeouts(0.2, 0.2, 0.2))
    else:
        store = MemoryStore()

    def slack() -> bool:
        if failing == "slack raises":
            raise ConnectionError("socket closed")
        return failing != "slack"

    async with serve(app_for(store, slack, None)) as get:
        status, body, _ = await get("/readyz")
        checks = json.loads(body)["checks"]
        assert status == 503 and checks[failing.split(maxsplit=1)[0]] is False
        assert sum(not ok for ok in checks.values()) == 1
        assert (await get("/healthz"))[0] == 200  # alive all the same
        assert (await get("/metrics"))[0] == 404  # no metrics given: no route
    await store.close()


async def test_the_workers_health_port_answers_a_malformed_request_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker's /healthz port is HTTP too: a request aiohttp cannot parse gets 400 and is
    counted in one info line, not logged with a traceback (anyone who reaches the port could)."""
    from bot.cli.worker import _serve_health  # noqa: PLC0415

    port = free_port()
    runner = await _serve_health(load_settings(None), Metrics(), port)
    try:
        with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="mailflow"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: w\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.0 400")
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert any("no valid HTTP/1.1" in r.getMessage() for r in caplog.records)
