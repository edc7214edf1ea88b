"""``diagnose``: run the probes for a domain or smart host, concurrently, and decide.

The plan is fixed by what depends on what, and everything independent runs at once:

    policy lookups (TLS-RPT, authoritative MX, RDAP, M365 ranges)       -- start at once
    MX (or the smart host)  ->  MTA-STS (against those MX hosts)
                            ->  per host: A/AAAA, DANE  ->  per address: the SMTP path

Every connection, HTTP included, goes through the context's address guard: the context is
built first and the HTTP session comes from ``probes.http.open_session(ctx)``.

Each probe reports through ``on_result`` as soon as it finishes (the CLI prints progress, the
Slack bot edits its message); an SMTP path reports step by step. One overall deadline bounds
the run; what has not finished by then is reported as ``skipped`` results with
``facts["unfinished"]``, never silently dropped. Results are returned in a stable order
(policy, then hosts by MX preference, then addresses, then steps), which ``verdict.decide``
relies on to name the most preferred address.

``conclude`` is the pure half: results in, ``Diagnosis`` out. ``diagnose`` runs the probes and
calls it; a cache can store the results and call it again (another language, say).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp

from bot import knowledge
from bot.errors import TargetRefused
from bot.explain import Explanation, explain_code
from bot.fill import known_from_diagnosis
from bot.probes.address import probe_address
from bot.probes.authoritative import probe_authoritative
from bot.probes.config import ProbeConfig
from bot.probes.context import ProbeContext
from bot.probes.dane import probe_dane
from bot.probes.guard import parse_ip
from bot.probes.http import open_session
from bot.probes.m365_ranges import STEP as M365_STEP
from bot.probes.m365_ranges import TARGET as M365_TARGET
from bot.probes.m365_ranges import probe_m365_ranges
from bot.probes.mta_sts import probe_mta_sts
from bot.probes.mx import MxHost, probe_mx
from bot.probes.rdap import probe_rdap
from bot.probes.result import ProbeResult, observed
from bot.probes.smtp import STEPS as SMTP_STEPS
from bot.probes.smtp import probe_smtp_host
from bot.probes.tcp import Target
from bot.probes.tls_rpt import probe_tls_rpt
from bot.texts import of_error, text
from bot.verdict import FAILURE_KNOWLEDGE, RESOLVER_UNREACHABLE, UNDECIDED, UNFINISHED, Verdict, decide, is_unfinished

OnResult = Callable[[ProbeResult], None]
Slot = tuple[int, ...]
T = TypeVar("T")
Work = Callable[[], Awaitable[Sequence[ProbeResult]]]

# Slots order the results: policy lookups, then the MX, then each host (address, DANE, paths).
_POLICY, _MX, _HOSTS = 0, 1, 2
_MTA_STS = (_POLICY, 0)


def connector_form(code: str | None) -> str | None:
    """The queue error an NDR's code stands for: the final forms the sender gets once the retries
    run out (5.4.312, 5.4.315, 5.4.316, 5.4.317, 5.4.318, 5.7.320) are the same connector errors
    as their 4.x.x queue forms. Any other code is returned as given."""
    if code and code.startswith("5.") and f"4{code[1:]}" in knowledge.CONNECTOR_CODES:
        return f"4{code[1:]}"
    return code


@dataclass(frozen=True, slots=True)
class Assumption:
    """What an NDR's connector code proves about the connector's TLS settings.

    Exchange Online reports 4.7.320 only when the connector validates certificates
    (``TlsSettings`` ``CertificateValidation`` or ``DomainValidation``), and 4.4.317 for a missing
    STARTTLS only when the connector requires TLS (any ``TlsSettings`` value). The other four
    (DNS, timeout, refusal, abrupt close) say nothing about TLS. ``key`` is the ui label that
    says which, in the reader's language.
    """

    code: str  # as the NDR gave it: "5.7.320"
    require_tls: bool
    validate_certificate: bool

    @property
    def key(self) -> str:
        if self.validate_certificate:
            return "assumed_validation"
        return "assumed_tls" if self.require_tls else "assumed_nothing"


def assumption_for(code: str | None) -> Assumption | None:
    """The settings ``code`` implies; None when it is no connector error (nothing to assume)."""
    form = connector_form(code)
    if code is None or form not in knowledge.CONNECTOR_CODES:
        return None
    if form == "4.7.320":
        return Assumption(code, require_tls=True, validate_certificate=True)
    return Assumption(code, require_tls=form == "4.4.317", validate_certificate=False)


@dataclass(frozen=True, slots=True)
class DiagnoseRequest:
    target: str  # a domain, an address user@domain, a host name or an IP literal
    smart_host: str | None = None
    code: str | None = None  # the code from an NDR, to confirm or not
    require_tls: bool = False  # --require-tls: the connector requires TLS and validates certificates
    tls_domain: str | None = None  # --tls-domain: DomainValidation against this name

    @property
    def domain(self) -> str:
        target = self.target.strip().rstrip(".").lower()
        return target.rsplit("@", 1)[-1]

    @property
    def assumed(self) -> Assumption | None:
        """What the NDR's code implies about the connector (said in the output)."""
        return assumption_for(self.code)

    @property
    def tls_required(self) -> bool:
        """A server without STARTTLS fails (4.4.317): given, or implied by the code."""
        assumed = self.assumed
        return self.require_tls or bool(self.tls_domain) or (assumed is not None and assumed.require_tls)

    @property
    def validates_certificate(self) -> bool:
        """A certificate failure fails (4.7.320) rather than being a warning: given, or implied."""
        assumed = self.assumed
        return self.require_tls or bool(self.tls_domain) or (assumed is not None and assumed.validate_certificate)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    request: DiagnoseRequest
    verdict: Verdict
    results: tuple[ProbeResult, ...]
    explanation: Explanation | None  # the knowledge entry for the verdict (or for --code when healthy)
    elapsed_ms: float
    incomplete: tuple[str, ...] = field(default=())  # probes cut by the overall deadline
    language: str = knowledge.DEFAULT_LANGUAGE  # the reader's: evidence and labels are said in it

    @property
    def confirmed(self) -> bool | None:
        """With --code: True when the probes reproduce it now (a final form such as 5.4.316 is
        reproduced by its queue form 4.4.316), False when they do not; None without --code, when
        the deadline cut the probes that would tell, or when mailflow's own resolver is down."""
        if self.request.code is None or self.verdict.failure in UNDECIDED:
            return None
        return connector_form(self.verdict.code) == connector_form(self.request.code)


