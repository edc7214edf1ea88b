"""What the bounce parser returns: small frozen value objects, no behaviour beyond views."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.parse.sender import Sender


@dataclass(frozen=True, slots=True)
class Code:
    """One SMTP reply found in the diagnostic text.

    ``status`` is the enhanced status code (RFC 3463, ``"4.4.316"``), ``reply_code`` the basic
    reply (RFC 5321, ``"450"``); either may be None. ``depth`` counts how deeply the reply sits
    inside Exchange's bracketed wrappers (``[{LED=...}]``, ``[Message=...]``): the nested one is
    usually the real cause and the outer one the queue-expiry wrapper.
    """

    status: str | None
    reply_code: str | None
    text: str
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One failed (or delayed) recipient and what the remote side said about it."""

    recipient: str | None
    status: str | None
    reply_code: str | None
    reason: str
    remote_host: str | None = None
    diagnostic: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class Bounce:
    """The parse of one input. ``is_ndr`` False means "not a bounce", with ``why_not``."""

    is_ndr: bool
    why_not: str | None = None
    language: str | None = None
    primary: Code | None = None
    codes: tuple[Code, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    remote_host: str | None = None
    remote_ip: str | None = None
    reporting_server: str | None = None
    kind: str | None = None  # which shape was recognised: "dsn", "exchange", "queue", "exim", ...
    truncated: bool = False
    notes: tuple[str, ...] = field(default=())
    sender: Sender = field(default=Sender())  # who sent the refused mail (domain, IP), as far as shown
    date: str | None = None  # the report's own date, ISO 8601 UTC (``parse/dates.py``)

    @property
    def recipients(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for delivery in self.deliveries:
            if delivery.recipient:
                seen.setdefault(delivery.recipient, None)
        return tuple(seen)


NOT_A_BOUNCE = Bounce(is_ndr=False, why_not="no delivery failure found")
