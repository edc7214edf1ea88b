"""Offsets found in lower-cased text hold in the text itself, also after a dotted capital I.

"İ" (U+0130) is the one character whose lower case is two characters long (``"İ".lower()`` is
"i" plus a combining dot). Turkish text is full of it: every offset the parser finds in a plain
``lower()`` copy after such a character would cut the report one character too far per "İ".
"""

from __future__ import annotations

import sys

import pytest

from bot.parse import parse_bounce
from bot.parse.casing import lower
from bot.parse.listing import not_failed
from bot.parse.sender import domain_of

TURKISH = "İleti İletİlemedİ: İstenmeyen İçerİk İçİn İade İşlemİ İptal İle İlgİlİ İnceleme İçİn İmza İstendİ"


def test_lower_keeps_one_character_for_each() -> None:
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    lowered = lower(every)
    assert len(lowered) == len(every)
    changed = [(a, b) for a, b in zip(every.lower().replace("i\u0307", "\u0130"), lowered, strict=True) if a != b]
    assert changed == [("\u0130", "i")]  # only the dotted capital I differs from str.lower


def test_lower_is_str_lower_without_a_dotted_capital_i() -> None:
    text = "Délivrance ÉCHOUÉE: Straße ΣΊΣΥΦΟΣ 550 5.1.1 <Bob@Example.COM>"
    assert lower(text) == text.lower()


@pytest.mark.parametrize("count", [0, 1, 12, 40])
def test_a_delivered_list_after_turkish_text_names_only_the_delivered(count: int) -> None:
    text = (
        "İ" * count + "\nYour message was delivered to the following recipients:\n"
        "  delivered.person@example.org\n\n550 5.1.1 <bad@example.net> user unknown\n"
    )
    assert not_failed(text) == {"delivered.person@example.org"}


@pytest.mark.parametrize("name", ["İlker", "İzmir Monitoring", "Ayşe İİİ"])
def test_the_domain_of_a_sender_with_a_turkish_name(name: str) -> None:
    assert domain_of(f"{name} <monitor@Example.com>") == "example.com"


def test_a_turkish_report_fails_only_the_failed_recipient() -> None:
    report = (
        f"{TURKISH}\n\n"
        "Your message was delivered to the following recipients:\n"
        "  delivered.person@example.org\n\n"
        "Delivery to the following recipients failed:\n"
        "  bad@example.net\n"
        "  550 5.1.1 <bad@example.net>: Recipient address rejected: User unknown\n"
    )
    bounce = parse_bounce(report)
    assert bounce.is_ndr
    assert bounce.recipients == ("bad@example.net",)


def test_directory_suggestions_after_turkish_text_are_not_recipients() -> None:
    report = (
        f"{TURKISH}\n"
        * 4  # with a plain lower(), each "İ" would move the cut one character on: past the list here
        + "550 5.1.1 <jon.smith@example.org>: Recipient address rejected: User unknown\n"
        "Did you mean one of these?\n"
        "  john.smith@example.org\n"
        "  jon.smyth@example.org\n"
    )
    bounce = parse_bounce(report)
    assert bounce.recipients == ("jon.smith@example.org",)


def test_the_sender_domain_of_an_original_from_a_turkish_name() -> None:
    message = (
        "From: MAILER-DAEMON@mx1.example.com (Mail Delivery System)\n"
        "To: monitor@example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n'
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "<it@fabrikam.com>: host mail.fabrikam.com[203.0.113.41] said: 554 5.7.1\n"
        "    <it@fabrikam.com>: Relay access denied (in reply to RCPT TO command)\n"
        "\n"
        "--b1\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx1.example.com\n"
        "\n"
        "Final-Recipient: rfc822; it@fabrikam.com\n"
        "Action: failed\n"
        "Status: 5.7.1\n"
        "\n"
        "--b1\n"
        "Content-Type: text/rfc822-headers; charset=utf-8\n"
        "\n"
        "From: İzmir İzleme <monitor@example.com>\n"
        "To: it@fabrikam.com\n"
        "Subject: Günlük rapor\n"
        "\n"
        "--b1--\n"
    )
    bounce = parse_bounce(message.encode())
    assert bounce.recipients == ("it@fabrikam.com",)
    assert bounce.sender.domain == "example.com"
