"""``/mailflow sender`` and the "Check the sender" button, through the real bolt app.

The sender world of tests/sender/world.py is served by the loopback DNS server; the bot's probe
settings point at it, so every lookup stays on 127.0.0.1.
"""

# ruff: noqa: F811  (fixtures imported by name)
from __future__ import annotations

import json
from typing import Any

import pytest

from bot.probes.config import ProbeConfig, Timeouts
from bot.render.sender_target import SenderTarget
from bot.store import MemoryStore, key
from handlers.sender import SenderArgs, parse_sender
from tests.fixtures.dns_server import DnsServer, dns_server  # noqa: F401
from tests.fixtures.slack_api import Call
from tests.sender.world import IP, world
from tests.slack.conftest import Harness, MakeHarness

pytestmark = pytest.mark.timeout(60)

SPAMHAUS_BOUNCE = (
    "Delivery has failed to these recipients or groups:\n\npat.lee@fabrikam.example\n\n"
    "Remote Server returned '554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using "
    "zen.spamhaus.org; sending domain [ok.test] refused'\n"
)


def probes(dns: DnsServer) -> ProbeConfig:
    world(dns.zone)
    return ProbeConfig(resolver=dns.address, timeouts=Timeouts(dns=0.5, overall=5.0))


def answers(h: Harness) -> list[Call]:
    """The thread messages (posts and their updates) that carry a sender check's answer."""
    calls = h.api.calls_to("chat.postMessage") + h.api.calls_to("chat.update")
    return [c for c in calls if "Sender check:" in c.all_text]


def check_sender_button(explained: Call) -> dict[str, Any]:
    """The "Check the sender" button of an explained bounce."""
    buttons = [e for b in explained.blocks if b.get("type") == "actions" for e in b["elements"]]
    return next(e for e in buttons if e["action_id"] == "check_sender")


