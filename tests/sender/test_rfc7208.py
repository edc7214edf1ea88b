"""The RFC 7208 test suite (openspf.org, release 2014.04, as pyspf 2.0.14 carries it; BSD
licence in rfc7208-tests.LICENSE) run against ``check_spf`` through a real DNS server.

Each scenario's zone data is served by the loopback DNS fixture, read as the suite's own driver
reads it: SPF-type records are served as TXT when a name has no TXT of its own, ``TIMEOUT``
makes the server drop queries for that name (the client times out: temperror). A test whose
``result`` is a list accepts any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.context import ProbeContext
from bot.sender.dns import SenderDns
from bot.sender.spf import check_spf
from tests.fixtures.dns_server import DnsServer, start_dns

pytestmark = pytest.mark.timeout(60)

SUITE = Path(__file__).with_name("rfc7208-tests.yml")
DNS_TIMEOUT = 1.0  # the TIMEOUT cases wait this long; an answer never comes near it


def _scenarios() -> list[dict[str, Any]]:
    with SUITE.open("rb") as fh:
        return [s for s in yaml.safe_load_all(fh) if s]


SCENARIOS = _scenarios()
CASES = [(n, name) for n, scenario in enumerate(SCENARIOS) for name in scenario["tests"]]


def load_zone(server: DnsServer, zonedata: dict[str, list[Any]]) -> None:
    zone = server.zone
    for owner, entries in zonedata.items():
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        for entry in entries:
            if entry == "TIMEOUT":
                # The suite's driver: a query times out unless the name has records of its type.
                present = {t for e in entries if isinstance(e, dict) for t, v in e.items() if v != "NONE"}
                for rtype in ("A", "AAAA", "MX", "PTR", "TXT", "CNAME"):
                    if rtype not in present:
                        zone.behave(owner, "drop", rtype=rtype, exact=True)
                continue
            ((rtype, value),) = entry.items()
            if value == "NONE":
                continue  # the suite's "no record of this type"
            if rtype == "SPF":
                if has_txt:
                    continue
                rtype = "TXT"
            if rtype == "TXT":
                strings = [value] if isinstance(value, str) else list(value) or [""]  # [] as one empty string
                zone.add_txt(owner, *[s.encode("utf-8", "surrogateescape") for s in strings])
            elif rtype == "MX":
                zone.add(owner, "MX", f"{value[0]} {value[1] or '.'}.".replace("..", "."))
            elif rtype in ("A", "AAAA", "PTR", "CNAME"):
                text = str(value)
                zone.add(owner, rtype, text if rtype in ("A", "AAAA") else text.rstrip(".") + ".")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[DnsServer]]:
    with _started(len(SCENARIOS)) as started:
        yield started


class _started:
    """One DNS server per scenario, for the whole module (16 servers, started once)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.contexts: list[Any] = []

    def __enter__(self) -> list[DnsServer]:
        out = []
        for n in range(self.count):
            manager = start_dns()
            server = manager.__enter__()
            self.contexts.append(manager)
            load_zone(server, SCENARIOS[n].get("zonedata") or {})
            out.append(server)
        return out

    def __exit__(self, *exc: object) -> None:
        for manager in self.contexts:
            manager.__exit__(None, None, None)


def _sender(test: dict[str, Any]) -> tuple[str, str]:
    mailfrom = str(test.get("mailfrom") or "")
    helo = str(test.get("helo") or "")
    if not mailfrom:
        return f"postmaster@{helo}", helo
    if "@" not in mailfrom:
        return f"postmaster@{mailfrom}", mailfrom
    local, _, domain = mailfrom.rpartition("@")
    return (mailfrom if local else f"postmaster@{domain}"), domain


@pytest.mark.parametrize(("scenario", "name"), CASES, ids=[f"{SCENARIOS[n]['description']}:{t}" for n, t in CASES])
def test_rfc7208(servers: list[DnsServer], scenario: int, name: str) -> None:
    test = SCENARIOS[scenario]["tests"][name]
    server = servers[scenario]
    config = ProbeConfig(resolver=server.address, timeouts=Timeouts(dns=DNS_TIMEOUT))
    dns = SenderDns(ProbeContext.create(config))
    sender, domain = _sender(test)
    report = asyncio.run(check_spf(dns, domain, str(test["host"]), sender=sender, helo=str(test.get("helo") or "")))
    expected = test["result"] if isinstance(test["result"], list) else [test["result"]]
    assert report.result in expected, f"{test.get('description', name)}: {report.error} {report.mechanism}"
    if "explanation" in test and report.result == "fail":
        # DEFAULT: the receiver's own text, i.e. no exp= text. Hex digits compare without case
        # (the suite spells %{i} of an IPv6 address in capitals, RFC 7208 does not say).
        assert (report.explanation or "DEFAULT").lower() == str(test["explanation"]).lower()