def conclude(
    request: DiagnoseRequest, results: Sequence[ProbeResult], *, elapsed_ms: float, language: str
) -> Diagnosis:
    """Pure: the diagnosis the observations ``results`` (cut ones included) support.

    The verdict comes from ``verdict.decide``; the explanation is the knowledge entry for the
    verdict's code, for its failure when it is no connector error (null MX), or for
    ``request.code`` when nothing failed; ``incomplete`` names the results the deadline cut.
    """
    verdict = decide(results, validate_tls=request.validates_certificate)
    explained = verdict.code or FAILURE_KNOWLEDGE.get(verdict.failure or "") or request.code
    if verdict.failure == RESOLVER_UNREACHABLE:
        explained = None  # nothing is known of the destination: no code's advice applies
    known = known_from_diagnosis(
        request.target.strip().lower(),
        request.domain,
        is_ip=parse_ip(request.domain) is not None,
        tls_domain=request.tls_domain,
        evidence=verdict.evidence,
        results=results,
    )
    return Diagnosis(
        request=request,
        verdict=verdict,
        results=tuple(results),
        explanation=explain_code(explained, language, known) if explained else None,
        elapsed_ms=elapsed_ms,
        incomplete=tuple(f"{r.name} {r.target}" for r in results if is_unfinished(r)),
        language=language,
    )


def refused_target(results: Sequence[ProbeResult]) -> TargetRefused | None:
    """The guard's refusal when it kept every connection from happening; None otherwise."""
    refused = [r for r in results if r.facts.get("refused") is True and not r.ok]
    if refused and not any(r.name == "tcp" and not r.skipped for r in results):
        first = refused[0]
        return TargetRefused(first.detail, text=first.texts[0] if len(first.texts) == 1 else None)
    return None


