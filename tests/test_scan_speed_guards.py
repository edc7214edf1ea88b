"""The shortcuts taken when building and scanning with the parser's tables give what the general
code gives."""

from __future__ import annotations

import random
import re

import pytest

from bot.parse.alternation import _escape, literal_trie_pattern, trie_pattern

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
