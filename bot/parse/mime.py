"""A small, bounded MIME reader: bytes in, a tree of ``Part`` out (RFC 5322, RFC 2045/2046).

Why not ``email.feedparser``: it is general and line-by-line, and dominated the parser's cost.
A bounce needs much less: header fields, multipart boundaries (RFC 2046 section 5.1.1), nested
``message/*`` parts, and the two transfer encodings (base64, quoted-printable; RFC 2045
section 6). Strategy: normalise line ends once, split the header block at the first empty line,
unfold continuation lines (RFC 5322 section 2.2.3), and find boundaries with ``bytes.find``.
Bounded: at most ``MAX_DEPTH`` levels and ``MAX_PARTS`` parts; anything deeper stays an opaque
body. Tolerant where real bounces are sloppy: a boundary line may be indented, a closing
boundary may be missing, base64 may lack padding. Content-Type values and the small header blocks
of parts recur from message to message: what each gave is remembered (a bounded number of them).

``from_email`` adapts a stdlib ``email.message.Message`` to the same tree; ``source.py`` uses it
as the fallback when this reader fails.
"""

from __future__ import annotations

import binascii
import re
from typing import TYPE_CHECKING

from bot.parse.alternation import literal_trie_pattern

if TYPE_CHECKING:
    import email.message

MAX_DEPTH = 12
MAX_PARTS = 64
MAX_HEADERS = 400

_MULTIPART = b"multipart/"
_NESTED = frozenset({"message/rfc822", "message/global", "message/delivery-status", "message/global-delivery-status"})


class Part:
    """One MIME entity. ``headers`` keeps (lower-case name, unfolded value) in order. Parts with
    the same small header block share its ``headers`` and ``params`` (see ``parse``): they are
    read, never changed. (A plain slotted class: a dataclass definition costs several million
    instructions at every start-up.)"""

    __slots__ = ("body", "children", "ctype", "encoding", "headers", "params", "raw")

    def __init__(
        self,
        headers: list[tuple[str, str]] | None = None,
        ctype: str = "text/plain",
        params: dict[str, str] | None = None,
        body: bytes = b"",
        encoding: str = "",
        *,
        children: list[Part] | None = None,
        raw: bytes | None = None,
    ) -> None:
        self.headers = [] if headers is None else headers
        self.ctype = ctype
        self.params = {} if params is None else params
        self.body = body
        self.children = [] if children is None else children
        self.encoding = encoding
        self.raw = raw  # set on a returned original whose body was not parsed

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def payload(self) -> bytes:
        """The body with its transfer encoding undone."""
        if self.encoding == "base64":
            return decode_base64(self.body)
        if self.encoding == "quoted-printable":
            return binascii.a2b_qp(self.body)
        return self.body

    @property
    def charset(self) -> str | None:
        value = self.params.get("charset")
        return str.lower(value) if value else None


