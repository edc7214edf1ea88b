"""A bounce's own date (bot/parse/dates.py), read from its header or its delivery report."""

from __future__ import annotations

import pytest

from bot.parse import parse_bounce
from bot.parse.dates import parse_date, report_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 14 May 2024 10:14:22 +0200", "2024-05-14T08:14:22Z"),
        ("14 May 2024 08:14:22 GMT", "2024-05-14T08:14:22Z"),
        ("Tue, 14 May 2024 08:14:22", "2024-05-14T08:14:22Z"),  # no zone: taken as UTC
        ("Tue, 14 May 2024 08:14:22 -0000 (UTC)", "2024-05-14T08:14:22Z"),
        ("Mon, 1 Jan 1979 00:00:00 +0000", None),  # before any bounce this tool will see
        ("Fri, 31 Dec 9999 23:59:59 +0000", None),  # a clock years off, or made up
        ("Fri, 31 Dec 9999 23:59:59 -2359", None),  # past the last datetime in UTC: no overflow
        ("Tue, 14 May 2024 10:14:22 +2400", None),  # no such zone
        ("Tue, 14 May 2024 10:14:22 +2359", "2024-05-13T10:15:22Z"),
        ("Fri, 1 Jan 2100 00:00:00 +0000", None),
        ("Thu, 31 Dec 2099 23:00:00 +0000", "2099-12-31T23:00:00Z"),
        ("yesterday", None),
        ("", None),
        ("Tue, 14 May 2024 99:99:99 +0000", None),
        ("9" * 10_000, None),
    ],
)
def test_dates_are_read_or_refused(value: str, expected: str | None) -> None:
    when = parse_date(value)
    assert (when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None) == expected


def test_the_header_first_then_the_delivery_report() -> None:
    arrival = {"arrival-date": "Wed, 15 May 2024 01:00:00 +0000"}
    attempt = [{"last-attempt-date": "Thu, 16 May 2024 02:00:00 +0000"}]
    assert report_date({"date": "Tue, 14 May 2024 00:00:00 +0000"}, arrival, attempt) == "2024-05-14T00:00:00Z"
    assert report_date({"date": "garbage"}, arrival, attempt) == "2024-05-15T01:00:00Z"
    assert report_date({}, {}, attempt) == "2024-05-16T02:00:00Z"
    assert report_date({}, {}, []) is None


def test_a_parsed_bounce_carries_its_date_and_pasted_text_none() -> None:
    message = (
        b"From: MAILER-DAEMON@mx.example.org\nTo: a@example.org\nDate: Tue, 14 May 2024 10:14:22 +0200\n"
        b"Subject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.org.\n\n"
        b"<b@contoso.com>: host mail.contoso.com[203.0.113.5] said: 550 5.1.1 <b@contoso.com>: Recipient "
        b"address rejected: User unknown (in reply to RCPT TO command)\n"
    )
    assert parse_bounce(message).date == "2024-05-14T08:14:22Z"
    assert parse_bounce("450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com]").date is None
