"""Reading one bounce: bytes or text in, a frozen ``Bounce`` out (``parse_bounce``). Pure: no
I/O, no logging. The package's docstring (``__init__.py``) shows the whole pipeline."""

from __future__ import annotations

import dataclasses
import re
from functools import partial

from bot.parse import language, reason
from bot.parse.alternation import gated, holds_any, trie_pattern
from bot.parse.casing import lower
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
    first_of,
    ip_after_host,
)
from bot.parse.listing import not_failed
from bot.parse.model import Bounce, Code, Delivery
from bot.parse.phrases import reasons_in
from bot.parse.sender import find_sender, receiving_domains
from bot.parse.source import MAX_BYTES, Source, read

__all__ = ["parse_bounce"]

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
# A report's own words, searched in lower-cased text (without re.I the engine can skip ahead on
# first characters), compiled as one trie (``alternation``): a flat alternation would try each
# phrase at each letter.
_MARKER_PHRASES = (
    "remote server returned",
    "diagnostic information for administrators",
    "generating server",
    r"queue\.expired",
    "lastattempted(?:servername|ip)",
    r"resolver\.",
    r"routing\.",
    r"storedrv\.",
    r"smtpsend\.",
    "delivery has failed",
    "could not be delivered",
    "couldn'?t be delivered",
    "wasn'?t delivered",
    "permanent fatal errors",
    r"following address(?:\(es\)|es)? (?:had|failed)",
    "does not like recipient",
    "giving up on",
    "smtp error from remote",
    r"said: ?[245]\d\d",
    "in reply to (?:rcpt to|end of data|mail from|data)",
    "final-recipient:",
    "diagnostic-code:",
    "delivery to the following recipient",
    "message could not be delivered",
    "this is the mail system at host",
    "delivery incomplete",
    "message not delivered",
    "delivery failed",
    "delivery to the following",
    "undeliverable",
    "permanent error",
    "temporary error",
    "retry timeout exceeded",
    "remote host said",
    "unrouteable",
    "could not deliver",
    "unable to deliver",
    "message delivery has been delayed",
    "remoteserver",
    "serveur distant",
    "servidor remoto",
    "リモート サーバー",
    "externe server",
    "원격 서버",
    "connection refused",
    "connection timed out",
    "dns query failed",
    "certificate validation failed",
    r"status: [45]\.\d",
    "action: (?:failed|delayed)",
    "recipient address rejected",
    "user unknown",
    "did not reach the following recipient",
    "had delivery errors",
    "was not delivered to",
    "error delivering",
    "could not be delivered to",
    "failed addresses follow",
    "failure reasons",
    "recipients? (?:was|were) rejected",
    "invalid user address",
    "delivery to the following recipients was aborted",
    "unknown user",
    "not a member of this mailing list",
    "incorrectly constructed",
    "warning message only",
)
_MARKERS = re.compile(trie_pattern(_MARKER_PHRASES))
# Shapes only a real report has (as opposed to words people use when talking about one).
_STRUCTURAL_SHAPES = (
    "remote server returned",
    "diagnostic information for administrators",
    "generating server",
    "lastattempted",
    "final-recipient:",
    "diagnostic-code:",
    r"said: ?[245]\d\d",
    "in reply to (?:rcpt to|end of data|mail from|data)",
    "smtp error from remote",
    "this is the mail system at host",
    "does not like recipient",
    r"<<< ?[245]\d\d",
    r"queue\.expired",
    r"\[\{led=",
    "remoteserver",
    "servidor remoto",
    "serveur distant",
    "リモート サーバー",
    "externe server",
    "원격 서버",
    "technical details of (?:permanent|temporary) failure",
    "the response (?:from the remote server )?was",
    r"host [\w.-]+\[[\d.:a-f]+\]",
    r"connect to [\w.-]+\[",
    "the following address(?:es)? failed",
    "permanent fatal errors",
    "undeliverable message headers",
    "recipient address rejected",
)
_STRUCTURAL = re.compile(trie_pattern(_STRUCTURAL_SHAPES))
# What challenge-response and whitelist systems write: they hold a message until the sender
# proves to be a person, which is not a failed delivery. Searched in lower-cased text.
_CHALLENGE = re.compile(
    r"challenge[- ]response|confirm (?:that )?you are (?:a person|a human|human|not a (?:robot|spammer))|"
    r"prove (?:that )?you are (?:a person|a human|human|not a)|verify (?:your|that you)|sender verification|"
    r"approved senders? list|whitelist(?:ed)?\b|awaiting (?:your )?verification|allow ?list|safe senders? list"
)
# A word each alternative of ``_CHALLENGE`` holds: looked for with ``in`` first, so that the
# pattern (whose scan costs some fifty times as much per character) runs only where one occurs.
_CHALLENGE_WORDS = (
    "challenge",
    "confirm ",
    "prove ",
    "verify ",
    "verification",
    "approved sender",
    "whitelist",
    "allow",
    "safe sender",
)
# Matched on the subject without its leading white space (see ``extract._HEADERISH``).
_CONVERSATION = re.compile(r"(?:re|aw|sv|vs|antw|rv|r|wg|tr)\s*+:", re.I)
_AUTOREPLY = re.compile(r"auto-replied|auto-generated", re.I)


