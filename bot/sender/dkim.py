"""DKIM: the public key at ``SELECTOR._domainkey.DOMAIN`` for each selector (RFC 6376 section 3.6).

For each selector the TXT record (through any CNAME) and the CNAME itself are asked at once.
The key record is read as tag=value pairs (a tag twice makes it invalid, section 3.2):
``v=DKIM1`` (first when present), ``k=`` (rsa by default, or ed25519), ``p=`` (base64; empty
means revoked, section 3.6.1), ``h=`` (when present it must allow sha256: verifiers refuse SHA-1
signatures, RFC 8301), ``s=`` (when present it must include ``email`` or ``*``), ``t=y``
(testing: verifiers may treat the signature as absent, a warning). An RSA key's size comes from
its DER SubjectPublicKeyInfo: under 1024 bits is a failure, 1024 to 2047 a warning.

Microsoft 365 publishes each domain's keys under its own DNS and asks the domain to point
``selector1`` and ``selector2`` at them with CNAMEs. ``Get-DkimSigningConfig -Identity
contoso.com | Format-List Selector1CNAME, Selector2CNAME`` shows the two targets; their first
label is ``selector1-contoso-com`` (the domain with dashes for dots) and the rest is
``_domainkey.`` plus the tenant's initial domain (``contoso.onmicrosoft.com``) or, for
configurations created since 2025, a name under ``dkim.mail.microsoft``. A CNAME of that shape
counts as Microsoft 365's; the exact target can only come from that cmdlet.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from bot.probes.dnsquery import parse_tags
from bot.sender.dns import Records, SenderDns, TempFailure

DEFAULT_SELECTORS = ("selector1", "selector2")
WEAK_BITS = 1024  # fewer bits: a failure; this many (up to 2047): a warning
GOOD_BITS = 2048
M365_SUFFIXES = (".onmicrosoft.com", ".dkim.mail.microsoft")


def dashed(domain: str) -> str:
    return domain.strip().rstrip(".").lower().replace(".", "-")


def m365_target_shape(selector: str, domain: str, target: str) -> bool:
    """Is ``target`` a Microsoft 365 DKIM target for this selector and domain?"""
    first, _, rest = target.lower().rstrip(".").partition(".")
    expected = f"{selector.lower()}-{dashed(domain)}"
    return first == expected and rest.startswith("_domainkey.") and rest.endswith(M365_SUFFIXES)


@dataclass(slots=True)
class DkimReport:
    selector: str
    name: str
    present: bool = False
    cname: str | None = None
    m365_cname: bool | None = None  # the CNAME has Microsoft 365's shape; None: no CNAME
    record: str | None = None
    key_type: str | None = None
    bits: int | None = None
    revoked: bool = False
    testing: bool = False  # t=y
    problems: list[str] = field(default_factory=list)  # syntax
    error: str | None = None  # the DNS did not answer

    @property
    def status(self) -> str:
        if self.error is not None:
            return "unknown"
        if not self.present:
            return "missing"
        if self.revoked:
            return "revoked"
        if self.problems:
            return "invalid"
        if self.key_type == "rsa" and self.bits is not None and self.bits < WEAK_BITS:
            return "weak"  # the thresholds are RSA's: an ed25519 key is 256 bits and strong
        if self.key_type == "rsa" and self.bits is not None and self.bits < GOOD_BITS:
            return "1024"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status} | asdict(self)


def read_key(report: DkimReport, text: str) -> None:
    """Fill ``report`` from one key record (pure)."""
    tags = parse_tags(text)
    table = {k.lower(): v for k, v in reversed(tags)}
    counts = Counter(k.lower() for k, _ in tags)
    report.problems += [f"tag {k}= appears {n} times (RFC 6376 section 3.2)" for k, n in counts.items() if n > 1]
    hashes = table.get("h")
    if hashes is not None and "sha256" not in _colon_list(hashes):
        report.problems.append(f"h={hashes} does not allow sha256, and verifiers refuse SHA-1 (RFC 8301)")
    services = table.get("s")
    if services is not None and not {"email", "*"} & _colon_list(services):
        report.problems.append(f"s={services}: the key is not for email (RFC 6376 section 3.6.1)")
    report.testing = "y" in _colon_list(table.get("t", ""))
    if tags and tags[0][0].lower() != "v" and "v" in table:
        report.problems.append("v= must be the first tag")
    if "v" in table and table["v"] != "DKIM1":
        report.problems.append(f"v={table['v']} is not DKIM1")
    key_type = table.get("k", "rsa").lower()
    report.key_type = key_type
    if "p" not in table:
        report.problems.append("no p= tag (the public key)")
        return
    data = "".join(table["p"].split())
    if not data:
        report.revoked = True
        return
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        report.problems.append("p= is not base64")
        return
    if key_type == "ed25519":
        if len(raw) != 32:
            report.problems.append(f"an ed25519 key is 32 bytes, this one {len(raw)}")
        report.bits = 256
        return
    if key_type != "rsa":
        report.problems.append(f"k={key_type} is not rsa or ed25519")
        return
    try:
        key = load_der_public_key(raw)
    except (ValueError, TypeError) as exc:
        report.problems.append(f"p= is not an RSA public key ({type(exc).__name__})")
        return
    if not isinstance(key, rsa.RSAPublicKey):
        report.problems.append("p= holds a key that is not RSA")
        return
    report.bits = key.key_size


def _colon_list(value: str) -> set[str]:
    return {item.strip(" \t").lower() for item in value.split(":")}


def _is_key(text: str) -> bool:
    return any(k.strip().lower() == "p" for k, _ in parse_tags(text)) or text.strip().lower().startswith("v=dkim1")


async def check_selector(dns: SenderDns, domain: str, selector: str) -> DkimReport:
    name = f"{selector}._domainkey.{domain.strip().rstrip('.').lower()}"
    report = DkimReport(selector=selector, name=name)
    txt, alias = await asyncio.gather(dns.get(name, "TXT"), dns.get(name, "CNAME"), return_exceptions=True)
    if isinstance(alias, Records) and alias.values:
        report.cname = alias.values[0]
        report.m365_cname = m365_target_shape(selector, domain, report.cname)
    if isinstance(txt, TempFailure):
        report.error = txt.reason
        return report
    if isinstance(txt, BaseException):
        raise txt
    keys = [t for t in txt.values if _is_key(t)]
    if not keys:
        return report
    report.present, report.record = True, keys[0]
    if len(keys) > 1:
        report.problems.append(f"{len(keys)} key records at {name}: verifiers may pick any")
    read_key(report, keys[0])
    return report


async def check_dkim(dns: SenderDns, domain: str, selectors: tuple[str, ...] = DEFAULT_SELECTORS) -> list[DkimReport]:
    return list(await asyncio.gather(*(check_selector(dns, domain, s) for s in selectors)))
