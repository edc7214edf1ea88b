"""Assembly: the Web API client, the bolt ``AsyncApp`` with every listener, and the aiohttp app.

    build_app(config, store, service)  -> SlackApp (.app: AsyncApp, .bot: SlackBot)
    build_web_app(slack, routes=())    -> aiohttp Application: POST /slack/events, plus ``routes``
                                          (the /healthz, /readyz, /metrics of bot/observability.py)

The client talks to ``config.api_url`` (a local stand-in in tests), retries Slack's 429s after
their Retry-After (``AsyncRateLimitErrorRetryHandler``), and 5xx answers and dropped
connections once, except chat.postMessage (``NOT_RETRIED_BLINDLY``: ThreadReply looks in the
channel before posting again). Requests with a bad signature or a timestamp more than five
minutes off get 401 before bolt parses their body (``verified_bolt_request``,
handlers/verify.py); a signed body that cannot be parsed, 400. Requests are authorized from the
bot's identity (``handlers.identity``: auth.test at start-up, refreshed on a schedule), never by
an auth.test of their own. A listener that raises is logged with an error id by ``on_error``
(bolt's error hook), so no failure is silent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltError, BoltUnhandledRequestError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped, warning_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.parse_pool import ParsePool
from bot.store import Store
from bot.store.keys import derive_hash_key, use_hash_key
from handlers import commands, events, interactive, sender, summary, verify, watch
from handlers.bot import Counters, DiagnosisRunner, SlackBot
from handlers.config import SlackConfig
from handlers.identity import BotIdentity
from handlers.io import new_error_id

EVENTS_PATH = "/slack/events"
SUBCOMMAND_MODULES = (watch, summary)  # imported for the subcommands they register
log = logging.getLogger("mailflow.slack")


@dataclass(frozen=True, slots=True)
class SlackApp:
    app: AsyncApp
    bot: SlackBot
    identity: BotIdentity


# A post that failed with a 5xx or a dropped connection may have gone through: ThreadReply looks
# in the channel before posting again, so the client never retries these blindly.
NOT_RETRIED_BLINDLY = ("chat.postMessage",)


def _blind_retry_allowed(request: HttpRequest) -> bool:
    return not request.url.rstrip("/").endswith(NOT_RETRIED_BLINDLY)


class _PostsNotRetriedBlindly(AsyncRetryHandler):
    """Placed before one of slack_sdk's built-in handlers: its rule, except for posts (see
    ``NOT_RETRIED_BLINDLY``). slack_sdk wants one handler object per kind of failure, so the
    rule is a mixin rather than a wrapper."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _blind_retry_allowed(request) and await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


class ServerErrorRetry(_PostsNotRetriedBlindly, AsyncServerErrorRetryHandler):
    """A 500 / 503 from Slack: once more after a pause, except for posts."""


class ConnectionErrorRetry(_PostsNotRetriedBlindly, AsyncConnectionErrorRetryHandler):
    """A dropped connection: once more, except for posts."""


def web_client(config: SlackConfig) -> AsyncWebClient:
    return AsyncWebClient(
        token=config.bot_token,
        base_url=config.api_url,
        timeout=max(1, round(config.http_timeout_s)),
        logger=logging.getLogger("mailflow.slack.web"),
        retry_handlers=[
            ConnectionErrorRetry(max_retry_count=1),
            AsyncRateLimitErrorRetryHandler(max_retry_count=config.rate_limit_retries),
            ServerErrorRetry(max_retry_count=1),
        ],
    )


class _DropMessages(logging.Filter):
    def __init__(self, messages: frozenset[str]) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


