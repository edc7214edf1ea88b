"""The DNS probes against a real DNS server on 127.0.0.1 (tests/fixtures/dns_server.py).

One table row per case; each asserts the code and the evidence (detail and facts). Every
context points at the local server (``ProbeConfig(resolver=...)``); nothing else is contacted.
Documentation ranges (192.0.2.0/24, 2001:db8::/32) stand in for public addresses, so the tests
allowlist them; loopback, private and metadata addresses show the guard's refusals.
"""

# ruff: noqa: F811  (the fixtures are imported by name, and pytest passes them back as arguments)
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.probes.address import probe_address
from bot.probes.authoritative import probe_authoritative
from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.probes.dane import probe_dane
from bot.probes.mx import MxHost, probe_mx
from bot.probes.tls_rpt import probe_tls_rpt
from tests.fixtures.dns_server import DnsServer, Zone, dns_server, dns_servers, query  # noqa: F401

pytestmark = pytest.mark.timeout(15)

DNS_TIMEOUT = 0.5
DOC_NETS = ("192.0.2.0/24", "2001:db8::/32")
LOOPBACK = ("127.0.0.0/8", *DOC_NETS)
DNS_FAILED = "4.4.312"
TLSA_HASH = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1"


def make_ctx(server: DnsServer, *, allow: tuple[str, ...] = DOC_NETS, **config: Any) -> ProbeContext:
    timeouts = Timeouts(dns=DNS_TIMEOUT, http=1.0)
    return ProbeContext.create(
        ProbeConfig(resolver=server.address, dns_port=server.port, timeouts=timeouts, allow=allow, **config)
    )


def world(zone: Zone) -> None:
    """The recursive resolver's view of a small test world."""
    zone.add("test", "SOA", "ns1.test. hostmaster.test. 2026010101 3600 600 86400 60", ttl=3600)
    zone.add("example.test", "MX", "20 mx2.example.test.")
    zone.add("example.test", "MX", "10 mx1b.example.test.")
    zone.add("example.test", "MX", "10 mx1.example.test.")
    zone.add("mx1.example.test", "A", "192.0.2.10")
    zone.add("mx1.example.test", "AAAA", "2001:db8::10", ttl=120)
    zone.add("v4only.example.test", "A", "192.0.2.11")
    zone.behave("v4only.example.test", "servfail", rtype="AAAA")
    zone.add("mixed.example.test", "A", "192.0.2.20")
    zone.add("mixed.example.test", "A", "10.0.0.5")
    zone.add("mixed.example.test", "AAAA", "fd00::1")
    zone.add("loopback.example.test", "A", "127.0.0.1")
    zone.add("meta.example.test", "A", "169.254.169.254")
    for n in range(1, 11):
        zone.add("many.example.test", "A", f"192.0.2.{100 + n}")
    zone.add("implicit.test", "A", "192.0.2.30")
    zone.add("nullmx.test", "MX", "0 .")
    zone.add("mixednull.test", "MX", "0 .")
    zone.add("mixednull.test", "MX", "10 mx1.example.test.")
    zone.behave("broken.test", "servfail")
    zone.behave("refused.test", "refused")
    zone.behave("slow.test", "drop")


def assert_facts(facts: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert facts.get(key) == value, (key, facts)


@dataclass(frozen=True)
class Case:
    id: str
    target: str
    ok: bool
    code: str | None
    detail: tuple[str, ...]  # substrings of the detail
    facts: dict[str, Any] = field(default_factory=dict)
    result: list[Any] | None = None  # the hosts or addresses returned
    config: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[DnsServer], object] | None = None  # programs the servers beyond world()


def cases(*rows: Case) -> Any:
    return pytest.mark.parametrize("case", rows, ids=[r.id for r in rows])


# -- MX -------------------------------------------------------------------------------------------

MX1, MX1B, MX2 = MxHost(10, "mx1.example.test"), MxHost(10, "mx1b.example.test"), MxHost(20, "mx2.example.test")


