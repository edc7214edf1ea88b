"""The SMTP path probes against real peers on 127.0.0.1: one table row per peer and setting.

Each row names a peer from ``tests/fixtures/smtp_peers.py`` and what every step must report:
``ok``, ``code``, a regular expression the detail must match, and facts it must contain; ``SKIP``
for a step that must not run. Pure helpers (reply lines, masked banners, name matching) have
their own small tables. Only 127.0.0.0/8 is ever contacted.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest

from bot.errors import ProbeError, TargetRefused
from bot.probes.certificate import name_covers, tls_domain_matches
from bot.probes.config import Timeouts
from bot.probes.context import ProbeContext
from bot.probes.result import ProbeResult
from bot.probes.smtp import STEPS, looks_masked, parse_reply_line, probe_smtp_host
from bot.probes.tcp import Target
from tests.fixtures import smtp_peers
from tests.fixtures.smtp_peers import HOST, LOOPBACK, TEST_TIMEOUTS, Peer, Pki, probe_config

# The fixtures, by name (pytest_plugins would need the root conftest: this module imports them).
pki = smtp_peers.pki
start_peer = smtp_peers.start_peer

StartPeer = Callable[[str], Awaitable[Peer]]


@dataclass(frozen=True)
class Step:
    ok: bool
    code: str | None = None
    detail: str = ""  # a regular expression searched in the detail
    facts: Mapping[str, object] = field(default_factory=dict)


SKIP = Step(False, detail="^not run: ")
SKIP3, SKIP4, SKIP5 = (SKIP,) * 3, (SKIP,) * 4, (SKIP,) * 5
OK = Step(True)
TLS_FINE = Step(True, detail=r"^TLSv1\.[23] negotiated, cipher ")


@dataclass(frozen=True)
class Case:
    id: str
    peer: str
    steps: tuple[Step, ...]  # tcp, banner, ehlo, starttls, certificate, tls_version
    require_tls: bool = False
    tls_domain: str | None = None
    timeouts: Timeouts = TEST_TIMEOUTS


def up_to_tls(certificate: Step, tls_version: Step) -> tuple[Step, ...]:
    """tcp, banner and EHLO fine, STARTTLS accepted, then the two TLS steps."""
    accepted = Step(True, detail="STARTTLS accepted", facts={"offered": True})
    return (OK, OK, Step(True, facts={"starttls_offered": True}), accepted, certificate, tls_version)


FAST = Timeouts(connect=0.5, banner=0.5, command=0.3, tls=0.3)
CERT_REJECTED = "4.7.320"
RESET_IN_HANDSHAKE = "reset the connection during the TLS handshake"
CASES = [
    Case(
        "valid certificate",
        "valid",
        up_to_tls(Step(True, detail=f"certificate for {HOST} verified", facts={"sans": [HOST]}), TLS_FINE),
        require_tls=True,
    ),
    Case(
        "TLS domain wildcard matches",
        "valid",
        up_to_tls(Step(True, detail=r"TLS domain \*\.ok\.test verified", facts={"tls_domain_matches": True}), TLS_FINE),
        tls_domain="*.ok.test",
    ),
    Case(
        "TLS domain differs from the certificate",
        "valid",
        up_to_tls(
            Step(
                False,
                CERT_REJECTED,
                r"names mail\.ok\.test, which does not match the connector's TLS domain \*\.contoso\.test",
                {"cause": "name-mismatch", "tls_domain_matches": False, "host_matches": True},
            ),
            TLS_FINE,
        ),
        tls_domain="*.contoso.test",
    ),
    Case(
        "DomainValidation ignores the host name",
        "wrong_name",
        up_to_tls(Step(True, facts={"host_matches": False, "tls_domain_matches": True}), TLS_FINE),
        tls_domain="other.test",
    ),
    Case(
        "expired certificate",
        "expired",
        up_to_tls(
            Step(False, CERT_REJECTED, rf"^certificate for {HOST} expired on \d{{4}}-\d\d-\d\d$", {"verify_code": 10}),
            TLS_FINE,
        ),
        require_tls=True,
    ),
    Case(
        "certificate for another name",
        "wrong_name",
        up_to_tls(
            Step(False, CERT_REJECTED, f"issued to other.test, not to {HOST}", {"verify_code": 62}),
            TLS_FINE,
        ),
    ),
    Case(
        "certificate from an unknown CA",
        "unknown_ca",
        up_to_tls(
            Step(False, CERT_REJECTED, "which is not trusted", {"verify_code": 20, "cause": "untrusted-chain"}),
            TLS_FINE,
        ),
        require_tls=True,
    ),
    Case(
        "no STARTTLS, TLS optional",
        "no_starttls",
        (OK, OK, OK, Step(False, None, "STARTTLS not offered: mail .* unencrypted", {"offered": False}), SKIP, SKIP),
    ),
    Case(
        "no STARTTLS, TLS required",
        "no_starttls",
        (OK, OK, OK, Step(False, "4.4.317", "requires TLS", {"cause": "no-starttls"}), SKIP, SKIP),
        require_tls=True,
    ),
    Case(
        "old TLS only",
        "old_tls",
        (
            OK,
            OK,
            OK,
            Step(False, "4.4.318", RESET_IN_HANDSHAKE, {"lost": "reset", "cause": "old-tls"}),
            SKIP,
            Step(False, "4.4.318", r"^old TLS only: .* only as TLSv1\.1", {"tls_version": "TLSv1.1"}),
        ),
    ),
    Case("421 greeting", "greet_421", (OK, Step(False, "4.4.317", "refuses service .*: 421 4.3.2"), *SKIP4)),
    Case(
        "554 greeting",
        "greet_554",
        (OK, Step(False, "4.4.317", "554 5.3.2", {"reply_code": 554, "cause": "service-unavailable"}), *SKIP4),
    ),
    Case(
        "Cisco masked, TLS required",
        "cisco_masked",
        (
            OK,
            Step(False, None, "masked with asterisks", {"masked": True, "cause": "smtp-inspection"}),
            Step(False, None, "EHLO answered 500 .*XXXX.*; HELO answered 250", {"masked": True, "reply_code": 500}),
            Step(False, "4.4.317", "inspection device strips it", {"cause": "smtp-inspection", "offered": False}),
            SKIP,
            SKIP,
        ),
        require_tls=True,
    ),
    Case(
        "Cisco masked, TLS optional",
        "cisco_masked",
        (OK, Step(False, facts={"masked": True}), Step(False, facts={"masked": True}), Step(False), SKIP, SKIP),
    ),
    Case(
        "multi-line greeting in pieces",
        "multiline_banner",
        (
            OK,
            Step(True, None, r"\(\+2 lines\)", {"banner": [f"{HOST} ESMTP", "please wait", "ready"]}),
            Step(True, facts={"extensions": ["8BITMIME", "PIPELINING"]}),
            Step(False, None, "not offered"),
            SKIP,
            SKIP,
        ),
    ),
    Case(
        "reset after EHLO",
        "reset_after_ehlo",
        (OK, OK, Step(False, "4.4.318", r"reset the connection after EHLO \(TCP RST\)", {"lost": "reset"}), *SKIP3),
    ),
    Case(
        "reset during STARTTLS",
        "reset_during_starttls",
        (
            OK,
            OK,
            OK,
            Step(False, "4.4.318", RESET_IN_HANDSHAKE, {"lost": "reset"}),
            SKIP,
            Step(False, None, "even with TLS 1.0 .* not a TLS version problem"),
        ),
        require_tls=True,
    ),
    Case(
        "not SMTP", "not_smtp", (OK, Step(False, "4.4.317", "does not speak SMTP: not an SMTP reply: 'SSH-2.0"), *SKIP4)
    ),
    Case("endless greeting", "endless_greeting", (OK, Step(False, "4.4.317", "longer than 64 lines"), *SKIP4)),
    Case("line too long", "long_line", (OK, Step(False, "4.4.317", "line longer than 2048 bytes"), *SKIP4)),
    Case(
        "accepts and never speaks",
        "silent",
        (OK, Step(False, "4.4.318", r"no greeting \(banner: .* within 0\.5 s\)", {"timeout": True}), *SKIP4),
    ),
    Case(
        "no answer to EHLO",
        "mute_after_greeting",
        (OK, OK, Step(False, "4.4.318", r"^ehlo: no complete reply within 0\.3 s$", {"timeout": True}), *SKIP3),
        timeouts=FAST,
    ),
    Case(
        "TLS handshake never answered",
        "stall_in_tls",
        (
            OK,
            OK,
            OK,
            Step(False, "4.4.318", r"^starttls: the TLS handshake did not complete within 0\.3 s$", {"timeout": True}),
            SKIP,
            Step(False, None, r"even with TLS 1\.0 .*did not complete within 0\.3 s"),
        ),
        timeouts=FAST,
    ),
    Case("closed port", "closed_port", (Step(False, "4.4.316", "refused", {"errno": "ECONNREFUSED"}), *SKIP5)),
    Case(
        "connect never answered",
        "never_accepting",
        (Step(False, "4.4.315", r"tcp: no answer to the connect within 0\.5 s"), *SKIP5),
    ),
]


@pytest.mark.timeout(15)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_smtp_path(case: Case, start_peer: StartPeer, pki: Pki) -> None:
    peer = await start_peer(case.peer)
    ctx = ProbeContext.create(probe_config(peer.port, pki, timeouts=case.timeouts))

    streamed: list[ProbeResult] = []
    results = await probe_smtp_host(
        ctx, HOST, LOOPBACK, require_tls=case.require_tls, tls_domain=case.tls_domain, on_step=streamed.append
    )

    assert [r.name for r in results] == list(STEPS)
    # on_step saw every step that ran, as it finished, and the very results returned
    assert [id(r) for r in streamed] == [id(r) for r in results if not r.skipped]
    for result, want in zip(results, case.steps, strict=True):
        where = f"{case.id}: {result.name}: {result.detail!r} {result.facts}"
        assert result.target == f"{HOST} ({LOOPBACK}:{peer.port})", where
        assert result.facts["address"] == LOOPBACK, where
        assert result.skipped is (want is SKIP), where
        assert (result.ok, result.code) == (want.ok, want.code), where
        assert re.search(want.detail, result.detail), where
        for key, value in want.facts.items():
            assert result.facts.get(key) == value, f"{where}: facts[{key!r}]"


@pytest.mark.timeout(5)
async def test_guard_refuses_loopback_unless_allowlisted(start_peer: StartPeer, pki: Pki) -> None:
    peer = await start_peer("multiline_banner")
    ctx = ProbeContext.create(probe_config(peer.port, pki, allow=()))
    with pytest.raises(TargetRefused, match="loopback"):
        await probe_smtp_host(ctx, HOST, LOOPBACK)
    assert peer.accepted == 0  # refused before any packet was sent

    allowed = await probe_smtp_host(ProbeContext.create(probe_config(peer.port, pki)), HOST, LOOPBACK)
    assert allowed[0].ok and peer.accepted == 1


@pytest.mark.timeout(5)
async def test_cancellation_closes_the_socket(start_peer: StartPeer, pki: Pki) -> None:
    peer = await start_peer("silent")
    config = probe_config(peer.port, pki)
    ctx = ProbeContext.create(config)
    task = asyncio.create_task(probe_smtp_host(ctx, HOST, LOOPBACK))
    while peer.accepted == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(1.0):
        await peer.closed.wait()  # the peer read EOF: the probe closed its end


@pytest.mark.parametrize(
    ("ip", "label"), [("192.0.2.25", "mx.test (192.0.2.25:25)"), ("2001:db8::25", "mx.test ([2001:db8::25]:25)")]
)
def test_target_label(ip: str, label: str) -> None:
    assert Target("mx.test", ip, 25).label == label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"220 mail.ok.test ESMTP\r\n", (220, True, "mail.ok.test ESMTP")),
        (b"220-first line\r\n", (220, False, "first line")),
        (b"250\r\n", (250, True, "")),
        (b"421 4.3.2 bye\n", (421, True, "4.3.2 bye")),
    ],
)
def test_parse_reply_line(raw: bytes, expected: tuple[int, bool, str]) -> None:
    assert parse_reply_line(raw) == expected


@pytest.mark.parametrize("raw", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 400 Bad Request\r\n", b"22\r\n", b"220x\r\n"])
def test_parse_reply_line_rejects_non_smtp(raw: bytes) -> None:
    with pytest.raises(ProbeError, match="not an SMTP reply"):
        parse_reply_line(raw)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("******************************0*0**2*****0*********", True),
        ("************************", True),
        ("mail.ok.test ESMTP Postfix", False),
        ("mx.contoso.com *** ready ***", False),
    ],
)
def test_looks_masked(text: str, masked: bool) -> None:
    assert looks_masked(text) is masked


@pytest.mark.parametrize(
    ("pattern", "name", "covers"),
    [
        ("mail.contoso.com", "MAIL.contoso.com.", True),
        ("*.contoso.com", "mail.contoso.com", True),
        ("*.contoso.com", "a.b.contoso.com", False),  # one label only (RFC 6125 §6.4.3)
        ("*.contoso.com", "contoso.com", False),
        ("*.com", "contoso.com", False),
        ("m*.contoso.com", "mail.contoso.com", False),
    ],
)
def test_name_covers(pattern: str, name: str, covers: bool) -> None:
    assert name_covers(pattern, name) is covers


@pytest.mark.parametrize(
    ("tls_domain", "names", "matches"),
    [
        ("*.contoso.com", ["mail.contoso.com"], True),
        ("*.contoso.com", ["*.contoso.com"], True),
        ("mail.contoso.com", ["*.contoso.com"], True),
        ("mail.contoso.com", ["mail.contoso.com", "autodiscover.contoso.com"], True),
        ("*.contoso.com", ["contoso.com"], False),
        ("*.contoso.com", ["mail.fabrikam.com"], False),
        ("contoso.com", ["*.contoso.com"], False),
    ],
)
def test_tls_domain_matches(tls_domain: str, names: list[str], matches: bool) -> None:
    assert tls_domain_matches(tls_domain, names) is matches
