"""The shortcuts taken when reading a message give what the general code gives."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from bot.cli import explain
from bot.parse import mime, parse_bounce, source
from bot.parse.source import MAX_BYTES


def test_wanted_fields_are_found_in_any_letter_case() -> None:
    block = (
        b"fROM: a@example.org\nRECEIVED: x\nx-FAILED-recipients:\n b@example.org\n"
        b"Subject : hi\ncontent-TYPE: text/plain\nSubjects: no\n\xc4\xb0n-Reply-To: no"
    )
    assert mime.parse_headers(block) == [
        ("from", "a@example.org"),
        ("x-failed-recipients", "b@example.org"),
        ("subject", "hi"),
        ("content-type", "text/plain"),
    ]
    assert mime.parse_headers(block, mime.ORIGINAL_FIELDS)[1] == ("received", "x")


@pytest.mark.parametrize(
    "tail",
    [
        "From: a@example.org\nSubject: hi\n\nbody\n\nmore",
        "From: \udcc3\udca9 <a@example.org>\nTo: b@example.org\n\nbody \udcff",
        "\nFrom: a@example.org",
        "Subject: caf\u00e9\n To: x",
    ],
)
def test_quoted_header_block_reads_as_the_bytes_would(tail: str) -> None:
    block = mime.header_block(tail.encode("utf-8", "surrogateescape"))
    want = mime.parse_headers(block, mime.ORIGINAL_FIELDS)
    assert mime.parse_header_text(mime.quoted_header_block(tail), mime.ORIGINAL_FIELDS) == want


_RETURNED = (
    b"From: MAILER-DAEMON@example.org\n"
    b"To: a@example.org\n"
    b"Subject: Undelivered Mail\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n'
    b"\n"
    b"--b\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"550 5.1.1 no such user\n"
    b"--b\n"
    b"Content-Type: message/rfc822\n"
    b"\n"
    b"From: =?utf-8?B?Tm/DqWw=?= <a@example.org>\n"
    b"To: =?utf-8?Q?B=C3=A9a?= <b@example.net>\n"
    b"Subject: =?utf-8?B?SGVsbG8=?=\n"
    b"\n"
    b"hi\n"
    b"--b--\n"
)


def test_the_returned_original_decodes_the_fields_that_are_read() -> None:
    original = source.read(_RETURNED).original
    assert original["from"] == "No\u00e9l <a@example.org>"
    assert original["to"] == "B\u00e9a <b@example.net>"
    assert original["subject"] == "=?utf-8?B?SGVsbG8=?="  # kept as sent: nothing reads it
    assert source._DECODED_ORIGINAL <= mime.ORIGINAL_FIELDS
    assert "subject" not in source._DECODED_ORIGINAL


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("=?utf-8?B?VW5kZWxpdmVyYWJsZTogaGk=?=", True),  # "Undeliverable: hi"
        ("=?utf-8?Q?RE:_Undeliverable?=", False),
        ("Undeliverable: hi", True),
        ("hello", False),
    ],
)
def test_a_quoted_subject_is_read_decoded(subject: str, expected: bool) -> None:
    assert source._is_report({"subject": subject, "from": "someone@example.org"}) is expected


_ROOT = Path(__file__).resolve().parent.parent
_INPUTS = sorted(
    path
    for folder in (_ROOT / "tests" / "samples", _ROOT / "docs" / "examples")
    for path in folder.rglob("*")
    if path.is_file() and path.suffix != ".toml"
)
# Every field a report's own header block may hold that a reader could want: READ_FIELDS once was
# the returned original's fields and these.
_WIDE_FIELDS = mime.READ_FIELDS | mime.ORIGINAL_FIELDS - mime.TRACE_FIELDS | frozenset({"x-mailer", "references"})


def test_the_report_headers_that_are_dropped_are_read_by_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report's header fields outside READ_FIELDS (Message-ID, Cc, Reply-To...) change no
    answer: every sample and example parses to the same bounce when they are kept."""
    assert len(_INPUTS) > 50
    datas = [path.read_bytes() for path in _INPUTS]
    narrow = [parse_bounce(data) for data in datas]
    monkeypatch.setattr(mime, "READ_FIELDS", _WIDE_FIELDS)
    mime._PART_HEADS.clear()
    wide = [parse_bounce(data) for data in datas]
    mime._PART_HEADS.clear()
    assert wide == narrow
    assert source.read(_RETURNED).headers["from"] == "MAILER-DAEMON@example.org"


