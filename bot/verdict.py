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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.probes.result import ProbeResult

PATH_STEPS = ("tcp", "banner", "ehlo", "starttls", "certificate", "tls_version")
DNS_STEPS = ("mx", "address")
CERTIFICATE_CODE = "4.7.320"


@dataclass(frozen=True, slots=True)
class Verdict:
    code: str | None  # None: healthy
    evidence: tuple[ProbeResult, ...]  # the observations that decided it
    warnings: tuple[ProbeResult, ...]  # failures that did not decide it
    reachable: int  # addresses that completed the path
    attempted: int  # addresses attempted


def _address_outcome(
    results: Sequence[ProbeResult], *, validate_tls: bool
) -> tuple[str | None, list[ProbeResult], list[ProbeResult]]:
    """(code, deciding results, warnings) for the path results of one address, in step order."""
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
        return result.code, [result], warnings
    return None, [], warnings


def decide(results: Sequence[ProbeResult], *, validate_tls: bool) -> Verdict:
    """The verdict over every observation of one diagnosis."""
    paths: dict[str, list[ProbeResult]] = {}
    order: list[str] = []
    for result in results:
        if result.name in PATH_STEPS:
            address = result.facts.get("address") or result.target
            if address not in paths:
                paths[address] = []
                order.append(address)
            paths[address].append(result)
    dns_failures = [r for r in results if r.name in DNS_STEPS and not r.ok and r.code]
    other_warnings = [
        r for r in results if r.name not in PATH_STEPS and not r.ok and not r.skipped and r not in dns_failures
    ]
    if not order:
        if dns_failures:
            return Verdict(dns_failures[0].code, tuple(dns_failures), tuple(other_warnings), 0, 0)
        return Verdict(None, (), tuple(other_warnings), 0, 0)
    outcomes = [(address, *_address_outcome(paths[address], validate_tls=validate_tls)) for address in order]
    healthy = [o for o in outcomes if o[1] is None]
    warnings = [w for o in outcomes for w in o[3]] + other_warnings
    if healthy:
        warnings += [e for o in outcomes if o[1] is not None for e in o[2]]
        # A DNS failure for one host while another host delivers is still worth fixing.
        warnings += dns_failures
        return Verdict(None, (), tuple(warnings), len(healthy), len(outcomes))
    first = outcomes[0]
    evidence = [*first[2], *(e for o in outcomes[1:] if o[1] == first[1] for e in o[2])]
    warnings += [e for o in outcomes[1:] if o[1] != first[1] for e in o[2]] + dns_failures
    return Verdict(first[1], tuple(evidence), tuple(warnings), 0, len(outcomes))
