"""Classify a failure into a reason, in Sisimai's vocabulary (userunknown, mailboxfull, ...).

Evidence, all of it data: the enhanced status code (RFC 3463) through ``STATUS_NAME``; the
phrases of ``phrases.py``, found in one pass; the SMTP command the server was answering
(``command.py``); the basic reply code (RFC 5321); and whether the delivery is only delayed.

Strategy (the order Sisimai's decision procedure uses, because its labels are our benchmark):
0. A classification the reporting MTA states in a field of its own (``MTA_CATEGORY``) decides,
   unless it is a broad one and the text names something more specific.
1. ``FIRST_PASS`` is tried in order; each reason has a small rule in ``_PROBES`` that combines
   the status-derived reason with the phrases and the command (e.g. a "user unknown" phrase is
   ``filtered`` when the server spoke after DATA, ``userunknown`` at RCPT).
2. Otherwise the status-derived reason stands unless it is a vague one (``RETRY``); vague or
   missing ones are refined by the phrases of ``SECOND_PASS``, then by the status subject
   (X.6 content, X.7 security), a syntax-error reply code, the delivery being delayed, a refusal
   right after HELO/EHLO.
3. Whatever is still undecided is ``onhold`` when there was a diagnostic, else ``undefined``.

The command may be given as a function that finds it: finding it (a search of the report's
opening) costs more than all the rules, and most evidence is decided without it. The rules read
the command last (``_command``), and it is found only when one of them reaches it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from bot.parse.command import BEFORE_DATA
from bot.parse.phrases import BY_RECIPIENT_DOMAIN, EXPLICIT, reasons_in
from bot.parse.providers import provider_code

# RFC 3463 / IANA enhanced status codes whose meaning settles or suggests a reason.
STATUS_NAME: dict[str, str] = {
    "4.1.6": "hasmoved",
    "4.1.7": "rejected",
    "4.1.8": "rejected",
    "4.1.9": "systemerror",
    "4.2.1": "blocked",
    "4.2.2": "mailboxfull",
    "4.2.3": "exceedlimit",
    "4.2.4": "filtered",
    "4.3.1": "systemfull",
    "4.3.2": "notaccept",
    "4.3.3": "systemerror",
    "4.3.5": "systemerror",
    "4.4.1": "expired",
    "4.4.2": "networkerror",
    "4.4.3": "systemerror",
    "4.4.4": "networkerror",
    "4.4.5": "systemfull",
    "4.4.6": "networkerror",
    "4.4.7": "expired",
    "4.4.8": "networkerror",
    "4.5.3": "systemerror",
    "4.5.5": "systemerror",
    "4.6.0": "contenterror",
    "4.6.2": "contenterror",
    "4.6.5": "contenterror",
    "4.7.1": "blocked",
    "4.7.2": "blocked",
    "4.7.5": "securityerror",
    "4.7.6": "securityerror",
    "4.7.7": "securityerror",
    "4.7.12": "securityerror",
    "4.7.15": "securityerror",
    "4.7.16": "mesgtoobig",
    "4.7.24": "authfailure",
    "4.7.25": "requireptr",
    "4.7.26": "authfailure",
    "5.1.0": "userunknown",
    "5.1.1": "userunknown",
    "5.1.2": "hostunknown",
    "5.1.3": "userunknown",
    "5.1.4": "filtered",
    "5.1.6": "hasmoved",
    "5.1.7": "rejected",
    "5.1.8": "rejected",
    "5.1.9": "systemerror",
    "5.1.10": "userunknown",
    "5.2.0": "filtered",
    "5.2.1": "filtered",
    "5.2.2": "mailboxfull",
    "5.2.3": "exceedlimit",
    "5.2.4": "filtered",
    "5.3.0": "systemerror",
    "5.3.1": "systemfull",
    "5.3.2": "notaccept",
    "5.3.3": "systemerror",
    "5.3.4": "mesgtoobig",
    "5.3.5": "systemerror",
    "5.4.0": "networkerror",
    "5.4.3": "systemerror",
    "5.4.4": "hostunknown",
    "5.5.2": "syntaxerror",
    "5.5.3": "toomanyconn",
    "5.5.4": "systemerror",
    "5.5.5": "systemerror",
    "5.5.6": "syntaxerror",
    "5.6.0": "contenterror",
    "5.6.1": "contenterror",
    "5.6.2": "contenterror",
    "5.6.3": "contenterror",
    "5.6.5": "contenterror",
    "5.6.6": "contenterror",
    "5.6.7": "contenterror",
    "5.6.8": "contenterror",
    "5.6.9": "contenterror",
    "5.7.0": "securityerror",
    "5.7.1": "securityerror",
    "5.7.2": "securityerror",
    "5.7.3": "securityerror",
    "5.7.4": "securityerror",
    "5.7.5": "securityerror",
    "5.7.6": "securityerror",
    "5.7.7": "securityerror",
    "5.7.8": "securityerror",
    "5.7.9": "securityerror",
    "5.7.10": "securityerror",
    "5.7.11": "securityerror",
    "5.7.13": "suspend",
    "5.7.14": "securityerror",
    "5.7.15": "securityerror",
    "5.7.16": "mesgtoobig",
    "5.7.17": "hasmoved",
    "5.7.18": "hasmoved",
    "5.7.19": "securityerror",
    "5.7.20": "authfailure",
    "5.7.21": "authfailure",
    "5.7.22": "authfailure",
    "5.7.23": "authfailure",
    "5.7.24": "authfailure",
    "5.7.25": "requireptr",
    "5.7.26": "authfailure",
    "5.7.27": "notaccept",
    "5.7.28": "spamdetected",
    "5.7.29": "authfailure",
    "5.7.30": "securityerror",
    # Exchange Online / on-premises extended codes (Microsoft's NDR reference).
    "4.4.312": "networkerror",
    "4.4.315": "networkerror",
    "4.4.316": "networkerror",
    "4.4.317": "networkerror",
    "4.4.318": "networkerror",
    "4.7.320": "securityerror",
    "5.4.300": "expired",
    "5.4.312": "expired",
    "5.4.315": "expired",
    "5.4.316": "expired",
    "5.4.317": "expired",
    "5.4.318": "expired",
    "5.7.320": "expired",
    "5.7.509": "authfailure",
    "5.7.606": "blocked",
    "5.7.511": "blocked",
    "5.7.750": "blocked",
}
# PowerMTA's bounce categories (its "bounce-category-patterns"; the DSN carries the verdict in
# X-PowerMTA-BounceCategory). The MTA sorted the reply into one of these itself, so the category
# outranks what the status and the wording suggest ("550 5.2.1 ... User Unknown" filed under
# bad-mailbox is an unknown user). "other" says nothing.
MTA_CATEGORY: dict[str, str] = {
    "bad-mailbox": "userunknown",
    "bad-domain": "hostunknown",
    "inactive-mailbox": "suspend",
    "quota-issues": "mailboxfull",
    "message-expired": "expired",
    "no-answer-from-host": "networkerror",
    "bad-connection": "networkerror",
    "relaying-issues": "norelaying",
    "invalid-sender": "rejected",
    "routing-errors": "systemerror",
    "bad-configuration": "systemerror",
    "protocol-errors": "syntaxerror",
    "content-related": "contenterror",
    "virus-related": "virusdetected",
    "spam-related": "spamdetected",
    "policy-related": "policyviolation",
}
# Categories that gather several causes: PowerMTA's stock patterns file blocklisted IPs ("RBL",
# "blocked") under spam-related. A more specific reason the text names stands.
_BROAD_CATEGORY = frozenset({"spamdetected", "policyviolation"})
# Reasons too vague to stand on their own: phrases may refine them.
RETRY = frozenset(
    {"", "undefined", "onhold", "systemerror", "securityerror", "networkerror", "hostunknown", "userunknown"}
)
FIRST_PASS = (
    "mailboxfull",
    "mesgtoobig",
    "exceedlimit",
    "suspend",
    "hasmoved",
    "norelaying",
    "authfailure",
    "userunknown",
    "filtered",
    "requireptr",
    "notcompliantrfc",
    "badreputation",
    "contenterror",
    "rejected",
    "hostunknown",
    "spamdetected",
    "speeding",
    "toomanyconn",
    "blocked",
)
SECOND_PASS = (
    "mailboxfull",
    "authfailure",
    "badreputation",
    "speeding",
    "spamdetected",
    "virusdetected",
    "policyviolation",
    "norelaying",
    "systemerror",
    "networkerror",
    "suspend",
    "contenterror",
    "systemfull",
    "notaccept",
    "expired",
    "securityerror",
    "mailererror",
)
# Reasons more specific than a refusal "by policy": when the text names one, it stands.
_NOT_POLICY = frozenset(
    {
        "spamdetected",
        "virusdetected",
        "policyviolation",
        "authfailure",
        "blocked",
        "norelaying",
        "mailboxfull",
        "mesgtoobig",
        "exceedlimit",
        "requireptr",
        "badreputation",
        "hostunknown",
        "suspend",
    }
)
_EXPLICIT_STATUS = frozenset({"mailboxfull", "mesgtoobig", "exceedlimit", "authfailure", "requireptr", "toomanyconn"})


class Evidence(NamedTuple):
    """What one delivery offers the classifier (a named tuple: one is built for every delivery,
    several times faster than a frozen dataclass). The classifier builds them with
    ``tuple.__new__`` and the fields in order, as the generated ``__new__`` does, without the
    frame of that Python function."""

    by_status: str  # reason the status code names, "" when none
    found: frozenset[str]  # reasons whose phrases occur in the diagnostic
    command: str | None
    reply_code: str | None
    has_status: bool
    still_queued: bool = False  # a delay warning (RFC 3464 "Action: delayed"): the MTA keeps trying
    policy: bool = False  # a generic status (X.0.0 or none) whose text says "policy"


# What a text names that a 5.1.1 "no such user" is not about. (The rules' sets are built once here:
# a set written in a rule is built again at each call.)
_NOT_UNKNOWN = frozenset(
    {
        "norelaying",
        "blocked",
        "blocked_connection",
        "mailboxfull",
        "hasmoved",
        "notaccept",
        "speeding",
        "rejected_sender",
    }
)
_NONE_OR_BEFORE_DATA = frozenset({None, *BEFORE_DATA})


def _userunknown(e: Evidence) -> bool:
    if e.by_status == "userunknown":
        # 5.1.1 says "no such user" unless the text says relaying, blocking, a full box ...
        return not (
            e.found & _NOT_UNKNOWN
            or _rejected_text(e)
            or ("filtered" in e.found and "userunknown" not in e.found)  # "refused due to recipient preferences"
        )
    # An unknown command counts as RCPT when the status names nothing else: that is where
    # nearly every "no such user" is said (Sisimai's MTA modules usually know the command).
    if e.policy:
        return False  # a refusal by policy that happens to say "recipient rejected"
    if (
        "userunknown_stated" in e.found
        and "rejected_sender" not in e.found  # "the sender address does not exist" is no mailbox of ours
        and e.by_status in _VAGUE
        and _command(e) not in _NONE_OR_BEFORE_DATA
    ):
        # After DATA, "user unknown" is often a recipient's sender filter in disguise (``_filtered``);
        # a text that states the mailbox does not exist, under a status that names nothing, is not.
        return True
    return "userunknown" in e.found and (_command(e) == "RCPT" or (_command(e) is None and not e.by_status))


_VAGUE = frozenset({"", "securityerror", "systemerror", "onhold", "undefined"})


def _at_mail(e: Evidence) -> bool:
    return _command(e) == "MAIL"


def _userunknown_vague(e: Evidence) -> bool:
    """A "no such user" text under a status that names no reason of its own (5.7.1, 5.0.0, none)
    and no command: the text says more than the code."""
    return e.by_status in _VAGUE and "userunknown" in e.found and not e.policy and _command(e) is None


_UNKNOWN_OR_FILTERED = frozenset({"userunknown", "filtered"})


def _filtered(e: Evidence) -> bool:
    if e.by_status == "filtered":
        return bool(e.found & _UNKNOWN_OR_FILTERED)
    if not e.found & _UNKNOWN_OR_FILTERED:
        return False  # (the command is read last: finding it costs more than these tests)
    if _command(e) in BEFORE_DATA:
        return False
    return "filtered" in e.found or (_command(e) is not None and "userunknown" in e.found)


def _rejected_text(e: Evidence) -> bool:
    return "rejected" in e.found and "rejected_not" not in e.found


def _rejected(e: Evidence) -> bool:
    if e.by_status == "rejected" or (e.by_status == "userunknown" and "rejected_sender" in e.found):
        # An address status (X.1.x) with a text naming the sender: the sender's address was refused.
        return True
    if e.by_status == "securityerror" and not e.found and e.reply_code != "530" and _command(e) == "MAIL":
        # Refused at MAIL FROM under a bare 5.7.x, nothing more said: the sender was refused
        # (530 is RFC 4954 "authentication required", a security error).
        return True
    if not _rejected_text(e):
        return False
    # The text says "rejected": at MAIL FROM, after DATA (unless the status names a mailbox), or
    # under a status that names nothing else (the command is read last: finding it costs more).
    if e.by_status in ("", "undefined", "onhold", "securityerror", "systemerror"):
        return True
    return _command(e) == "MAIL" or (_command(e) == "DATA" and e.by_status != "userunknown")


def _hostunknown(e: Evidence) -> bool:
    if e.by_status == "hostunknown":
        return "networkerror" not in e.found
    return "hostunknown" in e.found


def _mesgtoobig(e: Evidence) -> bool:
    # RFC 3463 X.2.3 is the per-mailbox limit: "exceedlimit", whatever the wording.
    return e.by_status == "mesgtoobig" or (e.by_status != "exceedlimit" and "mesgtoobig" in e.found)


def _spam(e: Evidence) -> bool:
    if not e.has_status:
        return False
    if e.by_status == "spamdetected":
        return True
    return "spamdetected" in e.found and _command(e) not in BEFORE_DATA


def _blocked(e: Evidence) -> bool:
    if e.by_status == "blocked" or "blocked" in e.found:
        return True
    # A refused or dropped connection: the client was turned away, unless the status names a
    # network fault (4.4.x: RFC 3463 "network and routing status") or the queue is still retrying.
    return "blocked_connection" in e.found and e.by_status != "networkerror" and not e.still_queued


def _by_status_or_text(reason: str) -> Callable[[Evidence], bool]:
    return lambda e: e.by_status == reason or reason in e.found


def _by_text(reason: str) -> Callable[[Evidence], bool]:
    return lambda e: reason in e.found


_PROBES: dict[str, Callable[[Evidence], bool]] = {
    **{r: _by_status_or_text(r) for r in _EXPLICIT_STATUS},
    "blocked": _blocked,
    **{r: _by_text(r) for r in ("hasmoved", "notcompliantrfc", "badreputation", "speeding")},
    "mesgtoobig": _mesgtoobig,
    "suspend": lambda e: e.reply_code == "525" or "suspend" in e.found,
    "norelaying": lambda e: "norelaying" in e.found and _command(e) not in ("CONN", "EHLO", "HELO"),
    "userunknown": _userunknown,
    "filtered": _filtered,
    "contenterror": lambda e: (e.by_status == "contenterror" or "contenterror" in e.found) and not _spam(e),
    "rejected": _rejected,
    "hostunknown": _hostunknown,
    "spamdetected": _spam,
}

_FIRST_PASS_PROBES = tuple((name, _PROBES[name]) for name in FIRST_PASS)


def _first_pass_of(e: Evidence) -> str | None:
    """The first reason of ``FIRST_PASS`` whose probe holds for ``e``, or None."""
    for name, probe in _FIRST_PASS_PROBES:
        if probe(e):
            return name
    return None


class _NeedsCommand(Exception):
    """Raised by ``_command``: the answer depends on the SMTP command, not found yet."""


# The command of evidence built before its command was looked for (``classify``): no SMTP
# command is written so.
_LATER = "\0"


def _command(e: Evidence) -> str | None:
    """The SMTP command of ``e``; ``_NeedsCommand`` when it has not been looked for yet (a pass
    that never reads it takes the same path whatever the command is). Every rule reads the
    command here."""
    command = e.command
    if command == _LATER:
        raise _NeedsCommand
    return command


_UNKNOWN = "?"  # ``_first_pass``'s answer when the command decides


@functools.lru_cache(maxsize=2048)
def _first_pass(fields: tuple[object, ...]) -> str | None:
    """``_first_pass_of`` the evidence of ``fields`` (``Evidence``'s, in order), or ``_UNKNOWN``
    when its command is still to be found (``_LATER``) and a probe reached reads it (finding it
    costs more than the probes: most evidence never needs it). A pure function of a small value
    (a status name, a few reason names, a command, a reply code, three flags): the same evidence
    recurs across deliveries and bounces, and a cached answer costs one lookup instead of up to
    nineteen probe calls. Keyed by the plain tuple (equal to the evidence, and hashed alike): the
    evidence is built only when the answer is not cached."""
    try:
        return _first_pass_of(tuple.__new__(Evidence, fields))
    except _NeedsCommand:
        return _UNKNOWN


def _known(e: Evidence, find: Callable[[], str | None] | None) -> Evidence:
    """``e`` with its command, found now."""
    assert find is not None  # only evidence built without its command asks
    return tuple.__new__(Evidence, (e.by_status, e.found, find(), e.reply_code, e.has_status, e.still_queued, e.policy))


_T = TypeVar("_T")


def _asked(probe: Callable[[Evidence], _T], e: Evidence, find: Callable[[], str | None] | None) -> tuple[_T, Evidence]:
    """``probe(e)``, and the evidence it was answered on: when the probe reads a command ``e``
    has not looked for yet (``_LATER``), the command is found and the probe asked again with it."""
    try:
        return probe(e), e
    except _NeedsCommand:
        e = _known(e, find)
        return probe(e), e


def status_name(status: str | None) -> str:
    return STATUS_NAME.get(status or "", "")


def classify(  # noqa: PLR0917 - the parser calls it once per recipient, by position (see below)
    status: str | None,
    text: str | None,
    delayed: bool = False,
    reply_code: str | None = None,
    command: str | Callable[[], str | None] | None = None,
    diagnostic_type: str = "SMTP",
    recipient: str | None = None,
    found: frozenset[str] | Callable[[], frozenset[str]] | None = None,
    still_queued: bool = False,
    diagnosed: bool | Callable[[], bool] = True,
    category: str = "",
    lowered: str | None = None,
) -> str:
    """The reason for one delivery. ``found`` may pass ``reasons_in(text.lower())`` (or a
    function that finds it, called only when a rule reads it) and ``lowered`` ``text.lower()``
    when the caller already has them; ``category`` is the reporting
    MTA's own classification (``MTA_CATEGORY``); ``command`` may be a function that finds the
    command, and ``diagnosed`` one that tells whether the recipient's own lines say anything,
    each called only when a rule reads it. (The parser passes every argument by position: a
    call with keywords costs more, once per recipient.)"""
    by_status = STATUS_NAME.get(status, "") if status else ""
    if status and status[:2] == "2.":
        return "delivered"
    verdict = MTA_CATEGORY.get(str.lower(category.strip()), "") if category else ""
    if verdict and verdict not in _BROAD_CATEGORY:
        return verdict
    if lowered is None:
        lowered = str.lower(text) if text else ""
    if text and (coded := provider_code(text, lowered)):
        return coded.reason  # a receiver's own documented code says more than any generic rule
    if found is None:
        found = reasons_in(lowered) if lowered else frozenset()
    elif callable(found):
        found = found()
    if "content_rejected" in found:
        # "Content rejected" alone: a spam filter's words, or the content's form under X.6.x.
        found = found | {"contenterror" if (status or "")[1:3] == ".6" else "spamdetected"}
    domain = recipient.rpartition("@")[2] if recipient else ""
    if domain in BY_RECIPIENT_DOMAIN and not (by_status and by_status in found) and not (status or "").startswith("4."):
        # The domain's own notices (a group refusing a post) mean one thing; an SMTP refusal whose
        # status and text agree on something else (5.1.1 "does not exist": no such group) says more,
        # and a temporary failure (4.x.x) is no refusal of the post at all.
        return BY_RECIPIENT_DOMAIN[domain]
    if verdict:
        # A broad category: a specific reason the text names stands (in the classifier's order).
        named = found & _NOT_POLICY
        return verdict if verdict in named else next((r for r in (*FIRST_PASS, *SECOND_PASS) if r in named), verdict)
    # "expired" is the queue's verdict, weaker than what went wrong on each attempt.
    explicit = _explicit(found) if found else ""
    if explicit and explicit not in RETRY and explicit != "expired":
        return explicit
    generic = not status or status[-4:] == ".0.0"
    policy = generic and "policy" in lowered and not (found & _NOT_POLICY)
    find = None
    if callable(command):
        # Finding the command costs more than the whole rule set, and most evidence never reads
        # it: the rules run without it first (its field holds ``_LATER``), and it is found when one
        # of them asks (``_asked``).
        find = command
        fields: tuple[object, ...] = (by_status, found, _LATER, reply_code, bool(status), still_queued, policy)
    else:
        fields = (by_status, found, command, reply_code, bool(status), still_queued, policy)
    if diagnostic_type[:6] != "X-UNIX":
        name = _first_pass(fields)
        if name == _UNKNOWN:
            assert find is not None  # (only a blind pass asks)
            fields = (by_status, found, find(), reply_code, bool(status), still_queued, policy)
            find = None
            name = _first_pass(fields)
        if name is not None:
            return name  # (most deliveries: no evidence was built but on a cache miss)
    # the evidence the rules below read
    e: Evidence = tuple.__new__(Evidence, fields)
    if diagnostic_type[:6] != "X-UNIX":
        if policy:
            # A refusal by the receiving side's policy: of the sender (the text says so, or at
            # MAIL FROM) "rejected", otherwise the recipient's filter, "filtered".
            if "sender address" in lowered:
                return "rejected"
            at_mail, e = _asked(_at_mail, e, find)
            return "rejected" if at_mail else "filtered"
        vague, e = _asked(_userunknown_vague, e, find)
        if vague:
            return "userunknown"
    if explicit:
        return explicit  # a vague reason the MTA's own words named: still better than the status
    if by_status == "expired" and ("networkerror" in found or "dns query failed" in lowered):
        # An expiry code (Exchange's 5.4.312 "Message expired, DNS query failed") whose text names
        # what failed on each attempt: the cause says more than the queue's verdict.
        return "networkerror"
    if by_status in RETRY or diagnostic_type != "SMTP":
        for name in SECOND_PASS:
            if name in found:
                return name
        if not by_status:
            by_status, e = _asked(lambda known: _fallback(known, status, delayed, diagnostic_type), e, find)
    if by_status and by_status != "undefined":
        return by_status
    if still_queued:
        return "expired"  # a delay warning: the queue's verdict is all there is
    # Sisimai's convention: "onhold" when the remote said something nobody could classify,
    # "undefined" when there is nothing to go on for this recipient.
    if callable(diagnosed):
        diagnosed = diagnosed()
    return "onhold" if diagnosed and lowered and not lowered.isspace() else "undefined"


# How ``reasons_in`` names a reason of ``EXPLICIT``: "!" before it.
_EXPLICIT_FOUND = frozenset(f"!{reason}" for reason in EXPLICIT)


def _explicit(found: frozenset[str]) -> str:
    """The reason an MTA's own words name (``EXPLICIT``: "!"-prefixed in ``found``), "" when none;
    of several, the first by name, "expired" last."""
    named = found & _EXPLICIT_FOUND  # (most evidence has none: one set operation, no loop)
    if not named:
        return ""
    return min([r[1:] for r in named], key=lambda r: (r == "expired", r))


def _fallback(e: Evidence, status: str | None, delayed: bool, diagnostic_type: str) -> str:
    subject = (status or "")[:3]
    if subject in ("5.6", "4.6"):
        return "contenterror"
    if subject in ("5.7", "4.7"):
        return "securityerror"
    if diagnostic_type.upper().startswith(("X-UNIX", "X-POSTFIX")):
        return "mailererror"
    code = int(e.reply_code) if e.reply_code and e.reply_code.isdigit() else 0
    if 400 < code < 408 or 500 < code < 508:
        return "syntaxerror"
    if subject in ("4.3", "5.3"):
        return "systemerror"  # RFC 3463 X.3: mail system status (421 4.3.0 is not an expiry)
    if e.still_queued:
        return "expired"
    if _command(e) in ("EHLO", "HELO"):
        return "blocked"
    return ""
