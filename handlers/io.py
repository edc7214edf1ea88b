"""Talking back to Slack: replies in threads or through ``response_url``, locales, file downloads.

A ``Reply`` is where one answer goes; ``send`` posts it the first time and replaces it after
that (the "diagnosing…" message becoming the answer). ``ThreadReply`` uses chat.postMessage /
chat.update in a thread; ``ResponseReply`` the command's ``response_url`` (for channels the bot
is not in). Slack errors are translated here into ``SlackSendError`` with Slack's error code.

The bot token is only ever sent to Slack's own hosts and the configured API base (so a file
whose ``url_private`` points elsewhere is not fetched with it), and never logged.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.errors import MailflowError
from bot.knowledge import DEFAULT_LANGUAGE, LANGUAGES
from bot.render.blocks import Message
from bot.slack_answers import SDK_BODY_ERRORS, UNREADABLE, api_error_code
from bot.store import Store, StoreError, key

log = logging.getLogger("mailflow.slack")
NOT_MEMBER = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
SLACK_FILE_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")
RESPONSE_URL_HOST = "hooks.slack.com"  # where Slack's response_urls point (api.slack.com/interactivity/handling)


class SlackSendError(MailflowError):
    """Slack refused a call (or could not be reached); ``error`` is Slack's code (``not_in_channel``)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class DownloadError(MailflowError):
    """A shared file could not be fetched."""


class FileTooLarge(DownloadError):
    """The file is over the upload size cap: not read."""


def new_error_id() -> str:
    """A short id to quote in the log and to the user, to find one failure among many."""
    return secrets.token_hex(4)


def slack_error(method: str, exc: Exception) -> SlackSendError:
    if isinstance(exc, SlackApiError):
        return SlackSendError(method, api_error_code(exc.response))
    return SlackSendError(method, type(exc).__name__)


async def call(method: str, coro: Any) -> Any:
    """Await one Web API call; Slack and transport errors, and any answer that is not a JSON
    object (HTML error pages, plain text, empty or truncated bodies), become ``SlackSendError``."""
    try:
        response = await coro
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        raise slack_error(method, exc) from None
    except SDK_BODY_ERRORS:  # slack_sdk reading .get() off a body that is no object
        raise SlackSendError(method, UNREADABLE) from None
    if not isinstance(getattr(response, "data", None), dict):
        raise SlackSendError(method, UNREADABLE)
    return response


def text_field(response: Any, name: str) -> str | None:
    """``response[name]`` when it is a non-empty string (Slack's answers are not trusted to be)."""
    value = response.get(name)
    return value if isinstance(value, str) and value else None


class Reply(Protocol):
    async def send(self, message: Message) -> None:
        """Post ``message`` the first time, replace it afterwards."""


class ThreadReply:
    """A message in a thread (``thread_ts`` None: at the channel's top level)."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str | None, ts: str | None = None) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.ts = ts

    async def send(self, message: Message) -> None:
        if self.ts is None:
            response = await call(
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    **message.as_kwargs(),
                ),
            )
            ts = text_field(response, "ts")
            if ts is None:
                raise SlackSendError("chat.postMessage", "no_ts_in_answer")
            self.ts = ts
            self.channel = text_field(response, "channel") or self.channel
        else:
            await call("chat.update", self.client.chat_update(channel=self.channel, ts=self.ts, **message.as_kwargs()))


def response_url_allowed(url: URL, api_url: str) -> bool:
    """Whether the bot may post to ``url``: Slack's ``https://hooks.slack.com/``, or the origin of
    the configured Web API base (a local stand-in in tests). Parsed with yarl, as aiohttp connects."""
    if url.user is not None or url.password is not None:
        return False
    api = URL(api_url)
    if (url.scheme, url.host, url.port) == (api.scheme, api.host, api.port):
        return True
    return (url.scheme, url.host, url.port) == ("https", RESPONSE_URL_HOST, 443)


class ResponseUrl:
    """A command's, action's or shortcut's ``response_url``: JSON posted on the bot's shared session.

    Only to Slack (``response_url_allowed``): a payload naming another address, such as a cloud
    metadata service, is refused and logged before any connection."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        url: str | None,
        timeout_s: float = 10.0,
        *,
        api_url: str = "https://slack.com/api/",
    ) -> None:
        self.session = session
        self.url = url
        self.timeout_s = timeout_s
        self.api_url = api_url

    async def post(self, payload: dict[str, Any]) -> None:
        if not self.url:
            raise SlackSendError("response_url", "no response_url in the payload")
        try:
            target = URL(self.url)
        except (ValueError, TypeError):
            target = None
        if target is None or not response_url_allowed(target, self.api_url):
            shown = f"{target.scheme}://{target.host}" if target is not None else "an unreadable URL"
            log.warning("refused to post to response_url at %s: not a Slack address", shown)
            raise SlackSendError("response_url", "not_a_slack_response_url")
        try:
            async with self.session().post(
                target, json=payload, timeout=aiohttp.ClientTimeout(total=self.timeout_s), allow_redirects=False
            ) as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackSendError("response_url", type(exc).__name__) from None
        if response.status >= 400:
            raise SlackSendError("response_url", f"HTTP {response.status}: {body[:100]}")


