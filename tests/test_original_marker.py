"""Where a report's quotation of the returned message starts (``source._original_marker``): the
fixed phrases of known MTAs, and any short line that announces the returned message in words of
its own when a header field of that message follows it."""

from __future__ import annotations

import pytest

from bot.parse import parse_bounce
from bot.parse.source import MAX_ANNOUNCEMENT, _original_marker

REPORT = "The following address failed:\n\nana@example.net: 550 5.1.1 user unknown\n\n"
HEADER = "Received: from a.example.org by b.example.org; Mon, 2 Sep 2024 10:00:00 +0000\nTo: other@example.org\n"


@pytest.mark.parametrize(
    "line",
    [
        "--- The header of the original message is following. ---",
        "Message headers follow.",
        "------- Returned Message --------",
        "Original mail as follows:",
        "Included is a copy of the message header:",
        "    Below is a copy of the original message:",
        "------ This is a copy of your message, including all the headers. ------",
        "----- Unsent message follows -----",
        "-------original mail info",
        "Original Message:",
    ],
)
def test_an_announcing_line_followed_by_a_field_starts_the_original(line: str) -> None:
    for between in ("", "\n", "\n-----------------------------------------\n", "\n\n"):
        text = REPORT + line + "\n" + between + HEADER
        assert _original_marker(text) == len(REPORT), (line, between)


@pytest.mark.parametrize(
    "text",
    [
        # sendmail's line about when the message arrived, over the report itself
        "The original message was received at Mon, 2 Sep 2024 10:00:00 +0000\nfrom a.example.org\n\n"
        "----- The following addresses had permanent fatal errors -----\n<ana@example.net>\n",
        # a report that lists the original's fields, then names the failed recipient
        "This report relates to a message you sent with the following header fields:\n\n"
        "  Message-id: <1@example.org>\n  To: ana@example.net\n\nRecipient address: ana@example.net\n",
        # a header field of the report's own, not an announcement
        "Original-Recipient: rfc822;ana@example.net\nX-Note: y\n",
        # an announcing line that is followed by prose
        REPORT + "--- returned mail info ---\nThe message could not be delivered.\n",
        # an announcing line too long to be one
        REPORT + "original message " + "x" * MAX_ANNOUNCEMENT + "\n" + HEADER,
    ],
)
def test_what_is_not_an_announcement(text: str) -> None:
    assert _original_marker(text) is None


def test_an_mbox_from_line_may_open_the_announced_header() -> None:
    mbox = "   From owner-list@example.org  Mon Sep  2 10:00:00 2024\n   "
    text = REPORT + "Original mail as follows:\n\n" + mbox + HEADER
    assert _original_marker(text) == len(REPORT)


def test_the_earliest_marker_wins() -> None:
    fixed = "--- Below this line is a copy of the message.\n"
    announced = "Message headers follow.\n\n"
    assert _original_marker(REPORT + announced + HEADER + fixed + HEADER) == len(REPORT)
    assert _original_marker(REPORT + fixed + HEADER + announced + HEADER) == len(REPORT)


def test_what_the_original_names_is_neither_recipient_nor_code() -> None:
    message = (
        "From: Mail Delivery System <mailer-daemon@relay.example.org>\nTo: ana@example.org\n"
        "Subject: Mail delivery failed\n\n" + REPORT + "--- The header of the original message is following. ---\n\n"
        "Received: from x by relay.example.org for <list@example.org>; Mon, 2 Sep 2024 10:00:00 +0000\n"
        "To: list@example.org\nCc: bo@example.com\nSubject: minutes 4.2.2\n"
    )
    bounce = parse_bounce(message.encode())
    assert bounce.recipients == ("ana@example.net",)
    assert [c.status for c in bounce.codes] == ["5.1.1"]
    assert bounce.sender.mailfrom is None or "list@" not in bounce.sender.mailfrom
