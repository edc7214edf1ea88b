"""How the app is put together: extra routes and metrics, the manifest against the code, App Home."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.observability import Metrics, routes
from handlers.commands import COMMAND
from handlers.interactive import SHORTCUT
from tests.slack.conftest import Harness, MakeHarness
from tests.slack.test_diagnose import GatedService

pytestmark = pytest.mark.timeout(30)
MANIFEST = Path(__file__).resolve().parent.parent.parent / "deploy" / "slack-app-manifest.yml"


async def test_extra_routes_and_metrics_are_served_beside_slack_events(make_harness: MakeHarness) -> None:
    metrics = Metrics()
    h = await make_harness(metrics=metrics)
    from handlers import build_web_app  # noqa: PLC0415

    runner = web.AppRunner(build_web_app(h.slack, routes(store=h.store, metrics=metrics)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        h.url = base + "/slack/events"
        await h.command("4.4.316")
        await h.settle()
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/healthz") as response:
                assert response.status == 200
            async with session.get(base + "/metrics") as response:
                text = await response.text()
        assert 'mailflow_requests_total{surface="slash"} 1.0' in text
    finally:
        await runner.cleanup()


async def test_app_home_lists_the_workspaces_recent_diagnoses(make_harness: MakeHarness) -> None:
    service = GatedService(n=1)
    service.release.set()
    h: Harness = await make_harness(service=service)
    await h.command("diagnose contoso.com", user="U6")
    await h.settle()
    await h.event({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    await h.settle()
    (publish,) = h.api.calls_to("views.publish")
    view = str(publish.params["view"])
    assert "contoso.com" in view and "<@U6>" in view


def test_the_manifest_declares_what_the_code_listens_to() -> None:
    text = MANIFEST.read_text()
    assert f"command: {COMMAND}" in text
    assert f"callback_id: {SHORTCUT}" in text
    scopes = set(re.findall(r"^\s+- ([a-z_:.]+)\s*(?:#|$)", text, re.M))
    needed = {"commands", "chat:write", "channels:history", "groups:history", "im:history", "files:read", "users:read"}
    assert needed <= scopes
    assert {"message.channels", "message.groups", "message.im", "app_home_opened"} <= scopes
    assert re.search(r"interactivity:\s+is_enabled: true", text)
    assert "home_tab_enabled: true" in text and "socket_mode_enabled:" in text
    assert "should_escape: false" in text  # the command text arrives as typed (handlers/args.py undoes links)
