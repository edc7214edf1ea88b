"""Addresses that a pasted listing shows as NOT failed: senders, and recipients already delivered.

People paste queue and trace listings rather than bounces: PowerShell tables
(``Get-MessageTrace``: a header line, a line of dash groups, then rows) and Postfix ``mailq``
(a queue-ID line naming the sender, then the recipients, indented). In both the sender sits in a
column of its own, and a trace lists delivered messages next to the failed ones; neither is a
failed recipient. Strategy: find the layout by its separator (the dash line, the queue-ID line),
read the columns it defines, and return the addresses in the sender column or on a delivered row.
Notices that report a mixed outcome in prose do the same with a heading: "Your message was
successfully delivered to the following recipients:", then the list, up to a blank line.
Everything else is left to the general text extractor.
"""

from __future__ import annotations

import re

from bot.parse.alternation import gated
from bot.parse.casing import lower
from bot.parse.extract import iter_addresses

# PowerShell's Format-Table separator: dash groups under each column name.
# Possessive: a separator is read one way only (a backtracking repeat of the group would keep
# every iteration's state, which grows faster than the line on a long one).
# Searched in the text after a "\n" of our own, like ``_MAILQ_ENTRY`` below: the line break it
# opens with is a literal the engine skips ahead to (``^`` would be tried at every character).
_DASH_LINE = re.compile(r"\n[ \t]*+-{2,}+(?:[ \t]++-{2,}+)++[ \t]*+$", re.M)
_DASH_GROUP = re.compile(r"-{2,}")
# Postfix mailq (showq): "4F2C11A0B7*  2145 Tue Jun 11 08:14:22  sender@example.com"
# Searched in the text after a "\n" of our own: a line start that the pattern opens with as a
# literal lets the engine skip from line to line (``^`` would be tried at every character). A
# match never spans a line break, so each line is still read once. The sender is the line's last
# run of non-blanks, taken whole (possessive) and kept when it holds an "@" between two other
# characters: ``\S+@\S+`` would try every "@" of the run against every length after it, which
# grows with the square of a long run of "@".
_MAILQ_ENTRY = re.compile(
    r"\n[0-9A-Fa-f]{5,}+[*!]?[ \t]++\d++[ \t]++\w{3}[ \t]++\w{3}[ \t]++\d{1,2}[ \t]++[\d:]{5,8}[ \t]++(\S++)[ \t]*+$",
    re.M,
)
_SENDER_COLUMNS = ("sender", "from")
_STATUS_COLUMNS = ("status", "event", "action")
_NOT_FAILED = ("delivered", "expanded", "relayed", "resolved", "sent")
MAX_ROWS = 2000  # rows read over all the tables of one input: many separators cannot multiply the work
# Headings (lower case) of a list of recipients that got the message, in a notice that also
# lists failed ones; the list runs to the first blank line.
_DELIVERED_HEADINGS = (
    "successfully delivered to the following",
    "delivered successfully to the following",
    "was delivered to the following",
    "has been delivered to the following",
    "delivery to the following recipients succeeded",
    "delivery to these recipients succeeded",
)
# The headings a text may hold, by which of the words they share it holds (``gated``): each
# heading holds one or both, and most notices that say "deliver" hold neither (two searches
# where there would be six).
_HEADINGS_GATED = gated(_DELIVERED_HEADINGS, ("succe", "delivered to the following"), str)
MAX_HEADINGS = 8  # such lists read in one input, each at most LIST_SPAN characters
LIST_SPAN = 4000


def not_failed(text: str, lowered: str | None = None) -> set[str]:
    """Lower-case addresses that a listing in ``text`` names as senders or as delivered;
    ``lowered`` is ``text.lower()`` when the caller has it."""
    out: set[str] = set()
    lines = "\n" + text
    if "--" in text:
        budget = [MAX_ROWS]
        for sep in _DASH_LINE.finditer(lines):
            # ``lines`` is ``text`` one character on: the match's start (the line break before
            # the separator) is the separator's start in ``text``, its end is one past the end
            _table(text, sep.start(), sep.end() - 1, out, budget)
            if budget[0] <= 0:
                break
    if "@" in text:
        for m in _MAILQ_ENTRY.finditer(lines):  # a plain loop: a generator costs more, and most find none
            if "@" in m[1][1:-1]:
                out.add(str.lower(m[1].strip("<>")))
    lowered = lower(text) if lowered is None else lowered
    if "deliver" in lowered:
        _delivered_lists(text, lowered, out)
    return out


def _delivered_lists(text: str, lowered: str, out: set[str]) -> None:
    """The addresses under a "delivered to the following recipients" heading."""
    left = MAX_HEADINGS
    for heading in _HEADINGS_GATED["succe" in lowered, "delivered to the following" in lowered]:
        if heading not in lowered:  # the common case: a test costs less than a call of ``find``
            continue
        at = lowered.find(heading)
        while at != -1 and left > 0:
            left -= 1
            start = lowered.find("\n", at)
            if start == -1:
                return
            span = text[start + 1 : start + 1 + LIST_SPAN].replace("\r\n", "\n")
            blank = span.find("\n\n")
            out.update(address for _, address in iter_addresses(span[: blank if blank != -1 else len(span)]))
            at = lowered.find(heading, start)


def _table(text: str, start: int, end: int, out: set[str], budget: list[int]) -> None:
    header_end = start - 1
    if header_end <= 0:
        return
    header = text[text.rfind("\n", 0, header_end) + 1 : header_end]
    separator = text[start:end]
    starts = [m.start() for m in _DASH_GROUP.finditer(separator)]
    names = [str.lower(header[a:b].strip()) for a, b in zip(starts, [*starts[1:], len(header) + 1], strict=True)]
    senders = [i for i, name in enumerate(names) if name.startswith(_SENDER_COLUMNS)]
    status = next((i for i, name in enumerate(names) if name in _STATUS_COLUMNS), None)
    if not senders and status is None:
        return
    pos = end + 1
    while budget[0] > 0:
        budget[0] -= 1
        eol = text.find("\n", pos)
        row = text[pos : eol if eol != -1 else len(text)]
        if not row.strip() or (row.lstrip().startswith("--") and _DASH_LINE.fullmatch("\n" + row)):
            break  # a blank line or the next table's separator ends this one
        spots = iter_addresses(row)
        if spots:
            cell = _cell(row, starts, status) if status is not None else ""
            delivered = str.lower(cell.split(" ", 1)[0]) in _NOT_FAILED
            for offset, addr in spots:
                column = _column(starts, offset)
                if delivered or column in senders:
                    out.add(str.lower(addr.strip(".'`")))
        if eol == -1:
            break
        pos = eol + 1


def _column(starts: list[int], offset: int) -> int:
    column = 0
    for i, begin in enumerate(starts):
        if offset >= begin:
            column = i
    return column


def _cell(row: str, starts: list[int], index: int) -> str:
    end = starts[index + 1] if index + 1 < len(starts) else len(row)
    return row[starts[index] : end].strip()