@cases(
    Case(
        "found, by preference then name",
        "Example.Test.",
        True,
        None,
        ("10 mx1.example.test, 10 mx1b.example.test, 20 mx2.example.test", "TTL 300 s"),
        {"ttl": 300, "total": 3, "capped": False},
        [MX1, MX1B, MX2],
    ),
    Case(
        "capped at max_mx",
        "example.test",
        True,
        None,
        ("the first 2 of 3",),
        {"total": 3, "capped": True},
        [MX1, MX1B],
        {"max_mx": 2},
    ),
    Case(
        "NXDOMAIN",
        "nowhere.test",
        False,
        DNS_FAILED,
        ("nowhere.test does not exist (NXDOMAIN)", "cache that answer for 60 s"),
        {"rcode": "NXDOMAIN", "negative_ttl": 60},
        [],
    ),
    Case(
        "SERVFAIL",
        "broken.test",
        False,
        DNS_FAILED,
        ("broken.test MX failed", "SERVFAIL from 127.0.0.1:"),
        {"rcode": "SERVFAIL", "kind": "servfail"},
        [],
    ),
    Case("REFUSED", "refused.test", False, DNS_FAILED, ("REFUSED from",), {"kind": "refused"}, []),
    Case(
        "timeout",
        "slow.test",
        False,
        DNS_FAILED,
        ("no DNS answer for slow.test MX within 0.5 s",),
        {"timeout": DNS_TIMEOUT},
        [],
    ),
    Case(
        "no MX: implicit MX",
        "implicit.test",
        True,
        None,
        ("no MX record", "implicit MX, RFC 5321 section 5.1"),
        {"implicit": True, "negative_ttl": 60, "mx": []},
        [MxHost(0, "implicit.test")],
    ),
    Case(
        "null MX",
        "nullmx.test",
        False,
        None,
        ("null MX (0 .)", "accepts no mail", "RFC 7505"),
        {"null_mx": True, "mx": [{"preference": 0, "host": "."}]},
        [],
    ),
    Case(
        "null MX beside other MX",
        "mixednull.test",
        False,
        None,
        ("10 mx1.example.test", "RFC 7505 section 3 forbids"),
        {"null_mx": True, "total": 1},
        [MX1],
    ),
    Case("not a DNS name", "bad..test", False, None, ("not a valid DNS name",), {}, []),
)
async def test_mx(dns_server: DnsServer, case: Case) -> None:
    world(dns_server.zone)
    result, hosts = await probe_mx(make_ctx(dns_server, **case.config), case.target)
    assert (result.name, result.ok, result.code) == ("mx", case.ok, case.code), result
    for text in case.detail:
        assert text in result.detail, result.detail
    assert_facts(result.facts, case.facts)
    assert hosts == case.result
    assert result.elapsed_ms > 0 or case.id == "not a DNS name"  # measured, unless nothing was sent
    if case.id == "timeout":
        assert result.elapsed_ms >= DNS_TIMEOUT * 1000 * 0.9


# -- addresses ------------------------------------------------------------------------------------


