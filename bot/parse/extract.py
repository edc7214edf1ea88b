"""Pull recipients, diagnostics and hosts out of a report's text and DSN fields.

Two paths feed one list of deliveries:
- the RFC 3464 delivery-status blocks (section 2.3: Final-Recipient, Action, Status,
  Remote-MTA, Diagnostic-Code), when the report has them;
- otherwise the human-readable text, which every MTA lays out as "recipient, then what the
  remote side said". We find each failed address in the text and take the lines after it up to
  the next address or blank line as its diagnostic; MTA-specific shapes (Exchange's
  ``Remote Server returned '...'``, Postfix's ``host X[ip] said:``, qmail's ``<addr>:`` blocks,
  Sendmail's ``<<<`` transcript, Exim's indented ``host X [ip]:``) are recognised by the
  patterns in ``_DIAGNOSTIC_LINES``.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from bot.parse.alternation import gated
from bot.parse.casing import lower

ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}")
# For scanning long texts: anchor on each "@" (found with str.find) rather than trying the
# local-part class at every position, which costs up to 64 steps per character.
# The local part is found backwards from the "@": ``str.rstrip`` with the local-part characters
# measures the run that ends at the "@", at C speed.
_LOCAL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~.-"
# The domain after an "@". The lookbehind lets a scan start only where a name starts: every
# pattern here must stay linear when searched, not only when matched at one offset.
_DOMAIN_HEAD = re.compile(r"(?<![A-Za-z0-9.\-])[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}")
# Matched after the line's leading white space is stripped (a leading ``\s*`` would rescan a
# long run of spaces from each of its positions).
_HEADERISH = re.compile(r"(?:from|reply-to|sender|return-path|message-id|in-reply-to|references|errors-to|b?cc)\s*+:")
# A label right before the address that makes it the sender: "MAIL FROM:<a@b>", "SenderAddress : a@b",
# "from=<a@b>" (Postfix logs), "-SenderAddress a@b" (a PowerShell parameter), and the prose of
# gateways and webmail: "the message from <a@b> to ...", "sent (on behalf of a@b) by a@b",
# "reply to: a@b", "authenticated as a@b", "Originator: a@b". Searched in the lower-cased text
# before the address, on its line.
_SENDER_LABEL = re.compile(
    r"(?:\bfrom[ \t]*+[:=]?|sender(?:[ _-]?address)?[ \t]*[:=]|-sender(?:address)?|sent by|on behalf of(?: \S++ by)?|"
    r"reply[ -]?to[ \t]*+:?|authenticated as|originator[ \t]*+:?)[ \t]*<?$"
)
# A label right before the address that makes it a forwarding suggestion, not a failed
# recipient: RFC 5321's "551 User not local; please try <forward-path>", "has been replaced by".
_FORWARD_LABEL = re.compile(r"(?:please try|has been replaced by|new address is|forward-path is)[ \t:]*<?$")
# The alias a failed address was expanded from (Postfix "(expanded from <list@...>)", Exim
# "(generated from list@...)", Sendmail "(expanded from: <list@...>)"): the message reached the
# alias, and the failed address is the one named before it.
_ALIAS_LABEL = re.compile(r"\((?:expanded|generated) from:?[ \t]*<?$")
# How each label of ``_SENDER_LABEL`` ends (before the blanks and "<" after it): the pattern runs
# only when the text before an address ends so.
_LABEL_ENDINGS = (":", "=", "from", "sender", "address", "by", "of", "to", "as", "originator")
MAX_AT_SIGNS = 2000
_MAX_PREFIX = 4000
# The local parts of a mail system's own addresses, each a literal name maybe followed by a class.
_DAEMON_LOCAL_PARTS = (
    *("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "maildaemon", "root", "bounce", "bounces"),
    *("noreply", "no-reply", "microsoftexchange[0-9a-f]*", "devnull", "nobody", "double-bounce"),
)
_DAEMON = re.compile(r"^(?:" + "|".join(_DAEMON_LOCAL_PARTS) + r")(?:[+\-][^@]*)?@", re.I)
# How those local parts start (their literal names), tested with ``str.startswith`` on a
# lower-cased address before the pattern runs.
_DAEMON_NAMES = tuple(part.partition("[")[0] for part in _DAEMON_LOCAL_PARTS)
# Remote host shapes: (pattern, host group, ip group)
_H = r"[A-Za-z0-9][\w.\-]*\.[A-Za-z]{2,}"  # a host name
_IP = r"(?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]{0,4}:[0-9a-fA-F:]+"
# Where MTAs name the remote server: (needle, pattern, reach). The needle is a literal the pattern
# needs, looked for with ``str.find`` first (far cheaper than a search); groups are (host, ip),
# either may be absent. Earlier entries are more reliable and win. ``reach``: when every match
# holds the needle at most that many characters after its start, the pattern is tried only that
# far before each occurrence of the needle (``_match_near``) instead of searched from the start of
# the text (a scan costs some fifty times what ``find`` does per character); None when a match
# can start any distance before. A tuple of needles: every match holds one of them.
# The needle ``_FOLDED`` is looked for in the lower-cased text (it stands for a pair of letters in
# any case), and only when the text holds an "=" (which every match of its pattern holds too).
# The patterns are searched in the text after a line break of our own, so that the first line
# starts after one too; no other pattern can match the added line break. Which shapes a text may
# hold is chosen by the fragments of ``_HOST_GATES`` it holds (``_HOST_GATED``).
_FOLDED = "mx"


def _shared(needles: tuple[str, ...]) -> str:
    """The longest prefix of the first needle that every needle holds ("" when none)."""
    for end in range(len(needles[0]), 0, -1):
        if all(needles[0][:end] in n for n in needles):
            return needles[0][:end]
    return ""


_HOST_SHAPES: tuple[tuple[str | tuple[str, ...], re.Pattern[str], int | None], ...] = tuple(
    (needle, re.compile(pattern, flags), reach)
    for needle, pattern, flags, reach in (
        # Exchange: [LastAttemptedServerName=...] [LastAttemptedIP=...:25]
        (
            "LastAttemptedServerName=",
            r"LastAttemptedServerName=([\w.\-]+)\][^\n]*?(?:LastAttemptedIP=(" + _IP + r")(?::\d+)?\])?",
            0,
            0,
        ),
        ("{FQDN=", r"\{FQDN=([\w.\-]+)\};\{IP=(" + _IP + r")?\}", 0, 0),
        # Exchange Online: "Remote Server at mx.example.net (192.0.2.1) returned '...'" (our own
        # servers appear as "Server at NAME returned", without an address)
        ("erver at ", r"[Ss]erver at (" + _H + r") \((" + _IP + r")\) returned", 0, 1),
        # Postfix: host mx.example.net[192.0.2.1] said: / connect to mx.example.net[192.0.2.1]:25:
        ("host ", r"host (?<!\whost )(" + _H + r")\s?\[(" + _IP + r")\]", 0, 0),
        ("connect to ", r"connect to (" + _H + r")\[(" + _IP + r")\]", 0, 0),
        # the same, with the line folded after "host" (Postfix wraps its report at 76 columns)
        ("host\n", r"host(?<!\whost)\n[ \t]{1,8}+(" + _H + r")\[(" + _IP + r")\]", 0, 0),
        # "host: mx.example.net (192.0.2.1)" (GMX, web.de), "Last attempted host: mx... [192.0.2.1]"
        ("ost: ", r"(?<![Rr]eporting )[Hh]ost: (" + _H + r") ?[\[(](" + _IP + r")[\])]", 0, 1),
        # Exchange NDR: the remote host alone on the line above the quoted reply, in any language
        # (the line break that opens the pattern is a literal the engine skips ahead to, where
        # ``^`` would be tried at every character)
        ("'", r"\n(" + _H + r")[ \t]*\n[^\n]{0,80}'[245]\d\d[ \-]", 0, None),
        # Gmail: [mail.example.net. 192.0.2.1: timed out]
        ("[", r"\[(" + _H + r")\.? (" + _IP + r")(?::\d+)?: ", 0, 0),
        (
            ("emote server", "emote host"),
            r"(?:Remote server|Remote host|remote server):?[ \t]*\[?(" + _H + r")\]?[ \t]*[\[(]?(" + _IP + r")?",
            0,
            1,
        ),
        ("host ", r"host (?<!\whost )(?<!at host )(" + _H + r")\b", 0, 0),
        ("while talking to ", r"while talking to (" + _H + r")\.?:", 0, 0),
        ("refused by ", r"[Cc]onnection refused by (" + _H + r")", 0, 11),
        # qmail names the remote by address only
        ("onnected to ", r"[Cc]onnected to (" + _IP + r") but", 0, None),
        ("does not like ", r"(?<![\d.])((?:\d{1,3}\.){3}\d{1,3}) does not like", 0, None),
        (" failed after I sent", r"(?<![\d.])((?:\d{1,3}\.){3}\d{1,3}) failed after I sent", 0, 15),
        # Exchange on-premises queues: "The last endpoint attempted was 192.0.2.1:25"
        ("endpoint attempted was ", r"endpoint attempted was ((?:\d{1,3}\.){3}\d{1,3})", 0, 0),
        ("emoteMta", r"\"remoteMta(?:Ip)?\"\s*:\s*\"(?:dns; ?)?([\w.\-:]+)\"", 0, 2),
        # "mx=host" in any case; the word start is checked after the first letter, so that the
        # pattern opens with a character set the engine can skip ahead to. Its needle is looked
        # for in the lower-cased text (``_FOLDED``), and only where the text holds an "=".
        (_FOLDED, r"[mM](?<![\w][mM])[xX]\s*=\s*(" + _H + r")", 0, 0),
        # application logs: "host=smtp.example.com:587"
        ("host=", r"\bhost=(" + _H + r")", 0, 0),
    )
)
# The shapes a text may hold, by which of these fragments it holds (``gated``): a fragment of a
# shape's needle (of what a tuple's needles share; "=" for ``_FOLDED``, whose every match holds
# one). A search for one character costs a twentieth of one for a word, and most reports hold
# no "=" or "{" (and two in five no capital "I"); "ost" stands for the four needles that hold it,
# absent from half the reports (one search where there would be four), "emote" for the three
# that hold it and "onnect" for two, each absent from nine reports in ten.
_HOST_GATES = ("=", "{", "I", "ost", "emote", "onnect")
_HOST_GATED = gated(
    _HOST_SHAPES,
    _HOST_GATES,
    lambda shape: "=" if shape[0] is _FOLDED else shape[0] if isinstance(shape[0], str) else _shared(shape[0]),
)
_IP_AFTER_HOST = re.compile(r"\.?[ \t]{0,3}[\[(][ \t]?(" + _IP + r")(?::\d+)?[ \t]?[\])]")
# Exchange's "[LastAttemptedIP=192.0.2.1:25]" or "[LastAttemptedIP=2001:db8::1:25]". The IPv6
# run is taken whole (possessive: a run of colons is read once, not split every possible way).
_IP_ONLY = re.compile(r"LastAttemptedIP=(?:((?:\d{1,3}\.){3}\d{1,3})(?::\d+)?\]|([0-9a-fA-F:]++)(\d*+)\])")
# How localised Exchange reports label the reporting server (searched in lower-cased text).
_REPORTING_LABELS = (
    *("Generating server", "Servidor de generación", "Serveur de génération", "Servidor gerador"),
    *("Genererende server", "Server voor genereren", "Generierender Server", "Erstellender Server"),
    *("生成サーバー", "생성 서버", "Server di generazione"),
)
_REPORTING = re.compile("(?:" + str.lower("|".join(_REPORTING_LABELS)) + ")" + r"\s*[:：]\s*([\w.\-]+)")
# What every label an ASCII text can hold names (its server): a text without it holds none.
_REPORTING_ASCII_GATE = "serv"
_MAIL_SYSTEM_AT = re.compile(  # searched in lower-cased text
    r"(?:this is the mail system at host|this is the qmail-send program at|\"reportingmta\"\s*:\s*\"dsn;) ?"
    r"([\w.\-]+)"
)
# The address type ("dns;", RFC 3464 section 2.1.2) is optional; "smtp.example.org" is a name, not a type.
# Matched against the value with its leading spaces already stripped: a second ``\s*`` before
# the optional type would split a run of spaces every way (a Remote-MTA of 20,000 spaces took 18 s).
# Anchored and possessive, so that a scan from every position (``search``) is linear too. The
# host is the whole run of name characters: what may follow it ("]", a blank, "(", the end) is
# none of them, so a shorter run could never be followed by it (read once, not tried at each length).
_DSN_HOST = re.compile(r"^(?:(?:dns|smtp|x-[\w-]++)\s*+;)?\s*+\[?([\w.\-:]++)\]?(?:\s*+\(|\s*$|\s)", re.I)
IPV4 = re.compile(r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3})\b")


class Found:
    """What a report says about one recipient, before it becomes a ``Delivery``. (A plain slotted
    class: a dataclass definition costs several million instructions at every start-up. Every
    parameter may be given by position: a class called with keywords costs more.)"""

    __slots__ = (
        "action",
        "category",
        "command",
        "diagnostic",
        "diagnostic_type",
        "own",
        "recipient",
        "remote_host",
        "status",
    )

    def __init__(  # noqa: PLR0917 - see the class's docstring
        self,
        recipient: str | None,
        diagnostic: str,
        action: str | None = None,
        status: str | None = None,
        remote_host: str | None = None,
        diagnostic_type: str = "SMTP",
        command: str | None = None,
        own: bool = True,
        category: str = "",
    ) -> None:
        self.recipient = recipient
        self.diagnostic = diagnostic
        self.action = action
        self.status = status
        self.remote_host = remote_host
        self.diagnostic_type = diagnostic_type
        self.command = command  # the SMTP command the server answered; "" when searched for and absent
        self.own = own  # False when ``diagnostic`` is the whole report, not text about this recipient
        # the reporting MTA's own verdict in a DSN extension field (PowerMTA's bounce category)
        self.category = category


# Legacy Exchange and X.400 gateway forms of an address (Microsoft's "IMCEA" encapsulation:
# ``IMCEA<type>-<address, with "+XX" hex escapes>@<organisation domain>``):
# - ``IMCEASMTP-jo+2Edoe+40example+2Enet@org.example`` is jo.doe@example.net;
# - ``IMCEAEX-_O=ORG_OU=..._CN=RECIPIENTS_CN=jdoe@org.example`` is an X.500 name, whose last
#   common name at the organisation's domain is the nearest thing to a mailbox;
# - ``smtp=a@b``, ``SMTP:a@b``, ``dda:SMTP=a@b``: the address-type prefixes of Exchange 5.5,
#   Exchange 2003 and X.400 gateways.
# An IMCEA token: the literal, then a possessive run up to the next delimiter. Matches never
# overlap and never backtrack, so the scan is linear; ``_imcea`` reads the token.
_IMCEA = re.compile(r"IMCEA(?:SMTP|EX)-[^\s<>\[\]()'\"]{1,1300}+", re.I)
_TYPE_PREFIX = re.compile(r"(?:dda:)?smtp[=:](?=[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@)", re.I)
_HEX_ESCAPE = re.compile(r"\+([0-9A-Fa-f]{2})")


def _imcea(m: re.Match[str]) -> str:
    token = m.group(0)
    encoded, at, domain = token.partition("-")[2].rpartition("@")
    if not at or not encoded or not domain:
        return token
    if token[5:9].upper() == "SMTP":
        return _HEX_ESCAPE.sub(lambda h: chr(int(h.group(1), 16)), encoded)
    cn = encoded.upper().rfind("_CN=")
    return encoded[cn + 4 :] + "@" + domain if cn != -1 and cn + 4 < len(encoded) else token


def legacy_forms(text: str, lowered: str | None = None) -> str:
    """``text`` with IMCEA-encapsulated and type-prefixed addresses written as plain addresses;
    ``lowered`` is ``text.lower()`` (or that of a text ``text`` begins) when the caller has it."""
    # Each form is looked for in the two letter cases the rewrites expect. The lower-cased text
    # holds a form's lower-case spelling wherever the text holds either: one search there tells
    # when neither can occur (most reports say "smtp;", none "smtp:" or "smtp=").
    if (lowered is None or "imcea" in lowered) and ("IMCEA" in text or "imcea" in text):
        text = _IMCEA.sub(_imcea, text)
        lowered = None  # a decoded address may hold a type prefix ("IMCEASMTP-smtp+3Ajo@...")
    # ("=" first: a search for one character costs a twentieth of one for a word, and four
    # reports in five hold none)
    if (lowered is None or ("=" in lowered and "mtp=" in lowered) or "mtp:" in lowered) and (
        "MTP=" in text or "MTP:" in text or "mtp=" in text or "mtp:" in text
    ):
        text = _TYPE_PREFIX.sub("", text)
    return text


# A quoted local part (RFC 5321 section 4.1.2, Quoted-string): ``"john..doe"@example.org``.
_QUOTED_ADDRESS = re.compile(r'"[^"\\\r\n]{1,64}"@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}')


def clean_address(value: str | None) -> str | None:
    """``rfc822; <User@Example.COM>`` -> ``user@example.com``; a quoted local part keeps its quotes."""
    if not value:
        return None
    if '"@' in value:
        quoted = _QUOTED_ADDRESS.search(value)
        if quoted:
            return str.lower(quoted.group(0))
    if "=" in value or ":" in value or "IMCEA" in value or "imcea" in value:
        value = legacy_forms(value)
    m = ADDRESS.search(value.replace("\\", ""))
    if not m:
        return None
    return str.lower(m.group(0).strip(".'`"))


def dsn_host(value: str | None) -> str | None:
    """``dns; mx.example.net`` or ``mx.example.net [192.0.2.1]`` -> the host name."""
    if not value:
        return None
    m = _DSN_HOST.match((value.split(";", 1)[-1] if ";" in value else value).lstrip())
    if not m:
        return None
    host = str.lower(m.group(1).strip(".[]"))
    return host or None


def find_remote(text: str, lowered: str | None = None) -> tuple[str | None, str | None]:
    """(remote host, remote ip) as the text names them; ``lowered`` is ``lower(text)`` when the
    caller has it."""
    host: str | None = None
    ip: str | None = None
    lines = "\n" + text
    equals = "=" in text  # which most reports lack: so do "LastAttemptedIP=" and the shapes holding one
    gates = equals, "{" in text, "I" in text, "ost" in text, "emote" in text, "onnect" in text
    for needle, pattern, reach in _HOST_GATED[gates]:
        haystack = lines
        if isinstance(needle, str):
            if needle is _FOLDED:
                if lowered is None:
                    lowered = lower(text)
                haystack = lowered  # one character behind ``lines``
                at = lowered.find(needle) + 1  # an offset in ``lines``; 0 when not found
                if not at:
                    continue
            elif needle not in lines:  # ``in`` costs less than a call of ``find``: most are absent
                continue
            else:
                at = lines.find(needle)
            needles: tuple[str, ...] = (needle,)
        else:
            at = first_of(lines, needle)
            if at == -1:
                continue
            needles = needle
        m = pattern.search(lines) if reach is None else _match_near(pattern, lines, needles, haystack, at, reach)
        if not m:
            continue
        groups = [g for g in m.groups() if g]
        if not groups:
            continue
        first = groups[0]
        if IPV4.fullmatch(first):
            ip = ip or first
            continue
        host = host or str.lower(first).rstrip(".")
        if len(groups) > 1 and groups[1]:
            ip = ip or groups[1]
        if host and ip:
            break
    if ip is None and equals and "LastAttemptedIP=" in text:
        ip = _last_attempted_ip(text)
    return host, ip


def _match_near(  # noqa: PLR0917 - called once per shape a text holds: positions cost the least
    pattern: re.Pattern[str],
    lines: str,
    needles: tuple[str, ...],
    haystack: str,
    at: int,
    reach: int,
) -> re.Match[str] | None:
    """``pattern.search(lines, max(0, at - reach))``, for a pattern whose every match holds one of
    ``needles`` at most ``reach`` characters after its start, ``at`` the first place one occurs.
    The pattern is tried only up to ``reach`` characters before each occurrence (found in
    ``haystack``: ``lines``, or its lower-cased text without the leading line break) instead of
    at every character up to the end: the first match so found is the leftmost."""
    shift = len(lines) - len(haystack)
    # one needle (most shapes) is known to occur: its next occurrence is found by ``find`` alone
    needle = needles[0] if len(needles) == 1 else None
    while at != -1:
        if not reach:  # the match starts with the needle (most shapes): one place to try
            m = pattern.match(lines, at)
            if m:
                return m
        else:
            for start in range(max(0, at - reach), at + 1):
                m = pattern.match(lines, start)
                if m:
                    return m
        if needle is not None:
            following = haystack.find(needle, at + 1 - shift)
        else:
            following = first_of(haystack, needles, at + 1 - shift)
        at = following + shift if following != -1 else -1
    return None


def _last_attempted_ip(text: str) -> str | None:
    """The first address ``_IP_ONLY`` reads, as the backtracking pattern it replaces did: an IPv6
    run needs a colon before its last character, and a port is cut only when its digits run past
    the hex digits (non-ASCII digits, which ``\\d`` accepts)."""
    for m in _IP_ONLY.finditer(text):
        ipv4, run, more_digits = m.groups()
        if ipv4:
            return str(ipv4)
        if more_digits:
            colon = run.rfind(":")
            if colon > 1 and not run[colon + 1 :].strip("0123456789") and ":" in run[: colon - 1]:
                return str(run[:colon])
        elif ":" in run[:-1]:
            return str(run)
    return None


def ip_after_host(text: str, host: str, lowered: str | None = None) -> str | None:
    """The address written right after ``host`` (``mx.example.net (192.0.2.1)``,
    ``mx.example.net [192.0.2.1]``): how most reports pair a name found elsewhere with its IP.
    ``lowered`` is ``text.lower()`` when the caller has it."""
    lowered = lower(text) if lowered is None else lowered
    pos = lowered.find(host)
    for _ in range(20):
        if pos == -1:
            return None
        m = _IP_AFTER_HOST.match(lowered, pos + len(host))
        if m:
            return m.group(1)
        pos = lowered.find(host, pos + len(host))
    return None


# Literals every label of ``_REPORTING`` contains (and of ``_MAIL_SYSTEM_AT``), each at most
# ``reach`` characters after the label's start: found with ``str.find`` first, and the pattern
# searched from there (most reports name none of them, and a scan costs some fifty times what
# ``find`` does per character).
_REPORTING_NEEDLES = ("gener", "génér", "gerador", "erstellender", "生成", "생성")
# An ASCII text holds no needle that is not ASCII (``str.isascii`` answers without a scan).
_REPORTING_ASCII = tuple(n for n in _REPORTING_NEEDLES if n.isascii())
_REPORTING_REACH = 12  # "servidor de generación", "server voor genereren"
_MAIL_SYSTEM_NEEDLES = ("this is the ", "reportingmta")
_MAIL_SYSTEM_UNQUOTED = ("this is the ",)
_MAIL_SYSTEM_REACH = 1  # the quote of '"reportingmta"'


def _search_near(pattern: re.Pattern[str], lowered: str, needles: tuple[str, ...], reach: int) -> re.Match[str] | None:
    """``pattern.search(lowered)``, for a pattern whose every match holds one of ``needles``
    within ``reach`` characters of its start."""
    first = first_of(lowered, needles)
    return _match_near(pattern, lowered, needles, lowered, first, reach) if first != -1 else None


def first_of(text: str, needles: tuple[str, ...], start: int = 0) -> int:
    """Where the first of ``needles`` occurs in ``text`` from ``start`` on; -1 when none does."""
    first = -1
    # A plain loop, ``in`` before ``find``: most reports hold none, and a generator or a call of
    # ``find`` (its arguments parsed from a tuple) costs more than the test.
    for needle in needles:
        if needle in text:
            at = text.find(needle, start)
            if at != -1 and (first == -1 or at < first):
                first = at
    return first


def find_reporting(text: str, lowered: str | None = None) -> str | None:
    """The reporting server the text names; ``lowered`` is ``text.lower()`` when the caller has it."""
    lowered = lower(text) if lowered is None else lowered
    if not lowered.isascii():
        m = _search_near(_REPORTING, lowered, _REPORTING_NEEDLES, _REPORTING_REACH)
    elif _REPORTING_ASCII_GATE in lowered:  # one search where most texts would need three
        m = _search_near(_REPORTING, lowered, _REPORTING_ASCII, _REPORTING_REACH)
    else:
        m = None
    if m is None:
        # '"reportingmta"' holds a quote, which few reports hold (one search for a character
        # costs a twentieth of one for a word)
        needles = _MAIL_SYSTEM_NEEDLES if '"' in lowered else _MAIL_SYSTEM_UNQUOTED
        m = _search_near(_MAIL_SYSTEM_AT, lowered, needles, _MAIL_SYSTEM_REACH)
    return str.lower(m.group(1).rstrip(".")) if m else None


def addresses_in(
    text: str, exclude: set[str], *, daemons: bool = False, quoted_to: bool = False
) -> list[tuple[int, str]]:
    """Addresses in order of first appearance, minus the bounce's own parties, (unless
    ``daemons``) role addresses such as postmaster@ and mailer-daemon@, and (unless
    ``quoted_to``) the To of a quoted header block."""
    out: list[tuple[int, str]] = []
    seen: set[str] = set()
    for start, raw in iter_addresses(text):
        addr = str.lower(raw.strip(".'`"))
        if addr in seen or addr in exclude or (not daemons and addr.startswith(_DAEMON_NAMES) and _DAEMON.match(addr)):
            continue
        window = max(0, start - _MAX_PREFIX)  # a very long line is read from this far back only
        line_start = max(window, text.rfind("\n", window, start) + 1)
        prefix = str.lower(text[line_start:start])
        # Header-ish lines name the sender or the message, not a failed recipient.
        lead = prefix.lstrip()
        if _HEADERISH.match(lead) or (
            not quoted_to and _field_name(lead) in _TO_NAMES and _in_header_block(text, line_start)
        ):
            continue
        near = prefix[-80:]  # labels sit right before the address; long lines cost no more
        if near.rstrip().endswith(("mailto:", "http://", "https://")) or (
            near.rstrip(" \t<").endswith(_LABEL_ENDINGS) and _SENDER_LABEL.search(near)
        ):
            continue
        if (
            "try" in near or "replaced" in near or "new address" in near or "forward" in near
        ) and _FORWARD_LABEL.search(near):
            continue
        if "d from" in near and _ALIAS_LABEL.search(near):
            continue
        if "id" in near and "messageid" in near.replace("-", "").replace(" ", "").replace("_", ""):
            continue  # Message-ID, MessageId, "Message ID": names the message, not a recipient
        seen.add(addr)
        out.append((start, addr))  # every one: renderers cap what they show, never the parse
    return out


# A quoted message's header block (the returned original under a marker we do not know: "--- The
# header of the original message is following. ---", "Message headers follow:", "Message
# original :", "Původní zpráva"), in the mail clients' languages: its To names who the message
# was for, not who failed. A To line counts when the line before or after it is another field.
_TO_NAMES = frozenset(
    {"to", "à", "a", "para", "an", "aan", "til", "till", "komu", "do", "kime", "кому", "宛先", "收件人", "받는 사람"}
)
_BLOCK_NAMES = frozenset(
    {
        *("from", "subject", "date", "sent", "cc", "message-id", "received", "mime-version", "reply-to"),
        *("de", "da", "von", "van", "od", "från", "fra", "от", "差出人", "发件人", "보낸 사람"),
        *("objet", "oggetto", "betreff", "asunto", "assunto", "onderwerp", "předmět", "ämne", "emne", "тема"),
        *("envoyé", "gesendet", "enviado", "inviato", "verzonden", "odesláno", "skickat", "sendt", "отправлено"),
        *("datum", "fecha", "data", "件名", "主题", "제목", "日付", "日期", "날짜"),
    }
)


def _field_name(line: str) -> str:
    """The lower-cased name of a ``Name: value`` line (any colon, any space before it), or ""."""
    # ``partition`` takes one argument: a call of ``find`` with bounds costs more (its arguments
    # are parsed from a tuple), and this runs for each address a report names
    head = line[:24]
    name, colon, _ = head.partition(":")
    if not colon:
        name, colon, _ = head.partition("\uff1a")
    return str.lower(name.replace("\u00a0", " ").strip()) if colon else ""


def _in_header_block(text: str, line_start: int) -> bool:
    """Is the line at ``line_start`` next to another header field (the line before or after)?"""
    before_end = line_start - 1
    before = text[text.rfind("\n", 0, max(0, before_end)) + 1 : max(0, before_end)] if line_start else ""
    after_start = text.find("\n", line_start)
    after = text[after_start + 1 : after_start + 40] if after_start != -1 else ""
    return _field_name(before) in _BLOCK_NAMES or _field_name(after) in _BLOCK_NAMES


# The last text scanned and its addresses: one parse reads the same report text for addresses
# up to four times (its spots, the blocks after each address, the listing check). Keyed by the
# string's identity; the reference kept here stops its id from being reused. Callers only read
# the list.
_last_scan: tuple[str, list[tuple[int, str]]] = ("", [])


def iter_addresses(text: str) -> list[tuple[int, str]]:
    """(offset, address) for every address in ``text``, in order (bounded)."""
    global _last_scan  # noqa: PLW0603 - a one-entry memo, see above
    last = _last_scan
    if last[0] is text:
        return last[1]
    out = _scan_addresses(text)
    _last_scan = (text, out)
    return out


def _scan_addresses(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    at = text.find("@")
    seen_at = 0
    while at != -1 and seen_at < MAX_AT_SIGNS:
        seen_at += 1
        window = max(0, at - 64)
        # the local part ends at the "@": what ``rstrip`` leaves is the text before it
        start = window + len(text[window:at].rstrip(_LOCAL_CHARS))
        domain = _DOMAIN_HEAD.match(text, at + 1) if start < at else None
        if domain:
            out.append((start, text[start : domain.end()]))
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)
    return out


def blocks_for(text: str, spots: list[tuple[int, str]]) -> list[Found]:
    """One Found per address: the text after it until the next address (bounded).

    A report that repeats itself (two languages, two sections) names the other recipients
    again: a block also ends where any of them reappears. The reappearances come from one scan
    of every address in the text (``iter_addresses``), so this stays linear however many
    recipients there are.
    """
    found: list[Found] = []
    wanted = {addr for _, addr in spots}
    # only another recipient's reappearance ends a block: with one recipient (most reports) none can
    again = (
        [(at, addr) for at, raw in iter_addresses(text) if (addr := str.lower(raw.strip(".'`"))) in wanted]
        if len(wanted) > 1
        else []
    )
    starts = [at for at, _ in again]
    for i, (pos, addr) in enumerate(spots):
        end = spots[i + 1][0] if i + 1 < len(spots) else len(text)
        end = min(end, pos + 3000)
        for at, other in again[bisect_right(starts, pos) :]:
            if at >= end:
                break
            if other != addr:
                cut = text.rfind("\n", pos, at) + 1
                end = min(end, cut if cut > pos else at)
                break
        line_start = text.rfind("\n", 0, pos) + 1
        found.append(Found(addr, text[line_start:end]))
    return found
