"""The address guard, as a table: every refused class, the IPv6 wrappers, and the allowlist.

Pure classification: nothing here sends a packet.
"""

from __future__ import annotations

import ipaddress

import pytest

from bot.errors import TargetRefused
from bot.probes.guard import AddressGuard, Allowlist, refusal, rfc6052_ipv4
from tests.iana_special import registry_cases

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("10.1.2.3", "private"),
    ("172.16.0.9", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("168.63.129.16", "Azure"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "documentation"),
    ("2001:db8::25", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("::a9fe:a9fe", "metadata"),  # IPv4-compatible ::169.254.169.254 (deprecated)
    ("::7f00:1", "loopback"),  # IPv4-compatible ::127.0.0.1
    ("::a00:1", "private"),  # IPv4-compatible ::10.0.0.1
    ("::101:101", "deprecated IPv4-compatible"),  # ::1.1.1.1: public inside, still not routed
    ("::ffff:0:a9fe:a9fe", "metadata"),  # IPv4-translated (SIIT) ::ffff:0:169.254.169.254
    ("::ffff:0:101:101", "deprecated IPv4-translated"),
    ("fec0::1", "site-local"),  # deprecated; Python's is_global says True
    ("::ffff:1.1.1.1", "IPv4-mapped"),  # public inside, but the mapped form is not globally reachable
    # NAT64 local use (RFC 8215): refused whatever it embeds, and named after what it embeds.
    ("64:ff9b:1:a09:9:900:808:808", r"NAT64 local-use.* 10\.9\.9\.9 \(private"),  # /48 position; /96: 8.8.8.8
    ("64:ff9b:1:a9:fe:a9fe::", r"NAT64 local-use.* 169\.254\.169\.254 \(cloud metadata"),  # /56 position
    ("64:ff9b:1:0:a9:fea9:fe00:0", r"NAT64 local-use.* 169\.254\.169\.254 \(cloud metadata"),  # /64 position
    ("64:ff9b:1::a9fe:a9fe", r"NAT64 local-use.* 169\.254\.169\.254 \(cloud metadata"),  # /96 position
    ("64:ff9b:1::101:101", "NAT64 local-use"),  # 1.1.1.1 at /96: still refused
    # Teredo: server and client both checked; refused even when both are public.
    ("2001:0:a00:1:0:f227:fefe:fefe", "private"),  # server 10.0.0.1, client 1.1.1.1
    ("2001:0:101:101:0:f227:f5fe:fefe", "private"),  # server 1.1.1.1, client 10.1.1.1
    ("2001:0:101:101:8000:63bf:fefe:fefe", "Teredo"),  # server 1.1.1.1, client 1.1.1.1
    # 6to4 and NAT64 with a public embedded address pass only when the outer address does.
    # Outside 2000::/3 and not NAT64: reserved (IANA IPv6 Address Space).
    ("64:ff9b:0:1::101:101", "reserved IPv6"),  # in 64:ff9b::/32, outside the /96 and the /48
    ("4000::1", "reserved IPv6"),
    ("5f00::1", "SRv6"),
    ("3fff::25", "documentation"),
    ("100:0:0:1::1", "dummy"),
    ("192.88.99.1", "6to4 relay"),
    ("192.0.0.170", "IETF protocol"),
]


@pytest.mark.parametrize(("address", "rule"), REFUSED)
def test_refused(address: str, rule: str) -> None:
    with pytest.raises(TargetRefused, match=rule):
        AddressGuard().check(address)


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1",
        "52.96.0.1",
        "2606:4700:4700::1111",
        "64:ff9b::101:101",  # NAT64 well-known prefix, public inside
        "2002:101:101::25",  # 6to4, public inside
        "192.31.196.1",  # AS112: globally reachable in IANA's registry
        "2620:4f:8000::1",  # AS112 direct delegation, globally reachable
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(AddressGuard().check(address)) is None


def test_refusal_names_the_host_and_the_way_in() -> None:
    with pytest.raises(TargetRefused) as info:
        AddressGuard().check("127.0.0.1", host="mail.contoso.test")
    message = str(info.value)
    assert "mail.contoso.test resolves to 127.0.0.1" in message
    assert "--allow" in message


@pytest.mark.parametrize(
    ("allow", "address", "host"),
    [
        (["127.0.0.0/8"], "127.0.0.1", None),
        (["10.0.0.0/8"], "10.20.30.40", None),
        (["::1/128"], "::1", None),
        (["mail.lab.test"], "10.0.0.5", "mail.lab.test"),
        (["*.lab.test"], "192.168.9.9", "mx1.lab.test"),
    ],
)
def test_allowlist_is_the_only_way_in(allow: list[str], address: str, host: str | None) -> None:
    with pytest.raises(TargetRefused):
        AddressGuard().check(address, host=host)
    guard = AddressGuard(Allowlist.parse(allow))
    assert str(guard.check(address, host=host)) == address


def test_allowlist_does_not_leak_to_other_names() -> None:
    guard = AddressGuard(Allowlist.parse(["*.lab.test"]))
    with pytest.raises(TargetRefused):
        guard.check("10.0.0.5", host="lab.test.evil.example")


@pytest.mark.parametrize("value", ["not-an-ip", "", "1.2.3", "::1::2", "300.1.1.1"])
def test_non_addresses_are_refused(value: str) -> None:
    with pytest.raises(TargetRefused, match="not an IP address"):
        AddressGuard().check(value)


# RFC 6052 section 2.4: 192.0.2.33 embedded after each prefix length.
RFC6052_EXAMPLES = [
    (32, "2001:db8:c000:221::"),
    (40, "2001:db8:1c0:2:21::"),
    (48, "2001:db8:122:c000:2:2100::"),
    (56, "2001:db8:122:3c0:0:221::"),
    (64, "2001:db8:122:344:c0:2:2100:0"),
    (96, "2001:db8:122:344::192.0.2.33"),
    (96, "64:ff9b::192.0.2.33"),
]


@pytest.mark.parametrize(("prefix_len", "address"), RFC6052_EXAMPLES)
def test_rfc6052_positions(prefix_len: int, address: str) -> None:
    assert str(rfc6052_ipv4(ipaddress.IPv6Address(address), prefix_len)) == "192.0.2.33"


def test_rfc6052_refuses_other_prefix_lengths() -> None:
    with pytest.raises(ValueError, match="/72"):
        rfc6052_ipv4(ipaddress.IPv6Address("64:ff9b::1"), 72)


@pytest.mark.parametrize(("address", "block"), registry_cases())
def test_every_special_purpose_block_that_is_not_globally_reachable_is_refused(address: str, block: str) -> None:
    """IANA's registries entry by entry (tests/iana_special.py): first, middle and last address."""
    with pytest.raises(TargetRefused, match="refused to probe"):
        AddressGuard().check(address)
