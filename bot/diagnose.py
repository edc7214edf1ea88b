"""``diagnose``: run the probes for a domain or smart host, concurrently, and decide.

The plan is fixed by what depends on what, and everything independent runs at once:

    policy lookups (MTA-STS, TLS-RPT, authoritative MX, RDAP, M365 ranges)   -- start at once
    MX (or the smart host)  ->  per host: A/AAAA, DANE  ->  per address: TCP, SMTP, TLS

Each probe reports through ``on_result`` as soon as it finishes (the CLI prints progress, the
Slack bot edits its message). One overall deadline bounds the run; what has not finished by
then is reported as such, never silently dropped. Results are returned in a stable order
(policy, then hosts by MX preference, then addresses, then steps), which ``verdict.decide``
relies on to name the most preferred address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from bot import knowledge
from bot.errors import TargetRefused
from bot.explain import Explanation, explain_code
from bot.probes.address import probe_address
from bot.probes.authoritative import probe_authoritative
from bot.probes.config import ProbeConfig
from bot.probes.context import ProbeContext
from bot.probes.dane import probe_dane
from bot.probes.guard import parse_ip
from bot.probes.m365_ranges import probe_m365_ranges
from bot.probes.mta_sts import probe_mta_sts
from bot.probes.mx import MxHost, probe_mx
from bot.probes.rdap import probe_rdap
from bot.probes.result import ProbeResult
from bot.probes.smtp import probe_smtp_host
from bot.probes.tls_rpt import probe_tls_rpt
from bot.verdict import Verdict, decide

OnResult = Callable[[ProbeResult], None]


@dataclass(frozen=True, slots=True)
class DiagnoseRequest:
    target: str  # a domain, an address user@domain, a host name or an IP literal
    smart_host: str | None = None
    code: str | None = None  # the code from an NDR, to confirm or not
    require_tls: bool = False
    tls_domain: str | None = None

    @property
    def domain(self) -> str:
        target = self.target.strip().rstrip(".").lower()
        return target.rsplit("@", 1)[-1]


@dataclass(frozen=True, slots=True)
class Diagnosis:
    request: DiagnoseRequest
    verdict: Verdict
    results: tuple[ProbeResult, ...]
    explanation: Explanation | None  # the knowledge entry for the verdict (or for --code when healthy)
    elapsed_ms: float
    incomplete: tuple[str, ...] = field(default=())  # probes cut by the overall deadline

    @property
    def confirmed(self) -> bool | None:
        """With --code: True when the probes reproduce it now, False when they do not."""
        if self.request.code is None:
            return None
        return self.verdict.code == self.request.code


class _Run:
    """The state of one diagnosis: results collected by slot, so the order is stable."""

    def __init__(self, on_result: OnResult | None) -> None:
        self.slots: dict[tuple[int, ...], list[ProbeResult]] = {}
        self.pending: dict[tuple[int, ...], str] = {}
        self.on_result = on_result

    def add(self, slot: tuple[int, ...], results: Sequence[ProbeResult]) -> None:
        self.slots.setdefault(slot, []).extend(results)
        self.pending.pop(slot, None)
        if self.on_result:
            for result in results:
                self.on_result(result)

    def ordered(self) -> list[ProbeResult]:
        return [r for slot in sorted(self.slots) for r in self.slots[slot]]


async def _guarded(run: _Run, slot: tuple[int, ...], label: str, work: Awaitable[Sequence[ProbeResult]]) -> None:
    run.pending[slot] = label
    started = time.perf_counter()
    try:
        results = await work
    except TargetRefused as exc:
        results = [
            ProbeResult(label.split(" ", maxsplit=1)[0], label, False, str(exc), elapsed_ms=_ms(started), facts={"refused": True})
        ]
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        results = [ProbeResult(label.split(" ", maxsplit=1)[0], label, False, f"probe failed: {detail}", elapsed_ms=_ms(started))]
    run.add(slot, results)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def _one(work: Awaitable[ProbeResult]) -> Sequence[ProbeResult]:
    return [await work]


async def _host(
    ctx: ProbeContext, run: _Run, request: DiagnoseRequest, index: int, host: MxHost, limit: asyncio.Semaphore
) -> None:
    """Addresses of one host, then the SMTP path of each address, concurrently."""
    slot = (2, index)
    run.pending[slot] = f"address {host.host}"
    ip = parse_ip(host.host)
    if ip is not None:
        ctx.guard.check(str(ip))
        addresses = [str(ip)]
    else:
        result, addresses = await probe_address(ctx, host.host)
        run.add(slot, [result])
    run.pending.pop(slot, None)

    async def path(n: int, address: str) -> None:
        async with limit:
            await _guarded(
                run,
                (2, index, 1, n),
                f"tcp {host.host} ({address})",
                probe_smtp_host(
                    ctx, host.host, address, require_tls=request.require_tls, tls_domain=request.tls_domain
                ),
            )

    async with asyncio.TaskGroup() as group:
        if ip is None:
            group.create_task(_guarded(run, (2, index, 0), f"dane {host.host}", _one(probe_dane(ctx, host.host))))
        for n, address in enumerate(addresses):
            group.create_task(path(n, address))


async def _delivery_path(ctx: ProbeContext, run: _Run, request: DiagnoseRequest) -> None:
    limit = asyncio.Semaphore(ctx.config.per_target_concurrency)
    if request.smart_host:
        hosts = [MxHost(0, request.smart_host.strip().rstrip(".").lower())]
    elif parse_ip(request.domain) is not None:
        hosts = [MxHost(0, request.domain)]
    else:
        run.pending[(1,)] = f"mx {request.domain}"
        result, hosts = await probe_mx(ctx, request.domain)
        run.add((1,), [result])
    async with asyncio.TaskGroup() as group:
        for index, host in enumerate(hosts[: ctx.config.max_mx]):
            group.create_task(
                _guarded(run, (2, index), f"address {host.host}", _host_results(ctx, run, request, index, host, limit))
            )


async def _host_results(
    ctx: ProbeContext, run: _Run, request: DiagnoseRequest, index: int, host: MxHost, limit: asyncio.Semaphore
) -> Sequence[ProbeResult]:
    await _host(ctx, run, request, index, host, limit)
    return []


async def diagnose(
    request: DiagnoseRequest,
    config: ProbeConfig,
    *,
    http: aiohttp.ClientSession | None = None,
    on_result: OnResult | None = None,
    language: str = knowledge.DEFAULT_LANGUAGE,
) -> Diagnosis:
    """Probe ``request.target`` now and decide which connector error applies."""
    started = time.perf_counter()
    run = _Run(on_result)
    domain = request.domain
    is_ip = parse_ip(domain) is not None
    owns_session = http is None
    session = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.timeouts.http))
    ctx = ProbeContext.create(config, http=session)
    try:
        if is_ip:
            ctx.guard.check(domain)  # refuse before anything is sent
        try:
            async with asyncio.timeout(config.timeouts.overall), asyncio.TaskGroup() as group:
                group.create_task(_delivery_path(ctx, run, request))
                if not is_ip:
                    lookups: list[tuple[str, Callable[[], Awaitable[ProbeResult]]]] = [
                        ("mta_sts", lambda: probe_mta_sts(ctx, domain)),
                        ("tls_rpt", lambda: probe_tls_rpt(ctx, domain)),
                        ("authoritative", lambda: probe_authoritative(ctx, domain)),
                        ("rdap", lambda: probe_rdap(ctx, domain)),
                    ]
                    for n, (name, make) in enumerate(lookups):
                        group.create_task(_guarded(run, (0, n), f"{name} {domain}", _one(make())))
                group.create_task(_guarded(run, (0, 9), "m365_ranges", _one(probe_m365_ranges(ctx))))
        except TimeoutError:
            pass
    finally:
        if owns_session:
            await session.close()
    incomplete = tuple(sorted(run.pending.values()))
    results = run.ordered()
    results += [
        ProbeResult(
            label.split(" ")[0],
            label.split(" ", 1)[-1],
            False,
            f"not finished within the overall deadline of {config.timeouts.overall:g} s",
            skipped=True,
        )
        for label in incomplete
    ]
    refused = [r for r in results if r.facts.get("refused") is True and not r.ok]
    if refused and not any(r.name == "tcp" for r in results):
        raise TargetRefused(refused[0].detail)
    verdict = decide(results, validate_tls=request.require_tls or bool(request.tls_domain))
    explained = verdict.code or request.code
    explanation = explain_code(explained, language) if explained else None
    return Diagnosis(
        request=request,
        verdict=verdict,
        results=tuple(results),
        explanation=explanation,
        elapsed_ms=_ms(started),
        incomplete=incomplete,
    )
