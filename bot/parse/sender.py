"""Who sent the refused mail: the sending domain and IP, as far as the bounce shows them. Pure.

The IP, first found wins:
    "Client host [IP] blocked using ..."       (Postfix and others quoting a blocklist)
    "banned sending IP [IP]"                   (Exchange Online 5.7.606-649)
    "sender IP is IP"                          (Microsoft's Authentication-Results)
    "with ip: [IP]"                            (Gmail's 5.7.26 / 5.7.27 texts)
    "messages from [IP]"                       (Outlook.com's S3150 texts)
    "client-ip=IP"                             (Received-SPF)
    ";ip=IP"                                   (policyd-spf's "Why?s=mfrom;id=...;ip=..." link)
    the returned message's top Received line, when the receiving side added it (its ``by`` host
    is in a recipient's domain or the remote server's): "from helo (host [IP]) by mx.fabrikam..."
An internal address (RFC 1918, loopback, link-local, CGNAT, unique-local) is never the sending
IP: a marker followed by one is skipped. Only bracketed addresses are taken from Received, so
Exchange's internal hops (``from AM0PR... (2603:10a6:...)``) never are.

The domain (the From: domain, which DMARC judges): the one the diagnostic names ("sending
domain [X]", Gmail's "Unauthenticated email from X", ``header.from=``), else the returned
message's From:, else the MAIL FROM domain. The MAIL FROM domain (``mailfrom``, the one SPF is
checked on; an email service sends with its own, ``bounce.esp.example``): "SPF [X] with ip",
``smtp.mailfrom=``, policyd-spf's ``s=mfrom;id=user@X``, Received-SPF's ``envelope-from=``,
else the returned message's Return-Path:. A bounce
pasted as text (no MIME structure) still quotes the original's headers after a line such as
"Original message headers:": they are read from there, found by the parser's own rule for
where a quoted original starts (``source._original_marker``, linear).

Strategy: str.find on the lower-cased text for each marker (but those holding a ``=`` or a ``[``
only where the text holds one: a one-character search is far cheaper), then the token after it is read
with one bounded character-class match (``[a-z0-9._-]{0,253}``): linear, no backtracking.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping

from bot.parse import mime
from bot.parse.alternation import gated
from bot.parse.casing import lower
from bot.parse.model import Sender
from bot.parse.source import _original_marker

_IP_MARKERS = (
    "client host [",
    "banned sending ip [",
    "sender ip is ",
    "with ip: [",
    "messages from [",
    "client-ip=",
    ";ip=",
)
_FROM_MARKERS = (  # the From: domain, the one DMARC judges
    "sending domain [",
    "sending domain ",
    "unauthenticated email from ",
    "header.from=",
)
_MAILFROM_MARKERS = (  # the MAIL FROM (Return-Path) domain, the one SPF is checked on
    "spf [",
    "smtp.mailfrom=",
    "s=mfrom;id=",
    "envelope-from=",
)


# The markers that may occur in a text, by whether it holds a ``=``, a ``[`` and the word
# "sending" (``gated``): a search for one character is a ``memchr``, most reports hold no ``=``
# and nearly half no ``[``; one search for "sending" stands for the three markers holding it.
_GATES = ("=", "[", "sending")
_IP_GATED, _FROM_GATED, _MAILFROM_GATED = (
    gated(markers, _GATES, str) for markers in (_IP_MARKERS, _FROM_MARKERS, _MAILFROM_MARKERS)
)


def _gates(text: str) -> tuple[bool, bool, bool]:
    """Which of ``_GATES`` ``text`` holds."""
    return "=" in text, "[" in text, "sending" in text


# The tokens read after a marker, matched at an offset (bounded: at most the longest name).
_IP_TOKEN = re.compile(r"[0-9a-fA-F:.]{0,64}")
_NAME_TOKEN = re.compile(r"[a-z0-9._-]{0,253}")
_ADDRESS_TOKEN = re.compile(r"[a-z0-9._@-]{0,253}")  # a name, or an address whose domain is wanted
_IPV4_CHARS = frozenset("0123456789.")
_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/127",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
# The internal networks of each IP version as sorted ranges of addresses, first and last apart:
# an address is tested against its own kind only, and (the ranges do not overlap) only against
# the last range that starts at or before it (one ``bisect``, not a test per network).
_INTERNAL_RANGES = {
    v: sorted((int(net.network_address), int(net.broadcast_address)) for net in _INTERNAL if net.version == v)
    for v in (4, 6)
}
_INTERNAL_FIRST = {v: [first for first, _ in ranges] for v, ranges in _INTERNAL_RANGES.items()}
_INTERNAL_LAST = {v: [last for _, last in ranges] for v, ranges in _INTERNAL_RANGES.items()}
_MAX_MATCHES = 20  # markers examined per kind: a bounce does not repeat them hundreds of times


def _token(pattern: re.Pattern[str], text: str, start: int = 0) -> str:
    """The run of ``pattern``'s characters at ``start`` (possibly empty)."""
    m = pattern.match(text, start)
    return m.group() if m else ""


