"""Events: bounces pasted or uploaded in channels, and the App Home tab.

A message is answered only when the parser says it is a bounce (``is_ndr``): ordinary chat,
however many numbers it holds, never triggers a reply. The answer goes in the message's thread
(or the thread it was posted in). Skipped: bot messages, edits and deletions (any subtype but
``file_share`` and ``thread_broadcast``), and events already handled (``first_delivery`` on
the event id: Slack's retries and Socket Mode redeliveries, also across processes sharing Redis).

The same bounce pasted again in a channel within ``paste_window_s`` gets a one-line reply
pointing at the first answer: ``SET NX mailflow:v1:paste:<channel>:<fingerprint>`` holds the
first thread's ts, recorded once the answer is posted (a thread holding only an error id is
never linked to). The fingerprint is the bounce's primary code, its text, recipients and remote
server, so the same NDR copied with other line breaks or quoting is still the same.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.parse import Bounce
from bot.parse_pool import ParseTooComplex
from bot.render.blocks import escape, home_view, label, notice_message
from bot.store import StoreError, first_delivery, key
from bot.store.keys import address_hash
from handlers.bot import SlackBot, log, ui_for
from handlers.commands import usages
from handlers.io import (
    DownloadError,
    FileTooLarge,
    SlackSendError,
    ThreadReply,
    call,
    download,
    ephemeral,
    text_field,
)

ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
FILE_SUFFIXES = (".eml", ".txt", ".msg.txt", ".log")
FILE_TYPES = frozenset({"email", "text", "eml"})
MAX_FILES = 3  # bounce files read per message
MAX_SHARED = 10  # files looked at per message (Slack shares at most 10): files.info calls for stubs


def fingerprint(bounce: Bounce) -> str:
    """The same bounce, however it was copied: primary code and text, recipients, remote server."""
    primary = bounce.primary
    parts = [
        primary.status if primary else "",
        primary.reply_code if primary else "",
        " ".join((primary.text if primary else "").lower().split()),
        *sorted(r.lower() for r in bounce.recipients),
        (bounce.remote_host or "").lower(),
        bounce.remote_ip or "",
    ]
    # Keyed (``address_hash``): the recipients are in it, and the key name is in the store.
    return address_hash("\x1f".join(p or "" for p in parts), 32)


def wanted_file(file: dict[str, Any]) -> bool:
    name = str(file.get("name") or "").lower()
    return name.endswith(FILE_SUFFIXES) or str(file.get("filetype") or "").lower() in FILE_TYPES


def is_stub(file: dict[str, Any]) -> bool:
    """A file Slack shared as ``{"id": "F…", "file_access": "check_file_info"}``: files.info says the rest."""
    if not file.get("id"):
        return False
    return file.get("file_access") == "check_file_info" or not (file.get("name") or file.get("url_private"))


def maybe_wanted(file: Any) -> bool:
    """Worth a look: a bounce-looking file, or a stub whose name is not known yet."""
    return isinstance(file, dict) and (is_stub(file) or wanted_file(file))


async def _file_info(bot: SlackBot, file: dict[str, Any]) -> dict[str, Any]:
    """The whole file object: ``file`` itself, or files.info's answer for a stub (or one without its address)."""
    if not is_stub(file) and (file.get("url_private") or not file.get("id")):
        return file
    info = (await call("files.info", bot.client.files_info(file=str(file["id"])))).get("file")
    if not isinstance(info, dict):
        raise DownloadError("files.info answered no file")
    return info


async def _file_bytes(bot: SlackBot, file: dict[str, Any]) -> bytes:
    size = file.get("size")
    if isinstance(size, int) and size > bot.config.upload_max_bytes:
        raise FileTooLarge(f"{size} bytes")
    url = str(file.get("url_private_download") or file.get("url_private") or "")
    if not url:
        raise DownloadError("no download address")
    return await download(
        bot.session,
        url,
        token=bot.config.bot_token,
        api_url=bot.config.api_url,
        max_bytes=bot.config.upload_max_bytes,
        timeout_s=bot.config.http_timeout_s,
    )


async def read_text(bot: SlackBot, message: dict[str, Any]) -> Bounce | ParseTooComplex:
    """The message's text read as a bounce, or why it could not be read in time."""
    try:
        return await bot.read(str(message.get("text") or ""))
    except ParseTooComplex as exc:
        return exc


