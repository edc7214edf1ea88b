"""Fixes from reviewing the knowledge base against the seeds and Exchange Online's documentation.

Each new code answers with its own entry in every language; each language keeps one word for one
thing; names and advice are current ones.
"""

from __future__ import annotations

import re

import pytest

from bot import knowledge
from bot.explain import explain_bounce, explain_code
from bot.parse import parse_bounce
from tests.menu_labels import LABELS, labelled

LANGS = knowledge.LANGUAGES
FINAL_FORMS = ("5.4.312", "5.4.315", "5.4.317", "5.4.318", "5.7.320")
NEW_CODES = [
    *((code, "exchange-final") for code in FINAL_FORMS),
    ("5.7.520", "exchange-sending"),
    ("5.7.139", "exchange-sending"),
    ("5.7.60", "exchange-sending"),
    ("530", "smtp-auth"),
    ("534", "smtp-auth"),
    ("535", "smtp-auth"),
    ("538", "smtp-auth"),
    ("454", "smtp-auth"),
]


def _all_texts(lang: str) -> list[tuple[str, str]]:
    """(where, text) for every title, summary, cause, step and label in one language."""
    kb = knowledge.load(lang)
    entries = [*kb.exact.values(), *(r[4] for r in kb.ranges), *kb.registry.values()]
    entries += [*kb.classes.values(), *kb.subjects.values(), *kb.replies.values()]
    out = [(f"ui.{k}", v) for k, v in kb.ui.items()]
    for e in entries:
        out += [(f"{e.key}.title", e.title), (f"{e.key}.summary", e.summary)]
        out += [(f"{e.key}.causes.{c.id}", c.text) for c in e.causes]
        out += [(f"{e.key}.checklist.{s.id}", s.text) for s in e.checklist]
    return out


def _prose(text: str) -> str:
    """The words around the commands: backticked literals stay in English on purpose."""
    return re.sub(r"`[^`]*`", "`…`", text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("code", "group"), NEW_CODES)
def test_new_code_has_its_own_entry(code: str, group: str, lang: str) -> None:
    explanation = explain_code(code, lang)
    assert explanation is not None
    assert (explanation.key, explanation.language, explanation.specific) == (code, lang, True)
    kb = knowledge.load(lang)
    entry = kb.exact[code] if "." in code else kb.replies[code]
    assert entry.group == group
    assert explanation.checklist, "every new entry says what to do"
    english = knowledge.load("en")
    en_entry = english.exact[code] if "." in code else english.replies[code]
    assert [s.id for s in entry.checklist] == [s.id for s in en_entry.checklist]
    if lang != "en":
        assert entry.title != en_entry.title and entry.summary != en_entry.summary


@pytest.mark.parametrize("code", FINAL_FORMS)
def test_final_form_names_its_queue_error(code: str) -> None:
    queue_error = "4" + code[1:]
    for lang in LANGS:
        explanation = explain_code(code, lang)
        assert explanation is not None
        assert queue_error in explanation.summary, (lang, code)
        assert [s.id for s in explanation.checklist][-1] == "resend"
        assert any(c.probes for c in explanation.causes), "a probe can confirm a cause"


@pytest.mark.parametrize("code", FINAL_FORMS)
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_final_form_alone_is_the_primary_code(code: str, lang: str) -> None:
    text = f"Remote Server returned '550 {code} Message expired'\n"
    bounce = parse_bounce(f"Delivery has failed to these recipients:\n\nalex@fabrikam.com\n{text}".encode())
    assert bounce.primary is not None and bounce.primary.status == code
    explanation = explain_bounce(bounce, lang)
    assert explanation is not None and explanation.key == code


@pytest.mark.parametrize("code", FINAL_FORMS)
def test_nested_queue_error_wins_over_its_final_form(code: str) -> None:
    nested = "4" + code[1:]
    text = (
        f"Remote Server returned '550 {code} Message expired [{{LED=450 {nested} Failure "
        "[LastAttemptedServerName=mail.fabrikam.com] [LastAttemptedIP=203.0.113.25:25]};"
        "{MSG=};{FQDN=mail.fabrikam.com}]'\n"
    )
    bounce = parse_bounce(f"Delivery has failed to these recipients:\n\nalex@fabrikam.com\n{text}".encode())
    assert bounce.primary is not None and bounce.primary.status == nested
    explanation = explain_bounce(bounce, "en")
    assert explanation is not None and explanation.key == nested


def test_final_form_beats_the_generic_expiry_wrapper() -> None:
    text = "550 4.4.7 QUEUE.Expired; message expired\nRemote Server returned '550 5.4.318 Message expired'\n"
    bounce = parse_bounce(f"Delivery has failed to these recipients:\n\nalex@fabrikam.com\n{text}".encode())
    assert bounce.primary is not None and bounce.primary.status == "5.4.318"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.", "5.7.139"),
        ("550 5.7.60 SMTP; Client does not have permissions to send as this sender", "5.7.60"),
        ("550 5.7.520 Access denied, Your organization does not allow external forwarding. AS(7555)", "5.7.520"),
        ("454 4.7.0 Temporary authentication failure", "454"),  # 4.7.0 says only "other"
        ("530 5.7.0 Authentication required", "530"),
        ("535 5.7.8 Authentication credentials invalid", "X.7.8"),  # a specific registry code stands
        ("550 5.7.0 Relaying denied", "X.7.0"),  # 550 has no entry of its own beyond the registry
    ],
)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_sending_and_auth_replies_in_a_bounce(line: str, key: str, lang: str) -> None:
    bounce = parse_bounce(
        f"Delivery has failed to these recipients:\n\nalex@fabrikam.com\nRemote Server returned '{line}'\n".encode()
    )
    explanation = explain_bounce(bounce, lang)
    assert explanation is not None and explanation.key == key, (line, explanation)


