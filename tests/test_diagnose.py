"""``diagnose`` end to end: one table row per verdict, each run through ``diagnose()`` and the CLI.

The lab is all on loopback: the DNS server of tests/fixtures/dns_server.py serves
``contoso.test`` (MX 10 mail.ok.test, mail.ok.test A 127.0.0.1), an SMTP peer of
tests/fixtures/smtp_peers.py listens on 127.0.0.1 and a free port, the HTTP server of
tests/fixtures/http_server.py answers the HTTP lookups in the ``diagnose()`` runs. The CLI runs
in-process (``bot.cli.main``) in a worker thread, so the scripted peers keep running in the
test's loop; it resolves every name through the lab's DNS server, so its HTTP lookups (RDAP,
Microsoft 365 ranges) end at NXDOMAIN there and nothing leaves the machine. Loopback is allowed
explicitly (``--allow 127.0.0.0/8``) except where the test shows the guard refusing it.
"""

# ruff: noqa: F811  (the fixtures are imported by name, and pytest passes them back as arguments)
from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import bot.cli
import bot.probes.http
from bot import knowledge
from bot.cli.diagnose import EXIT_FAILURE, EXIT_HEALTHY, EXIT_INTERNAL, EXIT_USAGE
from bot.diagnose import DiagnoseRequest, Diagnosis, conclude, diagnose
from bot.errors import TargetRefused
from bot.probes.config import ProbeConfig, Timeouts
from bot.probes.result import ProbeResult
from bot.render.diagnosis import diagnosis_record, render_diagnosis_text
from bot.texts import Text
from bot.verdict import INCOMPLETE, NULL_MX, RESOLVER_UNREACHABLE
from tests.fixtures import smtp_peers
from tests.fixtures.dns_server import DnsServer, Zone, dns_server, swallowing_resolver  # noqa: F401
from tests.fixtures.http_server import HttpServer, Policy, http_server  # noqa: F401
from tests.fixtures.smtp_peers import HOST, LOOPBACK, Peer, Pki

pki = smtp_peers.pki
start_peer = smtp_peers.start_peer

pytestmark = pytest.mark.timeout(60)

StartPeer = Callable[[str], Awaitable[Peer]]
DOMAIN = "contoso.test"
ALLOW = "127.0.0.0/8"
# Short steps, a roomy deadline: every peer answers at once on loopback, the silent ones time out fast.
TIMEOUTS = Timeouts(dns=0.5, connect=0.5, banner=0.5, command=1.0, tls=1.0, http=1.0, overall=10.0)
CLI_TIMEOUT = "4"  # the CLI caps each step at half of it


def lab_zone(zone: Zone) -> None:
    zone.add(DOMAIN, "MX", f"10 {HOST}.")
    zone.add(HOST, "A", LOOPBACK)


def nxdomain(zone: Zone) -> None:
    zone.behave(DOMAIN, "nxdomain")


def servfail(zone: Zone) -> None:
    zone.behave(DOMAIN, "servfail")


def mx_without_address(zone: Zone) -> None:
    zone.add(DOMAIN, "MX", "10 relay.contoso.test.")
    zone.add("relay.contoso.test", "TXT", "a name with no A or AAAA")


def mx_to_missing_name(zone: Zone) -> None:
    zone.add(DOMAIN, "MX", "10 gone.contoso.test.")
    zone.add(DOMAIN, "TXT", "v=spf1 -all")


def null_mx(zone: Zone) -> None:
    zone.add(DOMAIN, "MX", "0 .")


def expired_on() -> str:
    """The expiry date of the fixture's expired certificate (two days ago)."""
    return (datetime.now(UTC) - timedelta(days=2)).date().isoformat()