def external_ip(token: str) -> str | None:
    """``token`` as an address when it is one and not internal; None otherwise."""
    token = token.strip("[]()")
    if ":" not in token and not _IPV4_CHARS.issuperset(token):
        return None  # a host name: not an IPv4 address, and no IPv6 one without a colon
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return None if _internal(address) else str(address)


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Is ``address`` in one of the internal networks of its version (``_INTERNAL``)?"""
    number = int(address)
    at = bisect_right(_INTERNAL_FIRST[address.version], number) - 1
    return at >= 0 and number <= _INTERNAL_LAST[address.version][at]


def _ip_after(lowered: str, marker: str) -> str | None:
    at = 0
    for _ in range(_MAX_MATCHES):
        found = lowered.find(marker, at)
        if found == -1:
            return None
        at = found + len(marker)
        ip = external_ip(_token(_IP_TOKEN, lowered, at).rstrip("."))
        if ip:
            return ip
    return None


def receiving_domains(recipients: Iterable[str], remote_host: str | None) -> tuple[str, ...]:
    """The names that belong to the receiving side: the recipients' domains, and the remote
    server with its parent domain (``mx1.fabrikam.example`` -> ``fabrikam.example``)."""
    names = [str.lower(r.rsplit("@", 1)[-1].strip().rstrip(".")) for r in recipients if "@" in r]
    if remote_host and external_ip(remote_host) is None and not remote_host.strip("[]").count(":"):
        host = str.lower(remote_host.strip().rstrip("."))
        names.append(host)
        parent = host.split(".", 1)[1] if host.count(".") >= 2 else ""
        if parent:
            names.append(parent)
    elif len(names) == 1:  # the usual case: one recipient, no server named
        return (names[0],) if "." in names[0] else ()
    return tuple(dict.fromkeys([n for n in names if "." in n]))


def _within(host: str, names: Iterable[str]) -> bool:
    # ``host[-len(n) - 1 :] == "." + n`` is ``host.endswith("." + n)`` without a method call's
    # argument parsing (a shorter host slices to itself, which cannot equal the longer suffix)
    if host:
        for n in names:
            if host == n or host[-len(n) - 1 :] == "." + n:
                return True
    return False


def _received_ip(received: str, receivers: Iterable[str]) -> str | None:
    """The client address of a Received line the receiving side added (its ``by`` host is one
    of ``receivers`` or below one): the sender's own hops are never taken. The address is the
    first bracketed one inside the parenthesised TCP-info (``from helo (rdns [IP])``,
    ``from host ([IP] helo=...)``), else the first bracketed one of the ``from`` part."""
    lowered = str.lower(received)
    head, sep, tail = lowered.partition(" by ")
    if not sep or head.lstrip()[:5] != "from ":
        return None
    by = _token(_NAME_TOKEN, tail.lstrip()).rstrip(".")
    if not _within(by, receivers):
        return None
    client = _token(_NAME_TOKEN, head.lstrip()[5:].lstrip()).rstrip(".")
    if _within(client, receivers):
        return None  # a hop inside the receiving side (its own relay), not the sender
    opened = head.find("(")
    for start in (opened, 0) if opened != -1 else (0,):
        at = start
        for _ in range(_MAX_MATCHES):
            bracket = head.find("[", at)
            if bracket == -1:
                break
            close = head.find("]", bracket)
            if close == -1:
                break
            ip = external_ip(head[bracket + 1 : close].removeprefix("ipv6:"))
            if ip:
                return ip
            at = close
    return None


def domain_of(value: str | None) -> str | None:
    """The domain of an address in a header value (``"A" <a@contoso.com>`` -> contoso.com)."""
    if not value or "@" not in value:
        return None
    # the name token after the last "@": ``rpartition`` and a match at 0 (``_NAME_TOKEN`` always
    # matches, perhaps empty) cost less than a ``str.rfind`` call and a match at a position
    return _clean_domain(_NAME_TOKEN.match(lower(value).rpartition("@")[2]).group())  # type: ignore[union-attr]


def _clean_domain(text: str) -> str | None:
    """``text`` (a ``_NAME_TOKEN``, or an ``_ADDRESS_TOKEN``'s part after "@": lower case already)
    as a domain name, or None when it cannot be one."""
    name = text.strip(".-_")
    labels = name.split(".")
    # a name of at most 63 characters holds no longer label: the labels are measured only in a
    # longer one
    if len(labels) < 2 or "" in labels or (len(name) > 63 and max(map(len, labels)) > 63):
        return None
    # no letter in the top-level label (so not an IPv4 address either, all digits and dots)
    if not labels[-1].strip("0123456789-_"):
        return None
    return name


def _named_domain(lowered: str, markers: tuple[str, ...]) -> str | None:
    for marker in markers:
        if marker not in lowered:
            continue
        at = 0
        for _ in range(_MAX_MATCHES):
            found = lowered.find(marker, at)
            if found == -1:
                break
            at = found + len(marker)
            start = at + 1 if lowered[at : at + 1] in ("[", "<", '"') else at
            value = _token(_ADDRESS_TOKEN, lowered, start)
            domain = _clean_domain(value.rsplit("@", 1)[-1])
            if domain:
                return domain
    return None


def pasted_original(text: str, lowered: str | None = None) -> dict[str, str]:
    """The returned original's header fields quoted in a pasted report (first of each name);
    ``lowered`` is ``text.lower()`` when the caller has it."""
    cut = _original_marker(text, lowered)
    if cut is None:
        return {}
    eol = text.find("\n", cut)
    tail = text[eol + 1 if eol != -1 else len(text) :].lstrip(" -\n")[:65536]
    # the block read straight from the text, as ``source`` reads a quoted original: only a block
    # that is not ASCII goes through its bytes, never all of the tail
    fields: dict[str, str] = {}
    for name, value in mime.parse_header_text(mime.quoted_header_block(tail), mime.ORIGINAL_FIELDS):
        fields.setdefault(name, value)
    return fields


def find_sender(
    text: str,
    original: Mapping[str, str],
    receivers: Iterable[str] | Callable[[], Iterable[str]] = (),
    lowered: str | None = None,
) -> Sender:
    """The sender as the report ``text`` and the returned message's headers ``original`` show it;
    ``receivers`` are the receiving side's names (``receiving_domains``), for the Received line,
    or a function that gives them (called only when the Received line is read: a third of the
    reports name the IP elsewhere or have no returned message); ``lowered`` is ``text.lower()``
    when the caller has it."""
    lowered = lower(text) if lowered is None else lowered
    if not original:
        original = pasted_original(text, lowered)
    results, spf = original.get("authentication-results"), original.get("received-spf")
    auth = str.lower(f"{results} {spf}" if results and spf else results or spf or "")
    ip = named = envelope = None
    if not auth:  # the usual case: the report's text alone
        gates = "=" in lowered, "[" in lowered, "sending" in lowered
        for marker in _IP_GATED[gates]:
            if marker in lowered and (ip := _ip_after(lowered, marker)):
                break
        named = _named_domain(lowered, _FROM_GATED[gates])
        envelope = _named_domain(lowered, _MAILFROM_GATED[gates])
    else:  # each marker in the report's text, then in the returned message's authentication results
        sources = [(lowered, _gates(lowered)), (auth, _gates(auth))]
        for marker in _IP_MARKERS:
            for source, gates in sources:
                if marker in _IP_GATED[gates] and marker in source and (ip := _ip_after(source, marker)):
                    break
            if ip:
                break
        for source, gates in sources:
            named = named or _named_domain(source, _FROM_GATED[gates])
            envelope = envelope or _named_domain(source, _MAILFROM_GATED[gates])
    if ip is None and original.get("received"):
        ip = _received_ip(original["received"], receivers() if callable(receivers) else receivers)
    mailfrom = envelope or domain_of(original.get("return-path"))
    domain = named or domain_of(original.get("from")) or mailfrom
    return Sender(domain, ip, mailfrom)
