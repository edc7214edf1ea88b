"""The shortcuts of the sender step and of address cleaning give the answers the plain forms would."""

from __future__ import annotations

import pytest

from bot.parse import Bounce, Code, Delivery, extract, mime
from bot.parse.sender import pasted_original
from bot.parse.source import _original_marker
from bot.sender import knowledge as sender_knowledge
from bot.sender import offer

_LEGACY_TEXTS = [
    "",
    "Diagnostic-Code: smtp; 550 5.1.1 unknown",
    "To: SMTP:Jo@Contoso.com and smtp=ann@fabrikam.example",
    "Final-Recipient: rfc822; IMCEAEX-_O=ORG_CN=RECIPIENTS_CN=jo@contoso.com",
    "<IMCEASMTP-jo+40contoso+2Ecom@fabrikam.example>",
    "IMCEASMTP-smtp+3Ajo+40contoso+2Ecom@fabrikam.example",  # decodes to a type prefix
    "imceaex-x@y mtp smtp;",
    "mTp:jo@contoso.com sMTP=ann@fabrikam.example dda:SMTP:x@y.example",
]


@pytest.mark.parametrize("text", _LEGACY_TEXTS)
def test_legacy_forms_with_the_lowered_text_gives_the_plain_answer(text: str) -> None:
    assert extract.legacy_forms(text, text.lower()) == extract.legacy_forms(text)


def _plain_pasted_original(text: str) -> dict[str, str]:
    """The quoted header block read through the text's bytes, as ``parse_headers`` reads mail."""
    cut = _original_marker(text)
    if cut is None:
        return {}
    eol = text.find("\n", cut)
    tail = text[eol + 1 if eol != -1 else len(text) :].lstrip(" -\n")[:65536]
    block = mime.header_block(tail.encode("utf-8", "surrogateescape"))
    fields: dict[str, str] = {}
    for name, value in mime.parse_headers(block, mime.ORIGINAL_FIELDS):
        fields.setdefault(name, value)
    return fields


@pytest.mark.parametrize(
    "text",
    [
        "550 blocked\n\n----- Original message -----\nFrom: Jo <jo@contoso.com>\nReceived: from a\n by b\n\nbody",
        "Refused.\nOriginal message headers:\n\nFrom: x@y.example\n",
        "Refused.\nOriginal message headers:\nFrom: Zoë <z@contoso.com>\nSubject: caf\udce9\n\nbody: \udcff",
        "Refused.\nOriginal message headers:\nReturn-Path: <b@esp.example>\nFrom: a@contoso.com",
        "no original here",
    ],
)
def test_pasted_original_reads_the_block_as_the_bytes_would(text: str) -> None:
    assert pasted_original(text) == _plain_pasted_original(text)


def _plain_offers_sender_check(bounce: Bounce) -> bool:
    """``offer.offers_sender_check`` asking about each distinct status of the bounce in turn."""
    if not bounce.is_ndr or bounce.primary is None:
        return False
    statuses = {bounce.primary.status, *(d.status for d in bounce.deliveries)}
    answers = [sender_knowledge.load().offers_by_code(status) for status in statuses]
    if any(answers):
        return True
    if None not in answers:
        return False
    text = " ".join(filter(None, (bounce.primary.text, *(d.diagnostic for d in bounce.deliveries))))
    return sender_knowledge.load().names_sender_problem(text)


_STATUSES = [None, "5.7.1", "5.7.26", "5.7.509", "5.1.1", "4.4.316", "5.7.999", "x.y.z", "2.0.0"]
_DIAGNOSTICS = ["", "SPF check failed", "user unknown", "listed at a DNSBL", "DMARC policy"]


def test_offers_sender_check_answers_as_each_status_asked_in_turn() -> None:
    for primary in _STATUSES:
        for first in _STATUSES:
            for second in (None, *_STATUSES[:4]):
                for text in _DIAGNOSTICS:
                    deliveries = [Delivery("a@b.example", first, None, "", diagnostic=text)]
                    if second is not None:
                        deliveries.append(Delivery("c@b.example", second, None, ""))
                    bounce = Bounce(is_ndr=True, primary=Code(primary, None, text), deliveries=tuple(deliveries))
                    assert offer.offers_sender_check(bounce) == _plain_offers_sender_check(bounce), bounce