# (a tuple: ``str | bytes`` would build a union object at each call)
_INPUT_TYPES = (str, bytes)


def parse_bounce(data: bytes | str) -> Bounce:
    """Parse one bounce, queue error or pasted NDR. Bad input gives ``is_ndr=False``."""
    # Only the analysed prefix is looked at: a copy of the whole input (strip) would make the
    # memory peak grow with it.
    # (``isspace`` is ``not strip()`` for a non-empty prefix, without stripping a copy of it)
    if not data or not isinstance(data, _INPUT_TYPES) or data[:MAX_BYTES].isspace():
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
    dsn_text = ""
    if source.dsn_recipients:
        # Each block's Status and Diagnostic-Code, the present ones, a line per block (a plain
        # loop: a generator and a filter per block cost more)
        lines = []
        for block in source.dsn_recipients:
            status, diagnostic = block.get("status", ""), block.get("diagnostic-code", "")
            lines.append(f"{status} {diagnostic}" if status and diagnostic else status or diagnostic)
        dsn_text = "\n".join(lines)
    reported = text + ("\n" + dsn_text if dsn_text else "")
    codes = find_codes(reported)
    report = _Report(source)
    why_not = _why_not(report, codes)
    if why_not:
        # positional (the order of ``Bounce``'s fields): a class called with keywords costs more
        return Bounce(False, why_not, None, None, codes, (), None, None, None, None, source.truncated)
    primary = choose_primary(codes)
    deliveries = _deliveries(report, primary, reported, codes)
    remote_host, remote_ip = find_remote(text, report.lowered)
    if len(deliveries) > 1 and deliveries[0].diagnostic and remote_host:
        # Several recipients, several servers: the one that answered the first failed recipient.
        own_host, own_ip = find_remote(deliveries[0].diagnostic)
        if own_host:
            remote_host, remote_ip = own_host, own_ip
    for block in source.dsn_recipients[:1]:
        # Remote-MTA (RFC 3464 section 2.3.5) names the host; some MTAs add its address in prose.
        remote_mta = block.get("remote-mta") or ""
        remote_host = remote_host or dsn_host(remote_mta)
        ip = _IPV4.search(remote_mta) if remote_ip is None else None
        remote_ip = ip.group(0) if ip else remote_ip
    if remote_host and remote_ip is None:
        remote_ip = ip_after_host(text, remote_host, report.lowered)
    reporting = find_reporting(text, report.lowered) or dsn_host(source.dsn_message.get("reporting-mta"))
    first = deliveries[0] if deliveries else None
    if first is not None and first.status and (primary is None or primary.status is None):
        # No enhanced code in the text: the first recipient's status, with the reply its
        # diagnostic ends on (the final answer, not an earlier line of the transcript).
        primary = Code(first.status, first.reply_code, first.diagnostic or "")
    elif first is not None and primary is not None and primary.reply_code is None and first.status == primary.status:
        # (built directly: ``dataclasses.replace`` costs three times as much)
        primary = Code(primary.status, first.reply_code, primary.text, primary.depth)
    lang = language.detect(text, source.headers.get("content-language"))
    sender = find_sender(
        reported,
        source.original,
        lambda: receiving_domains([d.recipient or "" for d in deliveries], remote_host),
        # lower() maps each character on its own around a line break: the parts' lower-cased
        # forms joined are the whole's
        report.lowered + ("\n" + lower(dsn_text) if dsn_text else ""),
    )
    # positional, in the order of ``Bounce``'s fields (is_ndr, why_not, language, primary, codes,
    # deliveries, remote_host, remote_ip, reporting_server, kind, truncated, notes, sender, date)
    return Bounce(
        True,
        None,
        lang,
        primary,
        codes,
        tuple(deliveries),
        remote_host,
        remote_ip,
        reporting,
        "dsn" if source.dsn_recipients else ("message" if source.is_message else "text"),
        source.truncated,
        (),
        sender,
        report_date(source.headers, source.dsn_message, source.dsn_recipients),
    )


# How much of a report's opening is searched for the SMTP command when its recipients' own lines
# name none.
_COMMAND_SPAN = 4000
# The opening that speaks for recipients that have no lines of their own.
_HEAD_SPAN = 1500


