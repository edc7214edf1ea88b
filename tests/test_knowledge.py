"""The knowledge base is complete in every language, and covers every reference code."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import knowledge
from bot.explain import explain_code

LANGS = knowledge.LANGUAGES
_CJK = {"ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"), "ko": re.compile(r"[\uac00-\ud7af]")}


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_loads_and_validates(lang: str) -> None:
    kb = knowledge.load(lang)
    assert set(knowledge.CONNECTOR_CODES) <= set(kb.exact)
    assert set(kb.classes) == {"2", "4", "5"}
    assert {f"X.{n}" for n in range(8)} <= set(kb.subjects)


@pytest.mark.parametrize("lang", LANGS)
def test_entries_are_complete(lang: str) -> None:
    kb = knowledge.load(lang)
    entries = [*kb.exact.values(), *(r[4] for r in kb.ranges), *kb.registry.values()]
    assert len(entries) > 150
    for entry in entries:
        assert entry.title and entry.summary, entry.key
        if not entry.informational:
            assert entry.checklist, f"{lang} {entry.key}: empty checklist"
        if entry.group.startswith(("connector", "exchange")):
            assert entry.causes, f"{lang} {entry.key}: no causes"


@pytest.mark.parametrize("code", knowledge.CONNECTOR_CODES)
def test_connector_codes_are_rich(code: str) -> None:
    entry = knowledge.load("en").exact[code]
    assert len(entry.causes) >= 2
    assert len(entry.checklist) >= 3
    assert "partner" in {c.id for c in entry.causes} | {s.id for s in entry.checklist}
    assert any(c.probes for c in entry.causes), "no probe confirms any cause"


def test_connector_checklists_name_the_concrete_fixes() -> None:
    kb = knowledge.load("en")
    text_316 = " ".join(s.text for s in kb.exact["4.4.316"].checklist)
    assert "Set-AcceptedDomain" in text_316 and "Authoritative" in text_316
    assert "25" in text_316
    assert "Set-OutboundConnector" in " ".join(
        s.text for s in kb.exact["4.4.317"].checklist + kb.exact["4.7.320"].checklist
    )


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_translations_are_not_english(lang: str) -> None:
    en, other = knowledge.load("en"), knowledge.load(lang)
    same = [k for k, e in en.exact.items() if other.exact[k].summary == e.summary]
    assert not same, f"{lang}: summaries identical to English: {same[:5]}"
    if lang in _CJK:
        assert all(_CJK[lang].search(e.summary) for e in other.exact.values())


@pytest.mark.parametrize("lang", LANGS)
def test_same_ids_in_every_language(lang: str) -> None:
    en, other = knowledge.load("en"), knowledge.load(lang)
    for key, entry in en.exact.items():
        assert [c.id for c in other.exact[key].causes] == [c.id for c in entry.causes]
        assert [s.id for s in other.exact[key].checklist] == [s.id for s in entry.checklist]


def test_every_registry_code_is_explained(reference_dir: Path) -> None:
    with (reference_dir / "iana-smtp-enhanced-status-codes.csv").open(newline="") as fh:
        codes = {row["Code"].strip() for row in csv.DictReader(fh)}
    assert len(codes) > 70
    kb = knowledge.load("en")
    missing = sorted(c for c in codes if c[2:] not in kb.registry)
    assert not missing, missing


def _exchange_codes(reference_dir: Path) -> set[str]:
    text = (reference_dir / "exchange-online-ndr-codes.md").read_text()
    codes: set[str] = set()
    for m in re.finditer(r"\b([45]\.\d\.\d{1,3})(?:-(\d{3}))?\b", text):
        if m.group(2):
            klass, subject, low = m.group(1).split(".")
            codes.update(f"{klass}.{subject}.{n}" for n in (int(low), int(m.group(2))))
        else:
            codes.add(m.group(1))
    return codes


def test_every_exchange_code_has_a_specific_entry(reference_dir: Path) -> None:
    codes = _exchange_codes(reference_dir)
    assert len(codes) > 60
    kb = knowledge.load("en")
    generic = sorted(
        c for c in codes if (e := kb.explain_status(c)) is None or not e.group.startswith(("connector", "exchange"))
    )
    assert not generic, generic


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("4.4.316", "4.4.316"),
        ("5.7.620", "5.7.606-649"),
        ("4.7.550", "4.7.500-699"),
        ("5.1.1", "5.1.1"),
        ("4.1.1", "X.1.1"),
        ("5.7.27", "X.7.27"),
        ("5.6.999", "5.6.x"),
        ("550", "550"),
    ],
)
def test_lookup_order(code: str, key: str) -> None:
    explanation = explain_code(code, "en")
    assert explanation is not None
    assert explanation.key == key


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(knowledge.KnowledgeError, match="unsupported language"):
        knowledge.load("xx")


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_ui_labels_keep_the_english_placeholders_and_markup(lang: str) -> None:
    english, other = knowledge.load("en").ui, knowledge.load(lang).ui
    assert set(other) == set(english)
    placeholder = re.compile(r"\{(\w*)\}")
    for name, text in english.items():
        assert sorted(placeholder.findall(other[name])) == sorted(placeholder.findall(text)), name
        assert other[name].count("`") == text.count("`"), name


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv(knowledge.CACHE_ENV, str(folder))
    knowledge.load.cache_clear()
    yield folder
    knowledge.load.cache_clear()


def _no_files(language: str) -> knowledge.Knowledge:
    raise AssertionError(f"{language}: the files were read again")


def test_a_language_is_read_from_the_cache_the_second_time(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = knowledge.load("fr")
    assert sorted(p.name.split("-")[1] for p in cache_dir.iterdir()) == ["en", "fr"]
    knowledge.load.cache_clear()
    monkeypatch.setattr(knowledge, "_load", _no_files)
    assert knowledge.load("fr") == first


def test_a_changed_file_or_a_foreign_cache_means_reading_the_files(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    knowledge.load("en")
    copy = tmp_path / "knowledge"
    shutil.copytree(knowledge._root(), copy)
    monkeypatch.setattr(knowledge, "_root", lambda: copy)
    before = knowledge._fingerprint()
    with (copy / "en" / "ui.toml").open("a") as fh:
        fh.write("\n# an edit\n")
    assert knowledge._fingerprint() != before
    monkeypatch.undo()
    monkeypatch.setenv(knowledge.CACHE_ENV, str(cache_dir))
    knowledge.load.cache_clear()
    cache_dir.chmod(0o777)  # writable by anyone: its pickles are not loaded
    read: list[str] = []
    monkeypatch.setattr(knowledge, "_load", lambda language: read.append(language) or _real_load(language))
    knowledge.load("en")
    assert read == ["en"]


def test_an_empty_cache_setting_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(knowledge.CACHE_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    knowledge.load.cache_clear()
    try:
        assert knowledge.load("en").exact
    finally:
        knowledge.load.cache_clear()
    assert not any(tmp_path.iterdir())


_real_load = knowledge._load
