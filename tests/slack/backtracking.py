"""A parser with a backtracking pattern in it, for the tests of the parse pool's deadline.

The pattern is the one that froze the bot (``_IP_ONLY`` before it was made linear): on colons
after ``[LastAttemptedIP=`` it takes seconds at 10 KB and over a minute at 39 KB, inside the
regex engine, where neither a signal nor another thread can stop it. A worker process running
this parser is what the next such bug would look like.
"""

from __future__ import annotations

import re

from bot.parse import Bounce, parse_bounce

BACKTRACKS = re.compile(r"LastAttemptedIP=((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+?)(?::\d+)?\]")
HOSTILE_39K = "450 4.4.316 Connection refused [LastAttemptedIP=" + ":" * (39_000 - 48)


def parse_with_backtracking(data: bytes | str) -> Bounce:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    BACKTRACKS.search(text)
    return parse_bounce(data)
