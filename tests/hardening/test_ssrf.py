"""The guard, end to end: targets that resolve to a refused address are never contacted.

``tests/test_guard.py`` classifies addresses (pure) and ``tests/probes/`` shows single probes
refusing loopback, private and metadata addresses. What is missing there, and tested here:

- every refused class reached the way a chat user would reach it, through ``diagnose()`` and
  the DNS fixture answering an MX host's A or AAAA with it (CGNAT, multicast, Azure, IPv4-mapped,
  NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16`` and Teredo forms included);
- DNS rebinding: the DNS fixture answers an allowed address first and a forbidden one on every
  later query; the SMTP path (with its extra TLS handshakes) and the HTTP fetch connect only to
  the address that was checked;
- IP literals as targets and smart hosts, and the spellings a system resolver would read as an
  address (``2130706433``, ``0x7f.1``, ``127.1``) in URLs;
- HTTP: an MTA-STS policy host resolving to a refused address, redirects to refused addresses.

Proof that nothing was sent is the network jail (``conftest.py``): it records every connection
the process makes and refuses any outside loopback before the system call, so "no TCP
connection" below is complete, and a guard that failed would fail the test, not send traffic.
"""

# ruff: noqa: F811  (the fixtures are imported by name, and pytest passes them back as arguments)
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Awaitable, Callable

import pytest

from bot.diagnose import DiagnoseRequest, diagnose
from bot.errors import ProbeError, TargetRefused
from bot.probes.authoritative import probe_authoritative
from bot.probes.config import Endpoints, ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.probes.guard import AddressGuard, Allowlist
from bot.probes.http import fetch
from bot.probes.mta_sts import probe_mta_sts
from tests.fixtures import smtp_peers
from tests.fixtures.dns_server import DnsServer, Zone, dns_server  # noqa: F401
from tests.fixtures.http_server import HttpServer, Policy, http_server  # noqa: F401
from tests.fixtures.smtp_peers import HOST, Peer, Pki
from tests.hardening.conftest import Jail
from tests.iana_special import registry_cases

pki = smtp_peers.pki
start_peer = smtp_peers.start_peer

pytestmark = pytest.mark.timeout(20)

StartPeer = Callable[[str], Awaitable[Peer]]
DOMAIN = "victim.test"
MX = "mx.victim.test"
TIMEOUTS = Timeouts(dns=0.5, connect=0.5, banner=0.5, command=1.0, tls=1.0, http=1.0, overall=8.0)
# The HTTP lookups of a diagnosis go to names the lab's DNS does not know: NXDOMAIN, no connection.
NOWHERE = Endpoints(
    rdap_bootstrap="http://rdap.lab.invalid/dns.json",
    m365_endpoints="http://m365.lab.invalid/endpoints/worldwide",
    m365_version="http://m365.lab.invalid/version/worldwide",
    mta_sts_policy="http://mta-sts.{domain}/.well-known/mta-sts.txt",
)
CLOSED_PORT = 9  # discard: nothing listens on loopback in the test machines, and nothing may connect


def lab(dns: DnsServer, **overrides: object) -> ProbeConfig:
    settings: dict[str, object] = {
        "resolver": dns.address,
        "dns_port": dns.port,
        "smtp_port": CLOSED_PORT,
        "timeouts": TIMEOUTS,
        "endpoints": NOWHERE,
        "allow": (),
        "ehlo_name": "probe.mailflow.test",
    }
    return ProbeConfig(**(settings | overrides))  # type: ignore[arg-type]


