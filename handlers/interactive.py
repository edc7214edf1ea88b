"""Interactivity: checklist ticks, the run / re-run buttons, and the "Explain this bounce" shortcut.

Each is acknowledged at once; the work runs in the background, once per ``trigger_id``.

- ``tick``: the step's state goes to the store (``mailflow:v1:checklist:<channel>:<ts>``, one
  hash field per step), then the message is redrawn from the blocks Slack sent back, with every
  step's checkbox showing who ticked it. An action without the message (on an ephemeral answer)
  is redrawn from the copy kept when the answer was posted (``SlackBot.keep_answer``; the step's
  block_id names it), through the response_url.
- ``run_probes`` (on an explanation): a new "diagnosing…" reply in the same thread.
  ``rerun_probes`` (on a diagnosis): the same message, probes run again bypassing the cache.
- the message shortcut reads the message (its text, its ``.eml``/``.txt`` files) and answers in
  its thread; "not a bounce" is said only to the user who asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.diagnose import DiagnoseRequest
from bot.parse import Bounce
from bot.render.blocks import (
    ACTION_RERUN,
    ACTION_RUN,
    ACTION_TICK,
    ProbeTarget,
    apply_ticks,
    escape,
    notice_message,
    step_of,
)
from bot.store import first_delivery
from handlers.bot import FallbackReply, SlackBot, log, ui_for
from handlers.events import bounces_in, read_text
from handlers.io import ResponseReply, ResponseUrl, SlackSendError, ThreadReply, call

SHORTCUT = "explain_bounce"


def _ids(body: dict[str, Any]) -> tuple[str, str, str, str | None]:
    """(user, channel, message ts, thread ts) of an action or shortcut payload."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    ts = str(message.get("ts") or container.get("message_ts") or body.get("message_ts") or "")
    thread_ts = message.get("thread_ts") or container.get("thread_ts")
    return user, channel, ts, str(thread_ts) if thread_ts else None


async def _once(bot: SlackBot, body: dict[str, Any]) -> bool:
    request_id = str(body.get("trigger_id") or "")
    if request_id and not await first_delivery(bot.store, f"interaction:{request_id}"):
        log.info("interaction %s delivered again: ignored", request_id)
        return False
    return True


class _Target(Protocol):
    @property
    def language(self) -> str | None: ...


T = TypeVar("T", bound=_Target)


@dataclass(frozen=True, slots=True)
class ButtonPress(Generic[T]):
    """A run button pressed once, by a user allowed to run it now: who, where, in which language."""

    target: T
    respond: ResponseUrl
    user: str
    channel: str
    ts: str
    thread_ts: str | None
    lang: str


async def button_press(
    bot: SlackBot, body: dict[str, Any], decode: Callable[[str], T | None], what: str
) -> ButtonPress[T] | None:
    """The start every run button shares: a redelivery ignored, its value decoded (an
    unreadable one logged), the reader's language, and the rate limit (a refusal is told to the
    presser alone). None when there is nothing to run."""
    respond = bot.response_url(body)
    if not await _once(bot, body):
        return None
    user, channel, ts, thread_ts = _ids(body)
    action = (body.get("actions") or [{}])[0]
    target = decode(str(action.get("value", "")))
    if target is None:
        log.warning("%s button with an unreadable value: %r", what, str(action.get("value", ""))[:200])
        return None
    lang = await bot.language(user, target.language)
    refusal = await bot.allowed(user, channel, lang)
    if refusal is not None:
        await ResponseReply(respond, in_channel=False).send(refusal)
        return None
    return ButtonPress(target, respond, user, channel, ts, thread_ts, lang)


