"""Turn raw input (a whole message, or text pasted into chat) into a bounded, decoded view.

Strategy: decide first whether the input is an RFC 5322 message (headers, blank line, body) or
free text. Messages go through our bounded MIME reader (``mime.py``; the standard library's
parser is the fallback);
we keep the top headers, the human-readable text of the report (never the returned original,
which would lend its codes and addresses to the bounce), the RFC 3464 delivery-status blocks,
and the headers of the returned original. Free text is un-escaped from Slack's markup.

Everything is bounded: the input is cut to ``MAX_BYTES`` before parsing, MIME is walked to
``mime.MAX_DEPTH`` and ``MAX_PARTS``, decoded text is cut to ``MAX_TEXT``.
"""

from __future__ import annotations

import binascii
import html
import re
from operator import itemgetter

from bot.parse import mime
from bot.parse.alternation import gated, holds_any
from bot.parse.casing import lower
from bot.parse.extract import legacy_forms
from bot.parse.mime import MAX_PARTS, Part

MAX_BYTES = 1 << 20  # analyse at most the first MiB of any input
MAX_TEXT = 256 * 1024

# Single bytes looked for in bytes by their value: ``b"\r" in data`` first tries to read
# ``b"\r"`` as an integer (``bytes.__contains__`` takes either) and raises and clears a TypeError,
# some 600 ns each time, before its search; ``13 in data`` goes straight to ``memchr``.
_CR = ord("\r")
_ESC = 0x1B

# The first one to four header fields (with their continuation lines) at the start of the input.
# The second to fourth are groups, so the match tells how many fields there are. Four are all
# ``looks_like_message`` needs to tell a message: the rest of the block is matched
# (``_HEADER_MORE``) only when those four name no field that messages have.
_HEADER_FIELD = rb"(?:From |[!-9;-~]{1,76}:)[^\n]*+\n(?:[ \t][^\n]*+\n)*+"
_HEADER_START = re.compile(rb"\A%s(%s)?+(%s)?+(%s)?+" % ((_HEADER_FIELD,) * 4))
_HEADER_MORE = re.compile(rb"\n(?:%s)*+" % _HEADER_FIELD)  # from the line break that ends the fourth
_SLACK_LINK = re.compile(r"<(?:mailto:|https?://)?([^<>|\s]{1,512})\|([^<>]{0,512})>")
_SLACK_BARE = re.compile(r"<((?:mailto:|https?://)[^<>|\s]{1,512})>")
# HTML is read with str.find and small anchored patterns, not one regex per tag: a pattern that
# scans from each "<" to the next ">" (or to "</script>") costs the distance between them at
# every "<", which a run of unclosed "<script" or 1 MiB of "<" turns quadratic.
_BLOCK_START = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b", re.I)  # a block ends at its tag's ">"
_RAW_START = re.compile(r"<(script|style)\b", re.I)  # dropped whole, up to the closing tag
_RAW_END = {6: re.compile(r"</script\s*+>", re.I), 5: re.compile(r"</style\s*+>", re.I)}  # by name length
MAX_TAG = 2000  # a "<" more than this far from the next ">" is text
_ENTITY = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&nbsp;": " ", "&amp;": "&"}
_ENTITY_RE = re.compile("|".join(map(re.escape, _ENTITY)))
# Where a non-MIME bounce starts quoting the original message (qmail, Exim, Sendmail, ...): one
# of these phrases, preceded on its line only by dashes and spaces. Each is looked for with
# ``str.find`` in lower-cased text; the second item says what must (True) or must not (False)
# follow it, and whether dashes must come before it on its line ("---- Original message ----").
_ORIGINAL_MARKERS: tuple[tuple[str, str, bool, bool], ...] = (
    ("this is a copy of the message", "", True, False),
    ("below this line is a copy of the message", "", True, False),
    ("original message follows", "", True, False),
    ("possibly truncated original message follows", "", True, False),  # GroupWise
    ("original message headers", "", True, False),
    ("the original message was", " received", False, False),
    ("undelivered message headers", "", True, False),
    ("unsent message below", "", True, False),
    ("copy of the original", "", True, False),
    ("original message", "-", True, True),
    ("content-type: message/rfc822", "", True, False),
    ("content-type: text/rfc822-headers", "", True, False),
)
# Words that several markers (and the announcing words below) hold, each looked for once: a
# phrase holding one is looked for only where the text holds the word (most reports hold none of
# them). For each combination of these words the text holds, in this order, the markers that may
# occur, in the order above.
_MARKER_GATES = ("original", "copy of", "rfc822", "unsent", "header")
_MARKERS_GATED = gated(_ORIGINAL_MARKERS, _MARKER_GATES, itemgetter(0))
_MAX_MARKER_HITS = 200  # occurrences examined per phrase: repeated phrases cannot make this quadratic


