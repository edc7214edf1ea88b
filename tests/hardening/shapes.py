"""Bounce shapes for the fuzzers: hypothesis strategies that build real-looking inputs.

Random bytes rarely get past the first check of a parser, so the strategies here build what the
bot is pasted every day and then vary it: RFC 3464 ``multipart/report`` messages (the text part
7bit, quoted-printable or base64; the delivery-status part plain or base64; the original as
``message/rfc822`` or ``text/rfc822-headers``), Exchange Online queue errors with the cause
nested in ``[{LED=...}]`` wrappers, Postfix ``said:`` lines, and the same text as Slack delivers
it (``&lt;mailto:a@b|a@b&gt;``, ``&amp;``, code fences). Each comes in LF, CRLF or CR-only line
endings.

``Shaped`` keeps the oracle next to the input: the code and recipient a correct parser must
find, when the shape makes them unambiguous. ``bench/fuzz_parser.py`` uses the same builders
for its seeds.
"""

from __future__ import annotations

import base64
import quopri
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

LINE_ENDINGS = ("\n", "\r\n", "\r")
CONNECTOR_CODES = ("4.4.312", "4.4.315", "4.4.316", "4.4.317", "4.4.318", "4.7.320")
LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
DOMAIN = st.builds(lambda a, b: f"{a}.{b}.test", LABEL, LABEL)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LABEL, DOMAIN)
IPV4 = st.sampled_from(("203.0.113.25", "198.51.100.7", "192.0.2.10"))
# Enhanced codes a sender reports for a failed (5) or delayed (4) delivery, RFC 3463 section 3.
FAILURE_STATUS = st.builds(
    lambda cls, subject, detail: f"{cls}.{subject}.{detail}",
    st.sampled_from("45"),
    st.integers(1, 7),
    st.integers(1, 30),
)
REPLY = {"4": "450", "5": "550"}
TEXT_ENCODINGS = ("7bit", "quoted-printable", "base64")
JUNK = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "[{LED=",
            "};{MSG=};{FQDN=",
            "[Message=",
            "]",
            "=\r\n",
            "=C3=A9",
            "&lt;",
            "&amp;gt;",
            "<mailto:",
            "|",
            "```",
            "--b1\n",
            "Content-Type: multipart/report; boundary=b1\n",
            "Content-Transfer-Encoding: base64\n",
            "\r",
            "\x00",
            "550 5.1.1 ",
            "4.4.7 QUEUE.Expired",
        ]
    ),
)


@dataclass(frozen=True)
class Shaped:
    """One generated input and what a correct parse of it contains (None: not asserted)."""

    data: bytes
    status: str | None = None
    recipient: str | None = None

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"Shaped(status={self.status!r}, recipient={self.recipient!r}, data={self.data!r})"


