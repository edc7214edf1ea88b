"""Checklist steps filled in with what this case is about: the bounce's hosts, the probes' findings.

A checklist step in the knowledge base names its fields (``Test-NetConnection {host} -Port {port}``,
``-Recipients {recipient}``); ``known_from_bounce`` and ``known_from_diagnosis`` say what this
case knows, and ``fill_step`` puts it in. A field nothing knows keeps an example value
(``mail.contoso.com``) marked as a placeholder, ``<mail.contoso.com>``, the way command
references mark what to replace, in every renderer (terminal, JSON, Slack): it cannot be run
as it is by mistake, and ``placeholder_note`` in ui.toml says so. Each filled step lists which
fields were filled and which are placeholders (the JSON shows both). A field whose default is
right unless the case says otherwise (``DEFAULTS``: port 25) shows it unmarked, listed as neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.knowledge import Step, substitute, template_fields

if TYPE_CHECKING:
    from bot.parse import Bounce
    from bot.probes.result import ProbeResult

# The example shown, marked, when nothing better is known (knowledge.CHECKLIST_FIELDS).
EXAMPLES: Mapping[str, str] = {
    "host": "mail.contoso.com",
    "ip": "203.0.113.25",
    "domain": "contoso.com",
    "recipient": "user@contoso.com",
    "tls_domain": "mail.contoso.com",
    "nameserver": "ns1.dnsprovider.example",
    "connector": "Outbound to on-premises",
    "smart_host": "mail.contoso.com",
    "sender": "user@contoso.com",
    "sender_domain": "contoso.com",
    "ehlo_name": "test.contoso.com",
}


# Fields with a value that is right unless the case says otherwise: filled, not marked. Mail
# between servers goes to port 25; only a lab probes another (``--port``), and then says so.
DEFAULTS: Mapping[str, str] = {"port": "25"}


def mark(example: str) -> str:
    """How a placeholder is shown: ``<mail.contoso.com>``."""
    return f"<{example}>"


def fill_step(step: Step, known: Mapping[str, str], examples: Mapping[str, str] | None = None) -> Step:
    """``step`` with its fields filled from ``known``, the rest as marked examples (``examples``
    first, for an example fitted to the case, then ``EXAMPLES``)."""
    names = template_fields(step.text)[2]
    if not names:
        return step
    values, filled, placeholders = field_values(names, known, examples)
    return Step(step.id, substitute(step.text, values), tuple(filled.items()), tuple(placeholders.items()))


def field_values(
    names: Iterable[str], known: Mapping[str, str], examples: Mapping[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The rule for each field of a step: what it shows, and whether it is filled from the case
    (``known``), shown as a default, or shown as a marked example. Returns (shown, filled,
    placeholders), each keyed by field name in the order of ``names``."""
    filled: dict[str, str] = {}
    placeholders: dict[str, str] = {}
    values: dict[str, str] = {}  # what each field shows
    for name in names:
        value = known.get(name)
        if value:
            filled[name] = values[name] = value
        elif name in DEFAULTS:  # neither filled nor marked
            values[name] = DEFAULTS[name]
        else:
            example = (examples.get(name) if examples else None) or EXAMPLES.get(name, name)
            placeholders[name] = example
            values[name] = mark(example)
    return values, filled, placeholders


def step_record(step: Step) -> dict[str, Any]:
    """A filled step as JSON: its text, the fields the case filled and the ones left as marked examples."""
    return {"id": step.id, "text": step.text, "filled": dict(step.filled), "placeholders": dict(step.placeholders)}


def has_placeholders(steps: Sequence[Step]) -> bool:
    return any(s.placeholders for s in steps)


def _domain_of(address: str) -> str | None:
    domain = address.rsplit("@", 1)[-1].strip().strip(".").lower() if "@" in address else ""
    return domain or None


def known_from_bounce(bounce: Bounce) -> dict[str, str]:
    """What a bounce tells: the server it tried (``LastAttemptedServerName`` or the remote
    host), its address, and the recipient and the recipient's domain."""
    known: dict[str, str] = {}
    if bounce.remote_host:
        known["host"] = bounce.remote_host
    if bounce.remote_ip:
        known["ip"] = bounce.remote_ip
    for recipient in bounce.recipients:
        domain = _domain_of(recipient)
        if domain:
            known["recipient"], known["domain"] = recipient, domain
            break
    return known


def _first(results: Sequence[ProbeResult], name: str) -> ProbeResult | None:
    return next((r for r in results if r.name == name and not r.skipped), None)


def _tls_domain(certificate: ProbeResult | None, host: str | None) -> str | None:
    """A TlsDomain the certificate supports: the host when the certificate names it, else its first name."""
    if certificate is None:
        return None
    names = [str(n) for n in certificate.facts.get("sans") or []]
    if not names and certificate.facts.get("common_name"):
        names = [str(certificate.facts["common_name"])]
    if host and host in names:
        return host
    return names[0] if names else None


def known_from_diagnosis(
    target: str,
    domain: str,
    *,
    is_ip: bool,
    tls_domain: str | None,
    evidence: Sequence[ProbeResult],
    results: Sequence[ProbeResult],
) -> dict[str, str]:
    """What the probes found: the host and address that decided the verdict (else the first
    ones probed), the domain and recipient of the request, the TlsDomain the certificate
    supports, an authoritative name server, the port probed."""
    known: dict[str, str] = {}
    deciding = next((r for r in evidence if r.facts.get("address")), None)
    path = deciding or next((r for r in results if r.name == "tcp" and r.facts.get("address")), None)
    if path is not None:
        known["ip"] = str(path.facts["address"])
        if path.facts.get("port"):
            known["port"] = str(path.facts["port"])
        if path.facts.get("host"):
            known["host"] = str(path.facts["host"])
    if "host" not in known:
        mx = _first(results, "mx")
        hosts = [m.get("host") for m in (mx.facts.get("mx") or [])] if mx is not None else []
        named = next((h for h in hosts if h and h != "."), None)
        address = _first(results, "address")
        if named:
            known["host"] = str(named)
        elif address is not None:
            known["host"] = address.target
    if "ip" not in known:
        address = _first(results, "address")
        found = address.facts.get("addresses") if address is not None else None
        if found:
            known["ip"] = str(found[0])
    if "port" not in known:
        tcp = _first(results, "tcp")
        if tcp is not None and tcp.facts.get("port"):
            known["port"] = str(tcp.facts["port"])
    if not is_ip:
        known["domain"] = domain
        known["recipient"] = target if "@" in target else f"postmaster@{domain}"  # RFC 5321 section 4.5.1
    certificate = next((r for r in evidence if r.name == "certificate"), None) or _first(results, "certificate")
    supported = tls_domain or _tls_domain(certificate, known.get("host"))
    if supported:
        known["tls_domain"] = supported
    authoritative = _first(results, "authoritative")
    servers = authoritative.facts.get("ns") if authoritative is not None else None
    if servers:
        known["nameserver"] = str(servers[0]).rstrip(".")
    return known
