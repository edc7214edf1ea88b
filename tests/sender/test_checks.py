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
from bot.sender.conclude import FAILURE_IDS, SenderReport, SenderRequest, conclude, suggested_spf, txt_strings
from bot.sender.dmarc import organizational_domain
from bot.sender.dns import SenderDns
from bot.sender.spf import analyse_spf, check_spf
from tests.fixtures.dns_server import DnsServer, start_dns
from tests.hardening.test_faults import dead_dns
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
        lambda r: "2 SPF records" in r["spf"]["error"] and "'v=spf1 ip4:192.0.2.0/24 -all' and" in r["spf"]["error"],
    ),
    (
        "spf-fail-quotes-the-explanation",
        SenderRequest("exp.test", IP),
        {"spf-fail", "dmarc-missing"},
        lambda r: r["failures"][0]["detail"].endswith(
            'its explanation: "203.0.113.5 is not one of exp.test\'s servers"'
        ),
    ),
    (
        "spf-include-loop",
        SenderRequest("loop.test", IP),
        {"spf-permerror", "dmarc-missing"},
        lambda r: "a loop of includes or redirects (loop.test -> loop2.test -> loop.test)" in r["spf"]["error"],
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
        "dmarc-invalid-p-with-rua-reads-as-none",
        SenderRequest("badp.test"),
        {"spf-none", "dmarc-invalid"},
        lambda r: r["dmarc"]["applied"] == "none" and r["dmarc"]["np"] == "reject" and r["dmarc"]["policy"] is None,
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
        "dkim-testing-is-a-warning",
        SenderRequest("testing.test", selectors=("s1",)),
        {"spf-none", "dmarc-missing"},
        lambda r: r["dkim"][0]["testing"] is True and "dkim-testing" in {w["id"] for w in r["warnings"]},
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
        "dkim-target-missing",
        SenderRequest("dangling.test"),
        {"spf-none", "dmarc-missing", "dkim-target-missing"},
        lambda r: (
            [(d["present"], d["m365_cname"]) for d in r["dkim"]] == [(False, True), (False, True)]
            and [c["id"] for c in r["checklist"] if c["id"].startswith("dkim")] == ["dkim-create"]
            and "New-DkimSigningConfig -DomainName dangling.test" in r["checklist"][-2]["text"]
            and "dkim-cnames" not in {c["id"] for c in r["checklist"]}
        ),
    ),
    (
        "dkim-default-selectors-elsewhere-is-a-warning",
        SenderRequest("soft.test"),
        {"dmarc-missing"},
        lambda r: "dkim-default-selectors" in {w["id"] for w in r["warnings"]},
    ),
    (
        "dnsbl-error-answers-of-unknown-lists",
        SenderRequest("ok.test", IP, dnsbl=("other.test", "refusing.test", ".".join(["x" * 60] * 4) + ".test")),
        {"spf-fail"},
        lambda r: (
            [(d["status"], d.get("error")) for d in r["dnsbl"][:3]]
            == [("unknown", "error-answer"), ("unknown", "error-answer"), ("unknown", "bad-name")]
        ),
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
    seen.add("resolver-unreachable")  # no zone can serve it: test_our_dead_resolver_is_no_fault_of_the_domain
    assert seen == set(FAILURE_IDS)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_our_dead_resolver_is_no_fault_of_the_domain(language: str) -> None:
    with dead_dns("closed") as resolver:
        config = ProbeConfig(resolver=resolver, timeouts=Timeouts(dns=0.3, overall=3.0))
        request = SenderRequest("ok.test", IP, dnsbl=("bl.test",))
        report = conclude(request, asyncio.run(run_checks(request, config)), elapsed_ms=0.0, language=language)
    assert [f.id for f in report.failures] == ["resolver-unreachable"]
    assert f"127.0.0.1:{resolver[1]}" in report.checklist[0]["text"]
    assert ("ルートゾーン" in report.checklist[0]["text"]) is (language == "ja")
    assert not ({"spf-temperror", "dnsbl-unknown", "dkim-unchecked"} & {*ids(report), *warning_ids(report)})


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
    assert loop.valid is False and loop.error is not None
    assert loop.error.startswith("a loop of includes or redirects (loop.test -> loop2.test -> loop.test)")


def test_microsoft_365_include_in_any_case_with_a_final_dot(server: DnsServer) -> None:
    dns = SenderDns(ProbeContext.create(config_for(server)))
    analysed = asyncio.run(analyse_spf(dns, "upper.test"))
    evaluated = asyncio.run(check_spf(dns, "upper.test", "40.92.0.1"))
    assert analysed.includes == evaluated.includes == ["spf.protection.outlook.com"]
    assert analysed.includes_m365 and evaluated.includes_m365 and evaluated.result == "pass"


def test_a_missing_dmarc_record_is_published_at_the_organizational_domain(server: DnsServer) -> None:
    report = check(server, SenderRequest("mail.nospf.test"))
    step = next(s for s in report.checklist if s["id"] == "dmarc-publish")
    assert "`_dmarc.nospf.test`" in step["text"] and "rua=mailto:dmarc-reports@nospf.test" in step["text"]


def test_an_ipv6_address_is_not_asked_of_ipv4_only_lists(server: DnsServer) -> None:
    asked_before = len(server.queries)
    report = check(server, SenderRequest("ok.test", "2001:db8::5"))
    statuses = {d["zone"]: d["status"] for d in report.dnsbl}
    assert statuses == {
        "zen.spamhaus.org": "clear",
        "bl.spamcop.net": "no-ipv6",
        "b.barracudacentral.org": "no-ipv6",
        "psbl.surriel.com": "no-ipv6",
        "microsoft": "no-zone",
    }
    assert not any(name.endswith("spamcop.net") for name, _, _ in server.queries[asked_before:])
    assert any(name.endswith("zen.spamhaus.org") for name, _, _ in server.queries[asked_before:])
    mapped = check(server, SenderRequest("ok.test", "::ffff:203.0.113.5", dnsbl=("bl.spamcop.net",)))
    assert mapped.dnsbl[0]["status"] == "clear"


def test_terms_after_all_are_ignored_not_followed(server: DnsServer) -> None:
    dns = SenderDns(ProbeContext.create(config_for(server)))
    analysed = asyncio.run(analyse_spf(dns, "afterall.test"))
    evaluated = asyncio.run(check_spf(dns, "afterall.test", "40.92.0.1"))
    ignored = ["include:spf.protection.outlook.com", "redirect=ok.test"]
    assert analysed.ignored == evaluated.ignored == ignored
    assert (analysed.lookups, analysed.includes_m365, analysed.valid) == (0, False, True)
    assert evaluated.result == "fail"
    assert "spf-ignored" in warning_ids(check(server, SenderRequest("afterall.test")))


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


def test_suggested_spf_goes_before_the_term_that_failed() -> None:
    current = "v=spf1 -ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"
    expected = "v=spf1 ip4:203.0.113.5 -ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"
    assert suggested_spf(current, IP, matched="-ip4:203.0.113.0/24") == expected
    assert suggested_spf("v=spf1 mx -all", IP, matched="-all") == "v=spf1 mx ip4:203.0.113.5 -all"


def test_an_internal_ip_gets_a_warning(server: DnsServer) -> None:
    report = check(server, SenderRequest("soft.test", "10.1.2.3", dnsbl=("bl.test",)))
    assert "ip-internal" in warning_ids(report)
    assert "ip-internal" not in warning_ids(check(server, SenderRequest("soft.test", IP, dnsbl=("bl.test",))))


def _strings(value: str) -> list[str]:
    assert value.startswith('"') and value.endswith('"')
    return value[1:-1].split('" "')


def test_a_suggested_spf_record_over_255_characters_is_split_into_strings(server: DnsServer) -> None:
    report = check(server, SenderRequest("long.test", IP))
    suggested = report.spf["suggested"] if report.spf else ""
    assert len(suggested) > 255
    assert "spf-long" not in warning_ids(report)
    step = next(c for c in report.checklist if c["id"] == "spf-add")
    quoted = step["text"].split("with `", 1)[1].rsplit("`", 1)[0]
    strings = _strings(quoted)
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert "".join(strings) == suggested  # receivers join the strings with nothing between them


def test_a_record_over_450_bytes_warns(server: DnsServer) -> None:
    report = check(server, SenderRequest("huge.test", IP))
    assert "spf-long" in warning_ids(report)
    assert report.spf is not None and report.spf["result"] == "fail"


@pytest.mark.parametrize("length", [1, 254, 255, 256, 600, 1000])
def test_txt_strings_join_back_exactly(length: int) -> None:
    record = ("v=spf1 " + " ".join(f"ip4:192.0.2.{n % 250}" for n in range(200)))[:length]
    split = txt_strings(record)
    if length <= 255:
        assert split == record
    else:
        strings = _strings(split)
        assert all(len(s) <= 255 for s in strings) and "".join(strings) == record
    assert txt_strings("x" * 600).count('" "') == 2  # no space to cut at: cut at 255


def test_spf_is_checked_on_the_mail_from_domain_and_alignment_shown(server: DnsServer) -> None:
    # From: shop.test's own record does not list the email service's IP; receivers never ask it.
    assert "spf-fail" in ids(check(server, SenderRequest("shop.test", IP)))
    report = check(server, SenderRequest("shop.test", IP, mailfrom="bounce.esp.test"))
    record = report.record()
    assert "spf-fail" not in ids(report)
    assert record["spf"]["result"] == "pass" and record["mailfrom"] == "bounce.esp.test"
    assert record["dmarc"]["at"] == "_dmarc.shop.test"  # DMARC stays on the From: domain
    assert record["alignment"] == {
        "mailfrom": "bounce.esp.test",
        "from": "shop.test",
        "mode": "relaxed",
        "mailfrom_org": "esp.test",
        "from_org": "shop.test",
        "aligned": False,
    }
    assert "spf-unaligned" in warning_ids(report)
    assert report.request.command() == f"mailflow sender shop.test --ip {IP} --mailfrom bounce.esp.test"


def test_a_custom_mail_from_under_the_domain_is_aligned_when_relaxed_only(server: DnsServer) -> None:
    relaxed = check(server, SenderRequest("shop.test", IP, mailfrom="em.shop.test"))
    assert relaxed.alignment is not None and relaxed.alignment["aligned"] is True
    assert "spf-unaligned" not in warning_ids(relaxed) and not ids(relaxed) & {"spf-fail", "spf-softfail"}
    strict = check(server, SenderRequest("strict.test", IP, mailfrom="em.strict.test"))
    assert strict.alignment is not None and strict.alignment["mode"] == "strict"
    assert strict.alignment["aligned"] is False and "spf-unaligned" in warning_ids(strict)


def test_an_spf_failure_on_the_mail_from_domain_names_that_domain(server: DnsServer) -> None:
    report = check(server, SenderRequest("ok.test", IP, mailfrom="soft.test"))
    assert "spf-softfail" in ids(report) and "spf-fail" not in ids(report)
    step = next(c for c in report.checklist if c["id"] == "spf-add")
    assert "`soft.test`" in step["text"] and "`ok.test`" not in step["text"]
    assert "--mailfrom soft.test" in report.checklist[-1]["text"]  # the re-check keeps it


def test_an_email_services_record_is_not_asked_to_include_microsoft_365(server: DnsServer) -> None:
    # ok.test signs with Microsoft 365 (its DKIM CNAMEs); bounce.esp.test is the service's record.
    report = check(server, SenderRequest("ok.test", IP, mailfrom="bounce.esp.test"))
    assert report.spf is not None and report.spf["includes_m365"] is False
    assert "spf-no-m365" not in warning_ids(report)


def test_the_new_evidence_is_said_in_the_readers_language(server: DnsServer) -> None:
    dangling = check(server, SenderRequest("dangling.test"), language="ja")
    found = next(f for f in dangling.failures if f.id == "dkim-target-missing")
    assert "DKIM キーがありません" in found.says("ja") and "which has no DKIM key" in found.detail
    unaligned = check(server, SenderRequest("shop.test", IP, mailfrom="bounce.esp.test"), language="fr")
    warning = next(w for w in unaligned.warnings if w.id == "spf-unaligned")
    assert "ne sont pas alignés" in warning.says("fr") and "esp.test" in warning.says("fr")
