"""Checklists name the real things: the bounce's server, address and recipient, or a marked example.

``mailflow explain`` runs as a user runs it (a subprocess); the knowledge validator is checked on
what it must refuse: a step that names a field nobody fills, or a translation whose fields differ
from English's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot import knowledge
from bot.errors import KnowledgeError
from bot.explain import explain_bounce, explain_code
from bot.fill import EXAMPLES, mark
from bot.parse import parse_bounce
from tests.test_cli import run

QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=smtp.fabrikam.net] [LastAttemptedIP=198.51.100.7:25] "
    "Recipient: alex@fabrikam.net\n"
)


def test_explain_fills_the_checklist_from_the_bounce() -> None:
    result = run("explain", "--format", "json", stdin=QUEUE_ERROR.encode())
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert (record["remote_host"], record["remote_ip"]) == ("smtp.fabrikam.net", "198.51.100.7")
    steps = {s["id"]: s for s in record["explanation"]["checklist"]}
    test_port = steps["test-port"]
    assert "`Test-NetConnection smtp.fabrikam.net -Port 25`" in test_port["text"]
    assert "`Test-NetConnection 198.51.100.7 -Port 25`" in test_port["text"]
    assert test_port["filled"] == {"host": "smtp.fabrikam.net", "ip": "198.51.100.7"}
    assert test_port["placeholders"] == {}
    verify = steps["verify"]
    recipient = record["recipients"][0]
    assert recipient.endswith("@fabrikam.net")
    assert f"-Recipients {recipient}" in verify["text"]
    assert verify["placeholders"] == {"connector": "Outbound to on-premises"}
    assert '-Identity "<Outbound to on-premises>"' in verify["text"]
    assert "-Identity fabrikam.net -DomainType Authoritative" in steps["authoritative"]["text"]
    assert "contoso" not in json.dumps(record["explanation"]["checklist"]).replace("<Outbound to on-premises>", "")


def test_a_code_alone_shows_marked_examples_and_says_so() -> None:
    result = run("explain", "--code", "4.4.316", "--lang", "ja", "--color", "never")
    assert result.returncode == 0, result.stderr
    assert f"`Test-NetConnection {mark(EXAMPLES['host'])} -Port 25`" in result.stdout
    assert knowledge.load("ja").ui["placeholder_note"] in result.stdout.replace("\n  ", "")
    assert "{host}" not in result.stdout and "{" not in re.sub(r"@\{|\[\{", "", result.stdout)


@pytest.mark.parametrize("lang", knowledge.LANGUAGES)
def test_every_field_is_filled_or_marked_in_every_language(lang: str) -> None:
    bounce = parse_bounce(QUEUE_ERROR)
    for code in knowledge.CONNECTOR_CODES:
        for explanation in (explain_code(code, lang), explain_bounce(bounce, lang)):
            assert explanation is not None
            for step in explanation.checklist:
                assert not knowledge.FIELD.search(step.text), (lang, code, step.id, step.text)
                for name, example in step.placeholders:
                    assert mark(example) in step.text, (name, step.text)


def test_the_validator_refuses_a_field_nobody_fills() -> None:
    facts = {"causes": [{"id": "a", "probes": []}], "checklist": ["s"]}
    words = {"title": "t", "summary": "s", "causes": {"a": "c"}, "checklist": {"s": "Run `ping {hostname}`."}}
    with pytest.raises(KnowledgeError, match=r"unknown fields \['hostname'\]"):
        knowledge._entry("connector", "codes", "4.4.316", facts, words=words, where="x")
    words["causes"] = {"a": "Cause on {host}."}
    words["checklist"] = {"s": "Run `ping {host}`."}
    with pytest.raises(KnowledgeError, match="checklist steps only"):
        knowledge._entry("connector", "codes", "4.4.316", facts, words=words, where="x")


def test_the_validator_refuses_a_translation_with_other_fields() -> None:
    english = {"tcp.refused": "{endpoint} refused the connection"}
    with pytest.raises(KnowledgeError, match=r"fields \['host'\], but English has \['endpoint'\]"):
        knowledge._same_fields("fr", {"tcp.refused": "{host} a refusé"}, english, pattern=knowledge.FIELD)
    knowledge._same_fields("fr", {"tcp.refused": "{endpoint} a refusé"}, english, pattern=knowledge.FIELD)


def test_every_text_the_code_names_exists() -> None:
    """Every ``text("key", ...)`` in bot/ names a text of the knowledge base (the validator checks
    each language has it with English's fields)."""
    root = Path(__file__).resolve().parents[1] / "bot"
    named = set()
    for path in root.rglob("*.py"):
        named |= set(re.findall(r"""\btext\(\s*"([a-z_]+\.[a-z_]+)\"""", path.read_text()))
        named |= set(re.findall(r"""\bkey = "([a-z_]+\.[a-z_]+)\"""", path.read_text()))
    assert len(named) > 60
    texts = knowledge.load("en").texts
    assert sorted(n for n in named if n not in texts) == []


def test_evidence_texts_survive_the_probe_cache() -> None:
    """Cached results are concluded again in each reader's language: their texts must round-trip."""
    from bot.probes.result import observed  # noqa: PLC0415
    from bot.store.cache import decode, encode  # noqa: PLC0415
    from bot.texts import text  # noqa: PLC0415

    servers = (text("dns.server_said", rcode="SERVFAIL", server="192.0.2.53:53"),)
    said = [text("dns.failed", name="contoso.com", rdtype="MX", error=servers), text("dns.nxdomain_cached", ttl=300)]
    result = observed("mx", "contoso.com", False, said, "4.4.312", 1.5, {"rcode": "SERVFAIL"})
    decoded = decode(encode([result], 1700000000.0))
    assert decoded is not None
    (back,), _ = decoded
    assert back == result
    assert back.says("ja") == result.says("ja") != result.detail
    assert "SERVFAIL from 192.0.2.53:53" in back.detail
