"""Property tests: for any input, parse_bounce returns a well-formed Bounce and never raises."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.parse import Bounce, parse_bounce
from tests.conftest import SAMPLES

_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_REPLY = re.compile(r"^[245]\d\d$")
SEEDS = sorted(p.read_bytes() for p in SAMPLES.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt"))[:40] or [
    b"450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com]"
]


def check(bounce: Bounce) -> None:
    assert isinstance(bounce, Bounce)
    if bounce.is_ndr:
        assert bounce.why_not is None
    else:
        assert bounce.why_not
    for code in bounce.codes:
        assert code.status is None or _STATUS.match(code.status)
        assert code.reply_code is None or _REPLY.match(code.reply_code)
    for delivery in bounce.deliveries:
        assert delivery.reason
        assert delivery.recipient is None or "@" in delivery.recipient


FRAGMENTS = st.sampled_from(
    [
        "550 5.1.1 ",
        "[{LED=",
        "};{MSG=};",
        "[Message=",
        "]",
        "4.4.7 QUEUE.Expired",
        "\r\n",
        "\n\n",
        "Final-Recipient: rfc822; a@example.com\n",
        "Status: 5.1.1\n",
        "Content-Type: multipart/report; boundary=x\n",
        "--x\n",
        "&lt;",
        "<mailto:a@b.example|a@b.example>",
        "=?utf-8?b?w6k=?=",
        "=C3=A9",
        "リモート サーバー",
        "host mx.example.net[198.51.100.7] said: ",
        "From: MAILER-DAEMON@example.net\n",
        "\x00",
        "\xff",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check(parse_bounce(data))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=40)), max_size=40).map("".join))
def test_bounce_shaped_text(text: str) -> None:
    check(parse_bounce(text))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_samples(seed: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(seed)))
    junk = data.draw(st.binary(max_size=64))
    mutated = seed[:cut] + junk + seed[cut + len(junk) :]
    check(parse_bounce(mutated))