async def bounces_in(
    bot: SlackBot,
    message: dict[str, Any],
    notes: list[str],
    ui: dict[str, str],
    text_bounce: Bounce | ParseTooComplex | None = None,
) -> list[Bounce]:
    """The bounces in a message: its uploaded ``.eml``/``.txt`` files, else its text (read already,
    or now). An input not read in time adds a "too complex" line to ``notes``."""
    found: list[Bounce] = []
    read = 0
    for shared in [f for f in message.get("files") or [] if maybe_wanted(f)][:MAX_SHARED]:
        if read >= MAX_FILES:
            break
        name = escape(str(shared.get("name") or shared.get("id") or "file"))
        try:
            file = await _file_info(bot, shared)  # a stub's name and type are known only now
            if not wanted_file(file):
                continue
            read += 1
            name = escape(str(file.get("name") or file.get("id") or "file"))
            data = await _file_bytes(bot, file)
        except FileTooLarge:
            notes.append(label(ui, "slack_file_too_large", name=name, limit=bot.config.upload_max_bytes))
            continue
        except (DownloadError, SlackSendError) as exc:
            log.warning("file %s not read: %s", shared.get("id"), exc)
            notes.append(label(ui, "slack_file_unreadable", name=name))
            continue
        try:
            bounce = await bot.read(data)
        except ParseTooComplex as exc:
            notes.append(bot.unreadable(ui, exc, name))
            continue
        if bounce.is_ndr:
            found.append(bounce)
    if not found:
        text = text_bounce or await read_text(bot, message)
        if isinstance(text, ParseTooComplex):
            notes.append(bot.unreadable(ui, text))
        elif text.is_ndr:
            found.append(text)
    return found


async def on_message(bot: SlackBot, body: dict[str, Any], event: dict[str, Any]) -> None:
    # Cheap test first: most messages are chat, and a text-only message that is no bounce needs
    # neither the store nor the user's language.
    text_bounce = await read_text(bot, event)
    files = [f for f in event.get("files") or [] if maybe_wanted(f)]
    if not files and isinstance(text_bounce, Bounce) and not text_bounce.is_ndr:
        return
    event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
    if not await first_delivery(bot.store, f"event:{event_id}"):
        log.info("event %s delivered again: ignored", event_id)
        return
    channel = str(event.get("channel", ""))
    user = str(event.get("user", ""))
    ts = str(event.get("ts", ""))
    thread_ts = str(event.get("thread_ts") or ts)
    lang = await bot.language(user)
    ui = ui_for(lang)
    notes: list[str] = []
    bounces = await bounces_in(bot, event, notes, ui, text_bounce)
    for note in notes:
        await ThreadReply(bot.client, channel, thread_ts).send(notice_message(note))
    if not bounces:
        return
    refusal = await bot.allowed(user, channel, lang)
    if refusal is not None:
        await ephemeral(bot.client, channel, user, refusal, thread_ts)
        return
    for bounce in bounces:
        paste_key = key("paste", channel, fingerprint(bounce))
        first = await _first_paste(bot, paste_key, thread_ts)
        if first is not None:
            link = await _permalink(bot, channel, first)
            await ThreadReply(bot.client, channel, thread_ts).send(
                notice_message(label(ui, "slack_duplicate", link=link))
            )
            continue
        await bot.answer_bounce(ThreadReply(bot.client, channel, thread_ts), bounce, lang, forced=False)
        await _answered(bot, paste_key, thread_ts)  # only now: a failed answer leaves no link to its thread


async def _first_paste(bot: SlackBot, paste_key: str, thread_ts: str) -> str | None:
    """None when this bounce has no answer in the channel yet; else the ts of the thread that has one."""
    try:
        first = await bot.store.get(paste_key)
    except StoreError as exc:
        log.warning("paste dedup unavailable: %s", exc)
        return None
    if first is None or first.decode() == thread_ts:
        return None  # new, expired meanwhile, or the same thread: answer again
    return first.decode()


async def _answered(bot: SlackBot, paste_key: str, thread_ts: str) -> None:
    """Record the thread that answered the bounce (the first one stays when two answered at once)."""
    try:
        await bot.store.set_nx(paste_key, thread_ts.encode(), bot.config.paste_window_s)
    except StoreError as exc:
        log.warning("answered paste not recorded: %s", exc)


async def _permalink(bot: SlackBot, channel: str, ts: str) -> str:
    try:
        response = await call("chat.getPermalink", bot.client.chat_getPermalink(channel=channel, message_ts=ts))
        permalink = text_field(response, "permalink")
        if permalink is None:
            raise KeyError("permalink")
        return f"<{permalink}>"
    except (SlackSendError, KeyError) as exc:
        log.warning("no permalink for %s: %s", ts, exc)
        return f"`{ts}`"


async def on_home(bot: SlackBot, body: dict[str, Any], event: dict[str, Any]) -> None:
    if event.get("tab") != "home":
        return
    user = str(event.get("user", ""))
    lang = await bot.language(user)
    view = home_view(ui_for(lang), usages(), await bot.recent(body.get("team_id")))
    await call("views.publish", bot.client.views_publish(user_id=user, view=view))


def attach(app: AsyncApp, bot: SlackBot) -> None:
    @app.event("message")
    async def on_message_event(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("subtype") not in ANSWERED_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return  # bot messages, edits, deletions, joins: never answered
        bot.count("event")

        async def tell(error_id: str) -> None:
            thread = str(event.get("thread_ts") or event.get("ts"))
            await ThreadReply(bot.client, str(event.get("channel")), thread).send(bot.error_message(error_id))

        bot.spawn(on_message(bot, body, event), what="message event", on_error=tell)

    @app.event("app_home_opened")
    async def on_home_event(body: dict[str, Any], event: dict[str, Any]) -> None:
        bot.count("event")
        bot.spawn(on_home(bot, body, event), what="App Home")
