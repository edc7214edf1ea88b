"""The shortcuts taken when scanning a report's text give what the general code gives."""

from __future__ import annotations

import random
import re

import pytest

from bot.parse import language

# Letters of every script ``_by_sample`` counts, their neighbours at the blocks' edges, pairs of
# surrogates and lone ones, and common separators.
_ALPHABET = (
    "aZz@[`{ \n'é\u00ff\u0100\u0400\u04ff\u3040\u303f\u30ff\u3100\u4e00\u9fff\uac00\ud7a3\ud7ff"
    "\u2f40\u1e9e\U0001f600\ud800\udc00\u30a2\u3042\u0041\u0061"
)


def _kana(sample: str) -> int:
    return sum(map(len, re.findall("[\u3040-\u30ff]+", sample)))


def _latin(sample: str) -> int:
    return sum(map(len, re.findall("[A-Za-z]+", sample)))


@pytest.mark.parametrize("seed", range(40))
def test_kana_and_latin_counted_from_the_utf16_bytes_as_by_a_pattern(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        sample = "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 60)))
        units = sample.encode("utf-16-be", "surrogatepass")
        high, low = units[::2], units[1::2]
        assert language._in_range(high, low, language._KANA_HIGH, language._KANA_LOW) == _kana(sample), sample
        assert language._in_range(high, low, language._LATIN_HIGH, language._LATIN_LOW) == _latin(sample), sample
