"""TCP connect to one checked address: the first step of the SMTP path.

Strategy: the caller resolved the host name once and guard-checked every address; this module
connects to that address itself, never to a name (``AI_NUMERICHOST``: no lookup can happen
here, so there is no DNS-rebinding window), and checks it with the guard once more as a belt.
One explicit timeout bounds the connect (``timeouts.connect``).

Outcomes and the connector error each would make Exchange Online report (probing notes,
"Signatures"):

    connected                                   ok, elapsed time
    RST on connect (ECONNREFUSED)               4.4.316
    no answer within the timeout                4.4.315
    unreachable, or another OSError             4.4.315, the errno named

OS errors are translated here, at the edge: ``describe_oserror`` names the errno for the
evidence, and ``ConnectionLost`` is what the later steps raise when an open connection breaks.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from dataclasses import dataclass

from bot.errors import ProbeError, ProbeTimeout
from bot.probes.context import ProbeContext
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, error, of_error, text

REFUSED = "4.4.316"
NO_ANSWER = "4.4.315"

# RFC 5321 §4.5.3.1.5 allows reply lines of 512 octets; real servers overshoot, so allow four
# times that before calling the peer broken. The stream reader refuses longer lines.
MAX_LINE_BYTES = 2048


@dataclass(frozen=True, slots=True)
class Target:
    """One address of one host: connect to ``ip``, name ``host`` for SNI and certificates."""

    host: str
    ip: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.host} ({self.endpoint})"

    def facts(self) -> dict[str, object]:
        return {"host": self.host, "address": self.ip, "port": self.port}


@dataclass(frozen=True, slots=True)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def abort(self) -> None:
        """Drop the connection now (no TLS close_notify, no waiting): for errors and cancellation."""
        self.writer.transport.abort()


class ConnectionLost(ProbeError):
    """The peer closed or reset the connection."""

    def __init__(self, message: str, *, how: str, text: object = None) -> None:
        super().__init__(message, text=text)
        self.how = how  # "closed", "reset", or an errno name


def errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno is not None else type(exc).__name__


def describe_oserror(exc: OSError) -> str:
    """``ECONNRESET (Connection reset by peer)``: the errno's name and its text."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{errno_name(exc)} ({text})" if exc.errno is not None else text


def lost(exc: BaseException, during: Text) -> ConnectionLost:
    """Translate a broken-connection error raised by asyncio or the OS into ``ConnectionLost``;
    ``during`` says when (``during.handshake``: "during the TLS handshake")."""
    if isinstance(exc, asyncio.IncompleteReadError | ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return error(ConnectionLost, text("lost.closed", during=during), how="closed")
    if isinstance(exc, ConnectionResetError):
        return error(ConnectionLost, text("lost.reset", during=during), how="reset")
    if isinstance(exc, OSError):
        said = text("lost.broke", during=during, error=describe_oserror(exc))
        return error(ConnectionLost, said, how=errno_name(exc))
    return error(ConnectionLost, text("lost.broke", during=during, error=str(exc)), how=type(exc).__name__)


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def connect(ctx: ProbeContext, target: Target) -> Connection:
    """Open the connection or raise: TargetRefused, ProbeTimeout, or the OSError as is."""
    ip = ctx.guard.check(target.ip, host=target.host)  # belt: the caller checked already
    seconds = ctx.config.timeouts.connect
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(
                str(ip), target.port, flags=socket.AI_NUMERICHOST, limit=MAX_LINE_BYTES
            )
    except TimeoutError:
        raise error(ProbeTimeout, text("tcp.connect_timeout", step="tcp", seconds=f"{seconds:g}")) from None
    return Connection(reader, writer)


async def probe_tcp(ctx: ProbeContext, target: Target) -> tuple[ProbeResult, Connection | None]:
    """The "tcp" step: its result, and the open connection when it succeeded."""
    started = time.perf_counter()
    facts = target.facts()

    def result(ok: bool, said: Text, code: str | None = None, **more: object) -> ProbeResult:
        return observed("tcp", target.label, ok, said, code, elapsed_ms(started), {**facts, **more})

    endpoint = target.endpoint
    try:
        conn = await connect(ctx, target)
    except ProbeTimeout as exc:
        said = text("tcp.no_answer", endpoint=endpoint, reason=of_error(exc))
        return result(False, said, NO_ANSWER, timeout=ctx.config.timeouts.connect), None
    except ConnectionRefusedError:
        return result(False, text("tcp.refused", endpoint=endpoint), REFUSED, errno="ECONNREFUSED"), None
    except OSError as exc:
        said = text("tcp.unreachable", endpoint=endpoint, error=describe_oserror(exc))
        return result(False, said, NO_ANSWER, errno=errno_name(exc)), None
    return result(True, text("tcp.connected", endpoint=endpoint)), conn
