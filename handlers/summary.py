"""``/mailflow summary [--since 2h]``: the war-room view of one channel, with its chart in the thread.

Thin: the channel's events come from the store (``bot.store.ChannelEvents``: the bounces the bot
answered there and the diagnoses it ran, kept a week, without addresses), the table is
``bot.summary`` + ``bot.render.summary``, the chart ``bot.render.chart`` (drawn in a thread:
it is CPU work, kept off the event loop). The chart goes into the thread with Slack's upload
flow, files.getUploadURLExternal + files.completeUploadExternal (``upload_png``); files.upload
is retired. A bot without the chart extra answers with the table and says why there is no chart.

The two hooks the bot calls, ``record_bounce`` and ``record_diagnosis``, never raise: a lost
event must not cost the answer it describes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.explain import explain_bounce
from bot.parse import Bounce
from bot.render.blocks import MAX_BLOCKS, Message, context, escape, label
from bot.render.summary import summary_message
from bot.settings import format_duration, parse_duration
from bot.store import ChannelEvents
from bot.store.events import KEEP_S
from bot.summary import Summary, diagnosis_event, event_from_bounce, recipient_key, summarise
from handlers.args import UsageError
from handlers.commands import COMMAND, CommandContext, Subcommand, register
from handlers.io import SlackSendError, call, new_error_id

if TYPE_CHECKING:
    from bot.service import Answer
    from handlers.bot import SlackBot

log = logging.getLogger("mailflow.slack")
DEFAULT_SINCE_S = 24 * 3600.0
CHART_NAME = "mailflow-summary.png"


@dataclass(frozen=True, slots=True)
class SummaryArgs:
    since_s: float = DEFAULT_SINCE_S


def parse_summary(tokens: list[str], rest: str) -> SummaryArgs:
    del rest
    since_s = DEFAULT_SINCE_S
    i = 0
    while i < len(tokens):
        name, eq, inline = tokens[i].partition("=")
        if name != "--since":
            raise (
                UsageError("unknown_option", option=tokens[i])
                if tokens[i].startswith("-")
                else UsageError("only_since")
            )
        value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else "")
        if not value:
            raise UsageError("since_missing")
        try:
            since_s = parse_duration(value)
        except ValueError as exc:
            raise UsageError("since_bad", reason=str(exc)) from None
        if since_s > KEEP_S:
            raise UsageError("since_max", limit=format_duration(KEEP_S))
        i += 1 if eq else 2
    return SummaryArgs(since_s)


# -- the hooks ----------------------------------------------------------------------------------


def _channel_of(reply: Any) -> str | None:
    """The channel a reply posts in (a ThreadReply, or the thread side of a FallbackReply)."""
    target = getattr(reply, "primary", reply)
    channel = getattr(target, "channel", None)
    return channel if isinstance(channel, str) and channel else None


async def record_bounce(bot: SlackBot, reply: Any, bounce: Bounce) -> None:
    """Count a bounce the bot answered in the reply's channel."""
    channel = _channel_of(reply)
    if channel is None:
        return
    try:
        explanation = explain_bounce(bounce)
        # The deployment's key (MAILFLOW_HASH_KEY, or the one kept in the store in Socket Mode),
        # else the signing secret, else the bot token.
        secret = bot.config.hash_key or bot.config.signing_secret or bot.config.bot_token
        event = event_from_bounce(bounce, explanation, at=time.time(), recipients_key=recipient_key(secret))
        await ChannelEvents(bot.store).record(channel, event)
    except Exception:  # a lost event is logged, never the answer's failure
        log.exception("summary event not recorded")


async def record_diagnosis(bot: SlackBot, channel: str, domain: str, answer: Answer) -> None:
    """Count a diagnosis the bot ran in ``channel``."""
    try:
        verdict = answer.diagnosis.verdict
        event = diagnosis_event(domain, verdict.code, verdict.failure, at=time.time())
        await ChannelEvents(bot.store).record(channel, event)
    except Exception:
        log.exception("summary event not recorded")


# -- the chart ----------------------------------------------------------------------------------


async def draw_chart(summary: Summary, language: str) -> tuple[bytes | None, list[str]]:
    """The PNG (None without the chart extra or without bounces) and notes, drawn off the event loop."""
    from bot.render.chart import ChartUnavailable, chart_png  # noqa: PLC0415 - an optional extra

    if not summary.bounces:
        return None, []
    try:
        return await asyncio.to_thread(chart_png, summary, language=language)
    except ChartUnavailable:
        return None, ["missing"]


async def upload_png(
    client: AsyncWebClient,
    png: bytes,
    *,
    channel: str,
    thread_ts: str | None,
    title: str,
    comment: str | None = None,
    filename: str = CHART_NAME,
) -> None:
    """Share ``png`` in the thread: files.getUploadURLExternal, the bytes to its URL, then
    files.completeUploadExternal (slack_sdk's ``files_upload_v2`` runs the three steps)."""
    await call(
        "files.completeUploadExternal",
        client.files_upload_v2(
            content=png,
            filename=filename,
            title=title,
            alt_txt=title,
            channel=channel,
            thread_ts=thread_ts,
            initial_comment=comment,
        ),
    )


# -- the command --------------------------------------------------------------------------------


async def run_summary(ctx: CommandContext, args: SummaryArgs) -> None:
    now = time.time()
    events = await ChannelEvents(ctx.bot.store).since(ctx.channel, now - args.since_s)
    # A busy channel holds thousands of events: counting and rendering them is CPU work, done
    # in a thread like the chart, so the event loop keeps acknowledging Slack meanwhile.
    summary = await asyncio.to_thread(summarise, events, since=now - args.since_s, since_s=args.since_s)
    window = format_duration(args.since_s)
    png, notes = await draw_chart(summary, ctx.lang)
    chart_note = None
    if "missing" in notes:
        chart_note = label(ctx.ui, "summary_chart_missing")
    elif notes:  # the chart's labels fell back to English (no font for the reader's script)
        chart_note = label(ctx.ui, "summary_chart_english")
    reply = await ctx.thread()
    message = await asyncio.to_thread(
        summary_message, summary, ctx.ui, language=ctx.lang, window=window, chart_note=chart_note
    )
    await reply.send(message)
    if png is None or reply.using_fallback:  # outside the channel, the bot cannot share a file there
        return
    title = label(ctx.ui, "summary_slack_title", window=window)
    try:
        await upload_png(
            ctx.bot.client, png, channel=reply.primary.channel, thread_ts=reply.primary.thread_ts, title=title
        )
    except SlackSendError as exc:
        error_id = new_error_id()
        log.warning("summary chart not uploaded: %s [error id %s]", exc, error_id)
        failed = label(ctx.ui, "summary_chart_failed", error_id=error_id)
        await reply.send(_with_note(message, failed))


def _with_note(message: Message, note: str) -> Message:
    """``message`` with one more context line at its end."""
    return Message([*message.blocks, context(escape(note))][-MAX_BLOCKS:], message.text)


register(
    Subcommand("summary", f"{COMMAND} summary [--since 2h]", "slack_help_summary", run_summary),
    parse_summary,
)
