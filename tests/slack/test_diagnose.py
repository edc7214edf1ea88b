"""``/mailflow diagnose`` and the probe buttons, against real DNS and SMTP peers on 127.0.0.1.

The lab (as in tests/test_diagnose.py): ``contoso.test`` MX 10 mail.ok.test, mail.ok.test A
127.0.0.1, an SMTP peer on a free port, the HTTP lookups on a local server. The ack comes back
at once; a "diagnosing…" reply in the thread is updated as probes finish, then replaced by the
answer. A stub service that waits on an event shows the ack does not wait for the probes.
"""

# ruff: noqa: F811  (fixtures imported by name)
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from bot import knowledge
from bot.diagnose import DiagnoseRequest, OnResult, conclude
from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.result import ProbeResult
from bot.render.blocks import step_of
from bot.service import Answer
from bot.store import HistoryEntry
from tests.fixtures import smtp_peers
from tests.fixtures.dns_server import DnsServer, dns_server, swallowing_resolver  # noqa: F401
from tests.fixtures.http_server import HttpServer, http_server  # noqa: F401
from tests.fixtures.smtp_peers import HOST, LOOPBACK, Peer, Pki
from tests.slack.conftest import Harness, MakeHarness, rerun_click

pki = smtp_peers.pki
start_peer = smtp_peers.start_peer
pytestmark = pytest.mark.timeout(60)

DOMAIN = "contoso.test"
TIMEOUTS = Timeouts(dns=0.5, connect=0.5, banner=0.5, command=1.0, tls=1.0, http=1.0, overall=10.0)


def lab(dns: DnsServer, http: HttpServer, pki: Pki, port: int) -> ProbeConfig:
    dns.zone.add(DOMAIN, "MX", f"10 {HOST}.")
    dns.zone.add(HOST, "A", LOOPBACK)
    return ProbeConfig(
        resolver=dns.address,
        dns_port=dns.port,
        smtp_port=port,
        ca_file=pki.ca_file,
        allow=("127.0.0.0/8",),
        timeouts=TIMEOUTS,
        endpoints=http.endpoints(),
        ehlo_name="probe.mailflow.test",
    )


@pytest.fixture
async def refused_lab(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: Callable[[str], Awaitable[Peer]]
) -> ProbeConfig:
    peer = await start_peer("closed_port")
    return lab(dns_server, http_server, pki, peer.port)


def final_update(h: Harness) -> Any:
    return h.api.calls_to("chat.update")[-1]


async def test_diagnose_posts_progress_then_the_verdict_in_the_thread(
    make_harness: MakeHarness, refused_lab: ProbeConfig
) -> None:
    h = await make_harness(probes=refused_lab)
    status, body = await h.command(f"diagnose {DOMAIN}")
    assert (status, body) == (200, "")
    await h.settle()
    parent, diagnosing = h.api.calls_to("chat.postMessage")
    assert parent.params.get("thread_ts") is None
    assert diagnosing.params["thread_ts"] == "1700000000.000001"
    assert f"Diagnosing {DOMAIN}" in diagnosing.blocks[0]["text"]["text"]
    updates = h.api.calls_to("chat.update")
    assert all(u.params["ts"] == "1700000000.000002" for u in updates)
    final = updates[-1]
    title = final.blocks[0]["text"]["text"]
    assert title.startswith(f"{DOMAIN}: 4.4.316"), title
    assert "refused the connection" in final.all_text
    assert "✅" in final.all_text and "❌" in final.all_text  # probe list with marks
    assert any(e.get("action_id") == "rerun_probes" for b in final.blocks for e in b.get("elements", []))
    steps = [b for b in final.blocks if str(b.get("block_id", "")).startswith("step:observed-")]
    assert steps, "the filled checklist starts with what was observed"
    assert "Checked just now" in json.dumps(final.blocks[-1])
    assert not h.api.rejected


