"""The bounce parser: bytes or text in, a frozen ``Bounce`` out. Pure: no I/O, no logging.

    read (source.py)          raw input -> headers, report text, DSN blocks, returned original
                              (MIME via mime.py, a bounded reader; stdlib email as fallback)
    find_codes (codes.py)     every SMTP reply in the report, with nesting depth
    is it a bounce? (here)    evidence from DSN, headers and the text; chat, threads about
                              bounces and newsletters must say no
    deliveries (here)         one per failed recipient, from DSN blocks or from the text
    classify (reason.py)      a reason per delivery, in Sisimai's vocabulary, from the status,
                              the phrase tables (phrases.py) and the SMTP command (command.py)

``parse_bounce`` never raises on bad input: garbage comes back as ``is_ndr=False`` with a reason.
"""

from __future__ import annotations

import dataclasses
import re

from bot.parse import language, reason
from bot.parse.codes import choose_primary, find_codes
from bot.parse.command import find_command
from bot.parse.dates import report_date
from bot.parse.extract import IPV4 as _IPV4
from bot.parse.extract import (
    Found,
    addresses_in,
    blocks_for,
    clean_address,
    dsn_host,
    find_remote,
    find_reporting,
    ip_after_host,
)
from bot.parse.listing import not_failed
from bot.parse.model import Bounce, Code, Delivery
from bot.parse.phrases import reasons_in
from bot.parse.sender import Sender, find_sender, receiving_domains
from bot.parse.source import MAX_BYTES, Source, read

__all__ = ["Bounce", "Code", "Delivery", "Sender", "parse_bounce"]

_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|failure|failed|report|notification)|returned mail|"
    r"failure notice|mail delivery|non[- ]?delivery|could not be delivered|not delivered|bounce|"
    r"delivery has failed|rejected|nondeliverable|mail system error|warning: could not send|"
    r"unzustellbar|non remis|no se puede entregar|no entregado|配信不能|配信できません|onbestelbaar|"
    r"niet bezorgd|배달 못 함|전달되지 않음|unable to deliver|delayed mail|delivery delayed|"
    r"message not delivered|returned to sender|permanent error|error sending|quota|mail failure|"
    r"undeliverable|mail system error|delivery failure|メールエラー|returned mail|not member|"
    r"delivery status notification",
    re.I,
)
_DAEMON_FROM = re.compile(
    r"mailer[- ]?daemon|post[_.-]?master|mail delivery|microsoftexchange|delivery subsystem|"
    r"mail administrator|internet mail delivery|mail system|bounce",
    re.I,
)
_MARKERS = re.compile(
    r"Remote Server returned|Diagnostic information for administrators|Generating server|QUEUE\.Expired|"
    r"LastAttempted(?:ServerName|IP)|RESOLVER\.|ROUTING\.|STOREDRV\.|SMTPSEND\.|Delivery has failed|"
    r"could not be delivered|couldn'?t be delivered|wasn'?t delivered|permanent fatal errors|"
    r"following address(?:\(es\)|es)? (?:had|failed)|does not like recipient|Giving up on|"
    r"SMTP error from remote|said: ?[245]\d\d|in reply to (?:RCPT TO|end of DATA|MAIL FROM|DATA)|"
    r"Final-Recipient:|Diagnostic-Code:|Delivery to the following recipient|message could not be delivered|"
    r"This is the mail system at host|Delivery incomplete|Message not delivered|delivery failed|"
    r"delivery to the following|undeliverable|permanent error|temporary error|retry timeout exceeded|"
    r"Remote host said|unrouteable|could not deliver|unable to deliver|Message delivery has been delayed|"
    r"Remoteserver|serveur distant|servidor remoto|リモート サーバー|externe server|원격 서버|"
    r"Connection refused|Connection timed out|DNS query failed|Certificate validation failed|"
    r"Status: [45]\.\d|Action: (?:failed|delayed)|Recipient address rejected|User unknown|"
    r"did not reach the following recipient|had delivery errors|was not delivered to|error delivering|"
    r"could not be delivered to|failed addresses follow|failure reasons|recipients? (?:was|were) rejected|"
    r"invalid user address|delivery to the following recipients was aborted|unknown user|"
    r"not a member of this mailing list|incorrectly constructed|warning message only".lower(),
)  # searched in lower-cased text: without re.I the engine can skip ahead on first characters
# Shapes only a real report has (as opposed to words people use when talking about one).
_STRUCTURAL = re.compile(
    r"remote server returned|diagnostic information for administrators|generating server|lastattempted|"
    r"final-recipient:|diagnostic-code:|said: ?[245]\d\d|in reply to (?:rcpt to|end of data|mail from|data)|"
    r"smtp error from remote|this is the mail system at host|does not like recipient|<<< ?[245]\d\d|"
    r"queue\.expired|\[\{led=|remoteserver|servidor remoto|serveur distant|リモート サーバー|externe server|"
    r"원격 서버|technical details of (?:permanent|temporary) failure|the response (?:from the remote server )?was|"
    r"host [\w.-]+\[[\d.:a-f]+\]|connect to [\w.-]+\[|the following address(?:es)? failed|"
    r"permanent fatal errors|undeliverable message headers|recipient address rejected"
)
# Matched on the subject without its leading white space (see ``extract._HEADERISH``).
_CONVERSATION = re.compile(r"(?:re|aw|sv|vs|antw|rv|r|wg|tr)\s*+:", re.I)
_AUTOREPLY = re.compile(r"auto-replied|auto-generated", re.I)


