"""The sender check under the network jail: its lookups (the default public blocklists
included) go to the configured resolver on loopback and nowhere else, and a dead or silent
resolver gets an answer within the deadline, never a hang and never a false "listed".
"""

# ruff: noqa: F811  (the fixtures are imported by name)
from __future__ import annotations

import asyncio
import time

import pytest

from bot.probes.config import ProbeConfig, Timeouts
from bot.sender.check import run_checks
from bot.sender.conclude import SenderReport, SenderRequest, conclude
from tests.fixtures.dns_server import DnsServer, dns_server  # noqa: F401
from tests.hardening.conftest import Jail
from tests.hardening.test_faults import SLACK, dead_dns
from tests.sender.world import IP, world

pytestmark = pytest.mark.timeout(30)


def check(request: SenderRequest, config: ProbeConfig) -> tuple[SenderReport, float]:
    started = time.perf_counter()
    results = asyncio.run(run_checks(request, config))
    return conclude(request, results, elapsed_ms=0.0), time.perf_counter() - started


def test_every_lookup_goes_to_the_configured_resolver(dns_server: DnsServer, jail: Jail) -> None:
    world(dns_server.zone)
    config = ProbeConfig(resolver=dns_server.address, timeouts=Timeouts(dns=0.5, overall=5.0))
    report, _ = check(SenderRequest("ok.test", IP), config)  # the default lists: Spamhaus, SpamCop, ...
    assert [d["zone"] for d in report.dnsbl][:4] == [
        "zen.spamhaus.org",
        "bl.spamcop.net",
        "b.barracudacentral.org",
        "psbl.surriel.com",
    ]
    assert {d["status"] for d in report.dnsbl[:4]} <= {"clear", "unknown"}  # never "listed" here
    # Every datagram went to 127.0.0.1: the queries to the fixture's port, its answers back to
    # the client's ports (the server runs in this process, so the jail sees both); no TCP.
    assert {h for h, _, _ in jail.connects} == {"127.0.0.1"} and jail.tcp() == []
    assert dns_server.address in {(h, p) for h, p, _ in jail.connects}
    assert f"{IP.split('.')[3]}.113.0.203.zen.spamhaus.org" in {n for n, _, _ in dns_server.queries}


@pytest.mark.parametrize("kind", ["closed", "black hole"])
def test_dead_resolver_answers_within_the_deadline(kind: str, jail: Jail) -> None:
    with dead_dns(kind) as resolver:
        config = ProbeConfig(resolver=resolver, timeouts=Timeouts(dns=0.5, overall=5.0))
        report, elapsed = check(SenderRequest("ok.test", IP, dnsbl=("zen.spamhaus.org",)), config)
    # Our own resolver, not the domain's DNS: said so, never an spf-temperror blamed on ok.test.
    assert [f.id for f in report.failures] == ["resolver-unreachable"]
    assert "does not answer" in report.failures[0].detail and "control query" in report.failures[0].detail
    assert [c["id"] for c in report.checklist] == ["resolver-check", "recheck"]
    assert "spf-temperror" not in report.checklist[0]["text"] and "dnsbl-unknown" not in {w.id for w in report.warnings}
    assert report.dnsbl[0]["status"] == "unknown" and report.dnsbl[0]["error"] == "dns"
    assert {d["status"] for d in report.dkim} == {"unknown"}
    assert "dmarc ok.test" in report.incomplete
    assert not report.ok
    assert elapsed < 2 * config.timeouts.dns + SLACK, f"{elapsed:.2f} s"  # the lookups ran side by side
    assert jail.tcp() == []


def test_a_silent_zone_is_cut_at_the_deadline(dns_server: DnsServer, jail: Jail) -> None:
    world(dns_server.zone)
    dns_server.zone.behave("ok.test", "drop")
    config = ProbeConfig(resolver=dns_server.address, timeouts=Timeouts(dns=30.0, overall=1.0))
    report, elapsed = check(SenderRequest("ok.test", IP, dnsbl=("bl.test",)), config)
    assert "spf ok.test" in report.incomplete and "dmarc ok.test" in report.incomplete
    assert [f.id for f in report.failures] == ["listed:bl.test"]  # what answered is reported
    assert elapsed < config.timeouts.overall + SLACK, f"{elapsed:.2f} s"
    del jail


def test_a_domain_whose_dns_fails_is_still_its_temperror(dns_server: DnsServer, jail: Jail) -> None:
    """The resolver answers (SERVFAIL for the domain, the root zone's NS): the domain's fault."""
    world(dns_server.zone)
    config = ProbeConfig(resolver=dns_server.address, timeouts=Timeouts(dns=0.5, overall=5.0))
    report, _ = check(SenderRequest("broken.test", IP, dnsbl=("bl.test",)), config)
    assert "spf-temperror" in {f.id for f in report.failures}
    assert "resolver-unreachable" not in {f.id for f in report.failures}
    del jail


def test_a_silent_domain_behind_an_answering_resolver_is_the_domains_temperror(
    dns_server: DnsServer, jail: Jail
) -> None:
    """Lookups for the domain time out, but the control query is answered: the domain's DNS."""
    world(dns_server.zone)
    dns_server.zone.behave("soft.test", "drop")
    config = ProbeConfig(resolver=dns_server.address, timeouts=Timeouts(dns=0.4, overall=5.0))
    report, _ = check(SenderRequest("soft.test", IP, dnsbl=("bl.test",)), config)
    assert "spf-temperror" in {f.id for f in report.failures}
    assert "resolver-unreachable" not in {f.id for f in report.failures}
    assert ("", "NS") in {(n, t) for n, t, _ in dns_server.queries}  # the control (the root zone) was asked
    del jail
