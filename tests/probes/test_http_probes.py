"""The HTTP probes (MTA-STS, RDAP, Microsoft 365 ranges) and the guarded fetch under them, against
a real HTTP server on 127.0.0.1 (tests/fixtures/http_server.py) and the local DNS server.

Every context resolves through the local DNS server and every endpoint points at the local HTTP
server; loopback is allowlisted explicitly (``ProbeConfig(allow=("127.0.0.0/8",))``) except in
the tests that show the guard refusing it.
"""

# ruff: noqa: F811  (the fixtures are imported by name, and pytest passes them back as arguments)
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest

from bot.errors import ProbeError, ProbeTimeout, TargetRefused
from bot.probes.config import Endpoints, ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.probes.http import fetch, open_session
from bot.probes.m365_ranges import RangeCache, probe_m365_ranges, read_inbound_set
from bot.probes.mta_sts import mx_matches, parse_policy, probe_mta_sts
from bot.probes.rdap import BootstrapCache, normalise_status, probe_rdap
from tests.fixtures.dns_server import DnsServer, dns_server  # noqa: F401
from tests.fixtures.http_server import HttpServer, Policy, http_server, m365_exchange_sets, rdap_domain  # noqa: F401

pytestmark = pytest.mark.timeout(20)

LOOPBACK = ("127.0.0.0/8",)
HTTP_TIMEOUT = 1.0
DNS_FAILED = "4.4.312"
ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.backup.example.test\r\nmax_age: 604800\r\n"


def make_ctx(
    dns: DnsServer, http: HttpServer, *, allow: tuple[str, ...] = LOOPBACK, endpoints: Endpoints | None = None
) -> ProbeContext:
    config = ProbeConfig(
        resolver=dns.address,
        dns_port=dns.port,
        timeouts=Timeouts(dns=0.5, http=HTTP_TIMEOUT),
        allow=allow,
        endpoints=endpoints or http.endpoints(),
    )
    return ProbeContext.create(config)


def assert_result(result: Any, ok: bool, code: str | None, detail: tuple[str, ...], facts: dict[str, Any]) -> None:
    assert (result.ok, result.code) == (ok, code), result
    for text in detail:
        assert text in result.detail, result.detail
    for key, value in facts.items():
        assert result.facts.get(key) == value, (key, result.facts)
    assert result.elapsed_ms >= 0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# -- the guarded fetch ----------------------------------------------------------------------------


async def test_fetch_refuses_a_loopback_literal_without_allowlist(
    dns_server: DnsServer, http_server: HttpServer
) -> None:
    ctx = make_ctx(dns_server, http_server, allow=())
    with pytest.raises(TargetRefused, match="loopback address"):
        await fetch(ctx, f"{http_server.base}/rdap/dns.json", step="test")
    assert http_server.requests == []


async def test_fetch_refuses_a_name_that_resolves_to_loopback(dns_server: DnsServer, http_server: HttpServer) -> None:
    dns_server.zone.add("svc.example.test", "A", "127.0.0.1")
    ctx = make_ctx(dns_server, http_server, allow=())
    with pytest.raises(TargetRefused, match=r"svc\.example\.test.*127\.0\.0\.1 \(loopback address\)"):
        await fetch(ctx, f"http://svc.example.test:{http_server.port}/rdap/dns.json", step="test")
    assert http_server.requests == []


async def test_fetch_connects_to_the_checked_address(dns_server: DnsServer, http_server: HttpServer) -> None:
    dns_server.zone.add("svc.example.test", "A", "127.0.0.1")
    response = await fetch(
        make_ctx(dns_server, http_server), f"http://svc.example.test:{http_server.port}/rdap/dns.json", step="test"
    )
    assert response.status == 200 and response.content_type == "application/json"
    assert http_server.requests[-1][2] == f"svc.example.test:{http_server.port}"  # the Host header kept the name
    assert dns_server.asked("svc.example.test", "A") == 1  # resolved once, by the probe's resolver


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        pytest.param(
            "/slow", ProbeTimeout, r"^test: no complete HTTP answer from 127\.0\.0\.1 within 1 s$", id="timeout"
        ),
        pytest.param("/huge", ProbeError, r"^test: 127\.0\.0\.1 sent a body over the 1048576-byte cap$", id="size cap"),
    ],
)
async def test_fetch_errors_name_the_step(
    dns_server: DnsServer,
    http_server: HttpServer,
    path: str,
    error: type[Exception],
    message: str,
) -> None:
    started = time.perf_counter()
    with pytest.raises(error, match=message):
        await fetch(make_ctx(dns_server, http_server), f"{http_server.base}{path}", step="test")
    assert time.perf_counter() - started < HTTP_TIMEOUT * 2.5


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "http://nohost.example.test/x", r"test: cannot resolve nohost\.example\.test: .*NXDOMAIN", id="NXDOMAIN"
        ),
        pytest.param("http://127.0.0.1:{closed}/x", r"test: cannot connect to 127\.0\.0\.1 port", id="refused"),
        pytest.param("ftp://127.0.0.1/x", r"test: ftp://127\.0\.0\.1/x is not an http\(s\) URL", id="scheme"),
    ],
)
async def test_fetch_translates_failures(
    dns_server: DnsServer,
    http_server: HttpServer,
    unused_tcp_port: int,
    url: str,
    message: str,
) -> None:
    with pytest.raises(ProbeError, match=message):
        await fetch(make_ctx(dns_server, http_server), url.format(closed=unused_tcp_port), step="test")