def test_parts_that_share_a_header_block_read_as_fresh_ones() -> None:
    """A part whose small header block was read before shares what it gave (fields, type,
    parameters): reading a message twice, or after the cache is emptied, gives the same tree."""

    def shape(part: mime.Part) -> object:
        return (part.headers, part.ctype, part.params, part.encoding, part.body, [shape(c) for c in part.children])

    raw = _RETURNED.replace(b"--b--\n", b"--b\nContent-Type: text/plain; charset=utf-8\n\nagain\n--b--\n")
    mime._PART_HEADS.clear()
    mime._CONTENT_TYPES.clear()
    fresh = shape(mime.parse(raw))
    first, second = mime.parse(raw), mime.parse(raw)
    assert shape(first) == shape(second) == fresh
    assert first.children[0].headers is second.children[0].headers  # shared, not copied


@pytest.mark.parametrize("size", [0, 1, 4096, MAX_BYTES - 1, MAX_BYTES, MAX_BYTES + 1, 3 * MAX_BYTES + 5])
def test_a_file_is_read_as_the_plain_loop_reads_it(tmp_path: Path, size: int) -> None:
    """``_read_file``'s first read and its empty confirmation give what ``_read_bounded``'s loop
    gives over the whole file: the first MAX_BYTES, and the size of it all."""
    path = tmp_path / "input.eml"
    content = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path.write_bytes(content)
    with path.open("rb", buffering=0) as fh:
        want = explain._read_bounded(fh.read)
    data, read_size, _ = explain._read_file(str(path))
    assert (data, read_size) == want == (content[:MAX_BYTES], size)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_pipe_whose_first_read_is_short_is_read_to_its_end(tmp_path: Path) -> None:
    """A pipe gives what its writer has written so far: a short read is not its end."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pieces = [b"From: a@example.org\n", b"\nfirst\n", b"x" * (MAX_BYTES + 10)]

    def write() -> None:
        with open(fifo, "wb", buffering=0) as out:
            for piece in pieces:
                out.write(piece)
                time.sleep(0.05)

    writer = threading.Thread(target=write)
    writer.start()
    data, size, _ = explain._read_file(str(fifo))
    writer.join()
    content = b"".join(pieces)
    assert (data, size) == (content[:MAX_BYTES], len(content))


def _split_plainly(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, body) at the first empty line, by offsets."""
    if raw.startswith(b"\n"):
        return b"", raw[1:]
    cut = raw.find(b"\n\n")
    return (raw, b"") if cut == -1 else (raw[:cut], raw[cut + 2 :])


def _entities() -> list[bytes]:
    rng = random.Random(11)
    pieces = [b"\n", b"\n\n", b"Content-Type: text/plain", b"X: y", b" ", b"body", b"\n\n\n", b"--b", b"\t"]
    made = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) for _ in range(3000)]
    return [b"", b"\n", b"\n\n", b"a\n\nb", b"\nX: y\n\nz", b"X: y", *made]


def test_a_part_is_cut_at_its_first_empty_line_as_by_offsets() -> None:
    """``parse`` cuts each entity in place, and ``header_block`` gives its block, as the offsets of
    the first empty line give them."""
    for raw in _entities():
        block, body = _split_plainly(raw)
        assert mime.header_block(raw) == block, raw
        part = mime.parse(raw, depth=1)
        assert part.body == body, raw
        assert part.headers == mime.parse_headers(block, mime.PART_FIELDS), raw


def _multipart_bodies() -> list[tuple[bytes, bytes]]:
    rng = random.Random(5)
    pieces = [b"--b", b"--b--", b"--bb", b"\n", b"\n\n", b" ", b"\t", b"-", b"text", b"--", b"\r", b"b"]
    made = [(b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))), b"b") for _ in range(6000)]
    many = [
        (b"".join(b"--b\nX: %d\n\npart\n" % i for i in range(count)) + closing, b"b")
        for count in (0, 1, 2, mime.MAX_PARTS - 1, mime.MAX_PARTS, mime.MAX_PARTS + 1, mime.MAX_PARTS + 2)
        for closing in (b"", b"--b--\n", b"--b", b"--b\n")
    ]
    edge = [(b"\n---\n", b""), (b"--\n--\n--", b""), (b"pre\n--b\na\n  --b\nb\n--b--", b"b"), (b"--b", b"b")]
    return made + many + edge


def test_a_multipart_body_is_cut_as_one_boundary_at_a_time_cuts_it() -> None:
    for body, boundary in _multipart_bodies():
        assert mime.split_multipart(body, boundary) == mime.split_multipart_lines(body, boundary), (body, boundary)


def test_plain_text_is_told_from_the_texts_joined() -> None:
    """A report has plain text when one of its text parts holds more than white space: when the
    parts joined by line breaks do."""
    rng = random.Random(3)
    pieces = ["", " ", "\n", "\t", "\u3000", "a", "\r\n"]
    for _ in range(3000):
        texts = [rng.choice(pieces) * rng.randint(0, 2) for _ in range(rng.randint(0, 3))]
        joined = "\n".join(texts)
        assert (bool(joined) and not joined.isspace()) == any(t and not t.isspace() for t in texts), texts


