"""The shortcuts taken when scanning a report's text give what the general code gives."""

from __future__ import annotations

import random
import re

import pytest

from bot.parse import language, providers

# Letters of every script ``_by_sample`` counts, their neighbours at the blocks' edges, pairs of
# surrogates and lone ones, and common separators.
_ALPHABET = (
    "aZz@[`{ \n'é\u00ff\u0100\u0400\u04ff\u3040\u303f\u30ff\u3100\u4e00\u9fff\uac00\ud7a3\ud7ff"
    "\u2f40\u1e9e\U0001f600\ud800\udc00\u30a2\u3042\u0041\u0061"
)


def _kana(sample: str) -> int:
    return len(re.findall("[\u3040-\u30ff]", sample))


def _latin(sample: str) -> int:
    return len(re.findall("[A-Za-z]", sample))


@pytest.mark.parametrize("seed", range(40))
def test_kana_and_latin_counted_from_the_utf16_bytes_as_by_a_pattern(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        sample = "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 60)))
        units = sample.encode("utf-16-be", "surrogatepass")
        high, low = units[::2], units[1::2]
        assert language._in_range(high, low, language._KANA_HIGH, language._KANA_LOW) == _kana(sample), sample
        assert language._in_range(high, low, language._LATIN_HIGH, language._LATIN_LOW) == _latin(sample), sample


def _every_marker_provider_code(text: str) -> providers.ProviderCode | None:
    """``providers.provider_code`` with every marker looked for (no gates)."""
    every = dict.fromkeys(providers._MARKERS_GATED, providers._MARKERS)
    saved = providers._MARKERS_GATED
    providers._MARKERS_GATED = every
    try:
        return providers.provider_code(text)
    finally:
        providers._MARKERS_GATED = saved


_CODES = (
    *("AUP#CDRBL", "AUP#BL-1234", "OFR004_520", "LPN007_510", "OUK_421", "[TS01]", "[BL21]", "[PH01]"),
    *("IB212", "BL000001", "RL000010", "ES000001", "SC-001", "DY-001", "(S3150)", "(S3140)"),
)


@pytest.mark.parametrize("seed", range(30))
def test_provider_markers_behind_their_gates_give_what_every_marker_gives(seed: int) -> None:
    # (the gates tested in ``provider_code`` are those of ``_MARKER_GATES``, in its order)
    rnd = random.Random(seed)
    pieces = (*_CODES, "550", "5.7.1", " ", "\n", "blocked", "Rejected", "#", "(", "[", "]", ")", "-", "E", "F", "K")
    for _ in range(40):
        text = " ".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 8)))
        assert providers.provider_code(text) == _every_marker_provider_code(text), text
