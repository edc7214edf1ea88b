"""From a parsed bounce (or a bare code) to the explanation a reader acts on.

The knowledge base answers for one code; this module decides which code to ask about: the
bounce's primary code, or its reply code when no enhanced code was given. A connector-style
queue error (nested in Exchange's wrapper, or naming the attempted server) whose code has no
entry of its own gets the general connector advice instead of a registry definition, because the
admin's next step is the same: read the destination server in the error and fix that side.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot import knowledge
from bot.fill import fill_step, known_from_bounce
from bot.frozen import slot_setters
from bot.knowledge import Cause, Entry, Step
from bot.parse import Bounce

# Only ``--code`` needs these: compiled when first used, by ``re``'s own cache.
_STATUS = r"^[245]\.\d{1,3}\.\d{1,3}$"
# RFC 5321 section 4.2: the first digit is 2 to 5 (3xx included: 334 and 354 are replies too).
_REPLY = r"^[2-5][0-5]\d$"


@dataclass(frozen=True, slots=True, init=False)
class Explanation:
    """What a code means, why it happens, and what to do, in one language. Its ``__init__`` is
    the generated one's, storing through the slots' setters (``bot/frozen.py``)."""

    code: str  # what was explained: "4.4.316", "550"
    key: str  # the knowledge entry that answered: "4.4.316", "X.1.1", "5.7.x", "connector-other"
    language: str
    title: str
    summary: str
    causes: tuple[Cause, ...]
    checklist: tuple[Step, ...]
    specific: bool  # False when only the class and subject were known

    def __init__(  # noqa: PLR0917 - the generated __init__'s own positional parameters
        self,
        code: str,
        key: str,
        language: str,
        title: str,
        summary: str,
        causes: tuple[Cause, ...],
        checklist: tuple[Step, ...],
        specific: bool,
    ) -> None:
        _set_code(self, code)
        _set_key(self, key)
        _set_language(self, language)
        _set_title(self, title)
        _set_summary(self, summary)
        _set_causes(self, causes)
        _set_checklist(self, checklist)
        _set_specific(self, specific)


(
    _set_code,
    _set_key,
    _set_language,
    _set_title,
    _set_summary,
    _set_causes,
    _set_checklist,
    _set_specific,
) = slot_setters(Explanation)


def _from_entry(code: str, entry: Entry, language: str) -> Explanation:
    success = code.startswith("2")  # 2.x.x and 2xx report success: nothing to remediate
    return Explanation(
        code=code,
        key=entry.key,
        language=language,
        title=entry.title,
        summary=entry.summary,
        causes=() if success else entry.causes,
        checklist=() if success else entry.checklist,
        specific=not entry.key.endswith(".x") and entry.key not in ("2", "4", "5"),
    )


def _filled(explanation: Explanation, known: Mapping[str, str]) -> Explanation:
    """``explanation`` with its checklist filled from what the case knows (bot/fill.py)."""
    e = explanation
    checklist = tuple([fill_step(step, known) for step in e.checklist])
    return Explanation(e.code, e.key, e.language, e.title, e.summary, e.causes, checklist, e.specific)


def normalise_code(text: str) -> str | None:
    """``"#5.1.1"``, ``" 550 "`` -> the code; None when it is neither an enhanced nor a reply code."""
    code = text.strip().lstrip("#").rstrip(".,;:")
    if re.match(_STATUS, code) or re.match(_REPLY, code):
        return code
    return None


def explain_code(
    code: str, language: str = knowledge.DEFAULT_LANGUAGE, known: Mapping[str, str] | None = None
) -> Explanation | None:
    """Explain one status (``4.4.316``) or reply code (``550``); None when we know nothing of it.

    ``known``: what the case knows for the checklist's fields (bot/fill.py); without it every
    field shows its example, marked as a placeholder."""
    kb = knowledge.load(language)
    entry = kb.explain_status(code) if "." in code else kb.explain_reply(code)
    return _filled(_from_entry(code, entry, language), known or {}) if entry else None


def explain_bounce(bounce: Bounce, language: str = knowledge.DEFAULT_LANGUAGE) -> Explanation | None:
    """Explain the bounce's primary code, in ``language``, the checklist filled from the bounce."""
    asked = asked_codes(bounce)
    if asked is None:
        return None
    explanation = unfilled_explanation(*asked, language)
    return _filled(explanation, known_from_bounce(bounce)) if explanation is not None else None


def asked_codes(bounce: Bounce) -> tuple[str | None, str | None, bool] | None:
    """What a bounce's explanation depends on besides the language, before its checklist is
    filled: its primary status and reply code, and whether the error is connector-like (came
    through Exchange's wrapper or names the attempted server or its address); None without a
    primary code. ``unfilled_explanation(*asked_codes(bounce), language)`` explains it."""
    primary = bounce.primary
    if primary is None:
        return None
    connector_like = primary.depth > 0 or "LastAttempted" in primary.text or bounce.remote_ip is not None
    return primary.status, primary.reply_code, connector_like


# The same few codes come back in every batch of bounces: what they are explained with (before
# the checklist is filled from the bounce) is looked up once per code, and kept.
@functools.lru_cache(maxsize=1024)
def unfilled_explanation(
    status: str | None, reply_code: str | None, connector_like: bool, language: str
) -> Explanation | None:
    """The unfilled explanation of a bounce's primary code (``connector_like``: the error came
    through Exchange's wrapper or names the attempted server or its address)."""
    kb = knowledge.load(language)
    if status:
        entry = kb.explain_status(status)
        documented = entry is not None and entry.group.startswith(("connector", "exchange"))
        if connector_like and status.split(".")[1] == "4" and not documented:
            entry = kb.connector_other
        if reply_code and status.endswith(".0") and not documented:
            # X.Y.0 says only "other or undefined" (RFC 3463 section 3); a reply code with an entry
            # of its own outside the registry (454, 530: SMTP AUTH, RFC 4954) says more.
            reply = kb.explain_reply(reply_code)
            if reply is not None and not reply.group.startswith("enhanced"):
                return _from_entry(reply_code, reply, language)
        if entry is not None:
            return _from_entry(status, entry, language)
    if reply_code:
        entry = kb.explain_reply(reply_code)
        if entry is not None:
            return _from_entry(reply_code, entry, language)
    return None
