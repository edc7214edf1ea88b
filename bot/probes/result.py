"""What a probe reports: one ProbeResult per observation, with its evidence and duration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.texts import Text, as_texts, render_all


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One observation.

    ``code`` is the connector error this observation would make Exchange Online report now
    (``"4.4.316"`` for a refused connect), or None when it shows nothing wrong (``ok`` True) or
    nothing that maps to a code. ``texts`` is the one-line evidence a human reads, as
    knowledge-base texts with their fields (``tcp.refused``, endpoint ``203.0.113.25:25``), said
    in the reader's language by ``says``; ``detail`` is the same in English, for logs and JSON
    consumers ("203.0.113.25:25 refused the connection"). ``facts`` holds the machine-readable
    values behind it (``{"ip": "203.0.113.25", "port": 25}``) for checklists and JSON.
    """

    name: str  # the probe's name: "mx", "tcp", "banner", "certificate", ...
    target: str  # what was probed: "contoso.com", "mail.contoso.com", "203.0.113.25:25"
    ok: bool
    detail: str
    code: str | None = None
    elapsed_ms: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False  # not run (an earlier step failed, or not applicable)
    texts: tuple[Text, ...] = ()  # the evidence as knowledge-base texts; empty: only ``detail``

    def says(self, language: str) -> str:
        """The evidence in ``language``."""
        return render_all(self.texts, language) if self.texts else self.detail


def observed(  # noqa: PLR0917  (the order of ProbeResult's fields)
    name: str,
    target: str,
    ok: bool,
    said: Text | Sequence[Text],
    code: str | None = None,
    elapsed_ms: float = 0.0,
    facts: dict[str, Any] | None = None,
    *,
    skipped: bool = False,
) -> ProbeResult:
    """A ProbeResult whose evidence is knowledge-base texts (``detail`` is their English)."""
    texts = as_texts(said)
    return ProbeResult(name, target, ok, render_all(texts), code, elapsed_ms, facts or {}, skipped, texts)
