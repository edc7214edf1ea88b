"""RDAP: is the domain's registration expired, on hold, or being deleted? (a cause of 4.4.312)

Strategy: two lookups over HTTP, both through the guarded ``http.fetch``, and a pure reading:
1. The IANA bootstrap (``endpoints.rdap_bootstrap``, RFC 9224) maps TLDs to RDAP base URLs. It
   is fetched once per process and kept a day (``BootstrapCache``); a failed fetch is not kept.
   The longest matching label suffix wins; https base URLs first.
2. ``{base}domain/<name>`` (RFC 9082 section 3.1.3; A-labels). RDAP servers redirect to each
   other (RFC 7480 section 5.2), so up to 3 redirects are followed, each guarded. A 404 for a
   name under the registered domain (``mail.contoso.co.uk``) is retried with the parent name,
   at most ``MAX_WALK`` names, stopping one label under the bootstrap's suffix.
3. ``read_domain`` (pure): ``events[]`` with ``eventAction == "expiration"``, and ``status[]``
   (RFC 8056 names; the EPP spelling ``clientHold`` is read as ``client hold``).

    expiration in the past                          4.4.312: expired
    client hold, server hold, redemption period,    4.4.312: removed from the DNS, or about to be
    pending delete, inactive
    every name tried answers 404                    4.4.312: not registered
    registered and active                           ok; the expiry date and days left
    no RDAP service for the TLD, bootstrap or       ok, "unknown": RDAP is a hint, never the
    server unavailable, malformed answer            reason a diagnosis fails
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import DnsFailure, display, elapsed_ms, to_name
from bot.probes.http import fetch
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, of_error, render_all, text

STEP = "rdap"
DNS_FAILED = "4.4.312"
MAX_WALK = 3
SOON_DAYS = 30
ACCEPT = "application/rdap+json, application/json;q=0.9"
# RFC 8056 section 2 statuses that take the domain out of the DNS, now or soon.
# The RDAP statuses that keep a domain out of the DNS, and the text that says why (rdap.<key>).
BLOCKING = {
    "client hold": "client_hold",
    "server hold": "server_hold",
    "redemption period": "redemption_period",
    "pending delete": "pending_delete",
    "inactive": "inactive",
}

Services = dict[str, tuple[str, ...]]


class BootstrapCache:
    """The bootstrap per process: kept ``max_age`` seconds; failures are never kept."""

    def __init__(self, *, max_age: float = 86_400.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self._entries: dict[str, tuple[float, Services]] = {}

    def get(self, url: str) -> Services | None:
        entry = self._entries.get(url)
        if entry is None or self.clock() - entry[0] > self.max_age:
            return None
        return entry[1]

    def put(self, url: str, services: Services) -> None:
        self._entries[url] = (self.clock(), services)

    def clear(self) -> None:
        self._entries.clear()


BOOTSTRAP = BootstrapCache()


def parse_bootstrap(data: Any) -> Services:
    """Pure: RFC 9224 ``services`` ([[tlds], [urls]], ...) as {tld: urls, https first}; ValueError if malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("services"), list):
        raise ValueError("no services list")
    services: Services = {}
    for entry in data["services"]:
        if not (isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[0], list)):
            raise ValueError(f"malformed service entry {entry!r:.80}")
        urls = [u if u.endswith("/") else u + "/" for u in entry[1] if isinstance(u, str)]
        ordered = tuple(sorted(urls, key=lambda u: not u.startswith("https:")))
        for tld in entry[0]:
            if isinstance(tld, str) and ordered:
                services[tld.lower().rstrip(".")] = ordered
    return services


def find_service(name: str, services: Services) -> tuple[str, str] | None:
    """Pure: (matched suffix, base URL) for ``name``: the longest label suffix with a service."""
    labels = name.split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if suffix in services:
            return suffix, services[suffix][0]
    return None


