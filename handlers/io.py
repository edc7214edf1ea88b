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
import time
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
POSTED_SLACK_S = 60.0  # a post that failed is looked for among messages from this long before it
POST_EVENT = "mailflow_post"  # metadata event_type of every post: its payload holds a per-post id
SLACK_FILE_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")
RESPONSE_URL_HOST = "hooks.slack.com"  # where Slack's response_urls point (api.slack.com/interactivity/handling)


class SlackSendError(MailflowError):
    """Slack refused a call (or could not be reached); ``error`` is Slack's code (``not_in_channel``).

    ``transient``: an HTTP 5xx or a transport failure, after which the call may or may not have
    taken effect (a message may have been posted all the same).
    """

    def __init__(self, method: str, error: str, *, transient: bool = False) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error
        self.transient = transient


class ResponseUrlRefused(SlackSendError):
    """A payload's ``response_url`` is no Slack address: refused and logged (one warning) where it
    was met; whoever catches it adds no traceback, and tells no one through the same address."""

    def __init__(self) -> None:
        super().__init__("response_url", "not_a_slack_response_url")


class DownloadError(MailflowError):
    """A shared file could not be fetched."""


class FileTooLarge(DownloadError):
    """The file is over the upload size cap: not read."""


def new_error_id() -> str:
    """A short id to quote in the log and to the user, to find one failure among many."""
    return secrets.token_hex(4)


def slack_error(method: str, exc: Exception) -> SlackSendError:
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None) or getattr(exc.response, "status", None)
        code = api_error_code(exc.response)  # Slack's error, http_<status>, or unreadable_response
        if isinstance(status, int) and status >= 500:
            return SlackSendError(method, code, transient=True)
        return SlackSendError(method, code)
    return SlackSendError(method, type(exc).__name__, transient=True)


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

    async def send_progress(self, message: Message) -> bool:
        """Like ``send``, for an in-between state that may be skipped; False when it was."""


class ThreadReply:
    """A message in a thread (``thread_ts`` None: at the channel's top level)."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str | None, ts: str | None = None) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.ts = ts

    async def _post(self, message: Message, post_id: str) -> None:
        response = await call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": POST_EVENT, "event_payload": {"post_id": post_id}},
                **message.as_kwargs(),
            ),
        )
        ts = text_field(response, "ts")
        if ts is None:
            raise SlackSendError("chat.postMessage", "no_ts_in_answer")
        self.ts = ts
        self.channel = text_field(response, "channel") or self.channel

    async def _posted_already(self, post_id: str, since: float) -> str | None:
        """The ts of the failed post if it went through all the same: a bot message carrying this
        post's own id in its metadata (text alone could match an earlier, identical message)."""
        oldest = f"{since - POSTED_SLACK_S:.6f}"
        if self.thread_ts is not None:
            coro = self.client.conversations_replies(
                channel=self.channel, ts=self.thread_ts, oldest=oldest, limit=100, include_all_metadata=True
            )
            found = await call("conversations.replies", coro)
        else:
            coro = self.client.conversations_history(
                channel=self.channel, oldest=oldest, limit=100, include_all_metadata=True
            )
            found = await call("conversations.history", coro)
        messages = found.get("messages")
        for posted in messages if isinstance(messages, list) else []:
            if not isinstance(posted, dict) or text_field(posted, "ts") is None or not posted.get("bot_id"):
                continue
            metadata = posted.get("metadata")
            payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
            if isinstance(payload, dict) and payload.get("post_id") == post_id and posted.get("ts") != self.thread_ts:
                return str(posted["ts"])
        return None

    async def send(self, message: Message) -> None:
        if self.ts is None:
            since = time.time()
            post_id = secrets.token_hex(8)  # one per message, kept across the retry
            try:
                await self._post(message, post_id)
            except SlackSendError as exc:
                if not exc.transient:
                    raise
                # A 5xx or a dropped connection: Slack may have posted it anyway. Look before
                # posting again (never twice); when even the look fails, give up on this path.
                log.warning("%s: looking in the channel before posting again", exc)
                try:
                    posted = await self._posted_already(post_id, since)
                except SlackSendError as lookup:
                    log.warning("%s: not posting again", lookup)
                    raise exc from None
                if posted is not None:
                    log.info("the message went through despite %s", exc)
                    self.ts = posted
                    return
                await self._post(message, post_id)
        else:
            await call("chat.update", self.client.chat_update(channel=self.channel, ts=self.ts, **message.as_kwargs()))

    async def send_progress(self, message: Message) -> bool:
        await self.send(message)
        return True