async def test_fetch_follows_redirects_only_when_asked(dns_server: DnsServer, http_server: HttpServer) -> None:
    ctx = make_ctx(dns_server, http_server)
    not_followed = await fetch(ctx, f"{http_server.base}/redirect", step="test")
    assert (not_followed.status, not_followed.location, not_followed.body) == (302, "/rdap/dns.json", b"")
    followed = await fetch(ctx, f"{http_server.base}/redirect", step="test", redirects=1)
    assert followed.status == 200 and followed.url.endswith("/rdap/dns.json")


async def test_fetch_uses_a_guarded_session_and_never_an_unguarded_one(
    dns_server: DnsServer,
    http_server: HttpServer,
) -> None:
    dns_server.zone.add("svc.example.test", "A", "127.0.0.1")
    url = f"http://svc.example.test:{http_server.port}/rdap/dns.json"
    allowed = make_ctx(dns_server, http_server)
    async with open_session(allowed) as session:
        allowed.http = session
        assert (await fetch(allowed, url, step="test")).status == 200
    refused = make_ctx(dns_server, http_server, allow=())
    async with aiohttp.ClientSession() as plain:  # would connect anywhere: fetch must not use it
        refused.http = plain
        with pytest.raises(TargetRefused):
            await fetch(refused, url, step="test")
    assert http_server.hits("/rdap/dns.json") == 1


# -- MTA-STS --------------------------------------------------------------------------------------

STS_RECORD = "v=STSv1; id=20260101T000000;"


@dataclass(frozen=True)
class StsCase:
    id: str
    records: tuple[str, ...]  # TXT at _mta-sts.example.test
    policy: Policy | None  # what the policy URL answers (None: 404)
    ok: bool
    detail: tuple[str, ...]
    facts: dict[str, Any] = field(default_factory=dict)


STS_CASES = (
    StsCase(
        "enforce, every MX matches",
        (STS_RECORD,),
        Policy(ENFORCE),
        True,
        ("MTA-STS mode enforce, max_age 604800 s", "every MX matches (mx1.example.test, mx2.backup.example.test)"),
        {
            "mode": "enforce",
            "mx": ["mx1.example.test", "*.backup.example.test"],
            "matches": {"mx1.example.test": True, "mx2.backup.example.test": True},
            "id": "20260101T000000",
        },
    ),
    StsCase(
        "enforce, an MX not covered",
        (STS_RECORD,),
        Policy("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n"),
        False,
        ("not covered by the policy: mx2.backup.example.test", "will not deliver there"),
        {"matches": {"mx1.example.test": True, "mx2.backup.example.test": False}},
    ),
    StsCase(
        "testing, an MX not covered",
        (STS_RECORD,),
        Policy("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n"),
        True,
        ("mode testing", "mx2.backup.example.test", "reported, not enforced"),
        {"mode": "testing"},
    ),
    StsCase(
        "mode none",
        (STS_RECORD,),
        Policy("version: STSv1\nmode: none\nmax_age: 86400\n"),
        True,
        ("mode none", "withdrawn"),
        {"mode": "none", "mx": []},
    ),
    StsCase("no record", (), None, True, ("no MTA-STS record at _mta-sts.example.test",), {"present": False}),
    StsCase(
        "two records",
        (STS_RECORD, "v=STSv1; id=2"),
        None,
        False,
        ("2 v=STSv1 records", "RFC 8461 section 3.1"),
        {"present": True},
    ),
    StsCase("policy missing", (STS_RECORD,), None, False, ("answered HTTP 404",), {"status": 404}),
    StsCase(
        "redirect",
        (STS_RECORD,),
        Policy(status=301, location="https://www.example.test/mta-sts.txt"),
        False,
        ("redirects to https://www.example.test/mta-sts.txt", "must not follow it (RFC 8461 section 3.3)"),
        {"status": 301},
    ),
    StsCase(
        "wrong media type",
        (STS_RECORD,),
        Policy(ENFORCE, content_type="text/html"),
        False,
        ("served as 'text/html', not text/plain",),
    ),
    StsCase(
        "invalid policy",
        (STS_RECORD,),
        Policy("version: STSv2\nmx: mx1.example.test\nmax_age: forever\n"),
        False,
        ("policy is invalid", "version is 'STSv2'", "mode is None", "max_age 'forever'"),
    ),
    StsCase(
        "policy too big",
        (STS_RECORD,),
        Policy(ENFORCE + "# padding\n" * 8000),
        False,
        ("could not be fetched", "over the 65536-byte cap"),
    ),
)