async def test_a_second_diagnosis_comes_from_the_cache_and_says_how_old(
    make_harness: MakeHarness, refused_lab: ProbeConfig
) -> None:
    h = await make_harness(probes=refused_lab)
    await h.command(f"diagnose {DOMAIN}")
    await h.settle()
    await h.command(f"diagnose {DOMAIN} --lang fr")
    await h.settle()
    final = final_update(h)
    assert "(en cache)" in json.dumps(final.blocks[-1], ensure_ascii=False)  # the reader's language
    assert knowledge.load("fr").exact["4.4.316"].title in final.blocks[0]["text"]["text"]


async def test_rerun_button_redraws_the_same_message_bypassing_the_cache(
    make_harness: MakeHarness, refused_lab: ProbeConfig
) -> None:
    h = await make_harness(probes=refused_lab)
    await h.command(f"diagnose {DOMAIN}")
    await h.settle()
    final = final_update(h)
    before = len(h.api.calls_to("chat.update"))
    await h.interaction(rerun_click(final))
    await h.settle()
    redraws = h.api.calls_to("chat.update")[before:]
    assert redraws and all(u.params["ts"] == final.params["ts"] for u in redraws)
    assert "Checked just now" in json.dumps(redraws[-1].blocks[-1])  # not "(cached)": the probes ran again
    assert len(h.api.calls_to("chat.postMessage")) == 2  # nothing new posted


class GatedService:
    """A service whose probes finish only when the test says so, reporting ``n`` results first."""

    def __init__(self, n: int = 40) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.n = n
        self.calls: list[tuple[DiagnoseRequest, bool, str]] = []

    async def diagnose(
        self, request: DiagnoseRequest, *, fresh: bool = False, on_result: OnResult | None = None, language: str = "en"
    ) -> Answer:
        self.calls.append((request, fresh, language))
        self.started.set()
        results = [
            ProbeResult("tcp", f"127.0.0.{i}:25", True, "accepted the connection", facts={"address": f"127.0.0.{i}"})
            for i in range(self.n)
        ]
        for result in results:
            if on_result:
                on_result(result)
            await asyncio.sleep(0.005)
        await self.release.wait()
        return Answer(conclude(request, results, elapsed_ms=1.0, language=language), 0.0, False)

    async def history(self, domain: str, n: int = 5) -> list[HistoryEntry]:
        return []


async def test_ack_comes_at_once_whatever_the_probes_do_and_updates_are_throttled(make_harness: MakeHarness) -> None:
    service = GatedService()
    h = await make_harness(service=service, progress_interval_s=0.1)
    started = time.perf_counter()
    status, _ = await h.command("diagnose slow.test")
    assert status == 200 and time.perf_counter() - started < 1.0
    await asyncio.wait_for(service.started.wait(), 5)
    await asyncio.sleep(0.5)  # 40 results over ~0.3 s
    progress = len(h.api.calls_to("chat.update"))
    assert 1 <= progress <= 8, progress  # throttled: not one update per result
    service.release.set()
    await h.settle()
    final = final_update(h)
    assert "slow.test" in final.blocks[0]["text"]["text"] and "Diagnosing" not in final.blocks[0]["text"]["text"]
    assert not h.api.rejected


async def test_run_button_on_an_explanation_posts_a_diagnosis_in_its_thread(make_harness: MakeHarness) -> None:
    service = GatedService(n=2)
    service.release.set()
    h = await make_harness(service=service)
    await h.message(
        "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] "
        "[LastAttemptedIP=203.0.113.25:25] to alex@fabrikam.com"
    )
    await h.settle()
    (answer,) = h.api.calls_to("chat.postMessage")
    (button,) = [e for b in answer.blocks for e in b.get("elements", []) if e.get("action_id") == "run_probes"]
    thread = answer.params["thread_ts"]
    await h.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U3"},
            "channel": {"id": "C1"},
            "container": {
                "type": "message",
                "message_ts": "1700000000.000001",
                "channel_id": "C1",
                "thread_ts": thread,
            },
            "message": {"ts": "1700000000.000001", "thread_ts": thread, "blocks": answer.blocks},
            "actions": [{"action_id": "run_probes", "block_id": "probe", "value": button["value"], "type": "button"}],
        }
    )
    await h.settle()
    request, fresh, _ = service.calls[0]
    assert (request.target, request.code, fresh) == ("fabrikam.com", "4.4.316", False)
    posted = h.api.calls_to("chat.postMessage")[1]
    assert posted.params["thread_ts"] == thread
    assert final_update(h).params["ts"] == "1700000000.000002"


