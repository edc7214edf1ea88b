"""The sender of the refused mail, read from the bounce: our samples (tests/samples/sender/,
cases.toml's sender_domain and sender_ip) and a table of the shapes each marker takes."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from bot.parse import parse_bounce
from bot.parse.model import Sender
from bot.parse.sender import external_ip, find_sender, receiving_domains
from bot.sender.offer import offers_sender_check, sender_command
from tests.conftest import SAMPLES, load_cases

CASES = [c for c in load_cases() if "sender_domain" in c]


def test_there_are_sender_samples() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_sample_sender(case: dict[str, Any]) -> None:
    bounce = parse_bounce((SAMPLES / case["file"]).read_bytes())
    assert (bounce.sender.domain, bounce.sender.ip) == (case["sender_domain"] or None, case["sender_ip"] or None)
    assert offers_sender_check(bounce)  # every one is a sender-side refusal
    command = sender_command(bounce)
    assert command is not None and command.startswith(f"mailflow sender {case['sender_domain'] or '<contoso.com>'}")
    assert (f"--ip {case['sender_ip']}" in command) is bool(case["sender_ip"])


@pytest.mark.parametrize(
    ("text", "original", "expected"),
    [
        ("554 5.7.1 Client host [198.51.100.4] blocked using bl.example", {}, Sender(None, "198.51.100.4")),
        ("Client host [10.0.0.4] blocked; client host [198.51.100.5] blocked", {}, Sender(None, "198.51.100.5")),
        ("550 5.7.1 Client host [127.0.0.1] blocked using bl.example", {}, Sender()),
        ("banned sending IP [2001:db8::25]", {}, Sender(None, "2001:db8::25")),
        ("spf=fail (sender IP is 192.0.2.7) smtp.mailfrom=contoso.com", {}, Sender("contoso.com", "192.0.2.7")),
        ("sending domain contoso.com does not pass DMARC", {}, Sender("contoso.com", None)),
        ("SPF [contoso.com] with ip: [100.64.0.9] = did not pass", {}, Sender("contoso.com", None)),
        ("Unfortunately, messages from [192.0.2.99] weren't sent.", {}, Sender(None, "192.0.2.99")),
        ("550 5.7.23 SPF violation", {"return-path": "<bounce@news.contoso.com>"}, Sender("news.contoso.com", None)),
        (
            "550 5.7.23",
            {"from": '"A" <a@contoso.com>', "return-path": "<b@other.example>"},
            Sender("contoso.com", None),
        ),
        ("550 5.7.23", {"return-path": "<>"}, Sender()),
        (
            "550 5.7.1",
            {"received": "from a.example (a.example [192.0.2.1]) by mx.b.example"},
            Sender(None, "192.0.2.1"),
        ),
        ("550 5.7.1", {"received": "from a.example (a.example [172.16.0.9]) by mx.b.example"}, Sender()),
        ("550 5.7.1", {"received": "from AM0PR01 (2603:10a6:20b:e4::12) by AM0PR02 with HTTPS"}, Sender()),
        ("550 5.7.1", {"received": "by mx.b.example [192.0.2.1]"}, Sender()),
        ("550 5.7.1", {"received": "from x (x [IPv6:2001:db8::9]) by mx.b.example"}, Sender(None, "2001:db8::9")),
        ("550 5.7.1", {"received": "from a.example (a.example [192.0.2.1]) by mail.a.example"}, Sender()),
        ("550 5.7.1", {"received": "from relay.b.example (relay.b.example [192.0.2.7]) by mx.b.example"}, Sender()),
        (
            "550 5.7.1",
            {"received": "from [10.0.0.1] (h.a.example [192.0.2.3]) by mx.b.example"},
            Sender(None, "192.0.2.3"),
        ),
        (
            "550 5.7.1",
            {"received": "from h ([192.0.2.4] helo=[192.0.2.99]) by mx.b.example"},
            Sender(None, "192.0.2.4"),
        ),
        ("sender IP is ::ffff:192.168.0.1", {}, Sender()),
        ("client-ip=198.51.100.200; envelope-from=x@y.example", {}, Sender("y.example", "198.51.100.200")),
        ("sending domain [1.2.3.4] does not pass", {}, Sender(None, None)),
    ],
)
def test_find_sender(text: str, original: dict[str, str], expected: Sender) -> None:
    found = find_sender(text, original, ("b.example",))
    assert (found.domain, found.ip) == (expected.domain, expected.ip)


@pytest.mark.parametrize(
    ("text", "original", "domain", "mailfrom"),
    [
        # Through an email service: DMARC judges the From: domain, SPF the envelope's.
        (
            "550 5.7.23",
            {"from": "<news@contoso.com>", "return-path": "<b-123@bounce.esp.example>"},
            "contoso.com",
            "bounce.esp.example",
        ),
        (
            "spf=fail (sender IP is 192.0.2.7) smtp.mailfrom=bounce.esp.example; dmarc=fail header.from=contoso.com",
            {},
            "contoso.com",
            "bounce.esp.example",
        ),
        (
            "SPF [mail.esp.example] with ip: [192.0.2.9] = did not pass",
            {"from": "a@adatum.example"},
            "adatum.example",
            "mail.esp.example",
        ),
        (
            "550 5.7.23",
            {"received-spf": "fail (x) client-ip=192.0.2.1; envelope-from=<b@esp.example>"},
            "esp.example",
            "esp.example",
        ),
        ("550 5.7.23", {"from": "a@contoso.com"}, "contoso.com", None),
        ("550 5.7.23", {"from": "a@contoso.com", "return-path": "<>"}, "contoso.com", None),
    ],
)
def test_find_mailfrom(text: str, original: dict[str, str], domain: str, mailfrom: str | None) -> None:
    found = find_sender(text, original)
    assert (found.domain, found.mailfrom) == (domain, mailfrom)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("10.1.2.3", None),
        ("192.168.1.1", None),
        ("172.31.255.255", None),
        ("127.0.0.1", None),
        ("169.254.169.254", None),
        ("100.64.1.1", None),
        ("fd00::1", None),
        ("fe80::1", None),
        ("::1", None),
        ("[198.51.100.1]", "198.51.100.1"),
        ("nonsense", None),
    ],
)
def test_external_ip(token: str, expected: str | None) -> None:
    assert external_ip(token) == expected


def test_marker_flood_stays_linear() -> None:
    text = "client host [" * 50_000 + " sending domain " * 50_000
    assert find_sender(text, {}) == Sender()


@pytest.mark.timeout(10)
def test_quoted_original_search_stays_linear() -> None:
    """A run of dashes (40,000 took 17 s with a backtracking ``-+\\s*original message`` pattern)."""
    dashes = "-" * 200_000 + "\n"
    assert find_sender(dashes + "----- Original message -----\nFrom: a@contoso.com\n", {}) == Sender("contoso.com")
    assert find_sender(dashes + "- original message x\n" * 20_000, {}) == Sender()  # decoys: bounded


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("550 5.7.509 Access denied, sending domain [contoso.com] does not pass DMARC verification", True),
        ("550 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org", True),
        ("550 5.7.1 Delivery not authorized, message refused by the group's settings", False),
        ("550 5.1.1 User unknown", False),
        ("421 4.7.28 Our system has detected an unusual rate of unsolicited mail", True),
        ("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent: their network is on our block list", True),
    ],
)
def test_which_bounces_offer_the_check(text: str, offered: bool) -> None:
    bounce = parse_bounce(
        f"Delivery has failed to these recipients:\n\nx@fabrikam.example\nRemote Server returned '{text}'\n"
    )
    assert bounce.is_ndr
    assert offers_sender_check(bounce) is offered


def test_receiving_domains() -> None:
    assert receiving_domains(["pat@fabrikam.example", "x@fabrikam.example"], "mx1.fabrikam.example") == (
        "fabrikam.example",
        "mx1.fabrikam.example",
    )
    assert receiving_domains([], "fabrikam-com.mail.protection.outlook.com") == (
        "fabrikam-com.mail.protection.outlook.com",
        "mail.protection.outlook.com",
    )
    assert receiving_domains(["nobody"], None) == ()
    assert receiving_domains([], "192.0.2.7") == ()


def test_sender_init_takes_the_fields_in_order_with_their_defaults() -> None:
    """Sender writes its own ``__init__``: the generated one's parameters, every field stored, and
    the value stays a frozen, comparable, picklable dataclass."""
    params = list(inspect.signature(Sender.__init__).parameters.values())[1:]
    fields = dataclasses.fields(Sender)
    assert [p.name for p in params] == [f.name for f in fields]
    assert all(p.default == f.default for p, f in zip(params, fields, strict=True))
    values = [object(), object(), object()]
    assert [getattr(Sender(*values), f.name) for f in fields] == values
    made = Sender(**{f.name: v for f, v in zip(fields, values, strict=True)})
    assert [getattr(made, f.name) for f in fields] == values
    sender = Sender("example.org", "192.0.2.1", "bounce.example.org")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sender.ip = "x"  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(sender))
    assert copy == sender and hash(copy) == hash(sender) and dataclasses.replace(sender) == sender
    assert Sender() == Sender(None, None, None)