@pytest.mark.parametrize("case", STS_CASES, ids=[c.id for c in STS_CASES])
async def test_mta_sts(dns_server: DnsServer, http_server: HttpServer, case: StsCase) -> None:
    dns_server.zone.add("example.test", "MX", "10 mx1.example.test.")
    dns_server.zone.add("example.test", "MX", "20 mx2.backup.example.test.")
    for text in case.records:
        dns_server.zone.add("_mta-sts.example.test", "TXT", text)
    if case.policy is not None:
        http_server.policies["example.test"] = case.policy
    result = await probe_mta_sts(make_ctx(dns_server, http_server), "example.test")
    assert result.name == "mta_sts"
    assert_result(result, case.ok, None, case.detail, case.facts)
    if not case.records:
        assert http_server.requests == []  # no record: no policy fetch
    if case.policy is not None and case.policy.location:
        path = "/mta-sts/example.test/.well-known/mta-sts.txt"
        assert http_server.requests == [(path, "", f"127.0.0.1:{http_server.port}")]  # the redirect not followed


async def test_mta_sts_policy_host_goes_through_the_guard(dns_server: DnsServer, http_server: HttpServer) -> None:
    """The real URL shape, https://mta-sts.<domain>/...: resolved by the probe's resolver, guarded."""
    dns_server.zone.add("_mta-sts.example.test", "TXT", STS_RECORD)
    dns_server.zone.add("mta-sts.example.test", "A", "127.0.0.1")
    http_server.policies["example.test"] = Policy(ENFORCE)
    by_host = Endpoints(mta_sts_policy=f"http://mta-sts.{{domain}}:{http_server.port}/.well-known/mta-sts.txt")
    refused = await probe_mta_sts(
        make_ctx(dns_server, http_server, allow=(), endpoints=by_host), "example.test", ["mx1.example.test"]
    )
    assert_result(refused, False, None, ("could not be fetched", "127.0.0.1 (loopback address)"), {"present": True})
    assert http_server.requests == []
    allowed = await probe_mta_sts(
        make_ctx(dns_server, http_server, endpoints=by_host), "example.test", ["mx1.example.test"]
    )
    assert_result(allowed, True, None, ("mode enforce",), {"matches": {"mx1.example.test": True}})
    assert http_server.requests[-1][2] == f"mta-sts.example.test:{http_server.port}"


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("mx1.example.test", True),
        ("MX1.Example.Test.", True),
        ("a.backup.example.test", True),
        ("a.b.backup.example.test", False),  # "*." is exactly one label (RFC 8461 section 4.1)
        ("backup.example.test", False),
        ("mx2.example.test", False),
    ],
)
def test_mx_patterns(host: str, matches: bool) -> None:
    assert mx_matches(host, parse_policy(ENFORCE).mx) is matches


# -- RDAP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RdapCase:
    id: str
    domain: str
    objects: dict[str, Any]  # what the RDAP server knows: domain objects, or an error status
    ok: bool
    code: str | None
    detail: tuple[str, ...]
    facts: dict[str, Any]


