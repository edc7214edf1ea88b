"""The SMTP path to one address, as Exchange Online walks it: the ``probe_smtp_host`` entry.

    tcp -> banner -> ehlo -> starttls -> certificate -> tls_version        (then QUIT, always)

Never MAIL, RCPT or DATA. Every step reports one ProbeResult (``skipped`` when not reached)
and has its own timeout; a ProbeTimeout names the step and the seconds. The strategy follows
dnspython's ``_Resolution``: ``_Path`` holds the logic of the steps, ``probe_smtp_host`` drives
it; reply parsing is pure (``parse_reply_line``, ``looks_masked``). Errors from asyncio, ssl
and the OS are translated where they enter (``SmtpSession``) into ProbeError subclasses.

Signatures (probing notes) and the code each step reports:

    greeting 421/554 (or any refusal), a greeting that is not SMTP          4.4.317
    STARTTLS not offered (or refused) while the connector requires TLS       4.4.317
    close or reset after the greeting, after EHLO, during STARTTLS           4.4.318
    accepted, never greets within timeouts.banner ("server not answering")   4.4.318
    Cisco ASA/PIX inspection (``220 ****``, EHLO answered 500 or ``XXXX``,
    STARTTLS stripped): flagged ``masked`` in facts; 4.4.317 when TLS is required, 4.4.318
    when the session breaks, a warning otherwise
    certificate failures (certificate.py)                                    4.7.320
    TLS below 1.2, proven by a permissive handshake (tls_version.py)         4.4.318

A silent peer maps to 4.4.318 rather than 4.4.315: the TCP connect succeeded, so this is a
server (or a middlebox) that took the connection and stalled, which Exchange reports as a
session that ended abruptly; the detail says "sent no greeting" so the two are not confused.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import ProbeError, ProbeTimeout
from bot.probes.certificate import CertificateRejected, TlsInfo, probe_certificate, verifying_context
from bot.probes.context import ProbeContext
from bot.probes.result import ProbeResult, observed
from bot.probes.tcp import (
    MAX_LINE_BYTES,
    Connection,
    ConnectionLost,
    Target,
    connect,
    describe_oserror,
    elapsed_ms,
    lost,
    probe_tcp,
)
from bot.probes.tls_version import judge_version, prove_old_tls
from bot.texts import Text, error, of_error, text

UNAVAILABLE = "4.4.317"
BROKEN = "4.4.318"
STEPS = ("tcp", "banner", "ehlo", "starttls", "certificate", "tls_version")

MAX_REPLY_LINES = 64  # a reply longer than this is not an SMTP server talking
MAX_REPLY_BYTES = 16 * 1024
QUIT_SECONDS = 5.0  # QUIT is a courtesy: never wait the full command timeout for it
_MASKED_KEYWORD = re.compile(r"X{4,}A?")  # Cisco rewrites "STARTTLS" in EHLO replies to "XXXXXXXA"
NO_REASON = text("reason.none")  # the conversation went through STARTTLS: the TLS steps say the rest


class ProtocolViolation(ProbeError):
    """The peer's answer is not an SMTP reply."""


class TlsFailed(ProbeError):
    """The TLS handshake failed for a reason other than the certificate."""


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    lines: tuple[str, ...]  # the text of each line, after the code and its separator

    @property
    def keywords(self) -> frozenset[str]:
        """EHLO extension keywords (RFC 5321 §4.1.1.1): the first word of every line but the first."""
        return frozenset(line.split(" ", 1)[0].upper() for line in self.lines[1:] if line.strip())

    def summary(self) -> str:
        first = f"{self.code} {self.lines[0]}".strip() if self.lines else str(self.code)
        first = first if len(first) <= 160 else first[:157] + "..."
        return first + (f" (+{len(self.lines) - 1} lines)" if len(self.lines) > 1 else "")


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """(code, is last line, text) of one reply line: three digits, then '-' (more lines
    follow) or ' ' or nothing (the last line), RFC 5321 §4.2.1."""
    decoded = line.rstrip(b"\r\n").decode("utf-8", "replace")
    head = decoded[:3]
    if len(head) < 3 or not (head.isascii() and head.isdigit()) or (len(decoded) > 3 and decoded[3] not in " -"):
        shown = decoded if len(decoded) <= 80 else decoded[:77] + "..."
        raise error(ProtocolViolation, text("smtp.not_smtp", line=repr(shown)))
    return int(head), len(decoded) == 3 or decoded[3] == " ", decoded[4:]


