"""The I/O a probe needs, injected: settings, the address guard, a DNS resolver, an HTTP session.

Probes take a ``ProbeContext`` and return ``ProbeResult``s; they never build their own resolver
or session, so tests point every lookup at servers on 127.0.0.1 by building the context
differently, and nothing else changes.
"""

from __future__ import annotations

import functools
import os
import ssl
from dataclasses import dataclass, field

import aiohttp
import dns.asyncresolver

from bot.probes.config import ProbeConfig
from bot.probes.guard import AddressGuard, Allowlist


def make_resolver(config: ProbeConfig) -> dns.asyncresolver.Resolver:
    """The system's resolver, or the configured one (``--resolver IP[:PORT]``)."""
    if config.resolver is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [config.resolver[0]]
        resolver.port = config.resolver[1]
    resolver.timeout = config.timeouts.dns
    resolver.lifetime = config.timeouts.dns
    resolver.cache = None  # a diagnosis must see the answer as it is now
    return resolver


def make_ssl_context(config: ProbeConfig, *, check_hostname: bool = True) -> ssl.SSLContext:
    """A verifying client context: the system trust store (``SSL_CERT_FILE`` honoured) or --ca-file.

    Shared, never to be modified: loading a trust store costs about 30 ms of CPU, most of a
    diagnosis's, so one context per (trust store, host name check) serves every connection.
    """
    trust = (config.ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _client_context(trust, check_hostname)


@functools.lru_cache(maxsize=8)
def _client_context(trust: tuple[str | None, str | None, str | None], check_hostname: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=trust[0])
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    return context


@dataclass(slots=True)
class ProbeContext:
    config: ProbeConfig
    resolver: dns.asyncresolver.Resolver
    guard: AddressGuard
    http: aiohttp.ClientSession | None = None  # opened by the caller; probes never close it
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, config: ProbeConfig, *, http: aiohttp.ClientSession | None = None) -> ProbeContext:
        return cls(
            config=config,
            resolver=make_resolver(config),
            guard=AddressGuard(Allowlist.parse(config.allow)),
            http=http,
        )

    def ssl_context(self, *, check_hostname: bool = True) -> ssl.SSLContext:
        return make_ssl_context(self.config, check_hostname=check_hostname)
