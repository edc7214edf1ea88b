"""``mailflow serve``: the Slack bot, until SIGTERM or SIGINT.

Socket Mode when ``SLACK_APP_TOKEN`` is set (no public URL needed), otherwise HTTP mode: an
aiohttp server on ``MAILFLOW_HOST``:``MAILFLOW_PORT`` (``--port`` wins) taking Slack's requests
on ``POST /slack/events``. Either way the same server answers ``/healthz``, ``/readyz`` and
``/metrics`` (bot/observability.py). Slow clients are cut off and open connections capped
(bot/http_edge.py: ``MAILFLOW_HTTP_HEAD_TIMEOUT``, ``MAILFLOW_HTTP_BODY_TIMEOUT``,
``MAILFLOW_HTTP_MAX_CONNECTIONS``). The Web API base is ``SLACK_API_URL``, so the bot can run
against a local stand-in. Without its Slack credentials the command stops at once, naming the
missing variables and pointing to the app manifest. Exit codes: 0 stopped by a signal, 2 bad or
missing settings (Slack refused the bot token, too), 1 the bot could not start (Slack stayed
unreachable for ``RETRY_FOR_S`` while auth.test was retried with backoff, the port is taken, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the bot stack (bolt, aiohttp, redis) loads only for this command
    import asyncio

    from bot.observability import Metrics
    from bot.settings import Settings
    from handlers import SlackApp
    from handlers.identity import BotIdentity

EXIT_STOPPED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MANIFEST = "deploy/slack-app-manifest.yml"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the Slack bot (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)",
        description="Run the Slack bot: /mailflow, pasted bounces, the message shortcut, App Home.",
    )
    parser.add_argument("--port", type=int, help="HTTP port (default MAILFLOW_PORT, 3000)")
    parser.add_argument("--host", help="listen address (default MAILFLOW_HOST, 127.0.0.1)")
    parser.add_argument("--env-file", default=".env", help="settings file read after the environment (default .env)")
    parser.set_defaults(handler=cmd_serve)


def missing_credentials(settings: Settings) -> list[str]:
    """The Slack variables the chosen mode needs and does not have."""
    missing = []
    if settings.slack_bot_token is None:
        missing.append("SLACK_BOT_TOKEN")
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        missing.append("SLACK_SIGNING_SECRET")  # HTTP mode verifies every request with it
    return missing


def cmd_serve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[bytes]) -> int:
    from bot.errors import ConfigError  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    del stdin
    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.host is not None:
        overrides["host"] = args.host
    try:
        settings = load_settings(args.env_file, **overrides)
    except ConfigError as exc:
        print(f"mailflow serve: {exc}", file=stderr)
        return EXIT_USAGE
    missing = missing_credentials(settings)
    if missing:
        print(
            f"mailflow serve: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Create the "
            f"Slack app from {MANIFEST} (api.slack.com/apps > Create New App > From a manifest), install it, "
            "and set the bot token (OAuth & Permissions) and signing secret (Basic Information); "
            "README.md, 'Slack bot', walks through it.",
            file=stderr,
        )
        return EXIT_USAGE
    from bot.observability import configure_logging  # noqa: PLC0415

    configure_logging(settings)
    try:
        import asyncio  # noqa: PLC0415 - the event loop loads only for this command

        asyncio.run(serve(settings, stdout))
    except TokenRefusedError as exc:
        print(f"mailflow serve: {exc}", file=stderr)
        return EXIT_USAGE
    except StartError as exc:
        print(f"mailflow serve: {exc}", file=stderr)
        return EXIT_FAILED
    return EXIT_STOPPED


class StartError(Exception):
    """The bot could not start; the message says why."""


class TokenRefusedError(StartError):
    """Slack refused the bot token: a settings problem (exit 2)."""


RETRY_FOR_S = 300.0  # how long start-up waits for an unreachable Slack before giving up
RETRY_MAX_S = 30.0


async def _identity(
    identity: BotIdentity, api_url: str, stop: asyncio.Event, first_s: float, for_s: float
) -> Mapping[str, Any] | None:
    """auth.test until it answers; None when ``stop`` is set first. Raises ``StartError``."""
    import asyncio  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from handlers.identity import SlackUnreachable, TokenRefused  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    deadline = loop.time() + for_s
    delay = first_s
    while True:
        try:
            return await identity.load()
        except TokenRefused as exc:
            raise TokenRefusedError(f"Slack refused the bot token at {api_url} ({exc})") from None
        except SlackUnreachable as exc:
            if loop.time() + delay > deadline:
                raise StartError(f"Slack was unreachable at {api_url} for {for_s:g} s ({exc})") from None
            print(f"mailflow serve: Slack unreachable at {api_url} ({exc}); retrying in {delay:g} s", file=sys.stderr)
            sys.stderr.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return None
        delay = min(delay * 2, RETRY_MAX_S)


async def serve(
    settings: Settings,
    stdout: IO[str],
    *,
    stop: asyncio.Event | None = None,
    retry_first_s: float = 1.0,
    retry_for_s: float = RETRY_FOR_S,
) -> None:
    """Run the bot until ``stop`` is set (or SIGTERM / SIGINT).

    At start-up auth.test says who the bot is. A refused token raises ``TokenRefused`` (bad
    settings); while Slack is unreachable, auth.test is asked again after ``retry_first_s``,
    doubling up to 30 s, for at most ``retry_for_s`` (then ``StartError``).
    """
    import asyncio  # noqa: PLC0415
    import dataclasses  # noqa: PLC0415

    from bot.observability import Metrics  # noqa: PLC0415
    from bot.service import DiagnosisService  # noqa: PLC0415
    from bot.store import open_store  # noqa: PLC0415
    from bot.store.keys import hash_key_in_store  # noqa: PLC0415
    from handlers import SlackConfig, Watches, build_app  # noqa: PLC0415

    assert settings.slack_bot_token is not None
    secret = settings.slack_signing_secret
    config = SlackConfig(
        bot_token=settings.slack_bot_token.get_secret_value(),
        signing_secret=secret.get_secret_value() if secret else "",
        api_url=settings.slack_api_url,
        upload_max_bytes=settings.upload_max_bytes,
        parse_workers=settings.parse_workers,
        parse_timeout_s=settings.parse_timeout,
        hash_key=settings.hash_key.get_secret_value() if settings.hash_key else "",
    )
    store = open_store(settings.redis_dsn)
    if not config.hash_key and not config.signing_secret:  # Socket Mode with neither: one key kept in the store
        config = dataclasses.replace(config, hash_key=(await hash_key_in_store(store)).decode())
    metrics = Metrics()
    watches = None
    if settings.redis_dsn is not None:  # watches live in Redis; without it /mailflow watch says so
        from bot.watch import WatchBook, watch_gauge  # noqa: PLC0415

        watches = Watches(WatchBook.from_settings(settings), settings)
        metrics.before_scrape(watch_gauge(watches.book, metrics))
    service = DiagnosisService(store, settings.probe_config())
    slack = build_app(config, store, service, metrics=metrics, watches=watches)

    async def close() -> None:
        await store.close()
        if watches is not None:
            await watches.book.close()

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # from here on, also while Slack is being waited for
        loop.add_signal_handler(sig, stop.set)
    try:
        await _serve(
            slack,
            settings,
            stdout,
            stop=stop,
            close=close,
            metrics=metrics,
            retry_first_s=retry_first_s,
            retry_for_s=retry_for_s,
        )
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _serve(
    slack: SlackApp,
    settings: Settings,
    stdout: IO[str],
    *,
    stop: asyncio.Event,
    close: Callable[[], Awaitable[None]],
    metrics: Metrics,
    retry_first_s: float,
    retry_for_s: float,
) -> None:
    """``serve`` once the app is built: who the bot is, then the server (and the socket) until ``stop``."""
    from aiohttp import web  # noqa: PLC0415
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler  # noqa: PLC0415

    from bot.http_edge import Edge, EdgeLimits, EdgeSite  # noqa: PLC0415
    from bot.observability import request_id_middleware, routes  # noqa: PLC0415
    from handlers import build_web_app  # noqa: PLC0415

    try:
        identity = await _identity(slack.identity, settings.slack_api_url, stop, retry_first_s, retry_for_s)
    except BaseException:
        await close()
        raise
    if identity is None:  # stopped while Slack was unreachable
        await close()
        return
    slack.identity.start_refresh()

    socket: AsyncSocketModeHandler | None = None
    if settings.slack_app_token is not None:
        socket = AsyncSocketModeHandler(slack.app, settings.slack_app_token.get_secret_value())

    async def connected() -> bool:
        return True if socket is None else bool(await socket.client.is_connected())

    edge = Edge(
        EdgeLimits(
            head_timeout_s=settings.http_head_timeout,
            body_timeout_s=settings.http_body_timeout,
            max_connections=settings.http_max_connections,
        )
    )
    web_app = build_web_app(slack, routes(store=slack.bot.store, slack_connected=connected, metrics=metrics))
    web_app.middlewares.append(request_id_middleware)
    web_app.middlewares.append(edge.middleware)
    runner = web.AppRunner(web_app, access_log=None, logger=edge.server_log)
    await runner.setup()
    try:
        await EdgeSite(runner, settings.host, settings.port, edge=edge).start()
    except OSError as exc:
        await runner.cleanup()
        await close()
        raise StartError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    try:
        where = f"http://{settings.host}:{settings.port}"
        if socket is not None:
            await socket.connect_async()  # type: ignore[no-untyped-call]
            print(f"mailflow serve: Socket Mode as {identity.get('user')}; health on {where}/healthz", file=stdout)
        else:
            print(f"mailflow serve: HTTP mode as {identity.get('user')} on {where}/slack/events", file=stdout)
        stdout.flush()
        await stop.wait()
    finally:
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()  # drains the work started by listeners (build_web_app's on_shutdown)
        await close()
