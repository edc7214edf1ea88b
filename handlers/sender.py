"""``/mailflow sender contoso.com [--ip IP] [--mailfrom DOMAIN]`` and the "Check the sender"
button: thin.

Both post "Checking the sender…" in a thread (the command's own, or the explanation's), run
``bot.sender.service.SenderService`` (cached and single-flighted in the bot's store, kept in the
domain's history) with the probes' settings, and replace that message with the answer.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.probes.config import ProbeConfig
from bot.probes.guard import parse_ip
from bot.render.blocks import escape, notice_message
from bot.render.sender import sender_message, sender_progress_message
from bot.render.sender_target import ACTION_SENDER, SenderTarget
from bot.sender.conclude import SenderRequest
from bot.sender.dns import ascii_domain, plain_ip
from bot.sender.service import SenderService
from handlers.args import UsageError, host_name
from handlers.bot import FallbackReply, SlackBot, log, ui_for
from handlers.commands import COMMAND, CommandContext, Subcommand, register
from handlers.interactive import button_press
from handlers.io import ResponseReply, ThreadReply, new_error_id

_services: weakref.WeakKeyDictionary[SlackBot, SenderService] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class SenderArgs:
    domain: str
    ip: str | None = None
    mailfrom: str | None = None  # the MAIL FROM domain SPF is checked on, when not ``domain``


def _domain_arg(value: str) -> str:
    try:
        named = host_name(ascii_domain(value.rsplit("@", 1)[-1]))
    except ValueError:
        raise UsageError("not_domain", value=repr(value)) from None
    if parse_ip(named) is not None or "." not in named:
        raise UsageError("not_domain", value=repr(value))
    return named


def parse_sender(tokens: list[str], rest: str) -> SenderArgs:
    del rest
    domain: str | None = None
    ip: str | None = None
    mailfrom: str | None = None
    i = 0
    while i < len(tokens):
        name, eq, inline = tokens[i].partition("=")
        if name == "--mailfrom":
            value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else "")
            if not value:
                raise UsageError("not_domain", value=repr(value))
            mailfrom = _domain_arg(value)
            i += 1 if eq else 2
            continue
        if name == "--ip":
            value = inline if eq else (tokens[i + 1] if i + 1 < len(tokens) else "")
            ip = plain_ip(value) if value else None
            if ip is None:
                raise UsageError("ip", value=repr(value))
            i += 1 if eq else 2
            continue
        if tokens[i].startswith("-"):
            raise UsageError("unknown_option", option=tokens[i])
        if domain is not None:
            raise UsageError("one_domain", value=repr(tokens[i]))
        domain = _domain_arg(tokens[i])
        i += 1
    if domain is None:
        raise UsageError("which_sender")
    return SenderArgs(domain, ip, mailfrom)


def service_for(bot: SlackBot) -> SenderService:
    """One service per bot (its single-flight is shared by every request), with the probes' settings."""
    service = _services.get(bot)
    if service is None:
        config = getattr(bot.service, "config", None)
        service = SenderService(bot.store, config if isinstance(config, ProbeConfig) else ProbeConfig())
        _services[bot] = service
    return service


async def check_into(bot: SlackBot, reply: FallbackReply, request: SenderRequest, *, lang: str, channel: str) -> None:
    await reply.send(sender_progress_message(escape(request.name), lang))
    try:
        answer = await service_for(bot).check(request, language=lang)
    except Exception:
        # Never leave "checking…" standing: it becomes the error, with an id to find the log line.
        error_id = new_error_id()
        log.exception("sender check of %s failed [error id %s]", request.name, error_id)
        await reply.send(bot.error_message(error_id, lang))
        return
    ticks = await bot.ticks(channel, reply.ts)
    message = sender_message(answer.report, ui_for(lang), age_s=answer.age_s, from_cache=answer.from_cache, ticks=ticks)
    await reply.send(message)


async def run_sender(ctx: CommandContext, args: SenderArgs) -> None:
    reply = await ctx.thread()
    request = SenderRequest(args.domain, args.ip, mailfrom=args.mailfrom)
    await check_into(ctx.bot, reply, request, lang=ctx.lang, channel=reply.primary.channel)


async def on_sender_button(bot: SlackBot, body: dict[str, Any]) -> None:
    press = await button_press(bot, body, SenderTarget.decode, "sender")
    if press is None:
        return
    try:
        mailfrom = [f"--mailfrom={press.target.mailfrom}"] if press.target.mailfrom else []
        args = parse_sender([press.target.domain, *mailfrom], "")
        request = SenderRequest(args.domain, press.target.ip, mailfrom=args.mailfrom)
    except UsageError as exc:
        await ResponseReply(press.respond, in_channel=False).send(notice_message(escape(exc.says(press.lang))))
        return
    thread = ThreadReply(bot.client, press.channel, press.thread_ts or press.ts)
    reply = FallbackReply(thread, ResponseReply(press.respond, in_channel=True))
    await check_into(bot, reply, request, lang=press.lang, channel=press.channel)


register(
    Subcommand("sender", f"{COMMAND} sender <domain> [--ip IP] [--mailfrom DOMAIN]", "slack_help_sender", run_sender),
    parse_sender,
)


def attach(app: AsyncApp, bot: SlackBot) -> None:
    @app.action(ACTION_SENDER)
    async def on_sender_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("action")

        async def tell(error_id: str) -> None:
            await ResponseReply(bot.response_url(body), in_channel=False).send(bot.error_message(error_id))

        bot.spawn(on_sender_button(bot, body), what="check the sender", on_error=tell)
