"""``mailflow explain``: read bounces and explain them.

Exit codes: 0 a bounce was recognised, 2 none was (a one-line reason on stderr), 1 an input
could not be read. Argument errors exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import functools
import gc
import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import IO, Any, NamedTuple, TypeVar

from bot import knowledge
from bot.explain import explain_bounce, explain_code, normalise_code
from bot.parse import Bounce, parse_bounce
from bot.parse.source import MAX_BYTES
from bot.render.record import bounce_line, bounce_record
from bot.sender import knowledge as sender_facts

EXIT_OK, EXIT_ERROR, EXIT_NONE = 0, 1, 2
MAX_FILES = 100_000
MAX_JOBS = 8
MAX_ASKED_JOBS = 64  # --jobs N: a typo such as 100000 must not fork that many processes
OUTPUT_BLOCK = 1 << 16
PARALLEL_FROM = 200  # inputs: below this, starting workers costs more than it saves
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # Windows would translate line ends
S = TypeVar("S")
T = TypeVar("T")


# Input is a named tuple: forked workers inherit the inputs, and a named tuple costs a fifth of a
# frozen dataclass to define at start-up.
class Input(NamedTuple):
    """One input: its bytes, or an error, or neither for a file still to be read (by its worker)."""

    name: str
    data: bytes | None
    size: int = 0
    error: str | None = None


def default_language(environ: dict[str, str] | None = None) -> str:
    """``MAILFLOW_LANG``, else the locale (``ja_JP.UTF-8`` -> ``ja``), else English."""
    env = os.environ if environ is None else environ
    for var in ("MAILFLOW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        code = value.split(".")[0].split("_")[0].split("-")[0].lower()
        if code in knowledge.LANGUAGES:
            return code
    return knowledge.DEFAULT_LANGUAGE


def _read_bounded(read: Callable[[int], bytes], first: bytes = b"") -> tuple[bytes, int]:
    """At most MAX_BYTES are kept; the rest is counted, not stored. ``read(n)`` gives up to ``n``
    bytes, none at the end; ``first`` is what was read before (at most MAX_BYTES). A short read
    is the end of a file, not always of a pipe or an unbuffered file: reading goes on until
    MAX_BYTES or the end."""
    parts = [first] if first else []
    size = len(first)
    while size < MAX_BYTES and (chunk := read(MAX_BYTES - size)):
        parts.append(chunk)
        size += len(chunk)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if size == MAX_BYTES:
        while chunk := read(1 << 20):
            size += len(chunk)
    return data, size


def iter_inputs(paths: Sequence[str], stdin: IO[bytes]) -> Iterator[Input | str]:
    """Files, directories (expanded, sorted, recursively) and ``-`` for standard input. A file
    still to be read is given as its name alone: its worker reads it (``read_input``), and no
    ``Input`` is built for it (a named tuple's Python ``__new__`` costs more than the rest of
    reading a small file's name)."""
    for raw in paths or ["-"]:
        if raw == "-":
            data, size = _read_bounded(stdin.read)
            yield Input("-", data, size)
            continue
        path = os.path.normpath(raw)  # as a Path would name it, without importing pathlib at start-up
        if os.path.isdir(path):
            files = _files_under(path)
            if not files:
                yield Input(raw, None, error=f"{raw}: directory holds no files")
            yield from files[:MAX_FILES]  # each read where it is parsed
        else:
            yield path


def _files_under(root: str) -> list[str]:
    """The files below ``root``, recursively, without hidden ones (a name starting with a dot),
    sorted by their path components like ``sorted(Path(root).rglob("*"))``. Symbolic links to
    files count; links to directories are not followed; unreadable directories are skipped.
    One ``os.scandir`` per directory: its entries carry their type, so no file is stat'ed twice."""
    # Each file is sorted by its components joined with NUL, which no name holds and which sorts
    # before any other character: the order of the components' tuples, at the cost of comparing
    # two strings.
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, str]] = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                # Files first: most entries are. (A directory is not a file; a link to one is
                # neither of the two, and a hidden file is left out by its name.)
                try:
                    if entry.is_file():
                        if entry.name[0] != ".":
                            found.append((prefix + entry.name, entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, f"{prefix}{entry.name}\0"))
                except OSError:
                    continue
    # By the key alone (no two files share one): the sort then compares strings, not tuples.
    found.sort(key=itemgetter(0))
    if root != ".":
        return [path for _, path in found]
    return [path.removeprefix("./") for _, path in found]


def read_input(item: Input | str) -> tuple[str, bytes | None, int, str | None]:
    """(name, data, size, error) of one item of ``iter_inputs``: a file given by its name, or by an
    ``Input`` without data or error, is read here (in the worker that parses it)."""
    if isinstance(item, str):
        return item, *_read_file(item)
    name, data, size, error = item
    if data is None and error is None:
        return name, *_read_file(name)
    return name, data, size, error