def decode_base64(data: bytes) -> bytes:
    """Tolerant base64: non-alphabet bytes are skipped, missing padding is supplied."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        clean = bytes(b for b in data if b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        clean = clean[: len(clean) - len(clean) % 4] if len(clean) % 4 == 1 else clean + b"=" * (-len(clean) % 4)
        try:
            return binascii.a2b_base64(clean)
        except binascii.Error:
            return b""


def header_block(raw: bytes) -> bytes:
    """The header block at the start of an entity (up to its first empty line; all of it when it
    has none), without copying the body."""
    if raw.startswith(b"\n"):
        return b""
    cut = raw.find(b"\n\n")
    return raw if cut == -1 else raw[:cut]


def quoted_header_block(text: str) -> str:
    """The header block at the start of a decoded text (a quoted original), as ``parse_headers``
    would read it from the text's bytes (UTF-8, surrogates escaped): text that is not ASCII goes
    through those bytes, the rest is read as it is, without encoding all of the text."""
    if text.startswith("\n"):
        return ""
    cut = text.find("\n\n")
    block = text if cut == -1 else text[:cut]
    return block if block.isascii() else block.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")


# The returned original's trace fields, for its sender (bot/parse/sender.py): the first of each
# is the last hop's, the receiver's own when the receiver returned the message. Read only there.
TRACE_FIELDS = frozenset({"received", "authentication-results", "received-spf"})
# The fields of a returned original that a bounce reader uses (who sent it, to whom, what).
ORIGINAL_FIELDS = frozenset(
    {
        "from",
        "to",
        "cc",
        "return-path",
        "sender",
        "reply-to",
        "envelope-to",
        "subject",
        "date",
        "message-id",
        "content-type",
        "content-transfer-encoding",
        *TRACE_FIELDS,
    }
)


# The fields of a returned original whose values something reads: its parties, its trace, and
# the Subject that tells a forwarded bounce (``source._is_report``). The rest of ORIGINAL_FIELDS
# (Date, Message-ID, Content-*, Envelope-To: a third of a usual block) only shows that there is an
# original, which any of these shows as well: they are matched (``original_headers``) only in a
# block that has none of these.
ORIGINAL_READ_FIELDS = ORIGINAL_FIELDS - {
    "envelope-to",
    "date",
    "message-id",
    "content-type",
    "content-transfer-encoding",
}


# The fields of a report's own headers that the parser reads (``source.py``, ``__init__.py``,
# ``dates.py``); the rest (Received, DKIM, ARC, X-MS-..., Message-ID, Cc: often most of the block)
# is dropped as soon as it is split off, before any decoding. A field here that nothing reads
# costs its match, its copy and, for an encoded word, its decoding in every report.
READ_FIELDS = frozenset(
    {
        "from",
        "to",
        "return-path",
        "subject",
        "date",
        "content-type",
        "content-transfer-encoding",
        "x-failed-recipients",
        "content-language",
        "auto-submitted",
        "list-unsubscribe",
        "precedence",
        "in-reply-to",
        "list-id",
        "list-post",
        "list-owner",
    }
)


# The fields of a part below the top that anything reads: how to decode its body.
PART_FIELDS = frozenset({"content-type", "content-transfer-encoding"})


# A field line (RFC 5322 section 2.2): a name of printable characters without spaces, optional
# spaces, a colon. Lines that are not fields (an mbox ``From `` line) do not match. Used when every
# field is wanted; see ``_wanted_fields`` for the usual case.
_FIELD_LINE = re.compile(r"^([^\s:]{1,76})[ \t]*:[ \t]*(.*)$", re.M)


def _wanted_fields(names: frozenset[str], *, branched: bool = False) -> re.Pattern[str]:
    """One pass over a header block (with a line break put before it) that finds only the fields
    named in ``names``, in any letter case, each with its folded continuation lines (RFC 5322
    section 2.2.3): the same fields ``_FIELD_LINE`` finds in the unfolded block, without
    splitting out the others (Received, DKIM-Signature, ARC-*: most of a block). A look at the
    first letter skips most other lines at once. Field names are ASCII, hence ``re.A``.

    ``branched``, for the blocks read in every message: each branch opens with a plain letter,
    one branch for each of its two cases, and matches the rest of its names in any case. The
    engine passes over a branch that opens with a plain character by comparing that character,
    where it enters each branch of a pattern compiled with ``re.I`` in turn until one matches
    (about 300 instructions a header line); each pattern, twice as long, costs about 2 M
    instructions more to compile at start-up."""
    tail = r"(?:[ \t]|\n[ \t])*+:[ \t]*+([^\n]*+(?:\n[ \t][^\n]*+)*+)"
    if not branched:
        firsts = "".join(sorted({name[0] for name in names}))
        return re.compile(rf"\n(?=[{firsts}])({literal_trie_pattern(names)}){tail}", re.I | re.A)
    branches: list[str] = []
    for first in sorted({name[0] for name in names}):
        rest = literal_trie_pattern(name[1:] for name in names if name[0] == first)
        branches.extend(f"{re.escape(letter)}(?i:{rest})" for letter in dict.fromkeys((first.upper(), first)))
    return re.compile(rf"\n({'|'.join(branches)}){tail}", re.A)


def _unfold(value: str) -> str:
    """A folded value on one line: each line break before white space goes (RFC 5322 section 2.2.3),
    as does white space that the fold left at its start."""
    return value.replace("\n ", " ").replace("\n\t", " ").lstrip(" \t")


def header_text(block: bytes) -> str:
    """A header block's text: UTF-8, and undecodable bytes survive as surrogates."""
    return block.decode("utf-8", "surrogateescape")


