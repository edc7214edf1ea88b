"""``WatchRunner``: what one tick of a watch does. Plain logic over three seams.

    diagnose(request, language) -> Diagnosis    DiagnosisService(fresh=True) in production
    post(PostRequest) -> None | error string    chat.postMessage in production (``slack_poster``)
    book                                        the watches and their ticks in Redis

One tick, in an order chosen so that a worker dying at any point loses nothing:

    1. the watch is gone, replaced or over            -> stop (the chain ends here)
    2. enqueue the next tick                          -> a crash below cannot end the watch
    3. post what an earlier tick could not            -> the outbox, oldest first
    4. probe; an incomplete run proves nothing        -> stop here; so does an error (the next
                                                         tick tries again), but a refused
                                                         target ends the watch
    5. compare with the stored verdict and write the new one, with the change message in the
       outbox, in one compare-and-set (a concurrent tick's write makes us re-read and re-decide;
       a tick whose probes started before those of the verdict stored is stale and writes nothing,
       so a slow probe can never announce a flap that is already over)
    6. post the outbox

A change message is claimed before it is posted and marked done after (``WatchBook.claim_post``),
so two ticks never post it both; a tick that dies between posting and marking leaves a claim
that expires after a minute and the message is posted again: at least once, and exactly once
unless a process dies inside that window. The first probe of a watch started without a
baseline sets it silently: only changes are posted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from bot.diagnose import DiagnoseRequest, Diagnosis
from bot.errors import MailflowError, TargetRefused
from bot.observability import Metrics, get_logger
from bot.watch.book import WatchBook
from bot.watch.messages import change_text, evidence
from bot.watch.model import HEALTHY, Outgoing, Watch, verdict_key

MAX_OUTBOX: Final = 10  # undelivered changes kept per watch (the oldest are dropped beyond)
CAS_ATTEMPTS: Final = 8
# Slack errors after which posting to this channel can never work: the watch stops.
FATAL_POST_ERRORS: Final = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "thread_not_found", "restricted_action"}
)

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PostRequest:
    channel: str
    thread_ts: str | None
    text: str


Diagnose = Callable[[DiagnoseRequest, str], Awaitable[Diagnosis]]
Poster = Callable[[PostRequest], Awaitable[str | None]]  # None: posted; else the error
Attach = Callable[[Watch, Outgoing], Awaitable[None]]  # after a recovery is posted (bot/watch/incident.py)


class WatchRunner:
    def __init__(
        self,
        book: WatchBook,
        diagnose: Diagnose,
        post: Poster,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        on_recovery: Attach | None = None,
    ) -> None:
        self.book = book
        self.diagnose = diagnose
        self.post = post
        self.on_recovery = on_recovery
        self.metrics = metrics or Metrics()
        self._clock = clock

    async def tick(self, channel: str, domain: str, watch_id: str, tick: int) -> str:
        """Run tick ``tick`` of the watch ``watch_id``; returns the outcome (also counted)."""
        outcome = await self._tick(channel, domain, watch_id, tick)
        self.metrics.watch_ticks.labels(outcome).inc()
        log.info("watch tick", channel=channel, domain=domain, watch=watch_id, tick=tick, outcome=outcome)
        return outcome

    async def _tick(self, channel: str, domain: str, watch_id: str, tick: int) -> str:
        watch = await self.book.get(channel, domain)
        if watch is None or watch.id != watch_id:
            return "gone"
        now = self._clock()
        if now >= watch.until:
            await self.book.stop(channel, domain, watch_id=watch.id)
            return "ended"
        await self.book.enqueue_tick(watch, max(tick + 1, watch.next_tick(now)))
        if watch.outbox and await self.flush(watch) is None:
            return "gone"
        seen = self._clock()  # the observation's time: when its probes started
        try:
            diagnosis = await self.diagnose(DiagnoseRequest(domain), watch.language)
        except TargetRefused as exc:  # it will be refused every time: the watch cannot work
            await self.book.stop(channel, domain, watch_id=watch.id)
            log.warning("watch stopped: target refused", channel=channel, domain=domain, error=str(exc))
            return "refused"
        except MailflowError as exc:  # the store or a probe failed to run: try again next tick
            log.warning("watch probe failed", channel=channel, domain=domain, error=str(exc))
            return "error"
        key = verdict_key(diagnosis.verdict)
        if key is None:
            return "inconclusive"
        for _ in range(CAS_ATTEMPTS):
            current = await self.book.get(channel, domain)
            if current is None or current.id != watch_id:
                return "gone"
            if current.checked_at is not None and current.checked_at > seen:
                return "stale"  # a tick that started later has already recorded a newer verdict
            outcome, updated = self._decide(current, diagnosis, key, seen)
            if await self.book.replace(current, updated):
                break
        else:
            return "conflict"
        if updated.outbox:
            await self.flush(updated)
        return outcome

    @staticmethod
    def _decide(current: Watch, diagnosis: Diagnosis, key: str, seen: float) -> tuple[str, Watch]:
        """(outcome, the watch to write) for a probe that found ``key``."""
        detail = evidence(diagnosis, current.language)
        if current.verdict is None:
            return "baseline", current.bumped(verdict=key, detail=detail, checked_at=seen)
        if current.verdict == key:
            return "same", current.bumped(detail=detail, checked_at=seen)
        seq = current.changes + 1
        message = Outgoing(seq, change_text(current, diagnosis, at=seen), seen)
        outbox = (*current.outbox, message)[-MAX_OUTBOX:]
        return "changed", current.bumped(verdict=key, detail=detail, checked_at=seen, changes=seq, outbox=outbox)

    async def flush(self, watch: Watch) -> Watch | None:
        """Post the outbox of ``watch`` in order; the watch as left, None when it had to stop."""
        for item in watch.outbox:
            claim = await self.book.claim_post(watch, item)
            if claim == "sending":
                break  # another tick is posting it: keep the order, leave the rest to it
            if claim == "claimed":
                error = await self._post(watch, item)
                if error is None and item.seq == watch.changes and watch.verdict == HEALTHY:
                    await self._recovered(watch, item)  # the latest change, and it is healthy: a recovery
                await self.book.finish_post(watch, item, posted=error is None)
                if error is not None:
                    if error in FATAL_POST_ERRORS:
                        await self.book.stop(watch.channel, watch.domain, watch_id=watch.id)
                        log.warning(
                            "watch stopped: cannot post", channel=watch.channel, domain=watch.domain, error=error
                        )
                        return None
                    break
            watch = await self._drop(watch, item.seq) or watch
        return watch

    async def _post(self, watch: Watch, item: Outgoing) -> str | None:
        try:
            error = await self.post(PostRequest(watch.channel, watch.thread_ts, item.text))
        except Exception as exc:  # the poster's own failure (network, bug): retried on the next tick
            error = f"{type(exc).__name__}: {exc}"
        self.metrics.watch_posts.labels("ok" if error is None else "error").inc()
        if error is not None:
            log.warning("watch post failed", channel=watch.channel, domain=watch.domain, error=error)
        return error

    async def _recovered(self, watch: Watch, item: Outgoing) -> None:
        if self.on_recovery is None:
            return
        try:
            await self.on_recovery(watch, item)
        except Exception as exc:  # the recovery is posted; what goes with it is best effort
            log.warning("recovery attachment failed", channel=watch.channel, domain=watch.domain, error=str(exc))

    async def _drop(self, watch: Watch, seq: int) -> Watch | None:
        """Remove change ``seq`` from the stored outbox (compare-and-set, re-reading on conflict)."""
        for _ in range(CAS_ATTEMPTS):
            current = await self.book.get(watch.channel, watch.domain)
            if current is None or current.id != watch.id:
                return None
            kept = tuple(o for o in current.outbox if o.seq != seq)
            if kept == current.outbox:
                return current
            updated = current.bumped(outbox=kept)
            if await self.book.replace(current, updated):
                return updated
        return None

    async def sweep(self) -> int:
        """Re-enqueue the next tick of every running watch (a no-op for chains that are alive);
        returns how many watches run. Repairs a chain broken by a Redis outage at the wrong time."""
        now = self._clock()
        watches = await self.book.active()
        for watch in watches:
            await self.book.enqueue_tick(watch, watch.next_tick(now))
        self.metrics.watches_running.set(len(watches))
        return len(watches)