def normalise_status(value: str) -> str:
    """``clientHold`` -> ``client hold`` (EPP spelling to RDAP's, RFC 8056)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value.strip()).lower()


@dataclass(frozen=True, slots=True)
class DomainReading:
    ok: bool
    code: str | None
    said: tuple[Text, ...]
    facts: dict[str, Any]

    @property
    def detail(self) -> str:
        return render_all(self.said)


def read_domain(name: str, data: Any, now: datetime) -> DomainReading:
    """Pure: an RDAP domain object (RFC 9083 section 5.3) as a reading."""
    if not isinstance(data, dict):
        said = text("rdap.unknown", name=name, reason=text("rdap.not_an_object"))
        return DomainReading(True, None, (said,), {})
    statuses = [normalise_status(s) for s in data.get("status", []) if isinstance(s, str)]
    expiration: datetime | None = None
    for event in data.get("events", []):
        if isinstance(event, dict) and event.get("eventAction") == "expiration":
            try:
                expiration = datetime.fromisoformat(str(event.get("eventDate")))
            except ValueError:
                continue
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=UTC)
    facts: dict[str, Any] = {"statuses": statuses, "expiration": expiration.isoformat() if expiration else None}
    days = None
    if expiration is not None:
        days = (expiration - now).days
        facts["days_left"] = days
    blocking = [s for s in statuses if s in BLOCKING]
    if expiration is not None and expiration <= now:
        ago = -days if days else 0
        lapsed = [text("rdap.expired", name=name, date=expiration.date().isoformat(), days=ago)]
        if blocking:
            lapsed.append(text("rdap.status", statuses=", ".join(blocking)))
        return DomainReading(False, DNS_FAILED, tuple(lapsed), {**facts, "state": "expired"})
    if blocking:
        why = tuple(text("rdap.blocking", status=s, why=text(f"rdap.{BLOCKING[s]}")) for s in blocking)
        return DomainReading(False, DNS_FAILED, (text("rdap.held", name=name, why=why),), {**facts, "state": "held"})
    if expiration is not None:
        when = text("rdap.expires", date=expiration.date().isoformat(), days=days if days is not None else 0)
    else:
        when = text("rdap.no_expiry")
    active = [text("rdap.registered", name=name, when=when)]
    if days is not None and days < SOON_DAYS:
        active.append(text("rdap.renew_soon", days=SOON_DAYS))
    if statuses:
        active.append(text("rdap.status", statuses=", ".join(statuses)))
    return DomainReading(True, None, tuple(active), {**facts, "state": "active"})


def _candidates(name: str, suffix: str) -> list[str]:
    """``name`` and its parents, down to one label under ``suffix``, at most MAX_WALK."""
    labels = name.split(".")
    floor = len(suffix.split(".")) + 1
    return [".".join(labels[i:]) for i in range(len(labels)) if len(labels) - i >= floor][:MAX_WALK]


async def _services(ctx: ProbeContext, cache: BootstrapCache) -> tuple[Services, str]:
    url = ctx.config.endpoints.rdap_bootstrap
    cached = cache.get(url)
    if cached is not None:
        return cached, "cache"
    response = await fetch(ctx, url, step=STEP, accept="application/json", redirects=3)
    if response.status != 200:
        raise ProbeError(f"{STEP}: the RDAP bootstrap {url} answered HTTP {response.status}")
    try:
        services = parse_bootstrap(response.json(step=STEP))
    except ValueError as exc:
        raise ProbeError(f"{STEP}: the RDAP bootstrap {url} is malformed: {exc}") from None
    cache.put(url, services)
    return services, "live"


async def probe_rdap(
    ctx: ProbeContext, domain: str, *, cache: BootstrapCache | None = None, now: datetime | None = None
) -> ProbeResult:
    """The "rdap" step for ``domain``."""
    started = time.perf_counter()
    shown = display(domain)

    def result(ok: bool, said: Text | Sequence[Text], code: str | None = None, **facts: Any) -> ProbeResult:
        return observed(STEP, shown, ok, said, code, elapsed_ms(started), facts)

    def unknown(why: Text, **facts: Any) -> ProbeResult:
        return result(True, text("rdap.unknown", name=shown, reason=why), state="unknown", **facts)

    try:
        name = to_name(shown, step=STEP, rdtype="RDAP").to_text(omit_final_dot=True).lower()  # A-labels
    except DnsFailure as exc:
        return unknown(exc.said)
    try:
        services, source = await _services(ctx, cache or BOOTSTRAP)
    except ProbeError as exc:
        return unknown(text("rdap.bootstrap_unreadable", reason=of_error(exc)))
    found = find_service(name, services)
    if found is None:
        return unknown(text("rdap.no_service", tld=name.rsplit(".", 1)[-1]), bootstrap=source)
    suffix, base = found
    if name == suffix:
        return unknown(text("rdap.suffix", name=shown), bootstrap=source)
    tried: list[str] = []
    for candidate in _candidates(name, suffix):
        url = f"{base}domain/{candidate}"
        tried.append(url)
        try:
            response = await fetch(ctx, url, step=STEP, accept=ACCEPT, redirects=3)
        except ProbeError as exc:
            return unknown(text("rdap.no_answer", reason=of_error(exc)), bootstrap=source, rdap_url=url)
        if response.status == 404:
            continue
        if response.status != 200:
            status = f"{response.status} {response.reason}".rstrip()
            return unknown(
                text("rdap.http_status", status=status), bootstrap=source, rdap_url=url, status=response.status
            )
        try:
            data = response.json(step=STEP)
        except ProbeError as exc:
            return unknown(of_error(exc), bootstrap=source, rdap_url=url)
        reading = read_domain(candidate, data, now or datetime.now(UTC))
        return result(reading.ok, reading.said, reading.code, bootstrap=source, rdap_url=url, **reading.facts)
    said = text("rdap.unregistered", name=shown)
    return result(False, said, DNS_FAILED, state="unregistered", bootstrap=source, rdap_urls=tried)