# (address, words of the guard's rule): every refused class, and the IPv6 forms that wrap them.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.31.255.1", "private"),
    ("192.168.0.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.170.2", "link-local"),  # the ECS task metadata endpoint
    ("168.63.129.16", "Azure platform"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.100.100.200", "carrier-grade NAT"),  # Alibaba Cloud's metadata address
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "reserved"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fd00:ec2::254", "private"),  # the EC2 IPv6 metadata address
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:100.64.0.1", "carrier-grade NAT"),
    ("::ffff:224.0.0.1", "multicast"),
    ("64:ff9b::7f00:1", "loopback"),
    ("64:ff9b::a00:1", "private"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("64:ff9b::6440:1", "carrier-grade NAT"),
    ("64:ff9b::e000:1", "multicast"),
    ("64:ff9b:1::a9fe:a9fe", "NAT64 local-use"),  # RFC 8215: refused whatever it carries
    ("2002:7f00:1::", "loopback"),
    ("2002:a00:1::", "private"),
    ("2002:a9fe:a9fe::", "cloud metadata"),
    ("2002:6440:1::", "carrier-grade NAT"),
    ("2002:e000:1::", "multicast"),
    ("2001:0:4136:e378:8000:63bf:5601:5601", "cloud metadata"),  # Teredo, client 169.254.169.254
    # Deprecated forms that embed IPv4, which Python calls global (found by this suite):
    ("::a9fe:a9fe", "cloud metadata"),  # IPv4-compatible ::169.254.169.254, RFC 4291 section 2.5.5.1
    ("::7f00:1", "loopback"),  # IPv4-compatible ::127.0.0.1
    ("::ffff:0:a9fe:a9fe", "cloud metadata"),  # IPv4-translated (SIIT), RFC 2765
    ("fec0::1", "site-local"),  # RFC 3879
]


@pytest.mark.parametrize(("address", "rule"), REFUSED, ids=[a for a, _ in REFUSED])
async def test_an_mx_resolving_to_a_refused_address_is_never_contacted(
    dns_server: DnsServer, jail: Jail, address: str, rule: str
) -> None:
    dns_server.zone.add(DOMAIN, "MX", f"10 {MX}.")
    dns_server.zone.add(MX, "AAAA" if ":" in address else "A", ipaddress.ip_address(address).exploded)
    with pytest.raises(TargetRefused, match=rf"{MX}.*\({rule}") as refused:
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    assert "--allow" in str(refused.value)  # the user is told the way in
    assert jail.tcp() == []  # not one TCP connection: only the DNS questions went out
    assert dns_server.asked(MX) >= 1


@pytest.mark.parametrize(("address", "block"), registry_cases())
async def test_no_special_purpose_block_is_contacted(
    dns_server: DnsServer, jail: Jail, address: str, block: str
) -> None:
    """Every not-globally-reachable entry of IANA's IPv4 and IPv6 Special-Purpose Address
    Registries (first, middle and last address), answered for an MX host: refused, unconnected."""
    dns_server.zone.add(DOMAIN, "MX", f"10 {MX}.")
    dns_server.zone.add(MX, "AAAA" if ":" in address else "A", ipaddress.ip_address(address).exploded)
    with pytest.raises(TargetRefused, match=f"{MX}"):
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    assert jail.tcp() == []


LOCAL_NAT64 = "64:ff9b:1:a09:9:900:808:808"  # 10.9.9.9 at the /48 position (RFC 6052), 8.8.8.8 at /96


async def test_the_nat64_local_use_prefix_gets_no_smtp_https_or_dns_traffic(dns_server: DnsServer, jail: Jail) -> None:
    """The address that got through before: as an MX host, as the MTA-STS policy host, and as a
    domain's name server; not one TCP connection or DNS question goes to it."""
    dns_server.zone.add(DOMAIN, "MX", f"10 {MX}.")
    dns_server.zone.add(MX, "AAAA", LOCAL_NAT64)
    with pytest.raises(TargetRefused, match="NAT64 local-use"):
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    dns_server.zone.add(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=20261206T000000")
    dns_server.zone.add(f"mta-sts.{DOMAIN}", "AAAA", LOCAL_NAT64)
    result = await probe_mta_sts(ProbeContext.create(lab(dns_server)), DOMAIN, [MX])
    assert not result.ok and "NAT64 local-use" in result.detail, result.detail
    with pytest.raises(TargetRefused, match="NAT64 local-use"):
        await diagnose(DiagnoseRequest(DOMAIN, smart_host=f"[{LOCAL_NAT64}]"), lab(dns_server))
    dns_server.zone.add(DOMAIN, "NS", f"ns1.{DOMAIN}.")
    dns_server.zone.add(f"ns1.{DOMAIN}", "AAAA", LOCAL_NAT64)
    result = await probe_authoritative(ProbeContext.create(lab(dns_server)), DOMAIN)
    assert "NAT64 local-use" in json.dumps(result.facts), result.facts
    assert jail.tcp() == []
    # The jail fails the test on any packet to LOCAL_NAT64; what did go out went to the fixture's loopback.
    assert {host for host, _, _ in jail.connects} == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("target", "smart_host"),
    [
        ("169.254.169.254", None),
        ("postmaster@[10.0.0.1]", None),
        ("[::ffff:127.0.0.1]", None),
        ("64:ff9b::a9fe:a9fe", None),
        (DOMAIN, "100.64.0.1"),
        (DOMAIN, "[fe80::1]"),
        (DOMAIN, "2002:a9fe:a9fe::1"),
    ],
)
async def test_ip_literals_are_refused_before_anything_is_sent(
    dns_server: DnsServer, jail: Jail, target: str, smart_host: str | None
) -> None:
    with pytest.raises(TargetRefused, match="refused to probe"):
        await diagnose(DiagnoseRequest(target, smart_host=smart_host), lab(dns_server))
    assert jail.tcp() == []
    if smart_host is None:
        assert jail.connects == []  # a literal target: not even a DNS question


def test_ipv4_mapped_loopback_is_not_covered_by_a_loopback_allowlist() -> None:
    """The operator allowed 127.0.0.0/8; ``::ffff:127.0.0.1`` reaches the same host by IPv6 and
    is refused (it never appears in a real MX answer; a rebinding attacker would use it)."""
    guard = AddressGuard(Allowlist.parse(["127.0.0.0/8"]))
    assert str(guard.check("127.0.0.1")) == "127.0.0.1"
    with pytest.raises(TargetRefused, match="loopback"):
        guard.check("::ffff:127.0.0.1")


def rebind(zone: Zone, name: str, rtype: str, first: str, later: str) -> list[str]:
    """Make the fixture answer ``first`` to the first query for (name, rtype), ``later`` after.

    Returns the list of answers given, in order, for the test to inspect."""
    given: list[str] = []
    original = zone.lookup
    zone.add(name, "TXT", "the name exists: other types get NODATA, not NXDOMAIN")

    def lookup(owner: str, asked: str) -> list[tuple[int, str]]:
        if (owner, asked) != (name, rtype):
            return original(owner, asked)
        given.append(first if not given else later)
        return [(0, given[-1])]

    zone.lookup = lookup  # type: ignore[method-assign,assignment]
    return given


@pytest.mark.parametrize("later", ["10.0.0.1", "169.254.169.254"])
async def test_dns_rebinding_cannot_redirect_the_smtp_path(
    dns_server: DnsServer, start_peer: StartPeer, pki: Pki, jail: Jail, later: str
) -> None:
    """STARTTLS, the certificate and the TLS-version checks open more connections after the
    first: all of them go to the address checked at the start, never to a second answer."""
    peer = await start_peer("valid")
    dns_server.zone.add(DOMAIN, "MX", f"10 {HOST}.")
    answers = rebind(dns_server.zone, HOST, "A", "127.0.0.1", later)
    config = lab(dns_server, smtp_port=peer.port, allow=("127.0.0.1/32",), ca_file=pki.ca_file)

    diagnosis = await diagnose(DiagnoseRequest(DOMAIN, require_tls=True), config)

    assert diagnosis.verdict.code is None, [(r.name, r.detail) for r in diagnosis.results]
    assert answers[0] == "127.0.0.1"
    connections = jail.tcp(peer.port)
    assert connections, "the SMTP path never connected"
    assert set(connections) == {("127.0.0.1", peer.port)}
    assert all(host == "127.0.0.1" for host, _ in jail.tcp())


async def test_dns_rebinding_cannot_redirect_an_http_fetch(
    dns_server: DnsServer, http_server: HttpServer, jail: Jail
) -> None:
    """Each fetch resolves once and connects to what it checked: the next fetch (a new session,
    so no kept-alive connection to reuse) gets the rebound answer and is refused, unconnected."""
    answers = rebind(dns_server.zone, "svc.victim.test", "A", "127.0.0.1", "169.254.169.254")
    ctx = ProbeContext.create(lab(dns_server, allow=("127.0.0.1/32",)))
    url = f"http://svc.victim.test:{http_server.port}/rdap/dns.json"
    first = await fetch(ctx, url, step="test")
    with pytest.raises(TargetRefused, match=r"169\.254\.169\.254 \(cloud metadata address\)"):
        await fetch(ctx, url, step="test")
    assert first.status == 200
    assert answers == ["127.0.0.1", "169.254.169.254"]
    assert jail.tcp() == [("127.0.0.1", http_server.port)]
    assert http_server.hits("/rdap/dns.json") == 1


POLICY_HOST_REFUSED = [
    ("169.254.169.254", "cloud metadata"),
    ("10.0.0.1", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("2002:a9fe:a9fe::", "cloud metadata"),
    ("127.0.0.1", "loopback"),
]


@pytest.mark.parametrize(("address", "rule"), POLICY_HOST_REFUSED, ids=[a for a, _ in POLICY_HOST_REFUSED])
async def test_an_mta_sts_policy_host_resolving_to_a_refused_address_is_not_fetched(
    dns_server: DnsServer, jail: Jail, address: str, rule: str
) -> None:
    dns_server.zone.add(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=20261129T000000")
    dns_server.zone.add(f"mta-sts.{DOMAIN}", "AAAA" if ":" in address else "A", ipaddress.ip_address(address).exploded)
    result = await probe_mta_sts(ProbeContext.create(lab(dns_server)), DOMAIN, [MX])
    assert not result.ok
    assert "could not be fetched" in result.detail and rule in result.detail, result.detail
    assert jail.tcp() == []


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://metadata.victim.test/computeMetadata/v1/",
        "http://10.0.0.1:8080/admin",
    ],
)
async def test_a_redirect_to_a_refused_address_is_not_followed(
    dns_server: DnsServer, http_server: HttpServer, jail: Jail, location: str
) -> None:
    dns_server.zone.add("metadata.victim.test", "A", "169.254.169.254")
    http_server.policies["redirect.test"] = Policy(status=302, location=location)
    ctx = ProbeContext.create(lab(dns_server, allow=("127.0.0.1/32",)))
    url = f"{http_server.base}/mta-sts/redirect.test/.well-known/mta-sts.txt"
    with pytest.raises(TargetRefused):
        await fetch(ctx, url, step="test", redirects=3)
    assert jail.tcp() == [("127.0.0.1", http_server.port)]  # the first hop only


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "017700000001", "169.254.43518"]
)
async def test_addresses_spelt_as_names_are_looked_up_never_read_as_addresses(
    dns_server: DnsServer, jail: Jail, host: str
) -> None:
    """A system resolver reads ``127.1`` or ``2130706433`` as 127.0.0.1 (inet_aton). The probes
    never do: the guard refuses the all-digit spellings (aiohttp would take them for literals),
    and anything else is a name, looked up through the probes' own resolver, where these do
    not exist."""
    ctx = ProbeContext.create(lab(dns_server))
    with pytest.raises(ProbeError, match=r"cannot resolve|is not an IP address"):
        await fetch(ctx, f"http://{host}:{CLOSED_PORT}/", step="test")
    assert jail.tcp() == []


