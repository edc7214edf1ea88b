"""The shortcuts the text scanners take give the answers the plain forms would."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from bot.parse import codes, dates, extract, language, phrases, providers
from bot.parse.model import Code
from bot.parse.source import read

SAMPLES = Path(__file__).parent / "samples"


def test_every_ascii_reporting_label_holds_the_gate() -> None:
    ascii_labels = [label.lower() for label in extract._REPORTING_LABELS if label.isascii()]
    assert ascii_labels
    assert all(extract._REPORTING_ASCII_GATE in label for label in ascii_labels)


def test_find_reporting_reads_every_label() -> None:
    for label in extract._REPORTING_LABELS:
        assert extract.find_reporting(f"Report\n{label}: MX1.Example.NET\n") == "mx1.example.net"


def test_provider_marker_gates_are_in_their_markers() -> None:
    for marker, gate, _ in providers._MARKERS:
        assert gate in marker
        assert not gate.isdigit()


def test_mimecast_phrases_found_under_their_gates() -> None:
    for phrase, reason in providers._MIMECAST:
        text = f"550 {phrase} mimecast"
        found = providers.provider_code(text, text.lower())
        assert found is not None
        assert (found.code, found.reason) == (phrase, reason)


def test_script_counts_are_letter_counts() -> None:
    sample = "メール配信エラー: Ошибка доставки 수신자 없음 \ud7a0\ud7b5 收件人 abc DEF ñ 😀 \udc80"
    units = sample.encode("utf-16-be", "surrogatepass")
    high, low = units[::2], units[1::2]
    kana = language._in_range(high, low, language._KANA_HIGH, language._KANA_LOW)
    assert kana == len(re.findall("[\u3040-\u30ff]", sample))
    latin = language._in_range(high, low, language._LATIN_HIGH, language._LATIN_LOW)
    assert latin == len(re.findall("[A-Za-z]", sample))
    hangul = language._in_blocks(high, language._HANGUL_BLOCKS) + language._count(language._HANGUL_LAST, sample)
    assert hangul == len(re.findall("[\uac00-\ud7af]", sample))
    assert language._in_blocks(high, language._HAN_BLOCKS) == len(re.findall("[\u4e00-\u9fff]", sample))
    assert language._in_blocks(high, language._CYRILLIC_BLOCKS) == len(re.findall("[\u0400-\u04ff]", sample))


def test_scripts_decide_as_before() -> None:
    assert language.detect("メール配信エラーが発生しました。宛先のアドレスを確認してください。") == "ja"
    assert language.detect("수신자의 메일함을 찾을 수 없습니다. 주소를 확인하십시오.") == "ko"
    assert language.detect("收件人地址不存在，邮件无法投递，请检查收件人地址。") == "zh"
    assert language.detect("Сообщение не может быть доставлено получателю, ящик не найден.") == "ru"


def test_scores_count_each_listed_token_for_each_of_its_languages() -> None:
    tokens = ["de", "la", "the", "message", "van", "het", "niet", "de", "server", "x", "y"]
    expected = dict.fromkeys(language._SINGLE, 0)
    for token in tokens:
        for lang, words in language._SINGLE.items():
            expected[lang] += token in words
    assert language._score(tokens, language._BY_WORD) == list(expected.values())
    assert language._score(["de", "la"], language._BY_WORD) is None


def _plain_by_words(sample: str) -> str | None:
    """``language._by_words`` with every phrase looked for in every text."""
    lowered = sample.lower()
    counts = language._score(lowered.encode().translate(language._ASCII_LETTERS).split(), language._BY_ASCII_WORD)
    if counts is None:
        return None
    scores = dict(zip(language._LANGUAGES, counts, strict=True))
    for phrase, lang in language._PHRASE_LANG:
        if phrase in lowered:
            scores[lang] += 5
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= 2 else None


def test_ascii_phrases_are_looked_for_where_their_fragments_occur() -> None:
    phrases = [phrase for phrase, _ in language._PHRASE_LANG if phrase.isascii()]
    assert phrases
    for phrase in phrases:
        for text in (f"x y {phrase} z", f"the message {phrase} was not delivered", f"de la {phrase}"):
            assert language._by_words(text) == _plain_by_words(text), text


def test_date_fields_read_as_numbers() -> None:
    for text, number in dates._NUMBERS.items():
        assert int(text) == number
    assert dates.parse_date("Thu, 29 Apr 2010 23:34:45 +0900") == dates.parse_date("29 Apr 2010 14:34:45 +0000")


def test_codes_of_a_long_text_are_capped() -> None:
    text = "550 5.1.1 unknown\n" * 3000
    assert len(codes._matches(text)) == codes.MAX_MATCHES
    assert codes.find_codes(text)[0].status == "5.1.1"


def _code_texts() -> list[str]:
    """Texts with replies of every shape and class, next to each other, overlapping and repeated,
    and the samples' report texts."""
    parts = ["550 5.1.1 x", "450 5.1.1", "250 ok", "4.4.7", "550", "550-5.7.1 y", "(#5.0.0)", "421-", "2.0.0"]
    texts = ["", "5", "550", "x 250\n"]
    texts += [a + sep + b for a in parts for b in parts for sep in (" ", "\n", "", ": ", " said: ")]
    texts += ["said: 550 " * n + "5.1.1 " * n for n in (1, 2, 3, 700)]
    for sample in SAMPLES.rglob("*"):
        if sample.is_file():
            texts.append(read(sample.read_bytes()).text)
    return texts