# Words each language uses for one thing, and the variants it must not use (outside backticks).
TERMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("organization",), ("organisation", "authorised", "recognis", "synchronis", "licences")),
    "es": (("host inteligente",), ("smart host", "on-premises", "host de retransmisión")),
    "fr": (("hôte actif", "local"), ("smart host", "sur site", "sur place", "hôte intelligent", "on-premises")),
    "ko": (("온-프레미스", "스마트 호스트"), ("온프레미스", "온 프레미스", "스마트호스트")),
    "ja": (("オンプレミス", "スマート ホスト"), ("オン プレミス", "オン・プレミス", "スマートホスト")),
    "nl": (("on-premises", "smarthost"), ("on premises", "onpremises", "smart host")),
}
EVERY_LANGUAGE_FORBIDS = ("Microsoft 365 Defender", "classic EAC", "classic Exchange admin center")


@pytest.mark.parametrize("lang", LANGS)
def test_one_term_per_language(lang: str) -> None:
    required, forbidden = TERMS[lang]
    texts = _all_texts(lang)
    prose = " ".join(_prose(t) for _, t in texts)
    for term in required:
        assert term in prose, f"{lang}: {term!r} never used"
    offending = [
        (where, bad)
        for where, text in texts
        for bad in (*forbidden, *EVERY_LANGUAGE_FORBIDS)
        if bad.lower() in _prose(text).lower()
    ]
    assert not offending, f"{lang}: variant spellings {offending[:10]}"


@pytest.mark.parametrize("lang", LANGS)
def test_no_classic_admin_center(lang: str) -> None:
    classic = {"en": "classic", "es": "clásico", "fr": "classique", "ja": "従来の", "nl": "klassiek", "ko": "기존 EAC"}
    hits = [where for where, text in _all_texts(lang) if classic[lang] in _prose(text) and "EAC" in text]
    assert not hits, hits


@pytest.mark.parametrize("lang", LANGS)
def test_certificate_name_is_checked_only_with_domain_validation(lang: str) -> None:
    entry = knowledge.load(lang).exact["4.7.320"]
    cause = next(c.text for c in entry.causes if c.id == "name-mismatch")
    step = next(s.text for s in entry.checklist if s.id == "match-names")
    for text in (cause, step):
        assert "`DomainValidation`" in text and "`TlsDomain`" in text, text
    final = next(c.text for c in knowledge.load(lang).exact["5.7.320"].causes if c.id == "name-mismatch")
    assert "`DomainValidation`" in final and "`TlsDomain`" in final


def test_certificate_name_is_not_the_smart_host_name_in_english() -> None:
    entry = knowledge.load("en").exact["4.7.320"]
    step = next(s.text for s in entry.checklist if s.id == "match-names")
    assert "recipient domain when `TlsDomain` is empty" in step
    assert "not the smart host name" in step


@pytest.mark.parametrize("lang", LANGS)
def test_smtp_auth_advice_leads_with_oauth_or_a_connector(lang: str) -> None:
    for code in ("5.7.57", "5.7.139"):
        steps = knowledge.load(lang).exact[code].checklist
        ids = [s.id for s in steps]
        oauth = min(i for i, s in enumerate(steps) if "OAuth" in s.text)
        password = ids.index("smtp-auth-allowed" if code == "5.7.57" else "allow-mailbox")
        connector = ids.index("relay-connector" if code == "5.7.57" else "use-connector")
        assert oauth <= 1, (lang, code, ids)  # the first fix, after at most reading the NDR
        assert oauth < connector < password, (lang, code, ids)


def test_fix_now_lowers_the_risk_and_promises_nothing() -> None:
    step = next(s.text for s in knowledge.load("en").exact["4.4.316"].checklist if s.id == "fix-now")
    assert "lowers the risk" in step
    assert "keeps your organization under" not in step
    assert "prevent" not in step


@pytest.mark.parametrize("lang", sorted(LABELS))
def test_menu_and_button_names_carry_the_localized_label(lang: str) -> None:
    """`Mail flow > Connectors` stays in English in backticks; Microsoft's label follows it."""
    missing = []
    for where, text in _all_texts(lang):
        for english in LABELS[lang]:
            bare = text.count(f"`{english}`")
            if bare and text.count(labelled(lang, english)) != bare:
                missing.append((where, english))
    assert not missing, missing
    kb = knowledge.load(lang)
    step = next(s.text for s in kb.exact["4.4.312"].checklist if s.id == "fix-smart-host")
    assert labelled(lang, "Mail flow > Connectors") in step