# Besides those fixed phrases, any short line that announces the returned message in words of
# its own ("--- The header of the original message is following. ---", "Message headers follow.",
# "------- Returned Message --------", "Original mail as follows:", "Included is a copy of the
# message header:") starts it when what follows it, past blank and rule lines, is a message's
# header field. The line holds one of ``_ANNOUNCING`` and one of ``_ANNOUNCED``; the header field
# that must follow is what tells it from a sentence such as "The original message was received
# at ..." (followed by the report) or a report that lists the original's fields and then goes
# on ("... with the following header fields:", whose words are not announcing ones).
_ANNOUNCING = ("original", "returned", "unsent", "copy of", "headers follow", "header of")
_ANNOUNCED = ("message", "mail", "header")
# The announcing words that may occur, by the same combination as ``_MARKERS_GATED``: the gates
# were looked for already, so of the six words only "returned" is looked for in every report.
_ANNOUNCING_GATED = gated(_ANNOUNCING, _MARKER_GATES, str)
MAX_ANNOUNCEMENT = 100  # characters on the line, dashes and indentation included
# A header field of the returned message (or its mbox "From " line), on the lower-cased text,
# matched at the start of a line; fields are often indented in the quotation.
_RETURNED_FIELD = re.compile(
    r"[ \t]{0,16}+(?:(?:received|return-path|from|to|cc|subject|date|message-id|mime-version"
    r"|delivered-to|reply-to|sender|x-[a-z0-9-]{1,60}+)[ \t]*+:)"
)
# A line that is itself a header field with a value ("Original-Recipient: rfc822;..."): not an
# announcement.
_FIELD_WITH_VALUE = re.compile(r"[!-9;-~]{1,76}+:[ \t]*+[^ \t\n]")  # matched on the line without its indentation


def _announcement(lowered: str, best: int | None, words: tuple[str, ...] = _ANNOUNCING) -> int | None:
    """Offset of the first line before ``best`` (if any) that announces the returned message as
    ``_ANNOUNCING`` describes, or None; ``words`` are those of ``_ANNOUNCING`` that the text may
    hold (``_ANNOUNCING_GATED``). Only ``MAX_ANNOUNCEMENT`` characters either side of a word are
    read, so a long line costs no more than a short one."""
    found = best
    for word in words:
        pos = lowered.find(word)  # (one search: most of ``words`` are in the text)
        for _ in range(_MAX_MARKER_HITS):
            if pos == -1 or (found is not None and pos >= found):
                break
            start = lowered.rfind("\n", max(0, pos - MAX_ANNOUNCEMENT), pos) + 1
            end = lowered.find("\n", pos, pos + MAX_ANNOUNCEMENT)
            if end == -1 and pos + MAX_ANNOUNCEMENT >= len(lowered):
                end = len(lowered)
            line = lowered[start:end]
            if (
                (start or pos <= MAX_ANNOUNCEMENT)
                and end != -1
                and end - start <= MAX_ANNOUNCEMENT
                and holds_any(line, _ANNOUNCED)
                and not _FIELD_WITH_VALUE.match(line.lstrip(" \t"))
                and _field_follows(lowered, end)
            ):
                found = start
                break
            pos = lowered.find(word, pos + len(word))
    return found if found != best else None


def _field_follows(lowered: str, end: int) -> bool:
    """Whether the first line after ``end`` that is neither blank nor a rule (dashes, equals
    signs) nor an mbox "From " line is a returned message's header field; only the next few
    lines, and only the first ``MAX_ANNOUNCEMENT`` characters of each, are read."""
    for _ in range(4):
        start = end + 1
        if start >= len(lowered):
            return False
        end = lowered.find("\n", start, start + MAX_ANNOUNCEMENT)
        if end == -1:  # a long line, or the last: read as far as a field's name could go
            return _RETURNED_FIELD.match(lowered, start, start + MAX_ANNOUNCEMENT) is not None
        line = lowered[start:end].strip(" \t-=_")
        if line and not line.startswith("from "):  # (an mbox "From " line may open the header)
            return _RETURNED_FIELD.match(lowered, start, end) is not None
    return False


