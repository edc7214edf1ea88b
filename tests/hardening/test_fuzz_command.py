"""The slash-command argument parser (``handlers/args.py``) under hypothesis.

Whatever a user types after ``/mailflow`` (or Slack makes of it: ``<http://a.test|a.test>``
links, ``&amp;`` escapes, newlines from a paste), ``parse_command`` answers with an
``Invocation`` or a ``UsageError`` the handler shows; any other exception would reach the user
as "something went wrong". Checked here: no other exception, bounded time even for a paste of
40 000 characters, and that a well-formed ``diagnose`` command gives back exactly what was typed,
whatever the order of its options and however Slack wrapped its names.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.args import Diagnose, ExplainText, Invocation, UsageError, parse_command, unslack

pytestmark = pytest.mark.timeout(60, method="thread")

DEADLINE = timedelta(milliseconds=250)
TOKENS = st.sampled_from(
    [
        "diagnose",
        "explain",
        "history",
        "help",
        "--lang",
        "--lang=ja",
        "--lang=",
        "ko",
        "--smart-host",
        "--smart-host=",
        "--tls-domain",
        "--tls-domain=*.contoso.test",
        "--require-tls",
        "contoso.test",
        "<http://contoso.test|contoso.test>",
        "<http://contoso.test>",
        "<mailto:a@contoso.test|a@contoso.test>",
        "&lt;mailto:a@b.test|a@b.test&gt;",
        "&amp;",
        "&lt;",
        "4.4.316",
        "550",
        "5.7.1",
        "[10.0.0.1]",
        "::1",
        "user@contoso.test",
        "<",
        "|",
        ">",
        "--",
        "-",
        "=",
        "\n",
        "\r\n",
        "```",
        "\u200b",
        "\x00",
    ]
)
COMMANDS = st.lists(st.one_of(TOKENS, st.text(max_size=24)), max_size=14).map(" ".join)


def parse(text: str) -> Invocation | None:
    """The invocation, or None for a UsageError (with a message for the user)."""
    try:
        return parse_command(text)
    except UsageError as exc:
        assert str(exc), "a UsageError must say what is wrong"
        return None


@settings(max_examples=400, deadline=DEADLINE, suppress_health_check=[HealthCheck.too_slow])
@given(COMMANDS)
def test_any_text_gives_an_invocation_or_a_usage_error(text: str) -> None:
    invocation = parse(text)
    if invocation is not None and isinstance(invocation.args, Diagnose):
        for name in (invocation.args.target, invocation.args.smart_host or "x"):
            assert name == name.strip().lower() and not set(name) & set(" <>|&\n"), name


LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
DOMAIN = st.builds(lambda a, b: f"{a}.{b}", LABEL, st.sampled_from(["com", "test", "co.uk", "onmicrosoft.com"]))


def as_slack_sends(name: str, how: str) -> str:
    return {
        "plain": name,
        "link": f"<http://{name}|{name}>",  # Slack links a typed domain
        "bare": f"<http://{name}>",
        "loud": name.upper() + ".",
    }[how]


SLACK_FORMS = st.sampled_from(["plain", "link", "bare", "loud"])


@st.composite
def diagnose_commands(draw: st.DrawFn) -> tuple[str, Diagnose, str | None]:
    """``diagnose`` with its options in any order, inline or not, names as Slack may send them;
    and what the parse must give back."""
    domain, smart_host, tls_domain = draw(DOMAIN), draw(st.none() | DOMAIN), draw(st.none() | DOMAIN)
    require_tls, inline = draw(st.booleans()), draw(st.booleans())
    lang = draw(st.none() | st.sampled_from(["en", "es", "fr", "ja", "nl", "ko"]))
    options = [[as_slack_sends(domain, draw(SLACK_FORMS))]]
    if smart_host:
        value = as_slack_sends(smart_host, draw(SLACK_FORMS))
        options.append([f"--smart-host={value}"] if inline else ["--smart-host", value])
    if require_tls:
        options.append(["--require-tls"])
    if tls_domain:
        options.append(["--tls-domain", f"*.{tls_domain}"])
    if lang:
        options.append([f"--lang={lang}"] if inline else ["--lang", lang])
    options = draw(st.permutations(options))
    text = "diagnose " + " ".join(word for option in options for word in option)
    return text, Diagnose(domain, smart_host, require_tls, f"*.{tls_domain}" if tls_domain else None), lang


@settings(max_examples=200, deadline=DEADLINE)
@given(diagnose_commands())
def test_a_diagnose_command_gives_back_what_was_typed(command: tuple[str, Diagnose, str | None]) -> None:
    text, want, lang = command
    invocation = parse_command(text)
    assert (invocation.name, invocation.args, invocation.language) == ("diagnose", want, lang)


PASTE = st.lists(
    st.sampled_from(
        [*"ab \n\t<>|&;:@.5-", "&amp;", "&lt;", "<mailto:a@b.test|a@b.test>", "550 5.1.1", "\r\n", "\u3000", "\u2028"]
    ),
    min_size=1,
    max_size=30,
).map("".join)


@settings(max_examples=200, deadline=DEADLINE)
@given(PASTE, st.sampled_from([" ", "\n", "  ", "\r\n", "\t", " \n"]))
def test_explain_keeps_the_pasted_text_line_for_line(paste: str, separator: str) -> None:
    """The paste reaches the parser as typed (Slack's escaping undone): its line breaks carry
    meaning (DSN fields, replies at the start of a line) and must not be folded into spaces."""
    invocation = parse(f"explain{separator}{paste}")
    if invocation is None or not isinstance(invocation.args, ExplainText):
        return  # nothing pasted, or a code ("explain 5.1.1")
    assert invocation.args.text == unslack(paste).strip()


@pytest.mark.parametrize(
    "text",
    [
        "explain " + "550 5.1.1 <mailto:a@b.test|a@b.test> user unknown\n" * 800,
        "diagnose " + "a." * 20_000 + "test",
        "diagnose contoso.test " + "--require-tls " * 4000,
        "diagnose " + "<http://" * 6000,
        "--lang " * 8000,
        "&amp;" * 8000,
    ],
    ids=["40k paste", "long name", "repeated flag", "open links", "lang flags", "entities"],
)
def test_long_input_is_answered_quickly(text: str) -> None:
    started = time.perf_counter()
    parse(text)
    assert time.perf_counter() - started < 1.0