@contextlib.contextmanager
def _quiet_bolt_notices() -> Iterator[None]:
    """Leave out the two warnings bolt gives for this set-up on purpose, at every start.

    The client carries the token and ``authorize`` answers from the start-up identity, so bolt
    says the token (and SLACK_BOT_TOKEN) "will be ignored": true, intended, and alarming in an
    operator's log. Only these two exact messages are dropped, only while the app is built.
    """
    logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    quiet = _DropMessages(frozenset({warning_token_skipped(), warning_client_prioritized_and_token_skipped()}))
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def describe_unhandled(body: dict[str, Any]) -> str:
    """What an unhandled request was, for the log: its type and action, callback or event type."""
    kind = str(body.get("type") or ("command" if body.get("command") else "request"))
    actions = body.get("actions") or []
    what = (
        (actions[0].get("action_id") if actions and isinstance(actions[0], dict) else None)
        or body.get("callback_id")
        or (body.get("event") or {}).get("type")
        or body.get("command")
        or ""
    )
    return f"{kind} {str(what)[:100]!r}"


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
    if config.hash_key or config.signing_secret:
        use_hash_key(config.hash_key.encode() if config.hash_key else derive_hash_key(config.signing_secret))
    identity = BotIdentity(
        client, config.bot_token, refresh_s=config.identity_refresh_s, retry_first_s=config.identity_retry_s
    )
    with _quiet_bolt_notices():
        app = AsyncApp(
            client=client,
            authorize=identity.authorize_function(),  # the start-up auth.test, so no request waits on another
            signing_secret=config.signing_secret,
            name="mailflow",  # bolt's own loggers take their level from the root logger, as in any bolt app
            process_before_response=False,
            raise_error_for_unhandled_request=True,  # so on_error acks it instead of bolt's 404
        )
    bot = SlackBot(config, store, service, client, metrics, watches=watches, parser=parser)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            # A button or event nothing here listens to (an old message's, a newer app version's):
            # acknowledged, so Slack neither shows the user an error nor retries it, and logged.
            log.warning("no listener for %s: acknowledged and ignored", describe_unhandled(body))
            return BoltResponse(status=200, body="")
        error_id = new_error_id()
        kind = body.get("type") or (body.get("event") or {}).get("type") or body.get("command")
        log.error("listener failed on %s [error id %s]", kind, error_id, exc_info=error)
        return None

    commands.attach(app, bot)  # /mailflow, with the subcommands of watch.py, summary.py and sender.py
    events.attach(app, bot)
    interactive.attach(app, bot)
    sender.attach(app, bot)
    return SlackApp(app, bot, identity)


async def verified_bolt_request(request: web.Request, secret: str) -> AsyncBoltRequest | web.Response:
    """bolt's request for a signed, readable Slack request; otherwise the 401 or 400 to answer.

    The signature and timestamp are checked on the headers and raw bytes (handlers/verify.py)
    before bolt parses anything, so an unsigned body never reaches a parser; a signed body that
    is no JSON or form (or nests too deep to parse) is a 400. Each refusal is one info line.
    """
    why = verify.refusal_from_headers(request.headers, secret=secret, now=time.time())
    if why is None:
        why = verify.refusal_from_body(request.headers, await request.read(), secret=secret)
    if why is not None:
        log.info("refused a Slack request from %s: %s (HTTP 401)", request.remote, why)
        return web.Response(status=401, text="invalid request signature")
    try:
        # bolt parses the body here: JSON, a form, or a form whose payload is JSON
        bolt_request = AsyncBoltRequest(
            body=(await request.read()).decode("utf-8"), query=request.query_string, headers=dict(request.headers)
        )
    except (ValueError, RecursionError, TypeError, AttributeError, BoltError) as exc:  # UnicodeDecodeError too
        log.info("refused a signed Slack request whose body cannot be read: %s (HTTP 400)", type(exc).__name__)
        return web.Response(status=400, text="unreadable request body")
    if not isinstance(bolt_request.body, dict):
        log.info("refused a signed Slack request whose body is no object (HTTP 400)")
        return web.Response(status=400, text="unreadable request body")
    return bolt_request


def build_web_app(slack: SlackApp, routes: Iterable[web.RouteDef] = (), *, path: str = EVENTS_PATH) -> web.Application:
    """The HTTP-mode server: Slack's requests on ``path``, and the extra ``routes`` beside them."""

    secret = slack.bot.config.signing_secret

    async def slack_events(request: web.Request) -> web.Response:
        with slack.bot.request():
            bolt_request = await verified_bolt_request(request, secret)
            if isinstance(bolt_request, web.Response):
                return bolt_request
            return await to_aiohttp_response(await slack.app.async_dispatch(bolt_request))

    async def start(_: web.Application) -> None:
        assert slack.bot.session is not None  # the Web API client shares it from now on
        await slack.bot.parser.start()  # workers warm before the first request

    async def drain(_: web.Application) -> None:
        await slack.identity.close()
        await slack.bot.close()

    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app.router.add_post(path, slack_events)
    web_app.router.add_routes(list(routes))
    web_app.on_startup.append(start)
    web_app.on_shutdown.append(drain)
    return web_app
