"""SPF records and macros, pure (RFC 7208 sections 4.5, 4.6, 5, 6 and 7): text in, terms out.

``select_record`` picks the one ``v=spf1`` record among a name's TXT records (two of them is a
permerror, section 4.5); ``parse_record`` reads every term before anything is evaluated, so a
syntax error anywhere is a permerror even when an earlier term would have matched (4.6);
``expand`` expands a macro-string (section 7) from the values the evaluator supplies.

No regular expressions: the record comes from someone's DNS, so it is read with str methods in
one pass.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
DNS_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})  # count toward the 10 (4.6.4)
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MACRO_LETTERS = frozenset("slodiphcrtv")
_EXP_ONLY = frozenset("crt")
_DELIMITERS = frozenset(".-+,/_=")
_ALNUM = frozenset(string.ascii_letters + string.digits)
_NAME_CHARS = _ALNUM | frozenset("-_.")


class PermError(Exception):
    """The record (or a term of it) breaks RFC 7208: the result is permerror; the message says why."""


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written, for "the mechanism that matched"
    qualifier: str  # "+", "-", "~", "?"
    name: str  # lower-case mechanism name
    spec: str | None = None  # domain-spec (macro-string) or the address of ip4/ip6
    cidr4: int | None = None
    cidr6: int | None = None


@dataclass(frozen=True, slots=True)
class Record:
    text: str
    terms: tuple[Term, ...]
    redirect: str | None = None
    exp: str | None = None

    @property
    def has_all(self) -> bool:
        return any(t.name == "all" for t in self.terms)

    @property
    def reached(self) -> tuple[Term, ...]:
        """The terms an evaluation can reach: up to the first ``all``, which always matches."""
        for n, term in enumerate(self.terms):
            if term.name == "all":
                return self.terms[: n + 1]
        return self.terms

    @property
    def ignored(self) -> list[str]:
        """What the record holds that no evaluation uses: the terms after ``all``, and a redirect
        beside an ``all`` (RFC 7208 section 6.1)."""
        unused = [t.text for t in self.terms[len(self.reached) :]]
        if self.redirect is not None and self.has_all:
            unused.append(f"redirect={self.redirect}")
        return unused


def select_record(texts: list[str]) -> str | None:
    """The SPF record among TXT texts: None when there is none; PermError for two or more."""
    found = [t for t in texts if t[:6].lower() == "v=spf1" and (len(t) == 6 or t[6] == " ")]
    if len(found) > 1:
        shown = " and ".join(repr(t[:200]) for t in found[:3])
        raise PermError(f"{len(found)} SPF records on one name (RFC 7208 section 4.5 allows one): {shown}")
    return found[0] if found else None


def parse_record(text: str) -> Record:
    """Every term of ``text`` (which starts with ``v=spf1``); PermError on the first bad one."""
    terms: list[Term] = []
    modifiers: dict[str, str] = {}
    for raw in text[6:].split(" "):
        if not raw:
            continue
        if any(not 0x21 <= ord(ch) <= 0x7E for ch in raw):
            raise PermError(f"term {raw!r} holds a character SPF does not allow")
        name, sep, value = raw.partition("=")
        if sep and _is_name(name) and not any(c in name for c in ":/"):
            key = name.lower()
            check_macro_string(value, where=raw)
            if key in ("redirect", "exp"):
                if key in modifiers:
                    raise PermError(f"{key}= appears twice (RFC 7208 section 6)")
                check_domain_spec(value, where=raw)
            modifiers.setdefault(key, value)
            continue
        terms.append(_mechanism(raw))
    return Record(text, tuple(terms), modifiers.get("redirect"), modifiers.get("exp"))


def _is_name(text: str) -> bool:
    return bool(text) and text[0] in string.ascii_letters and all(c in _NAME_CHARS for c in text)


def _mechanism(raw: str) -> Term:
    qualifier = raw[0] if raw[0] in QUALIFIERS else "+"
    body = raw[1:] if raw[0] in QUALIFIERS else raw
    cut = min((i for i in (body.find(":"), body.find("/")) if i != -1), default=len(body))
    name, rest = body[:cut].lower(), body[cut:]
    if name not in MECHANISMS:
        raise PermError(f"unknown mechanism {raw!r}")
    if name == "all":
        if rest:
            raise PermError(f"{raw!r}: all takes no argument")
        return Term(raw, qualifier, name)
    if name in ("ip4", "ip6"):
        return _ip_term(raw, qualifier, name, rest)
    spec, cidr4, cidr6 = rest, None, None
    if name in ("a", "mx"):
        spec, cidr4, cidr6 = _dual_cidr(raw, rest)
    if spec:
        if not spec.startswith(":") or len(spec) == 1:
            raise PermError(f"{raw!r}: expected {name}:domain")
        spec = spec[1:]
        check_domain_spec(spec, where=raw)
    elif name in ("include", "exists"):
        raise PermError(f"{raw!r}: {name} needs a domain")
    return Term(raw, qualifier, name, spec or None, cidr4, cidr6)


def _cidr(raw: str, digits: str, top: int) -> int:
    if not digits.isdigit() or not digits.isascii() or (len(digits) > 1 and digits[0] == "0") or int(digits) > top:
        raise PermError(f"{raw!r}: bad prefix length /{digits}")
    return int(digits)


def _dual_cidr(raw: str, rest: str) -> tuple[str, int | None, int | None]:
    """Split ``:domain/24//64`` into the domain-spec and the two prefix lengths (section 5.6),
    read from the end: a domain-spec may hold "/" itself (``a:foo:bar/baz.example.com``)."""
    cidr4 = cidr6 = None
    double = rest.rfind("//")
    if double != -1 and _digits(rest[double + 2 :]):
        cidr6 = _cidr(raw, rest[double + 2 :], 128)
        rest = rest[:double]
    single = rest.rfind("/")
    if single != -1 and _digits(rest[single + 1 :]):
        cidr4 = _cidr(raw, rest[single + 1 :], 32)
        rest = rest[:single]
    if rest and not rest.startswith(":"):
        raise PermError(f"{raw!r}: bad prefix length {rest!r}")
    return rest, cidr4, cidr6


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _ip_term(raw: str, qualifier: str, name: str, rest: str) -> Term:
    if not rest.startswith(":"):
        raise PermError(f"{raw!r}: expected {name}:address")
    address, _, prefix = rest[1:].partition("/")
    top = 32 if name == "ip4" else 128
    try:
        ip = ipaddress.IPv4Address(address) if name == "ip4" else ipaddress.IPv6Address(address)
    except ValueError:
        raise PermError(f"{raw!r}: {address!r} is not an {'IPv4' if name == 'ip4' else 'IPv6'} address") from None
    cidr = _cidr(raw, prefix, top) if "/" in rest else top
    return Term(raw, qualifier, name, str(ip), cidr if name == "ip4" else None, cidr if name == "ip6" else None)


def check_macro_string(text: str, *, where: str, exp: bool = False) -> None:
    """PermError unless ``text`` is a valid macro-string (section 7.1)."""
    _tokens(text, where=where, exp=exp)


def check_domain_spec(spec: str, *, where: str) -> None:
    """PermError unless ``spec`` is a domain-spec: a macro-string ending in "." toplabel or a macro."""
    tokens = _tokens(spec, where=where, exp=False)
    if tokens and isinstance(tokens[-1], tuple) and tokens[-1][0] not in "%_-":
        return  # ends with a macro-expand
    literal = spec.removesuffix(".")
    label = literal.rsplit(".", 1)
    if len(label) < 2 or not _toplabel(label[1]):
        raise PermError(f"{where!r}: {spec!r} does not end in a domain name")


def _toplabel(label: str) -> bool:
    """RFC 7208 toplabel: alphanumerics with a letter, or alphanumerics and inner dashes."""
    if not label or not all(c in _ALNUM or c == "-" for c in label):
        return False
    if "-" in label:
        return label[0] != "-" and label[-1] != "-"
    return any(c in string.ascii_letters for c in label)


Token = str | tuple[str, int | None, bool, str]  # a literal, or (letter, digits, reverse, delimiters)


def _tokens(text: str, *, where: str, exp: bool) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            if not (0x21 <= ord(ch) <= 0x7E or (exp and ch == " ")):
                raise PermError(f"{where!r}: character {ch!r} not allowed")
            tokens.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            tokens.append((nxt, None, False, ""))
            i += 2
            continue
        if nxt != "{":
            raise PermError(f"{where!r}: a lone % (write %% for a percent sign)")
        end = text.find("}", i)
        if end == -1:
            raise PermError(f"{where!r}: unterminated macro")
        body = text[i + 2 : end]
        letter = body[:1].lower()
        if letter not in _MACRO_LETTERS or (letter in _EXP_ONLY and not exp):
            raise PermError(f"{where!r}: unknown macro %{{{body}}}")
        j = 1
        while j < len(body) and body[j].isdigit() and body[j].isascii():
            j += 1
        digits = int(body[1:j]) if j > 1 else None
        if digits == 0:
            raise PermError(f"{where!r}: %{{{body}}}: the number of parts must not be 0")
        reverse = body[j : j + 1].lower() == "r"
        delimiters = body[j + 1 if reverse else j :]
        if any(c not in _DELIMITERS for c in delimiters):
            raise PermError(f"{where!r}: bad delimiter in %{{{body}}}")
        tokens.append((body[0], digits, reverse, delimiters))
        i = end + 1
    return tokens


def expand(text: str, values: Mapping[str, str], *, exp: bool = False, domain: bool = True) -> str:
    """Expand a macro-string (section 7.3); ``values`` maps lower-case letters to their values.

    As a domain, the result is cut from the left to 253 characters (section 7.3)."""
    out: list[str] = []
    for token in _tokens(text, where=text, exp=exp):
        if isinstance(token, str):
            out.append(token)
            continue
        letter, digits, reverse, delimiters = token
        if letter in "%_-":
            out.append({"%": "%", "_": " ", "-": "%20"}[letter])
            continue
        value = values.get(letter.lower(), "")
        parts = _split(value, delimiters or ".")
        if reverse:
            parts.reverse()
        if digits is not None:
            parts = parts[-digits:]
        piece = ".".join(parts)
        out.append(quote(piece, safe="-._~") if letter.isupper() else piece)
    result = "".join(out)
    if domain:
        while len(result) > 253 and "." in result:
            result = result.split(".", 1)[1]
    return result


def _split(value: str, delimiters: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for ch in value:
        if ch in delimiters:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def uses_ip(text: str) -> bool:
    """Does this domain-spec depend on the connecting IP or the sender (so a record cannot be
    followed without them)? Letters s, l, o, i, p, v, h, c, r, t."""
    try:
        tokens = _tokens(text, where=text, exp=False)
    except PermError:
        return False
    return any(isinstance(t, tuple) and t[0].lower() not in "d%_-" for t in tokens)
