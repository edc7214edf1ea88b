"""Slack takes 5 posts per ``response_url`` in 30 minutes: the verdict and an error notice always fit.

The stand-in refuses the 6th post (404 ``used_url``, as Slack), so a diagnosis that redrew
"diagnosing…" once per probe result through the response_url would lose its verdict. Probe
results here arrive one by one, spaced wider than the progress interval, as in a slow war-room
diagnosis of a channel the bot is not in.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bot.diagnose import DiagnoseRequest, OnResult, conclude
from bot.probes.result import ProbeResult
from bot.service import Answer
from bot.store import HistoryEntry
from tests.fixtures.slack_api import RESPONSE_URL_POSTS
from tests.slack.conftest import Harness, MakeHarness, rerun_click

pytestmark = pytest.mark.timeout(60)


class PacedService:
    """Reports ``n`` probe results ``gap_s`` apart, then the verdict (or raises, with ``fail``)."""

    def __init__(self, n: int = 8, gap_s: float = 0.06, *, fail: bool = False) -> None:
        self.n, self.gap_s, self.fail = n, gap_s, fail

    async def diagnose(
        self, request: DiagnoseRequest, *, fresh: bool = False, on_result: OnResult | None = None, language: str = "en"
    ) -> Answer:
        results = []
        for i in range(self.n):
            result = ProbeResult("tcp", f"127.0.0.{i}:25", False, "refused the connection", code="4.4.316")
            results.append(result)
            if on_result:
                on_result(result)
            await asyncio.sleep(self.gap_s)
        if self.fail:
            raise RuntimeError("the probe stack fell over")
        return Answer(conclude(request, results, elapsed_ms=1.0, language=language), 0.0, False)

    async def history(self, domain: str, n: int = 5) -> list[HistoryEntry]:
        return []


def posts(h: Harness) -> list[Any]:
    return h.api.calls_to("response_url")


async def test_a_slow_diagnosis_outside_the_bots_channels_ends_with_its_verdict(make_harness: MakeHarness) -> None:
    h = await make_harness(service=PacedService(), progress_interval_s=0.01)
    h.api.fail_next("chat.postMessage", "not_in_channel")
    await h.command("diagnose contoso.com")
    await h.settle()
    sent = posts(h)
    assert not h.api.rejected, h.api.rejected
    assert len(sent) <= RESPONSE_URL_POSTS - 1  # one post is still free for an error notice
    assert "Diagnosing" in sent[0].all_text and "Diagnosing" not in sent[-1].all_text
    assert "contoso.com" in sent[-1].blocks[0]["text"]["text"]
    assert len(sent) >= 3  # progress was shown, not dropped altogether


async def test_a_failure_after_many_results_still_reaches_the_user_with_its_error_id(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_harness(service=PacedService(fail=True), progress_interval_s=0.01)
    h.api.fail_next("chat.postMessage", "not_in_channel")
    await h.command("diagnose contoso.com")
    await h.settle()
    assert not h.api.rejected, h.api.rejected
    error_id = re.search(r"error id `(\w+)`", posts(h)[-1].all_text)
    assert error_id and any(error_id.group(1) in r.getMessage() for r in caplog.records)


async def test_the_rerun_button_outside_the_bots_channels_keeps_its_verdict(make_harness: MakeHarness) -> None:
    first = PacedService(n=1)
    h = await make_harness(service=first, progress_interval_s=0.01)
    await h.command("diagnose contoso.com")
    await h.settle()
    final = h.api.calls_to("chat.update")[-1]
    first.n = 8  # the re-run reports many results; the bot was removed from the channel meanwhile
    h.api.fail_next("chat.update", "channel_not_found")
    await h.interaction(rerun_click(final, response_url=h.api.response_url("rerun")))
    await h.settle()
    sent = posts(h)
    assert not h.api.rejected, h.api.rejected
    assert 2 <= len(sent) <= RESPONSE_URL_POSTS - 1
    assert all(p.params["replace_original"] for p in sent)
    assert "Diagnosing" not in sent[-1].all_text and "contoso.com" in sent[-1].blocks[0]["text"]["text"]


async def test_progress_through_a_response_url_is_spread_over_the_diagnosis(make_harness: MakeHarness) -> None:
    service = PacedService(n=8, gap_s=0.06)
    h = await make_harness(service=service, progress_interval_s=0.01, response_progress_gap_s=0.25)
    h.api.fail_next("chat.postMessage", "not_in_channel")
    await h.command("diagnose contoso.com")
    await h.settle()
    sent = posts(h)
    progress = [p for p in sent[1:-1] if "Diagnosing" in p.all_text]
    assert progress, [p.all_text[:80] for p in sent]
    # The last progress post came a gap after the first, with the results gathered meanwhile;
    # without the gap both would have gone out with the first one or two results.
    assert progress[-1].all_text.count("refused the connection") >= 3
    assert len(sent) <= RESPONSE_URL_POSTS - 1 and not h.api.rejected


async def test_the_run_button_outside_the_bots_channels_posts_the_verdict_as_a_new_message(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(service=PacedService(n=8), progress_interval_s=0.01)
    await h.message(
        "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] "
        "[LastAttemptedIP=203.0.113.25:25] to alex@fabrikam.com"
    )
    await h.settle()
    (answer,) = h.api.calls_to("chat.postMessage")
    (button,) = [e for b in answer.blocks for e in b.get("elements", []) if e.get("action_id") == "run_probes"]
    h.api.fail_next("chat.postMessage", "not_in_channel")  # removed from the channel meanwhile
    await h.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U3"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C1"},
            "message": {"ts": "1700000000.000001", "thread_ts": answer.params["thread_ts"], "blocks": answer.blocks},
            "actions": [{"action_id": "run_probes", "block_id": "probe", "value": button["value"], "type": "button"}],
        }
    )
    await h.settle()
    # This response_url would replace the explanation, not a "Diagnosing…" it posted: so only
    # the verdict goes, as a new message, and the explanation stays.
    (verdict,) = posts(h)
    assert verdict.params["replace_original"] is False and verdict.params["response_type"] == "in_channel"
    assert "Diagnosing" not in verdict.all_text and "fabrikam.com" in verdict.blocks[0]["text"]["text"]
