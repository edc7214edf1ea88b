"""``/mailflow``: acknowledged at once, then answered in a thread under a line saying who asked what.

The subcommands are rows of ``SUBCOMMANDS`` (name, usage line, help label, what to run) with
their argument parsers in ``handlers.args.PARSERS``; ``register`` adds one (``watch`` and
friends arrive that way). ``code`` (``/mailflow 4.4.316``) has no parser row: a bare code is
recognised by ``parse_command`` itself.

Every command is acknowledged with an empty body before anything else happens (Slack wants an
answer within 3 s; probes take longer). Then, in the background: once per ``trigger_id``
(Socket Mode may redeliver), the rate limit, the reader's language, and the work. Usage errors,
help, "not a bounce" and the rate-limit notice are ephemeral (only the user sees them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.diagnose import DiagnoseRequest
from bot.explain import explain_code
from bot.parse_pool import ParseTooComplex
from bot.render.blocks import (
    Message,
    code_message,
    escape,
    help_message,
    history_message,
    label,
    notice_message,
    request_message,
)
from bot.store import first_delivery
from handlers.args import (
    PARSERS,
    Diagnose,
    ExplainCode,
    ExplainText,
    History,
    Parser,
    UsageError,
    parse_command,
    slack_unescape,
)
from handlers.bot import FallbackReply, SlackBot, log, ui_for, use_fallback
from handlers.io import ResponseReply, ResponseUrl, SlackSendError, ThreadReply

COMMAND = "/mailflow"


@dataclass
class CommandContext:
    bot: SlackBot
    user: str
    channel: str
    team: str | None
    text: str
    respond: ResponseUrl
    lang: str
    forced: bool

    @property
    def ui(self) -> dict[str, str]:
        return ui_for(self.lang)

    async def private(self, message: Message) -> None:
        await ResponseReply(self.respond, in_channel=False).send(message)

    async def thread(self) -> FallbackReply:
        """Post "<user>: /mailflow ..." in the channel; the answer goes in its thread."""
        fallback = ResponseReply(self.respond, in_channel=True)
        parent = ThreadReply(self.bot.client, self.channel, None)
        try:
            await parent.send(request_message(self.user, f"{COMMAND} {self.text}", self.ui))
        except SlackSendError as exc:
            if not use_fallback(exc):
                raise
            log.info("%s: answering through response_url", exc)
            reply = FallbackReply(ThreadReply(self.bot.client, self.channel, None), fallback)
            reply.using_fallback = True
            return reply
        return FallbackReply(ThreadReply(self.bot.client, parent.channel, parent.ts), fallback)


Run = Callable[[CommandContext, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subcommand:
    name: str
    usage: str  # shown in help and with a usage error
    help_key: str  # the UI label describing it
    run: Run


async def run_code(ctx: CommandContext, args: ExplainCode) -> None:
    message = code_message(args.code, explain_code(args.code, ctx.lang), ctx.ui)
    await (await ctx.thread()).send(message)


async def run_explain(ctx: CommandContext, args: ExplainCode | ExplainText) -> None:
    if isinstance(args, ExplainCode):
        await run_code(ctx, args)
        return
    try:
        bounce = await ctx.bot.read(args.text)
    except ParseTooComplex as exc:
        await ctx.private(notice_message(ctx.bot.unreadable(ctx.ui, exc)))
        return
    if not bounce.is_ndr:
        await ctx.private(notice_message(f"{escape(ctx.ui['not_a_bounce'])}: {escape(bounce.why_not or '')}"))
        return
    await ctx.bot.answer_bounce(await ctx.thread(), bounce, ctx.lang, forced=ctx.forced)


async def run_diagnose(ctx: CommandContext, args: Diagnose) -> None:
    request = DiagnoseRequest(args.target, args.smart_host, None, args.require_tls, args.tls_domain)
    reply = await ctx.thread()
    await ctx.bot.diagnose_into(
        reply,
        request,
        lang=ctx.lang,
        forced=ctx.forced,
        fresh=False,
        channel=reply.primary.channel,
        user=ctx.user,
        team=ctx.team,
    )


async def run_history(ctx: CommandContext, args: History) -> None:
    entries = await ctx.bot.service.history(args.domain, 10)
    await (await ctx.thread()).send(history_message(args.domain, entries, ctx.ui))


async def run_help(ctx: CommandContext, args: object) -> None:
    del args
    await ctx.private(help_message(ctx.ui, usages()))


SUBCOMMANDS: dict[str, Subcommand] = {}


def register(sub: Subcommand, parser: Parser | None = None) -> None:
    """Add (or replace) a subcommand; ``parser`` turns its arguments into what ``sub.run`` takes."""
    SUBCOMMANDS[sub.name] = sub
    if parser is not None:
        PARSERS[sub.name] = parser


register(Subcommand("help", f"{COMMAND} help", "slack_help_title", run_help))
register(Subcommand("code", f"{COMMAND} <code>", "slack_help_code", run_code))
register(Subcommand("explain", f"{COMMAND} explain <pasted bounce>", "slack_help_explain", run_explain))
register(
    Subcommand(
        "diagnose",
        f"{COMMAND} diagnose <domain> [--smart-host H] [--require-tls] [--tls-domain N]",
        "slack_help_diagnose",
        run_diagnose,
    )
)
register(Subcommand("history", f"{COMMAND} history <domain>", "slack_help_history", run_history))


def usages() -> list[tuple[str, str]]:
    return [(s.usage, s.help_key) for s in SUBCOMMANDS.values() if s.name != "help"]


def usage_text(problem: str, ui: dict[str, str]) -> str:
    lines = "\n".join(f"`{escape(usage)}`" for usage, _ in usages())
    return f"{escape(problem)}\n*{label(ui, 'slack_usage')}*\n{lines}"


async def handle(bot: SlackBot, body: dict[str, Any]) -> None:
    """Everything after the ack, for one command."""
    respond = bot.response_url(body)
    request_id = str(body.get("trigger_id") or "")
    if request_id and not await first_delivery(bot.store, f"command:{request_id}"):
        log.info("command %s delivered again: ignored", request_id)
        return
    user = str(body.get("user_id", ""))
    channel = str(body.get("channel_id", ""))
    text = str(body.get("text", "")).strip()
    try:
        invocation = parse_command(text, PARSERS)
    except UsageError as exc:
        lang = await bot.language(user)
        await ResponseReply(respond, in_channel=False).send(notice_message(usage_text(exc.says(lang), ui_for(lang))))
        return
    lang = await bot.language(user, invocation.language)
    shown = slack_unescape(text)  # Slack sent &, < and > escaped; the request line escapes them once
    ctx = CommandContext(bot, user, channel, body.get("team_id"), shown, respond, lang, invocation.language is not None)
    if invocation.name != "help":
        refusal = await bot.allowed(user, channel, lang)
        if refusal is not None:
            await ctx.private(refusal)
            return
    sub = SUBCOMMANDS.get(invocation.name)
    if sub is None:
        await ctx.private(
            notice_message(
                usage_text(UsageError("unknown_command", value=repr(invocation.name)).says(ctx.lang), ctx.ui)
            )
        )
        return
    await sub.run(ctx, invocation.args)


def attach(app: AsyncApp, bot: SlackBot) -> None:
    @app.command(COMMAND)
    async def on_mailflow(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("slash")

        async def tell(error_id: str) -> None:
            await ResponseReply(bot.response_url(body), in_channel=False).send(bot.error_message(error_id))

        bot.spawn(handle(bot, body), what=f"{COMMAND} command", on_error=tell)
