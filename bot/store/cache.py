"""``ProbeCache``: probe results kept for a while, shared by every process on the store.

Strategy: a probe's results are stored under ``mailflow:v1:probe:<probe>:<target>:<options>``
(the options as a digest, the target hashed when it holds an address) as compact JSON with the
wall-clock time the run finished. What expires when is decided by the results: all ok (the
path works) are kept ``ok_ttl_s`` (10 min), anything else ``failure_ttl_s`` (1 min), because a
failure is what someone is fixing right now and will want to see fixed.

``get_or_run`` goes through ``SingleFlight`` for hits and misses alike: concurrent requests for
one key in this process share one cache read, and on a miss one run, also with the requests
of other processes sharing Redis. ``bypass=True`` (the "re-run" button) ignores what is cached, runs, and overwrites;
it only joins a run that finished after it was asked. The cache never breaks a diagnosis: a
store error or a value JSON cannot hold means "not cached", logged, and the results are
returned all the same.

Facts round-trip through JSON: str, int, float, bool, None, lists and dicts with str keys come
back as they went in; a tuple comes back as a list.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.probes.result import ProbeResult
from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.flight import SingleFlight
from bot.store.keys import digest, dumps, key
from bot.texts import Text

log = logging.getLogger("mailflow.store")
Clock = Callable[[], float]
RunProbe = Callable[[], Awaitable[Sequence[ProbeResult]]]
_FIELDS = tuple(f.name for f in dataclasses.fields(ProbeResult))


@dataclass(frozen=True, slots=True)
class CachedResults:
    results: tuple[ProbeResult, ...]
    cached_at: float  # wall clock (epoch seconds) when the run that produced them finished
    age_s: float  # how old they were when returned (0 for a run just made)
    from_cache: bool  # False: this request (or one it joined in this process) ran the probe


def encode(results: Sequence[ProbeResult], cached_at: float) -> bytes:
    """Compact JSON of a run; TypeError when a fact is something JSON cannot hold."""
    rows = [{f: getattr(r, f) for f in _FIELDS} | {"texts": [t.as_json() for t in r.texts]} for r in results]
    return dumps({"at": cached_at, "results": rows})


def _result(item: Mapping[str, Any]) -> ProbeResult:
    known = {f: item[f] for f in _FIELDS if f in item and f != "texts"}
    return ProbeResult(**known, texts=tuple(Text.from_json(t) for t in item.get("texts") or ()))


def decode(raw: bytes) -> tuple[tuple[ProbeResult, ...], float] | None:
    """(results, cached_at), or None for anything this version did not write."""
    try:
        data = json.loads(raw)
        results = tuple(_result(item) for item in data["results"])
        return results, float(data["at"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class ProbeCache:
    def __init__(
        self,
        store: Store,
        *,
        ok_ttl_s: float = 600.0,
        failure_ttl_s: float = 60.0,
        flight: SingleFlight | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.ok_ttl_s = ok_ttl_s
        self.failure_ttl_s = failure_ttl_s
        self.flight = flight or SingleFlight(store)
        self._clock = clock  # wall clock: cached_at is compared across processes

    @staticmethod
    def key(probe: str, target: str, options: Mapping[str, Any]) -> str:
        return key("probe", probe, target, digest(options))

    @staticmethod
    def lock_key(probe: str, target: str, options: Mapping[str, Any]) -> str:
        return key("lock", "probe", probe, target, digest(options))

    def ttl_for(self, results: Sequence[ProbeResult]) -> float:
        healthy = bool(results) and all(r.ok for r in results)
        return self.ok_ttl_s if healthy else self.failure_ttl_s

    async def get_or_run(
        self, probe: str, target: str, options: Mapping[str, Any], run: RunProbe, *, bypass: bool = False
    ) -> CachedResults:
        """Cached results for (probe, target, options), or the results of one run of ``run``."""
        cache_key = self.key(probe, target, options)
        not_before = self._clock() if bypass else None

        async def work() -> CachedResults:
            results = tuple(await run())
            cached_at = self._clock()
            try:
                await self.store.set(cache_key, encode(results, cached_at), self.ttl_for(results))
            except (StoreError, TypeError, ValueError) as exc:
                log.warning("probe results not cached (%s): %s", cache_key, exc)
            return CachedResults(results, cached_at, 0.0, from_cache=False)

        return await self.flight.run(
            self.lock_key(probe, target, options),
            work,
            lambda: self._lookup(cache_key, not_before),
            tag="bypass" if bypass else "",
        )

    async def _lookup(self, cache_key: str, not_before: float | None) -> CachedResults | None:
        try:
            raw = await self.store.get(cache_key)
        except StoreError as exc:
            log.warning("probe cache unavailable (%s): %s", cache_key, exc)
            return None
        decoded = None if raw is None else decode(raw)
        if decoded is None:
            return None
        results, cached_at = decoded
        if not_before is not None and cached_at < not_before:
            return None
        return CachedResults(results, cached_at, max(0.0, self._clock() - cached_at), from_cache=True)
