"""The JSON shape of one analysed input (``mailflow explain --format json|jsonl``).

Stable field names; status codes as ``"4.4.316"``, reply codes as ``"450"``, absent values null.

``bounce_record`` gives the record as a dict (``--format json`` gathers them); ``bounce_json``
gives the same record as one line of JSON, written as ``json.dumps(record, ensure_ascii=False)``
writes it, byte for byte, but directly from the bounce: ``--format jsonl`` writes one line per
input, and building the dicts and walking them again in the generic encoder cost about three
times as much. ``bounce_line`` (what ``--format jsonl`` writes) goes one step further: it explains
the bounce as it writes, from the explanation's JSON encoded once per code and language, so no
filled ``Explanation`` is built for a line. ``tests/test_record.py`` holds all three to the same
output.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from typing import Any

from bot.explain import Explanation, asked_codes, unfilled_explanation
from bot.fill import field_values, known_from_bounce, step_record
from bot.knowledge import Cause, Step, template_fields
from bot.parse import Bounce, Code, Delivery
from bot.sender.offer import sender_command

try:  # the string encoder of json.dumps(..., ensure_ascii=False), without loading json's decoder
    from _json import encode_basestring
except ImportError:  # a Python without the C accelerator: json's own (pure Python) one
    from json.encoder import encode_basestring


def _code(code: Code | None) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"status": code.status, "reply_code": code.reply_code, "text": code.text or None}


def explanation_record(explanation: Explanation | None) -> dict[str, Any] | None:
    if explanation is None:
        return None
    return {
        "code": explanation.code,
        "key": explanation.key,
        "language": explanation.language,
        "title": explanation.title,
        "summary": explanation.summary,
        "causes": [{"id": c.id, "text": c.text, "probes": list(c.probes)} for c in explanation.causes],
        "checklist": [step_record(s) for s in explanation.checklist],
    }


def bounce_record(bounce: Bounce, explanation: Explanation | None, file: str | None = None) -> dict[str, Any]:
    return {
        "file": file,
        "is_ndr": bounce.is_ndr,
        "why_not": bounce.why_not,
        "language": bounce.language,
        "primary": _code(bounce.primary),
        "codes": [_code(c) for c in bounce.codes],
        "recipients": list(bounce.recipients),
        "recipient_count": len(bounce.recipients),
        "remote_host": bounce.remote_host,
        "remote_ip": bounce.remote_ip,
        "reporting_server": bounce.reporting_server,
        "sender": {"domain": bounce.sender.domain, "ip": bounce.sender.ip, "mailfrom": bounce.sender.mailfrom},
        "sender_check": sender_command(bounce),
        "date": bounce.date,
        "deliveries": [
            {
                "recipient": d.recipient,
                "status": d.status,
                "reply_code": d.reply_code,
                "reason": d.reason,
                "remote_host": d.remote_host,
                "diagnostic": d.diagnostic,
                "action": d.action,
            }
            for d in bounce.deliveries
        ],
        "explanation": explanation_record(explanation),
        "truncated": bounce.truncated,
        "notes": list(bounce.notes),
    }


def _strings(values: Iterable[str]) -> str:
    return f"[{', '.join(map(encode_basestring, values))}]"


def _pairs(pairs: Collection[tuple[str, str]]) -> str:
    """A step's ``filled`` or ``placeholders`` (its pairs, or a dict's items) as the JSON object
    ``step_record`` makes of it."""
    if not pairs:
        return "{}"
    return "{" + ", ".join([f"{encode_basestring(k)}: {encode_basestring(v)}" for k, v in pairs]) + "}"


def _code_json(code: Code | None) -> str:
    if code is None:
        return "null"
    status, reply_code, text = code.status, code.reply_code, code.text
    return (
        f'{{"status": {"null" if status is None else encode_basestring(status)}, '
        f'"reply_code": {"null" if reply_code is None else encode_basestring(reply_code)}, '
        f'"text": {encode_basestring(text) if text else "null"}}}'
    )


def _delivery_json(d: Delivery) -> str:
    # each nullable field encoded in place: a call per field costs more than the field's encoding
    enc = encode_basestring
    return (
        f'{{"recipient": {"null" if d.recipient is None else enc(d.recipient)}, '
        f'"status": {"null" if d.status is None else enc(d.status)}, '
        f'"reply_code": {"null" if d.reply_code is None else enc(d.reply_code)}, '
        f'"reason": {"null" if d.reason is None else enc(d.reason)}, '
        f'"remote_host": {"null" if d.remote_host is None else enc(d.remote_host)}, '
        f'"diagnostic": {"null" if d.diagnostic is None else enc(d.diagnostic)}, '
        f'"action": {"null" if d.action is None else enc(d.action)}}}'
    )


def _step_json(step: Step) -> str:
    return (
        f'{{"id": {encode_basestring(step.id)}, "text": {encode_basestring(step.text)}, '
        f'"filled": {_pairs(step.filled)}, "placeholders": {_pairs(step.placeholders)}}}'
    )


@functools.lru_cache(maxsize=1024)
def _explanation_head(  # noqa: PLR0917  (the order of Explanation's fields; positional: a cheaper cache key)
    code: str, key: str, language: str, title: str, summary: str, causes: tuple[Cause, ...]
) -> str:
    """The part of an explanation that depends on its code and language alone, not on the bounce:
    encoded once per code and language (the checklist, filled from the bounce, follows it)."""
    encoded_causes = ", ".join(
        f'{{"id": {encode_basestring(c.id)}, "text": {encode_basestring(c.text)}, "probes": {_strings(c.probes)}}}'
        for c in causes
    )
    return (
        f'{{"code": {encode_basestring(code)}, "key": {encode_basestring(key)}, '
        f'"language": {encode_basestring(language)}, "title": {encode_basestring(title)}, '
        f'"summary": {encode_basestring(summary)}, "causes": [{encoded_causes}]'
    )


def _explanation_json(explanation: Explanation | None) -> str:
    if explanation is None:
        return "null"
    e = explanation
    head = _explanation_head(e.code, e.key, e.language, e.title, e.summary, e.causes)
    return f'{head}, "checklist": [{", ".join(map(_step_json, e.checklist))}]}}'


def bounce_json(bounce: Bounce, explanation: Explanation | None, file: str | None = None) -> str:
    """``bounce_record(bounce, explanation, file)`` as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    return _bounce_json(bounce, _explanation_json(explanation), file)


