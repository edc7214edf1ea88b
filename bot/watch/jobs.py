"""The arq side of watches: the job functions, the worker's start-up, and its settings.

    mailflow worker          ->  arq Worker(**worker_settings(load_settings()))
    watch_tick(channel, domain, watch id, tick)    one re-probe (``WatchRunner.tick``)
    watch_sweep()            every minute on one worker: re-enqueue broken chains, set the gauge

Jobs carry JSON (never pickle: whoever can write to the queue must not be able to run code).
Any number of workers can run: arq gives each job to one of them, and a job whose worker was
killed runs again elsewhere once its in-progress mark expires (``job_timeout`` + 10 s). A
stopped worker (SIGTERM) hands its running job back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

import aiohttp
from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Worker
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.diagnose import DiagnoseRequest, Diagnosis
from bot.errors import ConfigError
from bot.observability import Metrics, get_logger
from bot.probes.config import ProbeConfig
from bot.service import DiagnosisService
from bot.settings import Settings, load_settings
from bot.slack_answers import SDK_BODY_ERRORS, UNREADABLE, api_error_code
from bot.store import open_store
from bot.watch.book import QUEUE, WatchBook, _json_dumps, _json_loads, arq_redis
from bot.watch.incident import incident_charter
from bot.watch.runner import Poster, PostRequest, WatchRunner

SWEEP_JOB: Final = "watch_sweep"
SLACK_TIMEOUT_S: Final = 10
log = get_logger(__name__)

PosterFactory = Callable[[Settings, Metrics], Poster]


def slack_poster(client: AsyncWebClient, metrics: Metrics | None = None) -> Poster:
    """A ``Poster`` on ``chat.postMessage``: None when posted, else Slack's error code."""

    async def post(message: PostRequest) -> str | None:
        try:
            await client.chat_postMessage(
                channel=message.channel,
                thread_ts=message.thread_ts,
                text=message.text,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = api_error_code(exc.response)
        except SDK_BODY_ERRORS:  # an HTML page, plain text, a body that is no JSON object
            error = UNREADABLE
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"network: {type(exc).__name__}"
        else:
            return None
        if metrics is not None:
            metrics.count_slack_error("chat.postMessage", error)
        return error

    return post


def slack_client(settings: Settings) -> AsyncWebClient:
    """The Web API client for ``settings`` (its base URL is ``SLACK_API_URL``)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_S,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )


def default_poster(settings: Settings, metrics: Metrics) -> Poster:
    return slack_poster(slack_client(settings), metrics)


def _runner(ctx: dict[str, Any]) -> WatchRunner:
    runner: WatchRunner = ctx["watch_runner"]
    return runner


async def watch_tick(ctx: dict[str, Any], channel: str, domain: str, watch_id: str, tick: int) -> str:
    return await _runner(ctx).tick(channel, domain, watch_id, tick)


async def watch_sweep(ctx: dict[str, Any]) -> int:
    return await _runner(ctx).sweep()


async def startup(ctx: dict[str, Any]) -> None:
    """Build the runner from ``ctx["settings"]`` (loaded now when absent) on arq's own Redis client."""
    settings: Settings = ctx.get("settings") or load_settings()
    metrics: Metrics = ctx.setdefault("metrics", Metrics())
    config: ProbeConfig = ctx.get("probe_config") or settings.probe_config()
    store = open_store(settings.redis_dsn)
    service = DiagnosisService(store, config)

    async def diagnose(request: DiagnoseRequest, language: str) -> Diagnosis:
        answer = await service.diagnose(request, fresh=True, language=language)
        metrics.observe_probes(answer.diagnosis.results)
        return answer.diagnosis

    make_poster: PosterFactory = ctx.get("poster_factory") or default_poster
    book = WatchBook(ctx["redis"], max_per_channel=settings.watch_max_per_channel)
    ctx["store"] = store
    charter = incident_charter(slack_client(settings), store)  # a recovery brings the incident's chart
    ctx["watch_runner"] = WatchRunner(
        book, diagnose, make_poster(settings, metrics), metrics=metrics, on_recovery=charter
    )
    log.info("worker ready", queue=QUEUE)


async def shutdown(ctx: dict[str, Any]) -> None:
    store = ctx.get("store")
    if store is not None:
        await store.close()


def worker_settings(
    settings: Settings,
    *,
    probe_config: ProbeConfig | None = None,
    poster_factory: PosterFactory | None = None,
    metrics: Metrics | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.Worker`` (or ``run_worker``) on ``settings``.

    ``probe_config`` and ``poster_factory`` replace what the settings give (tests point them at
    local peers); ``overrides`` go to arq as they are (``burst``, ``poll_delay``, ``job_timeout``...).
    """
    if settings.redis_dsn is None:
        raise ConfigError("REDIS_URL: the worker needs Redis (watch jobs and their state live there)")
    # A tick may probe for the whole probe deadline, then post (Slack timeout, one rate-limit retry).
    job_timeout = settings.probe_timeout + 3 * SLACK_TIMEOUT_S
    ctx: dict[str, Any] = {"settings": settings, "probe_config": probe_config, "poster_factory": poster_factory}
    if metrics is not None:
        ctx["metrics"] = metrics
    return {
        "functions": [watch_tick],
        "cron_jobs": [_sweep_job()],
        "queue_name": QUEUE,
        "redis_pool": arq_redis(settings.redis_dsn),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": ctx,
        "job_timeout": job_timeout,
        "max_jobs": 20,
        "max_tries": 3,
        "keep_result": 3600,
        "job_serializer": _json_dumps,
        "job_deserializer": _json_loads,
    } | overrides


def _sweep_job() -> Any:
    return cron(watch_sweep, name=SWEEP_JOB, second=0, run_at_startup=True, unique=True, timeout=60)


def _redis_settings_from_env() -> RedisSettings:
    """``REDIS_URL`` for arq's own CLI; a bad one is reported by ``startup`` (``load_settings``)."""
    try:
        return RedisSettings.from_dsn(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    except (RuntimeError, ValueError):
        return RedisSettings()


class WorkerSettings:
    """For ``arq bot.watch.jobs.WorkerSettings``. ``mailflow worker`` is the usual way: it
    validates every setting before it starts; this reads ``REDIS_URL`` when imported and the
    other settings in ``startup``."""

    functions: ClassVar[list[Any]] = [watch_tick]
    cron_jobs: ClassVar[list[Any]] = [_sweep_job()]
    queue_name = QUEUE
    on_startup = staticmethod(startup)
    on_shutdown = staticmethod(shutdown)
    job_serializer = staticmethod(_json_dumps)
    job_deserializer = staticmethod(_json_loads)
    redis_settings = _redis_settings_from_env()


async def _idle(worker: Worker, poll_s: float) -> None:
    """Return once nothing is due and nothing runs, three polls in a row (the end of a burst; arq's own
    burst mode waits for the queue to be empty, and a watch always has its next tick queued)."""
    quiet = 0
    while quiet < 3:
        await asyncio.sleep(poll_s)
        due = await worker.pool.zcount(QUEUE, "-inf", int(time.time() * 1000))
        quiet = quiet + 1 if due == 0 and not worker.tasks else 0


async def run_worker(
    settings: Settings, *, stop: asyncio.Event | None = None, burst: bool = False, **kwargs: Any
) -> None:
    """Run a worker until SIGTERM or SIGINT (or ``stop`` is set; with ``burst``, until nothing is due).

    On a signal the worker picks no new job and cancels the running ones, which arq puts back
    in the queue at once (``retry_jobs``), so another worker runs them without waiting for
    their in-progress mark to expire. Signals are handled here rather than by arq: its handler
    cancels the polling task once, and a cancellation that lands inside a Redis call can be
    lost, leaving the worker running.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(**worker_settings(settings, **kwargs), handle_signals=False)
    run = asyncio.create_task(worker.async_run())
    waits = {run, asyncio.create_task(stop.wait())}
    if burst:
        waits.add(asyncio.create_task(_idle(worker, worker.poll_delay_s)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits - {run}:
            task.cancel()
        worker.allow_pick_jobs = False
        while not run.done():
            worker.handle_sig(signal.SIGTERM)  # cancels the running jobs and the polling task
            await asyncio.wait({run}, timeout=1.0)
        await asyncio.gather(*worker.tasks.values(), *(waits - {run}), return_exceptions=True)
        # What Worker.close() does, with redis-py's current aclose() (close() is deprecated).
        with contextlib.suppress(RedisError, OSError):
            await worker.pool.delete(worker.health_check_key)
        await shutdown(worker.ctx)
        await worker.pool.aclose(close_connection_pool=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if not run.cancelled():
        run.result()  # what stopped the worker, if it was an error
