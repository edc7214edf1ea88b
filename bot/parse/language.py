"""Which language a bounce's human-readable text is written in.

Order of evidence: a ``Content-Language`` header (Exchange sets it on localised NDRs), then the
script (kana means Japanese, Hangul Korean, Han without kana Chinese, Cyrillic Russian), then
the labels of localised NDRs, then common words.
Returns an ISO 639-1 code, or None when the text is too short to say.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import TypeVar

from bot.parse.alternation import gated

SUPPORTED = ("en", "es", "fr", "ja", "nl", "ko", "de", "it", "pt", "zh", "ru")


# Kana and Latin letters are counted by both bytes of each UTF-16 code unit (``_in_range``): kana
# (U+3040..U+30FF) are the units of the block U+30xx whose low byte is 0x40 or more, Latin
# letters the units of the block U+00xx whose low byte is a letter. Each byte string becomes a
# string of 0 and 1 (``bytes.translate``), read as one integer: the units that pass both tests
# are the set bits of the two integers' AND, all at C speed (a pattern tried character by
# character, and a list of its runs, cost several times as much).
_KANA_HIGH = bytes(int(b == 0x30) for b in range(256))
_KANA_LOW = bytes(int(b >= 0x40) for b in range(256))
_LATIN_HIGH = bytes(int(b == 0) for b in range(256))
_LATIN_LOW = bytes(int(chr(b) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for b in range(256))
# Hangul, Han and Cyrillic are counted by the high byte of each UTF-16 code unit (``_in_blocks``:
# an encoding, a slice and a ``bytes.translate``, all at C speed): their ranges are whole blocks of
# 256 characters but for Hangul's last, completed with a pattern only where a text holds that
# block at all. A class over such ranges costs a step per character to compile, tens of thousands.
_HANGUL_BLOCKS = bytes(range(0xAC, 0xD7))  # U+AC00..U+D6FF
_HANGUL_LAST = re.compile(r"[\ud700-\ud7af]")  # the last Hangul syllables, in the block U+D700..U+D7FF
_HAN_BLOCKS = bytes(range(0x4E, 0xA0))  # U+4E00..U+9FFF
_CYRILLIC_BLOCKS = b"\x04"  # U+0400..U+04FF
# Words of Japanese NDRs written in kanji alone (Chinese reports say 收件人, 主题, 发件人, 投递):
# a terse Japanese report of labels only has Han and no kana.
_JAPANESE_KANJI = ("宛先", "件名", "差出人", "送信", "配信")
# Labels that localised Exchange NDRs and common MTAs print, and frequent short words.
_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "the",
        "was",
        "could",
        "not",
        "delivered",
        "message",
        "your",
        "to",
        "following",
        "recipient",
        "returned",
        "diagnostic information",
        "generating server",
        "remote server",
        "delivery",
        "failed",
        "has",
        "this",
        "of",
        "address",
        "error",
        "connection",
        "refused",
        "unknown",
        "user",
        "mailbox",
        "rejected",
        "denied",
        "expired",
        "failed",
        "timed",
        "out",
    ),
    "es": (
        "el",
        "la",
        "de",
        "que",
        "no",
        "se",
        "su",
        "mensaje",
        "destinatario",
        "servidor",
        "entregar",
        "devolvió",
        "información de diagnóstico",
        "para",
        "los",
        "pudo",
        "correo",
    ),
    "fr": (
        "le",
        "la",
        "les",
        "de",
        "des",
        "votre",
        "message",
        "destinataire",
        "serveur",
        "n'a pas",
        "distant",
        "a retourné",
        "informations de diagnostic",
        "pas",
        "être",
        "est",
        "remis",
    ),
    "nl": (
        "de",
        "het",
        "een",
        "niet",
        "uw",
        "bericht",
        "ontvanger",
        "server",
        "kan",
        "worden",
        "geretourneerd",
        "diagnostische gegevens",
        "afgeleverd",
        "bezorgd",
        "van",
        "is",
    ),
    "de": (
        "der",
        "die",
        "das",
        "nicht",
        "ihre",
        "nachricht",
        "empfänger",
        "server",
        "konnte",
        "wurde",
        "zurückgegeben",
        "diagnoseinformationen",
        "zugestellt",
        "und",
        "ist",
        "an",
    ),
    "it": ("il", "di", "che", "non", "messaggio", "destinatario", "consegnato", "server", "è", "stato"),
    "pt": ("o", "de", "não", "mensagem", "destinatário", "servidor", "entregue", "foi", "para", "você"),
}
# Latin letters only (the word lists are Latin-script); explicit ranges are about twice as fast
# as Unicode classes. The pattern opens with the class, not a repeat of it: the engine skips
# ahead to the next letter at C speed.
_TOKEN = re.compile(r"[a-z\u00c0-\u024f][a-z\u00c0-\u024f]*(?:'[a-z\u00c0-\u024f]+)?")
_PHRASE_LANG = tuple((w, lang) for lang, words in _WORDS.items() for w in words if " " in w or "'" in w)
# The phrases a text can hold, by the fragments several of them share (``gated``): a text without
# "diagn" holds none of the phrases that contain it, and one without an apostrophe (a search for
# one character costs a twentieth of one for a word) does not hold "n'a pas". An ASCII text can
# hold only the ASCII phrases.
_PHRASE_GATES = ("diagn", "server", "'")
_PHRASES = gated(_PHRASE_LANG, _PHRASE_GATES, itemgetter(0))
_ASCII_PHRASES = gated(tuple(p for p in _PHRASE_LANG if p[0].isascii()), _PHRASE_GATES, itemgetter(0))
_SINGLE = {lang: frozenset(w for w in words if " " not in w and "'" not in w) for lang, words in _WORDS.items()}
# Each language as one character, and each word as the characters of the languages it counts for:
# a text's tokens become one string of marks (C-level ``map`` and ``join``), counted per language
# with ``str.count``, with no Python-level step per token.
_LANGUAGES = tuple(_SINGLE)
_POSITION = {lang: i for i, lang in enumerate(_LANGUAGES)}
_MARKS = "".join(chr(ord("a") + i) for i in range(len(_SINGLE)))
_BY_WORD: dict[str, str] = {}
for _mark, _singles in zip(_MARKS, _SINGLE.values(), strict=True):
    for _word in _singles:
        _BY_WORD[_word] = _BY_WORD.get(_word, "") + _mark
# The same for ASCII text, as bytes: every byte that is not a lower-case letter separates tokens.
# bytes.translate is a plain table lookup per byte, several times faster than str.translate.
_BY_ASCII_WORD = {word.encode(): marks for word, marks in _BY_WORD.items() if word.isascii()}
_ASCII_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))


# The remote server's reply as a localised NDR quotes it ("Vom Remoteserver wurde '550 5.1.1 ...'
# zurückgegeben"): nearly always English, whatever the language of the report around it.
_QUOTED_REPLY = re.compile(r"'[245]\d\d[ \-][^'\n]{0,2000}'")


def detect(text: str, content_language: str | None = None) -> str | None:
    if content_language:
        code = str.lower(content_language.strip().split(",")[0].split("-")[0])
        if code in SUPPORTED:
            return code
    sample = text[:800]
    if "'" in sample:
        own = _QUOTED_REPLY.sub(" ", text[:2400])[:800]
        found = _by_sample(own) if own != sample else None
        if found:
            return found
    return _by_sample(sample)


def _count(letters: re.Pattern[str], sample: str) -> int:
    """How many characters of ``sample`` the runs of ``letters`` hold."""
    return sum(map(len, letters.findall(sample)))


def _in_range(high: bytes, low: bytes, high_table: bytes, low_table: bytes) -> int:
    """How many of the code units whose high bytes are ``high`` and low bytes ``low`` pass both
    tables (1 for a byte that passes, 0 for one that does not)."""
    return (int.from_bytes(high.translate(high_table)) & int.from_bytes(low.translate(low_table))).bit_count()


def _in_blocks(high: bytes, blocks: bytes) -> int:
    """How many of the code units whose high bytes are ``high`` lie in one of ``blocks``."""
    return len(high) - len(high.translate(None, blocks))


def _by_sample(sample: str) -> str | None:
    if sample.isascii():
        return _by_words(sample)
    # the block of each UTF-16 code unit (those of a pair, and lone surrogates, lie in none of ours)
    units = sample.encode("utf-16-be", "surrogatepass")
    high, low = units[::2], units[1::2]
    kana = _in_range(high, low, _KANA_HIGH, _KANA_LOW)
    hangul = _in_blocks(high, _HANGUL_BLOCKS)
    if 0xD7 in high:  # (by value: a one-byte bytes operand is first tried as an integer, at a cost)
        hangul += _count(_HANGUL_LAST, sample)
    if hangul >= 4 and hangul >= kana:
        return "ko"
    if kana >= 4:
        return "ja"
    # Han or Cyrillic decide only as a fair share of the letters: an English report that quotes a
    # Chinese subject or names "Иван Петров" is English.
    han = _in_blocks(high, _HAN_BLOCKS)
    cyrillic = _in_blocks(high, _CYRILLIC_BLOCKS)
    latin = _in_range(high, low, _LATIN_HIGH, _LATIN_LOW) if han >= 8 or cyrillic >= 8 else 0
    if han >= 8 and han * 3 >= latin:
        # Japanese writes its grammar in kana; Chinese (QQ, 163, Sina reports) has none.
        return "ja" if kana or any(w in sample for w in _JAPANESE_KANJI) else "zh"
    if cyrillic >= 8 and cyrillic * 3 >= latin:
        return "ru"  # Yandex, Mail.ru: a Russian opening around an English SMTP reply
    return _by_words(sample)


_Token = TypeVar("_Token", str, bytes)


def _score(tokens: list[_Token], by_word: dict[_Token, str]) -> list[int] | None:
    """How many of ``tokens`` each language lists, in the order of ``_LANGUAGES``; None for fewer
    than three tokens. (A list, not a dict: the best is found with ``max`` and ``index``, with
    no key function called per language.)"""
    if len(tokens) < 3:
        return None
    # (``filter`` drops the unlisted tokens' None: a one-argument ``get`` costs less than two)
    marks = "".join(filter(None, map(by_word.get, tokens)))
    return list(map(marks.count, _MARKS))


def _by_words(sample: str) -> str | None:
    lowered = str.lower(sample)
    # ASCII text (most reports) is split by bytes.translate + bytes.split, several times faster
    # than the token regex; the two agree on every listed word (none has an apostrophe or a digit).
    ascii_text = lowered.isascii()
    if ascii_text:
        scores = _score(lowered.encode().translate(_ASCII_LETTERS).split(), _BY_ASCII_WORD)
    else:
        scores = _score(_TOKEN.findall(lowered), _BY_WORD)
    if scores is None:
        return None
    gates = "diagn" in lowered, "server" in lowered, "'" in lowered
    for phrase, lang in _ASCII_PHRASES[gates] if ascii_text else _PHRASES[gates]:
        if phrase in lowered:
            scores[_POSITION[lang]] += 5
    best = max(scores)  # the first language with the best score wins a tie
    return _LANGUAGES[scores.index(best)] if best >= 2 else None