def _original_marker(text: str, lowered: str | None = None) -> int | None:
    """Offset of the line where the quoted original starts, or None; ``lowered`` is
    ``text.lower()`` when the caller has it."""
    lowered = lower(text) if lowered is None else lowered
    best: int | None = None
    present = (
        "original" in lowered,
        "copy of" in lowered,
        "rfc822" in lowered,  # (not "content-type:": most reports quote header fields)
        "unsent" in lowered,
        "header" in lowered,
    )
    for needle, after, wanted, dashed in _MARKERS_GATED[present]:
        if needle not in lowered:  # most are absent: ``in`` costs a fraction of ``find``'s call
            continue
        pos = lowered.find(needle)
        for _ in range(_MAX_MARKER_HITS):
            if pos == -1 or (best is not None and pos >= best):
                break  # the earliest marker wins
            line_start = lowered.rfind("\n", 0, pos) + 1
            before = lowered[line_start:pos]
            end = pos + len(needle)
            if not after:
                follows = True
            elif after[0] == " ":  # exactly this next ("was received" is not a marker)
                follows = lowered.startswith(after, end)
            else:  # after optional white space ("original message ----")
                follows = lowered[end : end + 80].lstrip(" \t\n").startswith(after)
            if not before.strip(" \t-") and follows is wanted and (not dashed or "-" in before):
                best = line_start
                break
            pos = lowered.find(needle, end)
    announced = _announcement(lowered, best, _ANNOUNCING_GATED[present])
    return best if announced is None else announced


class Source:
    """The parts of an input the extractors read. (A plain slotted class: a dataclass definition
    costs several million instructions at every start-up.)"""

    __slots__ = (
        "attached",
        "content_type",
        "dsn_message",
        "dsn_recipients",
        "headers",
        "is_message",
        "lowered",
        "original",
        "report_type",
        "text",
        "truncated",
    )

    def __init__(self, *, truncated: bool = False) -> None:
        self.headers: dict[str, str] = {}  # lower-case name -> first value (decoded)
        self.text = ""  # human-readable report text, without the returned original
        self.dsn_message: dict[str, str] = {}  # per-message DSN fields
        self.dsn_recipients: list[dict[str, str]] = []  # per-recipient DSN fields
        self.original: dict[str, str] = {}  # headers of the returned original (see ``_DECODED_ORIGINAL``)
        self.is_message = False
        self.truncated = truncated
        self.content_type = ""
        self.report_type = ""
        self.attached: Part | None = None  # an attached message (a forwarded bounce)
        self.lowered: str | None = None  # ``text.lower()`` when reading it already computed that, else None


def slack_unescape(text: str) -> str:
    """Undo Slack's message formatting: ``<mailto:a@b|a@b>``, ``<http://h|h>``, ``&lt;``..."""
    if "<" in text:
        text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
        # A space before the target: Outlook's plain text writes a link right after its label
        # ("nora@example.net<mailto:nora@example.net>"), which would otherwise run into it.
        text = _SLACK_BARE.sub(lambda m: " " + m.group(1).split(":", 1)[-1].removeprefix("//"), text)
    if "&" in text:
        text = _ENTITY_RE.sub(lambda m: _ENTITY[m.group(0)], text)
        if "<" in text:  # a link that was itself entity-escaped: "&lt;mailto:a@b|a@b&gt;"
            text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return text.replace("```", "\n")


def html_to_text(markup: str) -> str:
    """Tags out, line breaks kept, every entity (named or numeric: ``&#8217;``) decoded; the
    no-break space becomes a plain one, so ``550&nbsp;5.1.1`` still reads as a reply."""
    text = _strip_tags(_break_blocks(markup))
    return html.unescape(text).replace("\xa0", " ") if "&" in text else text


def _break_blocks(markup: str) -> str:
    """Each block-ending tag (``<br>``, ``</p>``, ``</div>``...) becomes a line break."""
    out: list[str] = []
    pos = 0
    gt = -1  # the first ">" at or after the last place looked from: reused while still ahead
    for m in _BLOCK_START.finditer(markup):
        if m.start() < pos:
            continue  # inside the tag just replaced
        if gt < m.end():
            gt = markup.find(">", m.end())
            if gt == -1:
                break
        out.append(markup[pos : m.start()])
        out.append("\n")
        pos = gt + 1
    out.append(markup[pos:])
    return "".join(out)


