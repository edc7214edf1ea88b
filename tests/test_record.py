"""``bounce_json`` writes the JSON line of ``bounce_record`` itself (and ``bounce_line`` too, which
explains the bounce as it writes): byte for byte what ``json.dumps(record, ensure_ascii=False)``
writes, on every sample and every language, and on values that need escaping (quotes,
backslashes, control characters, non-ASCII)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import knowledge
from bot.explain import explain_bounce
from bot.parse import Bounce, Code, Delivery, Sender, parse_bounce
from bot.render.record import bounce_json, bounce_line, bounce_record
from tests.conftest import SAMPLES

FILES = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "cases.toml")


def _same(bounce: Bounce, language: str, file: str | None) -> None:
    explanation = explain_bounce(bounce, language) if bounce.is_ndr else None
    record = bounce_record(bounce, explanation, file)
    line = json.dumps(record, ensure_ascii=False)
    assert bounce_json(bounce, explanation, file) == line
    assert bounce_line(bounce, language, file) == line  # explains it itself, from the checklist's plan


@pytest.mark.parametrize("language", knowledge.LANGUAGES)
def test_the_line_is_the_record_as_json_dumps_writes_it(language: str) -> None:
    for path in FILES:
        _same(parse_bounce(path.read_bytes()), language, str(path.relative_to(SAMPLES)))


def test_values_that_need_escaping() -> None:
    odd = 'a "quoted" back\\slash\ttab\x01\x7f é 配信 \u2028 \U0001f600'
    bounce = Bounce(
        is_ndr=True,
        why_not=odd,
        language="ja",
        primary=Code("5.7.1", "550", odd, depth=1),
        codes=(Code("5.7.1", "550", odd), Code(None, None, "")),
        deliveries=(Delivery(odd, "5.7.1", "550", "spf", odd, odd, "failed"), Delivery(None, None, None, "")),
        remote_host=odd,
        remote_ip="198.51.100.7",
        truncated=True,
        notes=(odd, ""),
        sender=Sender(domain=odd, ip="203.0.113.5", mailfrom="esp.example"),
        date="2024-01-02T03:04:05Z",
    )
    for language in knowledge.LANGUAGES:
        _same(bounce, language, odd)
    _same(Bounce(is_ndr=False, why_not="no delivery failure found"), "en", None)


# Any text, lone surrogates included (undecodable bytes reach the record as surrogates), or None.
_TEXT = st.text(st.characters(codec=None), max_size=12)
_MAYBE = st.none() | _TEXT
_STATUS = st.none() | st.sampled_from(["5.1.1", "4.4.316", "5.7.1", "4.7.0", "2.0.0"])  # as the parser writes them


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.tuples(_MAYBE, _STATUS, _TEXT, _MAYBE, _MAYBE, _TEXT, _MAYBE),
    notes=st.lists(_TEXT, max_size=3),
    is_ndr=st.booleans(),
    language=st.sampled_from(knowledge.LANGUAGES),
)
def test_any_values_are_written_as_json_dumps_writes_them(
    values: tuple[str | None, ...], notes: list[str], is_ndr: bool, language: str
) -> None:
    recipient, status, text, host, ip, reason, date = values
    code = Code(status, None, text)
    bounce = Bounce(
        is_ndr=is_ndr,
        why_not=None if is_ndr else text,
        language=host,
        primary=code if is_ndr else None,
        codes=(code, Code(None, ip, "")),
        deliveries=(Delivery(recipient, status, ip, reason, host, text, date),),
        remote_host=host,
        remote_ip=ip,
        reporting_server=recipient,
        notes=tuple(notes),
        sender=Sender(domain=host, ip=ip, mailfrom=recipient),
        date=date,
    )
    _same(bounce, language, recipient)
