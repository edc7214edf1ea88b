"""The knowledge base: what each status code means, why it happens, what to do.

The data lives in the top-level ``knowledge/`` package (see its README for the layout):
``catalog/*.toml`` holds the language-neutral facts (which codes exist, their cause and
checklist ids, the probes that confirm each cause) and ``<lang>/*.toml`` the words. Files are
read once per language, validated, and frozen; anything missing or unexpected raises
``KnowledgeError`` naming the file and key, so a broken translation stops start-up rather than
showing an empty section to a user in the middle of an incident.

Lookup order for a code is exact, then detail range, then registry ``X.Y.Z``, then class and
subject: the most specific explanation we have wins.

Reading and validating a language costs about 40 ms, paid by every run of the command line. So
the validated result is also kept in a user cache (``MAILFLOW_CACHE_DIR``, else
``$XDG_CACHE_HOME/mailflow`` or ``~/.cache/mailflow``; an empty ``MAILFLOW_CACHE_DIR`` turns it
off), pickled with the fingerprint of what it was built from: the path, size and modification
time of every file under ``knowledge/`` and of this module, and the Python and mailflow
versions. Any change there, an unreadable cache, or a cache directory that another user could
write to (a pickle runs code when loaded) means the files are read again.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.util
import os
import pickle
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot import __version__
from bot.errors import KnowledgeError
from bot.frozen import slot_setters

T = TypeVar("T")
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "ja", "nl", "ko")
DEFAULT_LANGUAGE = "en"
PROBES = frozenset(
    {
        "mx",
        "address",
        "authoritative",
        "rdap",
        "tcp",
        "banner",
        "ehlo",
        "starttls",
        "certificate",
        "tls_version",
        "mta_sts",
        "tls_rpt",
        "dane",
        "m365_ranges",
    }
)
CONNECTOR_CODES: tuple[str, ...] = ("4.4.312", "4.4.315", "4.4.316", "4.4.317", "4.4.318", "4.7.320")
CONNECTOR_OTHER = "connector-other"

# Only reading the files (not a run that finds the base in its cache) needs these: compiled when
# first used, by ``re``'s own cache.
_EXACT = r"^[245]\.\d{1,3}\.\d{1,3}$"
_RANGE = r"^([245])\.(\d{1,3})\.(\d{1,3})-(\d{1,3})$"
_REGISTRY = r"^X\.\d{1,3}\.\d{1,3}$"
_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# A named field in a text: ``{host}``. Other braces (``@{Add=...}``, ``[{LED=...}]``) are literal.
FIELD = re.compile(r"\{([a-z][a-z0-9_]{0,39})\}")


@functools.lru_cache(maxsize=4096)
def template_fields(template: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A template taken apart once (templates come from the knowledge base: a few hundred, each
    filled again and again): the text around its fields, the field at each place, and the field
    names each once, in order. ``Test {host} -Port {port}`` -> ``("Test ", " -Port ", "")``,
    ``("host", "port")``, ``("host", "port")``."""
    parts = FIELD.split(template)  # text, field, text, field, ..., text
    places = tuple(parts[1::2])
    return tuple(parts[0::2]), places, tuple(dict.fromkeys(places))