@dataclass(frozen=True, slots=True)
class _Step:
    """One unit of work: where its results go, and what it probes (kept apart, never re-parsed)."""

    slot: Slot
    name: str
    target: str


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


class _Run:
    """One diagnosis: the plan (methods), and its results collected by slot so the order is stable."""

    def __init__(self, ctx: ProbeContext, request: DiagnoseRequest, on_result: OnResult | None) -> None:
        self.ctx = ctx
        self.request = request
        self.on_result = on_result
        self.limit = asyncio.Semaphore(ctx.config.per_target_concurrency)
        self.slots: dict[Slot, list[ProbeResult]] = {}
        self.pending: dict[Slot, _Step] = {}
        self.paths: dict[Slot, Target] = {}  # SMTP paths under way, for the deadline's report
        self.reported: set[int] = set()  # ids of results already given to on_result

    def report(self, result: ProbeResult) -> None:
        if id(result) not in self.reported:
            self.reported.add(id(result))
            if self.on_result is not None:
                self.on_result(result)

    def add(self, step: _Step, results: Sequence[ProbeResult]) -> None:
        self.slots.setdefault(step.slot, []).extend(results)
        self.pending.pop(step.slot, None)
        self.paths.pop(step.slot, None)
        for result in results:
            self.report(result)

    async def run(self, step: _Step, work: Work) -> None:
        """Run ``work()``; whatever it raises becomes a failed result of ``step``, never a crash.

        ``work`` is a factory, so a step cancelled before it starts leaves no coroutine unawaited."""
        self.pending[step.slot] = step
        started = time.perf_counter()
        try:
            results = list(await work())
        except TargetRefused as exc:
            facts = {"refused": True}
            results = [observed(step.name, step.target, False, of_error(exc), elapsed_ms=_ms(started), facts=facts)]
        except Exception as exc:  # a probe bug must not sink the diagnosis; it is reported instead
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            results = [
                observed(step.name, step.target, False, text("probe.crashed", error=error), elapsed_ms=_ms(started))
            ]
        self.add(step, results)

    def ordered(self) -> list[ProbeResult]:
        return [r for slot in sorted(self.slots) for r in self.slots[slot]]

    def cut(self, seconds: float) -> None:
        """The deadline passed: each pending step gets a skipped result in its slot (an SMTP
        path: its first unfinished step, and the steps after it)."""
        detail = text("deadline.cut", seconds=f"{seconds:g}")
        for slot, step in sorted(self.pending.items()):
            target = self.paths.get(slot)
            if target is None:
                cut = [observed(step.name, step.target, False, detail, skipped=True, facts={UNFINISHED: True})]
            else:
                done = {r.name for r in self.slots.get(slot, [])}
                todo = [name for name in SMTP_STEPS if name not in done]
                later = text("step.not_run", reason=text("reason.deadline_earlier"))
                cut = [
                    observed(
                        name,
                        target.label,
                        False,
                        later if n else detail,
                        skipped=True,
                        facts=target.facts() if n else {**target.facts(), UNFINISHED: True},
                    )
                    for n, name in enumerate(todo)
                ]
            self.add(step, cut)

    # The plan.

    async def lookups(self, domain: str) -> None:
        """The policy lookups that need nothing but the domain."""
        ctx = self.ctx
        work: list[tuple[str, Work]] = [
            ("tls_rpt", lambda: _one(probe_tls_rpt(ctx, domain))),
            ("authoritative", lambda: _one(probe_authoritative(ctx, domain))),
            ("rdap", lambda: _one(probe_rdap(ctx, domain))),
        ]
        async with asyncio.TaskGroup() as group:
            for n, (name, make) in enumerate(work, start=1):
                group.create_task(self.run(_Step((_POLICY, n), name, domain), make))

    async def m365_ranges(self) -> None:
        step = _Step((_POLICY, 9), M365_STEP, M365_TARGET)
        await self.run(step, lambda: _one(probe_m365_ranges(self.ctx)))

    async def delivery_path(self, domain: str, *, is_ip: bool) -> None:
        """MX (or the smart host, or the IP), then every host at once."""
        request = self.request
        if request.smart_host:
            hosts = [MxHost(0, request.smart_host.strip().rstrip(".").lower())]
        elif is_ip:
            hosts = [MxHost(0, domain)]
        else:
            found: list[MxHost] = []
            await self.run(_Step((_MX,), "mx", domain), lambda: _collect(probe_mx(self.ctx, domain), found))
            hosts = found
        async with asyncio.TaskGroup() as group:
            if not is_ip:
                # RFC 8461 section 4.1: the policy is judged against the MX hosts found here;
                # for a smart host, or when the MX lookup failed, the probe looks them up itself.
                mx_hosts = [h.host for h in hosts] if hosts and not request.smart_host else None
                sts = _Step(_MTA_STS, "mta_sts", domain)
                group.create_task(self.run(sts, lambda: _one(probe_mta_sts(self.ctx, domain, mx_hosts))))
            for index, host in enumerate(hosts[: self.ctx.config.max_mx]):
                group.create_task(self.host(index, host.host))

    async def host(self, index: int, host: str) -> None:
        """The addresses of one host, then DANE and the SMTP path of each address, concurrently."""
        addresses: list[str] = []
        resolve = _Step((_HOSTS, index), "address", host)
        await self.run(resolve, lambda: _collect(probe_address(self.ctx, host), addresses))
        async with asyncio.TaskGroup() as group:
            if parse_ip(host) is None:
                dane = _Step((_HOSTS, index, 0), "dane", host)
                group.create_task(self.run(dane, lambda: _one(probe_dane(self.ctx, host))))
            for n, address in enumerate(addresses):
                group.create_task(self.smtp_path((_HOSTS, index, 1, n), host, address))

    async def smtp_path(self, slot: Slot, host: str, address: str) -> None:
        target = Target(host, address, self.ctx.config.smtp_port)
        step = _Step(slot, "tcp", target.label)
        self.pending[slot] = step
        self.paths[slot] = target
        async with self.limit:
            await self.run(step, lambda: self._walk(slot, host, address))

    async def _walk(self, slot: Slot, host: str, address: str) -> list[ProbeResult]:
        def step_done(result: ProbeResult) -> None:
            self.slots.setdefault(slot, []).append(result)
            self.report(result)

        request = self.request
        results = await probe_smtp_host(
            self.ctx,
            host,
            address,
            require_tls=request.tls_required,
            tls_domain=request.tls_domain,
            on_step=step_done,
        )
        self.slots.pop(slot, None)  # the steps come back complete, in order: keep that list
        return results


