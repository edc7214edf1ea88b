"""bot/cli/fanout.py: forked workers, answers in input order, failures raised, children reaped."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from bot.cli.fanout import MAX_CHUNK, in_order
from bot.errors import WorkerLost

PARENT = os.getpid()


def _square_and_pid(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2, 3, 5])
@pytest.mark.parametrize("count", [0, 1, 7, 64, 333])
def test_answers_come_in_input_order(jobs: int, count: int) -> None:
    answers = list(in_order(range(count), _square_and_pid, jobs=jobs))
    assert [square for square, _ in answers] == [n * n for n in range(count)]
    pids = {pid for _, pid in answers}
    assert len(pids) == min(jobs, count)  # as many processes as asked, never more than inputs
    assert not count or PARENT in pids  # this process works too


def test_no_child_is_left_behind() -> None:
    pids = {pid for _, pid in in_order(range(500), _square_and_pid, jobs=3)} - {PARENT}
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # waited for: not even a zombie remains
            os.kill(pid, 0)


def _fails_at_250(n: int) -> int:
    if n == 250:
        raise ValueError(f"bad input {n}")
    return n


def test_an_error_in_a_worker_is_raised_where_its_chunk_comes() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="bad input 250"):
        got.extend(in_order(range(1000), _fails_at_250, jobs=2))
    assert got == list(range(len(got)))  # every answer before the failing chunk, in order
    assert 250 - MAX_CHUNK <= len(got) <= 250


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def _raises_unpicklable(n: int) -> int:
    if os.getpid() != PARENT:
        raise _Unpicklable
    return n


def test_an_error_that_cannot_cross_still_says_what_it_was() -> None:
    answers: list[int] = []
    with pytest.raises(RuntimeError, match="_Unpicklable: holds a lock"):
        answers.extend(in_order(range(1000), _raises_unpicklable, jobs=4))
    assert answers == list(range(31))


def _dies_in_a_worker(n: int) -> int:
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return n


def test_a_worker_that_dies_is_reported() -> None:
    answers: list[int] = []
    with pytest.raises(WorkerLost, match="stopped before sending its answers"):
        answers.extend(in_order(range(1000), _dies_in_a_worker, jobs=4))
    assert answers == list(range(31))  # this process's first chunk: 1000 // (4 * 8) inputs


def _pid(n: int) -> int:
    return os.getpid()


def test_stopping_early_stops_and_reaps_the_workers() -> None:
    answers = in_order(range(100_000), _pid, jobs=3)
    seen = {next(answers) for _ in range(5)}
    children = set()
    for pid in answers:  # read until a worker's chunk comes, then stop
        if pid != PARENT:
            children.add(pid)
            break
    answers.close()
    assert seen == {PARENT} and children
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
