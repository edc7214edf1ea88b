"""The JSON shape of one analysed input (``mailflow explain --format json|jsonl``).

Stable field names; status codes as ``"4.4.316"``, reply codes as ``"450"``, absent values null.
"""

from __future__ import annotations

from typing import Any

from bot.explain import Explanation
from bot.fill import step_record
from bot.parse import Bounce, Code
from bot.sender.offer import sender_command


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
