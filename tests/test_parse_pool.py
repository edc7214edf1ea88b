"""``ParsePool``: the parser in worker processes, with a deadline, against real processes.

Kills and cancellations are real: a worker stuck in a backtracking pattern (``BACKTRACKS``) is
killed at the deadline, one killed from outside (as the OOM killer would) is noticed and
replaced, and a caller cancelled mid-parse does not leave its answer to the next caller.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from bot.parse import parse_bounce
from bot.parse_pool import ParsePool, ParseTooComplex, ParseWorkerLost, default_workers
from tests.slack.backtracking import HOSTILE_39K, parse_with_backtracking

pytestmark = pytest.mark.timeout(60)

SAMPLES = sorted(p for p in (Path(__file__).parent / "samples").rglob("*") if p.is_file())[:12]


def pids(pool: ParsePool) -> set[int]:
    return {w.process.pid for w in pool._all if w.process.pid is not None}


async def test_a_pool_reads_like_the_parser() -> None:
    pool = ParsePool(2, 10.0)
    try:
        for path in SAMPLES:
            data = path.read_bytes()
            assert await pool.parse(data) == parse_bounce(data), path.name
        text = "550 5.1.1 <a@b.test>: user unknown"
        assert await pool.parse(text) == parse_bounce(text)
    finally:
        await pool.close()


async def test_inputs_read_at_once_share_the_workers() -> None:
    pool = ParsePool(2, 10.0)
    try:
        texts = [f"550 5.1.{n} <user{n}@b.test>: rejected" for n in range(1, 9)]
        bounces = await asyncio.gather(*(pool.parse(t) for t in texts))
        assert [b.recipients for b in bounces] == [(f"user{n}@b.test",) for n in range(1, 9)]
        assert len(pids(pool)) == 2
    finally:
        await pool.close()


async def test_past_the_deadline_the_worker_is_killed_and_replaced() -> None:
    pool = ParsePool(1, 0.5, parse=parse_with_backtracking)
    try:
        await pool.start()
        (stuck,) = pids(pool)
        with pytest.raises(ParseTooComplex, match=r"not read within 0\.5 s"):
            await pool.parse(HOSTILE_39K)
        with pytest.raises(ProcessLookupError):
            os.kill(stuck, 0)  # gone, not left spinning
        bounce = await pool.parse("550 5.1.1 <a@b.test>: user unknown")
        assert bounce.recipients == ("a@b.test",) and pool.replaced == 1
        assert pids(pool) and stuck not in pids(pool)
    finally:
        await pool.close()


async def test_a_worker_killed_from_outside_is_noticed_and_replaced() -> None:
    pool = ParsePool(1, 10.0, parse=parse_with_backtracking)
    try:
        await pool.start()
        (worker,) = pids(pool)
        parsing = asyncio.ensure_future(pool.parse(HOSTILE_39K))
        await asyncio.sleep(0.3)
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(ParseWorkerLost):
            await parsing
        assert (await pool.parse("550 5.1.1 <a@b.test>: x")).is_ndr
    finally:
        await pool.close()


async def test_a_cancelled_parse_does_not_hand_its_answer_to_the_next() -> None:
    pool = ParsePool(1, 10.0, parse=parse_with_backtracking)
    try:
        parsing = asyncio.ensure_future(pool.parse(HOSTILE_39K))
        await asyncio.sleep(0.5)
        parsing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parsing
        bounce = await pool.parse("550 5.2.2 <full@b.test>: mailbox full")
        assert bounce.recipients == ("full@b.test",) and pool.replaced == 1
    finally:
        await pool.close()


async def test_close_stops_every_worker_and_later_parses_are_refused() -> None:
    pool = ParsePool(2, 10.0)
    await pool.parse("550 5.1.1 <a@b.test>: x")
    workers = pids(pool)
    await pool.close()
    await pool.close()  # idempotent
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # exited and reaped
    with pytest.raises(ParseWorkerLost):
        await pool.parse("550 5.1.1 <a@b.test>: x")


def test_the_default_leaves_a_core_for_the_event_loop_on_one_cpu() -> None:
    assert default_workers() in (1, 2)


async def test_a_pool_whose_workers_cannot_start_says_so_at_once() -> None:
    pool = ParsePool(1, 10.0, parse=lambda data: parse_bounce(data))  # noqa: PLW0108 - a lambda cannot reach a worker
    try:
        with pytest.raises(ParseWorkerLost, match="could be started"):
            await asyncio.wait_for(pool.parse("550 5.1.1 <a@b.test>: x"), 10.0)  # not wait_s (60 s)
    finally:
        await pool.close()
