"""The sender checks against the loopback DNS server: one row per case, every failure id.

Each row runs every check (``run_checks``) and concludes (``conclude``), then asserts the
failure ids exactly, and the evidence that matters for that case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.sender.check import run_checks
from bot.sender.conclude import FAILURE_IDS, SenderReport, SenderRequest, conclude, suggested_spf
from bot.sender.dmarc import organizational_domain
from bot.sender.dns import SenderDns
from bot.sender.spf import analyse_spf
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.sender.world import IP, world

pytestmark = pytest.mark.timeout(30)

OK_IP = "192.0.2.25"


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with start_dns() as started:
        world(started.zone)
        yield started


def config_for(server: DnsServer, *, dns: float = 0.5, overall: float = 5.0) -> ProbeConfig:
    return ProbeConfig(resolver=server.address, timeouts=Timeouts(dns=dns, overall=overall))


def check(server: DnsServer, request: SenderRequest, *, language: str = "en", **timeouts: float) -> SenderReport:
    results = asyncio.run(run_checks(request, config_for(server, **timeouts)))
    return conclude(request, results, elapsed_ms=0.0, language=language)


def ids(report: SenderReport) -> set[str]:
    return {f.id for f in report.failures}


def warning_ids(report: SenderReport) -> set[str]:
    return {w.id for w in report.warnings}


Check = Callable[[dict[str, Any]], None]
ROWS: list[tuple[str, SenderRequest, set[str], Check]] = [
    (
        "all-good",
        SenderRequest("ok.test", OK_IP, dnsbl=("bl.test",)),
        set(),
        lambda r: (
            r["spf"]["result"] == "pass"
            and r["spf"]["mechanism"] == "ip4:192.0.2.0/24"
            and r["dmarc"]["applied"] == "reject"
            and all(d["status"] == "ok" and d["m365_cname"] and d["bits"] == 2048 for d in r["dkim"])
            and r["dnsbl"][0]["status"] == "clear"
        ),
    ),
    (
        "spf-fail-and-listed",
        SenderRequest("ok.test", IP, dnsbl=("bl.test",)),
        {"spf-fail", "listed:bl.test"},
        lambda r: (
            r["spf"]["mechanism"] == "-all"
            and r["dnsbl"][0]["reason"] == "Listed for spam traps, see https://bl.test/lookup"
            and r["spf"]["suggested"]
            == "v=spf1 ip4:192.0.2.0/24 include:spf.protection.outlook.com ip4:203.0.113.5 -all"
        ),
    ),
    (
        "spf-softfail",
        SenderRequest("soft.test", IP),
        {"spf-softfail", "dmarc-missing"},
        lambda r: r["spf"]["mechanism"] == "~all",
    ),
    (
        "spf-neutral-is-a-warning",
        SenderRequest("neutral.test", IP),
        {"dmarc-missing"},
        lambda r: {w["id"] for w in r["warnings"]} >= {"spf-neutral"},
    ),
    (
        "spf-none",
        SenderRequest("nospf.test", IP),
        {"spf-none", "dmarc-missing"},
        lambda r: r["spf"]["suggested"] == "v=spf1 ip4:203.0.113.5 include:spf.protection.outlook.com -all",
    ),
    (
        "spf-two-records",
        SenderRequest("two.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: "2 SPF records" in r["spf"]["error"],
    ),
    (
        "spf-include-loop",
        SenderRequest("loop.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: "more than 10 DNS lookups" in r["spf"]["error"],
    ),
    (
        "spf-temperror",
        SenderRequest("broken.test", IP),
        {"spf-temperror"},
        lambda r: "dmarc broken.test" in r["incomplete"] and "SERVFAIL" in r["spf"]["error"],
    ),
    (
        "spf-eleven-lookups",
        SenderRequest("eleven.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: r["spf"]["lookups"] == 11 and "'a:h10.eleven.test'" in r["spf"]["error"],
    ),
    (
        "spf-ten-lookups-are-fine",
        SenderRequest("ten.test", IP),
        {"spf-fail", "dmarc-missing"},
        lambda r: r["spf"]["lookups"] == 10,
    ),
    (
        "spf-third-void-lookup",
        SenderRequest("void.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: r["spf"]["void_lookups"] == 3 and "void" in r["spf"]["error"],
    ),
    (
        "spf-two-void-lookups-are-fine",
        SenderRequest("twovoid.test", IP),
        {"dmarc-missing"},
        lambda r: r["spf"]["result"] == "pass" and r["spf"]["void_lookups"] == 2,
    ),
    (
        "spf-eleven-mx-names",
        SenderRequest("manymx.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: "11 MX names" in r["spf"]["error"],
    ),
    (
        "spf-exists-macro",
        SenderRequest("macro.test", IP),
        {"dmarc-missing"},
        lambda r: r["spf"]["result"] == "pass",
    ),
    (
        "spf-redirect",
        SenderRequest("redirect.test", OK_IP),
        {"dmarc-missing"},
        lambda r: r["spf"]["result"] == "pass" and r["spf"]["matched_in"] == "ok.test",
    ),
    ("spf-ptr", SenderRequest("ptr.test", IP), {"dmarc-missing"}, lambda r: r["spf"]["mechanism"] == "ptr"),
    (
        "dmarc-invalid",
        SenderRequest("baddmarc.test"),
        {"spf-none", "dmarc-invalid"},
        lambda r: {p.split(" ", 1)[0] for p in r["dmarc"]["problems"]} == {"p=maybe", "pct=150"},
    ),
    (
        "dmarc-two-records",
        SenderRequest("twodmarc.test"),
        {"spf-none", "dmarc-invalid"},
        lambda r: "2 DMARC records" in r["dmarc"]["problems"][0],
    ),
    (
        "dmarc-organizational-domain",
        SenderRequest("mail.contoso.co.uk"),
        {"spf-none"},
        lambda r: (
            r["dmarc"]["inherited"]
            and r["dmarc"]["at"] == "_dmarc.contoso.co.uk"
            and r["dmarc"]["applied"] == "reject"
            and r["dmarc"]["external"][0]["verified"] is True
        ),
    ),
    (
        "dmarc-never-from-a-public-suffix",
        SenderRequest("a.x.blogspot.com"),
        {"spf-none", "dmarc-missing"},
        lambda r: r["dmarc"]["org_domain"] == "x.blogspot.com",
    ),
    (
        "dmarc-warnings",
        SenderRequest("monitor.test"),
        {"spf-none"},
        lambda r: {w["id"] for w in r["warnings"]} >= {"dmarc-monitor", "dmarc-pct", "dmarc-report-unverified"},
    ),
    (
        "dkim-weak",
        SenderRequest("weak.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing", "dkim-weak"},
        lambda r: r["dkim"][0]["bits"] == 768,
    ),
    (
        "dkim-1024-is-a-warning",
        SenderRequest("short.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing"},
        lambda r: "dkim-1024" in {w["id"] for w in r["warnings"]},
    ),
    (
        "dkim-revoked",
        SenderRequest("revoked.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing", "dkim-revoked"},
        lambda r: r["dkim"][0]["revoked"] is True and r["dkim"][0]["present"] is True,
    ),
    (
        "dkim-invalid",
        SenderRequest("garbled.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing", "dkim-invalid"},
        lambda r: r["dkim"][0]["problems"] == ["p= is not base64"],
    ),
    (
        "dkim-ed25519",
        SenderRequest("ed.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing"},
        lambda r: r["dkim"][0]["key_type"] == "ed25519" and r["dkim"][0]["status"] == "ok",
    ),
    (
        "dkim-missing",
        SenderRequest("ok.test", OK_IP, selectors=("s9",)),
        {"dkim-missing"},
        lambda r: r["dkim"][0]["present"] is False and r["dkim"][0]["name"] == "s9._domainkey.ok.test",
    ),
    (
        "dkim-default-selectors-elsewhere-is-a-warning",
        SenderRequest("soft.test"),
        {"dmarc-missing"},
        lambda r: "dkim-default-selectors" in {w["id"] for w in r["warnings"]},
    ),
    (
        "dnsbl-error-answers-are-unknown",
        SenderRequest("ok.test", IP, dnsbl=("zen.spamhaus.org", "hijack.test", "failing.test", "clear.test")),
        {"spf-fail"},
        lambda r: [d["status"] for d in r["dnsbl"]] == ["unknown", "unknown", "unknown", "clear", "no-zone"],
    ),
    (
        "dnsbl-spamhaus-public-resolver",
        SenderRequest("ok.test", IP, dnsbl=("zen.spamhaus.org", "clear.test")),
        {"spf-fail"},
        lambda r: (
            r["dnsbl"][0]["error"] == "public-resolver"
            and r["dnsbl"][1]["status"] == "clear"
            and r["dnsbl"][2]
            == {
                "zone": "microsoft",
                "status": "no-zone",
                "delist": "https://sender.office.com/",
                "query": None,
            }
        ),
    ),
]


@pytest.mark.parametrize(("request_", "expected", "more"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_sender_check(server: DnsServer, request_: SenderRequest, expected: set[str], more: Check) -> None:
    report = check(server, request_)
    record = report.record()
    assert ids(report) == expected, record["failures"]
    assert more(record), record
    assert report.ok is (not expected and not report.incomplete)
    steps = [s["id"] for s in report.checklist]
    assert len(steps) == len(set(steps))
    if expected:
        assert report.checklist and all("{" not in s["text"] and s["observed"] for s in report.checklist)


def test_every_failure_id_is_covered() -> None:
    seen = {i if not i.startswith("listed:") else "listed:<zone>" for row in ROWS for i in row[2]}
    assert seen == set(FAILURE_IDS)


def test_dnsbl_unclear_answers_say_why(server: DnsServer) -> None:
    request = SenderRequest("ok.test", IP, dnsbl=("zen.spamhaus.org", "hijack.test", "failing.test"))
    report = check(server, request)
    errors = [d.get("error") for d in report.dnsbl]
    assert errors[:3] == ["public-resolver", "not-loopback", "dns"]
    details = [w.detail for w in report.warnings if w.id == "dnsbl-unknown"]
    assert len(details) == 3 and "public DNS resolver" in details[0]


def test_checklist_has_the_records_to_publish(server: DnsServer) -> None:
    report = check(server, SenderRequest("nospf.test", IP))
    texts = {s["id"]: s["text"] for s in report.checklist}
    assert "`v=spf1 ip4:203.0.113.5 include:spf.protection.outlook.com -all`" in texts["spf-publish"]
    assert "`v=DMARC1; p=none; rua=mailto:dmarc-reports@nospf.test`" in texts["dmarc-publish"]
    assert list(texts)[-1] == "recheck" and "`mailflow sender nospf.test --ip 203.0.113.5`" in texts["recheck"]


def test_dkim_checklist_names_both_cnames_and_the_cmdlet(server: DnsServer) -> None:
    report = check(server, SenderRequest("ok.test", OK_IP, selectors=("selector1", "s9")))
    texts = {s["id"]: s["text"] for s in report.checklist}
    assert "`selector2-ok-test._domainkey.contoso.onmicrosoft.com`" in texts["dkim-cnames"]
    assert "Get-DkimSigningConfig -Identity ok.test" in texts["dkim-cnames"]
    assert "`Set-DkimSigningConfig -Identity ok.test -Enabled $true`" in texts["dkim-enable"]


@pytest.mark.parametrize("language", ["es", "fr", "ja", "nl", "ko"])
def test_checklist_in_each_language_keeps_the_record(server: DnsServer, language: str) -> None:
    english = check(server, SenderRequest("nospf.test", IP))
    other = check(server, SenderRequest("nospf.test", IP), language=language)
    assert [s["id"] for s in other.checklist] == [s["id"] for s in english.checklist]
    for ours, theirs in zip(english.checklist, other.checklist, strict=True):
        assert ours["text"] != theirs["text"]
        for literal in ("v=spf1 ip4:203.0.113.5 include:spf.protection.outlook.com -all", "v=DMARC1; p=none"):
            assert (literal in ours["text"]) == (literal in theirs["text"])


def test_without_ip_spf_is_analysed(server: DnsServer) -> None:
    dns = SenderDns(ProbeContext.create(config_for(server)))
    report = asyncio.run(analyse_spf(dns, "ok.test"))
    assert (report.valid, report.lookups, report.includes_m365, report.result) == (True, 1, True, None)
    eleven = asyncio.run(analyse_spf(dns, "eleven.test"))
    assert (eleven.valid, eleven.lookups, eleven.result) == (False, 11, "permerror")
    loop = asyncio.run(analyse_spf(dns, "loop.test"))
    assert loop.valid is False and loop.lookups > 10


def test_the_deadline_cuts_a_check_and_says_so(server: DnsServer) -> None:
    server.zone.behave("silent.test", "drop")
    report = check(server, SenderRequest("silent.test", IP, dnsbl=("bl.test",)), dns=5.0, overall=0.6)
    assert "spf silent.test" in report.incomplete and "dmarc silent.test" in report.incomplete
    assert "listed:bl.test" in ids(report)  # what finished is reported
    assert not report.ok


@pytest.mark.parametrize(
    ("domain", "organizational"),
    [
        ("mail.contoso.co.uk", "contoso.co.uk"),
        ("contoso.com", "contoso.com"),
        ("a.b.contoso.com", "contoso.com"),
        ("a.x.blogspot.com", "x.blogspot.com"),
        ("mail.contoso.test", "contoso.test"),
    ],
)
def test_organizational_domain(domain: str, organizational: str) -> None:
    assert organizational_domain(domain) == organizational


@pytest.mark.parametrize(
    ("current", "ip", "expected"),
    [
        ("v=spf1 -all", "192.0.2.1", "v=spf1 ip4:192.0.2.1 -all"),
        ("v=spf1 redirect=x.test", "2001:db8::1", "v=spf1 ip6:2001:db8::1 redirect=x.test"),
        ("v=spf1 ip4:192.0.2.1 -all", "192.0.2.1", "v=spf1 ip4:192.0.2.1 -all"),
        ("v=spf1 mx", None, "v=spf1 mx include:spf.protection.outlook.com"),
        (None, None, "v=spf1 include:spf.protection.outlook.com -all"),
    ],
)
def test_suggested_spf(current: str | None, ip: str | None, expected: str) -> None:
    assert suggested_spf(current, ip) == expected


def test_an_internal_ip_gets_a_warning(server: DnsServer) -> None:
    report = check(server, SenderRequest("soft.test", "10.1.2.3", dnsbl=("bl.test",)))
    assert "ip-internal" in warning_ids(report)
    assert "ip-internal" not in warning_ids(check(server, SenderRequest("soft.test", IP, dnsbl=("bl.test",))))
