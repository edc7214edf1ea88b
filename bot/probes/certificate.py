"""Certificate checks on the STARTTLS handshake: the "certificate" step of the SMTP path.

Strategy: the SMTP step upgrades with a verifying context (``ctx.ssl_context()``: the system
store or --ca-file, host name checked). This module judges what that handshake produced:

- it succeeded: parse the certificate (``cryptography`` reads the DER) and, when the connector
  names a TLS domain (DomainValidation, ``-TlsDomain``, may be ``*.contoso.com``), match the
  certificate's names against that domain instead of the host (probing notes: the TLS domain
  decides, not the MX name, so the handshake then skips OpenSSL's host check);
- it failed with ``ssl.SSLCertVerificationError``: read ``verify_code`` (10 expired, 9 not yet
  valid, 62 host name mismatch, 18/19 self-signed, 20/21 unknown CA or incomplete chain), then
  reconnect once with a non-verifying context through the injected ``Handshake`` to read the
  certificate itself, so the evidence names its subject, SANs, issuer and dates
  ("certificate for mail.contoso.com expired on 2026-10-01").

Every failure maps to 4.7.320; ``verdict`` downgrades it to a warning when the connector does
not validate TLS. Name matching is pure (``name_covers``, ``tls_domain_matches``): RFC 6125
§6.4.3 wildcards, the ``*`` only as the whole left-most label, standing for exactly one label.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.result import ProbeResult, observed
from bot.probes.tcp import Target, elapsed_ms
from bot.texts import Text, text

CERTIFICATE_FAILED = "4.7.320"

# OpenSSL verify codes (X509_V_ERR_*) -> the 4.7.320 cause id in knowledge/catalog/connector.toml.
_CAUSES = {
    10: "expired",  # CERT_HAS_EXPIRED
    62: "name-mismatch",  # HOSTNAME_MISMATCH
    2: "untrusted-chain",  # UNABLE_TO_GET_ISSUER_CERT
    18: "untrusted-chain",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "untrusted-chain",  # SELF_SIGNED_CERT_IN_CHAIN
    20: "untrusted-chain",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unknown CA or missing intermediate
    21: "untrusted-chain",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE: incomplete chain
}


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What one completed TLS handshake negotiated, and the server's certificate (DER)."""

    version: str | None
    cipher: str | None
    der: bytes | None


# Opens a new connection to the same target, runs banner, EHLO and STARTTLS, upgrades with the
# given context and returns what was negotiated; raises ProbeError when any of that fails.
Handshake = Callable[[ssl.SSLContext], Awaitable[TlsInfo]]


class CertificateRejected(ProbeError):
    """The server's certificate failed verification."""

    def __init__(self, message: str, *, verify_code: int, verify_message: str, text: object = None) -> None:
        super().__init__(message, text=text)
        self.verify_code = verify_code
        self.verify_message = verify_message

    @classmethod
    def from_ssl(cls, exc: ssl.SSLCertVerificationError) -> CertificateRejected:
        code = int(exc.verify_code or 0)
        message = str(exc.verify_message or exc.reason or exc)
        said = text("cert.verify_failed", message=message, code=code)
        return cls(said.render(), verify_code=code, verify_message=message, text=said)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    subject: str
    common_name: str | None
    issuer: str
    dns_names: tuple[str, ...]
    ip_names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_issued: bool
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        """The names a host is checked against: DNS SANs, or the CN when there are none (legacy)."""
        if self.dns_names:
            return self.dns_names
        return (self.common_name,) if self.common_name else ()

    def facts(self, now: datetime) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.dns_names),
            "ip_sans": list(self.ip_names),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": (self.not_after - now).days,
            "self_issued": self.self_issued,
            "sha256": self.sha256,
        }


def parse_certificate(der: bytes) -> CertificateInfo | None:
    """The fields the evidence needs, or None when the DER does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(san.get_values_for_type(x509.DNSName))
            ip_names = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns_names, ip_names = (), ()
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(cns[0].value) if cns else None
        return CertificateInfo(
            subject=cert.subject.rfc4514_string(),
            common_name=common_name,
            issuer=cert.issuer.rfc4514_string(),
            dns_names=dns_names,
            ip_names=ip_names,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            self_issued=cert.issuer == cert.subject,
            sha256=hashlib.sha256(der).hexdigest(),
        )
    except ValueError:
        return None


def _labels(name: str) -> list[str]:
    return name.strip().lower().rstrip(".").split(".")


def name_covers(pattern: str, name: str) -> bool:
    """True when the certificate name ``pattern`` covers the host ``name``.

    RFC 6125 §6.4.3: case-insensitive; a wildcard only as the entire left-most label, matching
    exactly one non-empty label, and never with fewer than two labels after it (``*.com``).
    """
    want, have = _labels(pattern), _labels(name)
    if len(want) != len(have) or "" in have:
        return False
    if want[0] == "*":
        return len(want) >= 3 and have[0] != "*" and want[1:] == have[1:]
    return want == have


def tls_domain_matches(tls_domain: str, names: Iterable[str]) -> bool:
    """DomainValidation: does any certificate name satisfy the connector's TLS domain?

    ``mail.contoso.com`` is satisfied by that name or by ``*.contoso.com``; ``*.contoso.com``
    by that same wildcard or by any one-label subdomain (``mail.contoso.com``). A wildcard
    inside a label (``m*.contoso.com``) is never honoured.
    """
    domain = ".".join(_labels(tls_domain))
    for name in names:
        have = ".".join(_labels(name))
        if have == domain:
            return True
        if domain.startswith("*.") and name_covers(domain, have):
            return True
        if not domain.startswith("*.") and name_covers(have, domain):
            return True
    return False


def host_matches(info: CertificateInfo, host: str) -> bool:
    if host in info.ip_names:
        return True
    return any(name_covers(name, host) for name in info.names)


def verifying_context(ctx: ProbeContext, tls_domain: str | None) -> ssl.SSLContext:
    """The context the STARTTLS step uses: chain and dates always, host name unless a TLS domain decides."""
    # With a TLS domain the names are matched against it after the handshake, not against the host.
    return ctx.ssl_context(check_hostname=not tls_domain)


def inspecting_context() -> ssl.SSLContext:
    """No verification at all: only to read a certificate that failed verification."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no trust store to load: nothing is verified
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _names(info: CertificateInfo) -> str | Text:
    return ", ".join(info.names) or text("cert.no_names")


