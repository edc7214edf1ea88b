"""Single-flight across two processes sharing one Redis: one run in all, even if the holder dies.

The second process is ``tests/store/flight_worker.py`` (a real ``python`` child); both sides'
probe runs append their process id to one file, so the file counts the runs. Only 127.0.0.1 is
contacted.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.store import ProbeCache, RedisStore, SingleFlight
from tests.store.flight_worker import probe_run

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def worker(
    url: str, target: str, workdir: Path, n: int, lock_ttl: float
) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.store.flight_worker", url, target, str(workdir), str(n), str(lock_ttl),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()


async def until(condition: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def runs(workdir: Path) -> list[str]:
    path = workdir / "runs"
    return path.read_text().split() if path.exists() else []


async def test_two_processes_200_requests_one_run(redis_url: str, tmp_path: Path) -> None:
    target = f"shared-{os.getpid()}.example"
    store = RedisStore.from_url(redis_url)
    cache = ProbeCache(store, flight=SingleFlight(store, poll_s=0.01))
    try:
        async with worker(redis_url, target, tmp_path, 100, 30.0) as child:
            await until((tmp_path / "ready").exists, "the worker started its requests")
            await until(lambda: len(runs(tmp_path)) == 1, "the worker holds the lock and is running")
            mine = [
                asyncio.create_task(cache.get_or_run("smtp", target, {}, lambda: probe_run(tmp_path, target)))
                for _ in range(100)
            ]
            await asyncio.sleep(0.3)  # let them reach the lock and wait on it
            assert not any(task.done() for task in mine)
            (tmp_path / "release").touch()
            answers = await asyncio.gather(*mine)
            out, _ = await child.communicate()
        assert child.returncode == 0
        summary = json.loads(out)
        assert runs(tmp_path) == [str(child.pid)]  # one run in all, in the worker
        assert summary["answers"] == 100
        assert summary["details"] == [f"run by {child.pid}"]
        assert all(a.from_cache and a.results[0].detail == f"run by {child.pid}" for a in answers)
        assert await store.get(cache.lock_key("smtp", target, {})) is None
    finally:
        await store.delete(cache.key("smtp", target, {}))
        await store.close()


async def test_when_the_holder_dies_a_waiter_in_another_process_takes_over(redis_url: str, tmp_path: Path) -> None:
    target = f"orphan-{os.getpid()}.example"
    store = RedisStore.from_url(redis_url)
    cache = ProbeCache(store, flight=SingleFlight(store, poll_s=0.01, lock_ttl_s=1.0))
    try:
        async with worker(redis_url, target, tmp_path, 1, 1.0) as child:
            await until(lambda: len(runs(tmp_path)) == 1, "the worker took the lock")
            waiter = asyncio.create_task(
                cache.get_or_run("smtp", target, {}, lambda: probe_run(tmp_path, target, wait_for_release=False))
            )
            await asyncio.sleep(0.1)
            assert not waiter.done()
            child.send_signal(signal.SIGKILL)  # dies holding the lock
            result = await waiter
        assert runs(tmp_path) == [str(child.pid), str(os.getpid())]
        assert (result.from_cache, result.results[0].detail) == (False, f"run by {os.getpid()}")
        assert (await cache.get_or_run("smtp", target, {}, lambda: probe_run(tmp_path, target))).from_cache
    finally:
        await store.delete(cache.key("smtp", target, {}))
        await store.close()
