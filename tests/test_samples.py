"""Table tests over our own realistic samples: one case per file in tests/samples/cases.toml.

Families: Exchange Online (en es fr ja nl ko de, .eml and pasted), Exchange on-premises, queue
errors and message-trace lines, Postfix, Exim, Sendmail, Gmail, qmail, other MTAs, encodings
(QP, base64, ISO-2022-JP, Shift_JIS, EUC-KR, Latin-1, CRLF, CR), Slack-escaped pastes, and
things that are not bounces.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.parse import parse_bounce
from tests.conftest import SAMPLES, load_cases

CASES = load_cases()


def test_every_sample_has_a_case() -> None:
    files = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*") if p.is_file() and p.name != "cases.toml"}
    assert files == {c["file"] for c in CASES}
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_sample(case: dict[str, Any]) -> None:
    bounce = parse_bounce((SAMPLES / case["file"]).read_bytes())
    assert bounce.is_ndr is case["is_ndr"], bounce.why_not
    if not case["is_ndr"]:
        return
    primary = bounce.primary
    if "status" in case:
        assert primary is not None and primary.status == case["status"]
    if "reply_code" in case:
        assert primary is not None and primary.reply_code == case["reply_code"]
    if "codes" in case:
        assert set(case["codes"]) <= {c.status for c in bounce.codes}
    if "recipients" in case:
        assert sorted(bounce.recipients) == sorted(r.lower() for r in case["recipients"])
    for field in ("remote_host", "remote_ip", "reporting_server", "language"):
        if field in case:
            assert (
                getattr(bounce, field) == case[field].lower() if field != "language" else bounce.language == case[field]
            )
    if "reason" in case:
        assert bounce.deliveries and bounce.deliveries[0].reason == case["reason"]