def describe_rejection(exc: CertificateRejected, host: str, info: CertificateInfo | None) -> tuple[Text, str | None]:
    """(evidence, cause id) for a failed verification, with the certificate's own fields when known."""
    code = exc.verify_code
    if info is not None:
        if code == 10:
            return text("cert.expired", host=host, date=_day(info.not_after)), _CAUSES[code]
        if code == 9:
            return text("cert.not_yet_valid", host=host, date=_day(info.not_before)), None
        if code == 62:
            return text("cert.wrong_name", host=host, names=_names(info)), _CAUSES[code]
        if code == 18 or (code in (19, 20, 21) and info.self_issued):
            return text("cert.self_signed", host=host, subject=info.subject), "untrusted-chain"
        if code == 19:
            return text("cert.untrusted_root", host=host, issuer=info.issuer), "untrusted-chain"
        if code in (2, 20, 21):
            return text("cert.untrusted_issuer", host=host, issuer=info.issuer), "untrusted-chain"
    said = text("cert.failed", host=host, message=exc.verify_message, code=code)
    return said, _CAUSES.get(code)


async def probe_certificate(
    target: Target,
    outcome: TlsInfo | CertificateRejected,
    handshake: Handshake,
    *,
    tls_domain: str | None,
) -> tuple[ProbeResult, TlsInfo | None]:
    """The "certificate" step, and the handshake it read the certificate from (for tls_version).

    ``outcome`` is what the verifying STARTTLS handshake gave: its TlsInfo, or the rejection,
    in which case one more connection (``handshake``) reads the certificate unverified.
    """
    started = time.perf_counter()
    now = datetime.now(UTC)
    facts: dict[str, object] = {**target.facts(), "tls_domain": tls_domain}
    rejection = outcome if isinstance(outcome, CertificateRejected) else None
    tls: TlsInfo | None = outcome if isinstance(outcome, TlsInfo) else None
    if rejection is not None:
        facts |= {"verified": False, "verify_code": rejection.verify_code, "verify_message": rejection.verify_message}
        try:
            tls = await handshake(inspecting_context())
        except ProbeError as exc:
            facts["reconnect_error"] = str(exc)  # English, for JSON consumers
    else:
        facts["verified"] = True
    info = parse_certificate(tls.der) if tls is not None and tls.der else None
    if tls is not None:
        facts |= {"tls_version": tls.version, "cipher": tls.cipher}
    if info is not None:
        facts |= info.facts(now)
        facts["host_matches"] = host_matches(info, target.host)
    domain_ok = tls_domain_matches(tls_domain, info.names) if tls_domain and info is not None else None
    if tls_domain:
        facts["tls_domain_matches"] = domain_ok

    def result(ok: bool, said: list[Text], cause: str | None) -> tuple[ProbeResult, TlsInfo | None]:
        code = None if ok else CERTIFICATE_FAILED
        if cause:
            facts["cause"] = cause
        return observed("certificate", target.label, ok, said, code, elapsed_ms(started), facts), tls

    host = target.host
    if rejection is not None:
        said, cause = describe_rejection(rejection, host, info)
        texts = [said]
        if tls_domain and info is not None and not domain_ok:
            texts.append(text("cert.tls_domain_too", names=_names(info), tls_domain=tls_domain))
        return result(False, texts, cause)
    if info is None:
        return result(True, [text("cert.verified_unparsed", host=host)], None)
    if tls_domain and not domain_ok:
        said = text("cert.tls_domain_mismatch", host=host, names=_names(info), tls_domain=tls_domain)
        return result(False, [said], "name-mismatch")
    until, days = _day(info.not_after), (info.not_after - now).days
    if tls_domain:
        said = text("cert.verified_tls_domain", tls_domain=tls_domain, issuer=info.issuer, date=until, days=days)
    else:
        said = text("cert.verified", host=host, issuer=info.issuer, date=until, days=days)
    return result(True, [said], None)
