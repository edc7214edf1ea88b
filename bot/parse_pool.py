"""Parsing off the event loop: ``ParsePool`` reads bounces in worker processes, each with a deadline.

``parse_bounce`` is pure CPU. A coroutine that calls it holds the event loop until it returns:
no ack, no ``/healthz``, no other answer. Its patterns are linear now, but the next bug that
makes one input slow must not stop the bot either, and a thread would not help (it holds the
GIL inside the regex engine and cannot be stopped). So the bot hands each input to one of a few
worker processes and waits for the answer without blocking:

    ParsePool.parse(data)
        an idle worker (at most ``workers`` inputs are read at once; the others queue)
        the input through its pipe; the loop waits on the pipe, free for everything else
        the Bounce back                        -> returned
        past ``timeout_s``: the worker is killed (SIGKILL) and replaced -> ParseTooComplex
        the worker died (a crash, the OOM killer): replaced              -> ParseWorkerLost

Workers are started by the ``forkserver`` method (``spawn`` where there is none), never forked
from the bot itself, which holds sockets, threads and locks. The fork server imports the parser
once, so a replacement is ready in milliseconds. ``start`` pre-warms every worker (each parses a
sample before it is used); ``close`` stops them and waits for them to exit.

    MailflowError
     └── ParseError
          ├── ParseTooComplex    the input was not read within the deadline
          └── ParseWorkerLost    the worker died, or none was free for ``wait_s``
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, cast

from bot.errors import MailflowError

if TYPE_CHECKING:  # the parser is imported when a pool is made: the settings import this module
    from bot.parse import Bounce

log = logging.getLogger("mailflow.parse")

Parse = Callable[[bytes | str], "Bounce"]
DEFAULT_TIMEOUT_S = 5.0
WARM_UP = "550 5.1.1 <someone@example.test>: Recipient address rejected: User unknown"
_READY = "ready"


def default_workers() -> int:
    """Two workers, or one on a single CPU: parsing takes milliseconds, the second worker is for
    an input that takes long (until its deadline), so that it does not hold up the others."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 1 if usable < 2 else 2


class ParseError(MailflowError):
    """An input could not be read by a parse worker."""


