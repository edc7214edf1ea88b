"""``mailflow worker`` from the command line: refuses to start without Redis or with a bad
setting, and runs a burst against the test Redis (the due ticks, then exit 0)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.cli import main
from bot.observability import Metrics
from bot.settings import Settings, env_var
from bot.watch import WatchBook, watch_gauge
from bot.watch.book import arq_redis
from tests.store.redis_server import RedisServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    for name in Settings.model_fields:
        monkeypatch.delenv(env_var(name), raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_refuses_without_redis(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["worker", "--env-file", "/dev/null"], capsys)
    assert code == 2 and "REDIS_URL: the worker needs Redis" in err


def test_refuses_a_bad_setting(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("MAILFLOW_PROBE_TIMEOUT", "forever")
    code, err = run(["worker", "--env-file", "/dev/null"], capsys)
    assert code == 2 and "MAILFLOW_PROBE_TIMEOUT: not a duration: 'forever'" in err


def test_burst_runs_the_due_ticks(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A watch on a target the guard refuses (192.0.2.1, a documentation address, not
    allowlisted): tick 0 runs without sending a packet, stops the watch, and the burst ends."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("MAILFLOW_LOG_FORMAT", "json")
    monkeypatch.setenv("MAILFLOW_RESOLVER", "127.0.0.1:9")

    async def start() -> None:
        book = WatchBook(arq_redis(redis_server.url))
        await book.redis.flushdb()
        await book.start(channel="C1", domain="192.0.2.1", every_s=60, for_s=120)
        await book.close()

    asyncio.run(start())
    code, err = run(["worker", "--burst", "--env-file", "/dev/null"], capsys)
    assert code == 0, err

    async def state() -> tuple[bool, list[int], float | None]:
        book = WatchBook(arq_redis(redis_server.url))
        metrics = Metrics()
        await watch_gauge(book, metrics)()
        watch = await book.get("C1", "192.0.2.1")
        queued = [job.args[3] for job in await book.redis.queued_jobs(queue_name="arq:queue:mailflow")]
        await book.close()
        return watch is None, queued, metrics.registry.get_sample_value("mailflow_watches_running")

    assert asyncio.run(state()) == (True, [1], 0)  # stopped; tick 1 stays queued and will find it gone
