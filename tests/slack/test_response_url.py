"""``response_url`` is where a signed payload says to answer; the bot posts only to Slack's
``https://hooks.slack.com/`` (and, in tests, the stand-in's origin, the configured API base).

Proof that nothing was sent is the network jail (tests/hardening/conftest.py), active here: it
records every connection and refuses, before the system call, any outside loopback and any
system DNS lookup, so an attempt to reach 169.254.169.254 would fail the test, not leave the
machine. A loopback server that is not the API origin stands for "anywhere else" and must see
no connection at all."""

# ruff: noqa: F811  (the jail fixture is imported by name, and pytest passes it back as an argument)
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp import web
from yarl import URL

from handlers.io import response_url_allowed
from tests.fixtures.slack_api import TEAM
from tests.hardening.conftest import Jail, jail  # noqa: F401 - the network jail, autouse in this module
from tests.slack.conftest import Harness

pytestmark = pytest.mark.timeout(30)


class Elsewhere:
    """An HTTP server on 127.0.0.1 that is not the configured API origin; counts what reaches it."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = 0

    async def record(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def elsewhere() -> AsyncIterator[Elsewhere]:
    server = Elsewhere()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


async def help_command(harness: Harness, response_url: str) -> int:
    """A signed ``/mailflow help``: its answer goes only through ``response_url``."""
    form = {
        "team_id": TEAM,
        "channel_id": "C1",
        "user_id": "U1",
        "command": "/mailflow",
        "text": "help",
        "response_url": response_url,
        "trigger_id": f"trigger-{abs(hash(response_url))}",
    }
    status, _ = await harness.post(urlencode(form), "application/x-www-form-urlencoded")
    return status


FORGED = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.169.254:80/computeMetadata/v1/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "https://hooks.slack.com@169.254.169.254/commands/1",  # the host is after the @
    "https://hooks.slack.com.attacker.test/commands/1",
    "https://attacker.test/hooks.slack.com/commands/1",
    "http://hooks.slack.com/commands/1",  # not HTTPS
    "https://hooks.slack.com:8443/commands/1",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "not a url",
]


@pytest.mark.parametrize("url", FORGED)
async def test_a_forged_response_url_is_refused_before_any_connection(
    harness: Harness, jail: Jail, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="mailflow"):
        assert await help_command(harness, url) == 200  # acked: the refusal comes after
        await harness.settle()
    assert jail.blocked == []  # nothing even tried to leave loopback or ask the system resolver
    bot_port = URL(harness.url).port
    api_port = URL(harness.api.base_url).port
    assert {port for _, port in jail.tcp()} <= {bot_port, api_port}
    assert harness.api.calls_to("response_url") == []
    assert any("refused to post to response_url" in r.getMessage() for r in caplog.records)


async def test_a_loopback_server_that_is_not_slack_receives_nothing(
    harness: Harness, jail: Jail, elsewhere: Elsewhere, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mailflow"):
        assert await help_command(harness, f"http://127.0.0.1:{elsewhere.port}/response/x") == 200
        await harness.settle()
    assert elsewhere.hits == 0
    assert jail.tcp(elsewhere.port) == []  # not even a connection
    assert any("refused to post to response_url at http://127.0.0.1" in r.getMessage() for r in caplog.records)


async def test_the_configured_api_origin_still_gets_the_answer(harness: Harness, jail: Jail) -> None:
    assert await help_command(harness, harness.api.response_url("ok")) == 200
    await harness.settle()
    (posted,) = harness.api.calls_to("response_url")
    assert posted.params["response_type"] == "ephemeral"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T0/1/abc", True),
        ("https://hooks.slack.com:443/actions/T0/1/abc", True),
        ("https://HOOKS.SLACK.COM/commands/T0/1/abc", True),
        ("https://user@hooks.slack.com/commands/T0/1/abc", False),
        ("http://hooks.slack.com/commands/T0/1/abc", False),
        ("https://slack.com/api/chat.postMessage", True),  # the configured API origin
        ("https://files.slack.com/files-pri/T0-F1/x", False),
    ],
)
def test_slack_response_url_addresses(url: str, allowed: bool) -> None:
    assert response_url_allowed(URL(url), "https://slack.com/api/") is allowed


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "https://hooks.slack.com@10.0.0.1/x"])
async def test_a_refused_response_url_is_one_warning_line_without_traceback(
    harness: Harness, jail: Jail, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    """The refusal is logged where it happens; neither the background work nor its error notice
    (which would go to the same forged address) adds an error-level record or a traceback."""
    with caplog.at_level(logging.DEBUG, logger="mailflow"):
        assert await help_command(harness, url) == 200
        await harness.settle()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in loud] == [
        f"refused to post to response_url at {URL(url).scheme}://{URL(url).host}: not a Slack address"
    ]
    assert all(r.exc_info is None for r in caplog.records)
    assert jail.blocked == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T0-F1/x.eml", True),
        ("https://files.slack-edge.com/x", True),
        ("https://files.slack.com@attacker.test/x", False),  # the host is after the @
        ("https://user:pw@files.slack.com/x", False),  # userinfo: never with the token
        ("https://attacker.test\\.files.slack.com/x", False),  # urllib reads it as a Slack host
        ("https://attacker.test\\@files.slack.com/x", False),
        ("http://files.slack.com/x", False),
        ("https://files.slack.com.attacker.test/x", False),
        ("https://slack.com/api/files.info", True),
        ("not a url", False),
    ],
)
def test_the_bot_token_goes_only_to_slack_file_hosts(url: str, allowed: bool) -> None:
    from handlers.io import token_allowed  # noqa: PLC0415

    assert token_allowed(url, "https://slack.com/api/") is allowed
