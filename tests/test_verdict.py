"""Verdict rules as a table: observations in, the connector error Exchange would report out."""

from __future__ import annotations

import pytest

from bot.probes.result import ProbeResult
from bot.verdict import decide


def step(name: str, address: str, *, ok: bool = True, code: str | None = None) -> ProbeResult:
    return ProbeResult(
        name, f"mx ({address}:25)", ok, f"{name} {'ok' if ok else 'failed'}", code, facts={"address": address}
    )


def path(address: str, failing: str | None = None, code: str | None = None) -> list[ProbeResult]:
    out = []
    for name in ("tcp", "banner", "ehlo", "starttls", "certificate"):
        if name == failing:
            out.append(step(name, address, ok=False, code=code))
            break
        out.append(step(name, address))
    return out


MX_FAIL = ProbeResult("mx", "contoso.test", False, "NXDOMAIN for contoso.test", "4.4.312")

CASES = [
    ("dns failure", [MX_FAIL], False, "4.4.312"),
    ("healthy", path("192.0.2.1"), False, None),
    ("timeout", path("192.0.2.1", "tcp", "4.4.315"), False, "4.4.315"),
    ("refused", path("192.0.2.1", "tcp", "4.4.316"), False, "4.4.316"),
    ("421 banner", path("192.0.2.1", "banner", "4.4.317"), False, "4.4.317"),
    ("no starttls when required", path("192.0.2.1", "starttls", "4.4.317"), True, "4.4.317"),
    ("reset after ehlo", path("192.0.2.1", "ehlo", "4.4.318"), False, "4.4.318"),
    ("bad certificate, tls validated", path("192.0.2.1", "certificate", "4.7.320"), True, "4.7.320"),
    ("bad certificate, opportunistic tls", path("192.0.2.1", "certificate", "4.7.320"), False, None),
    ("one of two refuses", path("192.0.2.1", "tcp", "4.4.316") + path("192.0.2.2"), False, None),
    (
        "first preference decides",
        path("192.0.2.1", "tcp", "4.4.315") + path("192.0.2.2", "tcp", "4.4.316"),
        False,
        "4.4.315",
    ),
]


@pytest.mark.parametrize(("name", "results", "validate", "code"), CASES, ids=[c[0] for c in CASES])
def test_verdict(name: str, results: list[ProbeResult], validate: bool, code: str | None) -> None:
    verdict = decide(results, validate_tls=validate)
    assert verdict.code == code
    if code:
        assert verdict.evidence and all(e.code == code for e in verdict.evidence)


def test_healthy_keeps_failures_as_warnings() -> None:
    verdict = decide(path("192.0.2.1", "tcp", "4.4.316") + path("192.0.2.2"), validate_tls=False)
    assert verdict.code is None
    assert [w.code for w in verdict.warnings] == ["4.4.316"]
    assert (verdict.reachable, verdict.attempted) == (1, 2)


def test_same_failure_everywhere_is_all_evidence() -> None:
    verdict = decide(path("192.0.2.1", "tcp", "4.4.316") + path("192.0.2.2", "tcp", "4.4.316"), validate_tls=False)
    assert verdict.code == "4.4.316"
    assert len(verdict.evidence) == 2


# -- failures that are no connector error ---------------------------------------------------------

NULL_MX = ProbeResult(
    "mx", "contoso.test", False, "contoso.test publishes a null MX", facts={"mx": [{"preference": 0, "host": "."}]}
)
NULL_MX_BESIDE_REAL = ProbeResult(
    "mx",
    "contoso.test",
    False,
    "MX for contoso.test: 10 mx; it also publishes a null MX",
    facts={"mx": [{"preference": 0, "host": "."}, {"preference": 10, "host": "mx"}], "null_mx": True},
)


def cut(name: str, target: str, address: str | None = None) -> ProbeResult:
    facts: dict[str, object] = {"unfinished": True}
    if address:
        facts["address"] = address
    return ProbeResult(name, target, False, "not finished within the overall deadline", skipped=True, facts=facts)


def cut_after_tcp(address: str) -> list[ProbeResult]:
    return [step("tcp", address), cut("banner", f"mx ({address}:25)", address)]


FAILURES = [
    ("null MX alone", [NULL_MX], None, "null-mx"),
    ("null MX beside a real MX: the real one decides", [NULL_MX_BESIDE_REAL, *path("192.0.2.1")], None, None),
    ("MX lookup cut by the deadline", [cut("mx", "contoso.test")], None, "incomplete"),
    ("address lookup cut", [cut("address", "mx.contoso.test")], None, "incomplete"),
    ("most preferred path cut", cut_after_tcp("192.0.2.1") + path("192.0.2.2", "tcp", "4.4.316"), None, "incomplete"),
    ("a cut path, another healthy", cut_after_tcp("192.0.2.1") + path("192.0.2.2"), None, None),
    (
        "second path cut, first refused",
        path("192.0.2.1", "tcp", "4.4.316") + cut_after_tcp("192.0.2.2"),
        "4.4.316",
        None,
    ),
    (
        "a failure decided before the cut",
        [*path("192.0.2.1", "banner", "4.4.317"), cut("rdap", "contoso.test")],
        "4.4.317",
        None,
    ),
    ("policy lookups cut, path healthy", [*path("192.0.2.1"), cut("rdap", "contoso.test")], None, None),
]


@pytest.mark.parametrize(("name", "results", "code", "failure"), FAILURES, ids=[c[0] for c in FAILURES])
def test_failures_without_a_connector_code(
    name: str, results: list[ProbeResult], code: str | None, failure: str | None
) -> None:
    verdict = decide(results, validate_tls=False)
    assert (verdict.code, verdict.failure) == (code, failure)
    assert verdict.healthy is (code is None and failure is None)
    if failure:
        assert verdict.evidence, "the observation behind the failure is named"


def test_null_mx_beside_real_mx_is_a_warning() -> None:
    verdict = decide([NULL_MX_BESIDE_REAL, *path("192.0.2.1")], validate_tls=False)
    assert verdict.healthy
    assert NULL_MX_BESIDE_REAL in verdict.warnings