def _strip_tags(markup: str) -> str:
    """Each tag becomes a space; a ``<script>`` or ``<style>`` element goes whole with its
    content. A "<" with no ">" within ``MAX_TAG`` characters, or an element never closed, is left
    as text. Every search resumes where the last one stopped, or reuses its answer, so the cost
    is one pass however the tags are arranged."""
    out: list[str] = []
    pos = scan = 0
    gt = -1  # the first ">" after the last "<" looked at
    ends: dict[int, tuple[int, int, int]] = {}  # name length -> (searched from, end tag start, its end)
    while (lt := markup.find("<", scan)) != -1:
        raw = _RAW_START.match(markup, lt)
        if raw:
            key, after = len(raw.group(1)), raw.end()
            since, start, end = ends.get(key, (-1, -1, -1))
            if since == -1 or since > after or (start != -1 and start < after):
                found = _RAW_END[key].search(markup, after)
                since, start, end = after, *(found.span() if found else (-1, -1))
                ends[key] = (since, start, end)
            if start != -1:
                out.append(markup[pos:lt])
                out.append(" ")
                pos = scan = end
                continue
        if gt <= lt:
            gt = markup.find(">", lt + 1)
            if gt == -1:
                break  # no ">" left: no tag, and no closing tag either
        if gt - lt - 1 <= MAX_TAG:
            out.append(markup[pos:lt])
            out.append(" ")
            pos = scan = gt + 1
        else:
            scan = lt + 1
    out.append(markup[pos:])
    return "".join(out)


def looks_like_message(data: bytes) -> bool:
    """True when the input opens with RFC 5322 header lines: at least two followed by a blank
    line, or at least four (a message whose body was cut off)."""
    head = data.lstrip(b"\r\n")[:8192]
    if _CR in head:
        head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    m = _HEADER_START.match(head)
    if not m:
        return False
    end = m.end()
    if m.lastindex != 3 and ((end < len(head) and head[end] != 10) or m.lastindex is None):
        return False  # fewer than four fields, not followed by a blank line (or by nothing), or one
    # A report's own "Label: value" lines pasted alone ("Recipient: ...", "Error: 550 ...") look
    # like header fields too: a message names at least one field that messages (or DSNs) have.
    if head[:5].lower() == b"from " or _MESSAGE_FIELD.search(b"\n" + head[:end]) is not None:  # bytes
        return True
    if m.lastindex != 3:
        return False  # fewer than four fields are the whole block
    more = _HEADER_MORE.match(head, end - 1)  # after four, the block may go on
    return more is not None and _MESSAGE_FIELD.search(head, end - 1, more.end()) is not None


# Field names (at a line start) of which a message's header, or a pasted delivery-status block,
# has at least one; in any letter case.
_MESSAGE_FIELD = re.compile(
    b"\n(?:"
    + b"|".join(
        re.escape(name)
        for name in (
            b"from:",
            b"to:",
            b"subject:",
            b"date:",
            b"received:",
            b"message-id:",
            b"return-path:",
            b"mime-version:",
            b"content-type:",
            b"delivered-to:",
            b"reporting-mta:",
            b"final-recipient:",
            b"original-recipient:",
            b"arrival-date:",
            b"x-",
            b"dkim-",
            b"arc-",
        )
    )
    + b")",
    re.I,
)


# The usual encoded value: one encoded word (RFC 2047 section 2) that opens it, in a charset that
# ``email.header`` decodes and checks with the codec of its own name, then plain text
# ("=?utf-8?B?...?= <a@example.org>"). ``_decoded_word`` reads it as ``email.header`` does, at a
# fraction of the cost of that (about 100 K instructions a value). A Q-encoded word is taken only
# when each "=" in it is an escape: ``binascii.a2b_qp`` reads a stray one otherwise.
_ENCODED_WORD = re.compile(
    r"=\?(utf-8|iso-8859-1|iso-8859-15|iso-2022-jp)\?(?:b\?([^?]*+)|q\?((?:[^?=]++|=[0-9a-f]{2})*+))\?=",
    re.I | re.A,
)


