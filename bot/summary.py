"""The war-room view: many bounces (and diagnoses) in, one triage table out. Pure: no I/O.

    event_from_bounce(bounce, expl)  one bounce -> an ``Event``: the code and knowledge key its
                                     explanation answered with (as ``explain`` shows it),
                                     reason, destination domains, hashed recipients and date
    diagnosis_event(...)             one diagnosis the bot ran -> an ``Event``
    summarise(events, ...)           -> ``Summary``: by code, by domain, by reason, a timeline
    summary_record(summary, lang)    -> the JSON shape of ``mailflow summary --format json``

An ``Event`` holds no address: recipients are kept as the first 16 hex digits of a hash of
the lower-cased address (enough to count distinct ones), destinations as domains. That is what
the Slack bot may keep per channel (``bot/store``: ``summary:<channel>``). The bot's hash is an
HMAC under a key of its own (``recipient_key``), so whoever reads Redis cannot hash a list of
addresses to find out which of them bounced; the CLI counts local files with plain SHA-256.

The timeline's bucket is picked from the span of the dated events (``pick_bucket``): the
smallest of ``BUCKETS`` giving at most ``MAX_BUCKETS`` bars (a multiple of the largest beyond
it), aligned on multiples of the bucket in UTC; empty buckets between the first and the last are
kept, so a chart shows the gaps.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from bot import knowledge
from bot.explain import Explanation, explain_code
from bot.parse import Bounce
from bot.parse.dates import iso

NO_CODE: Final = "unknown"  # the timeline's key (and the CSV's) for a bounce without a code
BUCKETS: Final = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 7 * 86400, 28 * 86400)
MAX_BUCKETS: Final = 48
FUTURE_SLACK_S: Final = 86400.0  # a bounce dated further ahead of the reader's clock than this: a clock off
# Per event, in the store (``Event.dumps``): a report naming more recipients keeps its first 20
# domains and 50 recipients there. The command line counts them all.
MAX_DOMAINS: Final = 20
MAX_RECIPIENTS: Final = 50
GROUPINGS: Final = ("code", "domain", "reason")


def hash_recipient(address: str, key: bytes = b"") -> str:
    """16 hex digits of HMAC-SHA256 under ``key``, or of SHA-256 without one."""
    normal = address.strip().lower().encode()
    digest = hmac.new(key, normal, hashlib.sha256) if key else hashlib.sha256(normal)
    return digest.hexdigest()[:16]


def recipient_key(secret: str) -> bytes:
    """The key of the bot's recipient hashes, derived from one of its secrets (never stored)."""
    return hmac.new(secret.encode(), b"mailflow summary recipients", hashlib.sha256).digest()


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A bounce the bot answered or read (``kind="bounce"``), or a diagnosis it ran ("diagnosis").

    ``at`` is epoch seconds: the bounce's own date (None when it names none) or, in Slack, the
    time it was answered; ``key`` is the knowledge entry that explains ``code`` (so the title
    can be given in any language later); for a diagnosis, ``code`` is the verdict (None:
    healthy) and ``domains`` the domain probed.
    """

    kind: str
    at: float | None
    code: str | None = None
    key: str | None = None
    reason: str | None = None
    domains: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()  # hashed
    failure: str | None = None  # diagnosis: "null-mx", "incomplete", ...

    def dumps(self) -> bytes:
        data: dict[str, Any] = {"k": self.kind, "at": self.at, "c": self.code, "y": self.key, "r": self.reason}
        data |= {"d": list(self.domains[:MAX_DOMAINS]), "h": list(self.recipients[:MAX_RECIPIENTS]), "f": self.failure}
        return json.dumps({k: v for k, v in data.items() if v not in (None, [])}, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Event | None:
        """The event in ``raw``, or None when it is not one (written by another version)."""
        try:
            data = json.loads(raw)
            at = data.get("at")
            return cls(
                kind=str(data["k"]),
                at=None if at is None else float(at),
                code=_opt(data.get("c")),
                key=_opt(data.get("y")),
                reason=_opt(data.get("r")),
                domains=tuple(str(d) for d in data.get("d", ())[:MAX_DOMAINS]),
                recipients=tuple(str(h) for h in data.get("h", ())[:MAX_RECIPIENTS]),
                failure=_opt(data.get("f")),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _epoch(date: str | None) -> float | None:
    if not date:
        return None
    try:
        return dt.datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def event_from_bounce(
    bounce: Bounce, explanation: Explanation | None, *, at: float | None = None, recipients_key: bytes = b""
) -> Event:
    """The ``Event`` for a recognised bounce; ``at`` replaces the bounce's own date when given;
    ``recipients_key`` keys the recipients' hashes (``hash_recipient``).

    ``explanation`` is ``explain_bounce(bounce)``: the event keeps the code it answered with
    (``454`` for ``454 4.7.0``, whose reply code says more than X.7.0) and its knowledge key, so
    the summary's title is the one ``explain`` gives."""
    primary = bounce.primary
    code = (primary.status or primary.reply_code) if primary else None
    if explanation is not None:
        code = explanation.code
    recipients = bounce.recipients
    domains = dict.fromkeys(r.rsplit("@", 1)[-1].strip(".").lower() for r in recipients if "@" in r)
    if not domains and bounce.remote_host:
        domains = {bounce.remote_host.lower(): None}  # a queue error names the host, not the recipient
    reason = next((d.reason for d in bounce.deliveries if d.reason), None)
    return Event(
        kind="bounce",
        at=_epoch(bounce.date) if at is None else at,
        code=code,
        key=explanation.key if explanation else None,
        reason=reason,
        domains=tuple(domains),
        recipients=tuple(hash_recipient(r, recipients_key) for r in recipients),
    )


