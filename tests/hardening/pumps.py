"""Pump strings for regular expressions: inputs built from a pattern's own pieces, to show
whether its matching time grows linearly with the input.

Catastrophic or quadratic backtracking needs three things: a prefix that leads the engine to a
repeat, a pump (a string the repeat, or two overlapping repeats, can consume in many ways) and a
suffix that makes the attempt fail so the engine tries every other way. This module reads the
pattern's parse tree (``re._parser``, the tree ``re.compile`` itself works from) and, for every
repeat in it, builds

- the prefix: a sample of what the pattern must read before reaching the repeat (the known
  case: ``LastAttemptedIP=`` before ``[0-9a-fA-F:]*``);
- pumps: samples of what the repeat's body accepts (each member class contributes its
  punctuation, a digit, letters, a space, a non-ASCII character), plus every literal and pair of
  neighbouring pieces of the pattern (``<script``: a literal then a branch);
- inputs ``prefix + pump * k``, ``(prefix + pump) * k`` and ``pump * k``, with and without a
  suffix that breaks the match.

``search`` is the measure, because it is the worst use: every start position is tried, so a
pattern that only ``match``es at one offset today stays safe when someone scans with it.
``pattern_sites`` discovers the compiled patterns of a package by introspection, so a new one is
covered without being listed.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from re import _compiler, _parser  # type: ignore[attr-defined]
from re import _constants as C  # type: ignore[attr-defined]
from types import ModuleType

UNIVERSE = " \t\n\r:.-@<>[](){}=;,/'\"|#&*+_!?%$~^`\\0123456789abcdefxyzABCDEFXYZ\x00\xa0é\u3042\uac00\u4e00："
# "" lets a match end the input; the others break it: a character few classes hold, a line
# break, a blank and a character after a token that had to end its line (``\S+@\S+[ \t]*$``)
SUFFIXES = ("", "\x00", "\n!", " !")
MAX_SIZE = 1 << 17  # the largest n measured (4n is half a mebibyte)
MAX_MINIMUM = 64  # a sample repeats a body at most this often, whatever the repeat's minimum
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)


@dataclass(frozen=True)
class Site:
    """A compiled pattern and where it lives (``module.NAME`` or ``module.NAME[3]``)."""

    name: str
    pattern: re.Pattern[str] | re.Pattern[bytes]


def _walk_value(name: str, value: object, depth: int = 0) -> Iterator[Site]:
    if isinstance(value, re.Pattern):
        yield Site(name, value)
    elif depth < 3 and isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _walk_value(f"{name}[{i}]", item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_value(f"{name}[{key!r}]", item, depth + 1)


def pattern_sites(*packages_or_modules: str) -> list[Site]:
    """Every compiled pattern held at module level (directly or in tuples, lists and dicts) by
    the named modules, and by every module of the named packages."""
    modules: list[ModuleType] = []
    for name in packages_or_modules:
        module = importlib.import_module(name)
        modules.append(module)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            modules.append(importlib.import_module(f"{name}.{info.name}"))
    seen: set[int] = set()
    out: list[Site] = []
    for module in modules:
        for attr, value in vars(module).items():
            for site in _walk_value(f"{module.__name__}.{attr}", value):
                if id(site.pattern) not in seen:
                    seen.add(id(site.pattern))
                    out.append(site)
    return out


class _Reader:
    """Samples of what each node of a parse tree accepts."""

    def __init__(self, pattern: re.Pattern[str] | re.Pattern[bytes]) -> None:
        source = pattern.pattern
        self.is_bytes = isinstance(source, bytes)
        text = source.decode("latin-1") if isinstance(source, bytes) else source
        self.flags = pattern.flags & ~re.UNICODE if self.is_bytes else pattern.flags
        self.tree = _parser.parse(text, self.flags)
        self.literals: list[str] = []
        self.sites: list[tuple[str, list[str]]] = []  # (prefix, pumps) per repeat
        self.neighbours: list[str] = []
        self._class_cache: dict[int, list[str]] = {}

    def members(self, node: tuple[object, object]) -> list[str]:
        """Representative characters a one-character node accepts."""
        key = id(node)
        if key not in self._class_cache:
            sub = _parser.SubPattern(self.tree.state, [node])
            try:
                compiled = _compiler.compile(sub, self.flags)
            except Exception:
                self._class_cache[key] = []
                return []
            universe = UNIVERSE.encode("latin-1", "ignore").decode("latin-1") if self.is_bytes else UNIVERSE
            found = [c for c in universe if compiled.fullmatch(c.encode("latin-1") if self.is_bytes else c)]
            picks: list[str] = []
            for test in (str.isdigit, str.islower, str.isupper, str.isspace):
                picks.extend([c for c in found if c.isascii() and test(c)][:1])
            picks.extend([c for c in found if c.isascii() and not c.isalnum() and not c.isspace()][:8])
            picks.extend([c for c in found if not c.isascii()][:1])
            self._class_cache[key] = list(dict.fromkeys(picks))
        return self._class_cache[key]

    def sample(self, seq: list[tuple[object, object]]) -> str:
        return "".join(self.one(node) for node in seq)

    def one(self, node: tuple[object, object]) -> str:
        op, av = node
        if op == C.LITERAL:
            return chr(av)  # type: ignore[arg-type]
        if op in (C.IN, C.NOT_LITERAL, C.ANY):
            found = self.members(node)
            return found[0] if found else ""
        if op == C.SUBPATTERN:
            return self.sample(av[-1])  # type: ignore[index]
        if op == C.ATOMIC_GROUP:
            return self.sample(av)  # type: ignore[arg-type]
        if op == C.BRANCH:
            return self.sample(av[1][0])  # type: ignore[index]
        if op in _REPEATS:
            low, _high, body = av  # type: ignore[misc]
            # as many as the repeat needs (``[0-9A-F]{5,}``: five), so that a sample of what
            # comes before a later repeat does lead the engine to it
            return self.sample(body) * max(1, min(low, MAX_MINIMUM))
        if op == C.GROUPREF_EXISTS:
            return self.sample(av[1])  # type: ignore[index]
        return ""  # anchors, assertions, back references

    def variants(self, seq: list[tuple[object, object]], limit: int = 12) -> list[str]:
        """Several strings ``seq`` accepts: each position varied on its own."""
        base = [self.one(node) for node in seq]
        out = ["".join(base)]
        for i, node in enumerate(seq):
            op, av = node
            options: list[str] = []
            if op in (C.IN, C.NOT_LITERAL, C.ANY):
                options = self.members(node)
            elif op == C.BRANCH:
                options = [self.sample(alt) for alt in av[1]]  # type: ignore[index]
            elif op == C.SUBPATTERN:
                options = self.variants(av[-1], limit)  # type: ignore[index]
            for option in options:
                out.append("".join([*base[:i], option, *base[i + 1 :]]))
        return list(dict.fromkeys(s for s in out if s))[:limit]

    def visit(self, seq: list[tuple[object, object]], before: str) -> None:
        run = ""
        pieces: list[str] = []
        for i, node in enumerate(seq):
            op, av = node
            here = before + self.sample(seq[:i])
            if op == C.LITERAL:
                run += chr(av)  # type: ignore[arg-type]
                continue
            if run:
                self.literals.append(run)
                pieces.append(run)
                run = ""
            if op in _REPEATS:
                body = av[2]  # type: ignore[index]
                self.sites.append((here, self.variants(body)))
                self.visit(body, here)
            elif op == C.SUBPATTERN:
                self.visit(av[-1], here)  # type: ignore[index]
            elif op == C.ATOMIC_GROUP:
                self.visit(av, here)  # type: ignore[arg-type]
            elif op == C.BRANCH:
                for alt in av[1]:  # type: ignore[index]
                    self.visit(alt, here)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                self.visit(av[1], here)  # type: ignore[index]
            elif op == C.GROUPREF_EXISTS:
                self.visit(av[1], here)  # type: ignore[index]
                if av[2] is not None:  # type: ignore[index]
                    self.visit(av[2], here)  # type: ignore[index]
            if op in (C.IN, C.NOT_LITERAL, C.ANY):
                self.neighbours.extend(self.members(node))
            piece = self.one(node)
            if piece:
                pieces.append(piece)
        if run:
            self.literals.append(run)
            pieces.append(run)
        self.neighbours.extend(a + b for a, b in itertools.pairwise(pieces))


@dataclass(frozen=True)
class Shape:
    """An input family: ``head + unit * k + tail``, or ``(head + unit) * k + tail`` when ``wrap``."""

    head: str
    unit: str
    tail: str
    wrap: bool = False

    def build(self, size: int) -> str:
        block = self.head + self.unit if self.wrap else self.unit
        count = max(1, (size - (0 if self.wrap else len(self.head))) // max(1, len(block)))
        return ("" if self.wrap else self.head) + block * count + self.tail


def shapes(pattern: re.Pattern[str] | re.Pattern[bytes], limit: int = 600) -> list[Shape]:
    """Pump shapes for ``pattern``, deduplicated, at most ``limit`` (spread over all sites)."""
    reader = _Reader(pattern)
    reader.visit(list(reader.tree.data), "")
    out: list[Shape] = []
    for prefix, pumps in reader.sites:
        for pump in pumps:
            for tail in SUFFIXES:
                out.append(Shape(prefix, pump, tail))
                if prefix:
                    out.append(Shape(prefix, pump, tail, wrap=True))
                    out.append(Shape("", pump, tail))
    loose = list(dict.fromkeys([*reader.literals, *reader.neighbours]))
    for unit in loose:
        for tail in SUFFIXES[:2]:
            out.append(Shape("", unit, tail))
            out.append(Shape("", unit + "\n", tail))
    unique = list(dict.fromkeys(s for s in out if s.unit))
    if len(unique) > limit:  # keep every n-th: each site keeps some of its shapes
        step = len(unique) / limit
        unique = [unique[int(i * step)] for i in range(limit)]
    return unique


def _encode(pattern: re.Pattern[str] | re.Pattern[bytes], text: str) -> str | bytes:
    return text.encode("latin-1", "replace") if isinstance(pattern.pattern, bytes) else text


def search_time(pattern: re.Pattern[str] | re.Pattern[bytes], text: str, repeat: int = 1) -> float:
    """The shortest of ``repeat`` timings of a full scan (``finditer``: every start position), in
    CPU time of this thread: on a busy machine a long run is preempted more often than a short
    one, which wall-clock time would count as growth."""
    data = _encode(pattern, text)
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        deque(pattern.finditer(data), maxlen=0)  # type: ignore[arg-type]  # every match, none kept
        best = min(best, time.thread_time() - started)
    return best


@dataclass(frozen=True)
class Growth:
    shape: Shape
    size: int
    small: float  # seconds at ``size``
    large: float  # seconds at ``4 * size``

    @property
    def ratio(self) -> float:
        return self.large / self.small if self.small > 0 else 0.0


def growth(
    pattern: re.Pattern[str] | re.Pattern[bytes],
    shape: Shape,
    *,
    floor_s: float = 0.002,
    repeat: int = 5,
    attempts: int = 3,
) -> Growth:
    """Time at n and 4n for a size n where a scan takes at least ``floor_s`` (so the timer's
    resolution and the interpreter's overhead do not decide the ratio). A ratio above the linear
    band is measured again, up to ``attempts`` times, and the lowest is kept: a busy machine can
    slow one run, while a super-linear pattern is slow on every run."""
    size = 1024
    while size < MAX_SIZE and search_time(pattern, shape.build(size), 2) < floor_s:
        size *= 2
    best: Growth | None = None
    for _ in range(attempts):
        small = search_time(pattern, shape.build(size), repeat)
        measured = Growth(shape, size, small, search_time(pattern, shape.build(4 * size), repeat))
        best = measured if best is None or measured.ratio < best.ratio else best
        if best.ratio <= 5:
            break
    assert best is not None
    return best


def screen(pattern: re.Pattern[str] | re.Pattern[bytes], size: int = 500, keep: int = 3) -> list[Shape]:
    """The ``keep`` shapes whose scan grows the most from ``size`` to ``4 * size`` characters."""
    scored: list[tuple[float, float, Shape]] = []
    for shape in shapes(pattern):
        small = search_time(pattern, shape.build(size), 2)
        large = search_time(pattern, shape.build(4 * size), 2)
        scored.append((large / max(small, 1e-7), large, shape))
    scored.sort(key=lambda item: (item[0] * min(1.0, item[1] / 1e-4), item[1]), reverse=True)
    return [shape for _, _, shape in scored[:keep]]
