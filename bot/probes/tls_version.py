"""The negotiated TLS version: the "tls_version" step of the SMTP path.

Strategy: Exchange Online speaks TLS 1.2 or later, so anything older fails (treated here as
4.4.318, the code such a server produces). Two cases:

- a handshake completed (verified, or the unverified one the certificate step made): judge the
  version it negotiated;
- the default handshake (TLS 1.2+, verifying) broke with a reset, an EOF, a timeout or a TLS
  alert rather than a certificate error: with OpenSSL 3 a TLS 1.0/1.1-only server shows up as
  a plain ``ConnectionResetError`` (probing notes), so one more handshake through the injected
  ``Handshake`` with a permissive context (lowest version OpenSSL allows, ciphers
  ``DEFAULT:@SECLEVEL=0``, no verification) tells "old TLS only" apart from "broken": when it
  completes, the version it names is the evidence.

The permissive context uses ``TLSVersion.MINIMUM_SUPPORTED`` rather than ``TLSVersion.TLSv1``:
the same floor on OpenSSL 3 builds (SSLv3 is compiled out), without Python's deprecation
warning for the TLSv1 member.
"""

from __future__ import annotations

import ssl
import time

from bot.errors import ProbeError
from bot.probes.certificate import Handshake, TlsInfo
from bot.probes.result import ProbeResult, observed
from bot.probes.tcp import Target, elapsed_ms
from bot.texts import Text, of_error, text

OLD_TLS = "4.4.318"
MINIMUM_ACCEPTED = "TLSv1.2"
_RANK = {"SSLv2": 0, "SSLv3": 1, "TLSv1": 2, "TLSv1.1": 3, "TLSv1.2": 4, "TLSv1.3": 5}


def acceptable(version: str | None) -> bool:
    """True for TLS 1.2 and later (unknown future names count as newer)."""
    if version is None:
        return False
    return _RANK.get(version, len(_RANK)) >= _RANK[MINIMUM_ACCEPTED]


def permissive_context() -> ssl.SSLContext:
    """Every version and cipher this OpenSSL still has, no verification: proof, not delivery."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _facts(target: Target, tls: TlsInfo, **more: object) -> dict[str, object]:
    return {**target.facts(), "tls_version": tls.version, "cipher": tls.cipher, **more}


def judge_version(target: Target, tls: TlsInfo, *, started: float | None = None) -> ProbeResult:
    """The step's result for a handshake that completed with the client's normal settings."""
    ms = elapsed_ms(started) if started is not None else 0.0
    version, cipher = str(tls.version), str(tls.cipher)
    if acceptable(tls.version):
        said = text("tls.negotiated", version=version, cipher=cipher)
        return observed("tls_version", target.label, True, said, None, ms, _facts(target, tls))
    said = text("tls.old", version=version, minimum=MINIMUM_ACCEPTED)
    return observed("tls_version", target.label, False, said, OLD_TLS, ms, _facts(target, tls, cause="old-tls"))


async def prove_old_tls(target: Target, failure: Text, handshake: Handshake) -> ProbeResult:
    """After the default handshake failed with ``failure``: does a permissive one complete?"""
    started = time.perf_counter()
    try:
        tls = await handshake(permissive_context())
    except ProbeError as exc:
        said = text("tls.not_a_version_problem", reason=of_error(exc))
        facts = {**target.facts(), "default_handshake": failure.render(), "permissive_handshake": str(exc)}
        return observed("tls_version", target.label, False, said, None, elapsed_ms(started), facts)
    facts = _facts(target, tls, default_handshake=failure.render(), permissive=True, cause="old-tls")
    version, cipher = str(tls.version), str(tls.cipher)
    if not acceptable(tls.version):
        said = text("tls.old_only", version=version, cipher=cipher, minimum=MINIMUM_ACCEPTED, failure=failure)
    else:
        said = text("tls.weak_only", version=version, cipher=cipher, failure=failure)
    return observed("tls_version", target.label, False, said, OLD_TLS, elapsed_ms(started), facts)