class _Report:
    """One report, split once and read from there: its text and its lower-cased form (reading
    has usually computed that; every bounce needs it, so it is a plain attribute), its
    bounce words (``_MARKERS``) and structure (``_STRUCTURAL``), the addresses it names (minus
    its own parties, listings' senders and directory suggestions), the text block after each of
    them, and what its opening says (phrases, SMTP command). Every piece is computed on first
    need and kept, so no step scans the whole text twice for the same thing."""

    __slots__ = (
        "_blocks",
        "_command",
        "_head_phrases",
        "_markers",
        "_parties",
        "_spots",
        "_structural",
        "lowered",
        "source",
        "text",
    )

    def __init__(self, source: Source) -> None:
        self.source = source
        self.text = source.text
        self.lowered: str = source.lowered if source.lowered is not None else lower(source.text)
        self._markers: bool | None = None
        self._structural: bool | None = None
        self._parties: set[str] | None = None
        self._spots: list[tuple[int, str]] | None = None
        self._blocks: dict[str, str] | None = None
        self._head_phrases: frozenset[str] | None = None
        self._command: list[str | None] = []

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

    @property
    def parties(self) -> set[str]:
        if self._parties is None:
            self._parties = _parties(self.source)
        return self._parties

    @property
    def spots(self) -> list[tuple[int, str]]:
        """(offset, address) of each address the text names as a possible failed recipient."""
        if self._spots is None:
            excluded = self.parties | not_failed(self.text, self.lowered)
            named = _without_suggestions(self.text, self.lowered)
            spots = addresses_in(named, excluded)
            if not spots and "@" in named:
                # A report that names no address, over a quoted original sent to one person:
                # that person (with more than one, which of them failed is unknown).
                quoted = addresses_in(named, excluded, quoted_to=True)
                spots = quoted if len(quoted) == 1 else []
            if not spots and "@" in named:
                spots = addresses_in(named, excluded, daemons=True)[:1]  # a mail to postmaster@ failed
            if not spots and "@" in named:
                spots = _listed_party(named, self.parties)  # a message its sender sent to itself
            self._spots = spots
        return self._spots

    def block(self, recipient: str) -> str:
        """The text the report writes about ``recipient``: after its address, up to the next
        address of any kind (a sender or a quoted header ends a block as well)."""
        if self._blocks is None:
            if recipient not in self.lowered:
                # Every address the blocks are keyed by is in the lower-cased text (addresses are
                # ASCII): one the text never names has no block, and the text need not be read.
                return ""
            every = addresses_in(self.text, set())
            self._blocks = {f.recipient or "": f.diagnostic for f in blocks_for(self.text, every)}
        return self._blocks.get(recipient, "")

    @property
    def head_phrases(self) -> frozenset[str]:
        """The reasons the report's opening names (for recipients that say nothing of their own)."""
        if self._head_phrases is None:
            self._head_phrases = reasons_in(self.lowered[:_HEAD_SPAN])
        return self._head_phrases

    @property
    def command(self) -> str | None:
        if not self._command:
            text = self.text[:_COMMAND_SPAN]
            # ASCII text (``isascii`` costs nothing): its lower-cased form's opening is the
            # opening's lower-cased form (not so for every non-ASCII text: a final sigma)
            self._command.append(find_command(text, self.lowered[:_COMMAND_SPAN] if text.isascii() else None))
        return self._command[0]


def _why_not(report: _Report, codes: tuple[Code, ...]) -> str | None:
    """None when the input is a bounce; otherwise a one-line reason why it is not."""
    source = report.source
    if (not source.text or source.text.isspace()) and not source.dsn_recipients:
        return "no readable text"
    if source.report_type == "feedback-report":
        return "an abuse feedback report (ARF), not a bounce"
    if source.report_type == "disposition-notification":
        return "a read receipt (RFC 8098 disposition notification), not a bounce"
    if source.dsn_recipients:
        # A receipt when some block has an Action and each one's first word is a success: a
        # plain loop that stops at the first failure (most reports' first block).
        delivered = False
        for block in source.dsn_recipients:
            action = block.get("action")
            if action:
                if str.lower(action).split()[0] not in _SUCCESSES:
                    return None
                delivered = True
        return "a delivery receipt: every recipient was delivered" if delivered else None
    if _receipt(report, codes):
        return "a delivery receipt: the report says the message was delivered"
    if _quota_notice(report):
        return "a warning about the reader's own mailbox quota, not a bounce"
    strong = False
    for c in codes:
        if c.status and (c.reply_code or c.depth):
            strong = True
            break
    if source.is_message:
        return _why_not_message(source, codes, report, strong=strong)
    # Pasted text: a full reply ("550 5.1.1", a nested code) settles it; a bare status needs the
    # report's own words and an address, or people asking about "5.7.1" would count.
    if strong or (codes and "@" in source.text and report.markers):
        return None
    if "@" in source.text and report.markers and report.structural:
        return None  # e.g. a mail queue listing: "connect to host[ip]:25: Connection refused"
    if report.markers:
        return "talks about a delivery failure but quotes no report"
    return "no SMTP status code in a bounce context" if codes else "no SMTP status code found"


# The Actions of RFC 3464 section 2.3.3 that report no failure.
_SUCCESSES = frozenset({"delivered", "relayed", "expanded"})
_BULK = ("bulk", "list", "junk")  # ``Precedence`` values of mass mail