@cases(
    Case(
        "A and AAAA",
        "mx1.example.test",
        True,
        None,
        ("2 addresses: 192.0.2.10, 2001:db8::10",),
        {"addresses": ["192.0.2.10", "2001:db8::10"], "ttl": {"A": 300, "AAAA": 120}, "refused": False},
        ["192.0.2.10", "2001:db8::10"],
    ),
    Case(
        "NXDOMAIN",
        "nohost.example.test",
        False,
        DNS_FAILED,
        ("nohost.example.test does not exist (NXDOMAIN)",),
        {"rcode": "NXDOMAIN", "negative_ttl": 60},
        [],
    ),
    Case(
        "the name exists, no address",
        "example.test",
        False,
        DNS_FAILED,
        ("example.test exists but has no A or AAAA record",),
        {"addresses": []},
        [],
    ),
    Case(
        "SERVFAIL",
        "broken.test",
        False,
        DNS_FAILED,
        ("broken.test A failed: SERVFAIL",),
        {"errors": {"A": "the DNS query for broken.test A failed: SERVFAIL from 127.0.0.1:{port}"}},
        [],
    ),
    Case("timeout", "slow.test", False, DNS_FAILED, ("within 0.5 s",), {"timeout": DNS_TIMEOUT}, []),
    Case(
        "AAAA fails, A answers",
        "v4only.example.test",
        True,
        None,
        ("192.0.2.11", "the AAAA lookup failed", "SERVFAIL"),
        {"addresses": ["192.0.2.11"]},
        ["192.0.2.11"],
    ),
    Case(
        "some refused: dropped and named",
        "mixed.example.test",
        True,
        None,
        ("192.0.2.20", "refused and dropped: 10.0.0.5 (private address), fd00::1 (private (unique local) address)"),
        {
            "addresses": ["192.0.2.20"],
            "refused": False,
            "refusals": [
                {"address": "10.0.0.5", "rule": "private address", "rule_id": "private"},
                {"address": "fd00::1", "rule": "private (unique local) address", "rule_id": "unique-local"},
            ],
        },
        ["192.0.2.20"],
    ),
    Case(
        "every address refused: loopback",
        "loopback.example.test",
        False,
        None,
        ("refused to probe loopback.example.test", "127.0.0.1 (loopback address)", "--allow"),
        {"refused": True, "rule": "loopback address", "rule_id": "loopback", "addresses": []},
        [],
    ),
    Case(
        "loopback allowlisted",
        "loopback.example.test",
        True,
        None,
        ("127.0.0.1",),
        {"addresses": ["127.0.0.1"]},
        ["127.0.0.1"],
        {"allow": LOOPBACK},
    ),
    Case(
        "metadata address refused",
        "meta.example.test",
        False,
        None,
        ("169.254.169.254 (cloud metadata address)",),
        {"refused": True, "rule": "cloud metadata address"},
        [],
    ),
    Case(
        "capped at max_addresses",
        "many.example.test",
        True,
        None,
        ("10 addresses", "probing the first 3"),
        {"total": 10, "capped": True},
        ["192.0.2.101", "192.0.2.102", "192.0.2.103"],
        {"max_addresses": 3},
    ),
    Case(
        "IP literal, allowed",
        "192.0.2.55",
        True,
        None,
        ("192.0.2.55 is an IP address",),
        {"addresses": ["192.0.2.55"]},
        ["192.0.2.55"],
    ),
    Case(
        "IP literal, refused",
        "169.254.169.254",
        False,
        None,
        ("cloud metadata address",),
        {"refused": True, "rule": "cloud metadata address"},
        [],
    ),
    Case(
        "IPv6 literal in brackets, refused",
        "[::ffff:127.0.0.1]",
        False,
        None,
        ("loopback address",),
        {"refused": True},
        [],
    ),
)
async def test_address(dns_server: DnsServer, case: Case) -> None:
    world(dns_server.zone)
    result, addresses = await probe_address(make_ctx(dns_server, **case.config), case.target)
    assert (result.name, result.ok, result.code) == ("address", case.ok, case.code), result
    for text in case.detail:
        assert text in result.detail, result.detail
    expected = {
        k: (v if k != "errors" else {t: e.format(port=dns_server.port) for t, e in v.items()})
        for k, v in case.facts.items()
    }
    if "errors" in expected:
        assert result.facts["errors"]["A"] == expected.pop("errors")["A"]
    assert_facts(result.facts, expected)
    assert addresses == case.result
    if "literal" in case.id:
        assert dns_server.queries == []  # an IP literal is never looked up


async def test_address_asks_a_and_aaaa_in_parallel(dns_server: DnsServer) -> None:
    """Both types time out: the probe takes one timeout, not two."""
    world(dns_server.zone)
    result, _ = await probe_address(make_ctx(dns_server), "slow.test")
    assert result.code == DNS_FAILED
    assert DNS_TIMEOUT * 1000 * 0.9 <= result.elapsed_ms < DNS_TIMEOUT * 1000 * 1.8
    assert dns_server.asked("slow.test", "A") >= 1 and dns_server.asked("slow.test", "AAAA") >= 1