RDAP_CASES = (
    RdapCase(
        "active",
        "active.test",
        {"active.test": rdap_domain("active.test", expires_in_days=400)},
        True,
        None,
        ("active.test is registered, expires", "(in 399 days)", "status client transfer prohibited"),
        {"state": "active", "days_left": 399, "statuses": ["client transfer prohibited"]},
    ),
    RdapCase(
        "expires soon",
        "soon.test",
        {"soon.test": rdap_domain("soon.test", expires_in_days=10)},
        True,
        None,
        ("renew it: fewer than 30 days left",),
        {"state": "active"},
    ),
    RdapCase(
        "expired",
        "expired.test",
        {"expired.test": rdap_domain("expired.test", expires_in_days=-10, status=["auto renew period"])},
        False,
        DNS_FAILED,
        ("the registration of expired.test expired on", "days ago"),
        {"state": "expired"},
    ),
    RdapCase(
        "client hold",
        "hold.test",
        {"hold.test": rdap_domain("hold.test", status=["client hold", "client transfer prohibited"])},
        False,
        DNS_FAILED,
        ("hold.test is registered but client hold: the registrar put the domain on hold",),
        {"state": "held"},
    ),
    RdapCase(
        "server hold",
        "serverhold.test",
        {"serverhold.test": rdap_domain("serverhold.test", status=["server hold"])},
        False,
        DNS_FAILED,
        ("server hold: the registry put the domain on hold",),
        {"state": "held"},
    ),
    RdapCase(
        "redemption period",
        "redeem.test",
        {"redeem.test": rdap_domain("redeem.test", status=["redemptionPeriod"])},  # the EPP spelling
        False,
        DNS_FAILED,
        ("redemption period",),
        {"statuses": ["redemption period"]},
    ),
    RdapCase(
        "pending delete",
        "deleting.test",
        {"deleting.test": rdap_domain("deleting.test", status=["pending delete"])},
        False,
        DNS_FAILED,
        ("pending delete: the domain is being deleted",),
        {},
    ),
    RdapCase(
        "not registered",
        "unknown.test",
        {},
        False,
        DNS_FAILED,
        ("the registry has no record of unknown.test (RDAP 404)",),
        {"state": "unregistered"},
    ),
    RdapCase(
        "a subdomain: the registered parent",
        "mail.eu.active.test",
        {"active.test": rdap_domain("active.test")},
        True,
        None,
        ("active.test is registered",),
        {"state": "active"},
    ),
    RdapCase(
        "no RDAP for the TLD",
        "example.invalid",
        {},
        True,
        None,
        ("registration of example.invalid unknown: no RDAP service is listed for .invalid",),
        {"state": "unknown"},
    ),
    RdapCase(
        "RDAP server error",
        "broken.test",
        {"broken.test": 500},
        True,
        None,
        ("unknown: the RDAP server answered HTTP 500",),
        {"state": "unknown"},
    ),
)


@pytest.mark.parametrize("case", RDAP_CASES, ids=[c.id for c in RDAP_CASES])
async def test_rdap(dns_server: DnsServer, http_server: HttpServer, case: RdapCase) -> None:
    http_server.rdap.update(case.objects)
    result = await probe_rdap(make_ctx(dns_server, http_server), case.domain, cache=BootstrapCache())
    assert result.name == "rdap"
    assert_result(result, case.ok, case.code, case.detail, case.facts)


async def test_rdap_bootstrap_unavailable_is_unknown(dns_server: DnsServer, http_server: HttpServer) -> None:
    http_server.bootstrap_status = 503
    result = await probe_rdap(make_ctx(dns_server, http_server), "active.test", cache=BootstrapCache())
    assert_result(
        result, True, None, ("unknown", "the RDAP bootstrap could not be read", "HTTP 503"), {"state": "unknown"}
    )


async def test_rdap_bootstrap_is_fetched_once(dns_server: DnsServer, http_server: HttpServer) -> None:
    http_server.rdap["active.test"] = rdap_domain("active.test")
    cache = BootstrapCache()
    ctx = make_ctx(dns_server, http_server)
    first = await probe_rdap(ctx, "active.test", cache=cache)
    second = await probe_rdap(ctx, "active.test", cache=cache)
    assert (first.facts["bootstrap"], second.facts["bootstrap"]) == ("live", "cache")
    assert http_server.hits("/rdap/dns.json") == 1
    assert http_server.hits("/rdap/test/domain/active.test") == 2


async def test_rdap_bootstrap_failure_is_not_cached(dns_server: DnsServer, http_server: HttpServer) -> None:
    http_server.rdap["active.test"] = rdap_domain("active.test")
    cache = BootstrapCache()
    ctx = make_ctx(dns_server, http_server)
    http_server.bootstrap_status = 503
    assert (await probe_rdap(ctx, "active.test", cache=cache)).facts["state"] == "unknown"
    http_server.bootstrap_status = 200
    assert (await probe_rdap(ctx, "active.test", cache=cache)).facts["state"] == "active"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("clientHold", "client hold"), ("client hold", "client hold"), ("pendingDelete", "pending delete"), ("ok", "ok")],
)
def test_rdap_status_spellings(raw: str, normal: str) -> None:
    assert normalise_status(raw) == normal