def diagnosis_event(domain: str, code: str | None, failure: str | None, *, at: float) -> Event:
    return Event(kind="diagnosis", at=at, code=code, domains=(domain.lower(),), failure=failure)


# -- aggregation -------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Group:
    """One row of a table: a code, a domain or a reason, with its count, dates and breakdown."""

    name: str | None
    count: int = 0
    first: float | None = None
    last: float | None = None
    parts: Counter[str] = dataclasses.field(default_factory=Counter)  # code -> domains; others -> codes
    key: str | None = None  # for a code: the knowledge entry that explains it

    def add(self, at: float | None, parts: Iterable[str]) -> None:
        self.count += 1
        if at is not None:
            self.first = at if self.first is None else min(self.first, at)
            self.last = at if self.last is None else max(self.last, at)
        self.parts.update(parts)


@dataclasses.dataclass(frozen=True, slots=True)
class Timeline:
    bucket_s: int
    starts: tuple[float, ...]
    counts: tuple[Mapping[str, int], ...]  # per bucket: code (or NO_CODE) -> bounces


@dataclasses.dataclass(frozen=True, slots=True)
class Diagnosed:
    """The diagnoses of one domain within the window: how many, and the latest verdict."""

    domain: str
    count: int
    code: str | None
    failure: str | None
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    bounces: int
    not_bounces: int
    unreadable: int
    undated: int  # bounces without a date of their own (counted, but not on the timeline)
    left_out: int  # bounces outside the --since window, or undated while one was asked
    recipients: int  # distinct
    first: float | None
    last: float | None
    by_code: tuple[Group, ...]
    by_domain: tuple[Group, ...]
    by_reason: tuple[Group, ...]
    timeline: Timeline
    diagnoses: tuple[Diagnosed, ...] = ()
    since_s: float | None = None
    future: int = 0  # bounces dated after ``now`` (a clock off): counted, their date left out

    def share(self, count: int) -> float:
        return round(count / self.bounces, 4) if self.bounces else 0.0