async def press(h: Harness, explained: Call, button: dict[str, Any]) -> None:
    """A user in C1 presses ``button`` of the answer ``explained``; the bot's work is awaited."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "1700000000.000009", "channel_id": "C1"},
        "message": {"ts": "1700000000.000009", "thread_ts": explained.params.get("thread_ts"), "text": "x"},
        "actions": [
            {"action_id": button["action_id"], "block_id": "probe", "type": "button", "value": button["value"]}
        ],
    }
    await h.interaction(payload)
    await h.settle()


async def test_slash_command_answers_in_a_thread_with_the_failures(
    make_harness: MakeHarness, dns_server: DnsServer
) -> None:
    h = await make_harness(probes=probes(dns_server))
    status, _ = await h.command(f"sender ok.test --ip {IP}")
    assert status == 200
    await h.settle()
    posts = h.api.calls_to("chat.postMessage")
    assert "/mailflow sender ok.test --ip 203.0.113.5" in posts[0].all_text  # who asked what
    thread = posts[0].params.get("thread_ts") or h.api.calls_to("chat.postMessage")[1].params["thread_ts"]
    assert thread
    final = answers(h)[-1]
    assert "spf-fail" in final.all_text and "Sender check: ok.test / 203.0.113.5" in final.all_text
    assert any(str(b.get("block_id", "")).startswith("step:spf-add") for b in final.blocks)
    assert not h.api.rejected
    # Kept in the domain's history, and no raw address in any key.
    history = await h.store.list_range(key("history", "ok.test"), 5)
    assert history and json.loads(history[0])["code"] == "spf-fail"


async def test_second_command_is_answered_from_the_cache(make_harness: MakeHarness, dns_server: DnsServer) -> None:
    h = await make_harness(probes=probes(dns_server))
    await h.command(f"sender ok.test --ip {IP}")
    await h.settle()
    asked = len(dns_server.queries)
    await h.command(f"sender ok.test --ip {IP}")
    await h.settle()
    assert len(dns_server.queries) == asked  # nothing asked again
    assert "cached" in answers(h)[-1].all_text.lower()
    assert isinstance(h.store, MemoryStore)
    live = h.store.keys()
    keys = [k for k in live if k.startswith("mailflow:v1:probe:sender:")]
    assert keys and all(IP not in k for k in keys)


async def test_bounce_offers_the_button_and_the_button_runs_the_check(
    make_harness: MakeHarness, dns_server: DnsServer
) -> None:
    h = await make_harness(probes=probes(dns_server))
    await h.message(SPAMHAUS_BOUNCE)
    await h.settle()
    (explained,) = h.api.calls_to("chat.postMessage")
    assert "203.0.113.5" in explained.all_text and "ok.test" in explained.all_text  # facts
    sender = check_sender_button(explained)
    assert sender["text"]["text"] == "Check the sender"
    assert SenderTarget.decode(sender["value"]) == SenderTarget("ok.test", IP)
    await press(h, explained, sender)
    final = answers(h)[-1]
    assert "spf-fail" in final.all_text
    assert "listed:zen.spamhaus.org" not in final.all_text  # an error answer, never a listing
    assert "public DNS resolver" in final.all_text
    assert not h.api.rejected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sender", "which sending domain?"),
        ("sender ok.test --ip nonsense", "--ip wants an IPv4 or IPv6 address"),
        ("sender 192.0.2.1", "is not a domain"),
        ("sender ok.test other.test", "one domain at a time"),
    ],
)
async def test_usage_errors_are_private(harness: Harness, text: str, problem: str) -> None:
    await harness.command(text)
    await harness.settle()
    responses = [c for c in harness.api.calls if c.method == "response_url"]
    assert responses and problem in responses[-1].all_text
    assert responses[-1].params.get("response_type") != "in_channel"
    assert not harness.api.calls_to("chat.postMessage")


async def test_help_lists_the_sender_command(harness: Harness) -> None:
    await harness.command("help")
    await harness.settle()
    responses = [c for c in harness.api.calls if c.method == "response_url"]
    assert "/mailflow sender &lt;domain&gt; [--ip IP]" in responses[-1].all_text
    assert "check a sending domain" in responses[-1].all_text


async def test_a_sender_side_code_names_the_slash_command(harness: Harness) -> None:
    await harness.command("5.7.509")
    await harness.settle()
    answer = harness.api.calls_to("chat.postMessage")[-1]
    assert "/mailflow sender &lt;contoso.com&gt; [--ip &lt;203.0.113.25&gt;]" in answer.all_text
    assert "&lt;angle brackets&gt;" in answer.all_text  # the placeholder note
    assert not harness.api.rejected


def test_a_large_sender_check_fits_slack_limits() -> None:
    from bot.knowledge import LANGUAGES  # noqa: PLC0415
    from bot.probes.result import ProbeResult  # noqa: PLC0415
    from bot.render.sender import sender_message  # noqa: PLC0415
    from bot.sender.conclude import SenderRequest, conclude  # noqa: PLC0415
    from handlers.bot import ui_for  # noqa: PLC0415
    from tests.fixtures.slack_api import block_errors  # noqa: PLC0415

    zones = [f"list{n}.{'z' * 40}.example" for n in range(40)]
    record = "v=spf1 " + " ".join(f"include:_spf{n}.{'s' * 30}.example" for n in range(9)) + " -all"
    results = [
        ProbeResult(
            "spf", "big.example", False, "SPF fail", facts={"result": "fail", "mechanism": "-all", "record": record}
        ),
        ProbeResult("dmarc", "big.example", False, "DMARC", facts={"found": False, "org_domain": "big.example"}),
        *(
            ProbeResult(
                "dnsbl",
                zone,
                False,
                "listed",
                facts={
                    "zone": zone,
                    "status": "listed",
                    "answers": ["127.0.0.2"],
                    "reason": "r" * 900,
                    "delist": "https://d.example/",
                },
            )
            for zone in zones
        ),
    ]
    request = SenderRequest("big.example", IP, dnsbl=tuple(zones))
    for language in LANGUAGES:
        report = conclude(request, results, elapsed_ms=1.0, language=language)
        assert len(report.failures) == 42
        message = sender_message(report, ui_for(language))
        assert block_errors(message.blocks) == [], language


@pytest.mark.parametrize(
    ("tokens", "domain", "ip"),
    [
        (["Contoso.COM."], "contoso.com", None),
        (["user@bücher.example"], "xn--bcher-kva.example", None),
        (["contoso.com", "--ip", "::ffff:203.0.113.5"], "contoso.com", "203.0.113.5"),
        (["contoso.com", "--ip=[2001:DB8::5]"], "contoso.com", "2001:db8::5"),
    ],
)
def test_slash_command_arguments_are_normalised(tokens: list[str], domain: str, ip: str | None) -> None:
    assert parse_sender(tokens, "") == SenderArgs(domain, ip)


ESP_BOUNCE = (
    "Delivery has failed to these recipients or groups:\n\npat.lee@fabrikam.example\n\n"
    "Remote Server returned '550 5.7.23 The message was rejected because of Sender Policy Framework "
    "violation: client host [203.0.113.5]'\n\n"
    "Original message headers:\n\n"
    "Return-Path: <b-1234@bounce.esp.test>\n"
    "From: Shop <news@shop.test>\n"
    "To: pat.lee@fabrikam.example\n"
    "Subject: Offers\n"
)


async def test_the_button_carries_the_mail_from_domain_and_spf_is_checked_there(
    make_harness: MakeHarness, dns_server: DnsServer
) -> None:
    h = await make_harness(probes=probes(dns_server))
    await h.message(ESP_BOUNCE)
    await h.settle()
    (explained,) = h.api.calls_to("chat.postMessage")
    sender = check_sender_button(explained)
    assert SenderTarget.decode(sender["value"]) == SenderTarget("shop.test", IP, mailfrom="bounce.esp.test")
    await press(h, explained, sender)
    final = answers(h)[-1]
    assert "spf-fail" not in final.all_text  # shop.test's own record would fail this IP
    assert "MAIL FROM bounce.esp.test / From: shop.test: not aligned" in final.all_text
    assert ("bounce.esp.test", "TXT") in {(q[0].rstrip("."), q[1]) for q in dns_server.queries}
    assert not h.api.rejected


async def test_slash_command_takes_the_mail_from_domain(make_harness: MakeHarness, dns_server: DnsServer) -> None:
    h = await make_harness(probes=probes(dns_server))
    await h.command(f"sender shop.test --ip {IP} --mailfrom bounce.esp.test")
    await h.settle()
    final = answers(h)[-1]
    assert "SPF (bounce.esp.test): pass" in final.all_text and "spf-fail" not in final.all_text
    assert parse_sender(["shop.test", "--mailfrom=b@Bounce.ESP.test"], "") == SenderArgs(
        "shop.test", None, "bounce.esp.test"
    )
