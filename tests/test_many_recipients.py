"""A bounce to hundreds of recipients: the parse keeps them all, renderers cap what they show and say how many.

Before, the parser stopped at 100 addresses, so a 300-recipient bounce showed "(+95)". The
Slack answer is checked in tests/slack/test_events.py.
"""

from __future__ import annotations

import json
import time

import pytest

from bot import knowledge
from bot.explain import explain_bounce
from bot.parse import parse_bounce
from bot.render.terminal import render_text
from tests.test_cli import run


def postfix_bounce(n: int) -> str:
    lines = "\n".join(
        f"<user{i}@fabrikam.com>: host mail.fabrikam.com[203.0.113.25] said: 550 5.1.1 <user{i}@fabrikam.com>: "
        "Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"
        for i in range(n)
    )
    return (
        "This is the mail system at host mail.contoso.com.\n\nI'm sorry to have to inform you that your message "
        f"could not\nbe delivered to one or more recipients. It's attached below.\n\n   The mail system\n\n{lines}\n"
    )


@pytest.mark.parametrize("n", [1, 99, 100, 101, 300])
def test_the_parse_keeps_every_recipient(n: int) -> None:
    bounce = parse_bounce(postfix_bounce(n))
    assert bounce.is_ndr
    assert list(bounce.recipients) == [f"user{i}@fabrikam.com" for i in range(n)]
    assert all(d.status == "5.1.1" for d in bounce.deliveries)
    # Each recipient's own diagnostic, not its neighbour's.
    assert "user7@" in bounce.deliveries[min(7, n - 1)].diagnostic or n <= 7


def test_many_recipients_parse_in_linear_time() -> None:
    def took(n: int) -> float:
        text = postfix_bounce(n)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            parse_bounce(text)
            best = min(best, time.perf_counter() - started)
        return best

    ratio = took(800) / took(200)
    assert ratio < 10, ratio  # 4x the input: linear is ~4, quadratic ~16


@pytest.mark.parametrize("lang", knowledge.LANGUAGES)
def test_the_terminal_shows_ten_and_says_how_many_in_every_language(lang: str) -> None:
    bounce = parse_bounce(postfix_bounce(300))
    ui = dict(knowledge.load(lang).ui)
    out = render_text(bounce, explain_bounce(bounce, lang), ui)
    line = next(line for line in out.splitlines() if line.lstrip().startswith(ui["recipient"]))
    assert "user9@fabrikam.com" in line and "user10@fabrikam.com" not in line
    assert ui["recipients_more"].format(n=290, count=300) in line


def test_json_lists_them_all_with_their_count() -> None:
    result = run("explain", "--format", "json", stdin=postfix_bounce(300).encode())
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["recipient_count"] == 300 and len(record["recipients"]) == 300
    assert len(record["deliveries"]) == 300
