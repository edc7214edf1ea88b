"""The parser's shortcuts give what its general code gives (a second set, see
``test_bounce_speed_guards.py``)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.parse import Bounce, Code, Delivery, parse_bounce


def _recipients_by_loop(bounce: Bounce) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for delivery in bounce.deliveries:
        if delivery.recipient:
            seen[delivery.recipient] = None
    return tuple(seen)


@pytest.mark.parametrize(
    "recipients",
    [
        (),
        ("a@example.org",),
        (None,),
        ("",),
        ("a@example.org", "a@example.org"),
        (None, "b@example.org"),
        ("a@x", "b@x"),
    ],
)
def test_recipients_of_one_delivery_are_what_the_loop_gives(recipients: tuple[str | None, ...]) -> None:
    deliveries = tuple(Delivery(r, "5.1.1", "550", "userunknown") for r in recipients)
    bounce = Bounce(True, deliveries=deliveries)
    assert bounce.recipients == _recipients_by_loop(bounce)


def test_borrowed_reply_code_is_what_replace_gives() -> None:
    """The primary code that takes the first recipient's reply is built directly: the same code
    as ``dataclasses.replace`` builds."""
    primary = Code("5.1.1", None, "no such user", 2)
    assert Code(primary.status, "550", primary.text, primary.depth) == dataclasses.replace(primary, reply_code="550")
    dsn = (
        "From: MAILER-DAEMON@example.org\nTo: s@example.com\nSubject: Undelivered Mail Returned to Sender\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nThe mail system: 5.1.1 no such user.\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; r@example.org\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 user unknown\n\n--b--\n"
    )
    bounce = parse_bounce(dsn)  # the text's "5.1.1" without a reply; the recipient's "550"
    assert [(c.status, c.reply_code) for c in bounce.codes] == [("5.1.1", None), (None, "550")]
    assert bounce.primary == Code("5.1.1", "550", "no such user.")
