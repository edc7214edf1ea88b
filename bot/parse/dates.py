"""When a bounce was written: its own ``Date`` (RFC 5322 section 3.6.1), else the delivery report's
``Arrival-Date`` / ``Last-Attempt-Date`` (RFC 3464 sections 2.2.5 and 2.3.7). Pure.

The value is cut to ``MAX_VALUE`` characters. The form RFC 5322 prescribes
(``Thu, 29 Apr 2010 23:34:45 +0900``, maybe with a comment after it) is read with one anchored
pattern; anything else with the standard library's date parser (token splitting, no
backtracking), which reads that form the same way but costs several times more. A date without
a zone is taken as UTC; a date that cannot be read, or lies before 1990 or after 2099, gives
None rather than a guess (no clock is read here: ``summary`` leaves out dates in its own
future). The result is ISO 8601 in UTC (``2026-12-06T01:02:03Z``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    # what ``parsedate_tz`` gives: nine fields of ``time.struct_time`` and the zone's offset
    _DateTuple = tuple[int, int, int, int, int, int, int, int, int, int | None]

# ``email.utils.parsedate_tz``, taken from where ``email.utils`` takes it (loading ``email.utils``
# itself costs far more); that module has no type stubs, so its type is ``email.utils``'s.
parsedate_tz: Callable[[str], _DateTuple | None] = importlib.import_module("email._parseaddr").parsedate_tz

MAX_VALUE = 120
_EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # a clock years off, or a made-up date
_MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6}
_MONTHS |= {"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
# The values of the one- and two-digit fields ``_RFC5322_DATE`` reads: a lookup costs less than
# a call of ``int``.
_NUMBERS = {str(n): n for n in range(10)} | {f"{n:02d}": n for n in range(100)}
# Each number below 100 written with two digits, for ``report_date``.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
# The shift of each zone a whole or half hour off UTC (nearly every zone in use), by its offset in
# seconds: a lookup costs a fraction of building a ``timedelta``, which the rest still do.
_SHIFTS = {
    sign * (hours * 3600 + minutes * 60): dt.timedelta(0, sign * (hours * 3600 + minutes * 60))
    for sign in (1, -1)
    for hours in range(24)
    for minutes in (0, 30)
    if hours or minutes
}
# RFC 5322 section 3.3 with single spaces (or two after the day's name: "Tue,  2 May") and a
# four-digit year: whatever follows the zone after a space (a comment, "(JST)") is ignored, as
# the standard library's parser ignores it.
_RFC5322_DATE = re.compile(
    r"(?:[A-Z][a-z]{2}, {1,2})?([0-9]{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([12][0-9]{3}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})(?: |\Z)"
)


def parse_date(value: str | None) -> dt.datetime | None:
    """An aware UTC datetime for an RFC 5322 date, or None."""
    if not value:
        return None
    text = value.strip()[:MAX_VALUE]
    try:
        usual = _RFC5322_DATE.match(text)
        if usual is not None:
            day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = usual.groups()
            # positional arguments throughout: keywords cost datetime and timedelta a parse of their names
            n = _NUMBERS
            local = dt.datetime(int(year), _MONTHS[month], n[day], n[hour], n[minute], n[second], 0, dt.UTC)
            offset = (n[zone_hours] * 3600 + n[zone_minutes] * 60) * (-1 if sign == "-" else 1)
        else:
            # ``parsedate_tz`` is what ``parsedate_to_datetime`` reads with; the offset is applied
            # here directly (a zone-less date is UTC, as the offset 0 it gives then).
            parsed = parsedate_tz(text)
            if parsed is None:
                return None
            local, offset = dt.datetime(*parsed[:6], 0, dt.UTC), parsed[9] or 0
        if not -86400 < offset < 86400:
            return None  # no such zone (``datetime.timezone`` refuses a day or more)
        when = local - (_SHIFTS.get(offset) or dt.timedelta(0, offset)) if offset else local  # UTC: already there
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if _EARLIEST <= when < _LATEST else None


def iso(when: dt.datetime) -> str:
    # ``2026-12-06T01:02:03+00:00`` from ``isoformat``, with "Z" for the offset
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")[:-6] + "Z"


def report_date(
    headers: dict[str, str], dsn_message: dict[str, str], dsn_recipients: list[dict[str, str]]
) -> str | None:
    """The bounce's own date, ISO 8601 UTC, or None when it names none that can be read."""
    # The header's Date first (nearly every report has one that reads): the others are gathered
    # only when it does not.
    when = parse_date(headers.get("date"))
    if when is None:
        for value in (
            dsn_message.get("arrival-date"),
            *[block.get("last-attempt-date") for block in dsn_recipients[:4]],
        ):
            when = parse_date(value)
            if when is not None:
                break
        else:
            return None
    # ``iso(when)`` for a whole second in UTC, at a fraction of ``isoformat``'s cost: the year has
    # four digits (``parse_date`` keeps 1990 to 2099), the other fields are looked up as two
    # (``"%02d" % n`` converts a number at each call)
    two = _TWO_DIGITS
    return f"{when.year}-{two[when.month]}-{two[when.day]}T{two[when.hour]}:{two[when.minute]}:{two[when.second]}Z"