# -- authoritative --------------------------------------------------------------------------------


def delegate(
    server: DnsServer, recursive_mx: str, ns1: str | None, ns2: str | None, *, serial2: int = 2026010102
) -> None:
    """example.test served by ns1 (127.0.0.2) and ns2 (127.0.0.3); None: no MX data on that server."""
    server.zone.clear("example.test", "MX").add("example.test", "MX", recursive_mx, ttl=3600)
    for name, address in (("ns1", "127.0.0.2"), ("ns2", "127.0.0.3")):
        server.zone.add("example.test", "NS", f"{name}.example.test.")
        server.zone.add(f"{name}.example.test", "A", address)
    for address, mx, serial in (("127.0.0.2", ns1, 2026010102), ("127.0.0.3", ns2, serial2)):
        zone = server.peer(address).zone
        zone.add("example.test", "SOA", f"ns1.example.test. hostmaster.example.test. {serial} 3600 600 86400 300")
        zone.add("example.test", "NS", "ns1.example.test.").add("example.test", "NS", "ns2.example.test.")
        if mx is not None:
            zone.add("example.test", "MX", mx, ttl=300)


def healthy(server: DnsServer) -> None:
    delegate(server, "10 mx1.example.test.", "10 mx1.example.test.", "10 mx1.example.test.")


def healthy_then(behaviour: str, *addresses: str) -> Callable[[DnsServer], None]:
    def setup(server: DnsServer) -> None:
        healthy(server)
        for address in addresses:
            server.peer(address).zone.behave("example.test", behaviour)

    return setup


def without_address(server: DnsServer) -> None:
    healthy(server)
    server.zone.clear("ns2.example.test", "A").add("ns2.example.test", "TXT", "no address here")


@cases(
    Case(
        "every server agrees with the resolver",
        "example.test",
        True,
        None,
        ("2 name server answers of example.test agree", "10 mx1.example.test (TTL 3600 s)"),
        {"zone": "example.test", "agree": True, "ns": ["ns1.example.test", "ns2.example.test"]},
        setup=healthy,
    ),
    Case(
        "an MX change still cached",
        "example.test",
        False,
        None,
        ("still answers 10 mx-old.example.test", "cached for another 3600 s", "say 10 mx-new.example.test"),
        {"agree": False, "recursive": {"mx": ["10 mx-old.example.test"], "ttl": 3600}},
        setup=lambda s: delegate(s, "10 mx-old.example.test.", "10 mx-new.example.test.", "10 mx-new.example.test."),
    ),
    Case(
        "the name servers disagree",
        "example.test",
        False,
        None,
        (
            "disagree",
            "ns1.example.test (127.0.0.2) says 10 mx-new.example.test (TTL 300 s, serial 2026010102)",
            "ns2.example.test (127.0.0.3) says 10 mx-old.example.test (TTL 300 s, serial 2026010100)",
        ),
        {"agree": False},
        setup=lambda s: delegate(
            s, "10 mx-new.example.test.", "10 mx-new.example.test.", "10 mx-old.example.test.", serial2=2026010100
        ),
    ),
    Case(
        "lame: REFUSED",
        "example.test",
        False,
        None,
        ("ns2.example.test (127.0.0.3) answered REFUSED: it does not serve the zone",),
        {"agree": False},
        setup=healthy_then("refused", "127.0.0.3"),
    ),
    Case(
        "lame: no AA flag",
        "example.test",
        False,
        None,
        ("ns2.example.test (127.0.0.3) answered without the AA flag",),
        {},
        setup=healthy_then("lame", "127.0.0.3"),
    ),
    Case(
        "one server times out",
        "example.test",
        False,
        None,
        ("127.0.0.3", "did not answer example.test MX within 0.5 s"),
        {},
        setup=healthy_then("drop", "127.0.0.3"),
    ),
    Case(
        "every server broken",
        "example.test",
        False,
        DNS_FAILED,
        ("no name server of example.test answered", "answered SERVFAIL"),
        {},
        setup=healthy_then("servfail", "127.0.0.2", "127.0.0.3"),
    ),
    Case(
        "a name server without an address",
        "example.test",
        False,
        None,
        ("ns2.example.test exists but has no A or AAAA record",),
        {},
        setup=without_address,
    ),
    Case("NXDOMAIN", "nowhere.test", False, DNS_FAILED, ("nowhere.test does not exist (NXDOMAIN)",), {}),
)
async def test_authoritative(dns_servers: DnsServer, case: Case) -> None:
    world(dns_servers.zone)
    if case.setup:
        case.setup(dns_servers)
    result = await probe_authoritative(make_ctx(dns_servers, allow=LOOPBACK), case.target)
    assert (result.name, result.ok, result.code) == ("authoritative", case.ok, case.code), result
    for text in case.detail:
        assert text in result.detail, result.detail
    assert_facts(result.facts, case.facts)