# -- Microsoft 365 ranges -------------------------------------------------------------------------

INBOUND_V4 = ["192.0.2.0/25", "198.51.100.0/24", "203.0.113.128/25"]
INBOUND_V6 = ["2001:db8:f400::/48", "2001:db8:f403::/48"]


async def test_m365_live_then_cached(dns_server: DnsServer, http_server: HttpServer) -> None:
    cache = RangeCache(clock=Clock())
    ctx = make_ctx(dns_server, http_server)
    live = await probe_m365_ranges(ctx, cache=cache)
    assert live.name == "m365_ranges"
    assert_result(
        live,
        True,
        None,
        ("3 IPv4 and 2 IPv6 ranges (endpoint set 10, TCP 25), fetched now",),
        {"source": "live", "ipv4": INBOUND_V4, "ipv6": INBOUND_V6, "id": 10, "version": "2026010100"},
    )
    _, query, _ = next(r for r in http_server.requests if r[0] == "/m365/endpoints/worldwide")
    params = parse_qs(query)
    assert params["ServiceAreas"] == ["Exchange"]
    assert str(uuid.UUID(params["clientrequestid"][0])) == cache.client_id
    cached = await probe_m365_ranges(ctx, cache=cache)
    assert_result(cached, True, None, ("fetched 0 min ago",), {"source": "cache", "ipv4": INBOUND_V4})
    assert http_server.hits("/m365/endpoints/worldwide") == 1


async def test_m365_checks_the_version_hourly(dns_server: DnsServer, http_server: HttpServer) -> None:
    clock = Clock()
    cache = RangeCache(clock=clock)
    ctx = make_ctx(dns_server, http_server)
    await probe_m365_ranges(ctx, cache=cache)
    clock.now += 3601
    same = await probe_m365_ranges(ctx, cache=cache)
    assert same.facts["source"] == "cache" and http_server.hits("/m365/endpoints/worldwide") == 1
    clock.now += 3601
    http_server.m365_version = "2026020100"
    http_server.m365_sets = [s if s["id"] != 10 else {**s, "ips": ["198.51.100.0/24"]} for s in m365_exchange_sets()]
    changed = await probe_m365_ranges(ctx, cache=cache)
    assert_result(changed, True, None, (), {"source": "live", "version": "2026020100", "ipv4": ["198.51.100.0/24"]})


async def test_m365_429_keeps_the_last_good_value(dns_server: DnsServer, http_server: HttpServer) -> None:
    clock = Clock()
    cache = RangeCache(clock=clock)
    ctx = make_ctx(dns_server, http_server)
    await probe_m365_ranges(ctx, cache=cache)
    clock.now += 86_401  # a day later: the list must be fetched again
    http_server.m365_429 = 1
    kept = await probe_m365_ranges(ctx, cache=cache)
    assert_result(
        kept,
        True,
        None,
        ("answered 429 Too Many Requests; using the last good list", "fetched 24.0 h ago"),
        {"source": "cache", "ipv4": INBOUND_V4, "stale": True},
    )
    clock.now += 2  # past Retry-After: 1
    fresh = await probe_m365_ranges(ctx, cache=cache)
    assert fresh.facts["source"] == "live"
    assert http_server.hits("/m365/endpoints/worldwide") == 3


async def test_m365_failure_without_a_good_value(dns_server: DnsServer, http_server: HttpServer) -> None:
    http_server.m365_status = 503
    result = await probe_m365_ranges(make_ctx(dns_server, http_server), cache=RangeCache(clock=Clock()))
    assert_result(result, False, None, ("Microsoft 365 ranges unavailable", "HTTP 503"), {"source": None})
    assert "ipv4" not in result.facts


def test_m365_inbound_set_found_by_url_when_renumbered() -> None:
    sets = [s if s["id"] != 10 else {**s, "id": 1010} for s in m365_exchange_sets()]
    found = read_inbound_set(sets)
    assert (found.set_id, found.ipv4, found.tcp_ports) == (1010, tuple(INBOUND_V4), "25")
    with pytest.raises(ValueError, match="no endpoint set"):
        read_inbound_set([s for s in sets if s["id"] != 1010])
