"""The sender checks' facts: ``knowledge/facts/sender.toml``, read once and checked.

The facts file says which bounce codes offer the check, which blocklists are asked by default,
and which checklist steps each failure gets. The words are knowledge-base texts like every
other (``knowledge/<lang>/sender.toml``, keys ``sender.failures.spf-none``,
``sender.steps.spf-publish``, ``sender.observed.spf-matched`` ...), said with ``bot.texts`` and
checked across languages by the one validator in ``bot/knowledge.py`` (same keys, same fields
as English). ``check()`` adds what only this file knows: every id of the facts has its English
text, and a checklist step names only fields the check fills in (``[fields] names``), so a
translation can never lose the record to publish. Any problem raises ``KnowledgeError``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import knowledge
from bot.errors import KnowledgeError

FACTS = "facts/sender.toml"
PREFIX = "sender"


@dataclass(frozen=True, slots=True)
class Blocklist:
    """A DNS blocklist as the facts file describes it."""

    zone: str
    delist: str
    errors: Mapping[str, str] = field(default_factory=dict)  # answer -> error id (not a listing)
    codes: Mapping[str, str] = field(default_factory=dict)  # answer -> the list's name for it
    default: bool = False
    ipv6: bool = True  # False: the list holds IPv4 addresses only, an IPv6 address is not asked


@dataclass(frozen=True, slots=True)
class SenderFacts:
    """The facts file, checked: when a bounce offers the sender check, and what the check asks."""

    checklists: Mapping[str, tuple[str, ...]]  # failure id ("listed" for listed:<zone>) -> step ids
    warnings: tuple[str, ...]
    dnsbl_errors: tuple[str, ...]
    fields: frozenset[str]  # the fields a step may name
    offer_codes: tuple[tuple[int, int, int, int], ...]  # class, subject, low, high
    keywords: tuple[str, ...]
    blocklists: tuple[Blocklist, ...]
    microsoft_delist: str

    def offers(self, status: str | None, text: str = "") -> bool:
        """Does a bounce with this code (and this text) call for the sender check?"""
        by_code = self.offers_by_code(status)
        return self.names_sender_problem(text) if by_code is None else by_code

    def offers_by_code(self, status: str | None) -> bool | None:
        """What the code alone says: True, it calls for the sender check; False, it does not;
        None, it is an X.7.x code, which calls for it when its text names a sender problem."""
        parts = (status or "").split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return False
        klass, subject, detail = (int(p) for p in parts)
        if any(c == klass and s == subject and low <= detail <= high for c, s, low, high in self.offer_codes):
            return True
        return None if subject == 7 else False

    def names_sender_problem(self, text: str) -> bool:
        """Does the text name SPF, DKIM, DMARC, a blocklist (``[offer] keywords``)?"""
        lowered = text.lower()
        return any(k in lowered for k in self.keywords)

    def default_lists(self) -> tuple[Blocklist, ...]:
        return tuple(b for b in self.blocklists if b.default)

    def blocklist(self, zone: str) -> Blocklist:
        """The facts' entry for ``zone``, or a bare one (no error answers known)."""
        zone = zone.strip().rstrip(".").lower()
        for known in self.blocklists:
            if known.zone == zone:
                return known
        return Blocklist(zone=zone, delist="")

    def step_keys(self) -> list[str]:
        return list(dict.fromkeys(f"{PREFIX}.steps.{s}" for steps in self.checklists.values() for s in steps))


def _table(where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KnowledgeError(f"knowledge/{FACTS} {where}: expected a table")
    return value


def _ranges(codes: object) -> tuple[tuple[int, int, int, int], ...]:
    if not isinstance(codes, list):
        raise KnowledgeError(f"knowledge/{FACTS} offer.codes: expected a list")
    out = []
    for code in codes:
        parts = str(code).split(".")
        low, _, high = parts[-1].partition("-") if len(parts) == 3 else ("", "", "")
        if not (parts[0].isdigit() and parts[1:2] and parts[1].isdigit() and low.isdigit() and (high or low).isdigit()):
            raise KnowledgeError(f"knowledge/{FACTS} offer.codes: {code!r} is not a code or a range")
        out.append((int(parts[0]), int(parts[1]), int(low), int(high or low)))
    return tuple(out)


def _blocklists(facts: dict[str, Any]) -> tuple[Blocklist, ...]:
    lists = []
    for zone, entry in _table("dnsbl", facts.get("dnsbl", {})).items():
        item = _table(f"dnsbl.{zone}", entry)
        lists.append(
            Blocklist(
                zone=zone,
                delist=str(item.get("delist", "")),
                errors=dict(item.get("errors", {})),
                codes=dict(item.get("codes", {})),
                default=bool(item.get("default", False)),
                ipv6=bool(item.get("ipv6", True)),
            )
        )
    return tuple(lists)


@functools.cache
def load() -> SenderFacts:
    """The facts, read once (language-neutral: the words are texts, see the module docstring),
    and kept in the user cache beside the knowledge base."""
    return knowledge.cached("sender-facts", SenderFacts, _read)


def _read() -> SenderFacts:
    facts = knowledge.read(FACTS)
    offer = _table("offer", facts.get("offer"))
    return SenderFacts(
        checklists={k: tuple(v) for k, v in _table("failures", facts.get("failures")).items()},
        warnings=tuple(_table("warnings", facts.get("warnings")).get("ids", [])),
        dnsbl_errors=tuple(_table("dnsbl_errors", facts.get("dnsbl_errors")).get("ids", [])),
        fields=frozenset(_table("fields", facts.get("fields")).get("names", [])),
        offer_codes=_ranges(offer.get("codes", [])),
        keywords=tuple(str(k).lower() for k in offer.get("keywords", [])),
        blocklists=_blocklists(facts),
        microsoft_delist=str(_table("microsoft", facts.get("microsoft")).get("delist", "")),
    )


def check() -> list[str]:
    """What only the facts file knows: each of its ids has an English text, and each step names
    only the fields the check fills in. (The other languages are checked against English by
    ``bot.knowledge``'s text validator.)"""
    try:
        facts = _read()  # the file itself, never the cache
        texts = knowledge.load(knowledge.DEFAULT_LANGUAGE).texts
    except KnowledgeError as exc:
        return [str(exc)]
    problems = []
    wanted = [
        *(f"{PREFIX}.failures.{i}" for i in facts.checklists),
        *(f"{PREFIX}.warnings.{i}" for i in facts.warnings),
        *(f"{PREFIX}.dnsbl_errors.{i}" for i in facts.dnsbl_errors),
        *facts.step_keys(),
    ]
    problems += [
        f"knowledge/en/sender.toml: {key} missing (named in knowledge/{FACTS})" for key in wanted if key not in texts
    ]
    for key in facts.step_keys():
        problems += knowledge.field_problems(f"knowledge/en/sender.toml {key}", texts.get(key, ""), facts.fields)
    return problems
