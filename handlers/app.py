"""Assembly: the Web API client, the bolt ``AsyncApp`` with every listener, and the aiohttp app.

    build_app(config, store, service)  -> SlackApp (.app: AsyncApp, .bot: SlackBot)
    build_web_app(slack, routes=())    -> aiohttp Application: POST /slack/events, plus ``routes``
                                          (the /healthz, /readyz, /metrics of bot/observability.py)

The client talks to ``config.api_url`` (a local stand-in in tests), retries Slack's 429s after
their Retry-After (``AsyncRateLimitErrorRetryHandler``) and dropped connections once. Requests
with a bad signature or a timestamp older than five minutes get 401 from bolt's request
verification, before any listener runs. A listener that raises is logged with an error id by
``on_error`` (bolt's error hook), so no failure is silent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.parse_pool import ParsePool
from bot.store import Store
from handlers import commands, events, interactive, watch
from handlers.bot import Counters, DiagnosisRunner, SlackBot
from handlers.config import SlackConfig
from handlers.io import new_error_id

EVENTS_PATH = "/slack/events"
log = logging.getLogger("mailflow.slack")


@dataclass(frozen=True, slots=True)
class SlackApp:
    app: AsyncApp
    bot: SlackBot


def web_client(config: SlackConfig) -> AsyncWebClient:
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        timeout=max(1, round(config.http_timeout_s)),
        logger=logging.getLogger("mailflow.slack.web"),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=config.rate_limit_retries),
            AsyncServerErrorRetryHandler(max_retry_count=1),  # a 500 / 503 from Slack: once more, after a pause
        ],
    )


def build_app(
    config: SlackConfig,
    store: Store,
    service: DiagnosisRunner,
    *,
    client: AsyncWebClient | None = None,
    metrics: Counters | None = None,
    watches: watch.Watches | None = None,
    parser: ParsePool | None = None,
) -> SlackApp:
    """The bot: a bolt AsyncApp answering over HTTP or Socket Mode, with every listener attached.
    ``parser`` reads the bounces (default: a pool of ``config.parse_workers`` processes)."""
    client = client or web_client(config)
    app = AsyncApp(
        client=client,
        signing_secret=config.signing_secret,
        name="mailflow",  # bolt's own loggers take their level from the root logger, as in any bolt app
        process_before_response=False,
    )
    bot = SlackBot(config, store, service, client, metrics, watches=watches, parser=parser)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        error_id = new_error_id()
        kind = body.get("type") or (body.get("event") or {}).get("type") or body.get("command")
        log.error("listener failed on %s [error id %s]", kind, error_id, exc_info=error)

    commands.attach(app, bot)
    events.attach(app, bot)
    interactive.attach(app, bot)
    return SlackApp(app, bot)


def build_web_app(slack: SlackApp, routes: Iterable[web.RouteDef] = (), *, path: str = EVENTS_PATH) -> web.Application:
    """The HTTP-mode server: Slack's requests on ``path``, and the extra ``routes`` beside them."""

    async def slack_events(request: web.Request) -> web.Response:
        with slack.bot.request():
            bolt_request = await to_bolt_request(request)
            return await to_aiohttp_response(await slack.app.async_dispatch(bolt_request))

    async def start(_: web.Application) -> None:
        assert slack.bot.session is not None  # the Web API client shares it from now on
        await slack.bot.parser.start()  # workers warm before the first request

    async def drain(_: web.Application) -> None:
        await slack.bot.close()

    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app.router.add_post(path, slack_events)
    web_app.router.add_routes(list(routes))
    web_app.on_startup.append(start)
    web_app.on_shutdown.append(drain)
    return web_app