def parse_headers(block: bytes, wanted: frozenset[str] | None = READ_FIELDS) -> list[tuple[str, str]]:
    """Unfold and split ``Name: value`` lines (RFC 5322 sections 2.2 and 2.2.3), keeping the
    ``wanted`` names (None: all), of ``header_text(block)``. ``block`` is a header block: it
    holds no empty line."""
    return parse_header_text(header_text(block), wanted)


def parse_header_text(text: str, wanted: frozenset[str] | None = READ_FIELDS) -> list[tuple[str, str]]:
    """``parse_headers`` of a header block already decoded."""
    pattern = _WANTED_FIELDS.get(wanted) if wanted is not None else None
    if pattern is not None:
        fields = pattern.findall("\n" + text)[:MAX_HEADERS]
        return [(str.lower(name), (_unfold(value) if "\n" in value else value).rstrip()) for name, value in fields]
    if "\n " in text or "\n\t" in text:
        text = text.replace("\n ", " ").replace("\n\t", " ")  # unfold: CRLF WSP -> WSP
    fields = _FIELD_LINE.findall(text)
    if wanted is None:
        return [(str.lower(name), value.rstrip()) for name, value in fields[:MAX_HEADERS]]
    out = [(key, value.rstrip()) for name, value in fields if (key := str.lower(name)) in wanted]
    return out[:MAX_HEADERS]


def original_headers(text: str) -> list[tuple[str, str]]:
    """The fields of a returned original's header block (already decoded) that something reads
    (``ORIGINAL_READ_FIELDS``); in a block that has none of them, all of ``ORIGINAL_FIELDS``, so
    that the fields read are empty exactly when those are."""
    return parse_header_text(text, ORIGINAL_READ_FIELDS) or parse_header_text(text, ORIGINAL_FIELDS)


_WANTED_FIELDS = {
    READ_FIELDS: _wanted_fields(READ_FIELDS, branched=True),
    ORIGINAL_READ_FIELDS: _wanted_fields(ORIGINAL_READ_FIELDS, branched=True),
    ORIGINAL_FIELDS: _wanted_fields(ORIGINAL_FIELDS),
    PART_FIELDS: _wanted_fields(PART_FIELDS),
}


# A quoted value is matched as runs of plain characters between escapes, not a character at a time.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("[^"\\]*+(?:\\.[^"\\]*+)*+"|[^;]*)')