def with_line_endings(text: str, eol: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", eol)


def encode_body(text: str, encoding: str) -> str:
    raw = text.encode("utf-8")
    if encoding == "base64":
        return base64.encodebytes(raw).decode("ascii")
    if encoding == "quoted-printable":
        return quopri.encodestring(raw).decode("ascii")
    return text


_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def slack_escape(text: str) -> str:
    """What Slack's ``text`` field holds for a pasted bounce: <, > and & escaped, addresses linked
    (``a@b.test`` becomes ``<mailto:a@b.test|a@b.test>``)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ADDRESS.sub(lambda m: f"<mailto:{m.group(0)}|{m.group(0)}>", out)


def slack_quote(text: str) -> str:
    """The text pasted as a Slack block quote: every line starts with ``&gt; ``."""
    return "\n".join(f"&gt; {line}" for line in slack_escape(text).split("\n"))


def queue_line(status: str, host: str, ip: str) -> str:
    reply = REPLY[status[0]]
    return f"{reply} {status} Connection refused [LastAttemptedServerName={host}] [LastAttemptedIP={ip}:25]"


def nested_led(status: str, host: str, ip: str, depth: int) -> str:
    """Exchange's expiry wrapper around the cause, the cause nested ``depth`` brackets deep."""
    inner = f"{REPLY[status[0]]} {status} Connection refused [Message=451 {status} Target host responded with error]"
    for _ in range(depth - 1):
        inner = f"[{{LED={inner}}};{{MSG=}};{{FQDN={host}}};{{IP={ip}}}]"
    return (
        f"550 4.4.7 QUEUE.Expired; message expired [{{LED={inner}}};{{MSG=}};{{FQDN={host}}};{{IP={ip}}};"
        f"{{LRT=11/29/2026 8:12:00 PM}}]"
    )


def dsn_report(
    recipient: str, status: str, host: str, ip: str, *, encoding: str, dsn_base64: bool, original: str
) -> str:
    """An RFC 3464 report (RFC 6522 ``multipart/report``), as Postfix writes one."""
    reply = REPLY[status[0]]
    human = (
        f"This is the mail system at host relay.sender.test.\n\n"
        f"I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{recipient}>: host {host}[{ip}] said: {reply} {status} <{recipient}>: Recipient address rejected "
        f"(in reply to RCPT TO command)\n"
    )
    dsn = (
        "Reporting-MTA: dns; relay.sender.test\nArrival-Date: Sun, 29 Nov 2026 20:00:00 +0000\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        f"Action: {'failed' if status[0] == '5' else 'delayed'}\nStatus: {status}\n"
        f"Remote-MTA: dns; {host}\nDiagnostic-Code: smtp; {reply} {status} <{recipient}>: Recipient address rejected\n"
    )
    dsn_headers = "Content-Type: message/delivery-status\n"
    if dsn_base64:
        dsn_headers += "Content-Transfer-Encoding: base64\n"
        dsn = base64.encodebytes(dsn.encode()).decode("ascii")
    if original == "rfc822":
        original_part = (
            "Content-Type: message/rfc822\n\nFrom: someone@sender.test\n"
            f"To: {recipient}\nSubject: quarterly figures\nMessage-ID: <abc@sender.test>\n\n"
            "Please find attached. 550 5.7.1 in the body of the original must not count.\n"
        )
    else:
        original_part = (
            "Content-Type: text/rfc822-headers\n\nFrom: someone@sender.test\n"
            f"To: {recipient}\nSubject: quarterly figures\n"
        )
    return (
        "From: MAILER-DAEMON@relay.sender.test (Mail Delivery System)\n"
        "To: someone@sender.test\nSubject: Undelivered Mail Returned to Sender\n"
        "Date: Sun, 29 Nov 2026 20:00:01 +0000\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B-1/relay"\n\n'
        "This is a MIME-encapsulated message.\n\n--B-1/relay\n"
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {encoding}\n\n"
        f"{encode_body(human, encoding)}\n--B-1/relay\n{dsn_headers}\n{dsn}\n--B-1/relay\n"
        f"{original_part}\n--B-1/relay--\n"
    )


@st.composite
def dsn_messages(draw: st.DrawFn) -> Shaped:
    recipient, status = draw(ADDRESS), draw(FAILURE_STATUS)
    text = dsn_report(
        recipient,
        status,
        draw(DOMAIN),
        draw(IPV4),
        encoding=draw(st.sampled_from(TEXT_ENCODINGS)),
        dsn_base64=draw(st.booleans()),
        original=draw(st.sampled_from(("rfc822", "headers"))),
    )
    eol = draw(st.sampled_from(LINE_ENDINGS))
    return Shaped(with_line_endings(text, eol).encode(), status, recipient)


@st.composite
def queue_errors(draw: st.DrawFn) -> Shaped:
    """An Exchange Online queue error or expiry NDR line, nested or not, maybe pasted in Slack."""
    status = draw(st.sampled_from(CONNECTOR_CODES))
    host, ip = draw(DOMAIN), draw(IPV4)
    depth = draw(st.integers(0, 4))
    text = queue_line(status, host, ip) if depth == 0 else nested_led(status, host, ip, depth)
    recipient = draw(ADDRESS)
    text = f"Delivery has failed to these recipients or groups:\n\n{recipient}\n\nRemote Server returned '{text}'\n"
    if draw(st.booleans()):
        text = slack_escape(text)
        if draw(st.booleans()):
            text = f"```{text}```"
    eol = draw(st.sampled_from(LINE_ENDINGS))
    return Shaped(with_line_endings(text, eol).encode(), status, None)


@st.composite
def mangled(draw: st.DrawFn, base: st.SearchStrategy[Shaped]) -> Shaped:
    """A shaped input with junk spliced in, a part cut off, or bytes repeated: no oracle left."""
    data = draw(base).data
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(("insert", "cut", "repeat", "truncate")))
        if action == "insert":
            data = data[:at] + draw(JUNK).encode("utf-8", "surrogatepass") + data[at:]
        elif action == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 200)) :]
        elif action == "repeat":
            end = min(len(data), at + draw(st.integers(1, 40)))
            data = data[:at] + data[at:end] * draw(st.integers(2, 200)) + data[end:]
        else:
            data = data[:at]
    return Shaped(data)