def parse_bounce(data: bytes | str) -> Bounce:
    """Parse one bounce, queue error or pasted NDR. Bad input gives ``is_ndr=False``."""
    # Only the analysed prefix is looked at: a copy of the whole input (strip) would make the
    # memory peak grow with it.
    if not data or not (data[:MAX_BYTES].strip() if isinstance(data, str | bytes) else None):
        return Bounce(is_ndr=False, why_not="empty input")
    size = len(data)
    source = read(data)
    bounce = _parse(source)
    if source.attached is not None and (not bounce.is_ndr or not (bounce.codes or bounce.primary)):
        # A forwarded bounce, or a report that only wraps the real one (its own text names no
        # code): the attached message speaks for itself when it is a bounce with a code.
        inner = _parse(read(source.attached))
        named = all(d.recipient for d in inner.deliveries)
        if inner.is_ndr and (not bounce.is_ndr or (inner.codes and named)):
            bounce = inner
    if size > MAX_BYTES:
        note = f"input is {size} bytes; only the first {MAX_BYTES} were analysed"
        bounce = dataclasses.replace(bounce, truncated=True, notes=(*bounce.notes, note))
    return bounce


def _parse(source: Source) -> Bounce:
    text = source.text
    dsn_text = "\n".join(
        " ".join(filter(None, (b.get("status", ""), b.get("diagnostic-code", "")))) for b in source.dsn_recipients
    )
    codes = find_codes(text + ("\n" + dsn_text if dsn_text else ""))
    why_not = _why_not(source, codes)
    if why_not:
        return Bounce(is_ndr=False, why_not=why_not, codes=codes, truncated=source.truncated)
    deliveries = _deliveries(source, codes)
    remote_host, remote_ip = find_remote(text)
    for block in source.dsn_recipients[:1]:
        # Remote-MTA (RFC 3464 section 2.3.5) names the host; some MTAs add its address in prose.
        remote_mta = block.get("remote-mta") or ""
        remote_host = remote_host or dsn_host(remote_mta)
        ip = _IPV4.search(remote_mta) if remote_ip is None else None
        remote_ip = ip.group(0) if ip else remote_ip
    if remote_host and remote_ip is None:
        remote_ip = ip_after_host(text, remote_host)
    reporting = find_reporting(text) or dsn_host(source.dsn_message.get("reporting-mta"))
    primary = choose_primary(codes)
    if primary is None and deliveries and deliveries[0].status:
        first = deliveries[0]
        primary = Code(first.status, first.reply_code, first.diagnostic or "")
    lang = language.detect(text, source.headers.get("content-language"))
    return Bounce(
        is_ndr=True,
        language=lang,
        primary=primary,
        codes=codes,
        deliveries=tuple(deliveries),
        remote_host=remote_host,
        remote_ip=remote_ip,
        reporting_server=reporting,
        kind="dsn" if source.dsn_recipients else ("message" if source.is_message else "text"),
        truncated=source.truncated,
        sender=find_sender(
            text + ("\n" + dsn_text if dsn_text else ""),
            source.original,
            receiving_domains((d.recipient or "" for d in deliveries), remote_host),
        ),
        date=report_date(source.headers, source.dsn_message, source.dsn_recipients),
    )


