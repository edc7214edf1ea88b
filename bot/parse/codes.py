"""Find SMTP replies in text, and pick the one a human should act on.

A reply is a basic code (RFC 5321 section 4.2: ``[245][0-5][0-9]``) optionally followed by an
enhanced status code (RFC 3463 section 2: ``class.subject.detail``), or an enhanced code alone.
Bare numbers are not replies: a basic code counts only where an MTA would put one (start of a
line, after ``said:``, ``returned '``, ``<<<``, ``#``, ``=``, ``[``...). This keeps "550 people
joined" out while keeping ``host x[1.2.3.4] said: 550 ...``.

Exchange nests the real cause inside the expiry wrapper:
``550 4.4.7 QUEUE.Expired; message expired [{LED=450 4.4.316 Connection refused [Message=...]}]``.
``depth`` counts the brackets around a reply; ``choose_primary`` ranks the candidates:
connector errors first, then any specific enhanced code, then the final forms of the connector
errors (5.4.312 ... 5.7.320), then generic X.0.0 codes, then bare reply codes; queue-expiry
wrappers only when nothing else is there.
"""

from __future__ import annotations

import itertools
import re

from bot.parse.model import Code

# Enhanced status code: class 2/4/5, subject and detail 1-3 digits; not part of an IP or version.
_STATUS = r"[245]\.\d{1,3}\.\d{1,3}"
# One pass finds all three shapes: a basic reply followed by an enhanced code ("550 5.1.1",
# "550-5.7.1", "550 #5.1.0", SES's "550-'5.7.1"), a bare basic reply (kept only where
# ``_reply_context`` agrees; it may be followed by a comma or a colon: "550: User unknown",
# Zoho's "ERROR_CODE :550,", a JSON value ending its line; or quoted in a tuple or a list, as
# gateways log the remote reply: "('451', [...])"; a colon may come before it only after a space,
# never in a time or an IPv6 address), and an enhanced code alone. The pattern opens with the
# digit class and checks the character before it with a lookbehind placed after that digit: a
# leading lookbehind (or a leading alternation) would stop the engine from skipping ahead to a 2/4/5.
# The first digit is not a group (it is the match's first character): a pattern that opens with a
# plain literal lets the engine start each try after it.
_ANY_CODE_TEMPLATE = (
    r"{first}(?<![\w.\-/]{first})(?:"
    r"(?<![^ ]:{first})([0-5]\d)"
    r"(?:(?:[ \-]+['#]?|\s*\(#?|\s*#)(" + _STATUS + r")(?!\d)(?!\.\d)"
    r"|(?=[ \-][^\d]|[ \t]*$|-\S|[,:][ \t]|,[\r\n]|['\"][,)\]]))"
    r"|(\.\d{1,3}\.\d{1,3})(?![\w]|\.\d))"
)
_ANY_CODE = re.compile(_ANY_CODE_TEMPLATE.replace("{first}", "[245]"), re.M)
# The same pattern once per first digit. A pattern that opens with a character class costs the
# engine some 70 instructions per character of the text to skip ahead; one that opens with a
# literal, a few: three literal scans cost half of one class scan. Where the matches of the three
# overlap (a reply of one class carrying a status of another, "450 5.1.1"), the one scan decides.
_BY_DIGIT = tuple((digit, re.compile(_ANY_CODE_TEMPLATE.replace("{first}", digit), re.M)) for digit in "245")
# A bare reply code counts only where an MTA would write one: at the start of a line, or after
# one of ``_REPLY_LEADS`` (checked on the text just before the candidate, spaces skipped).
_REPLY_LEADS = (
    "'",
    '"',
    "=",
    "[",
    "(",
    "said:",
    "said)",
    "returned",
    "returned:",
    "<<<",
    ">>>",
    "#",
    "error:",
    "reply:",
    "replied:",  # hMailServer: "Remote server replied: 550 ..."
    "response:",
    "answer:",
    "]:",
    "<--",  # MDaemon's session transcript
    "reason:",
    "code :",  # Zoho: "ERROR CODE :550 - ..."
    "code:",
    'code":',  # a webhook event's JSON: "code": 552
    "\uff1a",  # a full-width colon after a CJK label: "服务器返回：552 ..."
    ">:",  # "<user@example.org>: 550: User unknown"
    "responsecode",  # Zoho: "ResponseCode 421"
    "failure:",
    "to me:",  # "server refused to talk to me: 421 ..."
    # the diagnostic type of a DSN's Diagnostic-Code, quoted in the text: "#< #5.0.0 smtp;550 ...>"
    "smtp;",
    "x-postfix;",
    # how gateways and webmail reports introduce the remote reply in prose; a bare "said",
    # "error" or "code" would also take "said 500 messages", "error 404", "barcode 550 items"
    "server said",
    "host said",
    "server answered",
    "host answered",
    "responded with:",
    "response was",
    "smtp error",  # "SMTP error 550 ...", "Permanent Error 550 ..."
    "permanent error",
    "error code",
    "smtp code",
    "reply code",
    "response code",
    "failed:",
    "rejected with",
    "failed with",
)
MAX_MATCHES = 2000  # candidates examined per pattern: repeated junk cannot make the scan quadratic
# Final forms of the connector errors (5.4.312 ... 5.7.320) wrap them too: the sender gets them
# when the retries run out, often with the last queue error nested inside.
FINAL_FORMS = frozenset({"5.4.312", "5.4.315", "5.4.316", "5.4.317", "5.4.318", "5.7.320"})
WRAPPERS = frozenset({"4.4.7", "5.4.7", "5.4.300", "4.4.300"}) | FINAL_FORMS
CONNECTOR = frozenset({"4.4.312", "4.4.315", "4.4.316", "4.4.317", "4.4.318", "4.7.320"})
MAX_CODES = 64
_TEXT_LEN = 300


