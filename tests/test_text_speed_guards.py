"""The shortcuts of the text readers (extract, sender, language) give the answers the plain forms would."""

from __future__ import annotations

import random
import re

from bot.parse import extract

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
