"""Watches: re-probe a domain on a schedule during an incident, post in the thread when the verdict changes.

    /mailflow watch contoso.com [--every 5m] [--for 2h]    start_watch(book, ...)
    /mailflow unwatch contoso.com                          stop_watch(book, ...)
    /mailflow watches                                      list_watches(book, ...)

The Slack handlers call the three functions below with a ``WatchBook`` (one per process,
``WatchBook.from_settings(settings)``); each returns a ``WatchReply`` whose ``text`` is the
answer to show, in the reader's language. The ticks run as arq jobs in ``mailflow worker``
processes (``jobs``), so any replica can start a watch, any worker can tick it, and both
survive restarts: all their state is in Redis (``book`` documents the keys).

Modules: ``model`` (the Watch value, argument parsing; pure), ``messages`` (the words),
``book`` (Redis state and job enqueueing), ``runner`` (one tick), ``jobs`` (arq functions and
worker settings).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.observability import Metrics
from bot.watch.book import Started, WatchBook
from bot.watch.messages import exists_text, full_text, list_text, started_text, stopped_text
from bot.watch.model import HEALTHY, Watch, WatchArgs, normalise_domain, parse_watch_args, verdict_key
from bot.watch.runner import Poster, PostRequest, WatchRunner

__all__ = [
    "HEALTHY",
    "PostRequest",
    "Poster",
    "Started",
    "Watch",
    "WatchArgs",
    "WatchBook",
    "WatchReply",
    "WatchRunner",
    "list_watches",
    "normalise_domain",
    "parse_watch_args",
    "start_watch",
    "stop_watch",
    "verdict_key",
    "watch_gauge",
]


@dataclass(frozen=True, slots=True)
class WatchReply:
    text: str  # what to answer, in the reader's language
    ok: bool  # False: nothing changed (already watched, channel full, not found)
    watches: tuple[Watch, ...] = ()  # the watch started, stopped or already running; or the list


async def start_watch(
    book: WatchBook,
    args: WatchArgs,
    *,
    channel: str,
    thread_ts: str | None,
    user: str | None = None,
    language: str = "en",
    baseline: str | None = None,
) -> WatchReply:
    """Start watching ``args.domain`` in ``channel``, posting changes in ``thread_ts``.

    ``baseline``: the verdict key the thread already shows (``verdict_key(diagnosis.verdict)``),
    so a change from it is posted even on the first tick; without it the first probe sets it.
    Raises ``StoreUnavailable`` when Redis does not answer.
    """
    started = await book.start(
        channel=channel,
        domain=args.domain,
        every_s=args.every_s,
        for_s=args.for_s,
        thread_ts=thread_ts,
        user=user,
        language=language,
        baseline=baseline,
    )
    watch = started.watch
    if started.status == "started" and watch is not None:
        return WatchReply(started_text(watch), True, (watch,))
    if started.status == "exists" and watch is not None:
        return WatchReply(exists_text(watch, language), False, (watch,))
    return WatchReply(full_text(book.max_per_channel, language), False)


async def stop_watch(book: WatchBook, domain: str, *, channel: str, language: str = "en") -> WatchReply:
    """Stop the watch on ``domain`` (any form ``normalise_domain`` reads) in ``channel``."""
    domain = normalise_domain(domain)
    stopped = await book.stop(channel, domain)
    return WatchReply(
        stopped_text(domain, language, found=stopped is not None), stopped is not None, (stopped,) if stopped else ()
    )


async def list_watches(book: WatchBook, *, channel: str, language: str = "en") -> WatchReply:
    """The running watches in ``channel``, one line each."""
    watches = await book.in_channel(channel)
    return WatchReply(list_text(watches, language), True, tuple(watches))


def watch_gauge(book: WatchBook, metrics: Metrics) -> Callable[[], Awaitable[None]]:
    """For ``metrics.before_scrape(...)``: set ``mailflow_watches_running`` from Redis at each scrape."""

    async def refresh() -> None:
        metrics.watches_running.set(await book.count_active())

    return refresh