def _why_not_message(source: Source, codes: tuple[Code, ...], report: _Report, *, strong: bool) -> str | None:
    headers = source.headers
    subject = headers.get("subject", "")
    from_daemon = _DAEMON_FROM.search(headers.get("from", "")) is not None
    # Precedence, List-Id and Auto-Submitted describe how a message was sent, and real reports
    # carry them too: they decide only for a message that has no report shape of its own.
    # (``report.structural`` scans the whole text: it is asked only where it decides.)
    reported = strong or "x-failed-recipients" in headers
    lowered = report.lowered
    if not reported and holds_any(lowered, _CHALLENGE_WORDS) and not report.structural and _CHALLENGE.search(lowered):
        return "a challenge-response or whitelist notice (it asks the sender to confirm), not a bounce"
    auto_submitted = headers.get("auto-submitted")  # (most have none: no search of an empty value)
    if auto_submitted and _AUTOREPLY.search(auto_submitted) and not (codes or report.markers) and not from_daemon:
        return "an automatic reply, not a bounce"
    if (
        not from_daemon
        and not reported
        and ("list-unsubscribe" in headers or str.lower(headers.get("precedence", "")).strip() in _BULK)
        and not report.structural
    ):
        return "a list or bulk message, not a bounce"
    if (
        not from_daemon
        and "auto-submitted" not in headers
        and ("in-reply-to" in headers or _CONVERSATION.match(subject.lstrip()))
        and not _structural_unquoted(report)
    ):
        # People write to each other about bounces; a forwarded NDR still carries its own
        # structure (labels, "said:", DSN fields), which is what we require here.
        return "a conversation about a delivery problem, not a report"
    # the subject's pattern (a long alternation, any case) last: a daemon's report needs none
    bounce_headers = from_daemon or "x-failed-recipients" in headers or _SUBJECT.search(subject) is not None
    if bounce_headers and (codes or "x-failed-recipients" in headers or report.markers or reasons_in(report.lowered)):
        return None
    if report.markers and (strong or reasons_in(report.lowered)):
        return None
    return "no delivery failure found in the message"


# What a delivery receipt without a DSN part says in its opening (Postfix's success notice,
# Exchange's "Delivered:" and "Relayed:" notices, pasted or mailed as text), and the words a
# report with any failure in it would use besides. Looked for with ``in`` in lower-cased text.
_DELIVERED = (
    "successfully delivered",
    "has been delivered to the following",
    "was delivered to the following",
    "delivery to these recipients or groups is complete",
)
# A report that this message failed (a quota notice may still say that mail "will be refused").
_DELIVERY_FAILED = (
    *("could not be delivered", "couldn't be delivered", "was not delivered", "wasn't delivered", "undeliverable"),
    *("did not reach", "didn't reach", "cannot be reached", "delivery has failed", "unable to deliver"),
)
_FAILED_WORDS = (
    *_DELIVERY_FAILED,
    *("could not", "couldn't", "failed", "not delivered", "unable to"),
    # a notice that lists a delivered recipient and a refused, delayed or expired one, without codes
    *("were rejected", "was rejected", "refused", "delayed", "deferred", "will retry", "keep trying"),
    *("expired", "given up", "gave up"),
)


def _around_deliver(phrases: tuple[str, ...]) -> str:
    """A pattern for ``phrases``, which all hold "deliver": that literal first (the engine skips
    from one occurrence to the next, one scan instead of one per phrase), what comes before it
    checked by a look-behind."""
    alternatives = []
    for phrase in phrases:
        before, _, after = phrase.partition("deliver")
        alternatives.append((f"(?<={re.escape(before)}deliver)" if before else "") + re.escape(after))
    return "deliver(?:" + "|".join(alternatives) + ")"


_DELIVERED_OPENING = re.compile(_around_deliver(_DELIVERED))


def _receipt(report: _Report, codes: tuple[Code, ...]) -> bool:
    """Does the text report a delivery, and no failure: no 4xx/5xx code, no failure words?"""
    lowered = report.lowered
    if _DELIVERED_OPENING.search(lowered, 0, 3000) is None:
        return False
    if any((c.status or c.reply_code or "2")[0] in "45" for c in codes):
        return False
    return not holds_any(lowered, _FAILED_WORDS)


# What a mail system writes to warn a user that their own mailbox nears its quota; such a
# notice may quote the "552 5.2.2" senders will get, but nothing bounced. Looked for with ``in``
# in the lower-cased subject and opening.
_QUOTA_NOTICE = (
    "mailbox is almost full",
    "mailbox is nearly full",
    "mailbox is almost at its",
    "approaching its quota",
    "approaching the quota",
    "nearing its quota",
    "quota warning",
    "mailbox size warning",
    "exceeded its warning",
)


# The notices by the words they hold: a word the opening lacks rules out its notices with one
# scan instead of one per notice.
_QUOTA_GATES = ("mailbox", "quota", "warning")
_QUOTA_GATED = gated(_QUOTA_NOTICE, _QUOTA_GATES, str)


def _quota_words(opening: str) -> bool:
    """``holds_any(opening, _QUOTA_NOTICE)``, each notice looked for only where its words occur."""
    return holds_any(opening, _QUOTA_GATED["mailbox" in opening, "quota" in opening, "warning" in opening])


def _quota_notice(report: _Report) -> bool:
    """Does the text warn of the reader's own quota? A report that says a message failed is a
    bounce, also of a quota warning mailed to someone else ("Undeliverable: Quota warning")."""
    opening = str.lower(report.source.headers.get("subject", "") + "\n") + report.lowered[:600]
    if not _quota_words(opening) or report.structural:
        return False
    return not holds_any(report.lowered, _DELIVERY_FAILED)


def _structural_unquoted(report: _Report) -> bool:
    """Has the report's text a report's structure outside its quoted lines?"""
    lowered = report.lowered
    unquoted = _unquoted(lowered)
    return report.structural if unquoted is lowered else _STRUCTURAL.search(unquoted) is not None


