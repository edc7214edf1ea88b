"""``mailflow sender`` end to end: a real subprocess against the loopback DNS server."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest

from bot.cli.sender import add_parser, request_from_args
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.hardening.test_faults import dead_dns
from tests.sender.world import IP, world
from tests.test_cli import run

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with start_dns() as started:
        world(started.zone)
        yield started


def lab(server: DnsServer) -> list[str]:
    return ["--resolver", f"127.0.0.1:{server.port}", "--timeout", "5"]


def test_clean_sender_exits_0(server: DnsServer) -> None:
    out = run("sender", "ok.test", "--ip", "192.0.2.25", "--dnsbl", "bl.test", *lab(server))
    assert out.returncode == 0, out.stderr
    assert "Nothing fails" in out.stdout
    assert "SPF: pass (ip4:192.0.2.0/24)" in out.stdout
    assert "ok spf" in out.stderr  # progress, one line per check


def test_failures_exit_3_with_json_shape(server: DnsServer) -> None:
    out = run("sender", "ok.test", "--ip", IP, "--dnsbl", "bl.test", "--format", "json", *lab(server))
    assert out.returncode == 3, out.stderr
    record = json.loads(out.stdout)
    assert set(record) >= {
        "domain",
        "ip",
        "spf",
        "dmarc",
        "dkim",
        "dnsbl",
        "failures",
        "warnings",
        "checklist",
        "elapsed_ms",
    }
    assert [f["id"] for f in record["failures"]] == ["spf-fail", "listed:bl.test"]
    assert record["spf"]["result"] == "fail" and record["spf"]["mechanism"] == "-all"
    assert [d["selector"] for d in record["dkim"]] == ["selector1", "selector2"]
    assert record["dnsbl"][0]["zone"] == "bl.test" and record["dnsbl"][-1]["zone"] == "microsoft"
    assert all(set(step) == {"id", "text", "observed", "filled", "placeholders"} for step in record["checklist"])
    assert all(set(f) == {"id", "detail", "text"} for f in record["failures"] + record["warnings"])
    assert record["cache"] == {"hit": False, "age_s": 0.0}


def test_text_shows_failures_and_checklist_in_japanese(server: DnsServer) -> None:
    out = run("sender", "nospf.test", "--ip", IP, "--dnsbl", "bl.test", "--lang", "ja", *lab(server))
    assert out.returncode == 3
    assert "spf-none" in out.stdout and "dmarc-missing" in out.stdout
    assert "チェックリスト" in out.stdout
    assert "`v=spf1 ip4:203.0.113.5 include:spf.protection.outlook.com -all`" in out.stdout


def test_without_ip_no_blocklists(server: DnsServer) -> None:
    out = run("sender", "ok.test", "--format", "json", *lab(server))
    assert out.returncode == 0, out.stdout
    record = json.loads(out.stdout)
    assert record["ip"] is None and record["dnsbl"] == []
    assert (record["spf"]["valid"], record["spf"]["lookups"], record["spf"]["includes_m365"]) == (True, 1, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sender", "not a domain"], "is not a domain name"),
        (["sender", "192.0.2.1"], "is not a domain name"),
        (["sender", "ok.test", "--ip", "999.1.1.1"], "is not an IPv4 or IPv6 address"),
        (["sender", "ok.test", "--selector", "bad selector!"], "is not a DKIM selector"),
        (["sender", "ok.test", "--dnsbl", "not_a zone"], "is not a domain name"),
        (["sender", "ok.test", "--timeout", "0"], "--timeout must be a positive"),
        (["sender", "ok.test", "--timeout", "nan"], "--timeout must be a positive"),
        (["sender", "ok.test", "--timeout", "inf"], "--timeout must be a positive"),
        (["sender", ""], "is not a domain name"),
        (["sender", "bü cher.test"], "is not a domain name"),
        (["sender", "ok.test", "--resolver", "dns.example"], "--resolver"),
        (["sender"], "the following arguments are required"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["sender", "ok.test", "--ip", "999.1.1.1", "--lang", "fr"],
            "--ip '999.1.1.1' n'est pas une adresse IPv4 ou IPv6",
        ),
        (
            ["sender", "ok.test", "--selector", "a b", "--lang", "ja"],
            "--selector 'a b' は DKIM セレクターではありません",
        ),
        (["diagnose", "contoso.test", "--code", "abc", "--lang", "ko"], "--code에는 4.4.316 같은 확장 상태 코드를"),
        (["diagnose", "contoso.test", "--port", "0", "--lang", "nl"], "--port moet tussen 1 en 65535 liggen"),
    ],
)
def test_bad_arguments_are_said_in_the_readers_language(args: list[str], message: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("args", "domain", "ip"),
    [
        (["OK.Test."], "ok.test", None),
        (["bücher.test"], "xn--bcher-kva.test", None),
        (["ok.test", "--ip", "::ffff:203.0.113.5"], "ok.test", "203.0.113.5"),
        (["ok.test", "--ip", "[2001:DB8::5]"], "ok.test", "2001:db8::5"),
    ],
)
def test_arguments_are_normalised(args: list[str], domain: str, ip: str | None) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    request, _ = request_from_args(parser.parse_args(["sender", *args]))
    assert (request.name, request.ip) == (domain, ip)


def test_an_internationalised_domain_is_checked_by_its_a_label(server: DnsServer) -> None:
    out = run("sender", "Bücher.test", "--format", "json", *lab(server))
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads(out.stdout)
    assert record["domain"] == "xn--bcher-kva.test" and record["spf"]["valid"] is True


def test_explain_shows_the_sender_and_the_command() -> None:
    sample = "tests/samples/sender/postfix-5.7.1-spamhaus-client-host.eml"
    out = run("explain", sample)
    assert out.returncode == 0, out.stderr
    assert "Sending domain" in out.stdout and "contoso.com" in out.stdout
    assert "Sending IP" in out.stdout and "203.0.113.5" in out.stdout
    assert out.stdout.rstrip().endswith("Check it now:\n  mailflow sender contoso.com --ip 203.0.113.5")
    record = json.loads(run("explain", "--format", "json", sample).stdout)
    assert record["sender"] == {"domain": "contoso.com", "ip": "203.0.113.5", "mailfrom": None}
    assert record["sender_check"] == "mailflow sender contoso.com --ip 203.0.113.5"


def test_explain_of_a_receiver_side_code_offers_nothing() -> None:
    record = json.loads(
        run("explain", "--format", "json", "tests/samples/postfix/postfix-en-5.1.1-virtual-mailbox.eml").stdout
    )
    assert record["sender_check"] is None
    assert "mailflow sender" not in run("explain", "tests/samples/postfix/postfix-en-5.1.1-virtual-mailbox.eml").stdout


@pytest.mark.parametrize(
    ("code", "offered"), [("5.7.509", True), ("5.7.606", True), ("5.7.26", True), ("5.1.1", False)]
)
def test_explain_code_names_the_command_for_sender_side_codes(code: str, offered: bool) -> None:
    out = run("explain", "--code", code)
    assert out.returncode == 0
    assert ("mailflow sender <contoso.com> [--ip <203.0.113.25>]" in out.stdout) is offered
    if offered:  # the examples are marked, and said to be examples
        assert "Values in <angle brackets> are examples" in out.stdout


def test_mailfrom_moves_spf_and_shows_alignment(server: DnsServer) -> None:
    out = run("sender", "shop.test", "--ip", IP, "--mailfrom", "bounce.esp.test", *lab(server))
    assert out.returncode == 0, out.stdout + out.stderr  # only warnings: SPF passes where receivers check it
    assert "SPF (bounce.esp.test): pass (ip4:203.0.113.0/24)" in out.stdout
    assert "SPF alignment (DMARC): MAIL FROM bounce.esp.test / From: shop.test: not aligned" in out.stdout
    record = json.loads(
        run("sender", "shop.test", "--ip", IP, "--mailfrom", "bounce.esp.test", "--format", "json", *lab(server)).stdout
    )
    assert record["mailfrom"] == "bounce.esp.test" and record["alignment"]["aligned"] is False
    assert "spf-unaligned" in {w["id"] for w in record["warnings"]}
    assert run("sender", "shop.test", "--mailfrom", "not a domain", *lab(server)).returncode == 2


def test_our_dead_resolver_exits_1_and_says_so() -> None:
    with dead_dns("closed") as (host, port):
        out = run("sender", "ok.test", "--ip", IP, "--resolver", f"{host}:{port}", "--timeout", "3", "--format", "json")
    assert out.returncode == 1, out.stdout + out.stderr
    record = json.loads(out.stdout)
    assert [f["id"] for f in record["failures"]] == ["resolver-unreachable"]
    assert record["checklist"][0]["id"] == "resolver-check"
