"""The shortcuts the text scanners take give the answers the plain forms would."""

from __future__ import annotations

import itertools
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
    high = sample.encode("utf-16-be", "surrogatepass")[::2]
    assert language._count(language._KANA, sample) == len(re.findall("[\u3040-\u30ff]", sample))
    assert language._count(language._LATIN, sample) == len(re.findall("[A-Za-z]", sample))
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
