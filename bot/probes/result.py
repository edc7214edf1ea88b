"""What a probe reports: one ProbeResult per observation, with its evidence and duration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One observation.

    ``code`` is the connector error this observation would make Exchange Online report now
    (``"4.4.316"`` for a refused connect), or None when it shows nothing wrong (``ok`` True) or
    nothing that maps to a code. ``detail`` is the one-line evidence a human reads
    ("203.0.113.25:25 refused the connection"); ``facts`` the machine-readable values behind it
    (``{"ip": "203.0.113.25", "port": 25}``) for checklists and JSON.
    """

    name: str  # the probe's name: "mx", "tcp", "banner", "certificate", ...
    target: str  # what was probed: "contoso.com", "mail.contoso.com", "203.0.113.25:25"
    ok: bool
    detail: str
    code: str | None = None
    elapsed_ms: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False  # not run (an earlier step failed, or not applicable)
