"""Who the bot is (auth.test), asked at start-up and refreshed on a schedule, never per request.

bolt's single-workspace authorization calls auth.test on the first request it sees; when Slack
answers that call with a 503 the user gets "Please reinstall this app", and a 429 holds the ack
for the whole Retry-After. Here ``authorize`` answers from what ``load`` learnt at start-up, so
no request ever waits on auth.test. ``refresh`` re-asks every ``refresh_s`` in the background
and keeps the last good identity when Slack does not answer.

``load`` tells the two start-up failures apart (``serve`` acts on the difference):

    IdentityError
     +-- TokenRefused      Slack answered and refused the token (invalid_auth, token_revoked, ...)
     +-- SlackUnreachable  no answer: connection error, timeout, HTTP 5xx or 429, or a body
                           that is no Slack answer (an HTML page, empty, cut off)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import MailflowError
from bot.slack_answers import SDK_BODY_ERRORS

log = logging.getLogger("mailflow.slack")
RETRY_MAX_S = 300.0  # the longest wait between two tries of a background load that keeps failing


class IdentityError(MailflowError):
    """auth.test did not give the bot's identity."""


class TokenRefused(IdentityError):
    """Slack refused the bot token."""


class SlackUnreachable(IdentityError):
    """Slack could not be reached (connection error, timeout, HTTP 5xx or 429)."""


def _status(exc: SlackApiError) -> int:
    response = exc.response  # a SlackResponse, or aiohttp's response for a truncated JSON body
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else 200


def _error_code(exc: SlackApiError) -> str:
    response = exc.response
    try:
        return str(response.get("error") or "")
    except (AttributeError, TypeError, ValueError):
        return ""


def classify(exc: Exception) -> IdentityError:
    """An auth.test failure as ``TokenRefused`` or ``SlackUnreachable``, with a message saying which."""
    if isinstance(exc, SlackApiError):
        status = _status(exc)
        code = _error_code(exc)
        if status >= 500 or status == 429:
            return SlackUnreachable(f"HTTP {status}{f' {code}' if code else ''}")
        if not code:  # no Slack error code: an HTML page, an empty or cut-off body, not a refusal
            return SlackUnreachable(f"HTTP {status}: not a Slack API answer")
        return TokenRefused(code)
    if isinstance(exc, TimeoutError):
        return SlackUnreachable("no answer in time")
    return SlackUnreachable(type(exc).__name__)


class BotIdentity:
    """The bot's auth.test identity; ``authorize`` is bolt's ``authorize`` function."""

    def __init__(
        self, client: AsyncWebClient, token: str, *, refresh_s: float = 3600.0, retry_first_s: float = 1.0
    ) -> None:
        self.client = client
        self.token = token
        self.refresh_s = refresh_s
        self.retry_first_s = retry_first_s
        self.identity: Mapping[str, Any] | None = None
        self.refreshes = 0  # successful auth.test calls after the first
        self._refresher: asyncio.Task[None] | None = None
        self._loading: asyncio.Task[None] | None = None

    async def load(self) -> Mapping[str, Any]:
        """auth.test now; raises ``TokenRefused`` or ``SlackUnreachable``."""
        try:
            response = await self.client.auth_test()
        except (SlackApiError, SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise classify(exc) from None
        except SDK_BODY_ERRORS:  # slack_sdk reading .get() off a body that is no JSON object
            raise SlackUnreachable("not a Slack API answer (no JSON object)") from None
        self.identity = dict(response.data) if isinstance(response.data, dict) else {}
        return self.identity

    def start_refresh(self) -> None:
        """Re-ask auth.test every ``refresh_s`` in the background, until ``close``."""
        if self._refresher is None:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            await self.refresh()

    async def refresh(self) -> None:
        """One background refresh; a failure keeps the last identity (and is logged)."""
        try:
            await self.load()
            self.refreshes += 1
        except TokenRefused as exc:
            log.error("auth.test refresh: Slack refused the bot token (%s); keeping the last identity", exc)
        except SlackUnreachable as exc:
            log.warning("auth.test refresh: Slack unreachable (%s); keeping the last identity", exc)

    async def _load_until_known(self) -> None:
        """The background load for a caller that skipped ``load``: asked again until it succeeds,
        after ``retry_first_s``, doubling up to ``RETRY_MAX_S`` (a failed try is logged by ``refresh``)."""
        delay = self.retry_first_s
        while True:
            await self.refresh()
            if self.identity is not None:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def close(self) -> None:
        for task in (self._refresher, self._loading):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._loading = None

    def authorize_function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """``authorize`` as bolt wants it: a plain function whose parameter names bolt fills in."""

        async def authorize(
            enterprise_id: str | None = None, team_id: str | None = None, user_id: str | None = None
        ) -> AuthorizeResult:
            return self.authorize(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

        return authorize

    def authorize(
        self, *, enterprise_id: str | None = None, team_id: str | None = None, user_id: str | None = None
    ) -> AuthorizeResult:
        """From the identity in hand, at once (never an auth.test on the request's path)."""
        identity = self.identity
        if identity is None and self._loading is None:
            # Not loaded yet (a caller that skipped ``load``): fetched in the background, with
            # retries until it succeeds; this request goes on with the token alone.
            self._loading = asyncio.get_running_loop().create_task(self._load_until_known())
        identity = identity or {}
        return AuthorizeResult(
            enterprise_id=identity.get("enterprise_id") or enterprise_id,
            team_id=identity.get("team_id") or team_id,
            team=identity.get("team"),
            url=identity.get("url"),
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
            bot_token=self.token,
            user_id=user_id,
        )
