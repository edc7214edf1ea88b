"""Every regular expression that reads pasted text scans in linear time.

One paste once froze the bot: ``LastAttemptedIP=`` followed by 39 KB of colons made a pattern
backtrack for over a minute. Rather than list the shapes known to hurt, each compiled pattern of
the parser (and of the argument and settings parsers) is found by introspection and pumped with
strings built from its own pieces (``pumps.py``). The check is a ratio, robust to a slow or busy
machine: a scan of 4n characters may take at most 6 times as long as a scan of n (linear growth
gives about 4; quadratic gives 16).
"""

from __future__ import annotations

import re

import pytest

from tests.hardening.pumps import Shape, Site, growth, pattern_sites, screen

pytestmark = pytest.mark.timeout(300, method="thread")

# Modules whose patterns see text from users: the parser, the slash-command arguments, the
# watch list's targets, the settings read from the environment, the log masking (which reads
# whatever a log line quotes).
MODULES = ("bot.parse", "handlers.args", "bot.settings", "bot.watch.model", "bot.cli.diagnose", "bot.observability")
SITES = pattern_sites(*MODULES)
MAX_RATIO = 6.0

# Patterns the parser used to have, each quadratic in a shape a paste can take (the third only
# after a line that reads like Postfix's mailq up to the sender).
BACKTRACKING = (
    re.compile(r"LastAttemptedIP=((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+?)(?::\d+)?\]"),
    re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{0,2000}>", re.S | re.I),
    re.compile(
        r"\n[0-9A-Fa-f]{5,}[*!]?[ \t]+\d+[ \t]+\w{3}[ \t]+\w{3}[ \t]+\d{1,2}[ \t]+[\d:]{5,8}[ \t]+"
        r"(\S+@\S+)[ \t]*$",
        re.M,
    ),
)


def test_discovery_finds_the_patterns_of_every_module() -> None:
    names = {site.name for site in SITES}
    assert len(SITES) > 60
    for expected in (
        "bot.parse.extract._IP_ONLY",
        "bot.parse.extract._HOST_SHAPES[0][1]",
        "bot.parse.source._RAW_END[6]",
        "bot.parse.phrases._WORD_AFTER_SEPARATOR",
        "bot.parse.command._EXPLICIT[0][1]",
        "handlers.args._LANG_TAIL",
        "bot.settings._DURATION",
    ):
        assert expected in names


@pytest.mark.parametrize("pattern", BACKTRACKING, ids=("old-IP_ONLY", "old-TAG", "old-MAILQ_ENTRY"))
def test_the_pumps_catch_a_backtracking_pattern(pattern: re.Pattern[str]) -> None:
    # As the linear-time test does, every one of the worst shapes is grown: the screen's short
    # timings on a busy machine may rank a shape first that only looks super-linear when small.
    grown = [growth(pattern, shape, repeat=2) for shape in screen(pattern, keep=8)]
    assert max(measured.ratio for measured in grown) > MAX_RATIO, grown


def test_a_shape_builds_to_the_size_asked() -> None:
    assert Shape("LastAttemptedIP=", ":", "]").build(100) == "LastAttemptedIP=" + ":" * 84 + "]"
    assert Shape("<script", ">", "", wrap=True).build(80) == "<script>" * 10


@pytest.mark.parametrize("site", SITES, ids=lambda site: site.name)
def test_pattern_scans_in_linear_time(site: Site) -> None:
    for shape in screen(site.pattern):
        measured = growth(site.pattern, shape)
        assert measured.ratio <= MAX_RATIO, (
            f"{site.name} ({site.pattern.pattern!r}) takes {measured.small * 1000:.1f} ms on "
            f"{measured.size} characters and {measured.large * 1000:.1f} ms on {4 * measured.size}: "
            f"shape {shape!r}"
        )