def test_an_html_report_with_an_empty_text_part_is_read_from_its_html() -> None:
    raw = (
        b'Content-Type: multipart/alternative; boundary="b"\nFrom: a@example.org\n\n'
        b"--b\nContent-Type: text/plain\n\n \n--b\nContent-Type: text/plain\n\n\n"
        b"--b\nContent-Type: text/html\n\n<p>550 5.1.1 no such user</p>\n--b--\n"
    )
    assert source.read(raw).text.strip() == "550 5.1.1 no such user"


@pytest.mark.parametrize("charset", [None, "us-ascii", "ascii", "utf-8"])
def test_jis_escapes_are_found_by_their_escape_byte_first(charset: str | None) -> None:
    """The escape byte is looked for before the escape pair: the pair occurs only where the byte
    does, so text in ISO-2022-JP is still told from ASCII, wherever its escape is."""
    japanese = "\u5b9b\u5148\u4e0d\u660e"  # "address unknown"
    jis = japanese.encode("iso2022_jp")
    for payload in (jis, b"550 " + jis, b"x" * 70000 + jis):
        assert source._decode_bytes(payload, charset).endswith(japanese)
    assert source._decode_bytes(b"esc \x1b(B alone", charset) == "esc \x1b(B alone"
    rng = random.Random(13)
    for _ in range(2000):
        payload = bytes(rng.choice(b"\x1b$B(a ") for _ in range(rng.randint(0, 8)))
        assert (b"\x1b" in payload and b"\x1b$" in payload) is (b"\x1b$" in payload)


def test_single_bytes_are_looked_for_by_value_as_by_substring() -> None:
    """``13 in data`` is ``b"\\r" in data``; the set of what may follow a boundary is the
    substring test over ``b"-\\n \\t\\r"`` for every slice of at most one byte."""
    assert bytes((source._CR, source._ESC)) == b"\r\x1b"
    rng = random.Random(17)
    for _ in range(2000):
        data = bytes(rng.choice(b"\r\n\x1b$a") for _ in range(rng.randint(0, 6)))
        assert (source._CR in data) is (b"\r" in data)
        assert (source._ESC in data) is (b"\x1b" in data)
    after = b"-\n \t\r"
    for one in [b"", *(bytes((value,)) for value in range(256))]:
        assert (one in mime._AFTER_BOUNDARY) is (one in after), one


def test_prefixes_compared_as_slices_are_startswith() -> None:
    values = ["", "m", "multipart", "multipart/", "multipart/mixed", "text", "text/", "text/html", "Text/plain"]
    for value in values:
        assert (value[:10] == "multipart/") is value.startswith("multipart/")
        assert (value[:5] == "text/") is value.startswith("text/")
        raw = value.encode()
        assert (raw[:1] == b"\n") is raw.startswith(b"\n")
        assert (b"\n" + raw)[:1] == b"\n"
    for body, boundary in _multipart_bodies()[:500]:
        marker = b"--" + boundary
        assert (body[: len(marker)] == marker) is body.startswith(marker)


def test_markers_and_announcements_gated_by_words_are_found_as_without_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    # Texts made of the gate words, the announcing words, pieces of the fixed markers and header
    # fields, in every letter case and arrangement: where the quotation starts is the same when
    # every marker and every announcing word is looked for in every text.
    pieces = [
        *source._MARKER_GATES,
        *source._ANNOUNCING,
        *(marker for marker, _, _, _ in source._ORIGINAL_MARKERS),
        "Undelivered Message Headers",
        "----- Unsent message below -----",
        "Message headers follow.",
        "The header of the original mail:",
        "returned message",
        "Original-Recipient: rfc822;a@example.org",
        "From: a@example.org",
        "To: b@example.org",
        "Received: from x",
        "550 5.1.1 unknown",
        "----",
        "",
        " ",
        "header",
        "unsent",
    ]
    rng = random.Random(7)
    texts = []
    for _ in range(3000):
        lines = [rng.choice(pieces) for _ in range(rng.randint(0, 8))]
        text = rng.choice(["\n", "\n\n", " "]).join(lines)
        texts.append(text.upper() if rng.random() < 0.2 else text)
    gated = [source._original_marker(text) for text in texts]
    every = dict.fromkeys(source._MARKERS_GATED, source._ORIGINAL_MARKERS)
    monkeypatch.setattr(source, "_MARKERS_GATED", every)
    monkeypatch.setattr(source, "_ANNOUNCING_GATED", dict.fromkeys(every, source._ANNOUNCING))
    assert [source._original_marker(text) for text in texts] == gated
    assert sum(cut is not None for cut in gated) > 500
