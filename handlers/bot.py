"""The bot's shared machinery: its dependencies, background work, and the flows every surface uses.

    answer_bounce     a parsed bounce -> the explanation message, into a Reply
    diagnose_into     a DiagnoseRequest -> "diagnosing…", updated as probes finish, then the answer
    tick              one checkbox of a checklist -> the store, then the message redrawn

Listeners (handlers/commands.py, events.py, interactive.py) acknowledge Slack at once and hand
the rest to ``spawn``: a tracked task whose failure is logged with an error id and told to the
user (``on_error``), never silent. ``drain`` waits for them (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot import knowledge
from bot.diagnose import DiagnoseRequest, OnResult
from bot.errors import ProbeError
from bot.explain import explain_bounce
from bot.parse import Bounce
from bot.parse_pool import ParsePool, ParseTooComplex
from bot.probes.result import ProbeResult
from bot.render.blocks import (
    Message,
    RecentEntry,
    Tick,
    diagnosis_message,
    escape,
    explanation_message,
    has_steps,
    label,
    notice_message,
    progress_message,
    tag_answer,
)
from bot.store import RateLimiter, Store, StoreError, key
from bot.store.keys import dumps
from bot.texts import of_error
from handlers.config import SlackConfig
from handlers.io import (
    NOT_MEMBER,
    Reply,
    ResponseBudget,
    ResponseReply,
    ResponseUrl,
    ResponseUrlRefused,
    SlackSendError,
    ThreadReply,
    new_error_id,
    user_language,
)

if TYPE_CHECKING:
    from bot.service import Answer
    from bot.store import HistoryEntry
    from handlers.watch import Watches

log = logging.getLogger("mailflow.slack")


def ui_for(lang: str) -> dict[str, str]:
    """Every UI label in ``lang`` the renderers use (knowledge ui.toml, diagnosis labels included)."""
    return dict(knowledge.load(lang).ui)


OnError = Callable[[str], Awaitable[None]]


class DiagnosisRunner(Protocol):
    """What the handlers need of ``bot.service.DiagnosisService``."""

    async def diagnose(
        self,
        request: DiagnoseRequest,
        *,
        fresh: bool = False,
        on_result: OnResult | None = None,
        language: str = knowledge.DEFAULT_LANGUAGE,
    ) -> Answer: ...

    async def history(self, domain: str, n: int = 5) -> list[HistoryEntry]: ...


class Counters(Protocol):
    """What the handlers report to ``bot.observability.Metrics`` (optional)."""

    def count_request(self, surface: str) -> None: ...

    def count_slack_error(self, method: str, error: str) -> None: ...

    def observe_probe(self, result: ProbeResult) -> None: ...


def use_fallback(exc: SlackSendError) -> bool:
    """Whether a failed post goes to the response_url instead: not in the channel, or Slack failing (5xx)."""
    return exc.error in NOT_MEMBER or exc.transient


class FallbackReply:
    """``primary`` (a thread message), or ``fallback`` (the response_url) once the bot cannot post there."""

    def __init__(self, primary: ThreadReply, fallback: ResponseReply | None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.using_fallback = False

    @property
    def ts(self) -> str | None:
        return None if self.using_fallback else self.primary.ts

    async def _in_thread(self, message: Message) -> bool:
        """Post in the thread; False when the response_url is to carry it (now or already)."""
        if self.using_fallback:
            return False
        try:
            await self.primary.send(message)
            return True
        except SlackSendError as exc:
            if self.fallback is None or not use_fallback(exc):
                raise
            log.info("%s: answering through response_url", exc)
            self.using_fallback = True
            return False

    async def send(self, message: Message) -> None:
        if not await self._in_thread(message):
            assert self.fallback is not None
            await self.fallback.send(message)

    async def send_progress(self, message: Message) -> bool:
        """An in-between state; through the response_url only while its budget allows (else skipped)."""
        if await self._in_thread(message):
            return True
        assert self.fallback is not None
        return await self.fallback.send_progress(message)


class Progress:
    """Redraws the "diagnosing…" message as results arrive, at most once per ``interval_s``.

    Through a response_url (``FallbackReply.using_fallback``) updates are at least
    ``fallback_gap_s`` apart: the few posts the budget leaves for progress are spread over the
    diagnosis, each showing the results gathered since, instead of going out with the first ones.
    The results are said in ``language``.
    """

    def __init__(
        self,
        reply: FallbackReply,
        target: str,
        ui: Mapping[str, str],
        interval_s: float,
        *,
        fallback_gap_s: float = 0.0,
        language: str = knowledge.DEFAULT_LANGUAGE,
    ) -> None:
        self.reply = reply
        self.target = target
        self.ui = ui
        self.language = language
        self.interval_s = interval_s
        self.fallback_gap_s = fallback_gap_s
        self.results: list[ProbeResult] = []
        self.updates = 0
        self.skipped = 0  # updates left out to save the response_url's posts for the verdict
        self._dirty = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, result: ProbeResult) -> None:
        self.results.append(result)
        self._dirty.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            if self._closing.is_set():
                return
            self._dirty.clear()
            try:
                message = progress_message(escape(self.target), list(self.results), self.ui, self.language)
                if await self.reply.send_progress(message):
                    self.updates += 1
                else:
                    self.skipped += 1
            except SlackSendError as exc:
                log.warning("progress update not sent: %s", exc)
            gap = max(self.interval_s, self.fallback_gap_s) if self.reply.using_fallback else self.interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), gap)

    async def stop(self) -> None:
        """Stop updating; an update on its way is finished first (never cut in the middle)."""
        self._closing.set()
        self._dirty.set()
        if self._task is not None:
            await self._task
            self._task = None


class SlackBot:
    def __init__(
        self,
        config: SlackConfig,
        store: Store,
        service: DiagnosisRunner,
        client: AsyncWebClient,
        metrics: Counters | None = None,
        *,
        watches: Watches | None = None,
        parser: ParsePool | None = None,
    ) -> None:
        self.config = config
        # Every bounce is read in the parse pool's worker processes, never on the event loop.
        self.parser = parser or ParsePool(config.parse_workers, config.parse_timeout_s)
        self.watches = watches  # None: no Redis, so no watches
        self.metrics = metrics
        self.store = store
        self.service = service
        self.client = client
        self.limiter = RateLimiter(store, per_user=config.per_user, per_channel=config.per_channel)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._in_flight = 0  # Slack requests not yet answered (HTTP mode)
        self._idle = asyncio.Event()  # set: no request waits for its ack, and none came for ack_quiet_s
        self._idle.set()
        self._reopen: asyncio.TimerHandle | None = None
        self._working = asyncio.Semaphore(config.background_limit)
        self._locales: dict[str, asyncio.Future[str]] = {}  # users.info lookups in flight
        self.response_budget = ResponseBudget()  # Slack's 5 posts per response_url

    # -- acks first ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Count one Slack request in flight (the HTTP server wraps each in this)."""
        self._in_flight += 1
        self._idle.clear()
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._reopen = asyncio.get_running_loop().call_later(self.config.ack_quiet_s, self._idle.set)

    async def acks_first(self) -> None:
        """Wait (at most ``ack_priority_s``) until no Slack request has waited for its ack for a moment.

        Slack gives an ack 3 s and an answer all the time it needs: under a burst, the answers
        (rendering, Web API calls) wait until the acks are out instead of slowing them down.
        """
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.ack_priority_s):
                    await self._idle.wait()

    # -- background work ------------------------------------------------------------------

    def spawn(
        self, work: Coroutine[Any, Any, None], *, what: str, on_error: OnError | None = None
    ) -> asyncio.Task[None]:
        """Run ``work`` after the ack; a failure is logged with an error id and reported through ``on_error``."""

        async def guarded() -> None:
            try:
                await self.acks_first()
                async with self._working:
                    await work
            except Exception as exc:
                if isinstance(exc, SlackSendError) and self.metrics is not None:
                    self.metrics.count_slack_error(exc.method, exc.error)
                if isinstance(exc, ResponseUrlRefused):
                    return  # logged where refused; the notice would go to the same forged address
                error_id = new_error_id()
                log.exception("%s failed [error id %s]", what, error_id)
                if on_error is not None:
                    try:
                        await on_error(error_id)
                    except ResponseUrlRefused:
                        pass  # logged where refused
                    except Exception:
                        log.exception("could not tell the user about error %s", error_id)

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until the background work started so far (and any it starts) is done."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def session(self) -> aiohttp.ClientSession:
        """One HTTP session (kept-alive connections) for the Web API, response_urls and downloads."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.http_timeout_s))
            self.client.session = self._session
        return self._session

    def response_url(self, body: Mapping[str, Any]) -> ResponseUrl:
        url = body.get("response_url")
        return ResponseUrl(
            lambda: self.session,
            str(url) if url else None,
            self.config.http_timeout_s,
            self.response_budget,
            api_url=self.config.api_url,
        )

    async def close(self) -> None:
        await self.drain()
        await self.parser.close()
        for pending in list(self._locales.values()):  # lookups an answer stopped waiting for
            pending.cancel()
        if self._session is not None:
            await self._session.close()

    # -- helpers --------------------------------------------------------------------------

    def count(self, surface: str) -> None:
        """One request from ``surface`` (slash, event, action, shortcut), for /metrics."""
        if self.metrics is not None:
            self.metrics.count_request(surface)

    def _observe(self, progress: Progress) -> OnResult:
        def on_result(result: ProbeResult) -> None:
            progress.add(result)
            if self.metrics is not None:
                self.metrics.observe_probe(result)

        return on_result

    async def language(self, user: str, forced: str | None = None) -> str:
        """``forced`` (--lang), else the user's Slack locale; concurrent asks for one user share one lookup.

        An answer waits at most ``locale_wait_s`` for users.info: past that it goes out in English,
        and the lookup, left running, caches the language for the user's next message.
        """
        if forced:
            return forced
        pending = self._locales.get(user)
        if pending is None:
            pending = asyncio.ensure_future(
                user_language(
                    self.client,
                    self.store,
                    user,
                    self.config.locale_ttl_s,
                    refused_ttl_s=self.config.locale_refused_ttl_s,
                )
            )
            self._locales[user] = pending
            pending.add_done_callback(lambda _: self._locales.pop(user, None))
        try:
            return await asyncio.wait_for(asyncio.shield(pending), self.config.locale_wait_s)
        except TimeoutError:
            log.info("locale of %s not known within %g s: answering in English", user, self.config.locale_wait_s)
            return knowledge.DEFAULT_LANGUAGE

    async def allowed(self, user: str, channel: str | None, lang: str) -> Message | None:
        """None when the user may go on; else the friendly "slow down" message."""
        decision = await self.limiter.check(user, channel)
        if decision.allowed:
            return None
        ui = ui_for(lang)
        seconds = max(1, round(decision.retry_after_s))
        log.info("rate limited: %s %s for %s s", decision.scope, user if decision.scope == "user" else channel, seconds)
        return notice_message(label(ui, "slack_rate_limited", seconds=seconds))

    async def read(self, data: bytes | str) -> Bounce:
        """The bounce in ``data``, read in the parse pool; ``ParseTooComplex`` past its deadline."""
        return await self.parser.parse(data)

    def unreadable(self, ui: Mapping[str, str], exc: ParseTooComplex, name: str | None = None) -> str:
        """The "too complex to read" line (about the file ``name``, or the text), with a new error id."""
        error_id = new_error_id()
        log.warning("%s not read within %g s [error id %s]", name or "a text", exc.seconds, error_id)
        if name is not None:
            return label(ui, "slack_file_too_complex", name=name, error_id=error_id)
        return label(ui, "slack_too_complex", error_id=error_id)

    def error_message(self, error_id: str, lang: str = knowledge.DEFAULT_LANGUAGE) -> Message:
        return notice_message(label(ui_for(lang), "slack_error", error_id=error_id))

    async def ticks(self, channel: str, ts: str | None) -> dict[str, Tick]:
        if ts is None:
            return {}
        try:
            raw = await self.store.hgetall(key("checklist", channel, ts))
        except StoreError as exc:
            log.warning("checklist ticks not read: %s", exc)
            return {}
        out = {}
        for step, value in raw.items():
            tick = Tick.loads(value)
            if tick is not None:
                out[step] = tick
        return out

    # -- flows ----------------------------------------------------------------------------

    async def answer_bounce(self, reply: Reply, bounce: Bounce, lang: str, *, forced: bool) -> None:
        ui = ui_for(lang)
        explanation = explain_bounce(bounce, lang)
        message = explanation_message(bounce, explanation, ui, language=lang if forced else None)
        await reply.send(await self.keep_answer(message))
        from handlers.summary import record_bounce  # noqa: PLC0415 - handlers.summary imports this module

        await record_bounce(self, reply, bounce)

    async def keep_answer(self, message: Message) -> Message:
        """``message`` tagged with a new answer id, and a copy kept under it when it has a checklist.

        A tick on an answer Slack does not send back with the action (an ephemeral answer) is
        redrawn from this copy, never from nothing.
        """
        if not has_steps(message):
            return message
        answer_id = secrets.token_hex(8)
        tagged = tag_answer(message, answer_id)
        try:
            kept = dumps({"text": tagged.text, "blocks": tagged.blocks})
            await self.store.set(key("answer", answer_id), kept, self.config.answer_copy_ttl_s)
        except StoreError as exc:
            log.warning("answer %s not kept for redraws: %s", answer_id, exc)
        return tagged

    async def kept_answer(self, answer_id: str) -> Message | None:
        """The copy ``keep_answer`` kept under ``answer_id`` (None: unknown or expired)."""
        try:
            raw = await self.store.get(key("answer", answer_id))
        except StoreError as exc:
            log.warning("kept answer %s not read: %s", answer_id, exc)
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Message(list(data["blocks"]), str(data["text"]))
        except (ValueError, TypeError, KeyError):
            return None

    async def diagnose_into(
        self,
        reply: FallbackReply,
        request: DiagnoseRequest,
        *,
        lang: str,
        forced: bool,
        fresh: bool,
        channel: str,
        user: str,
        team: str | None,
    ) -> None:
        ui = ui_for(lang)
        every, gap = self.config.progress_interval_s, self.config.response_progress_gap_s
        progress = Progress(reply, request.target, ui, every, fallback_gap_s=gap, language=lang)
        await reply.send_progress(progress_message(escape(request.target), [], ui, lang))
        progress.start()
        try:
            answer = await self.service.diagnose(request, fresh=fresh, on_result=self._observe(progress), language=lang)
        except ProbeError as exc:  # a refused target (private address, ...): said in place of "diagnosing…"
            await progress.stop()
            await reply.send(notice_message(f"{escape(request.target)}: {escape(of_error(exc).render(lang))}"))
            return
        except Exception:
            # Never leave "diagnosing…" standing: it becomes the error, with an id to find the log line.
            await progress.stop()
            error_id = new_error_id()
            log.exception("diagnosis of %s failed [error id %s]", request.domain, error_id)
            await reply.send(self.error_message(error_id, lang))
            return
        finally:
            await progress.stop()
        ticks = await self.ticks(channel, reply.ts)
        message = diagnosis_message(
            answer.diagnosis,
            ui,
            age_s=answer.age_s,
            from_cache=answer.from_cache,
            ticks=ticks,
            language=lang if forced else None,
        )
        await reply.send(await self.keep_answer(message))
        await self.remember(team, request.domain, answer, user)
        from handlers.summary import record_diagnosis  # noqa: PLC0415

        await record_diagnosis(self, channel, request.domain, answer)

    async def remember(self, team: str | None, domain: str, answer: Answer, user: str) -> None:
        """The workspace's recent diagnoses, for the App Home tab."""
        verdict = answer.diagnosis.verdict
        entry = {"at": time.time(), "domain": domain, "code": verdict.code, "user": user, "failure": verdict.failure}
        try:
            await self.store.push_capped(key("recent", team or "-"), dumps(entry), self.config.recent_cap, 30 * 86400.0)
        except StoreError as exc:
            log.warning("recent diagnosis not recorded: %s", exc)

    async def recent(self, team: str | None) -> list[RecentEntry]:
        try:
            raw = await self.store.list_range(key("recent", team or "-"), self.config.recent_cap)
        except StoreError as exc:
            log.warning("recent diagnoses not read: %s", exc)
            return []
        out = []
        for item in raw:
            try:
                data = json.loads(item)
                out.append(
                    RecentEntry(
                        float(data["at"]), str(data["domain"]), data.get("code"), str(data["user"]), data.get("failure")
                    )
                )
            except (ValueError, TypeError, KeyError):
                continue
        return out

    async def tick(self, *, channel: str, ts: str, step: str, done: bool, user: str) -> dict[str, Tick]:
        """Record one tick; the ticks of every step of that message."""
        state = Tick(done, user, time.time())
        try:
            await self.store.hset(key("checklist", channel, ts), {step: state.dumps()}, self.config.checklist_ttl_s)
        except StoreError as exc:
            log.warning("checklist tick not stored: %s", exc)
        ticks = await self.ticks(channel, ts)
        ticks.setdefault(step, state)
        return ticks