async def test_nothing_is_left_running_after_a_refusal(dns_server: DnsServer) -> None:
    dns_server.zone.add(DOMAIN, "MX", f"10 {MX}.")
    dns_server.zone.add(MX, "A", "169.254.169.254")
    before = asyncio.all_tasks()
    with pytest.raises(TargetRefused):
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before


# -- review round: CNAME chains, MX names spelt as addresses, scoped literals in URLs ------------


@pytest.mark.parametrize(("address", "rule"), [("10.0.0.1", "private"), ("fd00:ec2::254", "private")])
async def test_an_mx_aliased_through_a_cname_chain_to_a_private_name_is_never_contacted(
    dns_server: DnsServer, jail: Jail, address: str, rule: str
) -> None:
    """The MX host is a CNAME to a CNAME to an intranet name: the guard sees the final address."""
    dns_server.zone.add(DOMAIN, "MX", f"10 {MX}.")
    dns_server.zone.add(MX, "CNAME", "hop.attacker.test.")
    dns_server.zone.add("hop.attacker.test", "CNAME", "intranet.corp.test.")
    dns_server.zone.add("intranet.corp.test", "AAAA" if ":" in address else "A", ipaddress.ip_address(address).exploded)
    with pytest.raises(TargetRefused, match=rf"\({rule}"):
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    assert jail.tcp() == []


