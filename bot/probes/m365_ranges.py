"""Microsoft 365's Exchange Online ranges: what a receiving firewall must allow on TCP 25.

Used by the checklist for 4.4.315 / 4.4.316 ("allow these ranges"), so it is about the
firewall in front of the destination, not about the destination itself.

Strategy: the endpoints web service (``endpoints.m365_endpoints`` with ``clientrequestid`` and
``ServiceAreas=Exchange``) lists endpoint sets with the fields id, serviceArea, urls, ips,
tcpPorts, category and required. The inbound SMTP set is id 10 (``*.mail.protection.outlook.com``,
TCP 25); should the list ever renumber, the set whose urls include that name and whose ports
include 25 is taken instead. ``read_inbound_set`` is pure.

Caching (``RangeCache``, one per process): a good list is kept a day. Microsoft asks clients to
poll the version endpoint (``endpoints.m365_version``) at most hourly; after an hour the version
is checked and the list fetched again only when it changed. The client request id is one GUID
per process: Microsoft asks for one per machine, not one per request. On 429 (its Retry-After
honoured), another status, a timeout or a malformed answer, the last good list is returned
(``source: "cache"``) and the detail says why; with none yet the result is not ok, with no code.
There is no embedded fallback list: a stale copy in a firewall checklist would do harm.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import elapsed_ms
from bot.probes.http import HttpResponse, fetch
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, of_error, text

STEP = "m365_ranges"
TARGET = "Microsoft 365 inbound SMTP (endpoint set 10)"
INBOUND_SET_ID = 10
INBOUND_URL = "*.mail.protection.outlook.com"
DOCS = "https://learn.microsoft.com/microsoft-365/enterprise/urls-and-ip-address-ranges"
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class InboundSet:
    set_id: int
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    urls: tuple[str, ...]
    tcp_ports: str


@dataclass(slots=True)
class _Entry:
    ranges: InboundSet
    version: str | None
    fetched: float  # clock() when the list was fetched
    checked: float  # clock() when the version was last confirmed


class RangeCache:
    """The last good list per endpoints URL, its version, and when to ask again."""

    def __init__(
        self,
        *,
        max_age: float = 86_400.0,
        version_interval: float = 3_600.0,
        clock: Callable[[], float] = time.monotonic,
        client_id: str | None = None,
    ) -> None:
        self.max_age = max_age
        self.version_interval = version_interval
        self.clock = clock
        self.client_id = client_id or str(uuid.uuid4())
        self.entries: dict[str, _Entry] = {}
        self.not_before: dict[str, float] = {}  # Retry-After, per URL

    def clear(self) -> None:
        self.entries.clear()
        self.not_before.clear()


RANGES = RangeCache()


def read_inbound_set(data: Any) -> InboundSet:
    """Pure: the inbound SMTP endpoint set from the service's JSON list; ValueError when absent."""
    if not isinstance(data, list):
        raise ValueError("the answer is not a list of endpoint sets")
    sets = [s for s in data if isinstance(s, dict)]
    chosen = next((s for s in sets if s.get("id") == INBOUND_SET_ID), None)
    if chosen is None or INBOUND_URL not in chosen.get("urls", []):
        chosen = next(
            (s for s in sets if INBOUND_URL in s.get("urls", []) and "25" in str(s.get("tcpPorts", "")).split(",")),
            None,
        )
    if chosen is None:
        raise ValueError(f"no endpoint set for {INBOUND_URL} on TCP 25")
    ipv4: list[str] = []
    ipv6: list[str] = []
    for raw in chosen.get("ips", []):
        try:
            network = ipaddress.ip_network(str(raw), strict=False)
        except ValueError:
            continue
        (ipv4 if network.version == 4 else ipv6).append(str(network))
    if not ipv4 and not ipv6:
        raise ValueError(f"endpoint set {chosen.get('id')} lists no IP ranges")
    urls = tuple(str(u) for u in chosen.get("urls", []))
    return InboundSet(int(chosen.get("id", 0)), tuple(ipv4), tuple(ipv6), urls, str(chosen.get("tcpPorts", "")))