def _unquoted(text: str) -> str:
    """``text`` without its quoted lines (``> ...``): what a reply says in its own words."""
    if "\n>" not in text and not text.startswith(">"):
        return text
    return "\n".join(line for line in text.split("\n") if not line.startswith(">"))


def _deliveries(
    report: _Report, fallback: Code | None, reported: str = "", codes: tuple[Code, ...] = ()
) -> list[Delivery]:
    """One Delivery per failed recipient; ``fallback`` is the report's primary code, for a
    recipient whose own lines name none. ``codes`` are ``find_codes(reported)``, and
    ``fallback`` their ``choose_primary``: a diagnostic that is the whole report (a one-line
    report, a report that names no recipient) is not read for its codes again."""
    source = report.source
    found = _from_dsn(report) or _from_text(report)
    out: list[Delivery] = []
    for item in found:
        if not item.diagnostic:
            local: tuple[Code, ...] = ()
            best = None
        elif item.diagnostic == reported:
            local, best = codes, fallback
        else:
            local = find_codes(item.diagnostic)
            best = choose_primary(local)
        status = item.status
        reply_code = best.reply_code if best else None
        if best and best.status and _diagnostic_status_wins(status, best.status):
            status = best.status
        if not status and not reply_code and fallback:
            status, reply_code = fallback.status, fallback.reply_code
        if reply_code is None and fallback and fallback.status == status:
            reply_code = fallback.reply_code
        diagnostic = " ".join(item.diagnostic.split())[:1000] if item.diagnostic else None
        # (the first characters compared: ``startswith`` parses its arguments from a tuple)
        still_queued = item.action is not None and str.lower(item.action[:5]) == "delay"
        delayed = still_queued or bool(status and status[0] == "4")
        context = diagnostic or source.text[:_HEAD_SPAN]  # the report's opening, when the recipient has no lines
        said = lowered = None  # ``diagnostic.lower()``, ``context.lower()`` when known
        phrases: frozenset[str] | partial[frozenset[str]]
        if diagnostic:
            said = lowered = str.lower(diagnostic)
            if local:
                # With codes of its own the diagnostic is the context whatever its phrases say, and
                # the classifier asks for them only where no earlier evidence decides (a provider's code)
                phrases = partial(_phrases, diagnostic, said)
            else:
                phrases = _phrases(diagnostic, said)
                if not phrases:
                    # The lines after the address say nothing (the reason sits above it, or in a
                    # section of its own): classify on the whole report.
                    context, lowered = _with_opening(diagnostic, said, report)
                    phrases = report.head_phrases
        elif reason.STATUS_NAME.get(status or "", "") not in reason.RETRY:
            phrases = frozenset()  # nothing said about this recipient: its status speaks
        else:
            phrases = report.head_phrases
        # positional (``classify``'s order): a call with keywords costs more
        why = reason.classify(
            status,
            context,
            delayed,
            reply_code,
            item.command or partial(_command, report, item),  # found only if a rule asks
            item.diagnostic_type,
            item.recipient,
            phrases,
            still_queued,
            # read by the last rule only: most deliveries are decided before it
            partial(_says_something, diagnostic, said, item.recipient) if item.own and diagnostic else False,
            item.category,
            lowered,
        )
        # positional: a class called with keywords costs twice as much
        out.append(Delivery(item.recipient, status, reply_code, why, item.remote_host, diagnostic, item.action))
    # The failed recipients first, then the delayed ones (in the report's order within each):
    # the first delivery is the one the report is about when it lists both.
    if len(out) > 1:
        out.sort(key=_delayed)
    return out


def _with_opening(diagnostic: str, said: str, report: _Report) -> tuple[str, str]:
    """``diagnostic`` and the report's opening as one text, and that text lower-cased; ``said`` is
    ``diagnostic.lower()``. The parts' lower-cased forms joined are the whole's (``str.lower``
    maps each character on its own around a line break, a final sigma included), and an ASCII
    opening's is the report's lower-cased text's opening: nothing is lower-cased twice."""
    head = report.text[:_HEAD_SPAN]
    return diagnostic + "\n" + head, said + "\n" + (report.lowered[:_HEAD_SPAN] if head.isascii() else str.lower(head))


class _DsnFound(Found):
    """A recipient of a DSN (RFC 3464): its command, when a rule asks, is looked for in its
    Diagnostic-Code field, then in what the human-readable part writes about it."""

    __slots__ = ()


def _command(report: _Report, item: Found) -> str | None:
    """The SMTP command ``item``'s own lines name, else the one the report's opening names."""
    if type(item) is _DsnFound:
        if item.command is None:
            command = find_command(item.diagnostic)
            if command is None and item.recipient:
                # The human-readable part often says more about the recipient (Postfix: "in
                # reply to ..."), needed when the DSN field says little.
                extra = report.block(item.recipient)
                if extra:
                    command = find_command(extra)
            if command:
                return command
    elif item.command is None and not (item.diagnostic is report.text and len(item.diagnostic) <= _COMMAND_SPAN):
        command = find_command(item.diagnostic or "")
        if command:
            return command
    # "" from _from_dsn: searched there, nothing found; a whole report: the same search, done once
    return report.command