async def on_tick(bot: SlackBot, body: dict[str, Any]) -> None:
    respond = bot.response_url(body)
    if not await _once(bot, body):
        return
    user, channel, ts, _ = _ids(body)
    action = (body.get("actions") or [{}])[0]
    step = step_of(str(action.get("block_id", "")))
    if step is None or not channel or not ts:
        return
    step_id, answer_id = step
    done = bool(action.get("selected_options"))
    ticks = await bot.tick(channel=channel, ts=ts, step=step_id, done=done, user=user)
    message = body.get("message")
    if message is None:
        # Slack sends no message with an action on an ephemeral answer (the shortcut's, for
        # one): redraw from the copy kept when it was posted, never from nothing.
        kept = await bot.kept_answer(answer_id) if answer_id else None
        if kept is None:
            log.info("tick on %s:%s recorded; no copy of the answer to redraw it from", channel, ts)
            return
        message = {"blocks": kept.blocks, "text": kept.text}
    lang = await bot.language(user)
    blocks = apply_ticks(message.get("blocks") or [], ticks, ui_for(lang))
    text = str(message.get("text") or " ")
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    if not ephemeral:
        try:
            await call("chat.update", bot.client.chat_update(channel=channel, ts=ts, blocks=blocks, text=text))
            return
        except SlackSendError as exc:
            log.info("%s: redrawing the checklist through response_url", exc)
    await respond.post({"text": text, "blocks": blocks, "replace_original": True})


async def on_probe_button(bot: SlackBot, body: dict[str, Any], *, fresh: bool) -> None:
    press = await button_press(bot, body, ProbeTarget.decode, "probe")
    if press is None:
        return
    target, channel = press.target, press.channel
    # Re-run: the diagnosis the button is on is redrawn in place. Run: a new message, which this
    # response_url could not update afterwards (it would replace the explanation instead).
    fallback = ResponseReply(press.respond, in_channel=True, replace=fresh, own_updates=fresh)
    if fresh:  # the diagnosis message itself is redrawn
        reply = FallbackReply(ThreadReply(bot.client, channel, press.thread_ts, ts=press.ts), fallback)
    else:  # a new reply in the explanation's thread
        reply = FallbackReply(ThreadReply(bot.client, channel, press.thread_ts or press.ts), fallback)
    request = DiagnoseRequest(target.target, target.smart_host, target.code, target.require_tls, target.tls_domain)
    team = (body.get("team") or {}).get("id")
    await bot.diagnose_into(
        reply,
        request,
        lang=press.lang,
        forced=target.language is not None,
        fresh=fresh,
        channel=channel,
        user=press.user,
        team=team,
    )


async def on_shortcut(bot: SlackBot, body: dict[str, Any]) -> None:
    respond = bot.response_url(body)
    if not await _once(bot, body):
        return
    user, channel, ts, thread_ts = _ids(body)
    lang = await bot.language(user)
    ui = ui_for(lang)
    private = ResponseReply(respond, in_channel=False)
    notes: list[str] = []
    message = body.get("message") or {}
    text_bounce = await read_text(bot, message)
    bounces = await bounces_in(bot, message, notes, ui, text_bounce)
    for note in notes:
        await private.send(notice_message(note))
    if not bounces:
        if isinstance(text_bounce, Bounce):  # else the notes said it was too complex to read
            why = text_bounce.why_not or ""
            await private.send(notice_message(f"{escape(ui['not_a_bounce'])}: {escape(why)}"))
        return
    refusal = await bot.allowed(user, channel, lang)
    if refusal is not None:
        await private.send(refusal)
        return
    for bounce in bounces:
        reply = FallbackReply(
            ThreadReply(bot.client, channel, thread_ts or ts), ResponseReply(respond, in_channel=False)
        )
        await bot.answer_bounce(reply, bounce, lang, forced=False)


def attach(app: AsyncApp, bot: SlackBot) -> None:
    def teller(body: dict[str, Any]) -> Any:
        async def tell(error_id: str) -> None:
            await ResponseReply(bot.response_url(body), in_channel=False).send(bot.error_message(error_id))

        return tell

    @app.action(ACTION_TICK)
    async def on_tick_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("action")
        bot.spawn(on_tick(bot, body), what="checklist tick", on_error=teller(body))

    @app.action(ACTION_RUN)
    async def on_run_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("action")
        bot.spawn(on_probe_button(bot, body, fresh=False), what="run probes", on_error=teller(body))

    @app.action(ACTION_RERUN)
    async def on_rerun_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("action")
        bot.spawn(on_probe_button(bot, body, fresh=True), what="re-run probes", on_error=teller(body))

    @app.shortcut(SHORTCUT)
    async def on_shortcut_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        bot.count("shortcut")
        bot.spawn(on_shortcut(bot, body), what="explain shortcut", on_error=teller(body))
