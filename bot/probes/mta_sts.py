"""MTA-STS (RFC 8461): does the domain require TLS to its MX hosts, and do its MX hosts match?

Strategy: I/O in three small steps, judgement in pure functions (``read_sts_record``,
``parse_policy``, ``mx_matches``):
1. TXT ``_mta-sts.<domain>``: records not beginning with ``v=STSv1`` are discarded; exactly one
   must remain, with an ``id`` of 1 to 32 letters and digits (section 3.1).
2. The policy from ``endpoints.mta_sts_policy`` (``https://mta-sts.<domain>/.well-known/mta-sts.txt``)
   through the guarded ``http.fetch``: status 200, ``text/plain``, redirects never followed
   (section 3.3), at most 64 KiB. Lines ``key: value``: ``version: STSv1``, ``mode`` (enforce,
   testing, none), ``max_age`` (0 to 31557600 s), ``mx`` patterns (section 3.2).
3. Each MX host (given, or looked up) against the ``mx`` patterns: a pattern matches the host
   exactly, or ``*.`` matches exactly one leftmost label (section 4.1).

    no record                                   ok: no MTA-STS
    policy fetched, every MX matches            ok: the mode named
    an MX does not match, mode enforce          not ok: MTA-STS senders refuse that host
    an MX does not match, mode testing / none   ok: reports only, named
    record or policy broken, fetch failed       not ok: the failure named

No result here carries a connector error code: MTA-STS failures are the sender's policy
decision, and the evidence tells the admin which host or which file to fix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.rdtypes.ANY.MX

from bot.errors import ProbeError
from bot.probes.context import ProbeContext
from bot.probes.dnsquery import DnsFailure, DnsTimeout, display, elapsed_ms, lookup, parse_tags, txt_texts
from bot.probes.http import fetch
from bot.probes.result import ProbeResult, observed
from bot.texts import Text, of_error, text

STEP = "mta_sts"
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 section 3.3 suggests senders cap the policy (64 KB)
MAX_AGE_LIMIT = 31_557_600  # section 3.2: about one year
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")


@dataclass(frozen=True, slots=True)
class StsPolicy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: tuple[str, ...] = ()
    errors: tuple[Text, ...] = field(default=())


def read_sts_record(texts: list[str]) -> tuple[str | None, Text | None]:
    """Pure: (policy id, problem) from the TXT strings at ``_mta-sts.<domain>``; (None, None): none."""
    records = [t for t in texts if re.match(r"v=STSv1\s*(;|$)", t)]
    if not records:
        return None, None
    if len(records) > 1:
        return None, text("mta_sts.several_records", count=len(records))
    tags = dict(parse_tags(records[0]))
    policy_id = tags.get("id", "")
    if not _ID.fullmatch(policy_id):
        return None, text("mta_sts.bad_id", id=repr(policy_id))
    return policy_id, None


def parse_policy(body: str) -> StsPolicy:
    """Pure: the policy file's fields; ``errors`` names what RFC 8461 section 3.2 would reject."""
    fields: dict[str, str] = {}
    mx: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "mx":
            mx.append(value.lower().rstrip("."))
        else:
            fields.setdefault(key, value)
    errors: list[Text] = []
    version = fields.get("version")
    if version != "STSv1":
        errors.append(text("mta_sts.bad_version", version=repr(version)))
    mode = fields.get("mode")
    if mode not in MODES:
        errors.append(text("mta_sts.bad_mode", mode=repr(mode), modes=", ".join(MODES)))
    raw_age = fields.get("max_age", "")
    max_age = int(raw_age) if raw_age.isdigit() and len(raw_age) <= 10 else None
    if max_age is None or max_age > MAX_AGE_LIMIT:
        errors.append(text("mta_sts.bad_max_age", max_age=repr(raw_age), limit=MAX_AGE_LIMIT))
    if not mx and mode in ("enforce", "testing"):
        errors.append(text("mta_sts.no_mx"))
    return StsPolicy(version, mode, max_age, tuple(mx), tuple(errors))


