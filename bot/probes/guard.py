"""The address guard: mailflow connects where chat users tell it to, so it refuses by default
every address that is not on the public internet.

Rules (first match names the refusal): unspecified, loopback, the cloud metadata address
169.254.169.254 and Azure's 168.63.129.16, link-local, carrier-grade NAT (100.64.0.0/10),
private, documentation, benchmarking, multicast (Python's ``is_global`` says True for 224.0.0.1,
so it is checked on its own), reserved, and IPv6 forms that embed an IPv4 address: IPv4-mapped
``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16`` and Teredo ``2001::/32`` are
unwrapped and the inner address checked; the deprecated IPv4-compatible ``::a.b.c.d`` and
IPv4-translated ``::ffff:0:a.b.c.d`` forms, and site-local ``fec0::/10``, are refused outright.
Anything else that Python does not call global is refused as "not globally routable".

The operator's allowlist (CIDRs, or host names with an optional ``*.`` wildcard) is the only
way in. Resolution happens once; callers connect to the checked address itself (no DNS
rebinding window), with SNI and certificate checks done against the host name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import TargetRefused
from bot.texts import error, text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_RULES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified or 'this network' address"),
    ("127.0.0.0/8", "loopback address"),
    ("169.254.169.254/32", "cloud metadata address"),
    ("168.63.129.16/32", "Azure platform address"),
    ("169.254.0.0/16", "link-local address"),
    ("100.64.0.0/10", "carrier-grade NAT address"),
    ("10.0.0.0/8", "private address"),
    ("172.16.0.0/12", "private address"),
    ("192.168.0.0/16", "private address"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation address"),
    ("198.51.100.0/24", "documentation address"),
    ("203.0.113.0/24", "documentation address"),
    ("198.18.0.0/15", "benchmarking address"),
    ("224.0.0.0/4", "multicast address"),
    ("240.0.0.0/4", "reserved address"),
)
_V6_RULES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified address"),
    ("::1/128", "loopback address"),
    ("fe80::/10", "link-local address"),
    ("fc00::/7", "private (unique local) address"),
    ("ff00::/8", "multicast address"),
    ("2001:db8::/32", "documentation address"),
    ("100::/64", "discard-only address"),
    ("fec0::/10", "site-local address (deprecated, RFC 3879)"),  # Python calls it global
)
_V4 = tuple((ipaddress.IPv4Network(net), why) for net, why in _V4_RULES)
_V6 = tuple((ipaddress.IPv6Network(net), why) for net, why in _V6_RULES)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Deprecated forms that embed an IPv4 address and that nothing routes on the internet: refused
# whatever the inner address, named after it when it is itself refused.
_LEGACY = (
    (ipaddress.IPv6Network("::/96"), "IPv4-compatible"),  # RFC 4291 section 2.5.5.1
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "IPv4-translated"),  # RFC 2765 (SIIT)
)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


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
    if isinstance(ip, ipaddress.IPv6Address):
        for net6, form in _LEGACY:
            if ip in net6 and int(ip) > 1:  # :: and ::1 have rules of their own
                legacy = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                why = refusal(legacy)
                return (
                    f"{why} ({ip} embeds {legacy})" if why else f"deprecated {form} IPv6 address ({ip} embeds {legacy})"
                )
        inner = _embedded_v4(ip)
        if inner is not None:
            why = refusal(inner)
            return f"{why} ({ip} embeds {inner})" if why else None
        for net6, why in _V6:
            if ip in net6:
                return why
    else:
        for net4, why in _V4:
            if ip in net4:
                return why
    if not ip.is_global:
        return "address that is not globally routable"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's (de-obfuscated) address
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
