"""Lower-casing that keeps every character at its own offset.

The parser looks for phrases in a lower-cased copy of a report and then cuts the report itself
at the offsets it found there. ``str.lower`` maps every character to one character but one:
"İ" (U+0130, capital I with dot above) becomes "i" and a combining dot above, so each offset after
it would point one character too far (a list cut in the wrong place, a domain read from the wrong
character). Here it becomes a plain "i", as Turkish writes it.
"""

from __future__ import annotations

_DOTTED_CAPITAL_I = "\u0130"


def lower(text: str) -> str:
    """``text.lower()``, one character for each character of ``text``."""
    lowered = str.lower(text)
    if len(lowered) == len(text):
        return lowered
    return str.lower(text.replace(_DOTTED_CAPITAL_I, "i"))