SHAPED = st.one_of(dsn_messages(), queue_errors())
ANY_INPUT = st.one_of(SHAPED, mangled(SHAPED), st.binary(max_size=2048).map(Shaped))


# Hostile inputs: the worst shape we know for each kind of input, built at any size. Each makes
# one part of the parser work hardest: a backtracking-prone pattern (the first two froze the bot
# before the patterns were made linear), the HTML reader, the MIME reader, long lines, many
# recipients, binary data. ``bench/parse_worst_case.py`` times them at 40,000 characters and at
# 1 MiB; ``test_fuzz_parser.py`` parses each at 1 MiB.
_HEAD = "From: MAILER-DAEMON@relay.sender.test\nTo: someone@sender.test\nSubject: Undeliverable: report\n"


# Four short fields first, so that the input reads as a message whatever the length of To:.
_TO_LAST = "From: MAILER-DAEMON@relay.sender.test\nSubject: Undeliverable\nDate: 1 Dec 2026\nMIME-Version: 1.0\nTo: @"


def _fill(head: str, unit: str, size: int, tail: str = "") -> str:
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


def _message(ctype: str, body: str, extra: str = "") -> str:
    return f"{_HEAD}{extra}MIME-Version: 1.0\nContent-Type: {ctype}\n\n{body}"


def _html(unit: str) -> Callable[[int], bytes]:
    return lambda size: _fill(_message("text/html", "<p>550 5.1.1 user unknown</p>"), unit, size).encode()


def _text(head: str, unit: str, tail: str = "") -> Callable[[int], bytes]:
    return lambda size: _fill(head, unit, size, tail).encode()


