"""A trie of alternatives matches where the flat alternation does: the same yes or no on every
text, the parser's own phrase lists and the real reports included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.parse import phrases
from bot.parse.alternation import gated, literal_trie_pattern, trie_pattern
from bot.parse.reading import _MARKER_PHRASES, _STRUCTURAL_SHAPES
from bot.parse.source import read
from tests.conftest import SHARED

SAMPLES = Path(__file__).parent / "samples"
CORPUS = SHARED / "corpus" / "sisimai" / "maildir" / "bsd"

CASES = [
    (("abc", "abd", "x", "xy"), ("ab", "zabd", "x", "xx", "abx")),
    ((r"said: ?[245]\d\d", "said it"), ("he said: 550", "said:550", "said: 150", "said it", "sai")),
    (("couldn'?t be delivered", "could not"), ("couldnt be delivered", "couldn't be", "could not x")),
    ((r"following address(?:\(es\)|es)? (?:had|failed)",), ("following address(es) had", "following addresses x")),
    ((r"\[\{led=", "lastattempted(?:servername|ip)"), ("[{led=1", "lastattemptedip", "lastattempted")),
]


@pytest.mark.parametrize(("alternatives", "texts"), CASES)
def test_the_trie_matches_where_the_flat_alternation_does(
    alternatives: tuple[str, ...], texts: tuple[str, ...]
) -> None:
    flat = re.compile("|".join(alternatives))
    trie = re.compile(trie_pattern(alternatives))
    for text in (*texts, *alternatives, "", " ".join(texts)):
        assert (trie.search(text) is None) == (flat.search(text) is None), text


def test_a_chain_without_a_branch_is_one_literal() -> None:
    assert trie_pattern(("delivery failed", "delivery incomplete")) == "delivery (?:failed|incomplete)"


def _report_texts() -> list[str]:
    paths = [p for p in SAMPLES.rglob("*") if p.is_file()]
    if CORPUS.is_dir():
        paths += sorted(CORPUS.iterdir())
    return [read(p.read_bytes()).text.lower() for p in paths]


@pytest.mark.parametrize("phrases", [_MARKER_PHRASES, _STRUCTURAL_SHAPES], ids=["markers", "structural"])
def test_the_parser_phrase_lists_answer_as_their_flat_form(phrases: tuple[str, ...]) -> None:
    flat = re.compile("|".join(phrases))
    trie = re.compile(trie_pattern(phrases))
    for text in _report_texts():
        for part in (text, text[len(text) // 2 :]):
            assert (trie.search(part) is None) == (flat.search(part) is None)


def test_a_literal_trie_finds_the_longest_word_at_a_position() -> None:
    words = ("mailbox", "mailbox full", "mailbox full.", "(in reply", "5.1.1", "")
    trie = re.compile(literal_trie_pattern(words))
    for text, longest in (
        ("mailbox full. x", "mailbox full."),
        ("mailbox fullness", "mailbox full"),
        ("mailboxes", "mailbox"),
        ("(in reply to", "(in reply"),
        ("5x1x1", ""),  # "." stands for itself
        ("5.1.1 user", "5.1.1"),
    ):
        match = trie.match(text)
        assert match is not None
        assert match.group() == longest, text


def test_each_reason_phrase_is_found_as_itself() -> None:
    trie = re.compile(literal_trie_pattern(phrases._TABLE))
    for word in phrases._TABLE:
        match = trie.match(word + " ")
        assert match is not None
        assert match.group() == word


@pytest.mark.parametrize(
    "text",
    ["", "copy of the original message", "the original", "content-type: x", "spf=pass [1.2.3.4]", "a=b", "[x]"],
)
def test_gated_keeps_every_needle_a_text_can_hold_in_order(text: str) -> None:
    needles = ("copy of the original", "original message", "content-type:", "spf=", "[", "x", "a=b [c]")
    gates = ("original", "copy of", "content-type:", "=", "[")
    kept = gated(needles, gates, str)[tuple(gate in text for gate in gates)]
    assert [n for n in needles if n in text] == [n for n in kept if n in text]
    assert list(kept) == [n for n in needles if n in kept]  # the order stays
    assert all(gate in text for n in kept for gate in gates if gate in n)  # none that cannot occur