def _retry_after(response: HttpResponse) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "60")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return 60.0  # an HTTP date, or garbage: wait a minute


def _age(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


async def _version(ctx: ProbeContext, cache: RangeCache) -> str | None:
    """The service's current list version ("latest"), or None when it cannot be read."""
    try:
        response = await fetch(
            ctx, ctx.config.endpoints.m365_version, step=STEP, params={"clientrequestid": cache.client_id}
        )
        data = response.json(step=STEP) if response.status == 200 else None
    except ProbeError:
        return None
    latest = data.get("latest") if isinstance(data, dict) else None
    return str(latest) if latest else None


async def _fetch_list(ctx: ProbeContext, cache: RangeCache, url: str) -> InboundSet | Text:
    """The inbound set, or why it could not be had."""
    now = cache.clock()
    if now < cache.not_before.get(url, 0.0):
        return text("m365.retry_after", wait=_age(cache.not_before[url] - now))
    params = {"clientrequestid": cache.client_id, "ServiceAreas": "Exchange"}
    try:
        response = await fetch(ctx, url, step=STEP, params=params, accept="application/json")
    except ProbeError as exc:
        return of_error(exc)
    if response.status == 429:
        cache.not_before[url] = now + _retry_after(response)
        return text("m365.too_many")
    if response.status != 200:
        return text("m365.http_status", status=f"{response.status} {response.reason}".rstrip())
    try:
        return read_inbound_set(response.json(step=STEP))
    except (ValueError, ProbeError) as exc:
        return text("m365.unusable", reason=of_error(exc))


async def probe_m365_ranges(ctx: ProbeContext, *, cache: RangeCache | None = None) -> ProbeResult:
    """The "m365_ranges" step: the inbound SMTP ranges, live or from the last good answer."""
    started = time.perf_counter()
    cache = cache or RANGES
    url = ctx.config.endpoints.m365_endpoints
    entry = cache.entries.get(url)

    def result(entry: _Entry, source: str, note: Text | None = None) -> ProbeResult:
        age = cache.clock() - entry.fetched
        ranges = entry.ranges
        fetched = text("m365.fetched_ago", age=_age(age)) if source == "cache" else text("m365.fetched_now")
        said = text(
            "m365.ranges",
            ipv4=len(ranges.ipv4),
            ipv6=len(ranges.ipv6),
            set_id=str(ranges.set_id),
            ports=str(ranges.tcp_ports),
            fetched=fetched,
        )
        facts = {
            "ipv4": list(ranges.ipv4),
            "ipv6": list(ranges.ipv6),
            "source": source,
            "id": ranges.set_id,
            "urls": list(ranges.urls),
            "tcp_ports": ranges.tcp_ports,
            "version": entry.version,
            "age_s": round(age),
            "stale": age > cache.max_age,
        }
        if note is not None:
            facts["error"] = note.render()  # English, for JSON consumers
            said = text("m365.last_good", reason=note, ranges=said)
        return observed(STEP, TARGET, True, said, None, elapsed_ms(started), facts)

    latest: str | None = None
    if entry is not None and cache.clock() - entry.fetched <= cache.max_age:
        if cache.clock() - entry.checked < cache.version_interval:
            return result(entry, "cache")
        latest = await _version(ctx, cache)
        if latest is None or latest == entry.version:
            if latest is not None:
                entry.checked = cache.clock()
            return result(entry, "cache")
    fetched = await _fetch_list(ctx, cache, url)
    if isinstance(fetched, Text):
        if entry is not None:
            return result(entry, "cache", fetched)
        said = text("m365.unavailable", reason=fetched, docs=DOCS)
        facts = {"source": None, "error": fetched.render()}
        return observed(STEP, TARGET, False, said, None, elapsed_ms(started), facts)
    now = cache.clock()
    entry = _Entry(fetched, latest or await _version(ctx, cache), now, now)
    cache.entries[url] = entry
    return result(entry, "live")
