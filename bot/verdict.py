"""From probe observations to the connector error Exchange Online would report now. Pure.

Exchange Online walks the delivery path host by host in preference order: resolve, connect on
TCP 25, read the greeting, EHLO, STARTTLS, validate the certificate. The first step that fails
on an address decides what that address would produce (probing notes, "Signatures"):

    DNS failure for the domain or every host      4.4.312
    TCP connect gets no answer                     4.4.315
    TCP connect refused                            4.4.316
    421/554 greeting, or no STARTTLS when required 4.4.317
    reset or close mid-conversation, old TLS only  4.4.318
    certificate fails validation                   4.7.320 (when TLS is validated: --require-tls
                                                   or --tls-domain; otherwise a warning)

Mail is delivered if any address completes the path, so one healthy address makes the verdict
healthy (the failures are kept as warnings). Otherwise the verdict is what the most preferred
address produced.

Two outcomes are failures but no connector error, so ``code`` stays None and ``failure`` names
them (``healthy`` is False):

    null MX (``MX 0 .`` alone, RFC 7505)          "null-mx": the domain accepts no mail; senders
                                                   fail at once with 556 / 5.1.10 (RFC 7505
                                                   section 4.1) before any connector is involved
    the deadline cut the path that decides          "incomplete": the most preferred address (or
                                                   the DNS steps before it) did not finish, so
                                                   nothing can be concluded; never "healthy"

One more is no failure of the destination at all, so it is reported before anything else:

    mailflow's own resolver does not answer      "resolver-unreachable": the MX (or address)
    (the lookup and a control query both time     query got no answer and neither did a control
    out: ``facts["resolver_unreachable"]``)       query for the root zone through the same
                                                  resolver; the destination's DNS did not fail,
                                                  so this is never 4.4.312

Results cut by the overall deadline are ``skipped`` with ``facts["unfinished"] is True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.probes.result import ProbeResult

PATH_STEPS = ("tcp", "banner", "ehlo", "starttls", "certificate", "tls_version")
DNS_STEPS = ("mx", "address")
CERTIFICATE_CODE = "4.7.320"
NULL_MX = "null-mx"
INCOMPLETE = "incomplete"
RESOLVER_UNREACHABLE = "resolver-unreachable"
UNDECIDED = (INCOMPLETE, RESOLVER_UNREACHABLE)  # failures that say nothing about the destination
UNFINISHED = "unfinished"  # the facts key of a result cut by the overall deadline
# The knowledge entry that explains each failure that is no connector error: RFC 7505 section
# 4.1 has senders report a null MX with reply 556 ("Domain does not accept mail"). The
# enhanced code 5.1.10 is not used as the key: Exchange Online gives it another meaning.
FAILURE_KNOWLEDGE = {NULL_MX: "556"}


@dataclass(frozen=True, slots=True)
class Verdict:
    code: str | None  # the connector error; None: healthy, or a failure that is no connector error
    evidence: tuple[ProbeResult, ...]  # the observations that decided it
    warnings: tuple[ProbeResult, ...]  # failures that did not decide it
    reachable: int  # addresses that completed the path
    attempted: int  # addresses attempted
    failure: str | None = None  # NULL_MX, INCOMPLETE, RESOLVER_UNREACHABLE: not healthy, no connector code

    @property
    def healthy(self) -> bool:
        return self.code is None and self.failure is None


def is_unfinished(result: ProbeResult) -> bool:
    return result.skipped and result.facts.get(UNFINISHED) is True


def is_null_mx(result: ProbeResult) -> bool:
    """The MX answer is a null MX and nothing else (beside other hosts it is a warning)."""
    mx = result.facts.get("mx") or []
    return result.name == "mx" and bool(mx) and all(m.get("host") == "." for m in mx)


@dataclass(frozen=True, slots=True)
class _Outcome:
    code: str | None
    evidence: list[ProbeResult]
    warnings: list[ProbeResult]
    unfinished: list[ProbeResult]  # set only when no step decided a code

    @property
    def healthy(self) -> bool:
        return self.code is None and not self.unfinished


def _address_outcome(results: Sequence[ProbeResult], *, validate_tls: bool) -> _Outcome:
    """The outcome of the path results of one address, in step order."""
    warnings: list[ProbeResult] = []
    by_step = sorted(
        (r for r in results if r.name in PATH_STEPS and not r.skipped),
        key=lambda r: PATH_STEPS.index(r.name),
    )
    for result in by_step:
        if result.ok or result.code is None:
            if not result.ok:
                warnings.append(result)
            continue
        if result.code == CERTIFICATE_CODE and not validate_tls:
            warnings.append(result)
            continue
        return _Outcome(result.code, [result], warnings, [])
    return _Outcome(None, [], warnings, [r for r in results if is_unfinished(r)])


def is_resolver_unreachable(result: ProbeResult) -> bool:
    return result.name in DNS_STEPS and result.facts.get("resolver_unreachable") is True


def _without_paths(
    dns_failures: list[ProbeResult],
    null_mx: list[ProbeResult],
    unfinished: list[ProbeResult],
    warnings: list[ProbeResult],
) -> Verdict:
    """No address was probed: our own resolver's silence, DNS, the null MX, or the deadline decides."""
    silent = [w for w in warnings if is_resolver_unreachable(w)]
    if silent:
        others = [w for w in warnings if w not in silent] + dns_failures
        return Verdict(None, tuple(silent), tuple(others), 0, 0, failure=RESOLVER_UNREACHABLE)
    if dns_failures:
        return Verdict(dns_failures[0].code, tuple(dns_failures), tuple(warnings + null_mx), 0, 0)
    if null_mx:
        return Verdict(None, tuple(null_mx), tuple(warnings), 0, 0, failure=NULL_MX)
    if unfinished:
        return Verdict(None, tuple(unfinished), tuple(warnings), 0, 0, failure=INCOMPLETE)
    return Verdict(None, (), tuple(warnings), 0, 0)


