"""The address guard: mailflow connects where chat users tell it to, so it refuses by default
every address that is not on the public internet.

Strategy: the refusal rules are data. ``_V4_RULES`` and ``_V6_RULES`` are IANA's IPv4 and IPv6
Special-Purpose Address Registries (RFC 6890; iana.org/assignments/iana-ipv4-special-registry and
iana-ipv6-special-registry): every block whose "Globally Reachable" is False or N/A, plus
multicast, which those registries leave out. The first matching rule names the refusal, so the
more specific names come first (the cloud metadata address before link-local). Python's own
``is_global`` is not used: its table differs between versions (3.11's is older than 3.12's).

IPv6 beyond the registry: only 2000::/3 is global unicast (IANA IPv6 Address Space), so any
other address is refused as reserved, except the NAT64 well-known prefix ``64:ff9b::/96``.

Addresses that embed an IPv4 address are unwrapped and EVERY embedded address must pass, and
then the outer address must pass too; unwrapping never ends the check early:

    ::ffff:a.b.c.d        IPv4-mapped (RFC 4291)        outer refused: probe a.b.c.d itself
    ::a.b.c.d             IPv4-compatible, deprecated   outer refused
    ::ffff:0:a.b.c.d      IPv4-translated (RFC 2765)    outer refused
    64:ff9b::/96          NAT64 well-known (RFC 6052)   outer passes when the IPv4 does
    64:ff9b:1::/48        NAT64 local use (RFC 8215)    outer refused; the IPv4 may sit at any
                                                        RFC 6052 position (/48, /56, /64, /96)
    2002::/16             6to4 (RFC 3056)               outer passes when the IPv4 does
    2001::/32             Teredo (RFC 4380)             outer refused; server and client named

The operator's allowlist (CIDRs, or host names with an optional ``*.`` wildcard) is the only
way in. Resolution happens once; callers connect to the checked address itself (no DNS
rebinding window), with SNI and certificate checks done against the host name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.errors import TargetRefused
from bot.texts import error, text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA IPv4 Special-Purpose Address Registry (updated 2025-05), not globally reachable, and multicast.
# 192.0.0.9/32 and 192.0.0.10/32 (PCP and TURN anycast) are globally reachable but no mail
# host: the whole of 192.0.0.0/24 is refused.
_V4_RULES: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "cloud metadata address"),  # AWS, GCP, Azure IMDS, OpenStack
    ("168.63.129.16/32", "Azure platform address"),  # Azure's wire server (public space, internal use)
    ("0.0.0.0/8", "unspecified or 'this network' address"),  # RFC 791 section 3.2; 0.0.0.0/32 RFC 1122
    ("10.0.0.0/8", "private address"),  # RFC 1918
    ("100.64.0.0/10", "carrier-grade NAT address"),  # RFC 6598 shared address space
    ("127.0.0.0/8", "loopback address"),  # RFC 1122 section 3.2.1.3
    ("169.254.0.0/16", "link-local address"),  # RFC 3927
    ("172.16.0.0/12", "private address"),  # RFC 1918
    ("192.0.0.0/24", "IETF protocol assignment"),  # RFC 6890; /29 RFC 7335, .8 RFC 7600, .170/.171 RFC 8880
    ("192.0.2.0/24", "documentation address"),  # RFC 5737 TEST-NET-1
    ("192.88.99.0/24", "deprecated 6to4 relay anycast address"),  # RFC 7526 (.2/32, 6a44, RFC 6751)
    ("192.168.0.0/16", "private address"),  # RFC 1918
    ("198.18.0.0/15", "benchmarking address"),  # RFC 2544
    ("198.51.100.0/24", "documentation address"),  # RFC 5737 TEST-NET-2
    ("203.0.113.0/24", "documentation address"),  # RFC 5737 TEST-NET-3
    ("224.0.0.0/4", "multicast address"),  # RFC 5771; Python 3.11's is_global says True for 224.0.0.1
    ("255.255.255.255/32", "reserved address (limited broadcast)"),  # RFC 919, RFC 8190
    ("240.0.0.0/4", "reserved address"),  # RFC 1112 section 4
)
# IANA IPv6 Special-Purpose Address Registry (updated 2025-04), not globally reachable, and
# multicast. Within 2001::/23 a few blocks are globally reachable (PCP/TURN/SRP anycast, AMT,
# AS112, ORCHIDv2, DETs), none of them a mail host: the whole /23 is refused.
_V6_RULES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified address"),  # RFC 4291
    ("::1/128", "loopback address"),  # RFC 4291
    ("::ffff:0:0/96", "IPv4-mapped IPv6 address, not globally reachable"),  # RFC 4291 section 2.5.5.2
    ("::ffff:0:0:0/96", "deprecated IPv4-translated IPv6 address"),  # RFC 2765 (SIIT)
    ("::/96", "deprecated IPv4-compatible IPv6 address"),  # RFC 4291 section 2.5.5.1
    ("64:ff9b:1::/48", "NAT64 local-use address"),  # RFC 8215; see refusal()
    ("100::/64", "discard-only address"),  # RFC 6666
    ("100:0:0:1::/64", "dummy IPv6 prefix"),  # RFC 9780
    ("2001::/32", "Teredo tunnel address"),  # RFC 4380: "N/A" in the registry; nothing serves mail there
    ("2001:2::/48", "benchmarking address"),  # RFC 5180
    ("2001:10::/28", "deprecated ORCHID address"),  # RFC 4843
    ("2001:db8::/32", "documentation address"),  # RFC 3849
    ("2001::/23", "IETF protocol assignment"),  # RFC 2928
    ("3fff::/20", "documentation address"),  # RFC 9637
    ("5f00::/16", "SRv6 segment identifier"),  # RFC 9602
    ("fc00::/7", "private (unique local) address"),  # RFC 4193
    ("fe80::/10", "link-local address"),  # RFC 4291
    ("fec0::/10", "site-local address (deprecated, RFC 3879)"),  # Python calls it global
    ("ff00::/8", "multicast address"),  # RFC 4291 section 2.7
)
_V4 = tuple((ipaddress.IPv4Network(net), why) for net, why in _V4_RULES)
_V6 = tuple((ipaddress.IPv6Network(net), why) for net, why in _V6_RULES)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: global when its IPv4 is
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_NAT64_LOCAL_RULE = "NAT64 local-use address (64:ff9b:1::/48, RFC 8215)"
_IPV4_EMBEDDING = (  # RFC 4291 / RFC 2765 forms: the IPv4 address is the last 32 bits
    (ipaddress.IPv6Network("::ffff:0:0/96"), "IPv4-mapped"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "IPv4-translated"),
    (ipaddress.IPv6Network("::/96"), "IPv4-compatible"),
)
RFC6052_PREFIXES = (32, 40, 48, 56, 64, 96)


def rfc6052_ipv4(ip: ipaddress.IPv6Address, prefix_len: int) -> ipaddress.IPv4Address:
    """The IPv4 address that RFC 6052 section 2.2 embeds in ``ip`` after a ``prefix_len``-bit prefix.

    For prefixes shorter than 96 bits the IPv4 bits run around bits 64-71 (the "u" octet,
    kept zero), so /48 puts the first two octets in bits 48-63 and the last two in bits 72-87.
    """
    if prefix_len not in RFC6052_PREFIXES:
        raise ValueError(f"RFC 6052 prefixes are /32, /40, /48, /56, /64 or /96, not /{prefix_len}")
    value = int(ip)
    if prefix_len == 96:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    without_u = ((value >> 64) << 56) | (value & ((1 << 56) - 1))  # 120 bits: the u octet taken out
    return ipaddress.IPv4Address((without_u >> (120 - prefix_len - 32)) & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> Iterator[ipaddress.IPv4Address]:
    """Every IPv4 address that ``ip`` may carry to an IPv4 host, in the order they are checked."""
    for net, _ in _IPV4_EMBEDDING:
        if ip in net and int(ip) > 1:  # :: and ::1 are no IPv4-compatible addresses
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            return
    if ip in _NAT64:
        yield rfc6052_ipv4(ip, 96)
    elif ip in _NAT64_LOCAL:  # the operator picks the prefix length inside the /48: try each
        for length in (96, 64, 56, 48):
            yield rfc6052_ipv4(ip, length)
    elif ip.sixtofour is not None:
        yield ip.sixtofour
    elif ip.teredo is not None:
        server, client = ip.teredo
        yield client  # de-obfuscated by ipaddress
        yield server


@dataclass(frozen=True, slots=True)
class Allowlist:
    networks: tuple[Network, ...] = ()
    names: tuple[str, ...] = ()  # lower-case; "*.example.test" matches any subdomain

    @classmethod
    def parse(cls, items: Iterable[str]) -> Allowlist:
        networks: list[Network] = []
        names: list[str] = []
        for raw in items:
            item = raw.strip().lower().rstrip(".")
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                names.append(item)
        return cls(tuple(networks), tuple(names))

    def allows_ip(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.networks)

    def allows_name(self, name: str | None) -> bool:
        if not name:
            return False
        host = name.lower().rstrip(".")
        for pattern in self.names:
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
            if host == pattern:
                return True
        return False


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be probed, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return next((why for net4, why in _V4 if ip in net4), None)
    if ip in _NAT64_LOCAL:  # refused as a whole; name what it may carry (the prefix length is unknown)
        carried = dict.fromkeys(f"{inner} ({why})" for inner in embedded_ipv4(ip) if (why := refusal(inner)))
        return _NAT64_LOCAL_RULE + (f", which may carry {', '.join(carried)}" if carried else "")
    for inner in embedded_ipv4(ip):  # every embedded address first: the most useful name ...
        why = refusal(inner)
        if why:
            return f"{why} ({ip} embeds {inner})"
    for net6, why in _V6:  # ... then the outer address, whatever the inner ones were
        if ip in net6:
            wrapped = next(embedded_ipv4(ip), None)
            return f"{why} ({ip} embeds {wrapped})" if wrapped is not None else why
    if ip not in _GLOBAL_UNICAST and ip not in _NAT64:
        return "reserved IPv6 address (outside global unicast 2000::/3)"
    return None


def parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AddressGuard:
    allow: Allowlist = Allowlist()

    def check(self, address: str, *, host: str | None = None) -> IPAddress:
        """The parsed address when it may be probed; TargetRefused naming the rule otherwise.

        ``host`` is the name the address was resolved from, for name-based allowlist entries.
        """
        ip = parse_ip(address)
        if ip is None:
            raise error(TargetRefused, text("guard.not_ip", address=repr(address)))
        if self.allow.allows_ip(ip) or self.allow.allows_name(host):
            return ip
        why = refusal(ip)
        if why:
            named = text("guard.resolves_to", host=host, ip=str(ip)) if host and host != address else str(ip)
            raise error(TargetRefused, text("guard.refused", target=named, rule=why))
        return ip

    def allowed(self, address: str, *, host: str | None = None) -> bool:
        try:
            self.check(address, host=host)
        except TargetRefused:
            return False
        return True
