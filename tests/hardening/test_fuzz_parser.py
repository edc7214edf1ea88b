"""The bounce parser under hypothesis: bounded time per input, bounded memory, the right answer
for every shape a correct parser must read, and the kept fuzz corpus replayed.

``tests/test_properties.py`` already feeds random bytes and mutated samples; this module adds
what those cannot show: an oracle (generated RFC 3464 reports and Exchange queue errors, see
``shapes.py``, must give back the code and recipient they were built with), metamorphic checks
(line endings and Slack escaping must not change the answer), a per-input deadline, inputs of a
mebibyte built from the fragments that make regular expressions work hardest, and the memory
peak of a 20 MB paste.

A parser stuck inside a regular expression never returns to the interpreter, so SIGALRM could
not stop it: these tests use pytest-timeout's thread method, which ends the run instead of
hanging it. ``bench/fuzz_parser.py`` is the longer run by hand; what it finds goes to
``tests/fuzz_corpus/`` and is replayed here.
"""

from __future__ import annotations

import time
import tomllib
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.parse import Bounce, parse_bounce
from bot.parse.source import MAX_BYTES
from tests.hardening.shapes import (
    ANY_INPUT,
    HOSTILE,
    LINE_ENDINGS,
    Shaped,
    dsn_messages,
    queue_errors,
    slack_escape,
    slack_quote,
    with_line_endings,
)
from tests.test_properties import check

pytestmark = pytest.mark.timeout(60, method="thread")

CORPUS = Path(__file__).resolve().parent.parent / "fuzz_corpus"
EXPECTED = CORPUS / "expected.toml"
DEADLINE = timedelta(milliseconds=750)  # a shaped input parses in about 1 ms on the reference machine
BIG_INPUT_SECONDS = 3.0  # one mebibyte of the worst fragments: about 0.1 s on the reference machine
MIB = 1 << 20


def answer(bounce: Bounce) -> tuple[object, ...]:
    """What a user sees of a parse: bounce or not, the primary code, who failed, where."""
    primary = bounce.primary
    return (
        bounce.is_ndr,
        primary.status if primary else None,
        primary.reply_code if primary else None,
        bounce.recipients,
        bounce.remote_host,
        bounce.remote_ip,
    )


def timed_parse(data: bytes | str, seconds: float) -> Bounce:
    started = time.perf_counter()
    bounce = parse_bounce(data)
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"{len(data)} bytes took {elapsed:.2f} s (bound {seconds} s)"
    return bounce


@settings(max_examples=150, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(dsn_messages(), queue_errors()))
def test_shaped_inputs_give_back_their_code_and_recipient(shaped: Shaped) -> None:
    bounce = parse_bounce(shaped.data)
    check(bounce)
    assert bounce.is_ndr, bounce.why_not
    assert bounce.primary is not None and bounce.primary.status == shaped.status
    if shaped.recipient is not None:
        assert shaped.recipient in bounce.recipients


@settings(max_examples=300, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_INPUT)
@example(Shaped(b"&lt;mailto:a@b.test|a@b.test&gt; 550 5.1.1 user unknown"))
@example(Shaped(b"550 5.1.1 \r\r\r\r[{LED=[{LED=[{LED=\r"))
@example(Shaped(b"Content-Transfer-Encoding: base64\nContent-Type: text/plain\n\n====\n"))
def test_any_input_is_well_formed_and_deterministic(shaped: Shaped) -> None:
    first = parse_bounce(shaped.data)
    check(first)
    assert parse_bounce(shaped.data) == first  # pure: no state carried between calls


