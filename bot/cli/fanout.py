"""Many inputs shared among forked processes, the answers given back in input order.

The inputs are cut into chunks dealt round-robin: chunk ``k`` is done by process ``k % jobs``,
where process 0 is this one and the others are forked children. This process works through its
own chunks and, in between, reads the children's answers, each chunk one pickled list sent
through the child's own pipe, in the order it needs them. Since a child sends its chunks in the
order this process reads them, a child waits for nobody but this process, and only when its pipe
is full (the pipe is enlarged so that it seldom is). No process only hands out work, and nothing
but the answers crosses between processes: each child already holds the inputs (forked with
them) and reads its own files.

A child whose function raises sends the exception instead of its chunk; this process raises it
when it reaches that chunk. A child that dies without an answer (killed, out of memory) makes
this process raise ``WorkerLost``. When the reader stops early (an error, Ctrl-C, the output
closed), the children still running are stopped, and every child is waited for.

Without ``os.fork`` (Windows), everything runs in this process.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

from bot.errors import WorkerLost

T = TypeVar("T")
R = TypeVar("R")

MAX_CHUNK = 32  # inputs per chunk: small enough to share the work evenly at the end
PIPE_BYTES = 1 << 20  # a child runs ahead of this process by up to this many bytes of answers
_HEADER = struct.Struct("!?Q")  # (is an error, length of the pickle that follows)


def in_order(items: Sequence[T], func: Callable[[T], R], *, jobs: int) -> Iterator[R]:
    """``map(func, items)``, the work shared among ``jobs`` processes (this one included)."""
    jobs = min(jobs, len(items))
    if jobs < 2 or not hasattr(os, "fork"):
        yield from map(func, items)
        return
    size = max(1, min(MAX_CHUNK, len(items) // (jobs * 8)))
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    children: list[_Child] = []
    try:
        for rank in range(1, jobs):
            children.append(_fork(chunks[rank::jobs], func, children))
        for index, chunk in enumerate(chunks):
            rank = index % jobs
            if rank == 0:
                yield from map(func, chunk)
            else:
                yield from children[rank - 1].answers()
        for child in children:
            child.close(stop=False)  # all its answers are read: it is leaving by itself
    finally:
        for child in children:
            child.close(stop=True)


class _Child:
    """A forked worker: its pid and the read end of its pipe."""

    def __init__(self, pid: int, pipe: IO[bytes]) -> None:
        self.pid = pid
        self.pipe = pipe
        self.running = True

    def answers(self) -> list[Any]:
        header = self.pipe.read(_HEADER.size)
        failed, length = _HEADER.unpack(header) if len(header) == _HEADER.size else (False, -1)
        payload = self.pipe.read(length) if length >= 0 else b""
        if length < 0 or len(payload) != length:
            self.close(stop=True)
            raise WorkerLost(f"worker process {self.pid} stopped before sending its answers")
        loaded = pickle.loads(payload)  # our own child's answers
        if failed:
            raise loaded
        return loaded  # type: ignore[no-any-return]

    def close(self, *, stop: bool) -> None:
        """Wait for the child (once); with ``stop``, stop it first if it still runs."""
        self.pipe.close()
        if not self.running:
            return
        self.running = False
        try:
            if stop and os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _fork(chunks: Sequence[Sequence[T]], func: Callable[[T], R], siblings: list[_Child]) -> _Child:
    readable, writable = os.pipe()
    try:
        import fcntl  # noqa: PLC0415 - where os.fork exists, so does fcntl

        fcntl.fcntl(writable, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # the default pipe (64 KiB on Linux): the child waits for this process more often
    pid = os.fork()
    if pid == 0:  # the child: answer, then leave without running the parent's cleanup
        status = 1
        try:
            os.close(readable)
            for sibling in siblings:
                sibling.pipe.close()
            with os.fdopen(writable, "wb") as out:
                for chunk in chunks:
                    try:
                        failed, payload = False, pickle.dumps([func(item) for item in chunk], pickle.HIGHEST_PROTOCOL)
                    except Exception as exc:  # sent to the parent, which raises it
                        failed, payload = True, _pickled_error(exc)
                    out.write(_HEADER.pack(failed, len(payload)))
                    out.write(payload)
                    out.flush()
                    if failed:
                        break
            status = 0
        finally:
            os._exit(status)
    os.close(writable)
    return _Child(pid, os.fdopen(readable, "rb"))


def _pickled_error(exc: Exception) -> bytes:
    try:
        return pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot cross: its text can
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"), pickle.HIGHEST_PROTOCOL)