def substitute(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]``; unknown names stay as written."""
    texts, places, _ = template_fields(template)
    shown = [texts[0]]
    for name, after in zip(places, texts[1:], strict=True):
        shown += (values.get(name, f"{{{name}}}"), after)
    return "".join(shown)


# The fields a checklist step may name; code fills them from the bounce or the probes
# (bot/fill.py), or shows the example value marked as a placeholder.
CHECKLIST_FIELDS = frozenset(
    {
        "host",  # the destination server: LastAttemptedServerName, the remote host, the probed MX host
        "ip",  # its address: LastAttemptedIP, the probed address
        "domain",  # the recipient's domain
        "recipient",  # the recipient's address (postmaster@ the domain when only the domain is known)
        "tls_domain",  # the TlsDomain to set: --tls-domain, or a name the certificate carries
        "nameserver",  # an authoritative name server of the domain
        "connector",  # the outbound connector's name: never known, always an example
        "smart_host",  # the smart host the connector should use: never known, always an example
        "sender",  # the sender's address: not in the bounce's facts, an example
        "sender_domain",  # the sender's domain: an example
        "ehlo_name",  # the name to give in a hand-typed EHLO: any name of the reader's, an example
        "port",  # the SMTP port probed (--port, for labs); 25 otherwise, never marked as an example
    }
)
UI_FILE = "ui"
_UI_KEYS = (
    "what_happened",
    "causes",
    "checklist",
    "facts",
    "recipient",
    "remote_server",
    "remote_ip",
    "reporting_server",
    "codes",
    "not_a_bounce",
    "unknown_code",
    "truncated",
    "language",
    "reason",
    "probes",
    "observed",
    "allow_ranges",
    "healthy",
    "verdict",
    "confirmed",
    "not_confirmed",
    "warnings",
    "incomplete",
    "cached",
    "rerun_cli",
    "assumed_validation",
    "assumed_tls",
    "assumed_nothing",
    "resolver_unreachable",
    "resolver_unreachable_help",
    "placeholder_note",
)


# The knowledge base's value objects pickle (for the user cache, see the module's docstring) as
# their class and fields: loaded, each is one call of its class, where a frozen dataclass's own
# pickling sets its fields one at a time through dataclasses.fields(), four times the cost. Each
# writes its own ``__init__`` (``init=False``), with the generated one's parameters, storing its
# fields through their slots' setters, as ``bot/parse/model.py`` does: a third of the generated
# one's cost for each of the thousand objects a cached language loads, and less to define.


@dataclass(frozen=True, slots=True, init=False)
class Cause:
    """One reason a code happens, and the probes that can confirm it."""

    id: str
    text: str
    probes: tuple[str, ...]

    def __init__(self, id: str, text: str, probes: tuple[str, ...]) -> None:
        _cause_id(self, id)
        _cause_text(self, text)
        _cause_probes(self, probes)

    def __reduce__(self) -> tuple[type[Cause], tuple[str, str, tuple[str, ...]]]:
        return Cause, (self.id, self.text, self.probes)


_cause_id, _cause_text, _cause_probes = slot_setters(Cause)


@dataclass(frozen=True, slots=True, init=False)
class Step:
    """One checklist step. From the knowledge base ``text`` is a template with named fields
    (``{host}``); once filled (bot/fill.py) it is the text to show, ``filled`` the fields given
    by the bounce or the probes, ``placeholders`` the ones shown as marked examples."""

    id: str
    text: str
    filled: tuple[tuple[str, str], ...] = ()
    placeholders: tuple[tuple[str, str], ...] = ()

    def __init__(
        self,
        id: str,
        text: str,
        filled: tuple[tuple[str, str], ...] = (),
        placeholders: tuple[tuple[str, str], ...] = (),
    ) -> None:
        _step_id(self, id)
        _step_text(self, text)
        _step_filled(self, filled)
        _step_placeholders(self, placeholders)

    def __reduce__(
        self,
    ) -> tuple[type[Step], tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]]:
        return Step, (self.id, self.text, self.filled, self.placeholders)


_step_id, _step_text, _step_filled, _step_placeholders = slot_setters(Step)


@dataclass(frozen=True, slots=True, init=False)
class Entry:
    """One explanation, in one language."""

    key: str  # the catalog key that matched: "4.4.316", "5.7.606-649", "X.1.1", "class 5 / X.7"
    group: str
    title: str
    summary: str
    causes: tuple[Cause, ...]
    checklist: tuple[Step, ...]
    informational: bool = False

    def __init__(  # noqa: PLR0917 - the generated __init__'s own positional parameters
        self,
        key: str,
        group: str,
        title: str,
        summary: str,
        causes: tuple[Cause, ...],
        checklist: tuple[Step, ...],
        informational: bool = False,
    ) -> None:
        _entry_key(self, key)
        _entry_group(self, group)
        _entry_title(self, title)
        _entry_summary(self, summary)
        _entry_causes(self, causes)
        _entry_checklist(self, checklist)
        _entry_informational(self, informational)

    def __reduce__(self) -> tuple[type[Entry], tuple[Any, ...]]:
        return Entry, (self.key, self.group, self.title, self.summary, self.causes, self.checklist, self.informational)


(
    _entry_key,
    _entry_group,
    _entry_title,
    _entry_summary,
    _entry_causes,
    _entry_checklist,
    _entry_informational,
) = slot_setters(Entry)


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Every explanation we have in one language, ready for lookups."""

    language: str
    exact: Mapping[str, Entry]
    ranges: tuple[tuple[int, int, int, int, Entry], ...]  # class, subject, low, high
    registry: Mapping[str, Entry]  # "1.1" -> X.1.1
    classes: Mapping[str, Entry]
    subjects: Mapping[str, Entry]
    replies: Mapping[str, Entry]
    ui: Mapping[str, str]
    texts: Mapping[str, str]  # "tcp.refused" -> its template, from the text files (bot/texts.py)

    def entries(self) -> Iterator[Entry]:
        yield from self.exact.values()
        yield from (r[4] for r in self.ranges)
        yield from self.registry.values()
        yield from self.classes.values()
        yield from self.subjects.values()
        yield from self.replies.values()

    def explain_status(self, status: str) -> Entry | None:
        """The most specific entry for an enhanced status code, or None for a malformed one."""
        parts = status.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        if status in self.exact:
            return self.exact[status]
        klass, subject, detail = int(parts[0]), int(parts[1]), int(parts[2])
        for c, s, low, high, entry in self.ranges:
            if c == klass and s == subject and low <= detail <= high:
                return entry
        registry = self.registry.get(f"{subject}.{detail}")
        if registry is not None:
            return registry
        return self._class_subject(parts[0], str(subject))

    def explain_reply(self, reply_code: str) -> Entry | None:
        return self.replies.get(reply_code)

    def _class_subject(self, klass: str, subject: str) -> Entry | None:
        class_entry = self.classes.get(klass)
        subject_entry = self.subjects.get(f"X.{subject}")
        if class_entry is None:
            return None
        if subject_entry is None:
            return class_entry
        return Entry(
            key=f"{klass}.{subject}.x",
            group=class_entry.group,
            title=f"{class_entry.title}: {subject_entry.title}",
            summary=f"{class_entry.summary}\n{subject_entry.summary}",
            causes=(),
            checklist=subject_entry.checklist or class_entry.checklist,
        )

    @property
    def connector_other(self) -> Entry:
        return self.exact[CONNECTOR_OTHER]


