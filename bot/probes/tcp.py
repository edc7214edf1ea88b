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
from bot.probes.result import ProbeResult

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

    def __init__(self, message: str, *, how: str) -> None:
        super().__init__(message)
        self.how = how  # "closed", "reset", or an errno name


def errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno is not None else type(exc).__name__


def describe_oserror(exc: OSError) -> str:
    """``ECONNRESET (Connection reset by peer)``: the errno's name and its text."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{errno_name(exc)} ({text})" if exc.errno is not None else text


def lost(exc: BaseException, during: str) -> ConnectionLost:
    """Translate a broken-connection error raised by asyncio or the OS into ``ConnectionLost``."""
    if isinstance(exc, asyncio.IncompleteReadError | ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectionLost(f"the server closed the connection {during}", how="closed")
    if isinstance(exc, ConnectionResetError):
        return ConnectionLost(f"the server reset the connection {during} (TCP RST)", how="reset")
    if isinstance(exc, OSError):
        return ConnectionLost(f"the connection broke {during}: {describe_oserror(exc)}", how=errno_name(exc))
    return ConnectionLost(f"the connection broke {during}: {exc}", how=type(exc).__name__)


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
        raise ProbeTimeout(f"tcp: no answer to the connect within {seconds:g} s") from None
    return Connection(reader, writer)


async def probe_tcp(ctx: ProbeContext, target: Target) -> tuple[ProbeResult, Connection | None]:
    """The "tcp" step: its result, and the open connection when it succeeded."""
    started = time.perf_counter()
    facts = target.facts()

    def result(ok: bool, detail: str, code: str | None = None, **more: object) -> ProbeResult:
        return ProbeResult("tcp", target.label, ok, detail, code, elapsed_ms(started), {**facts, **more})

    try:
        conn = await connect(ctx, target)
    except ProbeTimeout as exc:
        detail = f"{target.endpoint} did not answer the TCP connect ({exc}); a firewall may drop the packets"
        return result(False, detail, NO_ANSWER, timeout=ctx.config.timeouts.connect), None
    except ConnectionRefusedError:
        detail = f"{target.endpoint} refused the connection (TCP RST): nothing listens there, or a firewall rejects"
        return result(False, detail, REFUSED, errno="ECONNREFUSED"), None
    except OSError as exc:
        detail = f"{target.endpoint} could not be reached: {describe_oserror(exc)}"
        return result(False, detail, NO_ANSWER, errno=errno_name(exc)), None
    return result(True, f"connected to {target.endpoint}"), conn
