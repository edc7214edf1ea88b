"""The shortcuts taken when building and scanning with the parser's tables give what the general
code gives."""

from __future__ import annotations

import random
import re
from itertools import product

import pytest

from bot.parse import phrases
from bot.parse.alternation import _escape, gated, literal_trie_pattern, trie_pattern

_ALPHABET = "ab.(|*x"


def _words(rnd: random.Random) -> list[str]:
    return ["".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(1, 7))) for _ in range(rnd.randint(1, 12))]


@pytest.mark.parametrize("seed", range(40))
def test_a_trie_of_words_takes_the_longest_word_as_the_flat_alternation(seed: int) -> None:
    # (a lone opening is written out as one literal, without the walk to its end)
    rnd = random.Random(seed)
    words = _words(rnd)
    trie = re.compile(literal_trie_pattern(words))
    flat = re.compile("|".join(map(re.escape, sorted(set(words), key=len, reverse=True))))
    for _ in range(20):
        text = "".join(rnd.choice(_ALPHABET) for _ in range(30))
        for at in range(len(text)):
            found, want = trie.match(text, at), flat.match(text, at)
            assert (found and found.group()) == (want and want.group()), (words, text, at)


@pytest.mark.parametrize("seed", range(40))
def test_a_lone_opening_keeps_its_tail(seed: int) -> None:
    rnd = random.Random(seed)
    # (regular expressions: their openings hold no special character but ".")
    alternatives = [w.translate({ord(c): None for c in "(|*"}) for w in _words(rnd)]
    alternatives = [w + rnd.choice(("", "x?", "[ab]", r"\.a")) for w in alternatives if w]
    trie = re.compile(trie_pattern(alternatives))
    flat = re.compile("|".join(alternatives))
    for _ in range(20):
        text = "".join(rnd.choice("ab.(x") for _ in range(30))
        assert (trie.search(text) is None) == (flat.search(text) is None), (alternatives, text)


@pytest.mark.parametrize("literal", ["", "plain words", "a.b", "(x|y)*", "\\[]{}^$+?", "mx.example.net"])
def test_a_fragment_is_escaped_only_where_it_needs_it(literal: str) -> None:
    assert re.fullmatch(_escape(literal), literal)
    assert _escape(literal) == literal.translate(str.maketrans({c: "\\" + c for c in "\\.^$*+?{}[]|()"}))


@pytest.mark.parametrize("seed", range(30))
def test_gated_items_are_those_holding_no_absent_gate(seed: int) -> None:
    # (built one gate at a time, each split filtering only the items left)
    rnd = random.Random(seed)
    items = tuple(("".join(rnd.choice("abc") for _ in range(rnd.randint(0, 5))), n) for n in range(rnd.randint(0, 9)))
    gates = tuple("".join(rnd.choice("abc") for _ in range(rnd.randint(1, 2))) for _ in range(rnd.randint(0, 4)))
    table = gated(items, gates, lambda item: item[0])
    assert list(table) == list(product((False, True), repeat=len(gates)))
    for present, kept in table.items():
        absent = [gate for gate, has in zip(gates, present, strict=True) if not has]
        assert kept == tuple(item for item in items if not any(gate in item[0] for gate in absent))


def test_each_opening_lists_its_longer_phrases_longest_first() -> None:
    # (only the opening itself can be a phrase of its group no longer than the opening)
    vocabulary = [word for word in phrases._TABLE if word[0].isalnum()]
    for opening, (longer, _) in phrases._CANDIDATES.items():
        group = sorted(w for w in vocabulary if w[: phrases._WORD_PREFIX] == opening)
        want = sorted((w for w in group if len(w) > phrases._WORD_PREFIX), key=len, reverse=True)
        assert longer == tuple(want), opening
