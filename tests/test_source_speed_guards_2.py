"""More shortcuts taken when reading inputs give what the general code gives."""

from __future__ import annotations

import io
import os
import random
import re
from pathlib import Path

import pytest

from bot.cli import explain
from bot.cli.explain import Input
from bot.parse import mime


def test_files_under_takes_links_to_files_not_to_directories(tmp_path: Path) -> None:
    for name in ("d/a", "d/.h", "e/b", ".x/c"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "link-file").symlink_to(tmp_path / "d" / "a")
    (tmp_path / ".link-hidden").symlink_to(tmp_path / "d" / "a")
    (tmp_path / "link-dir").symlink_to(tmp_path / "e", target_is_directory=True)
    (tmp_path / "link-broken").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo")
    # What rglob finds (it does not follow links to directories), files and links to files only.
    wanted = [str(p) for p in sorted(tmp_path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    assert str(tmp_path / "link-file") in wanted and str(tmp_path / ".x" / "c") in wanted
    assert explain._files_under(str(tmp_path)) == wanted


def test_inputs_name_the_files_still_to_read(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.eml").write_bytes(b"From: a@example.org\n\nhi\n")
    (tmp_path / "empty").mkdir()
    paths = [str(tmp_path / "d"), str(tmp_path / "empty"), str(tmp_path / "d" / ".." / "d" / "a.eml"), "-"]
    given = list(explain.iter_inputs(paths, io.BytesIO(b"x")))
    assert given == [
        str(tmp_path / "d" / "a.eml"),
        Input(str(tmp_path / "empty"), None, error=f"{tmp_path / 'empty'}: directory holds no files"),
        str(tmp_path / "d" / "a.eml"),
        Input("-", b"x", 1),
    ]
    read = [explain.read_input(item) for item in given]
    assert read == [explain.read_input(Input(item, None)) if isinstance(item, str) else item for item in given]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "text"])
def test_a_file_given_by_name_is_explained_as_its_input_is(tmp_path: Path, fmt: str) -> None:
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: x\n\n" + b"550 5.1.1 user unknown\n" * (explain.MAX_BYTES // 20))
    cases = [
        Path(__file__).parent / "samples" / "exim" / "exim-en-5.1.1-plain.eml",
        big,
        tmp_path / "missing.eml",
        tmp_path,
    ]
    for path in cases:
        name = str(path)
        by_name = explain.explain_input(name, language="en", fmt=fmt, color=False, many=True)
        unread = explain.explain_input(Input(name, None), language="en", fmt=fmt, color=False, many=True)
        data, size, error = explain._read_file(name)
        assert by_name == unread
        if error is None:
            assert size == path.stat().st_size
            read = Input(name, data, size)
            assert explain.explain_input(read, language="en", fmt=fmt, color=False, many=True) == by_name
        else:
            assert by_name == ("", (error,), False, True, None)


def _header_blocks(rng: random.Random, count: int) -> list[str]:
    """Header blocks of wanted and other names in random letter cases, folded or not, with the
    near misses that a branch must not take (a longer name, a name cut short, no colon)."""
    names = [*sorted(mime.ORIGINAL_FIELDS | mime.READ_FIELDS), "received-spfx", "dkim-signature", "x-mailer", "mime"]
    blocks = []
    for _ in range(count):
        lines = []
        for _ in range(rng.randrange(1, 12)):
            name = rng.choice(names)
            name = name[: rng.randrange(1, len(name) + 1)] if rng.random() < 0.1 else name
            name = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
            gap = rng.choice(["", " ", "\t", "\n ", " \n\t"])
            colon = ":" if rng.random() < 0.95 else ""
            value = rng.choice(["", " a@example.org", "\tx\n y", " \u00e9\n\tz ", "  "])
            lines.append(rng.choice(["", " ", "\t"]) * (rng.random() < 0.05) + name + gap + colon + value)
        blocks.append("\n".join(lines))
    return blocks


def test_branched_field_patterns_find_what_the_case_blind_ones_find() -> None:
    rng = random.Random(2047)
    samples = Path(__file__).parent / "samples"
    texts = _header_blocks(rng, 3000)
    for path in sorted(samples.rglob("*.eml")):
        texts.append(mime.header_block(path.read_bytes().replace(b"\r\n", b"\n")).decode("utf-8", "surrogateescape"))
    for names in (mime.READ_FIELDS, mime.ORIGINAL_READ_FIELDS, mime.ORIGINAL_FIELDS, mime.PART_FIELDS):
        branched = mime._wanted_fields(names, branched=True)
        blind = mime._wanted_fields(names)
        found = 0
        for text in texts:
            want = blind.findall("\n" + text)
            assert branched.findall("\n" + text) == want, (sorted(names), text)
            found += len(want)
        assert found > 1000
    assert mime._WANTED_FIELDS[mime.READ_FIELDS].flags & re.IGNORECASE == 0  # the branched one is in use