async def test_authoritative_servers_are_asked_directly(dns_servers: DnsServer) -> None:
    world(dns_servers.zone)
    healthy(dns_servers)
    result = await probe_authoritative(make_ctx(dns_servers, allow=LOOPBACK), "example.test")
    assert result.ok
    servers = {s["address"]: s for s in result.facts["servers"]}
    assert servers["127.0.0.2"]["status"] == servers["127.0.0.3"]["status"] == "answered"
    assert servers["127.0.0.2"]["serial"] == 2026010102
    assert dns_servers.peer("127.0.0.2").asked("example.test", "MX") == 1
    assert dns_servers.peer("127.0.0.3").asked("example.test", "MX") == 1


async def test_authoritative_name_servers_go_through_the_guard(dns_servers: DnsServer) -> None:
    world(dns_servers.zone)
    healthy(dns_servers)
    result = await probe_authoritative(make_ctx(dns_servers), "example.test")  # loopback not allowlisted
    assert (result.ok, result.code) == (False, None)
    assert "127.0.0.2 (loopback address)" in result.detail
    assert {s["status"] for s in result.facts["servers"]} == {"not asked"}
    assert dns_servers.peer("127.0.0.2").queries == [] and dns_servers.peer("127.0.0.3").queries == []


# -- DANE -----------------------------------------------------------------------------------------

TLSA_NAME = "_25._tcp.mx1.example.test"


def tlsa(
    record: str | None, *, authenticated: bool = False, behaviour: str | None = None
) -> Callable[[DnsServer], None]:
    def setup(server: DnsServer) -> None:
        server.zone.authenticated = authenticated  # the AD flag a validating resolver would set
        if record:
            server.zone.add(TLSA_NAME, "TLSA", record)
        if behaviour:
            server.zone.behave(TLSA_NAME, behaviour)

    return setup


@cases(
    Case(
        "present, authenticated",
        "mx1.example.test",
        True,
        None,
        ("1 TLSA record at _25._tcp.mx1.example.test (DANE-EE)", "DNSSEC-validated (AD)"),
        {"present": True, "authenticated": True, "records": [f"3 1 1 {TLSA_HASH}"], "usages": ["DANE-EE"]},
        setup=tlsa(f"3 1 1 {TLSA_HASH}", authenticated=True),
    ),
    Case(
        "present, not authenticated",
        "mx1.example.test",
        True,
        None,
        ("(DANE-TA)", "not authenticated (AD flag clear)"),
        {"present": True, "authenticated": False},
        setup=tlsa(f"2 0 1 {TLSA_HASH}"),
    ),
    Case("absent", "mx1.example.test", True, None, ("no TLSA record",), {"present": False}, setup=tlsa(None)),
    Case(
        "SERVFAIL",
        "mx1.example.test",
        False,
        None,
        ("SERVFAIL", "DANE senders defer mail"),
        {"rcode": "SERVFAIL"},
        setup=tlsa(None, behaviour="servfail"),
    ),
    Case(
        "timeout",
        "mx1.example.test",
        False,
        None,
        ("within 0.5 s",),
        {"timeout": DNS_TIMEOUT},
        setup=tlsa(None, behaviour="drop"),
    ),
)
async def test_dane(dns_server: DnsServer, case: Case) -> None:
    world(dns_server.zone)
    if case.setup:
        case.setup(dns_server)
    result = await probe_dane(make_ctx(dns_server), case.target)
    assert (result.name, result.target, result.ok, result.code) == ("dane", case.target, case.ok, None), result
    for text in case.detail:
        assert text in result.detail, result.detail
    assert_facts(result.facts, {"name": TLSA_NAME, **case.facts})


