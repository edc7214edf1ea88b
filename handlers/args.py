"""Slash-command arguments: the text after ``/mailflow`` in, a typed request or a ``UsageError`` out. Pure.

    /mailflow help
    /mailflow <code>                         4.4.316, 5.7.1, 550
    /mailflow explain <pasted text>
    /mailflow diagnose <domain> [--smart-host H] [--require-tls] [--tls-domain N]
    /mailflow history <domain>
    ... --lang xx                             on any of them (for ``explain``: first or last)

Slack may hand a typed domain over as a link (``<http://contoso.com|contoso.com>``) or escape
``&<>``; both are undone here. Each subcommand's parser is a function in ``PARSERS``, so
another subcommand is one more function and one more row (see handlers/commands.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.explain import normalise_code
from bot.knowledge import LANGUAGES
from bot.probes.guard import parse_ip
from bot.texts import text


class UsageError(Exception):
    """The arguments are wrong; ``text`` says how (``knowledge/<lang>/usage.toml`` ``[usage.slack]``),
    shown to the user in their language with the usage lines; the message is its English."""

    def __init__(self, key: str, /, **fields: str) -> None:
        self.text = text(f"usage.slack.{key}", **fields)
        super().__init__(self.text.render())

    def says(self, language: str) -> str:
        return self.text.render(language)


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class ExplainCode:
    code: str


@dataclass(frozen=True, slots=True)
class ExplainText:
    text: str


@dataclass(frozen=True, slots=True)
class Diagnose:
    target: str
    smart_host: str | None = None
    require_tls: bool = False
    tls_domain: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    domain: str


@dataclass(frozen=True, slots=True)
class Invocation:
    """A parsed command: which subcommand, its arguments, the ``--lang`` asked for (if any)."""

    name: str
    args: object
    language: str | None = None


_LINK = re.compile(r"<(?:https?://|mailto:)?[^<>|]*\|([^<>]*)>|<(?:https?://|mailto:)([^<>|]*)>")
_NAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$", re.I
)
_LANG_EQ = re.compile(r"^--lang=(\S+)$")
_TLS_DOMAIN = re.compile(r"(?:\*\.)?[a-z0-9.-]+")
# ``--lang xx`` before or after pasted text; possessive, so a long run is read once.
_LANG_LEAD = re.compile(r"^--lang(?:=|\s++)(\S++)\s*+")
_LANG_TAIL = re.compile(r"\s--lang(?:=|\s++)(\S++)\s*+$")


_SLACK_ESCAPE = re.compile(r"&(amp|lt|gt);")
_SLACK_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


def slack_unescape(text: str) -> str:
    """Undo exactly what Slack escapes in a command's text (``&``, ``<``, ``>``), nothing more.

    ``&quot;`` typed by the user stays as typed; rendering escapes once more, so the text shows
    as it was typed.
    """
    return _SLACK_ESCAPE.sub(lambda m: _SLACK_UNESCAPED[m.group(1)], text)


def unslack(text: str) -> str:
    """Text as the user typed it: Slack's link wrapping and ``&amp;`` escapes undone."""
    return html.unescape(_LINK.sub(lambda m: m.group(1) or m.group(2) or "", text))


def _language(value: str) -> str:
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise UsageError("lang_choice", choices=", ".join(LANGUAGES), value=repr(value))
    return lang


def take_lang(tokens: list[str]) -> tuple[list[str], str | None]:
    """``tokens`` without ``--lang xx`` / ``--lang=xx``, and the language."""
    out: list[str] = []
    lang = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--lang":
            if i + 1 >= len(tokens):
                raise UsageError("lang_missing")
            lang = _language(tokens[i + 1])
            i += 2
            continue
        if m := _LANG_EQ.match(token):
            lang = _language(m.group(1))
        else:
            out.append(token)
        i += 1
    return out, lang


