"""What the bounce parser returns: small frozen value objects, no behaviour beyond views.

Each class writes its own ``__init__`` (``init=False``) with the parameters the generated one
would have, storing through its slots' setters (``frozen.py``: every parse builds one ``Bounce``,
a ``Delivery`` per recipient and a ``Code`` per reply). Equality, hashing, ``repr``,
``dataclasses.replace`` and ``dataclasses.fields`` are the dataclass's own.

The rest of the parser is compiled (``pyproject.toml``); these classes are not: they stay the
standard library's dataclasses, which pickle (the parse pool's workers send them) and show
their signatures as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.frozen import slot_setters


@dataclass(frozen=True, slots=True, init=False)
class Sender:
    """The sender as the bounce shows it (``sender.py`` reads it). Its own ``__init__`` (the
    generated one's parameters) stores each field through its slot's setter (``frozen.py``: one
    is built per bounce)."""

    domain: str | None = None
    ip: str | None = None
    mailfrom: str | None = None  # the envelope (MAIL FROM / Return-Path) domain, when shown

    def __init__(self, domain: str | None = None, ip: str | None = None, mailfrom: str | None = None) -> None:
        _sender_domain(self, domain)
        _sender_ip(self, ip)
        _sender_mailfrom(self, mailfrom)


_sender_domain, _sender_ip, _sender_mailfrom = slot_setters(Sender)
_NO_SENDER = Sender()


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(self, status: str | None, reply_code: str | None, text: str, depth: int = 0) -> None:
        _code_status(self, status)
        _code_reply_code(self, reply_code)
        _code_text(self, text)
        _code_depth(self, depth)


_code_status, _code_reply_code, _code_text, _code_depth = slot_setters(Code)


@dataclass(frozen=True, slots=True, init=False)
class Delivery:
    """One failed (or delayed) recipient and what the remote side said about it."""

    recipient: str | None
    status: str | None
    reply_code: str | None
    reason: str
    remote_host: str | None = None
    diagnostic: str | None = None
    action: str | None = None

    def __init__(  # noqa: PLR0917 - the generated __init__'s own positional parameters
        self,
        recipient: str | None,
        status: str | None,
        reply_code: str | None,
        reason: str,
        remote_host: str | None = None,
        diagnostic: str | None = None,
        action: str | None = None,
    ) -> None:
        _delivery_recipient(self, recipient)
        _delivery_status(self, status)
        _delivery_reply_code(self, reply_code)
        _delivery_reason(self, reason)
        _delivery_remote_host(self, remote_host)
        _delivery_diagnostic(self, diagnostic)
        _delivery_action(self, action)


(
    _delivery_recipient,
    _delivery_status,
    _delivery_reply_code,
    _delivery_reason,
    _delivery_remote_host,
    _delivery_diagnostic,
    _delivery_action,
) = slot_setters(Delivery)


@dataclass(frozen=True, slots=True, init=False)
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
    sender: Sender = field(default=_NO_SENDER)  # who sent the refused mail (domain, IP), as far as shown
    date: str | None = None  # the report's own date, ISO 8601 UTC (``parse/dates.py``)

    def __init__(  # noqa: PLR0917 - the generated __init__'s own positional parameters
        self,
        is_ndr: bool,
        why_not: str | None = None,
        language: str | None = None,
        primary: Code | None = None,
        codes: tuple[Code, ...] = (),
        deliveries: tuple[Delivery, ...] = (),
        remote_host: str | None = None,
        remote_ip: str | None = None,
        reporting_server: str | None = None,
        kind: str | None = None,
        truncated: bool = False,
        notes: tuple[str, ...] = (),
        sender: Sender = _NO_SENDER,
        date: str | None = None,
    ) -> None:
        _bounce_is_ndr(self, is_ndr)
        _bounce_why_not(self, why_not)
        _bounce_language(self, language)
        _bounce_primary(self, primary)
        _bounce_codes(self, codes)
        _bounce_deliveries(self, deliveries)
        _bounce_remote_host(self, remote_host)
        _bounce_remote_ip(self, remote_ip)
        _bounce_reporting_server(self, reporting_server)
        _bounce_kind(self, kind)
        _bounce_truncated(self, truncated)
        _bounce_notes(self, notes)
        _bounce_sender(self, sender)
        _bounce_date(self, date)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Each delivery's recipient once, in order (a key set again keeps its first place)."""
        deliveries = self.deliveries
        if len(deliveries) == 1:  # most bounces: no order to keep, nothing repeated
            recipient = deliveries[0].recipient
            return (recipient,) if recipient else ()
        seen: dict[str, None] = {}
        for delivery in deliveries:
            if delivery.recipient:
                seen[delivery.recipient] = None
        return tuple(seen)


(
    _bounce_is_ndr,
    _bounce_why_not,
    _bounce_language,
    _bounce_primary,
    _bounce_codes,
    _bounce_deliveries,
    _bounce_remote_host,
    _bounce_remote_ip,
    _bounce_reporting_server,
    _bounce_kind,
    _bounce_truncated,
    _bounce_notes,
    _bounce_sender,
    _bounce_date,
) = slot_setters(Bounce)


NOT_A_BOUNCE = Bounce(is_ndr=False, why_not="no delivery failure found")
