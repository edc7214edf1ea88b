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


class _Node:
    """The alternatives that go on with one more character (``children``) and the
    regular-expression tails of those that end here (``tails``; "" for one that is all literal)."""

    __slots__ = ("children", "tails")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.tails: set[str] = set()


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
    root = _Node()
    for alternative in alternatives:
        opening, tail = _split(alternative)
        node = root
        for ch in opening:
            node = node.children.setdefault(ch, _Node())
        node.tails.add(tail)
    return _emit(root)


def _emit(node: _Node) -> str:
    branches = []
    for ch in sorted(node.children):
        run, rest = [ch], node.children[ch]
        while len(rest.children) == 1 and not rest.tails:  # a chain without a branch: one literal
            ((nxt, rest),) = rest.children.items()
            run.append(nxt)
        branches.append(re.escape("".join(run)) + _emit(rest))
    branches += sorted(tail for tail in node.tails if tail)
    ends_here = "" in node.tails
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and not ends_here else "(?:" + "|".join(branches) + ")"
    return body + "?" if ends_here else body
