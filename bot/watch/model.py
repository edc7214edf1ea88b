"""Watch values and the ``/mailflow watch`` arguments. Pure: no I/O.

A ``Watch`` is the whole state of one watch, stored as one JSON value (see ``book``). ``rev``
counts its writes: every update names the revision it read, so two workers never overwrite
each other's change (compare-and-set, ``book.WatchBook.replace``).

The verdict a watch compares is a short key: the connector error (``"4.4.316"``), a failure that
is no connector error (``"null-mx"``), or ``"healthy"``. A run the deadline cut
("incomplete") has no key: it proves nothing either way, so it never counts as a change.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot.errors import InputError
from bot.settings import Settings, format_duration, parse_duration
from bot.verdict import INCOMPLETE, Verdict

HEALTHY = "healthy"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SLACK_LINK = re.compile(r"^<(?:mailto:|https?://)?([^|>]+)(?:\|([^>]+))?>$")


def verdict_key(verdict: Verdict) -> str | None:
    """What a watch compares: the code, the failure, ``"healthy"``; None for an incomplete run."""
    if verdict.code is not None:
        return verdict.code
    if verdict.failure == INCOMPLETE:
        return None
    return verdict.failure or HEALTHY


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A change message not yet confirmed posted (the watch's outbox)."""

    seq: int  # the change number within the watch: 1, 2, ...
    text: str
    at: float  # when the change was seen (epoch seconds)


@dataclass(frozen=True, slots=True)
class Watch:
    id: str
    channel: str
    thread_ts: str | None  # the thread to post in; None: the channel itself
    domain: str
    every_s: float
    started_at: float  # epoch seconds; tick n is due at started_at + n * every_s
    until: float  # epoch seconds; no tick runs after it
    user: str | None = None  # who started it
    language: str = "en"
    verdict: str | None = None  # the last verdict key; None until the first probe
    detail: str = ""  # the evidence behind it, one line
    checked_at: float | None = None
    changes: int = 0
    rev: int = 0
    outbox: tuple[Outgoing, ...] = field(default=())

    def due(self, tick: int) -> float:
        return self.started_at + tick * self.every_s

    def next_tick(self, now: float) -> int:
        """The first tick due after ``now``."""
        return max(0, int((now - self.started_at) // self.every_s) + 1)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: bytes | str) -> Watch:
        data: dict[str, Any] = json.loads(raw)
        data["outbox"] = tuple(Outgoing(**item) for item in data.get("outbox") or ())
        return cls(**data)

    def bumped(self, **changes: Any) -> Watch:
        """A copy with ``changes`` and the next revision."""
        return replace(self, rev=self.rev + 1, **changes)


@dataclass(frozen=True, slots=True)
class WatchArgs:
    domain: str
    every_s: float
    for_s: float


def normalise_domain(text: str) -> str:
    """A domain from what people paste: ``<http://x.com|x.com>``, ``user@x.com``, ``X.COM.``."""
    text = text.strip()
    link = _SLACK_LINK.match(text)
    if link:
        text = link[2] or link[1]
    domain = text.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    domain = domain.removeprefix("http://").removeprefix("https://").split("/", 1)[0]
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InputError(f"{text!r} is not a domain name")
    return domain


def parse_watch_args(text: str, settings: Settings) -> WatchArgs:
    """``DOMAIN [--every 5m] [--for 2h]`` (``--every=5m`` too), within the settings' bounds.

    Raises ``InputError`` with a message for the user.
    """
    words = text.split()
    domain: str | None = None
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            name, _, value = word[2:].partition("=")
            if name not in ("every", "for"):
                raise InputError(f"unknown option --{name}: use --every and --for")
            if not value:
                i += 1
                if i >= len(words):
                    raise InputError(f"--{name} needs a duration such as 5m or 2h")
                value = words[i]
            options[name] = value
        elif domain is None:
            domain = normalise_domain(word)
        else:
            raise InputError(f"one domain at a time: {word!r} is extra")
        i += 1
    if domain is None:
        raise InputError("name the domain to watch: /mailflow watch contoso.com [--every 5m] [--for 2h]")
    try:
        every = parse_duration(options["every"]) if "every" in options else settings.watch_every
        for_s = parse_duration(options["for"]) if "for" in options else settings.watch_for
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if every < settings.watch_min_every:
        raise InputError(f"--every must be at least {format_duration(settings.watch_min_every)}")
    if for_s > settings.watch_max_for:
        raise InputError(f"--for must be at most {format_duration(settings.watch_max_for)}")
    if every > for_s:
        raise InputError(f"--every ({format_duration(every)}) is longer than --for ({format_duration(for_s)})")
    return WatchArgs(domain, every, for_s)