# -- TLS-RPT --------------------------------------------------------------------------------------

RPT_NAME = "_smtp._tls.example.test"


def txt(*records: str, behaviour: str | None = None) -> Callable[[DnsServer], None]:
    def setup(server: DnsServer) -> None:
        for record in records:
            server.zone.add(RPT_NAME, "TXT", record)
        if behaviour:
            server.zone.behave(RPT_NAME, behaviour)

    return setup


@cases(
    Case(
        "one mailto",
        "example.test",
        True,
        None,
        ("reports for _smtp._tls.example.test go to mailto:tlsrpt@example.test",),
        {"present": True, "valid": True, "rua": ["mailto:tlsrpt@example.test"]},
        setup=txt("v=TLSRPTv1; rua=mailto:tlsrpt@example.test"),
    ),
    Case(
        "mailto and https",
        "example.test",
        True,
        None,
        ("https://reports.example.test/v1/tlsrpt",),
        {"rua": ["mailto:a@example.test", "https://reports.example.test/v1/tlsrpt"]},
        setup=txt("v=TLSRPTv1;rua=mailto:a@example.test, https://reports.example.test/v1/tlsrpt"),
    ),
    Case("absent (NXDOMAIN)", "example.test", True, None, ("no TLS-RPT record",), {"present": False}),
    Case(
        "other TXT only",
        "example.test",
        True,
        None,
        ("no TLS-RPT record",),
        {"present": False},
        setup=txt("site-verification=abc123"),
    ),
    Case(
        "two records",
        "example.test",
        False,
        None,
        ("2 TLS-RPT records", "RFC 8460 section 3"),
        {"valid": False},
        setup=txt("v=TLSRPTv1; rua=mailto:a@example.test", "v=TLSRPTv1; rua=mailto:b@example.test"),
    ),
    Case("no rua", "example.test", False, None, ("no rua= destination",), {"valid": False}, setup=txt("v=TLSRPTv1;")),
    Case(
        "a URI that is neither mailto nor https",
        "example.test",
        False,
        None,
        ("neither mailto: nor https:",),
        {"valid": False},
        setup=txt("v=TLSRPTv1; rua=ftp://reports.example.test"),
    ),
    Case(
        "timeout",
        "example.test",
        False,
        None,
        ("within 0.5 s",),
        {"timeout": DNS_TIMEOUT},
        setup=txt(behaviour="drop"),
    ),
)
async def test_tls_rpt(dns_server: DnsServer, case: Case) -> None:
    world(dns_server.zone)
    if case.setup:
        case.setup(dns_server)
    result = await probe_tls_rpt(make_ctx(dns_server), case.target)
    assert (result.name, result.ok, result.code) == ("tls_rpt", case.ok, None), result
    for text in case.detail:
        assert text in result.detail, result.detail
    assert_facts(result.facts, {"name": RPT_NAME, **case.facts})


def test_dns_server_answers_over_tcp_too(dns_server: DnsServer) -> None:
    """The fixture serves TCP as well (truncated answers fall back to it)."""
    world(dns_server.zone)
    reply = query(dns_server, "example.test", "MX", tcp=True)
    assert len(reply.rr) == 3
    assert ("example.test", "MX", "tcp") in dns_server.queries