def bounce_line(bounce: Bounce, language: str, file: str | None = None) -> str:
    """``bounce_json(bounce, explain_bounce(bounce, language) if bounce.is_ndr else None, file)``,
    without building the explanation: its JSON is put together from what is encoded once per
    code and language (``_explanation_plan``), and only the checklist's fields filled from the
    bounce are encoded for each bounce (``--format jsonl``)."""
    asked = asked_codes(bounce) if bounce.is_ndr else None
    plan = _explanation_plan(*asked, language) if asked is not None else None
    if plan is None:
        return _bounce_json(bounce, "null", file)
    start, filled = plan
    if not filled:  # no step names a field: the explanation's JSON is the same for every bounce
        return _bounce_json(bounce, start, file)
    known = known_from_bounce(bounce)
    encoded = [start]
    for step, after in filled:
        encoded += (_filled_step_json(step, known), after)
    return _bounce_json(bounce, "".join(encoded), file)


# A checklist step with named fields, taken apart for ``bounce_line``: the start of its JSON up to
# its text's first field, each field in place with the text after it up to the next one (the
# text encoded, without its quotes), and the field names each once, in order
# (``knowledge.template_fields``).
_StepPlan = tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]


def _inner(text: str) -> str:
    """``text`` as a JSON string without its quotes: JSON escapes each character on its own, so
    the encoding of a text is the encodings of its parts one after another."""
    return encode_basestring(text)[1:-1]


