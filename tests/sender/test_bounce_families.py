"""Each family of sender-side refusal the sender check answers, as an admin pastes it (plain
text, no MIME structure): the sending domain and IP read from it, and the command offered.

The reports in tests/sender/bounces/ are written for this test in the shapes each receiver
uses: Exchange Online's NDR with its "Original message headers", a Postfix report quoting a
blocklist or policyd-spf, Gmail's 5.7.26 and 5.7.27, Outlook.com's 5.7.515 as a DSN.
Documentation addresses only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.parse import parse_bounce
from bot.parse.model import Sender
from bot.sender.offer import offers_sender_check, sender_command

BOUNCES = Path(__file__).parent / "bounces"

EXPECTED = {
    "exo-5.7.23-spf.txt": ("5.7.23", Sender("contoso.example", None)),  # From: of the quoted headers
    "exo-5.7.509-dmarc.txt": ("5.7.509", Sender("woodgrove.example", "192.0.2.200")),
    "outlook-5.7.515-dsn.txt": ("5.7.515", Sender("newsletter.example", None)),
    "gmail-5.7.26-dmarc.txt": ("5.7.26", Sender("adatum.example", None)),
    "gmail-5.7.27-spf.txt": ("5.7.27", Sender("adatum.example", "203.0.113.9")),
    "postfix-5.7.1-spamhaus.txt": ("5.7.1", Sender("contoso.example", "203.0.113.44")),
    "postfix-5.7.23-policyd-spf.txt": ("5.7.23", Sender("contoso.example", "198.51.100.23")),
    "exo-5.7.606-banned-ip.txt": ("5.7.606", Sender(None, "198.51.100.66")),
    "exo-5.7.708.txt": ("5.7.708", Sender("tailspin.example", None)),
    "exo-5.7.750.txt": ("5.7.750", Sender("tailspin.example", None)),
}


def test_every_bounce_has_an_expectation() -> None:
    assert sorted(p.name for p in BOUNCES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_family_gives_sender_and_command(name: str) -> None:
    status, sender = EXPECTED[name]
    bounce = parse_bounce((BOUNCES / name).read_text())
    assert bounce.primary is not None and bounce.primary.status == status
    assert (bounce.sender.domain, bounce.sender.ip) == (sender.domain, sender.ip)
    assert offers_sender_check(bounce)
    command = f"mailflow sender {sender.domain or '<contoso.com>'}" + (f" --ip {sender.ip}" if sender.ip else "")
    mailfrom = bounce.sender.mailfrom
    command += f" --mailfrom {mailfrom}" if mailfrom and mailfrom != sender.domain else ""
    assert sender_command(bounce) == command


def test_quoted_headers_only_after_the_marker() -> None:
    """Without the "Original message headers" line, a From: in the paste is not read as the original's."""
    text = (BOUNCES / "exo-5.7.708.txt").read_text().replace("Original message headers:", "")
    assert parse_bounce(text).sender.domain is None
