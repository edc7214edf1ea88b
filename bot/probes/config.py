"""Probe settings: small frozen value objects with safe production defaults.

Timeouts follow the probing notes: connect about 10 s, banner 30 s or more (postscreen and
greeting delays of 6-15 s are normal), SMTP commands 30 s. Tests pass short ones.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Timeouts:
    dns: float = 5.0  # one DNS query
    connect: float = 10.0  # TCP connect
    banner: float = 30.0  # from connect to the end of the 220 greeting
    command: float = 30.0  # one SMTP command and its reply (EHLO, STARTTLS, QUIT)
    tls: float = 15.0  # one TLS handshake
    http: float = 10.0  # one HTTP request (MTA-STS, RDAP, endpoints)
    overall: float = 90.0  # the whole diagnosis

    @classmethod
    def within(cls, overall: float) -> Timeouts:
        """The default step timeouts, each capped at half of ``overall``: the SMTP path starts only
        after the MX and address lookups, and a step that times out must be reported as such
        (4.4.315, a silent greeting), not cut by the deadline as "not finished"."""
        defaults, cap = cls(), overall / 2
        return cls(
            dns=min(defaults.dns, cap),
            connect=min(defaults.connect, cap),
            banner=min(defaults.banner, cap),
            command=min(defaults.command, cap),
            tls=min(defaults.tls, cap),
            http=min(defaults.http, cap),
            overall=overall,
        )


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the HTTP lookups go. Overridable so tests can point them at a local server."""

    rdap_bootstrap: str = "https://data.iana.org/rdap/dns.json"
    m365_endpoints: str = "https://endpoints.office.com/endpoints/worldwide"
    m365_version: str = "https://endpoints.office.com/version/worldwide"
    mta_sts_policy: str = "https://mta-sts.{domain}/.well-known/mta-sts.txt"


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    resolver: tuple[str, int] | None = None  # (ip, port); None: the system's resolvers
    smtp_port: int = 25
    timeouts: Timeouts = field(default_factory=Timeouts)
    ca_file: str | None = None  # None: the system trust store (honours SSL_CERT_FILE)
    ehlo_name: str = "mailflow.invalid"
    allow: tuple[str, ...] = ()  # CIDRs or host names the operator allows despite the guard
    per_target_concurrency: int = 4
    endpoints: Endpoints = field(default_factory=Endpoints)
    max_addresses: int = 8  # addresses probed per host (MX hosts can have many)
    max_mx: int = 5  # MX hosts probed per domain
    dns_port: int = 53  # port of the authoritative name servers asked directly (tests: the local server's)


def parse_resolver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` as (ip, port); ValueError says what is wrong."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"must be IP or IP:PORT ([IPv6]:PORT), not {text!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, digits = text.partition(":")
        if not digits.isdigit():
            raise ValueError(f"must be IP or IP:PORT, not {text!r}")
        port = int(digits)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"must be an IP address (optionally :PORT), not {text!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be from 1 to 65535, not {port}")
    return str(address), port
