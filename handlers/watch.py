"""``/mailflow watch``, ``unwatch`` and ``watches``: incident watches, answered in a thread.

Thin: the arguments are read by ``bot.watch.parse_watch_args`` (within the settings' bounds),
the state lives in Redis through the bot's ``WatchBook``, and ``mailflow worker`` runs the
re-probes, posting each change of verdict in the thread this command opened. A bot without
Redis has no book and says so; a watch needs the bot in the channel to post there.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import InputError
from bot.render.blocks import escape, notice_message
from bot.store import StoreUnavailable
from handlers.args import History, UsageError, host_name
from handlers.commands import COMMAND, CommandContext, Subcommand, register, usage_text

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.watch import WatchBook, WatchReply


@dataclass(frozen=True, slots=True)
class Watches:
    """What the bot needs for watches: the book in Redis, and the settings that bound them."""

    book: WatchBook
    settings: Settings


@dataclass(frozen=True, slots=True)
class WatchText:
    text: str  # DOMAIN [--every 5m] [--for 2h], read against the settings when run


@dataclass(frozen=True, slots=True)
class NoArgs:
    pass


def parse_watch(tokens: list[str], rest: str) -> WatchText:
    del rest
    return WatchText(" ".join(tokens))


def parse_unwatch(tokens: list[str], rest: str) -> History:
    del rest
    if len(tokens) != 1:
        raise UsageError("name_one_domain")
    return History(host_name(tokens[0]).rsplit("@", 1)[-1])


def parse_watches(tokens: list[str], rest: str) -> NoArgs:
    del tokens, rest
    return NoArgs()


async def _watches(ctx: CommandContext) -> Watches | None:
    """The bot's watches, or None after telling the user this bot has none (no Redis)."""
    if ctx.bot.watches is None:
        await ctx.private(notice_message(escape(ctx.ui["watch_unavailable"])))
    return ctx.bot.watches


async def run_watch(ctx: CommandContext, args: WatchText) -> None:
    from bot.watch import parse_watch_args, start_watch  # noqa: PLC0415 - arq loads only with watches

    watches = await _watches(ctx)
    if watches is None:
        return
    try:
        watch_args = parse_watch_args(args.text, watches.settings)
    except InputError as exc:
        await ctx.private(notice_message(usage_text(str(exc), ctx.ui)))
        return
    reply = await ctx.thread()
    if reply.using_fallback:  # the bot is not in the channel: it could not post the changes there
        await reply.send(notice_message(escape(ctx.ui["watch_not_member"])))
        return
    start = start_watch(
        watches.book,
        watch_args,
        channel=reply.primary.channel,
        thread_ts=reply.primary.thread_ts,
        user=ctx.user,
        language=ctx.lang,
    )
    await reply.send(notice_message(await _or_unavailable(ctx, start)))


async def run_unwatch(ctx: CommandContext, args: History) -> None:
    from bot.watch import stop_watch  # noqa: PLC0415

    watches = await _watches(ctx)
    if watches is not None:
        stop = stop_watch(watches.book, args.domain, channel=ctx.channel, language=ctx.lang)
        await (await ctx.thread()).send(notice_message(await _or_unavailable(ctx, stop)))


async def run_watches(ctx: CommandContext, args: NoArgs) -> None:
    from bot.watch import list_watches  # noqa: PLC0415

    del args
    watches = await _watches(ctx)
    if watches is not None:
        answer = await _or_unavailable(ctx, list_watches(watches.book, channel=ctx.channel, language=ctx.lang))
        await ctx.private(notice_message(answer))


async def _or_unavailable(ctx: CommandContext, work: Awaitable[WatchReply]) -> str:
    """The reply's text, or "watches are unavailable" while Redis does not answer."""
    try:
        return (await work).text
    except StoreUnavailable:
        return escape(ctx.ui["watch_unavailable"])


register(
    Subcommand("watch", f"{COMMAND} watch <domain> [--every 5m] [--for 2h]", "slack_help_watch", run_watch),
    parse_watch,
)
register(Subcommand("unwatch", f"{COMMAND} unwatch <domain>", "slack_help_unwatch", run_unwatch), parse_unwatch)
register(Subcommand("watches", f"{COMMAND} watches", "slack_help_watches", run_watches), parse_watches)
