"""IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890), the entries whose
"Globally Reachable" column says False or N/A, as published (IPv4 updated 2025-05, IPv6
2025-04). Written out here independently of the guard's own table, so a block missing from the
guard fails the tests instead of being missing from both.

    (block, name in the registry, RFC)
"""

from __future__ import annotations

import ipaddress

IPV4_NOT_GLOBAL = [
    ("0.0.0.0/8", "This network", "RFC 791"),
    ("0.0.0.0/32", "This host on this network", "RFC 1122"),
    ("10.0.0.0/8", "Private-Use", "RFC 1918"),
    ("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
    ("127.0.0.0/8", "Loopback", "RFC 1122"),
    ("169.254.0.0/16", "Link Local", "RFC 3927"),
    ("172.16.0.0/12", "Private-Use", "RFC 1918"),
    ("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880"),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880"),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),  # N/A
    ("192.168.0.0/16", "Private-Use", "RFC 1918"),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
    ("240.0.0.0/4", "Reserved", "RFC 1112"),
    ("255.255.255.255/32", "Limited Broadcast", "RFC 919"),
]

IPV6_NOT_GLOBAL = [
    ("::1/128", "Loopback Address", "RFC 4291"),
    ("::/128", "Unspecified Address", "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291"),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use)", "RFC 8215"),
    ("100::/64", "Discard-Only Address Block", "RFC 6666"),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
    ("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
    ("2001::/32", "TEREDO", "RFC 4380"),  # N/A
    ("2001:2::/48", "Benchmarking", "RFC 5180"),
    ("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),  # N/A
    ("2001:db8::/32", "Documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),  # N/A: refused when the embedded IPv4 is
    ("3fff::/20", "Documentation", "RFC 9637"),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
    ("fc00::/7", "Unique-Local", "RFC 4193"),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291"),
]

# Not in the special-purpose registries, refused all the same.
OTHER_REFUSED = [
    ("224.0.0.0/4", "Multicast", "RFC 5771"),
    ("ff00::/8", "Multicast", "RFC 4291"),
    ("fec0::/10", "Site-local, deprecated", "RFC 3879"),
    ("::/96", "IPv4-compatible, deprecated", "RFC 4291"),
]


def samples(block: str) -> list[str]:
    """The first, a middle and the last address of ``block`` (one for a single address).

    The middle address of 2002::/16 would embed a public IPv4 address (6to4 passes then), so
    for 6to4 only the ends, which embed 0.0.0.0 and 255.255.255.255, are taken."""
    net = ipaddress.ip_network(block)
    first, last = net.network_address, net.broadcast_address
    picks = [first, first + (net.num_addresses // 2), last]
    if block == "2002::/16":
        picks = [first, last]
    return list(dict.fromkeys(str(ip) for ip in picks))


def registry_cases() -> list[tuple[str, str]]:
    """(address, "block name") for every sampled address of every refused block."""
    blocks = IPV4_NOT_GLOBAL + IPV6_NOT_GLOBAL + OTHER_REFUSED
    return [(address, f"{block} {name}") for block, name, _ in blocks for address in samples(block)]
