"""``mailflow worker``: run the watch jobs (arq) until SIGTERM or SIGINT.

Reads the same settings as the bot (environment and ``.env``; see README.md, "Production"),
refuses to start when one is invalid or when ``REDIS_URL`` is missing, logs through
``bot.observability``, and serves ``/healthz`` ``/readyz`` ``/metrics`` on ``--metrics-port``
when given (a worker has no Slack connection to check: ready means Redis answers).
"""

from __future__ import annotations

import argparse
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the worker stack (arq, aiohttp, slack_sdk) loads only for this command
    from aiohttp import web

    from bot.observability import Metrics
    from bot.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="run the watch jobs (needs REDIS_URL)",
        description="Run the arq worker that re-probes watched domains and posts verdict changes.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file read after the environment (default .env)")
    parser.add_argument("--burst", action="store_true", help="run the jobs due now, then exit (for cron and tests)")
    parser.add_argument("--metrics-port", type=int, help="serve /healthz /readyz /metrics on this port")
    parser.set_defaults(handler=cmd_worker)


async def _serve_health(settings: Settings, metrics: Metrics, port: int) -> web.AppRunner:
    from aiohttp import web  # noqa: PLC0415

    from bot.http_edge import server_log  # noqa: PLC0415
    from bot.observability import routes  # noqa: PLC0415
    from bot.store import open_store  # noqa: PLC0415

    app = web.Application()
    store = open_store(settings.redis_dsn)
    app.add_routes(routes(store=store, metrics=metrics))
    app.on_cleanup.append(lambda _app: store.close())
    runner = web.AppRunner(app, access_log=None, logger=server_log())  # malformed requests: no traceback
    await runner.setup()
    await web.TCPSite(runner, settings.host, port).start()
    return runner


async def _main(settings: Settings, *, burst: bool, metrics_port: int | None) -> None:
    from bot.observability import Metrics  # noqa: PLC0415
    from bot.watch.jobs import run_worker  # noqa: PLC0415

    metrics = Metrics()
    health = await _serve_health(settings, metrics, metrics_port) if metrics_port else None
    try:
        await run_worker(settings, metrics=metrics, burst=burst)
    finally:
        if health is not None:
            await health.cleanup()


def cmd_worker(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: Any) -> int:
    from bot.errors import ConfigError  # noqa: PLC0415
    from bot.observability import configure_logging, get_logger  # noqa: PLC0415
    from bot.settings import load_settings  # noqa: PLC0415

    settings = load_settings(env_file=args.env_file)
    if settings.redis_dsn is None:
        raise ConfigError("REDIS_URL: the worker needs Redis (watch jobs and their state live there)")
    configure_logging(settings)
    get_logger(__name__).info("worker starting", burst=args.burst, metrics_port=args.metrics_port)
    import asyncio  # noqa: PLC0415 - the event loop loads only for this command

    asyncio.run(_main(settings, burst=args.burst, metrics_port=args.metrics_port))
    return 0
