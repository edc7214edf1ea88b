"""bot/render/blocks.py, pure: every message valid for Slack whatever goes in; user text made inert.

Each row builds a message from extreme input and checks it against the stand-in's own Block Kit
check (tests/fixtures/slack_api.py, written from Slack's documentation), so the renderer and the
check do not share a mistake.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from bot import knowledge
from bot.diagnose import DiagnoseRequest, conclude
from bot.explain import explain_bounce, explain_code
from bot.knowledge import Step
from bot.parse import Bounce, Code, Delivery, parse_bounce
from bot.probes.result import ProbeResult
from bot.render.blocks import (
    ProbeTarget,
    Tick,
    apply_ticks,
    code_message,
    diagnosis_message,
    escape,
    explanation_message,
    fit,
    history_message,
    home_view,
    progress_message,
    shorten,
    split_text,
)
from bot.store import HistoryEntry
from handlers.commands import usages
from tests.fixtures.slack_api import VIEW_BLOCKS, block_errors

UI = dict(knowledge.load("en").ui)
QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)
HUGE = "x" * 7000 + " <!channel> & <@U1> " + "y" * 7000


def huge_bounce() -> Bounce:
    recipients = tuple(Delivery(f"user{n}-{'a' * 300}@contoso.com", "5.1.1", "550", "userunknown") for n in range(40))
    return Bounce(
        is_ndr=True,
        primary=Code("5.1.1", "550", HUGE),
        codes=tuple(Code(f"5.1.{n}", "550", "t") for n in range(30)),
        deliveries=recipients,
        remote_host="mx." + "b" * 2500 + ".test",
        remote_ip="203.0.113.25",
        reporting_server="r" * 3000,
    )


def long_explanation(steps: int) -> Any:
    base = explain_code("4.4.316", "en")
    assert base is not None
    checklist = tuple(Step(f"step-{n}-{'z' * 300}", f"Do thing {n}: " + "w " * 2000) for n in range(steps))
    return dataclasses.replace(base, summary=HUGE, checklist=checklist, title="T" * 300)


def results(n: int) -> list[ProbeResult]:
    return [
        ProbeResult(
            "tcp",
            f"203.0.113.{i % 250}:25",
            i % 3 != 0,
            "detail " + "d" * 400,
            "4.4.316" if i % 3 == 0 else None,
            facts={"address": f"203.0.113.{i % 250}"},
        )
        for i in range(n)
    ]


CASES: dict[str, Callable[[], Any]] = {
    "huge bounce": lambda: explanation_message(huge_bounce(), long_explanation(70), UI),
    "60 steps, all ticked": lambda: explanation_message(
        parse_bounce(QUEUE_ERROR),
        long_explanation(60),
        UI,
        ticks={f"step-{n}-{'z' * 300}": Tick(True, "U1", 0.0) for n in range(60)},
    ),
    "unknown code": lambda: explanation_message(huge_bounce(), None, UI),
    "code": lambda: code_message("4.4.316", long_explanation(30), UI),
    "diagnosis with 300 results": lambda: diagnosis_message(
        conclude(DiagnoseRequest("contoso.com", code="4.4.316"), results(300), elapsed_ms=5.0, language="en"),
        UI,
        age_s=400,
        from_cache=True,
    ),
    "progress with 300 results": lambda: progress_message("d" * 400, results(300), UI),
    "history": lambda: history_message("contoso.com", [HistoryEntry(0.0, "4.4.316", HUGE)] * 20, UI),
}


@pytest.mark.parametrize("name", CASES)
def test_every_message_is_valid_for_slack(name: str) -> None:
    message = CASES[name]()
    assert block_errors(message.blocks) == []
    assert 0 < len(message.text) <= 3000
    assert "<!channel>" not in json.dumps(message.blocks) + message.text


def test_home_view_is_valid() -> None:
    from bot.render.blocks import RecentEntry  # noqa: PLC0415

    view = home_view(UI, usages(), [RecentEntry(0.0, "d" * 300, "4.4.316", "U1")] * 200)
    assert view["type"] == "home"
    assert block_errors(view["blocks"], max_blocks=VIEW_BLOCKS) == []


def test_user_text_is_escaped() -> None:
    bounce = parse_bounce("550 5.1.1 <!here> <@U0ALL> &lt;x&gt; user unknown (in reply to RCPT TO command) a@b.test")
    message = explanation_message(bounce, explain_bounce(bounce, "en"), UI)
    dumped = json.dumps(message.blocks)
    assert "<!here>" not in dumped and "<@U0ALL>" not in dumped
    assert escape("a <b> & c") == "a &lt;b&gt; &amp; c"


def test_shortening_never_cuts_an_escape_in_half() -> None:
    text = "a" * 98 + "&amp;"
    assert shorten(text, 100) == "a" * 98 + "…"
    pieces = split_text("word " * 2000, 3000)
    assert all(len(p) <= 3000 for p in pieces) and "".join(pieces).count("word") == 2000


def test_fit_enforces_the_limits_on_any_blocks() -> None:
    wild = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 500}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 9000}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 5000}] * 15},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "b" * 200},
                    "action_id": "a" * 400,
                    "value": "v" * 5000,
                }
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 20},
        *[{"type": "divider"}] * 80,
    ]
    fitted = fit(wild)
    assert block_errors(fitted) == []
    assert len(fitted) == 50 and fitted[-1]["type"] == "context"


def test_ticks_redraw_only_the_checkboxes() -> None:
    bounce = parse_bounce(QUEUE_ERROR)
    message = explanation_message(bounce, explain_bounce(bounce, "en"), UI)
    step = next(b for b in message.blocks if str(b.get("block_id", "")).startswith("step:"))
    step_id = step["block_id"][5:]
    redrawn = apply_ticks(message.blocks, {step_id: Tick(True, "U9", 0.0)}, UI)
    changed = [(a, b) for a, b in zip(message.blocks, redrawn, strict=True) if a != b]
    assert len(changed) == 1
    before, after = changed[0]
    assert before["text"] == after["text"]
    assert after["accessory"]["initial_options"][0]["value"] == step_id
    assert "<@U9>" in after["accessory"]["options"][0]["description"]["text"]


def test_probe_target_round_trips_through_a_button_value() -> None:
    target = ProbeTarget("contoso.com", "4.4.316", "smtp.contoso.com", True, "*.contoso.com", "ja")
    assert ProbeTarget.decode(target.encode()) == target
    assert ProbeTarget.decode("not json") is None
    assert len(ProbeTarget("d" * 5000).encode()) <= 2000