# Content-Type values already read, with what they gave. Mail repeats a few of them over and over
# ("text/plain; charset=us-ascii", "message/delivery-status"); a value with a boundary is its
# message's own and is not kept. Bounded: once full, new values are read but not kept.
_CONTENT_TYPES: dict[str, tuple[str, dict[str, str]]] = {}
MAX_KNOWN_TYPES = 512
MAX_KNOWN_TYPE_LENGTH = 200
# The same for a part's whole header block below the top ("Content-Type: message/delivery-status"):
# what it gives (fields, type, parameters, transfer encoding), by its bytes.
_PART_HEADS: dict[bytes, tuple[list[tuple[str, str]], str, dict[str, str], str]] = {}


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="x"`` -> ("text/plain", {"charset": "x"}) (RFC 2045 section 5.1).
    The dict may be shared with other callers (a value read before): read it, do not change it."""
    known = _CONTENT_TYPES.get(value)
    if known is not None:
        return known
    ctype, params = _read_content_type(value)
    if len(_CONTENT_TYPES) < MAX_KNOWN_TYPES and len(value) <= MAX_KNOWN_TYPE_LENGTH and "boundary" not in params:
        _CONTENT_TYPES[value] = (ctype, params)
    return ctype, params


def _read_content_type(value: str) -> tuple[str, dict[str, str]]:
    head, sep, rest = value.partition(";")
    ctype = str.lower(head.strip()) or "text/plain"
    if "/" not in ctype:
        ctype = "text/plain"
    params: dict[str, str] = {}
    if sep:
        for name, val in _PARAM.findall(sep + rest):
            params.setdefault(str.lower(name), val.strip().strip('"'))
    return ctype, params


def parse(raw: bytes, depth: int = 0, budget: list[int] | None = None) -> Part:
    """Parse one entity (``raw`` must use LF line ends). Never raises on malformed input."""
    budget = budget if budget is not None else [MAX_PARTS]
    budget[0] -= 1
    # (header block, body) at the first empty line; no empty line means no body. (Prefixes here are
    # compared as slices: ``startswith`` parses its arguments as a tuple at each call.)
    if raw[:1] == b"\n":
        block, body = b"", raw[1:]
    else:
        block, _, body = raw.partition(b"\n\n")
    # (A block longer than any that is kept is not looked up: hashing it would be wasted.)
    known = _PART_HEADS.get(block) if depth and len(block) <= MAX_KNOWN_TYPE_LENGTH else None
    if known is not None:
        headers, ctype, params, encoding = known
        part = Part(headers, ctype, params, body, encoding)
        declared_type = ctype  # (read below only at the top, which is never looked up)
    else:
        # Below the top, a part's own fields say only how to read its body.
        part = Part(parse_headers(block, READ_FIELDS if depth == 0 else PART_FIELDS), body=body)
        declared_type = part.get("content-type")
        ctype, params = part.ctype, part.params = parse_content_type(declared_type)
        encoding = part.encoding = str.lower(part.get("content-transfer-encoding").strip())
        if (
            depth
            and len(_PART_HEADS) < MAX_KNOWN_TYPES
            and len(block) <= MAX_KNOWN_TYPE_LENGTH
            and "boundary" not in params
        ):
            _PART_HEADS[block] = (part.headers, ctype, params, encoding)
    if depth >= MAX_DEPTH or budget[0] <= 0:
        return part
    if part.ctype[:10] == "multipart/":
        declared = part.params.get("boundary", "").encode("utf-8", "surrogateescape")
        chunks = split_multipart(body, declared) if declared else []
        if not chunks:
            # A missing or wrong boundary parameter: use the first "--token" line of the body.
            guessed = guess_boundary(body)
            chunks = split_multipart(body, guessed) if guessed and guessed != declared else []
        if not chunks:
            part.ctype = "text/plain"  # unreadable structure: keep the body as text
        for chunk in chunks:
            if budget[0] <= 0:
                break
            part.children.append(parse(chunk, depth + 1, budget))
    elif depth == 0 and not declared_type and body.startswith(b"This is a MIME"):
        # MIME parts with no MIME headers on the message itself (seen from old Sendmail).
        guessed = guess_boundary(body)
        chunks = split_multipart(body, guessed) if guessed else []
        if len(chunks) >= 2:
            part.ctype = "multipart/mixed"
            part.children = [parse(chunk, depth + 1, budget) for chunk in chunks]
    elif part.ctype in ("message/rfc822", "message/global"):
        # The returned original: only its headers matter to a bounce, so only they are read;
        # its type, parameters and body are left to ``parse(child.raw)``, for a caller that
        # needs them.
        inner = (part.payload() if part.encoding in ("base64", "quoted-printable") else body).lstrip(b"\n")
        part.children.append(Part(headers=original_headers(header_text(header_block(inner))), raw=inner))
    return part


def guess_boundary(body: bytes) -> bytes | None:
    """The token of the first line that looks like a boundary (``--token``), if any."""
    pos = 0 if body.startswith(b"--") else body.find(b"\n--")
    if pos == -1:
        return None
    start = pos + (2 if pos == 0 else 3)
    eol = body.find(b"\n", start)
    token = body[start : eol if eol != -1 else len(body)].strip()
    if token.endswith(b"--"):
        token = token[:-2]
    return token if 1 <= len(token) <= 200 and b" " not in token else None


# What may follow ``--boundary`` on its line (nothing, at the end of the body): a set, as
# ``b"-\n \t\r"`` would first try to read the byte looked for as an integer, raising and
# clearing a TypeError each time.
_AFTER_BOUNDARY = frozenset((b"", b"-", b"\n", b" ", b"\t", b"\r"))


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between ``--boundary`` lines (RFC 2046 section 5.1.1), tolerating indentation.
    The usual body, whose every ``--boundary`` opens a line and is a boundary, is cut by one
    ``split``; the rest by ``split_multipart_lines``, which gives the same parts for the usual one."""
    marker = b"--" + boundary
    afters = body.split(b"\n" + marker)  # what follows each boundary, up to the next one
    if body[: len(marker)] == marker:
        afters[0] = afters[0][len(marker) :]
    else:
        del afters[0]  # the preamble
    if len(afters) > MAX_PARTS or body.count(marker) != len(afters):
        return split_multipart_lines(body, boundary)  # too many, or one not at a line start
    chunks: list[bytes] = []
    last = len(afters) - 1
    for index, after in enumerate(afters):
        if after[:1] not in _AFTER_BOUNDARY:
            return split_multipart_lines(body, boundary)  # a longer token that starts with this one
        if after[:2] == b"--":
            break  # the closing boundary
        _, newline, content = after.partition(b"\n")
        if not newline and index == last:
            break  # a boundary line that the body ends in
        chunks.append(content)  # (empty when the next boundary follows at once)
    return chunks


