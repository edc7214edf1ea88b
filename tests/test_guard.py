"""The address guard, as a table: every refused class, the IPv6 wrappers, and the allowlist.

Pure classification: nothing here sends a packet.
"""

from __future__ import annotations

import pytest

from bot.errors import TargetRefused
from bot.probes.guard import AddressGuard, Allowlist, refusal

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
]


@pytest.mark.parametrize(("address", "rule"), REFUSED)
def test_refused(address: str, rule: str) -> None:
    with pytest.raises(TargetRefused, match=rule):
        AddressGuard().check(address)


@pytest.mark.parametrize(
    "address", ["1.1.1.1", "52.96.0.1", "2606:4700:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101"]
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