def _delayed(delivery: Delivery) -> bool:
    code = delivery.status or delivery.reply_code or ""
    return str.lower(delivery.action or "").startswith("delay") or code[:1] == "4"


def _phrases(diagnostic: str, said: str) -> frozenset[str]:
    """The reasons a diagnostic's phrases name, read across its reply's lines; ``said`` is
    ``diagnostic.lower()``."""
    one = _one_reply(diagnostic)
    return reasons_in(said if one is diagnostic else str.lower(one))


# The code a multi-line reply opens with (RFC 5321 section 4.2.1: "550-5.2.1 ..." on every line
# but the last, "550 5.2.1 ..."), to drop where it repeats so that phrases read across lines.
# Led by its dash, the code before it checked by a look-behind: the engine skips ahead to the
# literal instead of trying a character class at every character.
_REPLY_OPENING = re.compile(r"-(?<=([245]\d\d)-)([245]\.\d{1,3}\.\d{1,3} )?")


def _one_reply(diagnostic: str) -> str:
    """A multi-line reply joined as one: ``550-5.2.1 at a rate that 550-5.2.1 prevents`` reads
    ``550-5.2.1 at a rate that prevents``."""
    # every opening holds a dash (``in`` first: a test costs less than a search)
    m = _REPLY_OPENING.search(diagnostic) if "-" in diagnostic else None
    if m is None:
        return diagnostic
    code, status = m.group(1), m.group(2) or ""
    head, rest = diagnostic[: m.end()], diagnostic[m.end() :]
    for prefix in (f" {code}-{status}", f" {code} {status}"):
        if prefix in rest:
            rest = rest.replace(prefix, " ")
    return head + rest


def _diagnostic_status_wins(field: str | None, said: str) -> bool:
    """Does the status the remote server said (in Diagnostic-Code or the text after the address)
    replace the Status field? Yes when the field is missing or vague (X.0.0), or of the same class:
    the field is the reporting MTA's own mapping, the reply is what went wrong (a field 5.1.1
    against "552 5.2.2 Over quota"). Also when the field is the queue's expiry wrapper (X.4.7)
    or differs only in class (4.2.2 against 5.2.2)."""
    if not field or field.endswith(".0.0") or field[0] == said[0]:
        return True
    return field[2:] in ("4.7", said[2:])


def _says_something(diagnostic: str | None, lowered: str | None, recipient: str | None) -> bool:
    """Does the diagnostic say anything beyond naming the recipient (``* user@example.org``)?
    ``lowered`` is ``diagnostic.lower()``."""
    if not diagnostic:
        return False
    rest = diagnostic
    if recipient:
        rest = (lowered if lowered is not None else str.lower(diagnostic)).replace(recipient, " ")
    return _ALNUM.search(rest) is not None


# A letter or digit: a character for which ``str.isalnum`` holds (``\w`` is that, or "_").
_ALNUM = re.compile(r"[^\W_]")


_STATUS_FIELD = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
# A match can only start where a run of address characters starts (the lookbehind): a scan of a
# long run without an "@" then reads it once instead of once from each of its characters.
_PARTY = re.compile(r"(?<![^\s<>,;\"'])[^\s<>,;\"']+@[^\s<>,;\"']+")
_TRANSCRIPT_CODE = re.compile(r"^[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} ?)?")


def _transcript(text: str) -> str:
    """The remote server's last reply as a Sendmail transcript quotes it (``<<< 550-5.7.1 ...``
    lines after the last ``>>>`` command), joined into one line without the repeated codes."""
    if "<<< " not in text:
        return ""
    # from the last command's line on: each command's line drops the replies read before it
    return _last_reply(text[text.rfind("\n>>> ") + 1 :].split("\n"))


def _last_reply(transcript: list[str]) -> str:
    """The replies after the last ``>>>`` command among a transcript's lines, joined as one."""
    lines: list[str] = []
    for line in transcript:
        if line.startswith(">>> "):
            lines = []  # a new command: the replies to the earlier ones are not the final answer
        elif line.startswith("<<< ") and len(lines) < 20:
            lines.append(line[4:].strip())
    first = lines[0] if lines else ""
    code = _TRANSCRIPT_CODE.match(first)
    joined = " ".join(_TRANSCRIPT_CODE.sub("", line) for line in lines)
    return (code.group(0).replace("-", " ", 1) if code else "") + joined