def split_multipart_lines(body: bytes, boundary: bytes) -> list[bytes]:
    """``split_multipart``, one ``--boundary`` at a time."""
    marker = b"--" + boundary
    chunks: list[bytes] = []
    start = -1
    pos = 0
    while len(chunks) < MAX_PARTS:
        hit = body.find(marker, pos)
        if hit == -1:
            break
        after = hit + len(marker)
        if hit == 0 or body[hit - 1] == 10:  # (the usual place: the start of a line)
            line_start = hit
        else:
            line_start = body.rfind(b"\n", 0, hit) + 1
            if body[line_start:hit].strip(b" \t"):
                pos = after  # not at the start of a line: part of the content
                continue
        if body[after : after + 1] not in _AFTER_BOUNDARY:
            pos = after  # a longer token that starts with this one
            continue
        if start != -1:
            chunks.append(body[start : max(start, line_start - 1)])
        if body[after : after + 2] == b"--":
            return chunks
        eol = body.find(b"\n", after)
        if eol == -1:
            return chunks
        start = pos = eol + 1
    if start != -1 and len(chunks) < MAX_PARTS:
        chunks.append(body[start:])  # no closing boundary: take the rest
    return chunks


def from_email(msg: email.message.Message, depth: int = 0) -> Part:
    """Adapt a stdlib message (the fallback parser's output) to a ``Part`` tree."""
    import email.message  # noqa: PLC0415 - only the fallback parser needs it

    part = Part(headers=[(str.lower(k), " ".join(str(v).split())) for k, v in msg.items()[:MAX_HEADERS]])
    part.ctype = msg.get_content_type()
    part.params = {str.lower(k): str(v) for k, v in (msg.get_params() or [])[1:]}
    payload = msg.get_payload()
    if isinstance(payload, list):
        if depth < MAX_DEPTH:
            parts = [p for p in payload[:MAX_PARTS] if isinstance(p, email.message.Message)]
            part.children = [from_email(p, depth + 1) for p in parts]
        if part.ctype in ("message/delivery-status", "message/global-delivery-status"):
            part.body = b"\n\n".join(p.as_bytes() for p in payload if isinstance(p, email.message.Message))
            part.children = []
    else:
        raw = msg.get_payload(decode=True)
        part.body = raw if isinstance(raw, bytes) else str(payload).encode("utf-8", "surrogateescape")
    return part
