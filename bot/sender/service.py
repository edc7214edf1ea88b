"""The sender check service: cached and single-flighted in the store like a diagnosis.

    request ──► ProbeCache.get_or_run("sender", domain, options) ──► conclude() in the reader's language

The options (IP, HELO name, selectors, blocklists) go into the key only as a digest, so no
sending IP appears in a key; the domain is the key's target. A run that finds a failure is
kept for a minute, a clean one for ten (``ProbeCache``'s rule): someone fixing a record wants
to see the fix. Each run is recorded in the domain's history with its first failure id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot import knowledge
from bot.probes.result import ProbeResult
from bot.sender.check import OnResult, run_checks
from bot.sender.conclude import SenderReport, SenderRequest, conclude
from bot.service import CachedProbes

PROBE = "sender"


@dataclass(frozen=True, slots=True)
class SenderAnswer:
    report: SenderReport
    age_s: float
    from_cache: bool


def history_entry(report: SenderReport) -> tuple[str | None, str]:
    """(code, summary) for the domain's history: the first failure id, or None when clean."""
    if not report.failures:
        return None, "sender check: nothing fails"
    return report.failures[0].id, "sender check: " + ", ".join(f.id for f in report.failures)


class SenderService(CachedProbes):
    @staticmethod
    def options(request: SenderRequest) -> dict[str, object]:
        return {
            "ip": request.ip,
            "helo": (request.helo or "").lower() or None,
            "selectors": sorted(s.lower() for s in request.selectors),
            "dnsbl": sorted(z.lower().rstrip(".") for z in request.dnsbl),
            "mailfrom": request.spf_domain,
        }

    async def check(
        self,
        request: SenderRequest,
        *,
        fresh: bool = False,
        on_result: OnResult | None = None,
        language: str = knowledge.DEFAULT_LANGUAGE,
    ) -> SenderAnswer:
        async def run() -> list[ProbeResult]:
            started = time.perf_counter()
            results = await run_checks(request, self.config, on_result=on_result)
            report = conclude(request, results, elapsed_ms=_ms(started), language=language)
            code, summary = history_entry(report)
            await self.history_log.record(request.name, code, time.time(), summary)
            return results

        started = time.perf_counter()
        cached = await self.cache.get_or_run(PROBE, request.name, self.options(request), run, bypass=fresh)
        report = conclude(request, cached.results, elapsed_ms=_ms(started), language=language)
        return SenderAnswer(report, cached.age_s, cached.from_cache)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
