"""Which SMTP command (RFC 5321 section 4.1) the remote server was answering when it refused.

The command matters for the reason: a "user unknown" text after ``DATA`` is a content filter
speaking ("filtered"), after ``RCPT`` it is a missing mailbox ("userunknown"); a refusal after
``MAIL`` concerns the sender ("rejected"), one at connection time or after ``EHLO`` the client
host ("blocked").

Strategy: first the explicit shapes MTAs print (Postfix ``in reply to RCPT TO command``, Exim
``SMTP error from remote mail server after RCPT TO:``, Sendmail ``>>> DATA``, qmail ``Giving up``
...), in ``_EXPLICIT``; then, as Sisimai does, the last command name written in upper case as a
word of its own.
"""

from __future__ import annotations

import re

from bot.parse.alternation import holds_any

# (pattern, command) - the first pattern that matches wins; group 1 names the command when given.
# (needle, pattern): each pattern runs only when its literal needle occurs in the lower-cased
# text - a substring test is much cheaper than a regex scan. The first pattern that matches wins.
_EXPLICIT: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (needle, re.compile(pattern))
    for needle, pattern in (
        (
            "in reply to ",
            r"in reply to (?:the )?(end of data|rcpt to|mail from|data|helo|ehlo|starttls|auth|quit|rset)"
            r"\b",
        ),
        (
            "after ",
            r"after (end of data|rcpt to|mail from|data|initial connection|helo|ehlo|starttls|greeting|"
            r"sending mail from|pipelined \w+|rcpt|mail)\b",
        ),
        (">>>", r">>> ?(rcpt|mail|data|helo|ehlo|starttls|auth|quit|\.)\b"),
        (" talking", r"(?:while|when) (?:sending|talking)[^\n]{0,40}?\b(rcpt to|mail from|data|helo|ehlo)\b"),
        (" sending", r"(?:while|when) (?:sending|talking)[^\n]{0,40}?\b(rcpt to|mail from|data|helo|ehlo)\b"),
        ("during ", r"during (rcpt to|mail from|data|connect|connection|helo|ehlo|starttls)\b"),
        # "at" as a word; the boundary is checked after "at ", so that the whole literal leads
        # the pattern and the engine skips ahead to it (an "a" alone is in every other word)
        ("at ", r"at (?<![\w]at )(rcpt to|mail from|data|connect|connection|helo|ehlo|starttls)\b"),
        ("does not like ", r"does not like (recipient|sender)\b"),
        ("_", r"\[(rcpt_to|mail_from)\]"),
        ("[data]", r"\[(data)\]"),
        ("smtp:", r"smtp:(rcpt|mail|data)\b"),
        # led by the literal: the word before it and its boundary are checked behind it
        (" command", r" command\b(?<=\b(rcpt|mail|data) command)"),
    )
)
_NORMAL = {
    "end of data": "DATA",
    ".": "DATA",
    "data": "DATA",
    "rcpt to": "RCPT",
    "rcpt": "RCPT",
    "mail from": "MAIL",
    "mail": "MAIL",
    "sending mail from": "MAIL",
    "helo": "HELO",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "quit": "QUIT",
    "rset": "RSET",
    "initial connection": "CONN",
    "greeting": "CONN",
    "connect": "CONN",
    "connection": "CONN",
    "recipient": "RCPT",
    "sender": "MAIL",
    "rcpt_to": "RCPT",
    "mail_from": "MAIL",
}
# Upper-case command words; the character before is checked in Python (a leading lookbehind
# would stop the engine from skipping ahead to the first letters).
_BARE_WORDS = ("HELO", "EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO", "DATA", "QUIT", "XFORWARD")
_BARE = re.compile(f"({'|'.join(_BARE_WORDS)})" + r"(?![\w@.-])")
_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")

BEFORE_DATA = frozenset({"CONN", "EHLO", "HELO", "MAIL", "RCPT"})


def find_command(text: str, lowered: str | None = None) -> str | None:
    """The SMTP command a diagnostic refers to, normalised (``RCPT``, ``DATA``...), or None.
    ``lowered`` may pass ``text.lower()`` when the caller has it."""
    if not text:
        return None
    if lowered is None:
        lowered = str.lower(text)
    for needle, pattern in _EXPLICIT:
        if needle not in lowered:
            continue
        m = pattern.search(lowered)
        if m:
            word = m.group(1)
            if word.startswith("pipelined "):
                word = word.split(" ", 1)[1]
            return _NORMAL.get(word, word.upper()[:8])
    last = None
    if not holds_any(text, _BARE_WORDS):
        return None  # substring tests are much cheaper than the scan below, and most texts name none
    for m2 in _BARE.finditer(text):
        before = text[m2.start() - 1] if m2.start() else ""
        if before == "(" and m2.group(1) in ("EHLO", "HELO"):
            continue  # "from host (EHLO name)": a Received field quoted in the report (RFC 5321 4.4)
        if before not in _WORDISH:
            last = m2.group(1)
    return last.split(" ")[0] if last else None