@dataclass(frozen=True)
class Case:
    id: str
    peer: str | None  # the SMTP peer (smtp_peers.PEERS); None: no peer (the DNS cases)
    code: str | None  # the verdict's code; None: healthy (or ``failure``)
    evidence: str  # a regular expression the evidence (and the filled checklist) must match
    zone: Callable[[Zone], None] = lab_zone
    require_tls: bool = False
    tls_domain: str | None = None
    failure: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_HEALTHY if self.code is None and self.failure is None else EXIT_FAILURE


CASES = [
    Case("4.4.312 NXDOMAIN", None, "4.4.312", rf"{DOMAIN} does not exist \(NXDOMAIN\)", nxdomain),
    Case("4.4.312 SERVFAIL", None, "4.4.312", "SERVFAIL", servfail),
    Case("4.4.312 MX to a name with no address", None, "4.4.312", "no A or AAAA record", mx_without_address),
    Case("4.4.312 MX to a missing name", None, "4.4.312", r"gone\.contoso\.test does not exist", mx_to_missing_name),
    Case("4.4.315 connect timeout", "never_accepting", "4.4.315", r"127\.0\.0\.1:{port} did not answer the TCP"),
    Case("4.4.316 refused", "closed_port", "4.4.316", r"127\.0\.0\.1:{port} refused the connection"),
    Case("4.4.317 421 greeting", "greet_421", "4.4.317", "refuses service in its greeting: 421"),
    Case("4.4.317 554 greeting", "greet_554", "4.4.317", "refuses service in its greeting: 554"),
    Case("4.4.317 no STARTTLS, TLS required", "no_starttls", "4.4.317", "STARTTLS", require_tls=True),
    Case("4.4.318 reset after EHLO", "reset_after_ehlo", "4.4.318", "reset|closed"),
    Case("4.7.320 expired", "expired", "4.7.320", r"expired on {expired_on}", require_tls=True),
    Case("4.7.320 wrong name", "wrong_name", "4.7.320", rf"issued to other\.test, not to {HOST}", require_tls=True),
    Case(
        "4.7.320 TLS domain mismatch",
        "valid",
        "4.7.320",
        r"does not match the connector's TLS domain \*\.contoso\.test",
        tls_domain="*.contoso.test",
    ),
    Case("4.7.320 unknown CA", "unknown_ca", "4.7.320", "not trusted", require_tls=True),
    Case("healthy", "valid", None, "", require_tls=True),
    Case("healthy, expired certificate with opportunistic TLS", "expired", None, ""),
    Case("null MX", None, None, r"null MX \(0 \.\)", null_mx, failure=NULL_MX),
]


async def port_of(case: Case, start: StartPeer) -> tuple[int, Peer | None]:
    """The SMTP port to probe: the case's peer, or (DNS cases) a port nothing listens on."""
    if case.peer is None:
        peer = await start("closed_port")
        return peer.port, None
    peer = await start(case.peer)
    return peer.port, peer


def api_config(dns: DnsServer, http: HttpServer, pki: Pki, port: int, **overrides: Any) -> ProbeConfig:
    settings: dict[str, Any] = {
        "resolver": dns.address,
        "dns_port": dns.port,
        "smtp_port": port,
        "ca_file": pki.ca_file,
        "allow": (ALLOW,),
        "timeouts": TIMEOUTS,
        "endpoints": http.endpoints(),
        "ehlo_name": "probe.mailflow.test",
    }
    return ProbeConfig(**(settings | overrides))


def cli_args(dns: DnsServer, pki: Pki, port: int, *extra: str, allow: bool = True) -> list[str]:
    args = ["diagnose", DOMAIN, "--resolver", f"{LOOPBACK}:{dns.port}", "--port", str(port)]
    args += ["--ca-file", pki.ca_file, "--timeout", CLI_TIMEOUT, "--ehlo-name", "probe.mailflow.test"]
    if allow:
        args += ["--allow", ALLOW]
    return args + list(extra)


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data