def _read_file(name: str) -> tuple[bytes | None, int, str | None]:
    """(data, size, error) of one input file, read bounded. ``name`` as ``iter_inputs`` gives it,
    already normalised. Read from the file's descriptor: a file object (even unbuffered) costs
    twice the rest of reading a small file."""
    try:
        fd = os.open(name, _READ_FLAGS)
        try:
            # Most files are read whole by the first read, which a second, empty one confirms:
            # ``_read_bounded``'s loop goes on only for the rest (a longer file, a pipe).
            data = os.read(fd, MAX_BYTES)
            size = len(data)
            if size and (size == MAX_BYTES or (more := os.read(fd, MAX_BYTES - size))):
                data, size = _read_bounded(functools.partial(os.read, fd), data if size == MAX_BYTES else data + more)
        finally:
            os.close(fd)
    except FileNotFoundError:
        return None, 0, f"{name}: no such file"
    except IsADirectoryError:
        return None, 0, f"{name}: is a directory"
    except PermissionError:
        return None, 0, f"{name}: permission denied"
    except OSError as exc:
        return None, 0, f"{name}: cannot read ({exc.strerror or exc})"
    return data, size, None


def analyse(data: bytes, size: int) -> Bounce:
    """The bounce in ``data``, the first MAX_BYTES of an input of ``size`` bytes."""
    bounce = parse_bounce(data)
    if size > MAX_BYTES and not bounce.truncated:
        note = f"input is {size} bytes; only the first {MAX_BYTES} were analysed"
        bounce = dataclasses.replace(bounce, truncated=True, notes=(*bounce.notes, note))
    return bounce


# What one input gives: (text for stdout, lines for stderr, recognised, unreadable, record), the
# record only for --format json (gathered, printed at the end). A plain tuple: a worker pickles it
# and this process loads it at less than half the cost of a named tuple, whose class's Python
# ``__getnewargs__`` and ``__new__`` would run for every input.
Outcome = tuple[str, tuple[str, ...], bool, bool, dict[str, Any] | None]


def explain_input(item: Input | str, *, language: str, fmt: str, color: bool, many: bool) -> Outcome:
    """Read (when ``item`` is a path still to read), parse, explain and render one input. Pure
    apart from reading the file, so it runs the same in this process or in a worker."""
    name, data, size, error = read_input(item)
    if error:
        return "", (error,), False, True, None
    assert data is not None
    bounce = analyse(data, size)
    messages: tuple[str, ...] = ()  # the usual case: a bounce, and nothing to say about the input
    if not bounce.is_ndr or bounce.notes:
        said = [] if bounce.is_ndr else [f"{name}: not a bounce: {bounce.why_not}"]
        messages = (*said, *(f"{name}: {note}" for note in bounce.notes))
    output, record = "", None
    if fmt == "jsonl":  # the explanation goes straight into the line: no Explanation is built
        output = bounce_line(bounce, language, name) + "\n"
    elif fmt == "text":
        if bounce.is_ndr:
            from bot.render.terminal import render_text  # noqa: PLC0415 - text output only

            ui = knowledge.load(language).ui
            explanation = explain_bounce(bounce, language)
            output = render_text(bounce, explanation, ui, color=color, file=name if many else None)
    else:
        record = bounce_record(bounce, explain_bounce(bounce, language) if bounce.is_ndr else None, name)
    return output, messages, bounce.is_ndr, False, record


def _jobs(requested: int | None) -> int:
    if requested is not None:
        return max(1, min(requested, MAX_ASKED_JOBS))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(usable or 1, MAX_JOBS)


