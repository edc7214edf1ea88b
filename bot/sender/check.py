"""Run the sender checks concurrently under one deadline: ``run_checks``.

Each check's report becomes a ``ProbeResult`` (name ``spf``, ``dmarc``, ``dkim`` or ``dnsbl``;
facts: the report) reported as it finishes; a check still running at the deadline becomes a
skipped result with ``facts["unfinished"]``, never a silent gap, and a check that raises (a
bug) a failed one with ``facts["broken"]``. When mailflow's own resolver answered nothing (not
even the control query), a ``resolver`` result with ``facts["resolver_unreachable"]`` comes
first: the DNS failures the checks saw are then no fault of the domain's. The deadline rules are diagnose's:
``Timeouts.overall`` for the whole run, each DNS query at most ``Timeouts.dns`` (the CLI caps it
at half the deadline). ``bot/sender/conclude.py`` decides what the results show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.probes.config import ProbeConfig
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import resolver_label
from bot.probes.result import ProbeResult, observed
from bot.sender import knowledge as sender_knowledge
from bot.sender.conclude import BROKEN, RESOLVER_UNREACHABLE_FACT, UNFINISHED, SenderRequest
from bot.sender.dkim import DEFAULT_SELECTORS, check_selector
from bot.sender.dmarc import check_dmarc
from bot.sender.dns import SenderDns
from bot.sender.dnsbl import check_list
from bot.sender.knowledge import Blocklist
from bot.sender.spf import analyse_spf, check_spf
from bot.texts import Text, text

OnResult = Callable[[ProbeResult], None]


def blocklists_for(request: SenderRequest) -> tuple[Blocklist, ...]:
    known = sender_knowledge.load()
    if request.dnsbl:
        return tuple(known.blocklist(zone) for zone in request.dnsbl)
    return known.default_lists()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def run_checks(
    request: SenderRequest, config: ProbeConfig, *, on_result: OnResult | None = None
) -> list[ProbeResult]:
    """Every check at once; each result as it finishes; the deadline cuts what is left."""
    ctx = ProbeContext.create(config)
    dns = SenderDns(ctx)
    domain = request.name
    selectors = request.selectors or DEFAULT_SELECTORS
    work: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = []
    spf_domain = request.spf_domain  # receivers check SPF on the MAIL FROM domain
    if request.ip:
        ip = request.ip
        work.append(("spf", spf_domain, lambda: check_spf(dns, spf_domain, ip, helo=request.helo or "")))
    else:
        work.append(("spf", spf_domain, lambda: analyse_spf(dns, spf_domain)))
    work.append(("dmarc", domain, lambda: check_dmarc(dns, domain)))
    for selector in selectors:
        work.append(("dkim", f"{selector}._domainkey.{domain}", _bind(check_selector, dns, domain, selector)))
    if request.ip:
        for blocklist in blocklists_for(request):
            work.append(("dnsbl", blocklist.zone, _bind(check_list, dns, request.ip, blocklist)))

    results: list[ProbeResult | None] = [None] * len(work)

    async def one(index: int, name: str, target: str, make: Callable[[], Awaitable[Any]]) -> None:
        started = time.perf_counter()
        try:
            report = await make()
            facts = report.as_dict()
            ok = _healthy(name, facts)
            result = observed(name, target, ok, _summary(name, facts), elapsed_ms=_ms(started), facts=facts)
        except Exception as exc:  # a bug in one check must not sink the others; it is reported
            said = text("sender.progress.broken", error=f"{type(exc).__name__}: {exc}")
            result = observed(name, target, False, said, elapsed_ms=_ms(started), facts={BROKEN: said.render()})
        results[index] = result
        if on_result is not None:
            on_result(result)

    tasks = [asyncio.create_task(one(n, *item)) for n, item in enumerate(work)]
    _, pending = await asyncio.wait(tasks, timeout=config.timeouts.overall)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    dns.close()
    cut = text("deadline.cut", seconds=f"{config.timeouts.overall:g}")
    finished = [
        r if r is not None else observed(name, target, False, cut, skipped=True, facts={UNFINISHED: True})
        for r, (name, target, _) in zip(results, work, strict=True)
    ]
    if dns.silent is not None:  # our own resolver, not the domain's DNS: said apart, first
        label = resolver_label(ctx)
        facts = {RESOLVER_UNREACHABLE_FACT: True, "resolver": label, "said": dns.silent}
        silent = ProbeResult("resolver", label, False, dns.silent, facts=facts)
        if on_result is not None:
            on_result(silent)
        finished.insert(0, silent)
    return finished


def _bind(function: Callable[..., Awaitable[Any]], *args: Any) -> Callable[[], Awaitable[Any]]:
    return lambda: function(*args)


def _healthy(name: str, facts: dict[str, Any]) -> bool:
    """Nothing wrong in this check (the cache keeps such runs longer than failing ones)."""
    if name == "spf":
        return facts.get("result") in ("pass", "neutral") or (facts.get("result") is None and bool(facts.get("valid")))
    if name == "dmarc":
        return bool(facts.get("found")) and not facts.get("problems") and not facts.get("error")
    if name == "dkim":
        return facts.get("status") in ("ok", "1024")
    return facts.get("status") in ("clear", "no-ipv6")


def _summary(name: str, facts: dict[str, Any]) -> Text:
    """A check's line as it finishes, a knowledge-base text (``sender.progress``)."""
    if name == "spf":
        if facts.get("result"):
            return text("sender.progress.spf", result=str(facts["result"]))
        return text("sender.progress.spf-valid" if facts.get("valid") else "sender.progress.spf-checked")
    if name == "dmarc":
        if facts.get("error"):
            return text("sender.progress.dmarc-unknown")
        if facts.get("found"):
            return text("sender.progress.dmarc", policy=str(facts.get("applied")))
        return text("sender.progress.dmarc-none")
    status = text(f"sender.status.{facts.get('status')}")
    if name == "dkim":
        return text("sender.progress.dkim", selector=str(facts.get("selector")), status=status)
    return text("sender.progress.dnsbl", zone=str(facts.get("zone")), status=status)
