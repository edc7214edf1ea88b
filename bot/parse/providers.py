"""Error codes that large receivers put in their own reply text, and the reason each one names.

Why: Cox, Spectrum, Orange, La Poste, Yahoo, GoDaddy, Comcast, Outlook.com and Mimecast wrap
every refusal in the same few generic statuses (550 5.1.0, 421 4.7.0, 554 5.0.0), but append a code of their own
(``AUP#CDRBL``, ``OFR_999 [999]``, ``[TSS04]``, ``IB212``) that they document publicly. That code
says what happened far better than the status around it, so when one is recognised it decides the
reason; an unknown code says nothing and the generic rules go on as before.

The tables are data, written from each provider's published error-code page (Cox "Email error
codes", Spectrum "Understanding email error codes", Orange and La Poste postmaster pages, Yahoo
"SMTP error codes", GoDaddy "Fix rejected email with a bounce error", Comcast "mail error
codes", Outlook.com's postmaster troubleshooting, Mimecast "SMTP error codes"), each entry
summarised in a comment. Recognition is cheap on purpose: every provider has
literal markers tested with ``in`` first; only a text holding one is searched with the provider's
short anchored pattern. A code on a quoted line (``> ...``) belongs to an earlier message and is
skipped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter

from bot.parse.alternation import gated
from bot.parse.casing import lower


@dataclass(frozen=True, slots=True)
class ProviderCode:
    """A recognised code: who issued it, the code as the table knows it, the reason it names."""

    provider: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Coded:
    """A provider whose replies carry a code of a fixed shape."""

    name: str
    markers: tuple[str, ...]  # literals (case as the provider writes them); one must occur
    pattern: re.Pattern[str]  # group 1 is the code
    codes: dict[str, str]  # code -> reason; a key may also be a code's stem (the letters before its digits)
    ranges: tuple[tuple[int, int, str], ...] = ()  # numeric codes documented as bands
    lead: int = 0  # how far into a match its marker can start: a match starts at most this far before one


# The code shapes, at module level so the linear-time checks find them.
_COX_CODE = re.compile(r"AUP#([A-Z][A-Z0-9]{2,9})\b")
_SPECTRUM_CODE = re.compile(r"AUP#(?:[A-Za-z]{1,3}-)?+([0-9]{4})\b")
_FRANCE_CODE = re.compile(r"\b(?:OFR|LPN|OUK)(?:AAA|[0-9]{3})?[_-]?([0-9]{3})\b")
_YAHOO_CODE = re.compile(r"\[((?:TSS?|BL|PH)[0-9]{2})\]")
_GODADDY_CODE = re.compile(r"\b(IB[0-9]{3})\b")
_COMCAST_CODE = re.compile(r"\b((?:BL|RL|ES)0[0-9]{2,5})\b")
_OUTLOOK_CODE = re.compile(r"\b((?:SC|DY|OU|RP)-00[0-9])\b")
_MICROSOFT_CODE = re.compile(r"\((S[0-9]{3,4})\)")


# Cox (cox.net; the replies point at cox.com's "email error codes" page), "AUP#" + letters/digits.
_COX = _Coded(
    "Cox",
    ("AUP#",),
    _COX_CODE,
    {
        "CXBL": "blocked",  # the sending IP is blocked for spam-like behaviour; lifted on request only
        "CDRBL": "blocked",  # the sending IP is blocked for a while (at most a day) for spam-like traffic
        "CXDNS": "requireptr",  # the connecting IP's reverse DNS lookup fails
        "CXSNDR": "authfailure",  # the sender domain fails its own SPF/DKIM checks
        "CXSMTP": "rejected",  # SMTP protocol violation: the sender could not be taken as legitimate
        "CXCNCT": "toomanyconn",  # too many simultaneous connections from one IP
        "CXMXRT": "speeding",  # the sender went over the number of messages/recipients allowed
        "CXTHRT": "securityerror",  # a Cox account's sending is limited after suspicious activity
        "CXMJ": "securityerror",  # a Cox account's sending is blocked after suspicious activity
        "IPBL": "blocked",  # IPBLnnnn: the IP is on one or more public DNS blocklists (each bit one list)
        "URLBL": "spamdetected",  # URLBLnnn: a link in the body is on URL blocklists
    },
)

# Spectrum/Charter (charter.net, twc, rr.com), "AUP#I-1310", "AUP#In-1310", "AUP#O-1000",
# "AUP#1310": four digits, documented in bands.
_SPECTRUM = _Coded(
    "Spectrum",
    ("AUP#",),
    _SPECTRUM_CODE,
    {},
    (
        (1000, 1000, "blocked"),  # the IP is blocked after suspicious activity
        (1010, 1080, "rejected"),  # the sending address is blocked or limited after suspicious activity
        (1090, 1090, "systemerror"),  # the message could not be processed now; try later
        (1100, 1150, "requireptr"),  # the IP has no matching forward/reverse DNS
        (1160, 1190, "policyviolation"),  # the message goes against the sending domain's policies
        (1200, 1210, "blocked"),  # the IP is listed by Cloudmark CSI
        (1220, 1250, "blocked"),  # the IP is listed by Spamhaus
        (1260, 1260, "networkerror"),  # IPv6 connections are not taken
        (1300, 1340, "toomanyconn"),  # too many concurrent or total connections for the IP's reputation
        (1350, 1490, "speeding"),  # limits on messages, recipients and invalid recipients over time
        (1500, 1520, "rejected"),  # sending as an address other than the signed-in or hosted one
        (1530, 1530, "mesgtoobig"),  # over the 20 MB size limit
        (1540, 1550, "speeding"),  # too many messages in one session, too many recipients in one message
        (1560, 1560, "policyviolation"),  # too many invalid recipients
        (1580, 1580, "speeding"),  # too many recipients in a short time
    ),
)

# Orange / Wanadoo ("OFR_999 [999]", "OFR005_505", "OFR006_102") and La Poste ("LPN007_416",
# "LPNAAA_101", "OUK_513"): the last three digits are the cause, shared by both. The vague
# "service refused, try later" codes (105, 107, 108, 109, 201, 423, 424, 513) name no cause and
# are left out on purpose.
_FRANCE = _Coded(
    "Orange/La Poste",
    ("OFR", "LPN", "OUK"),
    _FRANCE_CODE,
    {
        "101": "blocked",  # the IP is on a public blocklist (Spamhaus and the like)
        "102": "blocked",  # the source IP is blocked after a spam incident
        "103": "blocked",  # the IP is refused
        "104": "toomanyconn",  # too many connections, slow down
        "305": "securityerror",  # invalid authentication code
        "401": "authfailure",  # SPF: the IP may not send for the domain
        "402": "securityerror",  # authentication required
        "403": "rejected",  # invalid sender
        "405": "rejected",  # invalid sender (the sender address cannot receive mail)
        "415": "rejected",  # invalid sender
        "416": "userunknown",  # invalid recipient
        "417": "mailboxfull",  # recipient over quota
        "418": "userunknown",  # at least one recipient invalid
        "420": "suspend",  # the recipient's mailbox is archived
        "421": "rejected",  # MAIL FROM not owned by the authenticated user
        "426": "suspend",  # the recipient's account is blocked
        "503": "badreputation",  # temporarily refused after too many errors or complaints
        "505": "systemerror",  # service refused at end of data, temporary
        "506": "spamdetected",  # message rejected as spam
        "510": "policyviolation",  # service refused for the message's content or policy
        "514": "mesgtoobig",  # message size limit reached
        "517": "authfailure",  # DMARC verification failed
        "630": "policyviolation",  # the client host is refused by policy
        "999": "blocked",  # the IP is suspended for a while after earlier breaches
    },
)

# Yahoo / AOL / Verizon Media, bracketed: "[TSS04]", "[TS03]", "[BL23]", "[PH01]".
_YAHOO = _Coded(
    "Yahoo",
    ("[TS", "[BL", "[PH"),
    _YAHOO_CODE,
    {
        "TS01": "badreputation",  # deferred: unexpected volume or user complaints
        "TS02": "badreputation",  # deferred: user complaints, or an unverified IP/domain
        "TSS02": "badreputation",
        "TSS04": "badreputation",  # deferred: unexpected volume or user complaints
        "TS03": "blocked",  # all messages from the IP permanently deferred; retrying will not help
        "TSS09": "blocked",
        "TSS11": "blocked",
        "BL21": "blocked",  # the IP is on a Spamhaus list
        "BL22": "blocked",
        "BL23": "blocked",  # the IP is on the Spamhaus XBL
        "PH01": "policyviolation",  # not accepted for policy reasons
    },
)

# GoDaddy (secureserver.net), "IB" + three digits at the end of the reply.
_GODADDY = _Coded(
    "GoDaddy",
    ("IB",),
    _GODADDY_CODE,
    {
        "IB007": "toomanyconn",  # too many sessions from this IP
        "IB101": "systemerror",  # the receiving queue has more mail than usual; try later
        "IB103": "badreputation",  # poor reputation at Cloudmark Sender Intelligence
        "IB104": "blocked",  # listed on the Spamhaus SBL
        "IB105": "blocked",  # listed on the Spamhaus XBL
        "IB106": "blocked",  # listed on the Spamhaus PBL
        "IB108": "requireptr",  # reverse DNS for the IP failed
        "IB110": "blocked",  # blocked for an hour: too much content judged to be spam
        "IB111": "blocked",  # blocked for the day: too much content judged to be spam
        "IB112": "blocked",  # blocked for an hour: too many invalid recipients
        "IB113": "blocked",  # blocked for the day: too many invalid recipients
        "IB212": "spamdetected",  # content judged to be spam
        "IB401": "securityerror",  # authentication attempted on an inbound server
        "IB501": "notcompliantrfc",  # blank From: address
        "IB502": "notcompliantrfc",  # an IP address as the From: address
        "IB504": "speeding",  # too many messages from this IP this hour
        "IB506": "rejected",  # the From: domain has no usable DNS
        "IB508": "authfailure",  # the sender domain's SPF record does not allow this server
        "IB510": "speeding",  # too many messages in one session
        "IB605": "speeding",  # too many recipients in one message
        "IB607": "speeding",  # too many recipients from this IP this hour
        "IB705": "virusdetected",  # virus-infected message
    },
)

# Comcast / Xfinity (comcast.net), six-digit block and rate codes; the older three-digit forms
# (BL001 .. BL0010, RL001) read the same way.
_COMCAST = _Coded(
    "Comcast",
    ("BL0", "RL0", "ES0"),
    _COMCAST_CODE,
    {
        "ES": "blocked",  # ES000001, ES000010: sent straight from dynamic/residential IP space
        "BL": "blocked",  # BL000000: spam-like sending patterns; BLnnnnnn: on public blocklists (one bit each)
        "RL": "speeding",  # rate limits on the sending IP
    },
)

# Outlook.com / Hotmail (consumer), "550 SC-001 (...)", "421 RP-001 (...)".
_OUTLOOK = _Coded(
    "Outlook.com",
    ("-00",),
    _OUTLOOK_CODE,
    {
        "SC-001": "blocked",  # refused for policy reasons: spam-like content or IP/domain reputation
        "SC-002": "blocked",  # the IP has shown address-harvesting behaviour
        "SC-003": "blocked",  # the IP looks like an open proxy or relay
        "SC-004": "blocked",  # the IP is blocked after complaints about its mail
        "DY-001": "blocked",  # mail straight from a dynamic IP
        "DY-002": "blocked",  # the sending machine looks compromised or infected
        "OU-001": "blocked",  # refused for policy reasons (reputation)
        "OU-002": "blocked",  # refused for policy reasons (content or reputation)
        "RP-001": "speeding",  # over the rate allowed for the IP's reputation
        "RP-002": "speeding",
        "RP-003": "toomanyconn",  # over the number of connections allowed
    },
    lead=2,  # "SC-001": the marker "-00" after the two letters
)

# Microsoft's anti-spam stamps at the end of a refusal, "... block list (S3140)".
_MICROSOFT = _Coded(
    "Microsoft",
    ("(S",),
    _MICROSOFT_CODE,
    {
        "S3140": "blocked",  # part of the sender's network is on Microsoft's block list
        "S3150": "blocked",  # likewise
        "S844": "blocked",  # dynamically assigned IP space is not taken
        "S3113": "badreputation",  # temporarily rate limited because of the IP's reputation
    },
)

_CODED = (_COX, _SPECTRUM, _FRANCE, _YAHOO, _GODADDY, _COMCAST, _OUTLOOK, _MICROSOFT)
# (marker, gate, provider) flat, in the providers' order; the gate is the last of the marker's
# characters that is not a digit.
_MARKERS = tuple((marker, marker.rstrip("0123456789")[-1], p) for p in _CODED for marker in p.markers)
# The markers a text may hold, by which of these characters it holds (``gated``): a marker is
# looked for only where the text holds every gate in it. A search for one character is a
# ``memchr``, several times cheaper than one for a word, and most replies lack the signs and these
# capitals (one diagnostic of the corpus in twelve to one in three holds each). Six tests, not one
# per marker, and the loop runs over the markers left (a few in most replies). (Each gate doubles
# the table, built at import.)
_MARKER_GATES = ("#", "[", "(", "-", "B", "L")
_MARKERS_GATED = gated(_MARKERS, _MARKER_GATES, itemgetter(0))

# Mimecast writes no code, but fixed reply texts of its own (lower case here), most specific
# first. Generic wordings it shares with every MTA ("invalid recipient") are left to the generic
# phrases.
_MIMECAST: tuple[tuple[str, str], ...] = (
    ("mcspamsignature", "spamdetected"),  # the signature that matched is a spam one
    ("email rejected due to security policies", "virusdetected"),  # a virus (or spam score) signature
    ("host network not allowed", "policyviolation"),  # a geographical restriction policy
    ("local ct ip reputation", "badreputation"),  # ongoing checks found the IP's reputation poor
    ("anti-spoofing policy", "policyviolation"),
    ("content examination policy", "policyviolation"),
    ("administrative prohibition", "rejected"),  # the sender is on a blocked senders policy
    ("envelope blocked", "rejected"),  # a personal or policy block on the sender
    ("block policy for", "rejected"),  # blocked senders policy on Header From / Envelope From
    ("spf sender invalid", "authfailure"),
    ("dkim sender invalid", "authfailure"),
    ("dmarc sender invalid", "authfailure"),
    ("this route requires", "securityerror"),  # TLS required, or a newer TLS / stronger ciphers
    ("ip temporarily blacklisted", "blocked"),
    ("open relay not allowed", "norelaying"),
    ("account inbounds disabled", "notaccept"),
    ("exceeding outbound thread limit", "toomanyconn"),
)
# Wordings Mimecast shares with other MTAs: Exim answers every ACL refusal without a message of
# its own (an unknown user, a full box, a virus) with "Administrative prohibition". They speak
# for Mimecast only when the text names it (its replies link to its documentation).
_MIMECAST_SHARED = frozenset({"administrative prohibition"})
# The texts by which of these words they hold (``gated``): one search for a word several of them
# share costs less than a search for each, and most texts hold none.
_MIMECAST_GATED = gated(_MIMECAST, ("polic", "sender invalid", "not allowed", "bound"), itemgetter(0))


def _quoted(text: str, pos: int) -> bool:
    """Whether ``pos`` sits on a quoted line (``> ...``) of ``text``; sendmail's transcript
    arrows (``>>> DATA``) are the report's own lines, not a quotation."""
    start = text.rfind("\n", 0, pos) + 1
    return text.startswith(">", start) and not text.startswith(">>> ", start)


