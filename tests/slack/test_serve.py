"""``mailflow serve`` as a user runs it: a real process on 127.0.0.1, Slack's API a local stand-in."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.fixtures.slack_api import SlackApi
from tests.slack.conftest import SECRET, TOKEN, signed_headers
from tests.store.redis_server import free_port

pytestmark = pytest.mark.timeout(60)
QUEUE = "450 4.4.316 Connection refused [LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=203.0.113.25:25]"


def env(**extra: str) -> dict[str, str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "MAILFLOW_LOG_FORMAT": "json"}
    return base | extra


async def run(*args: str, cwd: Path, environ: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", *args, cwd=cwd, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_without_credentials_it_names_them_and_points_to_the_manifest(tmp_path: Path) -> None:
    proc = await run(cwd=tmp_path, environ=env())
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, err
    message = err.decode()
    assert "SLACK_BOT_TOKEN" in message and "SLACK_SIGNING_SECRET" in message
    assert "deploy/slack-app-manifest.yml" in message


async def test_a_rejected_token_stops_it_with_a_message(tmp_path: Path, slack_api: SlackApi) -> None:
    environ = env(SLACK_BOT_TOKEN="xoxb-wrong", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url)
    proc = await run("--port", str(free_port()), cwd=tmp_path, environ=environ)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2  # a settings problem: retrying would not help
    assert "Slack refused the bot token" in err.decode() and "unreachable" not in err.decode()
    assert "invalid_auth" in err.decode() and "xoxb-wrong" not in err.decode()


async def test_an_unreachable_slack_is_said_as_such_and_gives_up_after_its_deadline() -> None:
    from bot.cli.serve import StartError, serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    dead = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    settings = load_settings(None, slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=dead)
    with pytest.raises(StartError) as failed:
        await serve(settings, io.StringIO(), retry_first_s=0.05, retry_for_s=0.3)
    assert "Slack was unreachable" in str(failed.value) and "refused the bot token" not in str(failed.value)


async def test_start_up_retries_while_slack_answers_503_then_serves(
    slack_api: SlackApi, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.serve import serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    slack_api.server_error("auth.test", times=3, status=503)  # the client retries a 503 once itself
    port = free_port()
    settings = load_settings(
        None, slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack_api.base_url, port=port
    )
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(serve(settings, out, stop=stop, retry_first_s=0.05))
    try:
        async with asyncio.timeout(20):
            while "HTTP mode" not in out.getvalue():
                await asyncio.sleep(0.02)
        assert "Slack unreachable" in capsys.readouterr().err
        assert len(slack_api.calls_to("auth.test")) == 4
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.mark.parametrize("kind", ["HTML 502", "HTML 200", "truncated JSON", "405 text", "empty 200", "JSON array"])
async def test_an_unreadable_auth_test_answer_is_slack_unreachable_not_a_crash(slack_api: SlackApi, kind: str) -> None:
    """An answer that is no Slack JSON is no refusal of the token: retried, then given up on
    with a message (before, an AttributeError escaped, or a cut-off body read as a refusal)."""
    from bot.cli.serve import StartError, TokenRefusedError, serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    slack_api.fault("auth.test", kind, times=1000)
    settings = load_settings(None, slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=slack_api.base_url)
    with pytest.raises(StartError) as failed:
        await serve(settings, io.StringIO(), retry_first_s=0.05, retry_for_s=0.3)
    assert not isinstance(failed.value, TokenRefusedError)
    assert "Slack was unreachable" in str(failed.value)


async def test_http_mode_answers_a_signed_command_and_stops_on_sigterm(tmp_path: Path, slack_api: SlackApi) -> None:
    port = free_port()
    environ = env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack_api.base_url)
    proc = await run("--port", str(port), cwd=tmp_path, environ=environ)
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert f"http://127.0.0.1:{port}/slack/events" in line.decode()
        fields = {"team_id": "T0TEST", "channel_id": "C1", "user_id": "U1", "command": "/mailflow", "text": "5.7.1"}
        form = urlencode(fields | {"response_url": slack_api.response_url("r"), "trigger_id": "t1"})
        headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(form)}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/slack/events", data=form, headers=headers) as resp:
                assert resp.status == 200
            async with session.post(f"http://127.0.0.1:{port}/slack/events", data=form) as resp:
                assert resp.status == 401  # unsigned
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
        replies = await slack_api.wait_for("chat.postMessage", 2, timeout=20)
        assert replies[1].params["thread_ts"] == "1700000000.000001"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert TOKEN not in err.decode() and SECRET not in err.decode()


async def test_socket_mode_answers_and_ignores_a_redelivered_event(slack_api: SlackApi) -> None:
    from bot.cli.serve import serve  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    settings = load_settings(
        None,
        slack_bot_token=TOKEN,
        slack_app_token=slack_api.app_token,
        slack_api_url=slack_api.base_url,
        port=free_port(),
    )
    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, out, stop=stop))
    try:
        async with asyncio.timeout(20):
            while not slack_api.sockets:
                await asyncio.sleep(0.02)
        assert "Socket Mode" in out.getvalue()
        command = {"team_id": "T0TEST", "channel_id": "C1", "user_id": "U1", "command": "/mailflow", "text": "4.4.316"}
        command |= {"response_url": slack_api.response_url("s"), "trigger_id": "t-socket"}
        await slack_api.push("slash_commands", command, envelope_id="env-1")
        event = {
            "type": "event_callback",
            "team_id": "T0TEST",
            "event_id": "EvSOCKET",
            "event": {"type": "message", "channel": "C2", "user": "U1", "ts": "1690000000.000777", "text": QUEUE},
        }
        await slack_api.push("events_api", event, envelope_id="env-2")
        await slack_api.push("events_api", event, envelope_id="env-3", retry_attempt=1)
        acks = await slack_api.wait_for("socket_ack", 3, timeout=10)
        assert {a.params["envelope_id"] for a in acks} == {"env-1", "env-2", "env-3"}
        posted = await slack_api.wait_for("chat.postMessage", 3, timeout=10)
        await asyncio.sleep(0.5)  # a second answer to the redelivered event would have come by now
        assert len(slack_api.calls_to("chat.postMessage")) == 3
        assert sorted(c.params["channel"] for c in posted) == ["C1", "C1", "C2"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_sigterm_while_slack_is_unreachable_stops_it_cleanly(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    environ = env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=dead)
    proc = await run("--port", str(free_port()), cwd=tmp_path, environ=environ)
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while b"Slack unreachable" not in (line := await proc.stderr.readline()):
            assert line, "stderr closed before saying Slack was unreachable"
    assert b"retrying in" in line and dead.encode() in line
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


async def test_no_secret_or_address_in_the_log_of_a_hostile_session(tmp_path: Path, slack_api: SlackApi) -> None:
    """``mailflow serve`` at DEBUG, with a Redis URL whose password holds an @ and no Redis behind
    it, fed a pasted bounce naming a recipient, a forged response_url, a bad signature, a
    malformed request and one that is unsigned: no token, signing secret, Redis password or
    recipient local part anywhere in its log, and no traceback for the attacker's requests."""
    import json  # noqa: PLC0415
    import time  # noqa: PLC0415

    port, dead_redis = free_port(), free_port()
    password = "p@ss-w0rd-7Qz"
    environ = env(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_api.base_url,
        REDIS_URL=f"redis://:{password}@127.0.0.1:{dead_redis}/0",
        MAILFLOW_LOG_LEVEL="DEBUG",
    )
    proc = await run("--port", str(port), cwd=tmp_path, environ=environ)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        assert proc.stdout is not None
        await asyncio.wait_for(proc.stdout.readline(), 30)
        paste = "Delivery has failed to these recipients:\n\nann.lee@fabrikam.example\n\n550 5.1.1 not found\n"
        event = {"type": "message", "channel": "C1", "user": "U1", "text": paste, "ts": "1690000000.000100"}
        body = json.dumps({"team_id": "T0TEST", "type": "event_callback", "event_id": "EvLog1", "event": event})
        forged = urlencode(
            {"team_id": "T0TEST", "channel_id": "C1", "user_id": "U1", "command": "/mailflow", "text": "help"}
            | {"response_url": "http://169.254.169.254/latest/meta-data/", "trigger_id": "t-log"}
        )
        stale = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
        async with aiohttp.ClientSession() as session:
            for data, ctype, headers in [
                (body, "application/json", signed_headers(body)),
                (forged, "application/x-www-form-urlencoded", signed_headers(forged)),
                (body, "application/json", stale),
                (body, "application/json", {}),
            ]:
                async with session.post(url, data=data, headers={"Content-Type": ctype, **headers}) as resp:
                    assert resp.status in (200, 401)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: b\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.0 400")
        writer.close()
        await asyncio.sleep(1.0)  # the background answers run and log
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    log = err.decode()
    for secret in (TOKEN, SECRET, password, "ss-w0rd-7Qz", "ann.lee"):
        assert secret not in log, secret
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines and any("refused to post to response_url" in str(line.get("event")) for line in lines)
    loud = [line for line in lines if line.get("exception") and ("response_url" in str(line) or "HTTP" in str(line))]
    assert loud == []