def mx_matches(host: str, patterns: Sequence[str]) -> bool:
    """Pure: RFC 8461 section 4.1: exact, or ``*.`` standing for exactly one leftmost label."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            first, _, rest = host.partition(".")
            if first and rest == pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


async def _mx_hosts(ctx: ProbeContext, domain: str) -> tuple[list[str], Text | None]:
    try:
        answer = await lookup(ctx, domain, "MX", step=STEP)
    except (DnsFailure, DnsTimeout) as exc:
        return [], text("mta_sts.mx_unchecked", reason=exc.said)
    hosts = [display(r.exchange) for r in answer.records if isinstance(r, dns.rdtypes.ANY.MX.MX)]
    return [h for h in hosts if h] or [domain], None


async def probe_mta_sts(ctx: ProbeContext, domain: str, mx_hosts: Sequence[str] | None = None) -> ProbeResult:
    """The "mta_sts" step for ``domain``; ``mx_hosts`` to check, or None to look them up."""
    started = time.perf_counter()
    name = display(domain)
    record_name = f"_mta-sts.{name}"

    def result(ok: bool, said: Text | list[Text], **facts: Any) -> ProbeResult:
        return observed(STEP, name, ok, said, None, elapsed_ms(started), facts)

    try:
        answer = await lookup(ctx, record_name, "TXT", step=STEP)
    except DnsTimeout as exc:
        return result(False, exc.said, present=None, timeout=exc.seconds)
    except DnsFailure as exc:
        if exc.kind != "nxdomain":
            return result(False, exc.said, present=None, rcode=exc.rcode)
        answer = None
    policy_id, problem = read_sts_record(txt_texts(answer)) if answer else (None, None)
    if problem:
        return result(False, text("mta_sts.record_unusable", name=record_name, problem=problem), present=True)
    if policy_id is None:
        return result(True, text("mta_sts.none", name=record_name), present=False)

    url = ctx.config.endpoints.mta_sts_policy.format(domain=name)
    facts: dict[str, Any] = {"present": True, "id": policy_id, "policy_url": url}
    try:
        response = await fetch(ctx, url, step=STEP, accept="text/plain", max_bytes=MAX_POLICY_BYTES)
    except ProbeError as exc:
        return result(False, text("mta_sts.fetch_failed", reason=of_error(exc)), **facts)
    if 300 <= response.status < 400:
        where: str | Text = response.location or text("mta_sts.elsewhere")
        return result(False, text("mta_sts.redirect", where=where), status=response.status, **facts)
    if response.status != 200:
        status = f"{response.status} {response.reason}".rstrip()
        return result(False, text("mta_sts.http_status", status=status), status=response.status, **facts)
    if response.content_type != "text/plain":
        said = text("mta_sts.content_type", content_type=repr(response.content_type))
        return result(False, said, status=200, **facts)
    policy = parse_policy(response.text())
    facts |= {"version": policy.version, "mode": policy.mode, "max_age": policy.max_age, "mx": list(policy.mx)}
    if policy.errors:
        return result(False, text("mta_sts.invalid", errors=policy.errors), **facts)

    if policy.mode == "none":
        return result(True, text("mta_sts.withdrawn", max_age=str(policy.max_age)), **facts)
    hosts, lookup_note = (list(mx_hosts), None) if mx_hosts is not None else await _mx_hosts(ctx, name)
    matches = {host: mx_matches(host, policy.mx) for host in hosts}
    facts["matches"] = matches
    unmatched = [h for h, ok in matches.items() if not ok]
    patterns: str | Text = ", ".join(policy.mx) or text("mta_sts.no_patterns")
    head = text("mta_sts.policy", mode=str(policy.mode), max_age=str(policy.max_age), patterns=patterns)
    if lookup_note is not None:
        return result(True, [head, lookup_note], **facts)
    if not unmatched:
        return result(True, [head, text("mta_sts.all_match", hosts=", ".join(hosts))], **facts)
    missing = ", ".join(unmatched)
    if policy.mode == "enforce":
        return result(False, [head, text("mta_sts.not_covered", hosts=missing)], **facts)
    return result(True, [head, text("mta_sts.not_covered_reported", hosts=missing, mode=str(policy.mode))], **facts)