class ParseTooComplex(ParseError):
    """The input was not read within the parse deadline; its worker was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"not read within {seconds:g} s")
        self.seconds = seconds


class ParseWorkerLost(ParseError):
    """A parse worker died while reading the input, or none was free in time."""


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when its parent ends: the fork server, which
    ends with the bot. A bot killed with SIGKILL cannot stop its workers, and one stuck in a
    pattern would otherwise run on until the pattern gave up."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (prctl(2))


def _serve(conn: Connection, parse: Parse) -> None:
    """A worker: inputs in, ``(True, Bounce)`` or ``(False, error text)`` out, until the pipe closes."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the bot, which stops its workers
    parse(WARM_UP)
    try:
        conn.send(_READY)
        while True:
            data = conn.recv()
            try:
                reply: tuple[bool, object] = (True, parse(data))
            except Exception as exc:  # parse_bounce never raises: a bug must still get an answer
                reply = (False, f"{type(exc).__name__}: {exc}")
            conn.send(reply)
    except (EOFError, OSError):  # the bot closed the pipe, or is gone
        return


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Imported once by the fork server, not by each worker: the parser, and the main module
        # (which each worker would otherwise run again, to find the parse function by name).
        context.set_forkserver_preload(["__main__", "bot.parse"])  # effective until the server starts
        return context
    return multiprocessing.get_context("spawn")


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: BaseContext, parse: Parse) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, parse), name="mailflow-parse", daemon=True
        )
        self.process.start()
        child.close()

    async def receive(self) -> object:
        """The next message from the worker, waited for without blocking the loop."""
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await readable
        finally:
            loop.remove_reader(fd)
        return self.conn.recv()  # a whole message follows its first bytes at once

    async def ask(self, data: bytes | str) -> tuple[bool, object]:
        self.conn.send(data)  # the worker is idle in recv(): it reads as fast as this writes
        return cast(tuple[bool, object], await self.receive())

    def stop(self) -> None:
        """Kill the process (it may be stuck in C code, deaf to anything gentler) and reap it."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)
        with contextlib.suppress(ValueError):
            self.process.close()


class ParsePool:
    """``await pool.parse(data)``: ``parse_bounce(data)`` in a worker process, within ``timeout_s``."""

    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        parse: Parse | None = None,
        wait_s: float = 60.0,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.workers = workers or default_workers()
        self.timeout_s = timeout_s
        self.wait_s = wait_s  # longest wait for a free worker
        self.start_timeout_s = start_timeout_s  # longest wait for a new worker's first answer
        self.replaced = 0  # workers killed past the deadline or lost, and started again
        if parse is None:
            from bot.parse import parse_bounce  # noqa: PLC0415 - see the import at the top

            parse = parse_bounce
        self._parse = parse
        self._context = _context()
        self._idle: asyncio.Queue[_Worker | None] | None = None  # None: no worker could start
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()
        self._warming: list[asyncio.Task[None]] = []  # the first workers, waited for by ``start``
        self._closed = False

    async def start(self) -> None:
        """Start every worker and wait until each has parsed its warm-up sample (idempotent)."""
        if self._closed:
            raise ParseWorkerLost("the parse pool is closed")
        if self._idle is None:
            self._idle = asyncio.Queue()
            self._top_up()
            self._warming = list(self._starting)
        if self._warming:
            await asyncio.wait(self._warming)

    async def _add(self) -> None:
        try:
            worker = _Worker(self._context, self._parse)
        except Exception:  # no process to be had (limits, a daemonic parent, the fork server gone)
            log.exception("a parse worker could not be started")
            self._none_left()
            return
        self._all.add(worker)
        try:
            async with asyncio.timeout(self.start_timeout_s):
                ready = await worker.receive()
            if ready != _READY:
                raise ParseWorkerLost(f"a new parse worker said {ready!r}")
        except (TimeoutError, EOFError, OSError, ParseWorkerLost) as exc:
            log.error("a parse worker did not start: %s", str(exc) or type(exc).__name__)
            self._discard(worker)
            self._none_left()
            return
        except BaseException:
            self._discard(worker)
            raise
        assert self._idle is not None
        self._idle.put_nowait(worker)

    def _none_left(self) -> None:
        """With no worker left at all, and none starting but the caller (a task of ``_starting``),
        wake one waiting parse to say so rather than let it wait."""
        if not self._all and len(self._starting) <= 1 and self._idle is not None:
            self._idle.put_nowait(None)

    def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        worker.stop()

    def _replace(self, worker: _Worker) -> None:
        """Stop ``worker`` and start another in its place (in the background)."""
        self._discard(worker)
        self.replaced += 1
        self._top_up()

    def _top_up(self) -> None:
        """Start workers (in the background) until there are ``workers`` again."""
        while not self._closed and len(self._all) + len(self._starting) < self.workers:
            task = asyncio.get_running_loop().create_task(self._add())
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    async def parse(self, data: bytes | str) -> Bounce:
        """The Bounce in ``data``; ParseTooComplex past the deadline, ParseWorkerLost if a worker died."""
        await self.start()
        assert self._idle is not None
        self._top_up()  # after a worker failed to start
        try:
            async with asyncio.timeout(self.wait_s):
                worker = await self._idle.get()
        except TimeoutError:
            raise ParseWorkerLost(f"no parse worker free for {self.wait_s:g} s") from None
        if worker is None:
            raise ParseWorkerLost("no parse worker could be started")
        try:
            async with asyncio.timeout(self.timeout_s):
                ok, value = await worker.ask(data)
        except TimeoutError:
            log.warning("an input was not read within %g s: its worker was stopped", self.timeout_s)
            self._replace(worker)
            raise ParseTooComplex(self.timeout_s) from None
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise ParseWorkerLost(f"the parse worker died ({type(exc).__name__})") from None
        except BaseException:  # cancelled while the worker reads: its answer would reach the next caller
            self._replace(worker)
            raise
        self._idle.put_nowait(worker)
        if not ok:
            raise ParseWorkerLost(f"the parser failed: {value}")
        return cast("Bounce", value)

    async def close(self) -> None:
        """Stop every worker (idempotent); a parse still waiting gets ParseWorkerLost."""
        self._closed = True
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        for worker in list(self._all):
            self._discard(worker)