_DEPTH_WINDOW = 4000


_BRACKETS = (("[", "]"), ("{", "}"))
# The kinds of ``_BRACKETS`` a text holds, by which occur: none, square, curly, both.
_SQUARE = _BRACKETS[:1]
_BRACKET_KINDS = ((), _SQUARE, _BRACKETS[1:], _BRACKETS)


def _depth(text: str, pos: int, brackets: tuple[tuple[str, str], ...], arrows: bool) -> int:
    """Brackets still open at ``pos``, counted over the preceding window: C-speed counts, so the
    cost is bounded per code (at most ``MAX_CODES`` of them) whatever the input. ``brackets`` are
    the kinds that occur in ``text`` at all (the others need no counting). An arrow earlier on the
    same line (Exchange's ``451 4.4.397 Error communicating ... -> 421 4.4.2 ...``) also nests:
    what follows it is the underlying cause; ``arrows`` says whether ``text`` has any."""
    # One slice, then ``in`` and one-argument calls: a bounded ``str.count`` costs more to call
    # than to count. An opening absent from the window adds nothing (``max(0, -closings)``).
    window = text[pos - _DEPTH_WINDOW : pos] if pos > _DEPTH_WINDOW else text[:pos]
    nested = 0
    for opening, closing in brackets:
        if opening in window:
            opened = window.count(opening) - window.count(closing)
            if opened > 0:
                nested += opened
    if arrows:
        nested += window.rpartition("\n")[2].count("-> ")
    return nested


def _reply_context(text: str, start: int) -> bool:
    """Is the reply code at ``start`` where an MTA would write one?"""
    before = (text[start - 16 : start] if start > 16 else text[:start]).rstrip(" \t")
    if not before or before[-1] == "\n":
        return True
    return str.lower(before).endswith(_REPLY_LEADS)


def _matches(text: str) -> list[re.Match[str]]:
    """The matches of ``_ANY_CODE`` in ``text``, in order (the first ``MAX_MATCHES``), gathered
    from the three literal-led scans of ``_BY_DIGIT``. Where no two of them overlap they are
    exactly the one scan's matches: a position the one scan matches at is skipped by its digit's
    scan only inside a match of that scan that started earlier, which the one scan would have
    found first. Otherwise (or past ``MAX_MATCHES`` of a digit) the one scan runs."""
    found: list[re.Match[str]] = []
    digits = 0
    for digit, pattern in _BY_DIGIT:
        # A search before an iterator: most scans find nothing (over the corpus 1,223 of 2,190),
        # and an iterator costs more to set up than one search; of the scans that find one reply,
        # most find only that one. ``search`` from a position sees the text before it, as the
        # iterator does (the lookbehinds read the text itself), and no match is empty.
        if digit in text and (m := pattern.search(text)) is not None:
            matches = [m]
            m = pattern.search(text, m.end())
            if m is not None:
                matches.append(m)
                rest = pattern.finditer(text, m.end())
                # every match holds three characters at least: a shorter text cannot hold
                # MAX_MATCHES of them
                matches += rest if len(text) < 3 * MAX_MATCHES else itertools.islice(rest, MAX_MATCHES - 2)
                if len(matches) == MAX_MATCHES:
                    return list(itertools.islice(_ANY_CODE.finditer(text), MAX_MATCHES))
            found += matches
            digits += 1
    if digits > 1:
        found.sort(key=re.Match.start)
        end = 0
        for m in found:
            if m.start() < end:
                return list(itertools.islice(_ANY_CODE.finditer(text), MAX_MATCHES))
            end = m.end()
        return found[:MAX_MATCHES] if len(found) > MAX_MATCHES else found
    return found


