"""The shortcuts of the text readers (extract, sender, language) give the answers the plain forms would."""

from __future__ import annotations

import random
import re
from pathlib import Path

from bot.parse import extract, source

# Values of Remote-MTA and Reporting-MTA fields, and pieces to build more from.
_DSN_VALUES = [
    "dns; mx.example.net",
    "dns;NEKONYAAN0022.apcprd01.prod.exchangelabs.com",
    "dsn; a27-159.smtp-out.us-west-2.amazonses.com",
    "mx.example.net [192.0.2.1]",
    "[192.0.2.1]",
    "dns; [IPv6:2001:db8::1]",
    "smtp; mx.example.net (192.0.2.1)",
    "x-local-hostname; host.example",
    "dns; mx.example.net\n",
    "dns; mx.example.net]]",
    "dns; mx.example.net;extra",
    "dns; ]",
    "dns;",
    "   ",
]
_DSN_PIECES = ["dns", "smtp", "x-a", ";", " ", "\t", "\n", "[", "]", "(", ")", "mx", ".", "-", ":", "é", "a", "1", "/"]


def _dsn_values() -> list[str]:
    rng = random.Random(7)
    made = ["".join(rng.choice(_DSN_PIECES) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    return _DSN_VALUES + made


def test_dsn_host_reads_the_run_as_the_lazy_pattern_did() -> None:
    lazy = re.compile(_DSN_PATTERN_LAZY, re.I)
    for value in _dsn_values():
        m = lazy.match((value.split(";", 1)[-1] if ";" in value else value).lstrip())
        host = m.group(1).strip(".[]").lower() if m else None
        assert extract.dsn_host(value) == (host or None), value


# The pattern ``_DSN_HOST`` replaces: the host as the shortest run that the rest can follow.
_DSN_PATTERN_LAZY = r"^(?:(?:dns|smtp|x-[\w-]++)\s*+;)?\s*+\[?([\w.\-:]+?)\]?(?:\s*+\(|\s*$|\s)"


def _plain_find_remote(text: str) -> tuple[str | None, str | None]:
    """``find_remote`` as each shape's search from its needle's first occurrence, every shape tried."""
    host: str | None = None
    ip: str | None = None
    lines = "\n" + text
    for needle, pattern, reach, _ in extract._HOST_SHAPES:
        needles = (needle,) if isinstance(needle, str) else needle
        haystack = "\n" + text.lower() if needle is extract._FOLDED else lines
        if needle is extract._FOLDED and "=" not in text:
            continue
        found = [haystack.find(n) for n in needles if n in haystack]
        if not found:
            continue
        m = pattern.search(lines, max(0, min(found) - reach) if reach is not None else 0)
        groups = [g for g in m.groups() if g] if m else []
        if not groups:
            continue
        if extract.IPV4.fullmatch(groups[0]):
            ip = ip or groups[0]
            continue
        host = host or groups[0].lower().rstrip(".")
        if len(groups) > 1 and groups[1]:
            ip = ip or groups[1]
        if host and ip:
            break
    if ip is None and "LastAttemptedIP=" in text:
        ip = extract._last_attempted_ip(text)
    return host, ip


_HOST_PIECES = [
    *("host ", "host\n  ", "Host: ", "mx=", "MX = ", "connect to ", "Connection refused by ", "while talking to "),
    *("Remote server: ", "Remote host ", "remote server", "Server at ", " (192.0.2.1) returned", "[", "]", "(", ")"),
    *("mx.example.net", "a.b", "192.0.2.1", "2001:db8::1", "10.0.0.1", " does not like", " failed after I sent"),
    *("Connected to ", " but", "endpoint attempted was ", '"remoteMta": "dns; x.example"', "host=", "{FQDN=", "};{IP="),
    *("}", "LastAttemptedServerName=", "LastAttemptedIP=", ":25", ". ", ": ", "\n", " ", "'550 5.1.1 x'", "xhost "),
]


def _host_texts() -> list[str]:
    rng = random.Random(11)
    made = ["".join(rng.choice(_HOST_PIECES) for _ in range(rng.randint(1, 16))) for _ in range(4000)]
    samples = Path(__file__).parent / "samples"
    read = [source.read(p.read_bytes()).text for p in sorted(samples.rglob("*")) if p.is_file()]
    return [*read, *made]


def test_find_remote_finds_what_each_shapes_search_finds() -> None:
    for text in _host_texts():
        assert extract.find_remote(text) == _plain_find_remote(text), text
        assert extract.find_remote(text, text.lower()) == _plain_find_remote(text), text