def _from_dsn(report: _Report) -> list[Found]:
    source = report.source
    found: list[Found] = []
    # (``in`` first: most texts quote no transcript, and the test costs less than a call)
    transcript = _transcript(source.text) if len(source.dsn_recipients) == 1 and "<<< " in source.text else ""
    taken: set[str] = set()
    for block in source.dsn_recipients:
        recipient, bare = _dsn_recipient(block)
        if recipient is None:
            recipient = _implied(bare, source) or _named_in_text(report, bare, taken)
        if recipient:
            taken.add(recipient)
        action = str.lower(block.get("action") or "").split(" ")[0] or None
        if action in _SUCCESSES:
            continue
        # "5.1.1", "5.1.1 (permanent failure)", "5.1.1;": the code the field opens with.
        opening = _STATUS_FIELD.match(block.get("status", "").strip())
        status = opening.group(0) if opening else None
        diagnostic = block.get("diagnostic-code", "")
        diagnostic_type = "SMTP"
        if ";" in diagnostic[:12]:
            kind, diagnostic = diagnostic.split(";", 1)
            diagnostic_type = kind.strip().upper() or "SMTP"
            diagnostic = diagnostic.strip()
        if transcript and (not diagnostic or _TRANSCRIPT_CODE.sub("", diagnostic)[:40] in transcript):
            diagnostic = transcript
        command: str | None = None  # looked for when a rule asks (``_command``)
        if not diagnostic:
            # The human-readable part says about the recipient what the DSN field does not.
            diagnostic = report.block(recipient) if recipient else ""
            command = ""  # (no command is looked for in that part then)
        remote = dsn_host(block.get("remote-mta"))
        category = ""
        for field in _VERDICT_FIELDS:  # a plain loop: a generator costs more, and most have none
            if field in block:
                category = block[field]
                break
        # positional (the order of ``Found``'s parameters): a class called with keywords costs more
        item = _DsnFound(recipient, diagnostic, action, status, remote, diagnostic_type, command, True, category)
        found.append(item)
    return found


_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
# Per-recipient DSN extension fields in which the reporting MTA states its own classification
# of the failure (RFC 3464 section 2.4 allows "X-" fields): PowerMTA's bounce category.
_VERDICT_FIELDS = ("x-powermta-bouncecategory",)
_LOCAL_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")


def _listed_party(text: str, parties: set[str]) -> list[tuple[int, str]]:
    """A party of the report (its own receiver, the original's sender) that the text lists where
    failed recipients go, alone on a line or as qmail's ``<addr>:``: someone who wrote to
    themselves. Other mentions of a party (greetings, "your message from ...") do not count."""
    for start, raw in addresses_in(text, set()):
        address = str.lower(raw)
        if address not in parties:
            continue
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line = str.lower(text[line_start : line_end if line_end != -1 else len(text)].strip())
        if line in (address, f"<{address}>", f"<{address}>:", f"{address}:"):
            return [(start, address)]
    return []


def _dsn_recipient(block: dict[str, str]) -> tuple[str | None, str]:
    """The failed address a DSN block names (RFC 3464 section 2.3.2: ``type; address``, the
    type and the field names in any case), and a bare local part when that is all it gives.
    A Final-Recipient of another address type (``x400;``, ``x-local;``) gives way to an
    Original-Recipient (section 2.3.1) that is an address."""
    bare = ""
    for key in _RECIPIENT_FIELDS:
        value = block.get(key)
        if not value:
            continue
        kind, sep, rest = value.partition(";")
        if not sep:
            kind, rest = "rfc822", kind
        address = clean_address(rest)
        if address:
            return address, bare
        rest = rest.strip(" <>\t")
        if not bare and str.lower(kind.strip()) == "rfc822" and _LOCAL_PART.fullmatch(rest):
            bare = rest
    return None, bare


def _implied(local: str, source: Source) -> str | None:
    """A bare local part (AOL's screen names) at the domain of the report's sender, which is
    the domain the name belongs to: ``SkaterDude1987`` from MAILER-DAEMON@aol.com."""
    if not local:
        return None
    sender = clean_address(source.headers.get("from"))
    if not sender:
        return None
    labels = sender.rpartition("@")[2].split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return f"{str.lower(local)}@{'.'.join(labels[-keep:])}"


def _sole_addressee(report: _Report) -> str | None:
    """The returned original's only addressee: one address in its To, none in Cc, and not one of
    the bounce's own parties (a newsletter sent to its own address, its readers in Bcc)."""
    to = report.source.original.get("to", "")
    if not to or report.source.original.get("cc") or to.count("@") != 1:
        return None
    address = clean_address(to)
    return None if address and str.lower(address) in report.parties else address


def _named_in_text(report: _Report, local: str, taken: set[str]) -> str | None:
    """The failed address as the report's text names it, for a DSN block that names none."""
    spots = report.spots
    for _, address in spots:
        if local and address.startswith(str.lower(local) + "@") and address not in taken:
            return address
    return next((a for _, a in spots if a not in taken), None)


def _parties(source: Source) -> set[str]:
    """Addresses that are not failed recipients: the bounce's own sender and receiver, the
    original's sender, and a mailing list's own addresses (RFC 2369 List-Post and List-Owner,
    RFC 2919 List-Id, whose ``name.host`` is the list ``name@host``)."""
    out: set[str] = set()
    list_id = source.headers.get("list-id", "")
    if list_id:
        ident = str.lower(list_id.rpartition("<")[2].strip(" >"))
        name, _, host = ident.partition(".")
        if name and "." in host:
            out.add(f"{name}@{host}")
    for value in (
        source.headers.get("from"),
        source.headers.get("to"),
        source.headers.get("return-path"),
        source.headers.get("list-post"),
        source.headers.get("list-owner"),
        source.original.get("from"),
        source.original.get("return-path"),
        source.original.get("sender"),
        source.original.get("reply-to"),
    ):
        if value and "@" in value:
            plain = value
            if "ailto:" in value or "AILTO:" in value:
                plain = value.replace("mailto:", " ").replace("MAILTO:", " ")
            for addr in _PARTY.findall(plain):  # a plain loop: a generator costs more
                out.add(str.lower(addr.strip(".")))
    return out