@functools.cache
def _root() -> str:
    """The ``knowledge`` data package's directory. Found through its import spec, which costs
    nothing, where ``importlib.resources`` would import tempfile, shutil and random at start-up
    (and a ``pathlib.Path``, pathlib and urllib.parse)."""
    spec = importlib.util.find_spec("knowledge")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise KnowledgeError("the knowledge data package is not installed")
    return next(iter(locations))


def read(relative: str) -> dict[str, Any]:
    """One TOML file of ``knowledge/``; a missing or malformed file is a ``KnowledgeError``."""
    import tomllib  # noqa: PLC0415 - a run that finds the base in its cache parses no TOML

    try:
        with open(os.path.join(_root(), relative), "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise KnowledgeError(f"knowledge/{relative}: file missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"knowledge/{relative}: {exc}") from exc


def _groups() -> list[str]:
    return sorted(name[:-5] for name in os.listdir(os.path.join(_root(), "catalog")) if name.endswith(".toml"))


def _table(where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KnowledgeError(f"{where}: expected a table")
    return value


def _text(where: str, value: object, *, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: expected non-empty text")
    text = value.strip()
    if limit is not None and len(text) > limit:
        raise KnowledgeError(f"{where}: longer than {limit} characters")
    return text


def field_problems(where: str, template: str, allowed: frozenset[str]) -> list[str]:
    """The problem with a checklist step that names a field code never fills (empty: none)."""
    unknown = sorted(set(FIELD.findall(template)) - allowed)
    return [f"{where}: unknown fields {unknown}; known: {', '.join(sorted(allowed))}"] if unknown else []


def _check_key(where: str, key: str) -> None:
    if key == CONNECTOR_OTHER or re.match(_EXACT, key) or re.match(_REGISTRY, key):
        return
    m = re.match(_RANGE, key)
    if m and int(m.group(3)) < int(m.group(4)):
        return
    raise KnowledgeError(f"{where}: {key!r} is not a code, a range or an X.Y.Z registry code")


def _ids(where: str, items: object) -> list[str]:
    if not isinstance(items, list):
        raise KnowledgeError(f"{where}: expected a list")
    ids: list[str] = []
    for item in items:
        ident = item.get("id") if isinstance(item, dict) else item
        if not isinstance(ident, str) or not re.match(_ID, ident):
            raise KnowledgeError(f"{where}: bad id {ident!r}")
        if ident in ids:
            raise KnowledgeError(f"{where}: id {ident!r} listed twice")
        ids.append(ident)
    return ids


def _words(where: str, table: dict[str, Any], ids: list[str]) -> dict[str, str]:
    extra = sorted(set(table) - set(ids))
    if extra:
        raise KnowledgeError(f"{where}: ids not in the catalog: {', '.join(extra)}")
    return {i: _text(f"{where}.{i}", table.get(i)) for i in ids}


def _entry(group: str, section: str, key: str, facts: dict[str, Any], *, words: object, where: str) -> Entry:
    words = _table(where, words)
    informational = bool(facts.get("informational", False))
    cause_facts = facts.get("causes", [])
    cause_ids = _ids(f"catalog/{group}.toml {section}.{key}.causes", cause_facts)
    step_ids = _ids(f"catalog/{group}.toml {section}.{key}.checklist", facts.get("checklist", []))
    if section == "codes" and not informational:
        if not step_ids:
            raise KnowledgeError(f"catalog/{group}.toml codes.{key}: empty checklist")
        if group.startswith(("connector", "exchange")) and not cause_ids:
            raise KnowledgeError(f"catalog/{group}.toml codes.{key}: no causes")
    probes_by_cause: dict[str, tuple[str, ...]] = {}
    for item in cause_facts:
        probes = tuple(item.get("probes", ())) if isinstance(item, dict) else ()
        unknown = sorted(set(probes) - PROBES)
        if unknown:
            raise KnowledgeError(f"catalog/{group}.toml {section}.{key}: unknown probes {unknown}")
        probes_by_cause[item["id"] if isinstance(item, dict) else item] = probes
    cause_words = _words(f"{where}.causes", _table(f"{where}.causes", words.get("causes", {})), cause_ids)
    step_words = _words(f"{where}.checklist", _table(f"{where}.checklist", words.get("checklist", {})), step_ids)
    unknown_fields = sorted(set(words) - {"title", "summary", "causes", "checklist"})
    if unknown_fields:
        raise KnowledgeError(f"{where}: unknown fields {unknown_fields}")
    for part, value in [("title", words.get("title")), ("summary", words.get("summary")), *cause_words.items()]:
        if isinstance(value, str) and FIELD.search(value):
            raise KnowledgeError(f"{where}.{part}: named fields are for checklist steps only")
    for step_id, value in step_words.items():
        for problem in field_problems(f"{where}.checklist.{step_id}", value, CHECKLIST_FIELDS):
            raise KnowledgeError(problem)
    return Entry(
        key=key,
        group=group,
        title=_text(f"{where}.title", words.get("title"), limit=120),
        summary=_text(f"{where}.summary", words.get("summary")),
        causes=tuple(Cause(i, cause_words[i], probes_by_cause[i]) for i in cause_ids),
        checklist=tuple(Step(i, step_words[i]) for i in step_ids),
        informational=informational,
    )


def _sections(group: str, catalog: dict[str, Any], text: dict[str, Any], lang: str) -> Iterator[tuple[str, str, Entry]]:
    for section in ("codes", "classes", "subjects", "replies"):
        facts_table = _table(f"catalog/{group}.toml {section}", catalog.get(section, {}))
        words_table = _table(f"{lang}/{group}.toml {section}", text.get(section, {}))
        missing = sorted(set(facts_table) - set(words_table))
        extra = sorted(set(words_table) - set(facts_table))
        if missing:
            raise KnowledgeError(f"knowledge/{lang}/{group}.toml: {section} missing {', '.join(missing)}")
        if extra:
            raise KnowledgeError(f"knowledge/{lang}/{group}.toml: {section} not in catalog: {', '.join(extra)}")
        for key, facts in facts_table.items():
            where = f"knowledge/{lang}/{group}.toml {section}.{key}"
            if section == "codes":
                _check_key(f"catalog/{group}.toml", key)
            yield section, key, _entry(group, section, key, _table(where, facts), words=words_table[key], where=where)


def _ui(language: str) -> dict[str, str]:
    """Every label in ``<lang>/ui.toml``: the ones the renderers need, and the same keys as English."""
    table = read(f"{language}/ui.toml")
    ui = {k: _text(f"knowledge/{language}/ui.toml {k}", v) for k, v in table.items()}
    if language == DEFAULT_LANGUAGE:
        missing, extra = sorted(set(_UI_KEYS) - set(ui)), []
    else:
        english = set(_ui(DEFAULT_LANGUAGE))
        missing, extra = sorted(english - set(ui)), sorted(set(ui) - english)
    if missing:
        raise KnowledgeError(f"knowledge/{language}/ui.toml: missing {', '.join(missing)}")
    if extra:
        raise KnowledgeError(f"knowledge/{language}/ui.toml: not in en/ui.toml: {', '.join(extra)}")
    if language != DEFAULT_LANGUAGE:
        _same_fields(f"knowledge/{language}/ui.toml", ui, _ui(DEFAULT_LANGUAGE), pattern=_UI_FIELD)
    return ui


_UI_FIELD = r"\{([a-z_]{1,40})\}"  # ui labels use str.format fields: {code}, {domain}


def _same_fields(
    where: str, texts: Mapping[str, str], english: Mapping[str, str], *, pattern: str | re.Pattern[str]
) -> None:
    """Each text names exactly the fields its English twin names."""
    for key, value in texts.items():
        want, got = sorted(set(re.findall(pattern, english[key]))), sorted(set(re.findall(pattern, value)))
        if want != got:
            raise KnowledgeError(f"{where} {key}: fields {got}, but English has {want}")


def _text_files(language: str) -> list[str]:
    """The text files of a language: every ``<lang>/*.toml`` that is no group's twin and not ui."""
    skip = {*_groups(), UI_FILE}
    names = os.listdir(os.path.join(_root(), language))
    return sorted(name[:-5] for name in names if name.endswith(".toml") and name[:-5] not in skip)


def _flatten(where: str, table: dict[str, Any], prefix: str, into: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(where, value, f"{name}.", into)
        elif isinstance(value, str) and value.strip():
            if name in into:
                raise KnowledgeError(f"{where}: text {name!r} defined twice")
            into[name] = value.strip("\n")
        else:
            raise KnowledgeError(f"{where} {name}: expected non-empty text or a table")


def _texts(language: str) -> dict[str, str]:
    """Every text of the language's text files (``tcp.refused`` -> template), checked against English:
    the same files, the same keys, and in each text the same named fields."""
    texts: dict[str, str] = {}
    files = _text_files(language)
    for name in files:
        _flatten(f"knowledge/{language}/{name}.toml", read(f"{language}/{name}.toml"), "", texts)
    if language == DEFAULT_LANGUAGE:
        return texts
    english = _texts(DEFAULT_LANGUAGE)
    english_files = _text_files(DEFAULT_LANGUAGE)
    if files != english_files:
        raise KnowledgeError(f"knowledge/{language}: text files {files}, but English has {english_files}")
    missing, extra = sorted(set(english) - set(texts)), sorted(set(texts) - set(english))
    if missing:
        raise KnowledgeError(f"knowledge/{language}: texts missing: {', '.join(missing)}")
    if extra:
        raise KnowledgeError(f"knowledge/{language}: texts not in English: {', '.join(extra)}")
    _same_fields(f"knowledge/{language} text", texts, english, pattern=FIELD)
    return texts


def _same_step_fields(language: str, entries: Iterator[Entry], english: Knowledge) -> None:
    """Each checklist step names exactly the fields of the same step in English."""
    by_key = {(e.group, e.key): e for e in english.entries()}
    for entry in entries:
        twin = by_key.get((entry.group, entry.key))
        if twin is None:
            continue
        theirs = {s.id: s.text for s in twin.checklist}
        for step in entry.checklist:
            want, got = sorted(set(FIELD.findall(theirs.get(step.id, "")))), sorted(set(FIELD.findall(step.text)))
            if want != got:
                raise KnowledgeError(
                    f"knowledge/{language}/{entry.group}.toml {entry.key} checklist.{step.id}: "
                    f"fields {got}, but English has {want}"
                )


@functools.cache
def load(language: str = DEFAULT_LANGUAGE) -> Knowledge:
    """Load and validate one language. Cached: the files are read once per process, and parsed
    again only when they changed since the last run (see the module's docstring)."""
    if language not in LANGUAGES:
        raise KnowledgeError(f"unsupported language {language!r}; choose one of {', '.join(LANGUAGES)}")
    return cached(f"knowledge-{language}", Knowledge, lambda: _load(language))


def cached(name: str, kind: type[T], build: Callable[[], T]) -> T:
    """``build()``, kept in the user cache as ``name`` (see the module's docstring) and built again
    only when a file of ``knowledge/`` changed, or a module that builds from them (``_fingerprint``)."""
    folder = _cache_dir()
    if folder is None:
        return build()
    # One file per name and per installed copy (several checkouts share a user's cache).
    path = os.path.join(folder, f"{name}-{zlib.crc32(_root().encode()):08x}.pickle")
    stamp = _fingerprint_once()
    value = _from_cache(path, stamp, kind)
    if value is None:
        value = build()
        _to_cache(folder, path, stamp, value)
    return value


CACHE_ENV = "MAILFLOW_CACHE_DIR"


def _cache_dir() -> str | None:
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mailflow")


def _fingerprint() -> str:
    """What a cached value was built from: every file of the data package, this module and the
    sender facts' (``bot/sender/knowledge.py``)."""
    parts = [sys.version, __version__]
    here = os.path.dirname(__file__)
    for where in (f"{here}/knowledge.py", f"{here}/sender/knowledge.py"):
        _stamp(where, parts)
    stack = [_root()]
    while stack:
        where = stack.pop()
        try:
            with os.scandir(where) as entries:
                for e in entries:
                    # a directory, or a link to one named like a data file
                    if e.is_dir(follow_symlinks=False) or (e.name.endswith(".toml") and e.is_dir()):
                        stack.append(e.path)
                    elif e.name.endswith(".toml"):
                        _stamp(e.path, parts, e)  # os.stat's answer, from the entry: one system call, not two
        except OSError:
            parts.append(f"{where}:unreadable")
    return "\n".join(sorted(parts))


# Taken once per process: the knowledge base and the sender facts (and each further language)
# are checked against the files as they were when the process first looked, at half the cost.
_fingerprint_once = functools.cache(_fingerprint)


def _stamp(where: str, parts: list[str], entry: os.DirEntry[str] | None = None) -> None:
    """The size and modification time of the file ``where`` (its directory ``entry`` when given)."""
    try:
        info = entry.stat() if entry is not None else os.stat(where)
    except OSError:
        parts.append(f"{where}:unreadable")
        return
    parts.append(f"{where}:{info.st_size}:{info.st_mtime_ns}")


def _trusted(path: str) -> bool:
    """Owned by this user and writable by no one else (POSIX); elsewhere, any."""
    if not hasattr(os, "getuid"):
        return True
    info = os.stat(path)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def _from_cache(path: str, stamp: str, kind: type[T]) -> T | None:
    # Loading makes a few thousand objects that hold no cycles: the collector, which would walk
    # them (and everything loaded before) several times meanwhile, waits.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if not (_trusted(os.path.dirname(path)) and _trusted(path)):
            return None
        with open(path, "rb") as fh:
            found, kb = pickle.load(fh)
    except Exception:  # missing, unreadable, truncated, or from other code: read the files
        return None
    finally:
        if collecting:
            gc.enable()
    return kb if found == stamp and isinstance(kb, kind) else None


def _to_cache(folder: str, path: str, stamp: str, kb: object) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(temporary, "wb") as fh:
            pickle.dump((stamp, kb), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)  # whole or not at all, also with runs side by side
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _load(language: str) -> Knowledge:
    exact: dict[str, Entry] = {}
    ranges: list[tuple[int, int, int, int, Entry]] = []
    registry: dict[str, Entry] = {}
    by_section: dict[str, dict[str, Entry]] = {"classes": {}, "subjects": {}, "replies": {}}
    for group in _groups():
        catalog = read(f"catalog/{group}.toml")
        text = read(f"{language}/{group}.toml")
        for section, key, entry in _sections(group, catalog, text, language):
            target: dict[str, Entry]
            slot = key
            if section != "codes":
                target = by_section[section]
            elif key.startswith("X."):
                target, slot = registry, key[2:]
            elif m := re.match(_RANGE, key):
                ranges.append((int(m[1]), int(m[2]), int(m[3]), int(m[4]), entry))
                continue
            else:
                target = exact
            if slot in target:
                raise KnowledgeError(f"knowledge/{language}/{group}.toml: {section}.{key} defined twice")
            target[slot] = entry
    for code in (*CONNECTOR_CODES, CONNECTOR_OTHER):
        if code not in exact:
            raise KnowledgeError(f"knowledge/{language}: connector code {code} missing")
    ui = _ui(language)
    kb = Knowledge(
        language=language,
        exact=exact,
        ranges=tuple(ranges),
        registry=registry,
        classes=by_section["classes"],
        subjects=by_section["subjects"],
        replies=by_section["replies"],
        ui=ui,
        texts=_texts(language),
    )
    if language != DEFAULT_LANGUAGE:
        _same_step_fields(language, kb.entries(), load(DEFAULT_LANGUAGE))
    return kb


def check_all() -> list[str]:
    """Validate every language; return the problems found (empty when all is well)."""
    from bot.sender.knowledge import check as check_sender  # noqa: PLC0415  (it imports this module)

    return problems_loading(_load) + check_sender()  # the files themselves, never the cache


def problems_loading(loader: Callable[[str], object]) -> list[str]:
    """Load a group of the knowledge base in every language; the problems found, one a language."""
    problems = []
    for language in LANGUAGES:
        try:
            loader(language)
        except KnowledgeError as exc:
            problems.append(str(exc))
    return problems


def check_group(group: str) -> list[str]:
    """Validate one group's catalog against each language's file (for editing one group)."""
    problems = []
    for language in LANGUAGES:
        try:
            catalog = read(f"catalog/{group}.toml")
            text = read(f"{language}/{group}.toml")
            for _ in _sections(group, catalog, text, language):
                pass
        except KnowledgeError as exc:
            problems.append(str(exc))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.knowledge", description="Validate knowledge/.")
    parser.add_argument("--check", action="store_true", help="validate every language and report")
    parser.add_argument("--group", help="validate only this group (catalog/GROUP.toml and its twins)")
    args = parser.parse_args(argv)
    if args.group:
        problems = check_group(args.group)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        counts = load(DEFAULT_LANGUAGE)
        print(
            f"ok: {len(LANGUAGES)} languages, {len(counts.exact)} codes, {len(counts.ranges)} ranges, "
            f"{len(counts.registry)} registry codes, {len(counts.replies)} reply codes"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