async def test_a_refused_target_is_said_in_place_of_diagnosing(harness: Harness) -> None:
    await harness.command("diagnose 10.1.2.3")  # a private address: the probe guard refuses it
    await harness.settle()
    final = final_update(harness)
    assert "Diagnosing" not in final.all_text and "10.1.2.3" in final.all_text
    assert not harness.api.calls_to("response_url")


class BrokenService(GatedService):
    async def diagnose(self, request: DiagnoseRequest, **kwargs: Any) -> Answer:
        raise RuntimeError("the probe stack fell over")


async def test_a_failed_diagnosis_replaces_diagnosing_with_an_error_id(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_harness(service=BrokenService())
    await h.command("diagnose contoso.com")
    await h.settle()
    final = final_update(h)
    assert "Diagnosing" not in final.all_text
    error_id = re.search(r"error id `(\w+)`", final.all_text)
    assert error_id and any(error_id.group(1) in r.getMessage() for r in caplog.records)


async def test_diagnose_in_a_channel_the_bot_is_not_in_goes_through_response_url(make_harness: MakeHarness) -> None:
    service = GatedService(n=3)
    service.release.set()
    h = await make_harness(service=service)
    h.api.fail_next("chat.postMessage", "not_in_channel")
    await h.command("diagnose contoso.com")
    await h.settle()
    replies = h.api.calls_to("response_url")
    assert replies and all(r.params["response_type"] == "in_channel" for r in replies)
    assert replies[0].params["replace_original"] is False
    assert all(r.params["replace_original"] is True for r in replies[1:])
    assert "contoso.com" in replies[-1].blocks[0]["text"]["text"] and "Diagnosing" not in replies[-1].all_text


async def test_ticks_survive_a_rerun(make_harness: MakeHarness, refused_lab: ProbeConfig) -> None:
    h = await make_harness(probes=refused_lab)
    await h.command(f"diagnose {DOMAIN}")
    await h.settle()
    final = final_update(h)
    ts = final.params["ts"]
    step = next(b for b in final.blocks if str(b.get("block_id", "")).startswith("step:"))
    base = {"user": {"id": "U2"}, "channel": {"id": "C1"}, "container": {"type": "message", "message_ts": ts}}
    message = {"ts": ts, "thread_ts": "1700000000.000001", "blocks": final.blocks, "text": "x"}
    tick = {"action_id": "tick", "block_id": step["block_id"], "type": "checkboxes"}
    await h.interaction(
        base
        | {
            "type": "block_actions",
            "message": message,
            "actions": [tick | {"selected_options": step["accessory"]["options"]}],
        }
    )
    await h.settle()
    (button,) = [e for b in final.blocks for e in b.get("elements", []) if e.get("action_id") == "rerun_probes"]
    rerun = {"action_id": "rerun_probes", "block_id": "probe", "value": button["value"], "type": "button"}
    await h.interaction(base | {"type": "block_actions", "message": message, "actions": [rerun]})
    await h.settle()
    redrawn = final_update(h)
    wanted = step_of(step["block_id"])
    assert wanted is not None
    same = next(b for b in redrawn.blocks if (step_of(str(b.get("block_id", ""))) or ("",))[0] == wanted[0])
    assert same["accessory"]["initial_options"] and "<@U2>" in same["accessory"]["options"][0]["description"]["text"]


async def test_run_button_on_a_4_7_320_ndr_probes_with_what_the_code_proves(
    make_harness: MakeHarness,
    dns_server: DnsServer,
    http_server: HttpServer,
    pki: Pki,
    start_peer: Callable[[str], Awaitable[Peer]],
) -> None:
    """The NDR's code rides in the button: the expired certificate is confirmed as 4.7.320, and
    the answer says the connector was assumed to validate certificates (no --require-tls given)."""
    peer = await start_peer("expired")
    h = await make_harness(probes=lab(dns_server, http_server, pki, peer.port))
    await h.message(
        f"450 4.7.320 Certificate validation failed [LastAttemptedServerName={HOST}] "
        f"[LastAttemptedIP={LOOPBACK}:25] to alex@{DOMAIN}"
    )
    await h.settle()
    (answer,) = h.api.calls_to("chat.postMessage")
    assert f"-connect {HOST}:25" in answer.all_text, "the checklist names the server from the NDR"
    (button,) = [e for b in answer.blocks for e in b.get("elements", []) if e.get("action_id") == "run_probes"]
    assert json.loads(button["value"])["c"] == "4.7.320"
    thread = answer.params["thread_ts"]
    await h.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U3"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C1"},
            "message": {"ts": "1700000000.000001", "thread_ts": thread, "blocks": answer.blocks},
            "actions": [{"action_id": "run_probes", "block_id": "probe", "value": button["value"], "type": "button"}],
        }
    )
    await h.settle()
    final = final_update(h)
    ui = knowledge.load("en").ui
    assert final.blocks[0]["text"]["text"].startswith(f"{DOMAIN}: 4.7.320"), final.blocks[0]
    assert ui["confirmed"].format(code="4.7.320") in final.all_text
    assert ui["assumed_validation"].format(code="4.7.320") in final.all_text
    assert "expired on" in final.all_text
    assert not h.api.rejected