def _decoded_word(word: re.Match[str], rest: str) -> str | None:
    """The value that ``_ENCODED_WORD`` matched at its start, followed by ``rest``, decoded as
    ``email.header`` decodes it; None where this reading would not be sure to give the same."""
    if "=?" in rest:
        return None  # more encoded words
    charset, b, q = word.groups()
    codec = str.lower(charset)
    try:
        if b is not None:
            raw = binascii.a2b_base64((b + "==="[: -len(b) % 4]).encode())  # padding supplied
        else:
            raw = binascii.a2b_qp(q.encode(), header=True)
        text = raw.decode(codec)
        text.encode(codec)  # (``email.header`` checks that the text goes back to its charset)
    except (binascii.Error, UnicodeError):
        return None
    # Plain text after an encoded word is set off by a space unless it opens with one (or with a
    # parenthesis or a backslash), as ``email.header`` joins them.
    if rest and not rest[0].isspace() and rest[0] not in "()\\":
        return text + " " + rest
    return text + rest


def decode_header(value: str) -> str:
    if "=?" not in value:
        return value
    # (a control character may break the value into lines, which ``email.header`` reads apart)
    word = _ENCODED_WORD.match(value) if value.isascii() and value.isprintable() else None
    if word is not None:
        decoded = _decoded_word(word, value[word.end() :])
        if decoded is not None:
            return decoded
    # Imported here: most headers hold no encoded word, and the package is costly to load.
    import email.errors  # noqa: PLC0415
    import email.header  # noqa: PLC0415

    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, email.errors.MessageError):  # CharsetError, HeaderParseError, ...
        return value


# Names seen in real mail that Python's codecs lack, or supersets that decode more of it.
_CHARSET_ALIASES = {
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "iso-8859-8-i": "iso-8859-8",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-2022-jp": "iso2022_jp_ext",
}


def _decode_bytes(payload: bytes, charset: str | None) -> str:
    """Decode with the declared charset (ISO-2022-JP, Shift_JIS, EUC-KR ... via Python's codecs),
    else UTF-8, else a detected charset for undeclared 8-bit text, else Latin-1."""
    # (``bytes`` finds one byte with ``memchr``; a pair it looks for a few bytes at a time, a tenth
    # of the speed, so the escape byte alone is looked for first: most text holds none.)
    if (not charset or charset in ("us-ascii", "ascii", "utf-8")) and _ESC in payload and b"\x1b$" in payload:
        charset = "iso-2022-jp"  # 7-bit JIS escapes in text declared as ASCII (or not at all)
    if charset:
        codec = _CHARSET_ALIASES.get(charset, charset)
        try:
            return payload.decode(codec)
        except UnicodeDecodeError:
            try:
                return payload.decode("utf-8")
            except UnicodeDecodeError:
                return payload.decode(codec, "replace")
        except (LookupError, ValueError):
            # Not a usable codec: unknown, or a name that is not one (NUL, surrogates from
            # undecodable header bytes), or one that is not for text ("punycode", "undefined")
            # and raises UnicodeError. The undeclared-text path below reads it instead.
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _ESC in payload and b"\x1b$" in payload:  # ISO-2022-JP escape sequences in undeclared text
        try:
            return payload.decode("iso2022_jp_ext")
        except UnicodeDecodeError:
            pass
    try:
        from charset_normalizer import from_bytes  # noqa: PLC0415 - only for undeclared 8-bit text

        best = from_bytes(payload[:65536]).best()
        if best is not None:
            return str(best)
    except Exception:
        pass
    return payload.decode("latin-1")


def _part_text(part: Part) -> str:
    return _decode_bytes(part.payload()[:MAX_TEXT], part.charset)


def _delivery_status(part: Part, source: Source) -> None:
    """Read an RFC 3464 message/delivery-status part (section 2.1: blocks separated by blank lines).
    Some MTAs send it base64- or QP-encoded, or with no blank line between blocks."""
    text = _decode_bytes(part.payload()[:MAX_TEXT], part.charset)
    for block in parse_field_blocks(text.replace("\r\n", "\n")):
        if "final-recipient" in block or "original-recipient" in block or "x-actual-recipient" in block:
            source.dsn_recipients.append(block)
        else:
            for key, value in block.items():
                source.dsn_message.setdefault(key, value)


# Matched on a line without its line break: ``.*`` reaches its end (no "$" to test), and the name
# cannot give back a character to the colon (possessive).
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,40}+):[ \t]*+(.*)")


