"""The diagnosis service: what the CLI, the Slack handlers and the watch jobs call to diagnose.

One diagnosis per (target, options) at a time, and its probe results kept for a while:

    request ──► ProbeCache.get_or_run("diagnose", domain, options)
                    hit  ──► the cached results           ─┐
                    miss ──► diagnose() once (single-flight ├─► conclude() in the reader's language
                             across processes), recorded    │
                             in the domain's history        ─┘

The results are cached, not the rendered answer, so a cached run is concluded again in each
reader's language and with each reader's ``--code``. ``fresh=True`` (the "re-run" button)
bypasses the cache and overwrites it. Every answer says how old its results are.
A refused target (``TargetRefused``) is never cached: it is raised to every caller.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot import knowledge
from bot.diagnose import DiagnoseRequest, Diagnosis, OnResult, conclude, diagnose
from bot.probes.config import ProbeConfig
from bot.probes.result import ProbeResult
from bot.store import DomainHistory, HistoryEntry, ProbeCache, Store


@dataclass(frozen=True, slots=True)
class Answer:
    diagnosis: Diagnosis
    age_s: float  # how old the probe results are (0 for a run made for this request)
    from_cache: bool  # True: no probe ran for this request


def history_entry(diagnosis: Diagnosis) -> tuple[str | None, str]:
    """(code, summary) for the domain's history: the connector code or the failure ("null-mx",
    "incomplete"), None when healthy; and the evidence that decided it, in no one's language."""
    verdict = diagnosis.verdict
    if verdict.healthy:
        return None, f"{verdict.reachable} of {verdict.attempted} addresses accept mail"
    code = verdict.code or verdict.failure
    return code, verdict.evidence[0].detail if verdict.evidence else str(code)


class CachedProbes:
    """What a service that probes needs: the probe settings, the single-flight cache of results
    and the domains' history, all in one store (``DiagnosisService``, the sender checks')."""

    def __init__(
        self,
        store: Store,
        config: ProbeConfig,
        *,
        cache: ProbeCache | None = None,
        history: DomainHistory | None = None,
    ) -> None:
        self.config = config
        self.cache = cache or ProbeCache(store)
        self.history_log = history or DomainHistory(store)


class DiagnosisService(CachedProbes):
    @staticmethod
    def options(request: DiagnoseRequest) -> dict[str, object]:
        """What changes which probes run (the NDR code and the language do not)."""
        return {
            "smart_host": (request.smart_host or "").strip().rstrip(".").lower() or None,
            "require_tls": request.tls_required,  # as given, or implied by the NDR's code
            "tls_domain": (request.tls_domain or "").strip().lower() or None,
        }

    async def diagnose(
        self,
        request: DiagnoseRequest,
        *,
        fresh: bool = False,
        on_result: OnResult | None = None,
        language: str = knowledge.DEFAULT_LANGUAGE,
    ) -> Answer:
        """Diagnose ``request`` from results at most a few minutes old, or probe now.

        ``on_result`` sees each probe as it finishes when this request runs the probes; a
        request answered from the cache (or joining a run in flight) gets the results at once.
        """

        async def run() -> Sequence[ProbeResult]:
            diagnosis = await diagnose(request, self.config, on_result=on_result, language=language)
            code, summary = history_entry(diagnosis)
            await self.history_log.record(request.domain, code, time.time(), summary)
            return diagnosis.results

        started = time.perf_counter()
        cached = await self.cache.get_or_run("diagnose", request.domain, self.options(request), run, bypass=fresh)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        diagnosis = conclude(request, cached.results, elapsed_ms=elapsed_ms, language=language)
        return Answer(diagnosis, cached.age_s, cached.from_cache)

    async def history(self, domain: str, n: int = 5) -> list[HistoryEntry]:
        """The newest ``n`` verdicts for ``domain``, newest first."""
        return await self.history_log.recent(domain, n)
