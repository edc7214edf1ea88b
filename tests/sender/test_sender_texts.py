"""The sender check speaks the reader's language with the same machinery as every answer:
knowledge-base texts (bot/texts.py), checklist steps filled like the others (bot/fill.py, marked
examples and the placeholder note), and one validator (bot/knowledge.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from bot import knowledge
from bot.knowledge import FIELD, LANGUAGES
from bot.render.blocks import escape
from bot.render.sender import render_sender_text, sender_message
from bot.sender import knowledge as sender_knowledge
from bot.sender.conclude import SenderReport, SenderRequest
from handlers.bot import ui_for
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.sender.test_checks import check
from tests.sender.world import IP, world

pytestmark = pytest.mark.timeout(60)
TABLES = ("sender.labels.", "sender.status.", "sender.observed.", "sender.progress.", "sender.failures.")


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with start_dns() as started:
        world(started.zone)
        yield started


def english_fragments(language: str) -> set[str]:
    """The words of the English sender texts that the ``language`` twin does not share."""
    english, theirs = knowledge.load("en").texts, knowledge.load(language).texts
    fragments = set()
    for key, template in english.items():
        if not key.startswith(TABLES):
            continue
        for literal in FIELD.split(template)[::2]:
            piece = literal.strip(" :;(),.")
            if sum(c.isalpha() for c in piece) >= 6 and " " in piece and piece not in theirs[key]:
                fragments.add(piece)
    return fragments


def busy_reports(server: DnsServer, language: str) -> list[SenderReport]:
    """Checks that find many things: SPF none and fail, DMARC missing, DKIM missing, a listing,
    a blocklist's error answer, the default selectors missing."""
    return [
        check(server, SenderRequest("nospf.test", IP, dnsbl=("bl.test",)), language=language),
        check(
            server,
            SenderRequest("ok.test", IP, selectors=("s9",), dnsbl=("bl.test", "zen.spamhaus.org")),
            language=language,
        ),
    ]


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_line_of_a_sender_check_is_in_the_readers_language(server: DnsServer, language: str) -> None:
    fragments = english_fragments(language)
    assert len(fragments) > 20  # the test would see an English line
    for report in busy_reports(server, language):
        assert report.failures and report.warnings
        shown = render_sender_text(report, ui_for(language))
        slack = json.dumps(sender_message(report, ui_for(language)).blocks, ensure_ascii=False)
        leaked = sorted(f for f in fragments if f in shown or f in slack)
        assert leaked == [], leaked
        record = report.record()
        for item in record["failures"] + record["warnings"]:
            assert item["text"] in shown  # the localized line beside the stable English detail
        assert all(f.detail == f.said.render("en") for f in report.failures)


def test_json_detail_stays_english_with_the_text_beside_it(server: DnsServer) -> None:
    record = busy_reports(server, "ja")[0].record()
    listed = next(f for f in record["failures"] if f["id"] == "listed:bl.test")
    assert listed["detail"].startswith(f"{IP} is listed by bl.test: 127.0.0.2")
    assert listed["text"].startswith(f"{IP} は bl.test に掲載されています")


def test_unknown_values_are_marked_examples_with_the_placeholder_note(server: DnsServer) -> None:
    # No selector points to Microsoft 365 yet: the tenant is unknown, so the CNAME targets are examples.
    report = check(server, SenderRequest("nospf.test", selectors=("selector1",)), language="fr")
    step = next(s for s in report.checklist if s["id"] == "dkim-cnames")
    assert step["filled"]["domain"] == "nospf.test"
    assert step["placeholders"] == {
        "selector1_target": "selector1-nospf-test._domainkey.nospf.onmicrosoft.com",
        "selector2_target": "selector2-nospf-test._domainkey.nospf.onmicrosoft.com",
    }
    assert "`<selector1-nospf-test._domainkey.nospf.onmicrosoft.com>`" in step["text"]
    note = ui_for("fr")["placeholder_note"]
    assert note in render_sender_text(report, ui_for("fr"))
    assert escape(note) in json.dumps(sender_message(report, ui_for("fr")).blocks, ensure_ascii=False)


def test_a_listing_without_a_known_removal_page_says_where_to_look(server: DnsServer) -> None:
    report = check(server, SenderRequest("ok.test", IP, dnsbl=("bl.test",)), language="ja")
    step = next(s for s in report.checklist if s["id"] == "dnsbl-delist:bl.test")
    said = knowledge.load("ja").texts["sender.labels.delist_unknown"]
    assert step["filled"] == {"zone": "bl.test", "ip": IP, "delist": said} and said in step["text"]


def test_a_complete_check_has_no_placeholders(server: DnsServer) -> None:
    report = check(server, SenderRequest("nospf.test", IP), language="ja")
    assert report.checklist and not report.has_placeholders
    assert ui_for("ja")["placeholder_note"] not in render_sender_text(report, ui_for("ja"))


def test_the_validator_refuses_a_step_field_the_check_never_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = dict(knowledge.load("en").texts)
    texts["sender.steps.recheck"] += " {tenant}"
    del texts["sender.failures.dkim-weak"]
    monkeypatch.setattr(sender_knowledge.knowledge, "load", lambda language="en": SimpleNamespace(texts=texts))
    problems = sender_knowledge.check()
    assert any("sender.steps.recheck: unknown fields ['tenant']" in p for p in problems), problems
    assert any("sender.failures.dkim-weak missing" in p for p in problems), problems


def test_the_sender_texts_are_checked_like_every_text() -> None:
    assert sender_knowledge.check() == []
    for language in LANGUAGES:
        assert "sender.steps.spf-add" in knowledge.load(language).texts
    assert "sender" not in knowledge._groups()  # facts, not a group of codes
