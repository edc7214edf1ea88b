"""Checklist ticks and the "Explain this bounce" message shortcut, as block_actions / message_action payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.render.blocks import step_of
from bot.store import key
from tests.fixtures.slack_api import Call
from tests.slack.conftest import Harness

pytestmark = pytest.mark.timeout(30)

QUEUE_ERROR = (
    "450 4.4.316 Connection refused [Message=Socket error code 10061] "
    "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"
)


def steps(call: Call) -> list[dict[str, Any]]:
    return [b for b in call.blocks if str(b.get("block_id", "")).startswith("step:")]


def step_id(block: dict[str, Any]) -> str:
    step = step_of(str(block.get("block_id", "")))
    assert step is not None
    return step[0]


async def tick(h: Harness, answer: Call, ts: str, block: dict[str, Any], user: str, *, done: bool) -> None:
    option = block["accessory"]["options"][0]
    await h.interaction(
        {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": ts, "channel_id": "C1"},
            "message": {"ts": ts, "thread_ts": answer.params["thread_ts"], "blocks": answer.blocks, "text": "x"},
            "actions": [
                {
                    "action_id": "tick",
                    "block_id": block["block_id"],
                    "type": "checkboxes",
                    "selected_options": [option] if done else [],
                }
            ],
        }
    )
    await h.settle()


async def test_ticks_are_stored_and_the_message_shows_who_ticked_what(harness: Harness) -> None:
    await harness.message(QUEUE_ERROR)
    await harness.settle()
    (answer,) = harness.api.calls_to("chat.postMessage")
    ts = "1700000000.000001"
    first, second = steps(answer)[:2]
    await tick(harness, answer, ts, first, "U1", done=True)
    await tick(harness, answer, ts, second, "U2", done=True)
    redraw = harness.api.calls_to("chat.update")[-1]
    assert redraw.params["ts"] == ts
    drawn = {b["block_id"]: b["accessory"] for b in steps(redraw)}
    assert drawn[first["block_id"]]["initial_options"][0]["value"] == step_id(first)
    assert "<@U1>" in drawn[first["block_id"]]["options"][0]["description"]["text"]
    assert "<@U2>" in drawn[second["block_id"]]["options"][0]["description"]["text"]
    stored = await harness.store.hgetall(key("checklist", "C1", ts))
    assert set(stored) == {step_id(first), step_id(second)}
    # Unticked: no longer checked, and who unticked it is shown.
    await tick(harness, answer, ts, first, "U3", done=False)
    drawn = {b["block_id"]: b["accessory"] for b in steps(harness.api.calls_to("chat.update")[-1])}
    assert "initial_options" not in drawn[first["block_id"]]
    assert "<@U3>" in drawn[first["block_id"]]["options"][0]["description"]["text"]
    assert "initial_options" in drawn[second["block_id"]]
    assert not harness.api.rejected


EPHEMERAL = {"type": "message", "channel_id": "C1", "is_ephemeral": True}


def shortcut(text: str, **message: Any) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "explain_bounce",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "message_ts": "1690000000.000042",
        "message": {"type": "message", "user": "U4", "text": text, "ts": "1690000000.000042", **message},
    }


async def test_the_shortcut_explains_a_message_in_its_thread(harness: Harness) -> None:
    status, body = await harness.interaction(shortcut(QUEUE_ERROR))
    assert (status, body) == (200, "")
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == "1690000000.000042"
    assert "4.4.316" in reply.blocks[0]["text"]["text"]


async def test_the_shortcut_on_chat_says_so_only_to_the_user(harness: Harness) -> None:
    await harness.interaction(shortcut("lunch at noon? 550 people are coming"))
    await harness.settle()
    assert not harness.api.calls_to("chat.postMessage")
    (reply,) = harness.api.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral" and "Not a bounce" in reply.all_text


async def test_the_shortcut_reads_an_attached_bounce_file(harness: Harness) -> None:
    file = harness.api.add_file("ndr.txt", QUEUE_ERROR.encode())
    await harness.interaction(shortcut("see attached", files=[file]))
    await harness.settle()
    (reply,) = harness.api.calls_to("chat.postMessage")
    assert "4.4.316" in reply.blocks[0]["text"]["text"]


def ephemeral_tick(message_ts: str, action: dict[str, Any], *, response_url: str | None = None) -> dict[str, Any]:
    """A tick on an ephemeral message, as Slack sends it: without the message itself."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U2"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C1", "is_ephemeral": True},
        "actions": [action],
    }
    return payload | ({"response_url": response_url} if response_url else {})


async def test_a_tick_on_the_shortcuts_ephemeral_answer_is_redrawn_from_the_kept_copy(harness: Harness) -> None:
    harness.api.fail_next("chat.postMessage", "not_in_channel")  # so the shortcut answers only to the user
    await harness.interaction(shortcut(QUEUE_ERROR))
    await harness.settle()
    (answer,) = harness.api.calls_to("response_url")
    assert answer.params["response_type"] == "ephemeral"
    block = steps(answer)[1]
    # Slack sends an action on an ephemeral message without the message itself.
    tick = {
        "action_id": "tick",
        "block_id": block["block_id"],
        "type": "checkboxes",
        "selected_options": block["accessory"]["options"],
    }
    await harness.interaction(ephemeral_tick("1690000000.000099", tick, response_url=harness.api.response_url("tick")))
    await harness.settle()
    (redraw,) = [c for c in harness.api.calls_to("response_url") if c.params["_name"] == "tick"]
    assert redraw.params["replace_original"] is True
    assert redraw.blocks[0] == answer.blocks[0] and len(redraw.blocks) == len(answer.blocks)  # not from nothing
    drawn = {b["block_id"]: b["accessory"] for b in steps(redraw)}
    assert drawn[block["block_id"]]["initial_options"] and "<@U2>" in json.dumps(drawn[block["block_id"]])
    assert not harness.api.calls_to("chat.update") and not harness.api.rejected


async def test_a_tick_without_the_message_and_without_a_kept_copy_redraws_nothing(harness: Harness) -> None:
    tick = {"action_id": "tick", "block_id": "step:check-dns~0badc0ffee", "type": "checkboxes"}
    await harness.interaction(ephemeral_tick("1690000000.000098", tick))
    await harness.settle()
    assert not harness.api.calls_to("response_url") and not harness.api.calls_to("chat.update")
    assert await harness.store.hgetall(key("checklist", "C1", "1690000000.000098"))  # the tick itself is kept


async def test_an_unknown_action_is_acknowledged_and_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    status, body = await harness.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U2"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "1690000000.000097", "channel_id": "C1"},
            "actions": [{"action_id": "retired_button_v0", "block_id": "x", "type": "button", "value": "1"}],
        }
    )
    assert (status, body) == (200, "")  # not bolt's 404, which Slack shows the user as an error
    status, _ = await harness.event({"type": "reaction_added", "user": "U2", "reaction": "eyes"})
    assert status == 200
    await harness.settle()
    logged = [r.getMessage() for r in caplog.records if r.name == "mailflow.slack"]
    assert any("block_actions 'retired_button_v0'" in m for m in logged)
    assert any("'reaction_added'" in m for m in logged)
    assert not harness.api.calls_to("chat.postMessage") and not harness.api.calls_to("response_url")