def looks_masked(text: str) -> bool:
    """Cisco ASA/PIX ESMTP inspection replaces the greeting's text with asterisks, keeping a few
    characters ("220 ****************2**0*****0***"): mostly stars, and a good many of them."""
    visible = [c for c in text if not c.isspace()]
    stars = sum(c == "*" for c in visible)
    return stars >= 8 and stars * 2 >= len(visible)


class SmtpSession:
    """One SMTP connection with bounded, timed reads; errors leave it as ProbeError subclasses."""

    def __init__(self, conn: Connection, ctx: ProbeContext) -> None:
        self.conn = conn
        self.timeouts = ctx.config.timeouts
        self.ehlo_name = ctx.config.ehlo_name
        self.usable = True  # False once the connection broke: no QUIT then

    async def read_reply(self, step: str, seconds: float, during: Text) -> Reply:
        lines: list[str] = []
        size = 0
        try:
            async with asyncio.timeout(seconds):
                while True:
                    raw = await self.conn.reader.readuntil(b"\n")
                    size += len(raw)
                    if size > MAX_REPLY_BYTES or len(lines) >= MAX_REPLY_LINES:
                        said = text("smtp.reply_too_long", step=step, lines=MAX_REPLY_LINES, bytes=MAX_REPLY_BYTES)
                        raise error(ProtocolViolation, said)
                    code, last, line_text = parse_reply_line(raw)
                    lines.append(line_text)
                    if last:
                        return Reply(code, tuple(lines))
        except TimeoutError:
            self.usable = False
            key = "smtp.no_greeting_within" if step == "banner" else "smtp.no_reply_within"
            raise error(ProbeTimeout, text(key, step=step, seconds=f"{seconds:g}")) from None
        except asyncio.LimitOverrunError:
            self.usable = False
            raise error(ProtocolViolation, text("smtp.line_too_long", step=step, bytes=MAX_LINE_BYTES)) from None
        except ProtocolViolation:
            self.usable = False
            raise
        except (asyncio.IncompleteReadError, OSError) as exc:
            self.usable = False
            raise lost(exc, during) from None

    async def command(self, step: str, line: str) -> Reply:
        try:
            self.conn.writer.write(f"{line}\r\n".encode("ascii", "replace"))
            await self.conn.writer.drain()
        except OSError as exc:
            self.usable = False
            raise lost(exc, text("during.sent", command=line.split(" ", 1)[0])) from None
        return await self.read_reply(step, self.timeouts.command, text("during.after", command=line.split(" ", 1)[0]))

    async def ehlo(self, step: str) -> Reply:
        return await self.command(step, f"EHLO {self.ehlo_name}")

    async def upgrade(self, context: ssl.SSLContext, host: str) -> TlsInfo:
        """The TLS handshake after a 220 to STARTTLS (RFC 3207), SNI and name check for ``host``."""
        seconds = self.timeouts.tls
        try:
            async with asyncio.timeout(seconds):
                await self.conn.writer.start_tls(context, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            self.usable = False
            raise CertificateRejected.from_ssl(exc) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            self.usable = False
            raise lost(exc, text("during.handshake")) from None
        except ssl.SSLError as exc:
            self.usable = False
            raise error(TlsFailed, text("tls.handshake_failed", reason=str(exc.reason or exc))) from None
        except TimeoutError:
            self.usable = False
            raise error(ProbeTimeout, text("tls.handshake_timeout", step="starttls", seconds=f"{seconds:g}")) from None
        except OSError as exc:
            self.usable = False
            raise lost(exc, text("during.handshake")) from None
        tls: Any = self.conn.writer.get_extra_info("ssl_object")
        cipher = tls.cipher()
        return TlsInfo(tls.version(), cipher[0] if cipher else None, tls.getpeercert(binary_form=True))

    async def quit(self) -> None:
        """QUIT, best effort (RFC 5321 §4.1.1.10): a peer that does not answer is not waited for."""
        if not self.usable:
            return
        try:
            async with asyncio.timeout(min(self.timeouts.command, QUIT_SECONDS)):
                await self.command("quit", "QUIT")
        except (ProbeError, TimeoutError, OSError):
            pass

    async def close(self) -> None:
        """Close politely when QUIT was answered, otherwise abort; on cancellation always abort."""
        writer = self.conn.writer
        if not self.usable or writer.transport.is_closing():
            self.conn.abort()
            return
        try:
            writer.close()
            async with asyncio.timeout(min(self.timeouts.command, QUIT_SECONDS)):
                await writer.wait_closed()
        except (TimeoutError, OSError):
            self.conn.abort()
        except BaseException:
            self.conn.abort()
            raise


def _broke(exc: ProbeError) -> dict[str, Any]:
    """The facts of a step that ended on ``exc``: how the connection was lost, or that it timed out."""
    if isinstance(exc, ConnectionLost):
        return {"lost": exc.how}
    if isinstance(exc, ProbeTimeout):
        return {"timeout": True}
    return {"error": type(exc).__name__}


class _Path:
    """The steps for one target, their results by name, and what the TLS steps need."""

    def __init__(
        self,
        ctx: ProbeContext,
        target: Target,
        *,
        require_tls: bool,
        tls_domain: str | None,
        on_step: Callable[[ProbeResult], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.on_step = on_step
        self.target = target
        self.require_tls = require_tls
        self.tls_domain = tls_domain
        self.results: dict[str, ProbeResult] = {}
        self.masked = False
        self.tls: TlsInfo | CertificateRejected | None = None  # what the verifying handshake gave
        self.tls_failure: Text | None = None  # why the default handshake broke, if it did

    def record(
        self, name: str, started: float, ok: bool, said: Text | list[Text], code: str | None = None, **facts: Any
    ) -> None:
        all_facts = {**self.target.facts(), **{k: v for k, v in facts.items() if v is not None}}
        if self.masked:
            all_facts["masked"] = True
        self.keep(observed(name, self.target.label, ok, said, code, elapsed_ms(started), all_facts))

    def keep(self, result: ProbeResult) -> None:
        """Record a finished step, and tell ``on_step`` at once (the caller may be cut off later)."""
        self.results[result.name] = result
        if self.on_step is not None:
            self.on_step(result)

    def ordered(self, reason: Text) -> list[ProbeResult]:
        """One result per step; steps not reached are ``skipped`` and say why."""
        label, facts = self.target.label, self.target.facts
        not_run = text("step.not_run", reason=reason)
        return [
            self.results.get(name) or observed(name, label, False, not_run, facts=facts(), skipped=True)
            for name in STEPS
        ]

    async def run(self) -> list[ProbeResult]:
        result, conn = await probe_tcp(self.ctx, self.target)
        self.keep(result)
        if conn is None:
            return self.ordered(text("reason.tcp_failed"))
        session = SmtpSession(conn, self.ctx)
        try:
            reason = await self._conversation(session)
            await session.quit()
        except BaseException:
            conn.abort()
            raise
        await session.close()
        if isinstance(self.tls, CertificateRejected | TlsInfo):
            cert, seen = await probe_certificate(self.target, self.tls, self._handshake, tls_domain=self.tls_domain)
            self.keep(cert)
            if seen is not None:
                self.keep(judge_version(self.target, seen))
            else:
                reason = text("reason.no_handshake")
        elif self.tls_failure is not None:
            proof = await prove_old_tls(self.target, self.tls_failure, self._handshake)
            self.keep(proof)
            if proof.code is not None:  # the reset at STARTTLS was the TLS version all along
                self.results["starttls"].facts["cause"] = proof.facts["cause"]
        return self.ordered(reason)

    async def _conversation(self, session: SmtpSession) -> Text:
        """Banner, EHLO, STARTTLS on the open session; the reason later steps were not reached."""
        if not await self._banner(session):
            return text("reason.greeting_failed")
        keywords = await self._ehlo(session)
        if keywords is None:
            return text("reason.ehlo_failed")
        return await self._starttls(session, keywords)

    async def _banner(self, session: SmtpSession) -> bool:
        started = time.perf_counter()
        seconds = self.ctx.config.timeouts.banner
        try:
            reply = await session.read_reply("banner", seconds, text("during.greeting"))
        except ProbeTimeout as exc:
            said = text("banner.silent", reason=of_error(exc))
            self.record("banner", started, False, said, BROKEN, timeout=True, cause="server-unhealthy")
            return False
        except ConnectionLost as exc:
            self.record("banner", started, False, of_error(exc), BROKEN, lost=exc.how, cause="server-unhealthy")
            return False
        except ProtocolViolation as exc:
            said = text("banner.not_smtp", reason=of_error(exc))
            self.record("banner", started, False, said, UNAVAILABLE, error=True)
            return False
        facts = {"reply_code": reply.code, "banner": list(reply.lines)}
        if reply.code != 220:
            said = text("banner.refused", reply=reply.summary())
            self.record("banner", started, False, said, UNAVAILABLE, **facts, cause="service-unavailable")
            return False
        self.masked = looks_masked(" ".join(reply.lines))
        if self.masked:
            said = text("banner.masked", reply=reply.summary())
            self.record("banner", started, False, said, None, **facts, cause="smtp-inspection")
        else:
            self.record("banner", started, True, text("banner.ok", reply=reply.summary()), None, **facts)
        return True

    async def _ehlo(self, session: SmtpSession) -> frozenset[str] | None:
        """EHLO, and HELO after a 5xx (RFC 5321 §3.2, as Exchange does): the extensions, or None
        when the session cannot go on."""
        started = time.perf_counter()
        helo: Reply | None = None
        try:
            reply = await session.ehlo("ehlo")
            if 500 <= reply.code < 600:
                self.masked = self.masked or "XXXX" in " ".join(reply.lines)
                helo = await session.command("ehlo", f"HELO {session.ehlo_name}")
        except (ProbeTimeout, ConnectionLost, ProtocolViolation) as exc:
            cause = "smtp-inspection" if self.masked else "server-unhealthy"
            self.record("ehlo", started, False, of_error(exc), BROKEN, **_broke(exc), cause=cause)
            return None
        facts: dict[str, Any] = {"reply_code": reply.code, "ehlo": list(reply.lines)}
        inspection = "smtp-inspection" if self.masked else None
        if helo is not None:
            facts["helo"] = helo.summary()
            key = "ehlo.helo_masked" if self.masked else "ehlo.helo"
            said = text(key, reply=reply.summary(), helo=helo.summary())
            if helo.code != 250:
                self.record("ehlo", started, False, said, UNAVAILABLE, **facts, cause=inspection)
                return None
            self.record("ehlo", started, False, said, None, **facts, cause=inspection)
            return frozenset()
        if reply.code != 250:
            said = text("ehlo.refused", reply=reply.summary())
            self.record("ehlo", started, False, said, UNAVAILABLE, **facts, cause="service-unavailable")
            return None
        hidden = sorted(k for k in reply.keywords if _MASKED_KEYWORD.fullmatch(k))
        self.masked = self.masked or bool(hidden)
        facts |= {"extensions": sorted(reply.keywords), "starttls_offered": "STARTTLS" in reply.keywords}
        if hidden:
            said = text("ehlo.masked", keywords=", ".join(hidden))
            self.record("ehlo", started, False, said, None, **facts, cause="smtp-inspection")
        else:
            listed = ", ".join(sorted(reply.keywords))
            said = text("ehlo.ok", extensions=listed) if listed else text("ehlo.ok_none")
            self.record("ehlo", started, not self.masked, said, None, **facts, cause=inspection)
        return reply.keywords

    async def _starttls(self, session: SmtpSession, keywords: frozenset[str]) -> Text:
        started = time.perf_counter()
        code = UNAVAILABLE if self.require_tls else None
        if "STARTTLS" not in keywords:
            key = "starttls.missing_required" if self.require_tls else "starttls.missing"
            said = text(key + ("_masked" if self.masked else ""))
            cause = "smtp-inspection" if self.masked else "no-starttls"
            self.record("starttls", started, False, said, code, offered=False, cause=cause)
            return text("reason.no_starttls")
        try:
            reply = await session.command("starttls", "STARTTLS")
        except (ProbeTimeout, ConnectionLost, ProtocolViolation) as exc:
            self.record(
                "starttls", started, False, of_error(exc), BROKEN, offered=True, **_broke(exc), cause="server-unhealthy"
            )
            return text("reason.starttls_broke")
        if reply.code != 220:
            said = text("starttls.refused", reply=reply.summary())
            self.record("starttls", started, False, said, code, offered=True, reply_code=reply.code)
            return text("reason.starttls_refused")
        context = verifying_context(self.ctx, self.tls_domain)
        try:
            tls = await session.upgrade(context, self.target.host)
        except CertificateRejected as exc:
            self.tls = exc
            self.record("starttls", started, True, text("starttls.certificate_stop"), None, offered=True)
            return NO_REASON
        except (ProbeTimeout, ConnectionLost, TlsFailed) as exc:
            self.tls_failure = of_error(exc)
            self.record(
                "starttls", started, False, of_error(exc), BROKEN, offered=True, **_broke(exc), cause="server-unhealthy"
            )
            return text("reason.handshake_incomplete")
        self.tls = tls
        facts: dict[str, Any] = {"offered": True, "tls_version": tls.version, "cipher": tls.cipher}
        try:
            again = await session.ehlo("starttls")
        except (ProbeTimeout, ConnectionLost, ProtocolViolation) as exc:
            said = text("starttls.ehlo_failed", version=str(tls.version), reason=of_error(exc))
            self.record("starttls", started, False, said, BROKEN, **facts, **_broke(exc), cause="server-unhealthy")
            return NO_REASON
        facts |= {"ehlo_after_tls": again.code, "extensions_after_tls": sorted(again.keywords)}
        said = text("starttls.ok", version=str(tls.version), code=again.code)
        self.record("starttls", started, True, said, None, **facts)
        return NO_REASON

    async def _handshake(self, context: ssl.SSLContext) -> TlsInfo:
        """A fresh connection up to the TLS handshake with ``context`` (for the TLS steps)."""
        try:
            conn = await connect(self.ctx, self.target)
        except OSError as exc:
            said = text("smtp.reconnect_failed", error=describe_oserror(exc))
            raise error(ConnectionLost, said, how="connect") from None
        session = SmtpSession(conn, self.ctx)
        try:
            banner = await session.read_reply("banner", self.ctx.config.timeouts.banner, text("during.greeting"))
            if banner.code != 220:
                raise error(ProtocolViolation, text("smtp.reconnect_greeting", reply=banner.summary()))
            await session.ehlo("ehlo")
            reply = await session.command("starttls", "STARTTLS")
            if reply.code != 220:
                raise error(ProtocolViolation, text("smtp.reconnect_starttls", reply=reply.summary()))
            tls = await session.upgrade(context, self.target.host)
            await session.quit()
        except BaseException:
            conn.abort()
            raise
        await session.close()
        return tls


async def probe_smtp_host(
    ctx: ProbeContext,
    host: str,
    ip: str,
    *,
    require_tls: bool = False,
    tls_domain: str | None = None,
    on_step: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Walk the SMTP path to ``ip`` (an address of ``host``) as Exchange Online would.

    Returns one ProbeResult per step of ``STEPS``, in that order, each with target
    ``"host (ip:port)"`` and ``facts["address"] == ip``. Raises TargetRefused when the guard
    refuses ``ip``; every other failure is a result. ``require_tls``: the connector requires
    TLS; ``tls_domain``: DomainValidation's TLS domain (``*.contoso.com`` allowed);
    ``on_step`` is called with each step's result as soon as it is known (progress, and what a
    caller cut off by its deadline still learnt).
    """
    checked = ctx.guard.check(ip, host=host)
    target = Target(host.strip().rstrip(".") or str(checked), str(checked), ctx.config.smtp_port)
    return await _Path(ctx, target, require_tls=require_tls, tls_domain=tls_domain, on_step=on_step).run()
