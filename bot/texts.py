"""Knowledge-base texts with named fields: what the probes and the verdict say to a reader.

Code never writes a sentence for the reader. A probe names a text of ``knowledge/<lang>/``
(``tcp.refused``, from the text file ``evidence.toml``, table ``[tcp]``, key ``refused``) and the
values of its fields (``{"endpoint": "203.0.113.25:25"}``); a renderer says it in the reader's
language with ``Text.render``. A field's value may itself be a Text (a reason inside a
sentence), rendered in the same language. ``ProbeResult.detail`` keeps the English rendering
for logs, history and JSON consumers.

A field is written ``{name}`` (lower-case letters, digits and ``_``); any other brace is literal
text, so PowerShell's ``@{Add=...}`` and Exchange's ``[{LED=...}]`` need no escaping. The
knowledge validator checks that each language's text uses exactly English's fields.

Text files are any ``knowledge/<lang>/*.toml`` that is neither a catalog group's twin nor
``ui.toml``: another feature adds its own file (``sender.toml`` with ``[spf]``, ``[dmarc]``)
and names its texts ``spf.none`` and so on, with no change here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot import knowledge
from bot.errors import ProbeError
from bot.knowledge import substitute

E = TypeVar("E", bound=ProbeError)


@dataclass(frozen=True, slots=True)
class Text:
    """One text of the knowledge base, by key, with the values of its fields.

    A value is data (str, int, float), another Text, or a tuple of Texts (joined as clauses)."""

    key: str
    fields: tuple[tuple[str, Value], ...] = ()

    def render(self, language: str = knowledge.DEFAULT_LANGUAGE) -> str:
        """The text in ``language`` (English when the language lacks the key: never a crash)."""
        texts = knowledge.load(language).texts
        template = texts.get(self.key)
        if template is None:
            template = knowledge.load(knowledge.DEFAULT_LANGUAGE).texts.get(self.key, self.key)
        return substitute(template, {name: _value(value, language) for name, value in self.fields})

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "fields": {k: _json(v) for k, v in self.fields}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Text:
        """The inverse of ``as_json``; TypeError or KeyError for anything else."""
        fields = data.get("fields") or {}
        if not isinstance(data["key"], str) or not isinstance(fields, Mapping):
            raise TypeError("not a text")
        return cls(data["key"], tuple((str(k), _from_json(v)) for k, v in fields.items()))


Value = str | int | float | Text | tuple[Text, ...]


def _value(value: Value, language: str) -> str:
    if isinstance(value, Text):
        return value.render(language)
    if isinstance(value, tuple):
        return render_all(value, language)
    return str(value)


def _json(value: Value) -> Any:
    if isinstance(value, Text):
        return value.as_json()
    if isinstance(value, tuple):
        return [v.as_json() for v in value]
    return value


def _from_json(value: Any) -> Value:
    if isinstance(value, Mapping):
        return Text.from_json(value)
    if isinstance(value, list):
        return tuple(Text.from_json(v) for v in value)
    if isinstance(value, str | int | float):
        return value
    raise TypeError("not a text field")


def text(key: str, /, **fields: Value) -> Text:
    """``text("tcp.refused", endpoint="203.0.113.25:25")``."""
    return Text(key, tuple(fields.items()))


def say(language: str, key: str, /, **fields: Value) -> str:
    """``text(key, **fields)`` said in ``language``: a label or line a renderer shows."""
    return Text(key, tuple(fields.items())).render(language)


def labelled(ui: Mapping[str, str], label: str, value: str) -> str:
    """``label: value`` the way the language writes it (French: ``label : value``), ``ui["labelled"]``."""
    return ui.get("labelled", "{label}: {value}").format(label=label, value=value)


def render_all(texts: Iterable[Text], language: str = knowledge.DEFAULT_LANGUAGE) -> str:
    """Several texts as one line, joined the way ``language`` joins clauses."""
    rendered = [t.render(language) for t in texts]
    joiner = knowledge.load(language).texts.get("join.clauses", "; ")
    return joiner.join(rendered)


def as_texts(said: Text | Sequence[Text]) -> tuple[Text, ...]:
    return (said,) if isinstance(said, Text) else tuple(said)


def raw(value: str) -> Text:
    """Data shown as it is, in every language: a server's reply, an operating system's error."""
    return Text("raw.value", (("value", value),))


def of_error(exc: BaseException) -> Text:
    """What an exception says, as a text: its own (``ProbeError.text``), or its message as raw data."""
    said = getattr(exc, "text", None)
    return said if isinstance(said, Text) else raw(str(exc) or type(exc).__name__)


def error(cls: type[E], said: Text, /, **kwargs: Any) -> E:
    """``cls`` (a ProbeError) whose message is ``said`` in English and whose ``text`` is ``said``."""
    return cls(said.render(), text=said, **kwargs)