class ResponseReply:
    """A reply through a ``response_url``: in the channel, or ephemeral (only the user sees it)."""

    def __init__(self, url: ResponseUrl, *, in_channel: bool = True, replace: bool = False) -> None:
        self.url = url
        self.in_channel = in_channel
        self.sent = replace

    async def send(self, message: Message) -> None:
        payload = {
            "text": message.text,
            "blocks": message.blocks,
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            "replace_original": self.sent,
        }
        await self.url.post(payload)
        self.sent = True


async def ephemeral(
    client: AsyncWebClient, channel: str, user: str, message: Message, thread_ts: str | None = None
) -> None:
    """A message only ``user`` sees; failures are logged (it is never the main answer)."""
    try:
        await call(
            "chat.postEphemeral",
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **message.as_kwargs()),
        )
    except SlackSendError as exc:
        log.warning("ephemeral message not sent: %s", exc)


def locale_language(locale: str | None) -> str:
    """``es-ES`` -> ``es``; anything we do not speak -> English."""
    lang = (locale or "").replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


async def user_language(client: AsyncWebClient, store: Store, user: str, ttl_s: float) -> str:
    """The user's Slack locale as one of our languages (users.info, cached in the store)."""
    cache_key = key("locale", user)
    try:
        cached = await store.get(cache_key)
    except StoreError as exc:
        log.warning("locale cache unavailable: %s", exc)
        cached = None
    if cached:
        return locale_language(cached.decode())
    try:
        response = await call("users.info", client.users_info(user=user, include_locale=True))
    except SlackSendError as exc:
        log.warning("locale of %s unknown (%s): answering in English", user, exc.error)
        return DEFAULT_LANGUAGE
    user_data = response.get("user")
    locale = (text_field(user_data, "locale") if isinstance(user_data, dict) else None) or DEFAULT_LANGUAGE
    try:
        await store.set(cache_key, locale.encode(), ttl_s)
    except StoreError as exc:
        log.warning("locale not cached: %s", exc)
    return locale_language(locale)


def token_allowed(url: str, api_url: str) -> bool:
    """Whether ``url`` may be sent the bot token: Slack's hosts over HTTPS, or the API base's origin."""
    parts, api = urlsplit(url), urlsplit(api_url)
    if (parts.scheme, parts.hostname, parts.port) == (api.scheme, api.hostname, api.port):
        return True
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == h or host.endswith("." + h) for h in SLACK_FILE_HOSTS)


async def download(
    session: aiohttp.ClientSession, url: str, *, token: str, api_url: str, max_bytes: int, timeout_s: float
) -> bytes:
    """The body at ``url`` (a file's ``url_private``), read with the bot token, at most ``max_bytes``."""
    if not token_allowed(url, api_url):
        raise DownloadError(f"not a Slack file address: {urlsplit(url).hostname}")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False
        ) as response:
            if response.status != 200:
                raise DownloadError(f"download answered HTTP {response.status}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise FileTooLarge(f"{response.content_length} bytes")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > max_bytes:
                    raise FileTooLarge(f"over {max_bytes} bytes")
            return bytes(body)
    except TimeoutError:
        raise DownloadError(f"download took longer than {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise DownloadError(f"download failed: {type(exc).__name__}") from None