@functools.lru_cache(maxsize=1024)
def _explanation_plan(
    status: str | None, reply_code: str | None, connector_like: bool, language: str
) -> tuple[str, tuple[tuple[_StepPlan, str], ...]] | None:
    """The explanation of a bounce's codes (``bot.explain.unfilled_explanation``) as JSON, once
    per code and language: the JSON up to the first checklist step that names a field, then each
    such step's ``_StepPlan`` with the JSON that follows it up to the next one (or the end)."""
    e = unfilled_explanation(status, reply_code, connector_like, language)
    if e is None:
        return None
    head = _explanation_head(e.code, e.key, e.language, e.title, e.summary, e.causes)
    texts = [f'{head}, "checklist": [']  # the JSON before the first step with fields, then after each
    plans: list[_StepPlan] = []
    for index, step in enumerate(e.checklist):
        plan = _checklist_plan(step.id, step.text)
        texts[-1] += ", " if index else ""
        if isinstance(plan, str):
            texts[-1] += plan
        else:
            plans.append(plan)
            texts.append("")
    texts[-1] += "]}"
    return texts[0], tuple(zip(plans, texts[1:], strict=True))


# Explanations share steps (an entry answers for several codes, a step is in several entries):
# each is taken apart and encoded once.
@functools.lru_cache(maxsize=4096)
def _checklist_plan(step_id: str, template: str) -> str | _StepPlan:
    """A step of the knowledge base (nothing filled yet: ``template`` names its fields) as its
    JSON when it names no field, else as a ``_StepPlan``."""
    texts, places, names = template_fields(template)
    if not names:
        return _step_json(Step(step_id, template))
    start = f'{{"id": {encode_basestring(step_id)}, "text": "{_inner(texts[0])}'
    return start, tuple(zip(places, map(_inner, texts[1:]), strict=True)), names


def _filled_step_json(plan: _StepPlan, known: dict[str, str]) -> str:
    """``_step_json(fill_step(step, known))`` for the step of ``plan``, by ``bot/fill.py``'s own
    rule for each field (``field_values``)."""
    start, places, names = plan
    values, filled, placeholders = field_values(names, known)
    shown = [start]
    for name, after in places:
        shown += (encode_basestring(values[name])[1:-1], after)  # ``_inner``, without a call of it
    shown.append(f'", "filled": {_pairs(filled.items())}, "placeholders": {_pairs(placeholders.items())}}}')
    return "".join(shown)


def _bounce_json(bounce: Bounce, explanation_json: str, file: str | None) -> str:
    # each nullable field encoded in place (a call per field costs more than its encoding); the
    # primary code is most often one of the codes too, the same object: encoded once.
    enc = encode_basestring
    recipients = bounce.recipients
    sender = bounce.sender
    domain, sender_ip, mailfrom = sender.domain, sender.ip, sender.mailfrom
    primary = bounce.primary
    primary_json = _code_json(primary)
    codes_json = ", ".join([primary_json if code is primary else _code_json(code) for code in bounce.codes])
    why_not, lang, host, ip = bounce.why_not, bounce.language, bounce.remote_host, bounce.remote_ip
    reporting, command, date = bounce.reporting_server, sender_command(bounce), bounce.date
    return (
        f'{{"file": {"null" if file is None else enc(file)}, "is_ndr": {"true" if bounce.is_ndr else "false"}, '
        f'"why_not": {"null" if why_not is None else enc(why_not)}, '
        f'"language": {"null" if lang is None else enc(lang)}, '
        f'"primary": {primary_json}, "codes": [{codes_json}], '
        f'"recipients": {_strings(recipients)}, "recipient_count": {len(recipients)}, '
        f'"remote_host": {"null" if host is None else enc(host)}, "remote_ip": {"null" if ip is None else enc(ip)}, '
        f'"reporting_server": {"null" if reporting is None else enc(reporting)}, '
        f'"sender": {{"domain": {"null" if domain is None else enc(domain)}, '
        f'"ip": {"null" if sender_ip is None else enc(sender_ip)}, '
        f'"mailfrom": {"null" if mailfrom is None else enc(mailfrom)}}}, '
        f'"sender_check": {"null" if command is None else enc(command)}, '
        f'"date": {"null" if date is None else enc(date)}, '
        f'"deliveries": [{", ".join(map(_delivery_json, bounce.deliveries))}], '
        f'"explanation": {explanation_json}, "truncated": {"true" if bounce.truncated else "false"}, '
        f'"notes": {_strings(notes) if (notes := bounce.notes) else "[]"}}}'
    )