class ResponseBudget:
    """Posts left on each ``response_url``: Slack takes ``posts`` per URL within ``window_s``.

    Counted in this process: a response_url arrives with one delivery, handled by one process.
    Progress may use a URL only while more than ``reserve`` posts are left, so the verdict and
    an error notice always get through.
    """

    def __init__(self, posts: int = 5, window_s: float = 1800.0, reserve: int = 2, max_urls: int = 10_000) -> None:
        self.posts = posts
        self.window_s = window_s
        self.reserve = reserve
        self.max_urls = max_urls
        self._used: dict[str, tuple[float, int]] = {}  # url -> (first post, posts so far)

    def left(self, url: str) -> int:
        first, used = self._used.get(url, (0.0, 0))
        if used and time.monotonic() - first > self.window_s:
            del self._used[url]
            return self.posts
        return self.posts - used

    def spend(self, url: str) -> None:
        if url not in self._used and len(self._used) >= self.max_urls:
            now = time.monotonic()
            for stale in [u for u, (at, _) in self._used.items() if now - at > self.window_s]:
                del self._used[stale]
            if len(self._used) >= self.max_urls:  # still full: forget the oldest
                del self._used[next(iter(self._used))]
        first, used = self._used.get(url, (time.monotonic(), 0))
        self._used[url] = (first, used + 1)


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
        budget: ResponseBudget | None = None,
        *,
        api_url: str = "https://slack.com/api/",
    ) -> None:
        self.session = session
        self.url = url
        self.timeout_s = timeout_s
        self.api_url = api_url
        self.budget = budget or ResponseBudget()

    def can_post_progress(self) -> bool:
        """Whether a skippable post still leaves the reserve (verdict, error notice) untouched."""
        return bool(self.url) and self.budget.left(str(self.url)) > self.budget.reserve

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
            raise ResponseUrlRefused
        if self.budget.left(self.url) <= 0:
            raise SlackSendError("response_url", f"used_url: Slack takes {self.budget.posts} posts per response_url")
        self.budget.spend(self.url)
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
    """A reply through a ``response_url``: in the channel, or ephemeral (only the user sees it).

    ``replace``: the first post replaces the message the action came from (the re-run button's
    diagnosis). ``own_updates`` False: a later post cannot replace this reply's own first one
    (an action's response_url replaces the action's message, not a new one), so in-between
    states are skipped and every post is a new message.
    """

    def __init__(
        self, url: ResponseUrl, *, in_channel: bool = True, replace: bool = False, own_updates: bool = True
    ) -> None:
        self.url = url
        self.in_channel = in_channel
        self.sent = replace
        self.own_updates = own_updates

    async def send(self, message: Message) -> None:
        payload = {
            "text": message.text,
            "blocks": message.blocks,
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            "replace_original": self.sent and self.own_updates,
        }
        await self.url.post(payload)
        self.sent = True

    async def send_progress(self, message: Message) -> bool:
        if not self.own_updates or not self.url.can_post_progress():
            return False
        await self.send(message)
        return True


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


LOCALE_REFUSED = frozenset({"missing_scope", "not_allowed_token_type", "no_permission", "user_not_found"})
LOOKUPS_OFF = "-"  # the value kept when users.info refused: English, until it expires


async def user_language(
    client: AsyncWebClient, store: Store, user: str, ttl_s: float, *, refused_ttl_s: float = 3600.0
) -> str:
    """The user's Slack locale as one of our languages (users.info, cached in the store).

    A refusal that asking again would not change (``missing_scope``: the app lacks ``users:read``)
    is cached too, app-wide for the scope errors, so each message does not ask again.
    """
    cache_key = key("locale", user)
    app_key = key("locale-refused")
    try:
        cached = await store.get(cache_key) or await store.get(app_key)
    except StoreError as exc:
        log.warning("locale cache unavailable: %s", exc)
        cached = None
    if cached:
        value = cached.decode()
        return DEFAULT_LANGUAGE if value == LOOKUPS_OFF else locale_language(value)
    try:
        response = await call("users.info", client.users_info(user=user, include_locale=True))
    except SlackSendError as exc:
        log.warning("locale of %s unknown (%s): answering in English", user, exc.error)
        if exc.error in LOCALE_REFUSED:
            refused_key = cache_key if exc.error == "user_not_found" else app_key
            try:
                await store.set(refused_key, LOOKUPS_OFF.encode(), refused_ttl_s)
            except StoreError as store_exc:
                log.warning("locale refusal not cached: %s", store_exc)
        return DEFAULT_LANGUAGE
    user_data = response.get("user")
    locale = (text_field(user_data, "locale") if isinstance(user_data, dict) else None) or DEFAULT_LANGUAGE
    try:
        await store.set(cache_key, locale.encode(), ttl_s)
    except StoreError as exc:
        log.warning("locale not cached: %s", exc)
    return locale_language(locale)


def token_allowed(url: str, api_url: str) -> bool:
    """Whether ``url`` may be sent the bot token: Slack's hosts over HTTPS, or the API base's origin.

    Parsed with yarl, as aiohttp connects (not urllib, which reads some URLs differently), and
    never with userinfo in it."""
    try:
        parts, api = URL(url), URL(api_url)
    except (ValueError, TypeError):
        return False
    if parts.user is not None or parts.password is not None or not parts.host:
        return False
    if (parts.scheme, parts.host, parts.port) == (api.scheme, api.host, api.port):
        return True
    host = parts.host.lower()
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
            URL(url), headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s), allow_redirects=False
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