# Header fields of a message that carry free text, IDs or host names. Many reports print the
# returned original's header in their text ("Original message headers:", Domino's "Subject:"
# line), often run together with the reply on one line: a subject ("Order ES012345"), a message
# ID ("<IB212.x@...>") or a relay's name there can take a code's shape, but no receiver said it.
# A code counts after such a field only when a reply code stands between them.
_MESSAGE_FIELDS = ("subject:", "thread-topic:", "message-id:", "in-reply-to:", "references:", "received:")
_REPLY = re.compile(r"(?<![\w.\-])[245][0-5][0-9](?!\w)")
_FIELD_REACH = 1000  # how far before a code a field label is looked for
# Code-shaped tokens examined per provider: a reply carries one, and a text of thousands
# ("IB999 IB999 ...") cannot make the position checks quadratic.
_MAX_CANDIDATES = 64


def _in_message_field(low: str, pos: int) -> bool:
    """Whether ``pos`` of the lower-cased ``low`` falls in a message's header field, not a reply."""
    label = max(low.rfind(field, max(0, pos - _FIELD_REACH), pos) for field in _MESSAGE_FIELDS)
    return label != -1 and _REPLY.search(low, label, pos) is None


def _lookup(provider: _Coded, code: str) -> str:
    reason = provider.codes.get(code)
    if reason is None and not code.isdigit():
        reason = provider.codes.get(code.rstrip("0123456789"))  # IPBL0101 -> IPBL
    if reason is None and provider.ranges and code.isdigit():
        number = int(code)
        reason = next((r for lo, hi, r in provider.ranges if lo <= number <= hi), None)
    return reason or ""