def find_codes(text: str) -> tuple[Code, ...]:
    """Every reply in ``text``, in order of appearance, deduplicated on (status, reply)."""
    found: list[Code] = []
    # What identifies a reply, (status, reply), as the first digit and the groups it is made of:
    # a repeated reply (a DSN's fields repeat the text's) is dropped before anything is built
    seen: set[tuple[str, tuple[str | None, ...]]] = set()
    brackets: tuple[tuple[str, str], ...] | None = None  # looked for at the first code kept
    arrows = curly = False
    counted = opened = 0  # square brackets opened and not closed before ``counted``
    for m in _matches(text):
        start = m.start()
        first = text[start]
        groups = m.groups()
        key = (first, groups)
        if key in seen:
            continue
        rest, status, alone = groups
        if alone:  # an enhanced code alone
            status = first + alone
            reply = None
        else:
            reply = first + rest
            if status is None and not _reply_context(text, start):
                continue
        seen.add(key)
        # a one-digit subject ("5.1.1", most of them) is valid unless the status is 2.0.0
        if status and (status == "2.0.0" or (status[3] != "." and not _valid_status(status))):
            continue
        if brackets is None:
            curly = "{" in text or "}" in text
            brackets = _BRACKET_KINDS[("[" in text or "]" in text) + 2 * curly]
            arrows = "-> " in text
        if brackets is _SQUARE and not arrows and start <= _DEPTH_WINDOW:
            # The window is the text up to the reply: the brackets before the last reply's are
            # counted already, those since then are added (the replies come in order).
            since = text[counted:start]
            opened += since.count("[") - since.count("]")
            counted = start
            depth = opened if opened > 0 else 0
        else:
            depth = _depth(text, start, brackets, arrows) if brackets or arrows else 0
        # The reply's text after its code: up to ``_TEXT_LEN`` characters, on one line, cut where
        # it stops: at a blank line, or the opening of Exchange's nested reply ("[{") or the end
        # of one ("};"). ``partition`` takes one argument and returns the string itself when the
        # stop is absent (a bounded ``str.find`` costs more to call than to search).
        end = m.end()
        tail = text[end : end + _TEXT_LEN].partition("\n\n")[0]
        if curly:  # Exchange's nested replies: most texts hold no curly bracket at all
            tail = tail.partition("[{")[0].partition("};")[0]
        found.append(Code(status, reply, " ".join(tail.split()).strip(" '\""), depth))
        if len(found) == MAX_CODES:
            break
    return tuple(found)


def _valid_status(status: str) -> bool:
    klass, subject, detail = status.split(".")
    # RFC 3463 subjects are 0-7; 9 is used by some vendors for "other". Details above 999 are noise.
    if klass == "2" and subject == "0" and detail == "0":
        return False
    return klass in "245" and int(subject) <= 9 and len(detail) <= 3


def rank(code: Code) -> tuple[int, int, int]:
    """Higher is better: what a human should act on first (RFC 3463 section 3: X.0.0 and X.Y.0
    say only "other or undefined", so a specific detail code beats them)."""
    status = code.status
    depth = code.depth
    # One character or one slice compared, not ``endswith``/``startswith`` (a method call parses
    # its arguments): ``status[-2:] == ".0"`` is ``status.endswith(".0")``, and so on.
    if status is None:
        score = 1
    elif status in CONNECTOR:
        score = 7
    elif status in FINAL_FORMS:
        score = 4  # above the generic codes, below a specific cause nested inside it
    elif status in WRAPPERS:
        score = 0
    elif status[-2:] == ".0":
        score = 2 if status[-4:] == ".0.0" else 3
    elif status[2:4] == "0.":
        score = 3
    else:
        score = 6 if depth else 5
    # Of two codes as specific, a permanent failure is what a human acts on: in a report that
    # lists a delayed recipient and a failed one, and in a transcript whose "450 busy" came
    # before the final "550".
    permanent = 1 if (status or code.reply_code or " ")[0] == "5" else 0
    return score, depth, permanent


def choose_primary(codes: tuple[Code, ...]) -> Code | None:
    """The code that explains the failure; for a tie, the first one written."""
    if len(codes) == 1:  # half the calls: nothing to rank, and no other code to borrow from
        code = codes[0]
        return None if (code.status or code.reply_code or " ")[0] == "2" else code
    best: Code | None = None
    best_rank = (-1, -1, -1)
    for code in codes:
        if (code.status or code.reply_code or " ")[0] == "2":
            continue  # a success: the transcript's "250 Sender ok" before the failing reply
        r = rank(code)
        if r > best_rank:
            best, best_rank = code, r
    if best is not None and best.reply_code is None and best.status is not None:
        # Borrow the basic code that travels with this status elsewhere in the text.
        for code in codes:
            if code.status == best.status and code.reply_code:
                return Code(best.status, code.reply_code, best.text, best.depth)
        # Or the bare reply that carries it further on its line: qmail's
        # "553 sorry, badrcptto (#5.7.1)".
        for code in codes:
            reply = code.reply_code
            if code.status is None and reply and reply[0] == best.status[0] and best.status in code.text:
                return Code(best.status, reply, best.text, best.depth)
        # Or the bare reply written right after it: Exchange's "<host #5.0.0 smtp;550 ...>".
        for code in codes:
            reply = code.reply_code
            if code.status is None and reply and reply[0] == best.status[0] and reply in best.text[:16]:
                return Code(best.status, reply, best.text, best.depth)
    return best
