"""The receivers' own error codes (``bot.parse.providers``) and how they steer ``classify``."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from bot import knowledge
from bot.explain import explain_bounce
from bot.parse import parse_bounce, providers
from bot.parse.phrases import REASONS
from bot.parse.providers import provider_code
from bot.parse.reason import STATUS_NAME, classify
from bot.render.blocks import explanation_message
from bot.render.terminal import render_text


@pytest.mark.parametrize(
    ("text", "provider", "code", "reason"),
    [
        ("550 5.1.0 <a@example.com> sender rejected. AUP#CDRBL", "Cox", "AUP#CDRBL", "blocked"),
        ("554 refused. See the error code page. AUP#CXSNDR", "Cox", "AUP#CXSNDR", "authfailure"),
        ("421 slow down AUP#CXCNCT", "Cox", "AUP#CXCNCT", "toomanyconn"),
        ("554 listed AUP#IPBL1011", "Cox", "AUP#IPBL1011", "blocked"),
        ("554 link listed AUP#URLBL110", "Cox", "AUP#URLBL110", "spamdetected"),
        ("550 5.1.0 <x@example.org> sender rejected. AUP#In-1310", "Spectrum", "AUP#In-1310", "toomanyconn"),
        ("554 blocked AUP#I-1000", "Spectrum", "AUP#I-1000", "blocked"),
        ("550 too large AUP#O-1530", "Spectrum", "AUP#O-1530", "mesgtoobig"),
        ("421 try later AUP#1540", "Spectrum", "AUP#1540", "speeding"),
        ("421 mwinf ME Service refuse. OFR_999 [999]", "Orange/La Poste", "OFR_999", "blocked"),
        ("421 4.2.0 Service refuse. OFR005_505 [505]", "Orange/La Poste", "OFR005_505", "systemerror"),
        ("550 5.5.0 Adresse invalide. LPN007_416", "Orange/La Poste", "LPN007_416", "userunknown"),
        ("550 5.5.0 Invalid recipient. LPN416", "Orange/La Poste", "LPN416", "userunknown"),
        ("550 listed LPNAAA_101", "Orange/La Poste", "LPNAAA_101", "blocked"),
        ("554 5.7.1 Client host rejected: lpn LPN000_630", "Orange/La Poste", "LPN000_630", "policyviolation"),
        ("571 5.7.1 DMARC en echec LPN007_517", "Orange/La Poste", "LPN007_517", "authfailure"),
        ("421 4.7.0 [TSS04] Messages from 192.0.2.1 deferred", "Yahoo", "TSS04", "badreputation"),
        ("553 5.7.1 [BL23] Connections not accepted", "Yahoo", "BL23", "blocked"),
        ("554 Message not allowed - [PH01] policy", "Yahoo", "PH01", "policyviolation"),
        ("552 5.2.0 judged to be spam IB212", "GoDaddy", "IB212", "spamdetected"),
        ("554 refused, see the error code page BL000001", "Comcast", "BL000001", "blocked"),
        ("554 refused ES000010", "Comcast", "ES000010", "blocked"),
        ("421 slow down RL000001", "Comcast", "RL000001", "speeding"),
        ("550 SC-001 (EX1-MC1-F1) refused for policy reasons", "Outlook.com", "SC-001", "blocked"),
        ("421 RP-003 (EX1-MC1-F1) too many connections", "Outlook.com", "RP-003", "toomanyconn"),
        ("550 5.7.1 part of their network is on our block list (S3140)", "Microsoft", "S3140", "blocked"),
        ("451 4.7.650 rate limited due to IP reputation (S3113)", "Microsoft", "S3113", "badreputation"),
        ("535 no auth on inbound servers. IB401", "GoDaddy", "IB401", "securityerror"),
        (
            "554 Host network not allowed - https://example.org/doc [a1.us1]",
            "Mimecast",
            "host network not allowed",
            "policyviolation",
        ),
        (
            "554 email rejected due to security policies - MCSpamSignature.x.1",
            "Mimecast",
            "mcspamsignature",
            "spamdetected",
        ),
        (
            "554 Email rejected due to security policies",
            "Mimecast",
            "email rejected due to security policies",
            "virusdetected",
        ),
    ],
)
def test_a_documented_code_names_its_reason(text: str, provider: str, code: str, reason: str) -> None:
    found = provider_code(text)
    assert found is not None
    assert (found.provider, found.reason) == (provider, reason)
    assert found.code.startswith(code)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("421 try later AUP#ZQXW", "AUP#ZQXW"),  # a Cox-shaped code no table has
        ("421 try later AUP#In-1299", "AUP#In-1299"),  # between Spectrum's documented bands
        ("550 5.5.0 Service refuse. Veuillez essayer plus tard. LPN001_108", "LPN001_108"),  # says nothing
        ("421 [TSS77] deferred", "[TSS77]"),
        ("550 IB999 unheard of", "IB999"),
        ("550 5.1.1 user unknown (IBM mail gateway)", "IBM"),
        ("550 5.1.1 unknown; listed as SBL012345", "SBL012345"),  # a Spamhaus listing id, not Comcast
        ("421 4.7.0 busy (SNT0-MC2-F19) (S9999)", "(S9999)"),
    ],
)
def test_an_unknown_code_falls_through(text: str, token: str) -> None:
    assert provider_code(text) is None
    # ... and the generic rules give what they give for the same text without it.
    without = text.replace(token, "")
    for status, reply, command in (("5.1.1", "550", "RCPT"), ("4.7.0", "421", "MAIL"), (None, None, None)):
        assert classify(status, text, reply_code=reply, command=command) == classify(
            status, without, reply_code=reply, command=command
        )


def test_a_code_decides_before_the_status() -> None:
    text = "550 5.1.1 <sam@example.org> 192.0.2.5 sent to too many recipients this hour IB607"
    assert classify("5.1.1", text, reply_code="550", command="RCPT") == "speeding"
    without = text.replace(" IB607", "")
    assert classify("5.1.1", without, reply_code="550", command="RCPT") == "userunknown"


def test_an_unknown_code_leaves_classify_unchanged() -> None:
    plain = "550 5.1.1 <pat@example.org> recipient rejected"
    coded = plain + " AUP#ZQXW"
    assert provider_code(coded) is None
    assert classify("5.1.1", coded, reply_code="550", command="RCPT") == classify(
        "5.1.1", plain, reply_code="550", command="RCPT"
    )


def test_a_quoted_line_does_not_count() -> None:
    text = "550 5.1.1 no such user here\n> earlier reply: 554 refused AUP#CXBL\n"
    assert provider_code(text) is None
    assert provider_code("> 554 Host network not allowed") is None
    # sendmail's transcript arrows are the report's own lines
    found = provider_code(">>> MAIL From:<a@example.org>\n<<< 421 4.7.0 deferred [TSS04]")
    assert found is not None and found.reason == "badreputation"
    found = provider_code(">>> DATA <<< 421 try later AUP#CXCNCT")
    assert found is not None and found.reason == "toomanyconn"


@pytest.mark.parametrize(
    "text",
    [
        # the returned original's header, run together with the reply as a delivery's diagnostic
        "nina@example.net Remote Server returned '550 5.1.1 User unknown' Original message headers: "
        "Message-ID: <ES012345@mail.example.org> Subject: Order shipped",
        "550 5.1.1 User unknown Original message headers: Subject: Order ES012345 shipped",
        "Subject: Invoice IB212 for November Sent: 12/6/2026 cannot be reached: #5.1.1",
        "550 5.1.1 unknown Received: from IB105.example.net (192.0.2.9) by mx.example.org",
        # the digits of a code are no reply code that would end the field
        "550 5.1.1 unknown Subject: Invoices IB212 and IB212, second copy",
    ],
)
def test_a_code_shaped_word_in_the_original_header_does_not_count(text: str) -> None:
    assert provider_code(text) is None


def test_a_reply_after_the_original_header_still_counts() -> None:
    found = provider_code("Subject: hello Sent: today dave@example.net #5.0.0 smtp;554 refused IB212")
    assert found is not None and found.code == "IB212"


def test_many_code_shaped_tokens_are_examined_in_linear_time() -> None:
    # Unknown codes, and known ones all in a subject: each is examined at most once, and only a
    # bounded number of them; a quadratic scan takes minutes here.
    for text in ("x " + "IB999 " * 200_000, "Subject: " + "IB212 " * 200_000):
        started = time.perf_counter()
        assert provider_code(text) is None
        assert time.perf_counter() - started < 2


def test_exims_administrative_prohibition_is_not_mimecast() -> None:
    # Exim's stock refusal text: the status and the rest of the text decide, as without the table.
    text = "550 5.1.1 <bob@example.net>: unknown user: Administrative prohibition"
    assert provider_code(text) is None
    assert classify("5.1.1", text, reply_code="550", command="RCPT") == "userunknown"
    found = provider_code("550 Administrative prohibition - envelope - https://community.mimecast.com/docs/x")
    assert found is not None and found.provider == "Mimecast"


def test_every_reason_in_the_tables_is_one_the_classifier_speaks() -> None:
    known = REASONS | set(STATUS_NAME.values())
    for provider in providers._CODED:
        named = {*provider.codes.values(), *(r for _, _, r in provider.ranges)}
        assert named <= known, (provider.name, named - known)
    assert {r for _, r in providers._MIMECAST} <= known


def test_spectrum_bands_do_not_overlap() -> None:
    bands = sorted(providers._SPECTRUM.ranges)
    for (_, hi, _), (lo, _, _) in itertools.pairwise(bands):
        assert hi < lo


WILD = Path(__file__).resolve().parent / "samples" / "wild"


@pytest.mark.parametrize("language", knowledge.LANGUAGES)
def test_the_answer_shows_the_code_and_its_meaning(language: str) -> None:
    ui = knowledge.load(language).ui
    bounce = parse_bounce((WILD / "cox-aup-cxsndr-authfailure.eml").read_bytes())
    explanation = explain_bounce(bounce, language)
    shown = f"AUP#CXSNDR (Cox): {ui['reason_authfailure']}"
    assert shown in render_text(bounce, explanation, ui)
    message = explanation_message(bounce, explanation, ui, language=language)
    assert shown in json.dumps(message.blocks, ensure_ascii=False)


def test_no_code_no_line() -> None:
    ui = knowledge.load("en").ui
    bounce = parse_bounce((WILD / "provider-code-in-returned-original-only.eml").read_bytes())
    assert bounce.deliveries and bounce.deliveries[0].reason == "userunknown"
    assert ui["provider_code"] not in render_text(bounce, explain_bounce(bounce, "en"), ui)
