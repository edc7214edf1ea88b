"""Rules of the reason classifier (bot/parse/reason.py) that the sample table cannot isolate:
each test names the evidence and the reason it must give, and the neighbouring evidence that
must keep its own reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.parse import parse_bounce
from bot.parse.phrases import PHRASES, reasons_in
from bot.parse.reason import classify
from tests.conftest import SAMPLES


@pytest.mark.parametrize(
    ("status", "text", "category", "expected"),
    [
        # The MTA filed it under bad-mailbox: an unknown user, whatever 5.2.1 suggests.
        ("5.2.1", "550 5.2.1 <a@example.net>... User Unknown", "bad-mailbox", "userunknown"),
        ("5.2.1", "550 5.2.1 <a@example.net>... User Unknown", "", "filtered"),
        ("5.0.0", "550 recipient rejected", "inactive-mailbox", "suspend"),
        ("5.0.0", "452 try later", "Quota-Issues", "mailboxfull"),  # the value in any case
        # Broad categories give way to a more specific reason the text names.
        ("5.7.1", "554 5.7.1 client [192.0.2.1] blocked using zen.spamhaus.org", "spam-related", "blocked"),
        ("5.7.1", "550 5.7.1 Message refused", "spam-related", "spamdetected"),
        ("5.7.1", "550 5.7.1 Message refused", "policy-related", "policyviolation"),
        # "other" and unknown categories say nothing.
        ("5.2.1", "550 5.2.1 <a@example.net>... User Unknown", "other", "filtered"),
        ("5.2.1", "550 5.2.1 <a@example.net>... User Unknown", "made-up", "filtered"),
    ],
)
def test_mta_category(status: str, text: str, category: str, expected: str) -> None:
    assert classify(status, text, category=category) == expected


def test_powermta_category_per_recipient() -> None:
    bounce = parse_bounce((SAMPLES / "wild/powermta-spam-related-blocklisted-ip.eml").read_bytes())
    assert [(d.recipient, d.reason) for d in bounce.deliveries] == [
        ("sales@example.org", "spamdetected"),
        ("ops@example.org", "blocked"),
    ]


@pytest.mark.parametrize(
    ("status", "text", "command", "expected"),
    [
        # A text stating the mailbox does not exist, after DATA, under a status naming nothing.
        ("5.0.0", "554 delivery error: dd This user doesn't have a example.net account", "DATA", "userunknown"),
        ("5.5.0", "550 5.5.0 Invalid recipient", "DATA", "userunknown"),
        (None, "550 Mailbox does not exist", "DATA", "userunknown"),
        # The classic line, after DATA: a recipient's sender filter.
        ("5.0.0", "550 Unknown user a@example.jp", "DATA", "filtered"),
        ("5.0.0", "550 No such user", "DATA", "filtered"),
        # A status that names the filter keeps it.
        ("5.2.1", "550 5.2.1 Invalid recipient", "DATA", "filtered"),
    ],
)
def test_stated_unknown_user_after_data(status: str | None, text: str, command: str, expected: str) -> None:
    assert classify(status, text, command=command) == expected


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("5.0.0", "550 5.0.0 The sender address does not exist"),
        ("5.7.1", "550 5.7.1 Message rejected: the From address does not exist"),
        (None, "550 Sender verify failed: the return address does not exist"),
    ],
)
def test_a_stated_missing_sender_is_no_unknown_recipient(status: str | None, text: str) -> None:
    # "address does not exist" about the sender's own address says nothing of the recipient's mailbox.
    assert classify(status, text, command="DATA") != "userunknown"


def test_stated_phrases_are_userunknown_phrases() -> None:
    """Each "stated" wording is also a userunknown phrase: the pseudo-reason only qualifies it."""
    assert set(PHRASES["userunknown_stated"]) <= set(PHRASES["userunknown"])
    for phrase in PHRASES["userunknown_stated"]:
        assert {"userunknown", "userunknown_stated"} <= reasons_in(phrase)


@pytest.mark.parametrize(
    ("status", "text", "command", "expected"),
    [
        # A blocklist look-up for the sending IP beats a mailbox status.
        ("5.1.3", "553 https://www.spamhaus.org/query/ip/192.0.2.1", "RCPT", "blocked"),
        ("5.1.1", "550 5.1.1 see https://www.barracudacentral.org/lookups for 192.0.2.1", "RCPT", "blocked"),
        ("5.1.0", "550 5.1.0 your IP 192.0.2.1 is listed on a DNSBL", None, "blocked"),
        ("5.1.1", "550 see http://www.barracudanetworks.com/reputation/?ip=192.0.2.1", "RCPT", "blocked"),
        ("5.0.0", "554 https://www.spamcop.net/w3m?action=checkblock&ip=192.0.2.1", None, "blocked"),
        # Without one, the status stands; a sender address on a blocklist is the sender's refusal.
        ("5.1.3", "553 bad address syntax", "RCPT", "userunknown"),
        (None, "550 sender address has been blacklisted", "MAIL", "rejected"),
    ],
)
def test_blocklist_reference(status: str | None, text: str, command: str | None, expected: str) -> None:
    assert classify(status, text, command=command) == expected


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        # Status and text agree on a reason of their own: it beats the domain's usual verdict.
        ("5.1.1", "550 5.1.1 The email account that you tried to reach does not exist.", "userunknown"),
        ("5.2.2", "552 5.2.2 mailbox full", "mailboxfull"),
        # A temporary failure is no refusal of the post: the generic rules decide.
        ("4.2.1", "421 4.2.1 Service temporarily unavailable, try again later", "blocked"),
        # Otherwise the group domain's verdict stands.
        (None, "the group may not exist, or you may not have permission to post", "rejected"),
        ("5.1.1", "550 5.1.1 you are not allowed to post to this mailing list", "rejected"),
        ("5.7.1", "550 5.7.1 you are not allowed to post to this mailing list", "rejected"),
    ],
)
def test_group_domain_verdict(status: str | None, text: str, expected: str) -> None:
    assert classify(status, text, recipient="team@googlegroups.com") == expected


@pytest.mark.parametrize(
    ("status", "text", "command", "expected"),
    [
        # A content refusal that names no cause: the status class decides.
        ("5.6.1", "500 5.6.1 Message content rejected", None, "contenterror"),
        ("5.6.0", "554 5.6.0 Rejecting mail content", "DATA", "contenterror"),
        ("5.7.1", "550 5.7.1 Message content rejected", "DATA", "spamdetected"),
        ("5.7.1", "550 5.7.1 Message content rejected, UBE, id=1234-56", None, "spamdetected"),
        # A cause in words beats the class: spam is spam under X.6 as well.
        ("5.6.0", "554 5.6.0 Message content rejected: spam detected", "DATA", "spamdetected"),
    ],
)
def test_generic_content_refusal(status: str, text: str, command: str | None, expected: str) -> None:
    assert classify(status, text, command=command) == expected


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (None, "550 Duplicate header 'Received-SPF' not accepted", "contenterror"),
        ("5.0.0", "554 Transaction failed: Duplicate header 'DKIM-Signature'.", "contenterror"),
        ("5.7.1", "550 5.7.1 Message is not RFC 5322 compliant: duplicate header 'Date'", "notcompliantrfc"),
        ("5.7.1", "550 5.7.1 There are multiple Subject headers in this message", "notcompliantrfc"),
    ],
)
def test_duplicate_header(status: str | None, text: str, expected: str) -> None:
    assert classify(status, text, command="DATA") == expected


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        ("5.2.3", "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient", "mesgtoobig"),
        ("5.3.4", "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route", "mesgtoobig"),
        # Without Exchange's code, X.2.3 is the administrative limit.
        ("5.2.3", "552 5.2.3 Message length exceeds administrative limit", "exceedlimit"),
    ],
)
def test_exchange_size_codes(status: str, text: str, expected: str) -> None:
    assert classify(status, text) == expected


@pytest.mark.parametrize(
    ("status", "text", "command", "expected"),
    [
        # An address status whose text names the sender: the sender was refused.
        ("5.1.1", "550 5.1.1 <a@example.com>: Sender address rejected: undeliverable address", "RCPT", "rejected"),
        ("5.1.0", "550 5.1.0 <a@example.com> sender rejected", None, "rejected"),
        ("4.1.1", "450 4.1.1 <a@example.com>: Sender verification failed", "RCPT", "rejected"),
        # The recipient's own address: an unknown user.
        ("5.1.1", "550 5.1.1 <b@example.org>: Recipient address rejected: User unknown", "RCPT", "userunknown"),
    ],
)
def test_sender_refused_under_address_status(status: str, text: str, command: str | None, expected: str) -> None:
    assert classify(status, text, command=command) == expected


def test_sender_phrases_are_rejected_phrases() -> None:
    assert set(PHRASES["rejected_sender"]) <= set(PHRASES["rejected"]) | {"sender address rejected"}
    assert "rejected" in reasons_in("sender address rejected")  # through "address rejected"


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        # A limit on how many bad addresses a client may try throttles the client.
        ("4.5.3", "452 4.5.3 Too many invalid recipients", "toomanyconn"),
        ("5.7.1", "550 5.7.1 Too many invalid recipients, closing connection", "toomanyconn"),
        (None, "421 too many bad recipients from your host", "toomanyconn"),
        # One invalid recipient is still a missing mailbox.
        ("5.1.1", "550 5.1.1 <a@example.com>: invalid recipient", "userunknown"),
    ],
)
def test_too_many_invalid_recipients_throttles_the_client(status: str | None, text: str, expected: str) -> None:
    assert classify(status, text) == expected


_COMMANDS = (None, "RCPT", "MAIL", "DATA", "CONN", "EHLO", "HELO", "QUIT")


def test_command_found_on_demand_gives_the_same_reason() -> None:
    """``classify`` given a function that finds the command answers as when given the command,
    whatever the command, and calls the function only where the answer depends on it."""
    texts = (
        "",
        "550 user unknown",
        "550 5.1.1 no such user here",
        "554 relaying denied",
        "550 message rejected by policy",
        "550 sender address rejected by policy",
        "554 spam detected",
        "550 rejected",
        "550 mailbox does not exist, filtered",
        "554 content rejected",
        "421 too many connections",
    )
    statuses = (None, "5.0.0", "5.1.1", "5.7.1", "5.2.2", "4.0.0", "5.6.0", "5.3.0")
    for status in statuses:
        for text in texts:
            for reply_code in (None, "550", "530", "503"):
                for diagnostic_type in ("SMTP", "X-UNIX", "X-POSTFIX"):
                    kwargs: dict[str, Any] = {"reply_code": reply_code, "diagnostic_type": diagnostic_type}
                    for command in _COMMANDS:
                        calls: list[str | None] = []

                        def find(command: str | None = command, calls: list[str | None] = calls) -> str | None:
                            calls.append(command)
                            return command

                        expected = classify(status, text, command=command, **kwargs)
                        assert classify(status, text, command=find, **kwargs) == expected
                        assert len(calls) <= 1
                        if not calls:
                            # not asked: every other command gives the same answer
                            assert all(classify(status, text, command=c, **kwargs) == expected for c in _COMMANDS)