def _from_text(report: _Report) -> list[Found]:
    source = report.source
    failed = source.headers.get("x-failed-recipients")
    spots = report.spots
    wanted = [str.lower(a.strip()) for a in failed.split(",") if "@" in a] if failed else _json_bounced(source.text)
    if wanted:
        picked = [(p, a) for p, a in spots if a in wanted]
        if picked:
            spots = picked
        else:
            return [Found(a, source.text) for a in wanted]
    if not spots:
        # The quoted original's To and Cc name who the message was for, not who failed (a list,
        # a Bcc, an alias), unless the report names nobody and the original went to one address
        # only (Postfix's "Delivery report unavailable"): then that is the one that failed. A bare
        # name in the failed-address slot is a mailbox of the reporting domain (AOL's screen names).
        implied = _implied(_bare_recipient(report.lowered), source) or _sole_addressee(report)
        return [Found(implied, source.text, None, None, None, "SMTP", None, False)]  # own=False
    return blocks_for(source.text, spots)  # the report's blocks, one per failed address


# Amazon SES's bounce notification (JSON, often pasted or mailed as text): the failed addresses
# are the "emailAddress" values of its "bouncedRecipients" (or "delayedRecipients") array, whatever their local part
# (``bounce@simulator...``), and the "source" is the sender.
_JSON_EMAIL = re.compile(r'"emailAddress"\s{0,8}:\s{0,8}"([^"\s]{3,320})"')
# The bounce events other sending services post to webhooks (and people paste from their logs)
# name the failed address under one key of their own: "Email" (Postmark), "email" (SendGrid,
# Mandrill), "recipient" (Mailgun), "rcpt_to" (SparkPost). The same event names the sender too
# ("From", "from", "envelope.sender", the message's headers), which is no failed recipient.
_JSON_RECIPIENT = re.compile(r'"(?:email|recipient|rcpt_to)"\s{0,8}:\s{0,8}"([^"\s]{3,320})"', re.I)


def _json_bounced(text: str) -> list[str]:
    """The bounced addresses of an SES notification, also when SNS wraps it as an escaped string,
    or of another service's webhook event."""
    if '"' not in text:
        return []  # every address either form yields is quoted (most reports quote nothing: one scan)
    # ``in`` first: most texts are no SES notification, and the test costs less than ``find``
    start = text.find("bouncedRecipients") if "bouncedRecipients" in text else -1
    if start == -1 and "delayedRecipients" in text:
        start = text.find("delayedRecipients")  # SES's DeliveryDelay event
    if start == -1:
        if '":' not in text and '" :' not in text:
            return []
        return [str.lower(a) for a in _JSON_RECIPIENT.findall(text.replace('\\"', '"')) if "@" in a][:1000]
    end = text.find("]", start)
    array = text[start : end if end != -1 else len(text)].replace('\\"', '"')
    return [str.lower(a) for a in _JSON_EMAIL.findall(array) if "@" in a][:1000]


# Where a report puts a failed address that lacks its domain: Sendmail's list of failed
# addresses, GroupWise's "undeliverable to the following:", and the RCPT command of a transcript.
_BARE_RECIPIENT = re.compile(
    r"(?:following addresses had permanent fatal errors -{1,80}\n[ \t]{0,8}<?|rcpt to: ?<|"
    r"(?:undeliverable|not delivered|could not be delivered) to the following(?: recipients?)?:\n[ \t]{0,8}<?)"
    r"([a-z0-9][a-z0-9._\-]{0,63})>?\s"
)


# Directory look-ups some servers append ("Did you mean one of these people?"): the names
# listed there are suggestions, not failed recipients. Looked for with ``str.find`` in
# lower-cased text.
_SUGGESTIONS = (
    "did you mean",
    "names that may match",
    "names that might match",
    "similar names",
    "similar addresses",
    "suggested recipient",
    "possible matches",
    "possible recipients",
    "found in the directory",
    "matching names in the directory",
)


# The suggestions by the words several of them hold: a word the text lacks rules out its
# suggestions with one scan.
_SUGGESTIONS_GATED = gated(_SUGGESTIONS, ("names", "possible "), str)


def _without_suggestions(text: str, lowered: str) -> str:
    """``text`` up to the line where a directory's list of suggestions starts; ``lowered`` is
    ``text.lower()``."""
    first = first_of(lowered, _SUGGESTIONS_GATED["names" in lowered, "possible " in lowered])
    return text[: text.rfind("\n", 0, first) + 1] if first != -1 else text


def _bare_recipient(lowered: str) -> str:
    """The address of a bare "RCPT TO:" line or fatal-error listing, in lower-cased text."""
    if "fatal errors" not in lowered and "rcpt to:" not in lowered and "to the following" not in lowered:
        return ""
    m = _BARE_RECIPIENT.search(lowered)
    return m.group(1) if m else ""