def parse_field_blocks(text: str) -> list[dict[str, str]]:
    """Split ``Name: value`` lines into blocks; a new Final-Recipient also starts a block."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines()[:4000]:
        m = _FIELD.match(line)  # tried first: most lines are fields (a field line is not blank)
        if m is None:
            if not line.strip():
                if current:
                    blocks.append(current)
                    current, last = {}, ""
            elif line[0] in " \t" and last:
                current[last] += " " + line.strip()
            continue
        name, value = m.groups()
        key = str.lower(name)
        if key == "final-recipient" and "final-recipient" in current:
            blocks.append(current)
            current = {}
        if key not in current:
            current[key] = value.strip()
            last = key
    if current:
        blocks.append(current)
    return blocks


def _walk(msg: Part, source: Source, texts: list[str], htmls: list[Part]) -> int:
    """Collect report text and DSN blocks; returns the number of parts seen (bounded)."""
    seen = 0
    stack: list[tuple[Part, int]] = [(msg, 0)]
    while stack and seen < MAX_PARTS:
        part, level = stack.pop()
        seen += 1
        ctype = part.ctype
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            _delivery_status(part, source)
        elif ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers"):
            _original(part, source)
        elif ctype[:10] == "multipart/":  # (a slice: ``startswith`` parses its arguments at each call)
            below = level + 1
            for child in reversed(part.children):
                stack.append((child, below))
        elif ctype == "text/html":
            htmls.append(part)
        elif ctype[:5] == "text/" or (ctype == "application/octet-stream" and level == 0):
            texts.append(_part_text(part))
    return seen


# The returned original's fields whose values the parser reads (its parties and trace, for its
# sender and its lone addressee), decoded. The others (Subject, Date, Message-ID, ...) only show
# that there is an original and are kept as sent: decoding one encoded word costs about a
# seventh of reading a whole small message. (``_is_report`` decodes the quoted Subject it reads.)
_DECODED_ORIGINAL = mime.ORIGINAL_FIELDS - {
    "subject",
    "date",
    "message-id",
    "content-type",
    "content-transfer-encoding",
}


def _headers_of(fields: list[tuple[str, str]]) -> dict[str, str]:
    """The first value of each field, those that are read decoded (``_DECODED_ORIGINAL``)."""
    out: dict[str, str] = {}
    for key, value in fields[:200]:
        if key not in out:
            # most values hold no encoded word
            out[key] = decode_header(value) if "=?" in value and key in _DECODED_ORIGINAL else value
    return out


def _original(part: Part, source: Source) -> None:
    if source.original:
        return
    if part.children:
        inner = part.children[0]
        if part.ctype == "message/rfc822":
            source.attached = inner
        fields = inner.headers
    else:
        block = mime.header_block(part.payload()[:65536].replace(b"\r\n", b"\n").lstrip(b"\n"))
        fields = mime.original_headers(mime.header_text(block))
    source.original = _headers_of(fields)


def _inline_dsn(text: str, lowered: str, source: Source) -> None:
    """RFC 3464 fields pasted inline (a report whose MIME structure was lost in transit);
    ``lowered`` is ``text.lower()``."""
    start = lowered.find("reporting-mta:")
    if start == -1 or start > lowered.find("final-recipient:"):
        start = lowered.find("final-recipient:")
    start = lowered.rfind("\n", 0, start) + 1
    for block in parse_field_blocks(text[start:]):
        if "final-recipient" in block or "original-recipient" in block:
            source.dsn_recipients.append(block)
        elif not source.dsn_recipients:
            for key, value in block.items():
                source.dsn_message.setdefault(key, value)
        else:
            break


def _parse_mime(raw: bytes) -> Part:
    raw = raw.lstrip(b"\r\n")
    if _CR in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        return mime.parse(raw)
    except Exception:
        import email  # noqa: PLC0415 - the fallback parser, loaded only when it is needed

        return mime.from_email(email.message_from_bytes(raw))  # the compat32 policy is its default


def read(data: bytes | str | Part) -> Source:
    """Decode ``data`` into a Source. Never raises on malformed input."""
    if isinstance(data, Part):
        source = Source()
        _read_message(mime.parse(data.raw) if data.raw is not None else data, source)
        return source
    raw = data[: MAX_BYTES + 1].encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    source = Source(truncated=len(raw) > MAX_BYTES)
    raw = raw[:MAX_BYTES]
    if looks_like_message(raw):
        _read_message(_parse_mime(raw), source)
    else:
        text = _decode_bytes(raw, None) if isinstance(data, bytes) else str(data)[:MAX_BYTES]
        source.text = legacy_forms(slack_unescape(text.replace("\r\n", "\n").replace("\r", "\n"))[:MAX_TEXT])
    return source


def _read_message(msg: Part, source: Source) -> None:
    source.is_message = True
    headers = source.headers
    for name, value in msg.headers[:400]:
        if name not in headers:
            headers[name] = decode_header(value) if "=?" in value else value
    source.content_type = msg.ctype
    source.report_type = str.lower(msg.params.get("report-type", ""))
    texts: list[str] = []
    htmls: list[Part] = []
    _walk(msg, source, texts, htmls)
    # HTML is read only when there is no plain text (an HTML-only report): when the texts joined
    # are empty or white space, as each of them is then (the line breaks between them are white
    # space). (``isspace`` is ``not strip()`` for a text that is not empty, without copying it.)
    text = "\n".join(texts)
    if not text or text.isspace():
        text = "\n".join(html_to_text(_part_text(p)) for p in htmls)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text[:MAX_TEXT]
    lowered = lower(text)
    if not source.dsn_recipients and "final-recipient:" in lowered:
        _inline_dsn(text, lowered, source)
    if not source.original:
        skip = 0
        cut = _original_marker(text, lowered)
        while cut is not None:
            eol = text.find("\n", skip + cut)
            tail = text[eol + 1 if eol != -1 else len(text) :].lstrip(" -\n")[:65536]
            fields = mime.original_headers(mime.quoted_header_block(tail))
            quoted = _headers_of(fields)
            if skip == 0 and eol != -1 and _forward(headers) and _is_report(quoted):
                # A person's inline forward of a bounce ("FYI, see below" over "-----Original
                # Message-----"): what follows is the report, and its own marker, if any, cuts it.
                # (A daemon's report that returns a bounce returns it as its original; a reply
                # that quotes a bounce is a conversation about it.)
                skip = eol + 1
                cut = _original_marker(text[skip:])
                continue
            source.original = quoted
            text = text[: skip + cut]
            break
    # ``lower`` keeps every character in its place: a prefix of ``lowered`` is the lower-cased
    # prefix of the text, and what follows a cut (the quoted original, often most of the text)
    # is searched no further. (A slice to the whole length is the string itself, not a copy.)
    lowered = lowered[: len(text)]
    source.text = legacy_forms(text, lowered)
    if source.text is text:
        source.lowered = lowered


# What the header block of a forwarded bounce says (its sender, its subject), looked for with
# ``in`` in lower-cased values: a marker followed by these starts the report, not the original.
_REPORT_FROM = ("mailer-daemon", "postmaster", "microsoftexchange", "mail delivery", "mail administrator")
_REPORT_SUBJECT = (
    "undeliverable",
    "undelivered",
    "delivery status notification",
    "returned mail",
    "delivery failure",
    "mail delivery failed",
    "failure notice",
    "nondeliverable",
    "non remis",
    "unzustellbar",
    "no se puede entregar",
)


# Reply prefixes of the subject (English, German, Nordic, Dutch, Spanish/Italian): a reply, not a forward.
_REPLY_PREFIXES = ("re:", "re :", "aw:", "sv:", "vs:", "antw:", "rv:", "r:")


def _forward(headers: dict[str, str]) -> bool:
    """Is the message a person's forward (not a reply, not a daemon's report)?"""
    subject = str.lower(headers.get("subject", "").lstrip())
    return "in-reply-to" not in headers and not subject.startswith(_REPLY_PREFIXES) and not _from_daemon(headers)


def _from_daemon(headers: dict[str, str]) -> bool:
    sender = str.lower(headers.get("from", ""))
    return any(n in sender for n in _REPORT_FROM)


def _is_report(headers: dict[str, str]) -> bool:
    """Is the quoted header a bounce's? A person's reply about one ("RE: Undeliverable: ...") is a
    conversation, which a report may return as its original."""
    subject = str.lower(decode_header(headers.get("subject", "")).lstrip())  # kept as sent in ``headers``
    if subject.startswith(_REPLY_PREFIXES):
        return False
    return _from_daemon(headers) or any(n in subject for n in _REPORT_SUBJECT)