def decide(results: Sequence[ProbeResult], *, validate_tls: bool) -> Verdict:
    """The verdict over every observation of one diagnosis."""
    paths: dict[str, list[ProbeResult]] = {}
    for result in results:
        if result.name in PATH_STEPS:
            address = result.facts.get("address") or result.target
            paths.setdefault(address, []).append(result)
    dns_failures = [r for r in results if r.name in DNS_STEPS and not r.ok and r.code]
    null_mx = [r for r in results if is_null_mx(r)]
    dns_unfinished = [r for r in results if r.name in DNS_STEPS and is_unfinished(r)]
    other_warnings = [
        r
        for r in results
        if r.name not in PATH_STEPS and not r.ok and not r.skipped and r not in dns_failures and r not in null_mx
    ]
    if not paths:
        return _without_paths(dns_failures, null_mx, dns_unfinished, other_warnings)
    outcomes = [_address_outcome(steps, validate_tls=validate_tls) for steps in paths.values()]
    healthy = [o for o in outcomes if o.healthy]
    warnings = [w for o in outcomes for w in o.warnings] + other_warnings
    if healthy:
        warnings += [e for o in outcomes if o.code is not None for e in o.evidence]
        # A DNS failure for one host while another host delivers is still worth fixing.
        warnings += dns_failures
        return Verdict(None, (), tuple(warnings), len(healthy), len(outcomes))
    first = outcomes[0]
    if first.code is None:  # the most preferred address did not finish: nothing to conclude
        warnings += [e for o in outcomes[1:] for e in o.evidence] + dns_failures
        return Verdict(None, tuple(first.unfinished), tuple(warnings), 0, len(outcomes), failure=INCOMPLETE)
    evidence = [*first.evidence, *(e for o in outcomes[1:] if o.code == first.code for e in o.evidence)]
    warnings += [e for o in outcomes[1:] if o.code != first.code for e in o.evidence] + dns_failures
    return Verdict(first.code, tuple(evidence), tuple(warnings), 0, len(outcomes))