class _Shapes:
    """The report's bounce words (``_MARKERS``) and structure (``_STRUCTURAL``): each a scan of
    the whole text, so each is searched for only when a decision needs it."""

    __slots__ = ("_lowered", "_markers", "_structural", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lowered: str | None = None
        self._markers: bool | None = None
        self._structural: bool | None = None

    @property
    def lowered(self) -> str:
        if self._lowered is None:
            self._lowered = self.text.lower()
        return self._lowered

    @property
    def markers(self) -> bool:
        if self._markers is None:
            self._markers = _MARKERS.search(self.lowered) is not None
        return self._markers

    @property
    def structural(self) -> bool:
        if self._structural is None:
            self._structural = _STRUCTURAL.search(self.lowered) is not None
        return self._structural


def _why_not(source: Source, codes: tuple[Code, ...]) -> str | None:
    """None when the input is a bounce; otherwise a one-line reason why it is not."""
    if not source.text.strip() and not source.dsn_recipients:
        return "no readable text"
    if source.report_type == "feedback-report":
        return "an abuse feedback report (ARF), not a bounce"
    if source.dsn_recipients:
        actions = {b.get("action", "").lower().split()[0] for b in source.dsn_recipients if b.get("action")}
        if actions and actions <= {"delivered", "relayed", "expanded"}:
            return "a delivery receipt: every recipient was delivered"
        return None
    shapes = _Shapes(source.text)
    strong = any(c.status and (c.reply_code or c.depth) for c in codes)
    if source.is_message:
        return _why_not_message(source, codes, shapes, strong=strong)
    # Pasted text: a full reply ("550 5.1.1", a nested code) settles it; a bare status needs the
    # report's own words and an address, or people asking about "5.7.1" would count.
    if strong or (codes and "@" in source.text and shapes.markers):
        return None
    if "@" in source.text and shapes.markers and shapes.structural:
        return None  # e.g. a mail queue listing: "connect to host[ip]:25: Connection refused"
    if shapes.markers:
        return "talks about a delivery failure but quotes no report"
    return "no SMTP status code in a bounce context" if codes else "no SMTP status code found"


def _why_not_message(source: Source, codes: tuple[Code, ...], shapes: _Shapes, *, strong: bool) -> str | None:
    headers = source.headers
    subject = headers.get("subject", "")
    from_daemon = _DAEMON_FROM.search(headers.get("from", "")) is not None
    if _AUTOREPLY.search(headers.get("auto-submitted", "")) and not (codes or shapes.markers) and not from_daemon:
        return "an automatic reply, not a bounce"
    if not from_daemon and (
        "list-unsubscribe" in headers or headers.get("precedence", "").lower().strip() in ("bulk", "list", "junk")
    ):
        return "a list or bulk message, not a bounce"
    if (
        not from_daemon
        and "auto-submitted" not in headers
        and ("in-reply-to" in headers or _CONVERSATION.match(subject.lstrip()))
        and not shapes.structural
    ):
        # People write to each other about bounces; a forwarded NDR still carries its own
        # structure (labels, "said:", DSN fields), which is what we require here.
        return "a conversation about a delivery problem, not a report"
    bounce_headers = bool(_SUBJECT.search(subject)) or from_daemon or "x-failed-recipients" in headers
    if bounce_headers and (codes or "x-failed-recipients" in headers or shapes.markers or reasons_in(shapes.lowered)):
        return None
    if shapes.markers and (strong or reasons_in(shapes.lowered)):
        return None
    return "no delivery failure found in the message"


def _deliveries(source: Source, codes: tuple[Code, ...]) -> list[Delivery]:
    found = _from_dsn(source) or _from_text(source)
    fallback = choose_primary(codes)
    out: list[Delivery] = []
    text_commands: list[str | None] = []  # the report's command, found on first need
    text_phrases: list[frozenset[str]] = []  # the report's phrases, likewise
    head = source.text[:1500]

    def phrases_of_report() -> frozenset[str]:
        if not text_phrases:
            text_phrases.append(reasons_in(head.lower()))
        return text_phrases[0]

    for item in found:
        local = find_codes(item.diagnostic) if item.diagnostic else ()
        best = choose_primary(local)
        status = item.status
        reply_code = best.reply_code if best else None
        if best and best.status and (not status or status.endswith(".0.0") or status[2:] in ("4.7", best.status[2:])):
            status = best.status
        if not status and not reply_code and fallback:
            status, reply_code = fallback.status, fallback.reply_code
        if reply_code is None and fallback and fallback.status == status:
            reply_code = fallback.reply_code
        diagnostic = " ".join(item.diagnostic.split())[:1000] if item.diagnostic else None
        delayed = (item.action or "").lower().startswith("delay") or bool(status and status.startswith("4"))
        context = diagnostic or head
        if diagnostic:
            phrases = reasons_in(diagnostic.lower())
        elif reason.status_name(status) not in reason.RETRY:
            phrases = frozenset()  # nothing said about this recipient: its status speaks
        else:
            phrases = phrases_of_report()
        if diagnostic and not local and not phrases:
            # The lines after the address say nothing (the reason sits above it, or in a
            # section of its own): classify on the whole report.
            context = diagnostic + "\n" + head
            phrases = phrases_of_report()
        command = item.command if item.command is not None else find_command(item.diagnostic or "")
        if not command:  # "" from _from_dsn: searched there, nothing found
            if not text_commands:
                text_commands.append(find_command(source.text[:4000]))
            command = text_commands[0]
        why = reason.classify(
            status,
            context,
            delayed=delayed,
            reply_code=reply_code,
            command=command,
            diagnostic_type=item.diagnostic_type,
            recipient=item.recipient,
            found=phrases,
            still_queued=(item.action or "").lower().startswith("delay"),
            diagnosed=item.own and _says_something(diagnostic, item.recipient),
        )
        out.append(
            Delivery(
                recipient=item.recipient,
                status=status,
                reply_code=reply_code,
                reason=why,
                remote_host=item.remote_host,
                diagnostic=diagnostic,
                action=item.action,
            )
        )
    return out


def _says_something(diagnostic: str | None, recipient: str | None) -> bool:
    """Does the diagnostic say anything beyond naming the recipient (``* user@example.org``)?"""
    if not diagnostic:
        return False
    rest = diagnostic.lower().replace(recipient, " ") if recipient else diagnostic
    return any(ch.isalnum() for ch in rest)


_STATUS_FIELD = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
# A match can only start where a run of address characters starts (the lookbehind): a scan of a
# long run without an "@" then reads it once instead of once from each of its characters.
_PARTY = re.compile(r"(?<![^\s<>,;\"'])[^\s<>,;\"']+@[^\s<>,;\"']+")
_TRANSCRIPT_CODE = re.compile(r"^[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} ?)?")


def _transcript(text: str) -> str:
    """The remote server's reply as a Sendmail transcript quotes it (``<<< 550-5.7.1 ...`` lines),
    joined into one line without the repeated codes."""
    if "<<< " not in text:
        return ""
    lines = [line[4:].strip() for line in text.split("\n") if line.startswith("<<< ")][:20]
    first = lines[0] if lines else ""
    code = _TRANSCRIPT_CODE.match(first)
    joined = " ".join(_TRANSCRIPT_CODE.sub("", line) for line in lines)
    return (code.group(0).replace("-", " ", 1) if code else "") + joined


def _from_dsn(source: Source) -> list[Found]:
    found: list[Found] = []
    transcript = _transcript(source.text) if len(source.dsn_recipients) == 1 else ""
    # The human-readable part often says more about each recipient (Postfix: "in reply to ..."),
    # needed when the DSN field says little: computed once, on first use.
    text_blocks: dict[str | None, str] = {}

    def text_block(recipient: str) -> str:
        if not text_blocks:
            spots = addresses_in(source.text, set())
            text_blocks.update((i.recipient, i.diagnostic) for i in blocks_for(source.text, spots))
            text_blocks.setdefault(None, "")
        return text_blocks.get(recipient, "")

    for block in source.dsn_recipients:
        recipient = clean_address(
            block.get("final-recipient") or block.get("original-recipient") or block.get("x-actual-recipient")
        )
        action = (block.get("action") or "").lower().split(" ")[0] or None
        if action in ("delivered", "relayed", "expanded"):
            continue
        status = block.get("status", "").strip().split(" ")[0] or None
        if status and not _STATUS_FIELD.fullmatch(status):
            status = None
        diagnostic = block.get("diagnostic-code", "")
        diagnostic_type = "SMTP"
        if ";" in diagnostic[:12]:
            kind, diagnostic = diagnostic.split(";", 1)
            diagnostic_type = kind.strip().upper() or "SMTP"
            diagnostic = diagnostic.strip()
        if transcript and (not diagnostic or _TRANSCRIPT_CODE.sub("", diagnostic)[:40] in transcript):
            diagnostic = transcript
        command = find_command(diagnostic) if diagnostic else None
        extra = text_block(recipient) if recipient and not command else ""
        if not diagnostic:
            diagnostic, extra = extra, ""
        if command is None and extra:
            command = find_command(extra)
        remote = dsn_host(block.get("remote-mta"))
        found.append(Found(recipient, diagnostic, action, status, remote, diagnostic_type, command=command or ""))
    return found


def _parties(source: Source) -> set[str]:
    """Addresses that are not failed recipients: the bounce's own sender and receiver, the original's sender."""
    out: set[str] = set()
    for value in (
        source.headers.get("from"),
        source.headers.get("to"),
        source.headers.get("return-path"),
        source.original.get("from"),
        source.original.get("return-path"),
        source.original.get("sender"),
        source.original.get("reply-to"),
    ):
        if value and "@" in value:
            out.update(addr.strip(".").lower() for addr in _PARTY.findall(value))
    return out


def _from_text(source: Source) -> list[Found]:
    failed = source.headers.get("x-failed-recipients")
    spots = addresses_in(source.text, _parties(source) | not_failed(source.text))
    if failed:
        wanted = [a.strip().lower() for a in failed.split(",") if "@" in a]
        picked = [(p, a) for p, a in spots if a in wanted]
        if picked:
            spots = picked
        else:
            return [Found(a, source.text) for a in wanted]
    if not spots:
        to = clean_address(source.original.get("to") or source.original.get("envelope-to"))
        return [Found(to, source.text, own=False)]
    return blocks_for(source.text, spots)
