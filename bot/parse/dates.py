"""When a bounce was written: its own ``Date`` (RFC 5322 section 3.6.1), else the delivery report's
``Arrival-Date`` / ``Last-Attempt-Date`` (RFC 3464 sections 2.2.5 and 2.3.7). Pure.

The value is read with the standard library's date parser (token splitting, no backtracking)
after cutting it to ``MAX_VALUE`` characters. A date without a zone is taken as UTC; a date that
cannot be read, or lies before 1990 or after 2099, gives None rather than a guess (no clock is
read here: ``summary`` leaves out dates in its own future). The result is ISO 8601 in
UTC (``2026-12-06T01:02:03Z``).
"""

from __future__ import annotations

import datetime as dt
import email.utils

MAX_VALUE = 120
_EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # a clock years off, or a made-up date


def parse_date(value: str | None) -> dt.datetime | None:
    """An aware UTC datetime for an RFC 5322 date, or None."""
    if not value:
        return None
    text = value.strip()[:MAX_VALUE]
    try:
        # ``parsedate_tz`` is what ``parsedate_to_datetime`` reads with; the offset is applied
        # here directly (a zone-less date is UTC, as the offset 0 it gives then).
        parts = email.utils.parsedate_tz(text)
        if parts is None:
            return None
        offset = parts[9] or 0
        if not -86400 < offset < 86400:
            return None  # no such zone (``datetime.timezone`` refuses a day or more)
        when = dt.datetime(*parts[:6], tzinfo=dt.UTC) - dt.timedelta(seconds=offset)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if _EARLIEST <= when < _LATEST else None


def iso(when: dt.datetime) -> str:
    utc = when.astimezone(dt.UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def report_date(
    headers: dict[str, str], dsn_message: dict[str, str], dsn_recipients: list[dict[str, str]]
) -> str | None:
    """The bounce's own date, ISO 8601 UTC, or None when it names none that can be read."""
    for value in (
        headers.get("date"),
        dsn_message.get("arrival-date"),
        *(block.get("last-attempt-date") for block in dsn_recipients[:4]),
    ):
        when = parse_date(value)
        if when is not None:
            return iso(when)
    return None