def _outcomes(items: Iterable[S], render: Callable[[S], T], *, jobs: int) -> Iterator[T]:
    """Outcomes in input order. Many files are shared among ``jobs`` processes, this one and
    forked workers (each reads and parses its own files, so only rendered answers cross between
    processes: ``bot/cli/fanout.py``)."""
    items = list(items)
    if jobs < 2 or len(items) < PARALLEL_FROM:
        yield from map(render, items)
        return
    from bot.cli import fanout  # noqa: PLC0415 - one file, or --jobs 1, pays nothing for it

    jobs = min(jobs, len(items) // 8)  # every worker starts at once: a few files each
    yield from fanout.in_order(items, render, jobs=jobs)


class _Output:
    """Standard output, written in blocks of about OUTPUT_BLOCK characters (each answer at once on
    a terminal): with PYTHONUNBUFFERED set, every write would otherwise be a system call. To a
    UTF-8 stream (the usual case), each answer is encoded on its own and a block written as bytes:
    one answer with a character beyond Latin-1 would make a block joined as text all wide
    characters, and encoding that costs several times as much as copying."""

    def __init__(self, stdout: IO[str]) -> None:
        self.stdout = stdout
        self.binary: IO[bytes] | None = None
        self.errors = "strict"
        # UTF-8 keeps no state from one piece to the next: the bytes are those the stream would write.
        if isinstance(stdout, io.TextIOWrapper) and codecs.lookup(stdout.encoding).name == "utf-8":
            self.binary, self.errors = stdout.buffer, stdout.errors or "strict"
        self.block = 0 if stdout.isatty() else OUTPUT_BLOCK
        self.texts: list[str] = []
        self.encoded: list[bytes] = []
        self.held = 0

    def write(self, answer: str) -> None:
        if self.binary is None:
            self.texts.append(answer)
            self.held += len(answer)
        else:
            data = answer.encode("utf-8", self.errors)
            self.encoded.append(data)
            self.held += len(data)
        if self.held >= self.block:
            self.flush()

    def flush(self) -> None:
        if self.texts:
            self.stdout.write("".join(self.texts))
            self.texts.clear()
        if self.encoded and self.binary is not None:
            self.stdout.flush()  # anything written to the text stream goes first
            self.binary.write(b"".join(self.encoded))
            if not self.block:  # a terminal: shown now, as the text stream would show it
                self.binary.flush()
            self.encoded.clear()
        self.held = 0


def cmd_explain(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[bytes]) -> int:
    language = args.lang or default_language()
    ui = knowledge.load(language).ui
    color = args.color == "always" or (args.color == "auto" and stdout.isatty() and "NO_COLOR" not in os.environ)
    if args.code:
        code = normalise_code(args.code)
        explanation = explain_code(code, language) if code else None
        if explanation is None:
            print(f"mailflow: {args.code!r} is not a known SMTP reply or enhanced status code", file=stderr)
            return EXIT_NONE
        if args.format == "text":
            from bot.render.terminal import render_code  # noqa: PLC0415 - text output only

            stdout.write(render_code(explanation, ui, color=color))
        else:
            import json  # noqa: PLC0415 - --format jsonl writes its lines itself (bot/render/record.py)

            stdout.write(json.dumps(dataclasses.asdict(explanation), ensure_ascii=False) + "\n")
        return EXIT_OK
    if not args.inputs and stdin.isatty():
        print(
            "mailflow: give a file, a directory, or - to read standard input (see mailflow explain --help)", file=stderr
        )
        return EXIT_NONE
    recognised = unreadable = 0
    many = len(args.inputs) > 1 or any(os.path.isdir(p) for p in args.inputs)
    render = functools.partial(explain_input, language=language, fmt=args.format, color=color, many=many)
    sender_facts.load()  # now, before any worker starts: each inherits the facts instead of reading them
    # What start-up made (modules, the knowledge base) lives to the end: frozen, no collection
    # walks it again (not even the one at exit), and forked workers share its memory pages.
    gc.freeze()
    records = []
    output = _Output(stdout)
    try:
        outcomes = _outcomes(iter_inputs(args.inputs, stdin), render, jobs=_jobs(args.jobs))
        for answer, messages, is_ndr, unread, record in outcomes:
            unreadable += unread
            recognised += is_ndr
            for line in messages:
                print(f"mailflow: {line}", file=stderr)
            if answer:
                output.write(answer)
            if record is not None:
                records.append(record)
    finally:
        output.flush()  # what is done is written, also when stopped early
    if args.format == "json" and records:
        import json  # noqa: PLC0415 - --format jsonl writes its lines itself (bot/render/record.py)

        payload = records[0] if len(records) == 1 else records
        stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    if unreadable:
        return EXIT_ERROR
    return EXIT_OK if recognised else EXIT_NONE


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """The inputs and ``--jobs``: what explain and summary read, and how many processes read it."""
    parser.add_argument(
        "inputs", nargs="*", metavar="FILE|DIR|-", help="inputs; directories are expanded; - or none reads stdin"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help=f"processes that share many files (default: the CPUs, at most {MAX_JOBS}; 1: this one only)",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = sub.add_parser(
        "explain",
        help="explain bounce messages, pasted NDR text or queue errors",
        description="Read bounces (.eml files, pasted text, queue errors) and explain the root cause.",
    )
    explain.add_argument("--format", choices=("text", "json", "jsonl"), default="text")
    explain.add_argument(
        "--lang", choices=knowledge.LANGUAGES, help="language of the explanation (default: from the locale)"
    )
    explain.add_argument("--code", help="explain one code instead of reading input, e.g. 4.4.316 or 550")
    explain.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    add_reading_arguments(explain)
    explain.set_defaults(handler=cmd_explain)