async def run_cli(capsys: pytest.CaptureFixture[str], args: list[str]) -> CliRun:
    """``mailflow`` in-process, in a thread (it runs its own event loop), output captured."""
    capsys.readouterr()
    code = await asyncio.to_thread(bot.cli.main, args)
    out, err = capsys.readouterr()
    return CliRun(code, out, err)


def evidence_pattern(case: Case, port: int) -> str:
    return case.evidence.replace("{port}", str(port)).replace("{expired_on}", expired_on())


def check_diagnosis_record(record: dict[str, Any], case: Case, port: int) -> None:
    """What a user sees: verdict, failure, and the evidence in the filled checklist."""
    assert record["verdict"] == case.code, record["probes"]
    assert record["failure"] == case.failure
    assert record["healthy"] is (case.exit_code == EXIT_HEALTHY)
    observed = [s["text"] for s in record["checklist"] if s["observed"]]
    if case.evidence:
        pattern = evidence_pattern(case, port)
        assert any(re.search(pattern, text) for text in observed), (pattern, observed)
        assert any(not s["observed"] for s in record["checklist"]), "the knowledge base's checklist follows"
    else:
        assert record["checklist"] == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_diagnose_api(
    case: Case, dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    case.zone(dns_server.zone)
    port, _ = await port_of(case, start_peer)
    request = DiagnoseRequest(DOMAIN, require_tls=case.require_tls, tls_domain=case.tls_domain)
    seen: list[ProbeResult] = []
    diagnosis = await diagnose(request, api_config(dns_server, http_server, pki, port), on_result=seen.append)
    assert diagnosis.verdict.code == case.code, diagnosis.results
    assert diagnosis.verdict.failure == case.failure
    assert diagnosis.incomplete == ()
    assert {id(r) for r in seen} == {id(r) for r in diagnosis.results}, "every result reported once, as it came"
    assert len(seen) == len(diagnosis.results)
    if case.evidence:
        pattern = evidence_pattern(case, port)
        assert any(re.search(pattern, e.detail) for e in diagnosis.verdict.evidence), diagnosis.verdict.evidence
        assert diagnosis.explanation is not None
    check_diagnosis_record(diagnosis_record(diagnosis, knowledge.load("en").ui), case, port)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_diagnose_cli(
    case: Case, dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    case.zone(dns_server.zone)
    port, _ = await port_of(case, start_peer)
    extra = ["--format", "json"]
    if case.require_tls:
        extra.append("--require-tls")
    if case.tls_domain:
        extra += ["--tls-domain", case.tls_domain]
    run = await run_cli(capsys, cli_args(dns_server, pki, port, *extra))
    assert run.code == case.exit_code, (run.out, run.err)
    record = run.json()
    check_diagnosis_record(record, case, port)
    assert record["target"] == DOMAIN
    assert record["incomplete"] == []
    # progress went to stderr, one line per probe
    assert len(run.err.strip().splitlines()) == len(record["probes"])


async def test_json_shape(
    dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("closed_port")
    run = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--format", "json"))
    record = run.json()
    assert {"target", "verdict", "confirmed", "probes", "checklist"} <= set(record)
    assert (record["target"], record["verdict"], record["confirmed"]) == (DOMAIN, "4.4.316", None)
    for probe in record["probes"]:
        assert {"name", "target", "ok", "code", "detail", "elapsed_ms"} <= set(probe)
        assert isinstance(probe["ok"], bool) and isinstance(probe["elapsed_ms"], int | float)
    names = [p["name"] for p in record["probes"]]
    assert names[:1] == ["mta_sts"] and "mx" in names and "tcp" in names
    assert names.index("mx") < names.index("address") < names.index("tcp")
    tcp = next(p for p in record["probes"] if p["name"] == "tcp")
    assert tcp == tcp | {"target": f"{HOST} ({LOOPBACK}:{peer.port})", "ok": False, "code": "4.4.316"}
    for step in record["checklist"]:
        assert set(step) == {"id", "text", "observed", "filled", "placeholders"}


# -- the guard -------------------------------------------------------------------------------------


async def test_guard_refuses_loopback_without_allow(
    dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("greet_421")
    run = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--format", "json", allow=False))
    assert run.code == EXIT_USAGE
    assert run.out == ""
    refusal = run.err.strip().splitlines()[-1]
    assert refusal.startswith(f"mailflow diagnose: refused to probe {HOST}: ")
    assert f"{LOOPBACK} (loopback address)" in refusal and "--allow" in refusal
    await asyncio.sleep(0.1)
    assert peer.accepted == 0, "nothing may reach a refused address"


async def test_guard_refuses_a_loopback_literal_before_anything_is_sent(
    dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = await start_peer("greet_421")
    args = cli_args(dns_server, pki, peer.port, allow=False)
    args[1] = LOOPBACK
    run = await run_cli(capsys, args)
    assert run.code == EXIT_USAGE
    assert "loopback address" in run.err
    assert peer.accepted == 0
    assert dns_server.queries == [], "not even a DNS query"


async def test_api_refuses_without_allow(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("greet_421")
    config = api_config(dns_server, http_server, pki, peer.port, allow=())
    with pytest.raises(TargetRefused, match="loopback address"):
        await diagnose(DiagnoseRequest(DOMAIN), config)
    assert peer.accepted == 0
    assert http_server.requests == [], "the HTTP lookups go through the same guard"


# -- --code ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCase:
    peer: str
    exit_code: int
    confirmed: bool
    says: str


CODE_CASES = {
    "refused: confirmed": CodeCase("closed_port", EXIT_FAILURE, True, "Confirmed: the probes reproduce 4.4.316 now."),
    "healthy: looks fixed": CodeCase(
        "valid", EXIT_HEALTHY, False, "Not reproduced: 4.4.316 does not occur now. It looks fixed"
    ),
}


@pytest.mark.parametrize("case", CODE_CASES.values(), ids=CODE_CASES.keys())
async def test_code_confirmed_or_not(
    case: CodeCase,
    dns_server: DnsServer,
    pki: Pki,
    start_peer: StartPeer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer(case.peer)
    as_json = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--code", "4.4.316", "--format", "json"))
    assert as_json.code == case.exit_code
    assert as_json.json()["confirmed"] is case.confirmed
    as_text = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--code", "#4.4.316", "--lang", "en"))
    assert as_text.code == case.exit_code
    assert case.says in as_text.out
    if case.confirmed:  # the checklist names the address that refused
        assert re.search(rf"Observed now: {LOOPBACK}:{peer.port} refused the connection", as_text.out)


@pytest.mark.parametrize(
    "args",
    [
        ["diagnose", DOMAIN, "--code", "banana"],
        ["diagnose", "not a domain!"],
        ["diagnose", DOMAIN, "--resolver", "dns.example.test"],
        ["diagnose", DOMAIN, "--port", "0"],
        ["diagnose", DOMAIN, "--timeout", "-1"],
    ],
)
async def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = await run_cli(capsys, args)
    assert run.code == EXIT_USAGE
    assert run.err.startswith("mailflow diagnose: ")


# -- the overall deadline -------------------------------------------------------------------------


async def test_deadline_cuts_a_silent_peer(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("silent")
    slow_steps = replace(TIMEOUTS, banner=30.0, overall=1.5)  # the banner would wait far past the deadline
    config = api_config(dns_server, http_server, pki, peer.port, timeouts=slow_steps)
    started = time.perf_counter()
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN, code="4.4.318"), config)
    assert time.perf_counter() - started < 5
    assert peer.accepted == 1
    label = f"{HOST} ({LOOPBACK}:{peer.port})"
    assert diagnosis.incomplete == (f"banner {label}",)
    assert diagnosis.verdict.code is None and diagnosis.verdict.failure == INCOMPLETE
    assert not diagnosis.verdict.healthy, "a cut path is never healthy"
    assert diagnosis.confirmed is None, "neither confirmed nor looks fixed: unknown"
    by_name = {r.name: r for r in diagnosis.results if r.target == label}
    assert by_name["tcp"].ok, "what finished before the deadline is kept"
    assert "overall deadline of 1.5 s" in by_name["banner"].detail and by_name["banner"].skipped
    assert all(by_name[n].skipped for n in ("ehlo", "starttls", "certificate", "tls_version"))
    await asyncio.wait_for(peer.closed.wait(), 2)  # the connection was dropped, not left hanging
    text = render_diagnosis_text(diagnosis, knowledge.load("en").ui)
    assert f"Not finished within the deadline: banner {label}" in text
    assert "Confirmed" not in text and "Not reproduced" not in text


async def test_deadline_cuts_slow_dns_cli(
    dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI: DNS that never answers is cut by the deadline, and said so."""
    lab_zone(dns_server.zone)
    dns_server.zone.delay = 1.5  # every answer arrives after the deadline below
    peer = await start_peer("valid")
    args = cli_args(dns_server, pki, peer.port, "--format", "json")
    args[args.index("--timeout") + 1] = "1"
    started = time.perf_counter()
    run = await run_cli(capsys, args)
    assert time.perf_counter() - started < 5
    record = run.json()
    assert record["healthy"] is False
    # Every answer is late, the control query's too: mailflow's resolver counts as unreachable
    # (exit 1), unless the deadline cut the lookups first. Never 4.4.312 for the destination.
    assert record["verdict"] is None
    assert (record["failure"], run.code) in {(RESOLVER_UNREACHABLE, EXIT_INTERNAL), (INCOMPLETE, EXIT_FAILURE)}
    assert peer_never_reached(peer)


def peer_never_reached(peer: Peer) -> bool:
    return peer.accepted == 0


# -- conclude: the pure half ------------------------------------------------------------------------


def test_conclude_is_what_diagnose_returns() -> None:
    request = DiagnoseRequest(DOMAIN, code="4.4.316")
    tcp = ProbeResult(
        "tcp", f"{HOST} (192.0.2.1:25)", False, "192.0.2.1:25 refused", "4.4.316", facts={"address": "192.0.2.1"}
    )
    cut = ProbeResult("rdap", DOMAIN, False, "not finished", skipped=True, facts={"unfinished": True})
    diagnosis = conclude(request, [tcp, cut], elapsed_ms=12.5, language="fr")
    assert isinstance(diagnosis, Diagnosis)
    assert (diagnosis.verdict.code, diagnosis.confirmed, diagnosis.elapsed_ms) == ("4.4.316", True, 12.5)
    assert diagnosis.incomplete == (f"rdap {DOMAIN}",)
    assert diagnosis.explanation is not None and diagnosis.explanation.language == "fr"
    assert diagnosis.results == (tcp, cut)


def test_conclude_null_mx_is_explained_by_the_knowledge_base() -> None:
    mx = ProbeResult("mx", DOMAIN, False, "null MX", facts={"mx": [{"preference": 0, "host": "."}], "null_mx": True})
    diagnosis = conclude(DiagnoseRequest(DOMAIN), [mx], elapsed_ms=1.0, language="en")
    assert (diagnosis.verdict.code, diagnosis.verdict.failure, diagnosis.verdict.healthy) == (None, NULL_MX, False)
    assert diagnosis.explanation is not None and diagnosis.explanation.key == "556"
    assert [s.id for s in diagnosis.explanation.checklist][:1] == ["check-null-mx"]


# -- MTA-STS against the MX found ------------------------------------------------------------------


async def test_mta_sts_is_checked_against_the_mx_found(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    dns_server.zone.add(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=20260101")
    http_server.policies[DOMAIN] = Policy("version: STSv1\nmode: enforce\nmx: mx.contoso.test\nmax_age: 86400\n")
    peer = await start_peer("valid")
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN), api_config(dns_server, http_server, pki, peer.port))
    sts = next(r for r in diagnosis.results if r.name == "mta_sts")
    assert not sts.ok and sts.facts["matches"] == {HOST: False}
    assert f"not covered by the policy: {HOST}" in sts.detail
    assert dns_server.asked(DOMAIN, "MX") == 1, "the MX was looked up once, for both"
    assert diagnosis.verdict.healthy and sts in diagnosis.verdict.warnings


async def test_http_lookups_share_the_guarded_session(
    dns_server: DnsServer,
    http_server: HttpServer,
    pki: Pki,
    start_peer: StartPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every HTTP lookup uses the diagnosis's ``open_session(ctx)``: none opens a session of its own."""
    lab_zone(dns_server.zone)
    dns_server.zone.add(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=1")
    http_server.policies[DOMAIN] = Policy(f"version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 86400\n")
    opened_by_fetch: list[object] = []
    original = bot.probes.http.open_session

    def counting(ctx: Any) -> Any:
        opened_by_fetch.append(ctx)
        return original(ctx)

    monkeypatch.setattr(bot.probes.http, "open_session", counting)  # what fetch() would fall back to
    peer = await start_peer("valid")
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN), api_config(dns_server, http_server, pki, peer.port))
    assert diagnosis.verdict.healthy
    assert next(r for r in diagnosis.results if r.name == "mta_sts").ok
    assert http_server.hits(f"/mta-sts/{DOMAIN}/.well-known/mta-sts.txt") == 1
    assert http_server.hits("/rdap/dns.json") == 1 or any(r.facts.get("source") == "cache" for r in diagnosis.results)
    assert opened_by_fetch == []


# -- --code implies the connector's settings (all six codes, their final forms) ---------------------


@dataclass(frozen=True)
class ImpliedCase:
    code: str
    peer: str  # smtp_peers.PEERS
    confirmed: bool
    require_tls: bool  # what the code implies about the connector
    validate_certificate: bool
    zone: Callable[[Zone], None] = lab_zone


IMPLIED = [
    ImpliedCase("4.4.312", "closed_port", True, False, False, nxdomain),
    ImpliedCase("5.4.312", "closed_port", True, False, False, servfail),
    ImpliedCase("4.4.312", "valid", False, False, False),
    ImpliedCase("4.4.315", "never_accepting", True, False, False),
    ImpliedCase("5.4.315", "valid", False, False, False),
    ImpliedCase("4.4.316", "closed_port", True, False, False),
    ImpliedCase("5.4.316", "closed_port", True, False, False),
    ImpliedCase("4.4.316", "valid", False, False, False),
    # 4.4.317 proves the connector requires TLS: no STARTTLS is the error, without --require-tls.
    ImpliedCase("4.4.317", "no_starttls", True, True, False),
    ImpliedCase("5.4.317", "no_starttls", True, True, False),
    ImpliedCase("4.4.317", "greet_421", True, True, False),
    ImpliedCase("4.4.317", "valid", False, True, False),
    # It does not prove that certificates are validated: an expired one stays a warning.
    ImpliedCase("4.4.317", "expired", False, True, False),
    ImpliedCase("4.4.318", "reset_after_ehlo", True, False, False),
    ImpliedCase("5.4.318", "valid", False, False, False),
    # 4.7.320 proves the connector validates certificates: the expired one is the error.
    ImpliedCase("4.7.320", "expired", True, True, True),
    ImpliedCase("5.7.320", "expired", True, True, True),
    ImpliedCase("4.7.320", "wrong_name", True, True, True),
    ImpliedCase("4.7.320", "unknown_ca", True, True, True),
    ImpliedCase("4.7.320", "valid", False, True, True),
]


@pytest.mark.parametrize("case", IMPLIED, ids=[f"{c.code} {c.peer} {c.zone.__name__}" for c in IMPLIED])
async def test_code_implies_the_connector_settings(
    case: ImpliedCase, dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only --code is given (no --require-tls): the verdict is judged with the settings the code
    proves, the output says which, and confirmed is right for the code and its final form."""
    case.zone(dns_server.zone)
    peer = await start_peer(case.peer)
    run = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--code", case.code, "--format", "json"))
    record = run.json()
    assert record["confirmed"] is case.confirmed, (record["verdict"], record["probes"])
    assert run.code == (EXIT_FAILURE if case.confirmed else EXIT_HEALTHY), record["verdict"]
    assumed = record["assumed"]
    assert (assumed["code"], assumed["require_tls"], assumed["validate_certificate"]) == (
        case.code,
        case.require_tls,
        case.validate_certificate,
    )
    assert case.code in assumed["text"]
    assert record["confirmed_text"].startswith("Confirmed" if case.confirmed else "Not reproduced")
    if case.confirmed and case.code.endswith(".320"):  # the expired-certificate bug of issue 12
        assert record["verdict"] == "4.7.320"
        assert record["warnings"] == [] or all(w["code"] != "4.7.320" for w in record["warnings"])


async def test_code_says_what_it_assumed_in_the_readers_language(
    dns_server: DnsServer, pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("expired")
    run = await run_cli(capsys, cli_args(dns_server, pki, peer.port, "--code", "4.7.320", "--lang", "ja"))
    assert run.code == EXIT_FAILURE
    ja = knowledge.load("ja").ui
    assert ja["assumed_validation"].format(code="4.7.320") in run.out
    assert ja["confirmed"].format(code="4.7.320") in run.out
    assert f"{HOST} の証明書は {expired_on()} に期限切れになりました" in run.out, run.out  # the evidence, in Japanese
    assert "expired on" not in run.out


# -- mailflow's own resolver down is not the destination's 4.4.312 ---------------------------------


async def test_a_silent_resolver_is_resolver_unreachable_not_4_4_312(
    pki: Pki, start_peer: StartPeer, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = await start_peer("valid")
    with swallowing_resolver() as port:
        args = ["diagnose", DOMAIN, "--resolver", f"{LOOPBACK}:{port}", "--port", str(peer.port), "--allow", ALLOW]
        args += ["--ca-file", pki.ca_file, "--timeout", CLI_TIMEOUT, "--code", "4.4.312"]
        as_json = await run_cli(capsys, [*args, "--format", "json"])
        as_text = await run_cli(capsys, [*args, "--lang", "fr"])
    assert as_json.code == EXIT_INTERNAL, as_json.out
    record = as_json.json()
    assert (record["verdict"], record["failure"], record["healthy"]) == (None, RESOLVER_UNREACHABLE, False)
    assert record["confirmed"] is None, "a silent resolver says nothing about the NDR's code"
    assert record["failure_text"] == knowledge.load("en").ui["resolver_unreachable_help"]
    mx = next(p for p in record["probes"] if p["name"] == "mx")
    assert mx["code"] is None and mx["facts"]["resolver_unreachable"] is True
    assert f"{LOOPBACK}:{port}" in mx["detail"]
    assert all(s["id"].startswith("observed-") for s in record["checklist"]), "no 4.4.312 advice"
    assert as_text.code == EXIT_INTERNAL
    first = as_text.out.splitlines()[0]
    assert knowledge.load("fr").ui["resolver_unreachable"] in first and "4.4.312" not in first
    assert knowledge.load("fr").ui["resolver_unreachable_help"] in as_text.out
    assert "ne répond pas" in as_text.out  # the evidence, in French
    assert peer.accepted == 0


async def test_a_destination_whose_dns_is_silent_is_still_4_4_312(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    """The control query through the same resolver is answered: the silence is the destination's."""
    lab_zone(dns_server.zone)
    dns_server.zone.behave(DOMAIN, "drop", rtype="MX")
    peer = await start_peer("valid")
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN), api_config(dns_server, http_server, pki, peer.port))
    assert (diagnosis.verdict.code, diagnosis.verdict.failure) == ("4.4.312", None)
    assert dns_server.asked(".", "NS") >= 1, "the control query was asked"


# -- evidence in the reader's language -------------------------------------------------------------


@pytest.mark.parametrize("lang", knowledge.LANGUAGES)
async def test_evidence_is_said_in_the_readers_language(
    lang: str, dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("closed_port")
    config = api_config(dns_server, http_server, pki, peer.port)
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN), config, language=lang)
    endpoint = f"{LOOPBACK}:{peer.port}"
    refused = Text("tcp.refused", (("endpoint", endpoint),)).render(lang)
    record = diagnosis_record(diagnosis, knowledge.load(lang).ui)
    tcp = next(p for p in record["probes"] if p["name"] == "tcp")
    assert tcp["detail"] == f"{endpoint} refused the connection (TCP RST): nothing listens there, or a firewall rejects"
    assert tcp["text"] == refused
    observed = [s["text"] for s in record["checklist"] if s["observed"]]
    ui = knowledge.load(lang).ui
    assert observed[0] == ui["labelled"].format(label=ui["observed"], value=refused)
    assert observed[0].startswith(ui["observed"] + (" : " if lang == "fr" else ": "))  # French typography
    if lang != "en":
        assert "refused the connection" not in render_diagnosis_text(diagnosis, knowledge.load(lang).ui)


# -- the checklist names the real things ------------------------------------------------------------


async def test_diagnose_checklist_names_the_probed_host_and_the_certificates_name(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("wrong_name")
    config = api_config(dns_server, http_server, pki, peer.port)
    diagnosis = await diagnose(DiagnoseRequest(f"alex@{DOMAIN}", code="4.7.320"), config)
    assert diagnosis.verdict.code == "4.7.320"
    record = diagnosis_record(diagnosis, knowledge.load("en").ui)
    steps = {s["id"]: s for s in record["checklist"]}
    inspect = steps["inspect-certificate"]
    assert f"-connect {HOST}:25" in inspect["text"] and f"-servername {HOST}" in inspect["text"]
    assert inspect["filled"] == {"host": HOST} and inspect["placeholders"] == {}
    fix = steps["fix-connector-tls"]
    assert "-TlsDomain other.test" in fix["text"], "the name the certificate carries"
    assert fix["filled"]["tls_domain"] == "other.test"
    assert fix["placeholders"] == {"connector": "Outbound to on-premises"}
    assert '-Identity "<Outbound to on-premises>"' in fix["text"], "an unknown value is a marked example"
    verify = steps["verify"]
    assert f"-Recipients alex@{DOMAIN}" in verify["text"]
    commands = [s for s in record["checklist"] if s["id"] != "match-names"]  # match-names explains wildcards
    assert "contoso.com" not in json.dumps(commands)
    text = render_diagnosis_text(diagnosis, knowledge.load("en").ui)
    assert knowledge.load("en").ui["placeholder_note"] in text


async def test_diagnose_checklist_for_a_refusal_names_the_host_and_address(
    dns_server: DnsServer, http_server: HttpServer, pki: Pki, start_peer: StartPeer
) -> None:
    lab_zone(dns_server.zone)
    peer = await start_peer("closed_port")
    diagnosis = await diagnose(DiagnoseRequest(DOMAIN), api_config(dns_server, http_server, pki, peer.port))
    steps = {s.id: s for s in diagnosis.explanation.checklist} if diagnosis.explanation else {}
    test_port = steps["test-port"]
    assert f"`Test-NetConnection {HOST} -Port 25`" in test_port.text
    assert f"`Test-NetConnection {LOOPBACK} -Port 25`" in test_port.text
    assert dict(test_port.filled) == {"host": HOST, "ip": LOOPBACK}
    assert f"-Identity {DOMAIN} -DomainType Authoritative" in steps["authoritative"].text
    assert f"-Recipients postmaster@{DOMAIN}" in steps["verify"].text