def host_name(value: str, *, host: bool = False) -> str:
    """A domain, host name, address's domain or IP, normalised; UsageError otherwise."""
    text = value.strip().rstrip(".").lower()
    domain = text.rsplit("@", 1)[-1]
    if parse_ip(domain) is None and not _NAME.match(domain):
        raise UsageError("not_host" if host else "not_domain", value=repr(value))
    return text


def parse_diagnose(tokens: list[str], rest: str) -> Diagnose:
    del rest
    target: str | None = None
    smart_host = tls_domain = None
    require_tls = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, inline = token.partition("=")
        if name in ("--smart-host", "--tls-domain"):
            value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else None)
            if not value:
                raise UsageError("needs_value", option=name)
            i += 1 if eq else 2
            if name == "--smart-host":
                smart_host = host_name(value, host=True)
            else:
                tls_domain = value.strip().lower()
                if not _TLS_DOMAIN.fullmatch(tls_domain):
                    raise UsageError("tls_domain", value=repr(value))
            continue
        if token == "--require-tls":
            require_tls = True
        elif token.startswith("-"):
            raise UsageError("unknown_option", option=token)
        elif target is None:
            target = host_name(token)
        else:
            raise UsageError("one_domain", value=repr(token))
        i += 1
    if target is None:
        raise UsageError("which_domain")
    return Diagnose(target, smart_host, require_tls, tls_domain)


def parse_history(tokens: list[str], rest: str) -> History:
    del rest
    if len(tokens) != 1:
        raise UsageError("name_one_domain")
    return History(host_name(tokens[0]).rsplit("@", 1)[-1])


def parse_explain(tokens: list[str], rest: str) -> ExplainCode | ExplainText:
    del tokens
    text = rest.strip()
    if not text:
        raise UsageError("paste")
    code = normalise_code(text) if len(text) < 16 else None
    return ExplainCode(code) if code else ExplainText(text)


def parse_help(tokens: list[str], rest: str) -> Help:
    del tokens, rest
    return Help()


Parser = Callable[[list[str], str], object]
PARSERS: dict[str, Parser] = {
    "help": parse_help,
    "explain": parse_explain,
    "diagnose": parse_diagnose,
    "history": parse_history,
}


def _explain_lang(rest: str) -> tuple[str, str | None]:
    """``--lang xx`` at the start or the end of pasted text (inside it is part of the paste)."""
    stripped = rest.strip()
    m = _LANG_LEAD.match(stripped) or _LANG_TAIL.search(" " + stripped)
    if m is None:
        return rest, None
    lang = _language(m.group(1))
    if stripped.startswith("--lang"):
        return stripped[m.end() :], lang
    return (" " + stripped)[: m.start()], lang


_HEAD = re.compile(r"(\S*)\s?(.*)", re.S)


def parse_command(text: str, parsers: dict[str, Parser] | None = None) -> Invocation:
    """The invocation in ``text`` (the command's text field); UsageError when it makes no sense."""
    table = PARSERS if parsers is None else parsers
    text = unslack(text or "").strip()
    # The name ends at the first white space of any kind (a space, a tab, a CRLF): what follows
    # is kept as typed, line breaks included, for a paste after `explain`.
    match = _HEAD.match(text)
    assert match is not None  # (\S*)\s?(.*) matches any text
    head, rest = match.groups()
    name = head.lower()
    if name == "explain":
        body, lang = _explain_lang(rest)
        return Invocation("explain", table["explain"]([], body), lang)
    tokens, lang = take_lang(text.split())
    if not tokens:
        return Invocation("help", Help(), lang)
    name = tokens[0].lower()
    code = normalise_code(tokens[0])
    if code is not None:
        if len(tokens) > 1:
            raise UsageError("one_code")
        return Invocation("code", ExplainCode(code), lang)
    parser = table.get(name)
    if parser is None:
        raise UsageError("unknown_command", value=repr(tokens[0]))
    return Invocation(name, parser(tokens[1:], " ".join(tokens[1:])), lang)
