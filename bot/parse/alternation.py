"""One regular expression for many alternatives, shaped as a trie of their literal openings.

``a|b|c|...`` makes the engine try every alternative at every position it cannot rule out by
the first character: with sixty phrases that is sixty comparisons per letter of the report.
Branching on one character at a time instead (``d(?:elivery (?:failed|incomplete)|id not ...)``)
rejects a position after one or two comparisons. Each alternative is a literal opening, then
optionally a short regular expression (``said: ?[245]\\d\\d``: ``said:``, then `` ?[245]\\d\\d``),
which hangs under the opening's last node. The trie matches at a position exactly when one of
the alternatives does, so ``search(...) is not None`` gives the same answer as the flat form (the
match found may differ: use it for yes-or-no questions only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SPECIAL = frozenset("\\.^$*+?{}[]|()")
_QUANTIFIERS = frozenset("*+?{")


def _split(alternative: str) -> tuple[str, str]:
    """(literal opening, regular-expression rest) of one alternative."""
    end = 0
    while end < len(alternative) and alternative[end] not in _SPECIAL:
        end += 1
    if end < len(alternative) and alternative[end] in _QUANTIFIERS:
        end -= 1  # a quantifier applies to the character before it: that one is not literal
    return alternative[:end], alternative[end:]


def trie_pattern(alternatives: Iterable[str]) -> str:
    """A regular expression matching where one of ``alternatives`` (regular expressions
    without a top-level ``|``) matches."""
    return _emit(sorted(_split(alternative) for alternative in alternatives))


def _emit(pairs: list[tuple[str, str]]) -> str:
    """The trie of ``pairs`` (opening, tail), sorted: a node's branches by their next character,
    a chain without a branch as one literal."""
    tails = sorted({tail for opening, tail in pairs if not opening and tail})
    ends_here = any(not opening and not tail for opening, tail in pairs)
    branches = []
    rest = [pair for pair in pairs if pair[0]]
    start = 0
    while start < len(rest):
        first = rest[start][0][0]
        end = start + 1
        while end < len(rest) and rest[end][0][0] == first:
            end += 1
        group = rest[start:end]
        # the run all openings of the group share (the group is sorted: its first and last
        # opening bound every other one)
        low, high = group[0][0], group[-1][0]
        shared = 1
        while shared < min(len(low), len(high)) and low[shared] == high[shared]:
            shared += 1
        branches.append(re.escape(low[:shared]) + _emit([(o[shared:], t) for o, t in group]))
        start = end
    branches += tails
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and not ends_here else "(?:" + "|".join(branches) + ")"
    return body + "?" if ends_here else body
