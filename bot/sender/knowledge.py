"""The sender checks' part of the knowledge base: ``knowledge/catalog/sender.toml`` and
``knowledge/<lang>/sender.toml``, loaded once per language and validated.

The catalog says which bounce codes offer the check, which blocklists are asked by default,
and which checklist steps each failure gets; a language file holds the words. A step names the
fields it needs (``{spf_record}``); every field must be one the check fills in
(``[fields] names``), and each language must name the same fields as English, so a
translation can never lose the record to publish. Any problem raises ``KnowledgeError`` naming
the file and key.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import KnowledgeError
from bot.knowledge import DEFAULT_LANGUAGE, LANGUAGES, _read, problems_loading

GROUP = "sender"


@dataclass(frozen=True, slots=True)
class Blocklist:
    """A DNS blocklist as the catalog describes it."""

    zone: str
    delist: str
    errors: Mapping[str, str] = field(default_factory=dict)  # answer -> error id (not a listing)
    codes: Mapping[str, str] = field(default_factory=dict)  # answer -> the list's name for it
    default: bool = False
    ipv6: bool = True  # False: the list holds IPv4 addresses only, an IPv6 address is not asked


@dataclass(frozen=True, slots=True)
class SenderKnowledge:
    language: str
    labels: Mapping[str, str]
    failures: Mapping[str, str]  # failure id -> title
    warnings: Mapping[str, str]  # warning id -> title
    dnsbl_errors: Mapping[str, str]
    steps: Mapping[str, str]  # step id -> text with {fields}
    checklists: Mapping[str, tuple[str, ...]]  # failure id -> step ids
    offer_codes: tuple[tuple[int, int, int, int], ...]  # class, subject, low, high
    keywords: tuple[str, ...]
    blocklists: tuple[Blocklist, ...]
    microsoft_delist: str

    def offers(self, status: str | None, text: str = "") -> bool:
        """Does a bounce with this code (and this text) call for the sender check?"""
        parts = (status or "").split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return False
        klass, subject, detail = (int(p) for p in parts)
        if any(c == klass and s == subject and low <= detail <= high for c, s, low, high in self.offer_codes):
            return True
        lowered = text.lower()
        return subject == 7 and any(k in lowered for k in self.keywords)

    def default_lists(self) -> tuple[Blocklist, ...]:
        return tuple(b for b in self.blocklists if b.default)

    def blocklist(self, zone: str) -> Blocklist:
        """The catalog's entry for ``zone``, or a bare one (no error answers known)."""
        zone = zone.strip().rstrip(".").lower()
        for known in self.blocklists:
            if known.zone == zone:
                return known
        return Blocklist(zone=zone, delist="")


def _table(where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KnowledgeError(f"{where}: expected a table")
    return value


def _texts(where: str, table: object, ids: list[str]) -> dict[str, str]:
    table = _table(where, table)
    missing, extra = sorted(set(ids) - set(table)), sorted(set(table) - set(ids))
    if missing or extra:
        raise KnowledgeError(f"{where}: missing {missing}, not in the catalog {extra}")
    out = {}
    for key in ids:
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise KnowledgeError(f"{where}.{key}: expected non-empty text")
        out[key] = value.strip()
    return out


def _fields(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise KnowledgeError(f"bad braces in {text[:60]!r}: {exc}") from None


def _ranges(where: str, codes: object) -> tuple[tuple[int, int, int, int], ...]:
    if not isinstance(codes, list):
        raise KnowledgeError(f"{where}: expected a list")
    out = []
    for code in codes:
        parts = str(code).split(".")
        low, _, high = parts[-1].partition("-") if len(parts) == 3 else ("", "", "")
        if not (parts[0].isdigit() and parts[1:2] and parts[1].isdigit() and low.isdigit() and (high or low).isdigit()):
            raise KnowledgeError(f"{where}: {code!r} is not a code or a range")
        out.append((int(parts[0]), int(parts[1]), int(low), int(high or low)))
    return tuple(out)


def _blocklists(catalog: dict[str, Any]) -> tuple[Blocklist, ...]:
    lists = []
    for zone, entry in _table("catalog/sender.toml dnsbl", catalog.get("dnsbl", {})).items():
        facts = _table(f"catalog/sender.toml dnsbl.{zone}", entry)
        lists.append(
            Blocklist(
                zone=zone,
                delist=str(facts.get("delist", "")),
                errors=dict(facts.get("errors", {})),
                codes=dict(facts.get("codes", {})),
                default=bool(facts.get("default", False)),
                ipv6=bool(facts.get("ipv6", True)),
            )
        )
    return tuple(lists)


@functools.cache
def load(language: str = DEFAULT_LANGUAGE) -> SenderKnowledge:
    if language not in LANGUAGES:
        raise KnowledgeError(f"unsupported language {language!r}; choose one of {', '.join(LANGUAGES)}")
    catalog = _read(f"catalog/{GROUP}.toml")
    words = _read(f"{language}/{GROUP}.toml")
    where = f"knowledge/{language}/{GROUP}.toml"
    checklists = {k: tuple(v) for k, v in _table("catalog/sender.toml failures", catalog.get("failures")).items()}
    step_ids = list(dict.fromkeys(s for steps in checklists.values() for s in steps))
    fields = set(_table("catalog/sender.toml fields", catalog.get("fields")).get("names", []))
    warning_ids = list(_table("catalog/sender.toml warnings", catalog.get("warnings")).get("ids", []))
    error_ids = list(_table("catalog/sender.toml dnsbl_errors", catalog.get("dnsbl_errors")).get("ids", []))
    labels = _table(f"{where} labels", words.get("labels"))
    if language != DEFAULT_LANGUAGE:
        english = load(DEFAULT_LANGUAGE)
        labels = _texts(f"{where} labels", labels, list(english.labels))
    else:
        labels = _texts(f"{where} labels", labels, list(labels))
    steps = _texts(f"{where} steps", words.get("steps"), step_ids)
    for step, text in steps.items():
        unknown = _fields(text) - fields
        if unknown:
            raise KnowledgeError(f"{where} steps.{step}: unknown fields {sorted(unknown)}")
        if language != DEFAULT_LANGUAGE and _fields(text) != _fields(load(DEFAULT_LANGUAGE).steps[step]):
            raise KnowledgeError(f"{where} steps.{step}: must name the same fields as English")
    offer = _table("catalog/sender.toml offer", catalog.get("offer"))
    microsoft = _table("catalog/sender.toml microsoft", catalog.get("microsoft"))
    return SenderKnowledge(
        language=language,
        labels=labels,
        failures=_texts(f"{where} failures", words.get("failures"), list(checklists)),
        warnings=_texts(f"{where} warnings", words.get("warnings"), warning_ids),
        dnsbl_errors=_texts(f"{where} dnsbl_errors", words.get("dnsbl_errors"), error_ids),
        steps=steps,
        checklists=checklists,
        offer_codes=_ranges("catalog/sender.toml offer.codes", offer.get("codes", [])),
        keywords=tuple(str(k).lower() for k in offer.get("keywords", [])),
        blocklists=_blocklists(catalog),
        microsoft_delist=str(microsoft.get("delist", "")),
    )


def check_all() -> list[str]:
    """Validate every language; the problems found (empty when all is well)."""
    return problems_loading(load)