def _bars(first: float, last: float, size: int) -> int:
    return int(last // size - first // size) + 1  # buckets are aligned on multiples of ``size``


def pick_bucket(first: float, last: float) -> int:
    """The smallest of ``BUCKETS`` giving at most ``MAX_BUCKETS`` bars; beyond the largest (one
    bounce dated 1990 among others dated today, say), a multiple of it, so the timeline and the
    chart stay small whatever dates the bounces carry."""
    last = max(first, last)
    for size in BUCKETS:
        if _bars(first, last, size) <= MAX_BUCKETS:
            return size
    size = BUCKETS[-1] * max(1, math.ceil((last - first) / (BUCKETS[-1] * (MAX_BUCKETS - 2))))
    while _bars(first, last, size) > MAX_BUCKETS:
        size += BUCKETS[-1]
    return size


def timeline(events: Sequence[Event]) -> Timeline:
    dated = [e for e in events if e.at is not None]
    if not dated:
        return Timeline(BUCKETS[0], (), ())
    times = [e.at for e in dated if e.at is not None]
    first, last = min(times), max(times)
    size = pick_bucket(first, last)
    start = first // size * size
    n = int((last // size * size - start) // size) + 1
    counts: list[Counter[str]] = [Counter() for _ in range(n)]
    for event in dated:
        assert event.at is not None
        counts[int((event.at // size * size - start) // size)][event.code or NO_CODE] += 1
    return Timeline(size, tuple(start + i * size for i in range(n)), tuple(counts))


def _ordered(groups: Mapping[str | None, Group]) -> tuple[Group, ...]:
    return tuple(sorted(groups.values(), key=lambda g: (-g.count, g.name is None, g.name or "")))


def summarise(
    events: Iterable[Event],
    *,
    not_bounces: int = 0,
    unreadable: int = 0,
    since: float | None = None,
    since_s: float | None = None,
    now: float | None = None,
) -> Summary:
    """Count ``events``; with ``since`` (epoch s), only the bounces dated at or after it. With
    ``now``, a bounce dated more than ``FUTURE_SLACK_S`` after it (a sender's clock off) is
    counted, but its date is left out of first/last seen and the timeline (``future`` says how many)."""
    bounces: list[Event] = []
    diagnoses: dict[str, list[Event]] = {}
    left_out = undated = future = 0
    for event in events:
        if now is not None and event.kind == "bounce" and event.at is not None and event.at > now + FUTURE_SLACK_S:
            event = dataclasses.replace(event, at=None)  # noqa: PLW2901 - the same event, undated
            future += 1
            bounces.append(event)  # in any --since window: its date says nothing of when it happened
            continue
        if since is not None and (event.at is None or event.at < since):
            left_out += event.kind == "bounce"
            continue
        if event.kind == "diagnosis":
            diagnoses.setdefault(event.domains[0] if event.domains else "", []).append(event)
        elif event.kind == "bounce":
            bounces.append(event)
            undated += event.at is None
    by_code: dict[str | None, Group] = {}
    by_domain: dict[str | None, Group] = {}
    by_reason: dict[str | None, Group] = {}
    recipients: set[str] = set()
    for event in bounces:
        code = by_code.setdefault(event.code, Group(event.code, key=event.key))
        code.key = code.key or event.key
        code.add(event.at, event.domains)
        for domain in event.domains or (None,):
            by_domain.setdefault(domain, Group(domain)).add(event.at, [event.code or NO_CODE])
        by_reason.setdefault(event.reason, Group(event.reason)).add(event.at, [event.code or NO_CODE])
        recipients.update(event.recipients)
    times = [e.at for e in bounces if e.at is not None]
    diagnosed = []
    for domain, runs in diagnoses.items():
        latest = max(runs, key=lambda e: e.at or 0.0)
        diagnosed.append(Diagnosed(domain, len(runs), latest.code, latest.failure, latest.at or 0.0))
    return Summary(
        bounces=len(bounces),
        not_bounces=not_bounces,
        unreadable=unreadable,
        undated=undated,
        left_out=left_out,
        future=future,
        recipients=len(recipients),
        first=min(times) if times else None,
        last=max(times) if times else None,
        by_code=_ordered(by_code),
        by_domain=_ordered(by_domain),
        by_reason=_ordered(by_reason),
        timeline=timeline(bounces),
        diagnoses=tuple(sorted(diagnosed, key=lambda d: -d.at)),
        since_s=since_s,
    )


# -- titles and records ------------------------------------------------------------------------


def code_title(code: str | None, key: str | None, language: str) -> str | None:
    """The title of ``code`` in ``language``, as the bounce's own explanation had it (``key``)."""
    if code is None:
        return None
    if key == knowledge.CONNECTOR_OTHER:
        return knowledge.load(language).connector_other.title
    explanation = explain_code(code, language)
    return explanation.title if explanation else None


def when(epoch: float | None) -> str | None:
    return None if epoch is None else iso(dt.datetime.fromtimestamp(epoch, dt.UTC))


def _pairs(counter: Counter[str], name: str) -> list[dict[str, Any]]:
    return [{name: k, "count": n} for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def summary_record(summary: Summary, language: str) -> dict[str, Any]:
    """``mailflow summary --format json``."""
    return {
        "bounces": summary.bounces,
        "not_bounces": summary.not_bounces,
        "unreadable": summary.unreadable,
        "undated": summary.undated,
        "future": summary.future,
        "left_out": summary.left_out,
        "recipients": summary.recipients,
        "first_seen": when(summary.first),
        "last_seen": when(summary.last),
        "since_s": summary.since_s,
        "language": language,
        "by_code": [
            {
                "code": g.name,
                "title": code_title(g.name, g.key, language),
                "count": g.count,
                "share": summary.share(g.count),
                "domains": _pairs(g.parts, "domain"),
                "first_seen": when(g.first),
                "last_seen": when(g.last),
            }
            for g in summary.by_code
        ],
        "by_domain": [
            {
                "domain": g.name,
                "count": g.count,
                "share": summary.share(g.count),
                "codes": _pairs(g.parts, "code"),
                "first_seen": when(g.first),
                "last_seen": when(g.last),
            }
            for g in summary.by_domain
        ],
        "by_reason": [
            {
                "reason": g.name,
                "count": g.count,
                "share": summary.share(g.count),
                "codes": _pairs(g.parts, "code"),
                "first_seen": when(g.first),
                "last_seen": when(g.last),
            }
            for g in summary.by_reason
        ],
        "bucket_s": summary.timeline.bucket_s,
        "timeline": [
            {"start": when(start), "counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
            for start, counts in zip(summary.timeline.starts, summary.timeline.counts, strict=True)
        ],
        "diagnoses": [
            {"domain": d.domain, "count": d.count, "verdict": d.code, "failure": d.failure, "at": when(d.at)}
            for d in summary.diagnoses
        ],
    }
