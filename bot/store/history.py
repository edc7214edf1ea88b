"""Per-domain history of verdicts: the last N, newest first, gone after a quiet month.

Strategy: one capped list per domain under ``mailflow:v1:history:<domain>``; each entry is a
compact JSON object ``{"at": epoch s, "code": "4.4.316" | null, "summary": "..."}``. A push
trims the list to ``cap`` and renews its expiry in one step, so the list is bounded in length
and lives ``ttl_s`` after the last diagnosis of that domain. Summaries are cut to
``MAX_SUMMARY`` characters. History is a nicety: a store error loses an entry (logged) or
reads as no history, it never fails the answer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.store.base import Store
from bot.store.errors import StoreError
from bot.store.keys import dumps, key

log = logging.getLogger("mailflow.store")
MAX_SUMMARY = 300


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: float  # wall clock, epoch seconds
    code: str | None  # the verdict's code; None: healthy
    summary: str


def _domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


class DomainHistory:
    def __init__(self, store: Store, *, cap: int = 20, ttl_s: float = 30 * 86400.0) -> None:
        self.store = store
        self.cap = cap
        self.ttl_s = ttl_s

    async def record(self, domain: str, code: str | None, at: float, summary: str) -> None:
        entry = dumps({"at": at, "code": code, "summary": summary[:MAX_SUMMARY]})
        try:
            await self.store.push_capped(key("history", _domain(domain)), entry, self.cap, self.ttl_s)
        except StoreError as exc:
            log.warning("history not recorded for %s: %s", _domain(domain), exc)

    async def recent(self, domain: str, n: int = 5) -> list[HistoryEntry]:
        """The newest ``n`` verdicts for ``domain``, newest first."""
        try:
            raw = await self.store.list_range(key("history", _domain(domain)), min(n, self.cap))
        except StoreError as exc:
            log.warning("history not read for %s: %s", _domain(domain), exc)
            return []
        entries = []
        for item in raw:
            try:
                data = json.loads(item)
                entries.append(HistoryEntry(float(data["at"]), data["code"], str(data["summary"])))
            except (ValueError, TypeError, KeyError):
                continue  # written by another version: skip it
        return entries