@settings(max_examples=60, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(dsn_messages())
def test_line_endings_do_not_change_the_answer(shaped: Shaped) -> None:
    text = shaped.data.decode()
    answers = {eol: answer(parse_bounce(with_line_endings(text, eol).encode())) for eol in LINE_ENDINGS}
    assert len(set(answers.values())) == 1, answers


@settings(max_examples=60, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(queue_errors())
def test_slack_escaping_does_not_change_the_code(shaped: Shaped) -> None:
    text = shaped.data.decode().replace("\r\n", "\n").replace("\r", "\n")
    for form in (text, slack_escape(text), f"```{slack_escape(text)}```", slack_quote(text)):
        bounce = parse_bounce(form)
        assert bounce.primary is not None and bounce.primary.status == shaped.status, form


# Fragments that make the parser's regular expressions and MIME reader work hardest when repeated.
HEAVY = st.sampled_from(
    [
        "[{LED=",
        "[{LED=450 4.4.316 x [Message=",
        "5.5.5 ",
        "550 ",
        "550-5.7.1 ",
        "<<< 550 ",
        "said: 550 ",
        "host a.test[",
        "a@",
        "@b.",
        "&lt;",
        "<mailto:a@b.test|",
        "=\n",
        "=C3=A9",
        "\r",
        "\r\n \r\n",
        "--b\n",
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n",
        "Final-Recipient: rfc822; a@b.test\n",
        "Status: 5.1.1\nFinal-Recipient: x\n",
        "From: a\n",
        "<" * 7,
        "in reply to ",
        "Remote Server returned '",
        "IMCEAEX-_CN=",
        "dda:SMTP=",
        "following addresses had permanent fatal errors ---",
        "ERROR CODE :550,",
    ]
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(HEAVY, min_size=1, max_size=3), st.sampled_from((b"", b"From: MAILER-DAEMON@a.test\nSubject: x\n\n")))
def test_a_mebibyte_of_heavy_fragments_is_bounded(fragments: list[str], head: bytes) -> None:
    unit = "".join(fragments).encode()
    data = head + unit * (MIB // len(unit))
    check(timed_parse(data, BIG_INPUT_SECONDS))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_mebibyte_of_each_hostile_shape_is_bounded(name: str) -> None:
    """The worst shape known for each kind of input (``shapes.HOSTILE``: patterns that used to
    backtrack, HTML, MIME, long lines, many recipients, binary data), at the largest size read."""
    _, build = HOSTILE[name]
    check(timed_parse(build(MIB), BIG_INPUT_SECONDS))


def _paste(size: int) -> bytes:
    line = b"450 4.4.316 Connection refused [LastAttemptedServerName=mx.contoso.test] [LastAttemptedIP=192.0.2.9:25]\n"
    return line * (size // len(line))


def _peak(data: bytes | str) -> tuple[Bounce, int]:
    tracemalloc.start()
    try:
        bounce = parse_bounce(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return bounce, peak


@pytest.mark.parametrize("kind", ["bytes", "text"])
def test_a_20_mb_paste_stays_under_the_memory_limit(kind: str) -> None:
    paste = _paste(20_000_000)
    bounce, peak = _peak(paste.decode() if kind == "text" else paste)
    assert bounce.is_ndr and bounce.truncated
    assert bounce.primary is not None and bounce.primary.status == "4.4.316"
    # About 2.3 MiB here; a parser that copied the input, or parsed past its first MiB, would cross this.
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_memory_does_not_grow_with_the_input() -> None:
    """Found here: parse_bounce once copied the whole input (``data.strip()``) before cutting it."""
    _, small = _peak(_paste(2 * MAX_BYTES))
    _, large = _peak(_paste(40_000_000))
    assert large < small + 4 * MIB, f"2 MiB input: {small / MIB:.1f} MiB peak; 40 MB input: {large / MIB:.1f} MiB"


def test_a_block_quoted_trace_does_not_list_the_sender_as_recipient() -> None:
    """Pasted as a Slack block quote ('&gt; ' before every line), a message trace still has one
    failed recipient: the 'Sender :' line is the sender (found by the metamorphic checks)."""
    trace = (Path(__file__).resolve().parent.parent / "samples" / "queue" / "eo-trace-fail-5.4.1-dbeb.txt").read_text()
    assert parse_bounce(trace).recipients == ("old.user@contoso.com",)
    assert parse_bounce(slack_quote(trace)).recipients == ("old.user@contoso.com",)


def _expected() -> dict[str, dict[str, object]]:
    with EXPECTED.open("rb") as fh:
        return tomllib.load(fh)


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name not in ("README.md", EXPECTED.name))


def _replays() -> list[object]:
    """One parameter per kept input; a known bug (``bug = "..."`` in expected.toml) is a strict xfail."""
    expected = _expected()
    return [
        pytest.param(path, id=path.name, marks=[pytest.mark.xfail(strict=True, reason=str(bug))])
        if (bug := expected.get(path.name, {}).get("bug"))
        else pytest.param(path, id=path.name)
        for path in _corpus()
    ]


def test_every_expectation_names_a_corpus_file() -> None:
    names = {p.name for p in _corpus()}
    assert set(_expected()) <= names, set(_expected()) - names


@pytest.mark.parametrize("path", _replays())
def test_fuzz_corpus_replays(path: Path) -> None:
    """Every kept input parses within the per-input bound; where an answer is known, it is kept."""
    data = path.read_bytes()
    bounce = timed_parse(data, BIG_INPUT_SECONDS if len(data) > 64 * 1024 else DEADLINE.total_seconds())
    check(bounce)
    want = _expected().get(path.name)
    if want is None:
        return
    if "is_ndr" in want:
        assert bounce.is_ndr is want["is_ndr"], bounce.why_not
    if "status" in want:
        assert bounce.primary is not None and bounce.primary.status == want["status"]
    if "recipients" in want:
        assert list(bounce.recipients) == want["recipients"]


def test_an_entity_escaped_mailto_link_gives_the_address() -> None:
    """Found here: entities were decoded after the Slack links were unwrapped, so this seed shape
    of the issue gave the recipient 'b.test|a@b.test'."""
    bounce = parse_bounce((CORPUS / "slack-escaped-mailto-link-in-entities.txt").read_bytes())
    assert bounce.recipients == ("a@b.test",)


def _dsn_with_spaces(n: int) -> bytes:
    spaces = " " * n
    return (
        "From: MAILER-DAEMON@mail.contoso.test\nSubject: Delivery Status Notification (Failure)\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nDelivery failed.\n\n--b\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns;{spaces}!\n\nFinal-Recipient: rfc822; bob@fabrikam.test\nAction: failed\n"
        f"Status: 5.1.1\nRemote-MTA: dns;{spaces}!\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n--b--\n"
    ).encode()


def test_a_run_of_spaces_in_a_dsn_host_field_is_read_in_linear_time() -> None:
    # "Remote-MTA: dns;" then 20,000 spaces took 18 s of CPU: two \s* split the run every way.
    def took(n: int) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            bounce = parse_bounce(_dsn_with_spaces(n))
            best = min(best, time.perf_counter() - start)
        assert bounce.is_ndr and bounce.primary is not None and bounce.primary.status == "5.1.1"
        return best

    assert took(40_000) < 30 * took(4_000)
