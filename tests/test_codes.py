"""Code extraction and the choice of the primary code, as (text, expected) tables."""

from __future__ import annotations

import pytest

from bot.parse.codes import choose_primary, find_codes

PRIMARY = [
    # (text, primary status, primary reply)
    ("450 4.4.316 Connection refused [Message=Socket error code 10061]", "4.4.316", "450"),
    (
        "550 4.4.7 QUEUE.Expired; message expired [{LED=450 4.4.316 Connection refused "
        "[Message=Socket error code 10061] [LastAttemptedServerName=mail.contoso.com] "
        "[LastAttemptedIP=203.0.113.25:25]};{MSG=};{FQDN=mail.contoso.com};{IP=203.0.113.25};{LRT=}]",
        "4.4.316",
        "450",
    ),
    (
        "450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 STARTTLS is required to send mail]",
        "4.4.317",
        "450",
    ),
    ("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "5.1.1", "550"),
    ("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##rfc822;user@example.com", "5.1.1", "550"),
    ("host mx.example.net[198.51.100.7] said: 550 5.7.1 <a@example.net>: Relay access denied", "5.7.1", "550"),
    ("Remote host said: 554 delivery error: dd This user doesn't have an account", None, "554"),
    ("Status: 5.0.0\nDiagnostic-Code: smtp; 550 5.1.1 user unknown", "5.1.1", "550"),
    ("421 4.4.2 mx.example.net Error: timeout exceeded", "4.4.2", "421"),
    ("550-5.1.1 The email account that you tried to reach does not exist.", "5.1.1", "550"),
    ("554 (#5.1.1) Sorry, no mailbox here by that name", "5.1.1", "554"),
]


@pytest.mark.parametrize(("text", "status", "reply"), PRIMARY)
def test_primary(text: str, status: str | None, reply: str | None) -> None:
    primary = choose_primary(find_codes(text))
    assert primary is not None
    assert (primary.status, primary.reply_code) == (status, reply)


NESTED = [
    ("550 4.4.7 QUEUE.Expired; message expired [{LED=450 4.4.316 Connection refused}]", {"4.4.7": 0, "4.4.316": 2}),
    ("450 4.4.317 Cannot connect [Message=451 5.7.3 STARTTLS is required]", {"4.4.317": 0, "5.7.3": 1}),
    # Exchange on-premises queues write the underlying cause after an arrow
    ("451 4.4.397 Error communicating with target host. -> 421 4.4.2 Connection dropped", {"4.4.397": 0, "4.4.2": 1}),
    ("451 4.4.397 Error -> 421 4.4.2 Dropped\n451 4.4.0 DNS query failed", {"4.4.397": 0, "4.4.2": 1, "4.4.0": 0}),
]


@pytest.mark.parametrize(("text", "depths"), NESTED)
def test_nested_codes_have_depth(text: str, depths: dict[str, int]) -> None:
    found = {c.status: c.depth for c in find_codes(text) if c.status}
    assert found == depths


NOT_CODES = [
    "we moved 4.4 million rows",
    "version 10.5.1.2 is out",
    "the server at 192.0.2.5 was rebooted",
    "call 550-1234",
]


@pytest.mark.parametrize("text", NOT_CODES)
def test_no_codes(text: str) -> None:
    assert all(c.status is None for c in find_codes(text))


# Numbers after prose words that also introduce replies ("said", "error", "code") are no replies.
PROSE_NUMBERS = [
    "Our monitoring said 500 messages were queued at the time.",
    "We saw error 404 - page not found on the portal",
    "Scanned barcode 550 items, see the order",
    "The ticket system code 451 - see the portal",
]


@pytest.mark.parametrize("text", PROSE_NUMBERS)
def test_a_number_in_prose_is_no_reply(text: str) -> None:
    assert find_codes(text) == ()


PROSE_REPLIES = [
    ("The remote server said 550 no such user here", "550"),
    ("SMTP error 550 mailbox unavailable", "550"),
    ("Delivery failed with error code 421 - try again later", "421"),
    ("The receiving server responded with: 554 Transaction failed", "554"),
]


@pytest.mark.parametrize(("text", "reply"), PROSE_REPLIES)
def test_a_reply_introduced_in_prose(text: str, reply: str) -> None:
    assert [c.reply_code for c in find_codes(text)] == [reply]
