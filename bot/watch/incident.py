"""The incident's chart, added when a watch posts a recovery.

When the change a watch posts is the recovery (the verdict it records is healthy), the worker
reads the channel's events (``bot.store.ChannelEvents``: the bounces the bot answered there and
the diagnoses it ran) from an hour before the watch started until now, draws them
(``bot.render.chart``, in a worker thread) and shares the PNG in the watch's thread with
files.getUploadURLExternal + files.completeUploadExternal, a line in the watch's language
beside it. Best effort: no bounces, no chart extra, or a failed upload leave the recovery
message as it is (logged), and the watch goes on.
"""

from __future__ import annotations

import asyncio
from typing import Final

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import knowledge
from bot.observability import get_logger
from bot.store import ChannelEvents, Store
from bot.summary import summarise
from bot.watch.model import Outgoing, Watch
from bot.watch.runner import Attach

LEAD_S: Final = 3600.0  # the bounces of the hour before the watch started belong to the incident
log = get_logger(__name__)


def incident_charter(client: AsyncWebClient, store: Store) -> Attach:
    """An ``Attach`` drawing the channel's incident and sharing it in the watch's thread."""

    async def attach(watch: Watch, item: Outgoing) -> None:
        del item  # the chart covers the whole incident, not one change
        from bot.render.chart import ChartUnavailable, chart_png  # noqa: PLC0415 - an optional extra

        since = watch.started_at - LEAD_S
        events = await ChannelEvents(store).since(watch.channel, since)
        summary = await asyncio.to_thread(summarise, events, since=since)  # CPU work, off the event loop
        if not summary.bounces:
            return
        try:
            png, _ = await asyncio.to_thread(chart_png, summary, language=watch.language)
        except ChartUnavailable:
            log.info("no incident chart: the chart extra is not installed", channel=watch.channel)
            return
        ui = knowledge.load(watch.language).ui
        try:
            await client.files_upload_v2(
                content=png,
                filename=f"incident-{watch.domain}.png",
                title=ui["summary_incident_chart"],
                alt_txt=ui["summary_incident_chart"],
                channel=watch.channel,
                thread_ts=watch.thread_ts,
                initial_comment=ui["summary_incident_chart"],
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("incident chart not shared", channel=watch.channel, domain=watch.domain, error=str(exc))

    return attach