def provider_code(text: str, lowered: str | None = None) -> ProviderCode | None:
    """The first provider code in ``text`` that a table knows, or None. ``lowered`` may pass
    ``text.lower()`` when the caller already has it."""
    low = lower(text) if lowered is None else lowered
    gates = "#" in text, "[" in text, "(" in text, "-" in text, "B" in text, "L" in text
    for marker, _, provider in _MARKERS_GATED[gates]:
        if marker not in text:
            continue
        # Every match holds one of the provider's markers, at most ``lead`` characters in: the
        # search starts before the first of them, not at the text's start (a pattern led by ``\b``
        # has no literal to skip ahead to, and is tried at every character before it).
        first = min(at for other in provider.markers if (at := text.find(other)) != -1)
        matches = provider.pattern.finditer(text, max(0, first - provider.lead))
        for m in itertools.islice(matches, _MAX_CANDIDATES):
            reason = _lookup(provider, m.group(1))
            if reason and not (_quoted(text, m.start()) or _in_message_field(low, m.start())):
                return ProviderCode(provider.name, m.group(0).strip("[]()"), reason)
    mimecast = _MIMECAST_GATED["polic" in low, "sender invalid" in low, "not allowed" in low, "bound" in low]
    for phrase, reason in mimecast:
        if phrase in low and (phrase not in _MIMECAST_SHARED or "mimecast" in low):
            at = low.find(phrase)
            if not _quoted(low, at):
                return ProviderCode("Mimecast", phrase, reason)
    return None


def provider_note(diagnostics: Iterable[str | None], reason_label: Mapping[str, str]) -> str | None:
    """The first recognised provider code among the deliveries' diagnostics, for a reader:
    "AUP#CDRBL (Cox): Sending host blocked", the reason in the reader's words (``reason_label``
    maps ``reason_<name>`` keys, as the UI texts do). None when no diagnostic carries one."""
    for diagnostic in diagnostics:
        found = provider_code(diagnostic) if diagnostic else None
        if found is not None:
            said = reason_label.get(f"reason_{found.reason}", found.reason)
            return f"{found.code} ({found.provider}): {said}"
    return None