async def test_diagnosis_evidence_and_checklist_in_the_readers_language(
    make_harness: MakeHarness, refused_lab: ProbeConfig
) -> None:
    h = await make_harness(probes=refused_lab)
    await h.command(f"diagnose {DOMAIN} --lang nl")
    await h.settle()
    final = final_update(h)
    assert "weigerde de verbinding" in final.all_text and "refused the connection" not in final.all_text
    assert f"Test-NetConnection {HOST} -Port 25" in final.all_text
    note = knowledge.load("nl").ui["placeholder_note"].replace("<", "&lt;").replace(">", "&gt;")
    assert note in final.all_text  # the connector's name is an example
    assert "&lt;Outbound to on-premises&gt;" in final.all_text
    assert not h.api.rejected


async def test_code_command_marks_its_examples(harness: Harness) -> None:
    await harness.command("4.4.316")
    await harness.settle()
    posted = harness.api.calls_to("chat.postMessage")[-1]
    assert "Test-NetConnection &lt;mail.contoso.com&gt; -Port 25" in posted.all_text
    assert knowledge.load("en").ui["placeholder_note"].replace("<", "&lt;").replace(">", "&gt;") in posted.all_text


async def test_a_silent_resolver_is_said_as_such_in_slack(
    make_harness: MakeHarness, dns_server: DnsServer, http_server: HttpServer, pki: Pki
) -> None:
    with swallowing_resolver() as port:
        config = replace(lab(dns_server, http_server, pki, 25), resolver=(LOOPBACK, port))
        h = await make_harness(probes=config)
        await h.command(f"diagnose {DOMAIN} --lang ko")
        await h.settle()
    final = final_update(h)
    ko = knowledge.load("ko").ui
    assert final.blocks[0]["text"]["text"] == f"{DOMAIN}: {ko['resolver_unreachable']}"
    assert ko["resolver_unreachable_help"] in final.all_text
    assert "4.4.312" not in final.blocks[0]["text"]["text"]
    assert not h.api.rejected


async def test_a_refused_target_is_said_in_the_readers_language(harness: Harness) -> None:
    await harness.command("diagnose 10.1.2.3 --lang fr")
    await harness.settle()
    said = harness.api.calls_to("chat.update")[-1].all_text
    assert "vérification de 10.1.2.3 refusée" in said and "--allow" in said, said