def _deep_mime(size: int) -> bytes:
    depth = max(1, size // 60)
    opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return (_HEAD + opening + "Content-Type: text/plain\n\n550 5.1.1 user unknown\n" + closing).encode()[:size]


def _many_parts(size: int) -> bytes:
    part = "--b\nContent-Type: text/plain\n\n550 5.1.1 <a@b.test>: user unknown\n"
    return _fill(_message('multipart/mixed; boundary="b"', ""), part, size, "--b--\n").encode()


def _base64_body(size: int) -> bytes:
    text = _fill("", "550 5.1.1 <a@b.test>: user unknown\n", size * 3 // 4)
    body = base64.encodebytes(text.encode()).decode("ascii")
    return _message("text/plain; charset=utf-8", body, "Content-Transfer-Encoding: base64\n").encode()[:size]


def _dsn_blocks(field: str, unit: str, tail: str = "\n") -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        dsn = _fill(f"Reporting-MTA: dns; relay.sender.test\n\n{field}", unit, size - 400, tail)
        body = (
            "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
            f"--b\nContent-Type: message/delivery-status\n\n{dsn}\n--b--\n"
        )
        return _message('multipart/report; report-type=delivery-status; boundary="b"', body).encode()

    return build


def _recipients(size: int) -> bytes:
    lines = (f"user{i}@fabrikam.test: 550 5.1.1 user unknown\n" for i in range(size // 30))
    return ("Delivery has failed to these recipients:\n\n" + "".join(lines))[:size].encode()


def _random_bytes(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _high_bytes(size: int) -> bytes:
    return _message("text/plain", "").encode() + bytes(random.Random(size).randrange(128, 256) for _ in range(size))


HOSTILE: dict[str, tuple[str, Callable[[int], bytes]]] = {
    # patterns that used to backtrack, and the fragments every pattern family scans for
    "lastattemptedip-colons": ("regex", _text("450 4.4.316 Connection refused [LastAttemptedIP=", ":")),
    "lastattemptedip-repeated": ("regex", _text("450 4.4.316 Connection refused ", "[LastAttemptedIP=" + ":" * 40)),
    "remote-mta-spaces": ("regex", _dsn_blocks("Final-Recipient: rfc822; a@b.test\nRemote-MTA: dns;", " ", "!\n")),
    "to-without-address": (
        "regex",
        lambda size: _fill(_TO_LAST, "a", size, "\n\n550 5.1.1 <c@d.test>\n").encode(),
    ),
    "content-type-open-quote": (
        "regex",
        lambda size: _fill(_HEAD + 'Content-Type: text/plain; a="', "a", size).encode(),
    ),
    "dash-run": ("regex", lambda size: _fill(_message("text/plain", "550 5.1.1 user unknown\n"), "-", size).encode()),
    "host-ipv6-colons": ("regex", _text("550 5.1.1 host mx.fabrikam.test[", ":")),
    "reply-codes": ("regex", _text("", "550 ")),
    "status-codes": ("regex", _text("", "5.5.5 ")),
    "led-brackets": ("regex", _text("550 4.4.7 QUEUE.Expired; ", "[{LED=450 4.4.316 x ")),
    "at-signs": ("regex", _text("550 5.1.1 ", "a@b.")),
    "phrase-prefixes": ("regex", _text("550 5.1.1 ", "user unknow ")),
    "command-words": ("regex", _text("550 5.1.1 ", "in reply to RCPT TO ")),
    "header-lines": ("regex", lambda size: _fill(_HEAD, "X-A: b\n", size, "\n550 5.1.1 x").encode()),
    "lt-run-in-message": ("regex", lambda size: _fill(_HEAD + "\n", "<", size).encode()),  # phrases led by "<"
    # words that announce a returned message: on one endless line, and on short lines each
    # followed by a header field
    "announcing-words": ("regex", _text("550 5.1.1 ", "original message header of ")),
    "announcing-lines": ("regex", _text("550 5.1.1 user unknown\n", "--- original message ---\nFrom x\n")),
    # the HTML reader
    "html-unclosed-script": ("html", _html("<script")),
    "html-unclosed-style": ("html", _html("<style ")),
    "html-lt-run": ("html", _html("<")),
    "html-br-run": ("html", _html("<br")),
    "html-many-tags": ("html", _html("<td>x</td>")),
    "html-entities": ("html", _html("&amp;&#8217;")),
    # the MIME reader
    "mime-deep": ("mime", _deep_mime),
    "mime-many-parts": ("mime", _many_parts),
    "mime-base64": ("mime", _base64_body),
    "mime-qp-soft-breaks": (
        "mime",
        lambda size: _fill(
            _message("text/plain", "", "Content-Transfer-Encoding: quoted-printable\n"), "=\n", size
        ).encode(),
    ),
    "mime-boundary-lines": (
        "mime",
        lambda size: _fill(_message('multipart/mixed; boundary="b"', ""), "--b\n", size).encode(),
    ),
    # long lines
    "one-long-line": ("long lines", _text("550 5.1.1 ", "a")),
    "cr-only": ("long lines", _text("550 5.1.1 user unknown", "\r")),
    "no-line-breaks-words": ("long lines", _text("", "the mailbox is full ")),
    # many recipients
    "text-recipients": ("recipients", _recipients),
    "inline-dsn-fields": (
        "recipients",
        lambda size: _fill(_HEAD + "\n", "Final-Recipient: rfc822; a@b.test\n", size).encode(),
    ),
    "dsn-recipients": (
        "recipients",
        _dsn_blocks("", "Final-Recipient: rfc822; a@b.test\nAction: failed\nStatus: 5.1.1\n\n"),
    ),
    # binary data, and text Slack escaped
    "random-bytes": ("binary", _random_bytes),
    "nul-bytes": ("binary", _text("550 5.1.1 ", "\x00")),
    "undeclared-8-bit": ("binary", _high_bytes),
    "slack-entities": ("slack", _text("550 5.1.1 ", "&lt;&amp;")),
    "slack-unclosed-links": ("slack", _text("550 5.1.1 ", "<mailto:a@b.test")),
    "slack-links": ("slack", _text("550 5.1.1 ", "<mailto:a@b.test|a@b.test> ")),
}