async def _one(work: Awaitable[ProbeResult]) -> list[ProbeResult]:
    return [await work]


async def _collect(work: Awaitable[tuple[ProbeResult, list[T]]], into: list[T]) -> list[ProbeResult]:
    """A probe that returns (result, items): the result for the run, the items into ``into``."""
    result, items = await work
    into.extend(items)
    return [result]


async def diagnose(
    request: DiagnoseRequest,
    config: ProbeConfig,
    *,
    http: aiohttp.ClientSession | None = None,
    on_result: OnResult | None = None,
    language: str = knowledge.DEFAULT_LANGUAGE,
) -> Diagnosis:
    """Probe ``request.target`` now and decide which connector error applies.

    ``http``: a session from ``open_session`` for the same guard, or None to open one here.
    Raises TargetRefused, before anything is sent, when the guard refuses the target."""
    started = time.perf_counter()
    domain = request.domain
    is_ip = parse_ip(domain) is not None
    ctx = ProbeContext.create(config)
    if is_ip:
        ctx.guard.check(domain)  # refuse before anything is sent
    run = _Run(ctx, request, on_result)
    session = http if http is not None else open_session(ctx)
    ctx.http = session
    try:
        async with asyncio.timeout(config.timeouts.overall), asyncio.TaskGroup() as group:
            group.create_task(run.delivery_path(domain, is_ip=is_ip))
            if not is_ip:
                group.create_task(run.lookups(domain))
            group.create_task(run.m365_ranges())
    except TimeoutError:
        pass  # what did not finish is reported below
    finally:
        if http is None:
            await session.close()
    run.cut(config.timeouts.overall)
    results = run.ordered()
    if (refusal := refused_target(results)) is not None:
        raise refusal
    return conclude(request, results, elapsed_ms=_ms(started), language=language)