@pytest.mark.parametrize("exchange", ["169.254.169.254.", "127.0.0.1.", "2130706433.", "0x7f.1."])
async def test_an_mx_exchange_spelt_as_an_address_is_never_contacted(
    dns_server: DnsServer, jail: Jail, exchange: str
) -> None:
    """An MX record whose exchange is an address written as a name: refused by the guard as an
    address, or looked up as the name it is (which does not exist); never connected to."""
    dns_server.zone.add(DOMAIN, "MX", f"10 {exchange}")
    with contextlib.suppress(ProbeError):
        await diagnose(DiagnoseRequest(DOMAIN), lab(dns_server))
    assert jail.tcp() == []


@pytest.mark.parametrize(
    "host",
    [
        "[2001:4860:4860::8888%25lo]",  # a global address with a zone id: aiohttp would connect to it scoped
        "[fe80::1%25eth0]",
        "[::ffff:127.0.0.1%25lo]",
        "1.2.3",  # aiohttp reads all-digit hosts as literals, without asking any resolver
        "127.0.0.1.",
    ],
)
async def test_a_url_host_the_guard_cannot_vouch_for_is_refused_unconnected(
    dns_server: DnsServer, jail: Jail, host: str
) -> None:
    """Refused by the guard itself (not left to aiohttp's or the system's reading of the host)."""
    ctx = ProbeContext.create(lab(dns_server, allow=("127.0.0.1/32",)))
    with pytest.raises(TargetRefused):
        await fetch(ctx, f"http://{host}:{CLOSED_PORT}/", step="test")
    assert jail.tcp() == []