def test_code_matches_are_the_one_scans() -> None:
    for text in _code_texts():
        plain = list(itertools.islice(codes._ANY_CODE.finditer(text), codes.MAX_MATCHES))
        assert [(m.span(), m.groups()) for m in codes._matches(text)] == [(m.span(), m.groups()) for m in plain]


def test_a_reply_is_known_by_its_first_digit_and_groups() -> None:
    """``find_codes`` drops a repeated reply by its first digit and its groups, before it builds
    the (status, reply) pair: no two of those give one pair."""
    pairs: dict[tuple[str, tuple[str | None, ...]], tuple[str | None, str | None]] = {}
    for text in _code_texts():
        for m in codes._matches(text):
            first = text[m.start()]
            rest, status, alone = m.groups()
            pairs[first, m.groups()] = (first + alone, None) if alone else (status, first + rest)
    assert len(pairs) > 50
    assert len(set(pairs.values())) == len(pairs)


def test_square_bracket_depth_counted_on_is_the_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = ["550 5.1.1 a", "[", "]", "[x 451 4.4.316 y", "] 452 4.2.2", "said: 421", "5.7.1", "\n"]
    texts = _code_texts()
    texts += ["".join(parts[i] for i in (n % 8, n // 3 % 8, n // 7 % 8, (n * 5) % 8, 0)) for n in range(300)]
    texts += ["[" * 3 + "550 5.1.1 x " + "]" * 5 + " 450 4.2.2 " * 2 + "[451 4.4.7 " + "x" * 4000 + "[552 5.2.2"]
    texts += ["[" * 4100 + "550 5.1.1 x", "] 550 5.1.1 [" + "a" * 3990 + "451 4.1.1 " + "[ 452 4.2.2"]
    found = [codes.find_codes(text) for text in texts]
    assert {code.depth for codes_of in found for code in codes_of} >= {0, 1, 2, 3}
    monkeypatch.setattr(codes, "_SQUARE", (("[", "]"),))  # equal, not the same: every depth by ``_depth``
    assert [codes.find_codes(text) for text in texts] == found


def _plain_rank(code: Code) -> tuple[int, int, int]:
    """``codes.rank`` with the string methods its comparisons stand for."""
    status = code.status
    if status in codes.CONNECTOR:
        score = 7
    elif status is None:
        score = 1
    elif status in codes.FINAL_FORMS:
        score = 4
    elif status in codes.WRAPPERS:
        score = 0
    elif status.endswith(".0.0"):
        score = 2
    elif status[2:].startswith("0.") or status.endswith(".0"):
        score = 3
    else:
        score = 5 + (1 if code.depth else 0)
    permanent = 1 if (code.status or code.reply_code or "")[:1] == "5" else 0
    return score, code.depth, permanent


def test_rank_is_the_plain_rank() -> None:
    parts = ["0", "00", "05", "1", "10", "100", "316", "9", "999"]
    statuses: list[str | None] = [None, "", "0", ".0", "0.", "5.0", *codes.CONNECTOR, *codes.WRAPPERS]
    statuses += [f"{k}.{s}.{d}" for k in "2459" for s in parts for d in parts]
    for status in statuses:
        for reply in (None, "", "250", "450", "550"):
            for depth in (0, 1, 2):
                code = Code(status, reply, "x", depth)
                assert codes.rank(code) == _plain_rank(code), code


def test_exchange_nested_reply_is_cut_only_where_a_curly_bracket_is() -> None:
    plain = codes.find_codes("550 5.1.1 user unknown [x]")[0]
    nested = codes.find_codes("550 4.4.7 QUEUE.Expired [{LED=450 4.4.316 Connection refused};]")
    assert plain.text == "user unknown [x]"
    assert nested[0].text == "QUEUE.Expired"


def _openings(pattern: re.Pattern[str], text: str) -> list[tuple[int, str]]:
    """Every phrase opening ``pattern`` finds after a separator of ``text``, as ``reasons_in`` reads them."""
    found = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        found.append((m.start(), m.group(1)))
        pos = m.start() + 1
    return found


def test_word_openings_are_found_as_without_the_first_character_check() -> None:
    guarded = phrases._WORD_AFTER_SEPARATOR
    plain = re.compile(re.sub(r"\(\?=\[[^]]*\]\)", "", guarded.pattern, count=1))  # the check left out
    assert plain.pattern.startswith("[^a-z0-9](")
    texts = [" " + opening + tail for opening in phrases._CANDIDATES for tail in ("", " x", ".")]
    texts += [" - " + " ".join(phrases._CANDIDATES), "x\n5.1.1 (#5.1.1) 'mailbox full' \u30c7\u30a3 ;;  "]
    for sample in SAMPLES.rglob("*"):
        if sample.is_file():
            texts.append(" " + read(sample.read_bytes()).text.lower())
    for text in texts:
        assert _openings(guarded, text) == _openings(plain, text), text


def _plain_reasons(lowered: str) -> frozenset[str]:
    """``phrases.reasons_in`` as it reads without its shortcuts: every opening's longer phrases
    compared with ``startswith``, every separator-led phrase and gate searched for whole."""
    found: set[str] = set()
    padded = " " + lowered
    pos = 0
    while (m := phrases._WORD_AFTER_SEPARATOR.search(padded, pos)) is not None:
        start = pos = m.start()
        longer, there = phrases._CANDIDATES[m.group(1)]
        taken = next((word for word in longer if lowered.startswith(word, start)), there)
        if taken is not None:
            phrases._take(lowered, start, taken, found)
        pos += 1
    for shared, plain in phrases._PLAIN_LED:
        if shared in lowered:
            found.update(*(reasons for word, reasons in plain if word in lowered))
    for word, reasons, gate in phrases._FOUND_LED:
        if not any(fragment in lowered for fragment in gate):
            if reasons and word in lowered:
                found.update(reasons)
            continue
        for at in (m.start() for m in re.finditer(re.escape(word), lowered)):
            phrases._take(lowered, at, word, found)
    for char, full, gate, reduced in phrases._TRIES_LED:
        trie = full if any(fragment in lowered for fragment in gate) else reduced
        if char not in lowered or trie is None:
            continue
        pos = 0
        while (led := trie.search(lowered, pos)) is not None:
            phrases._take(lowered, led.start(), led.group(0), found)
            pos = led.start() + 1
    return frozenset(found)


def _phrase_pieces() -> list[str]:
    pieces = [word for word, _ in phrases._TABLE.items() if not word[0].isalnum()]
    pieces += [fragment for _, _, gate in phrases._FOUND_LED for fragment in gate]
    pieces += [fragment for _, _, gate, _ in phrases._TRIES_LED for fragment in gate]
    pieces += [rest for _, pending in phrases._TABLE.values() for _, tail in pending for rest in tail]
    pieces += [word for word, _ in phrases._TABLE.items() if word[0].isalnum()][::7]
    pieces += [*phrases._SELDOM, "user", "unknown", "550", "5.1.1", "x", "\n", "  ", ""]
    return pieces


def test_separator_led_phrases_are_found_as_without_their_seldom_characters() -> None:
    for seldom, shared, _ in phrases._PLAIN_SELDOM:
        assert seldom in shared
    for word, _, seldom, gate in phrases._FOUND_SELDOM:
        assert seldom in word
        assert all(char in fragment for char, fragment in gate)
    for _, _, gate, _ in phrases._TRIES_SELDOM:
        assert all(char in fragment for char, fragment in gate)
    rng = random.Random(7)
    pieces = _phrase_pieces()
    texts = [" ".join(pieces), "".join(pieces)]
    for _ in range(4000):
        texts.append(rng.choice(("", " ", "-", "\n")).join(rng.choice(pieces) for _ in range(rng.randint(1, 8))))
    for sample in SAMPLES.rglob("*"):
        if sample.is_file():
            texts.append(read(sample.read_bytes()).text.lower())
    for text in texts:
        assert phrases.reasons_in(text) == _plain_reasons(text), text


def _plain_provider_code(text: str, low: str) -> providers.ProviderCode | None:
    """``providers.provider_code`` without its gates: every marker searched, each provider's
    matches from the text's start, every Mimecast phrase."""
    for marker, _, provider in providers._MARKERS:
        if marker not in text:
            continue
        for m in list(provider.pattern.finditer(text))[: providers._MAX_CANDIDATES]:
            reason = providers._lookup(provider, m.group(1))
            if reason and not (providers._quoted(text, m.start()) or providers._in_message_field(low, m.start())):
                return providers.ProviderCode(provider.name, m.group(0).strip("[]()"), reason)
    for phrase, reason in providers._MIMECAST:
        wanted = phrase in low and (phrase not in providers._MIMECAST_SHARED or "mimecast" in low)
        if wanted and not providers._quoted(low, low.find(phrase)):
            return providers.ProviderCode("Mimecast", phrase, reason)
    return None


def test_provider_codes_are_found_as_by_the_plain_search() -> None:
    codes_known = [code for p in providers._CODED for code in p.codes] + ["AUP#1310", "AUP#I-1310", "OFR005_505"]
    pieces = [*codes_known, *(marker for p in providers._CODED for marker in p.markers)]
    pieces += [phrase for phrase, _ in providers._MIMECAST] + ["mimecast", "Subject:", "550", "x", "\n> ", "-", "("]
    pieces += ["[TSS04]", "(S3140)", "SC-001", "IB212", "LPNAAA_101", "BL000000", "v", "y", "q", "w"]
    rng = random.Random(11)
    texts = []
    for _ in range(4000):
        joint = rng.choice(("", " ", "-", "\n", "\u00e9"))
        texts.append(joint.join(rng.choice(pieces) for _ in range(rng.randint(1, 7))))
    for sample in SAMPLES.rglob("*"):
        if sample.is_file():
            texts.append(read(sample.read_bytes()).text)
    for text in texts:
        low = text.lower()
        assert providers.provider_code(text, low) == _plain_provider_code(text, low), text
    for provider in providers._CODED:
        for text in texts:
            for m in provider.pattern.finditer(text):  # each match holds a marker at most ``lead`` in
                assert any(m.group(0).find(marker, 0, provider.lead + len(marker)) != -1 for marker in provider.markers)
