"""One regular expression for many alternatives, shaped as a trie of their literal openings.

``a|b|c|...`` makes the engine try every alternative at every position it cannot rule out by
the first character: with sixty phrases that is sixty comparisons per letter of the report.
Branching on one character at a time instead (``d(?:elivery (?:failed|incomplete)|id not ...)``)
rejects a position after one or two comparisons. Each alternative is a literal opening, then
optionally a short regular expression (``said: ?[245]\\d\\d``: ``said:``, then `` ?[245]\\d\\d``),
which hangs under the opening's last node. The trie matches at a position exactly when one of
the alternatives does, so ``search(...) is not None`` gives the same answer as the flat form (the
match found may differ: use it for yes-or-no questions only). A trie of plain words
(``literal_trie_pattern``, the reason phrases of ``phrases.py``) has no such tails, and its match
is the longest word at its position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import compress
from typing import TypeVar

_SPECIAL = frozenset("\\.^$*+?{}[]|()")
_QUANTIFIERS = frozenset("*+?{")
# Only the characters special outside a class are escaped (``re.escape`` also escapes spaces and
# punctuation, for verbose patterns): the patterns are compiled at start-up, and the parser takes
# a plain character in one step, an escaped one in several.
_ESCAPES = str.maketrans({c: "\\" + c for c in _SPECIAL})


def _escape(literal: str) -> str:
    # (most fragments hold no special character: a set test costs a fraction of ``translate``,
    # which looks every character up in the table's dict)
    return literal if _SPECIAL.isdisjoint(literal) else literal.translate(_ESCAPES)


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
    pairs = sorted(_split(alternative) for alternative in alternatives)
    return _node(pairs, 0, len(pairs), 0)


def literal_trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching where one of ``words`` (plain text: ``.`` or ``(`` in them
    stand for themselves) occurs. Each node tries its branches before it may end, so a match is
    the longest word starting at its position: the matched text says which word it was."""
    pairs = sorted((word, "") for word in words)
    return _node(pairs, 0, len(pairs), 0)


def _node(pairs: list[tuple[str, str]], low: int, high: int, depth: int) -> str:
    """The trie of ``pairs[low:high]`` (opening, tail), sorted, whose openings share their first
    ``depth`` characters: a node's branches by their next character, a chain without a branch as
    one literal. (Ranges and offsets into the one sorted list: no copies, as this runs at import.)"""
    ends_here = False
    tails: set[str] = set()
    start = low
    while start < high and len(pairs[start][0]) == depth:  # sorted: the openings that end here come first
        tail = pairs[start][1]
        if tail:
            tails.add(tail)
        else:
            ends_here = True
        start += 1
    branches = []
    while start < high:
        opening, tail = pairs[start]
        first = opening[depth]
        end = start + 1
        while end < high and pairs[end][0][depth] == first:  # longer than ``depth``: sorted after ``opening``
            end += 1
        if end == start + 1:
            # one opening (most leaves): the rest of it is one literal, then its tail (what the
            # node below would give, without the character-by-character walk to find its end)
            branches.append(_escape(opening[depth:]) + tail)
            start = end
            continue
        # the run all openings of the group share (the group is sorted: its first and last
        # opening bound every other one)
        last = pairs[end - 1][0]
        shared = depth + 1
        limit = min(len(opening), len(last))
        while shared < limit and opening[shared] == last[shared]:
            shared += 1
        branches.append(_escape(opening[depth:shared]) + _node(pairs, start, end, shared))
        start = end
    branches += sorted(tails)
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and not ends_here else "(?:" + "|".join(branches) + ")"
    return body + "?" if ends_here else body


_Item = TypeVar("_Item")


def gated(
    items: tuple[_Item, ...], gates: tuple[str, ...], needle: Callable[[_Item], str]
) -> dict[tuple[bool, ...], tuple[_Item, ...]]:
    """``items`` by which of ``gates`` a text holds, for each combination (in ``gates``' order):
    an item whose literal (``needle(item)``) holds a gate the text lacks cannot occur in it and
    is left out; the rest keep their order. One search for a short gate that many literals share
    (a character, a word) costs less than a search for each of them, and most texts lack it."""
    # One gate at a time, each combination so far splits in two: the text holds the gate (the
    # items stay as they are) or lacks it (those whose literal holds it are dropped). Each split
    # filters the items left, not all of them (this runs at import, for every combination).
    combinations: dict[tuple[bool, ...], tuple[tuple[_Item, ...], tuple[str, ...]]]
    combinations = {(): (items, tuple(map(needle, items)))}
    for gate in gates:
        split: dict[tuple[bool, ...], tuple[tuple[_Item, ...], tuple[str, ...]]] = {}
        for present, (kept, literals) in combinations.items():
            lacking = [gate not in literal for literal in literals]
            split[(*present, False)] = (tuple(compress(kept, lacking)), tuple(compress(literals, lacking)))
            split[(*present, True)] = (kept, literals)
        combinations = split
    return {present: kept for present, (kept, _) in combinations.items()}


def holds_any(text: str, needles: tuple[str, ...]) -> bool:
    """``any(n in text for n in needles)`` without a generator: most texts hold none of the
    needles, and a generator costs more than the scans of a short text."""
    for needle in needles:  # noqa: SIM110 - see above
        if needle in text:
            return True
    return False
