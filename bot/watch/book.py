"""``WatchBook``: the watches in Redis, and the arq jobs that tick them.

Strategy: every write is one Lua script, so a check and the write it guards are atomic across
every bot replica and worker (two people typing ``/mailflow watch`` at once in one channel can
never pass the cap together), and every key gets its expiry in the same step as its value.

Keys (``keys.key``: lower-cased and quoted parts; every key expires):

    mailflow:v1:watch:state:<channel>:<domain>   JSON ``Watch``; expires GRACE_S after ``until``
    mailflow:v1:watch:channel:<channel>          sorted set domain -> until (ms); the per-channel
                                                 index and cap; expires GRACE_S after the last
    mailflow:v1:watch:all                        sorted set "<channel> <domain>" -> until (ms), for
                                                 the sweeper and the gauge; same expiry rule
    mailflow:v1:watch:post:<watch id>:<seq>      "sending" (a lease while one process posts change
                                                 <seq>) then "done"; so a change is posted once

Ticks are arq jobs named ``watch_tick`` with the id ``mailflow-watch-<watch id>-<tick>``:
enqueueing a tick that is already queued (or ran within the last hour) does nothing, so the
chain of ticks, a retry and the sweeper can all enqueue the same tick safely.

Redis errors are translated here into ``StoreUnavailable``, naming the operation.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from bot.errors import ConfigError
from bot.settings import Settings
from bot.store import StoreUnavailable, key
from bot.watch.model import Outgoing, Watch

GRACE_S: Final = 600.0  # keys outlive their watch this long (a late tick still finds it)
POST_LEASE_S: Final = 60.0  # how long a claim to post one change blocks others
QUEUE: Final = "arq:queue:mailflow"  # arq's own key space (its queue holds no expiry of its own)
TICK: Final = "watch_tick"

# KEYS: channel index, state, global index. ARGV: now ms, until ms, cap, domain, global member,
# state JSON, grace ms. Returns {status, state JSON}: started | exists | full.
_START = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {'exists', existing} end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {'full', ''} end
local grace = tonumber(ARGV[7])
redis.call('SET', KEYS[2], ARGV[6], 'PX', tonumber(ARGV[2]) - tonumber(ARGV[1]) + grace)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[5])
for _, index in ipairs({KEYS[1], KEYS[3]}) do
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, math.floor(tonumber(last[2]) + grace))
end
return {'started', ARGV[6]}
"""

# KEYS: channel index, state, global index. ARGV: domain, global member, watch id or ''.
# Removes the watch (only the one with that id, when given); returns its JSON or false.
_STOP = """
local existing = redis.call('GET', KEYS[2])
if existing and ARGV[3] ~= '' and cjson.decode(existing)['id'] ~= ARGV[3] then return false end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
if existing then redis.call('DEL', KEYS[2]) end
return existing or false
"""

# KEYS: state. ARGV: watch id, the revision read, new JSON. Compare-and-set, keeping the expiry.
_REPLACE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local watch = cjson.decode(current)
if watch['id'] ~= ARGV[1] or tonumber(watch['rev']) ~= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
return 1
"""

StartStatus = Literal["started", "exists", "full"]


@dataclass(frozen=True, slots=True)
class Started:
    status: StartStatus
    watch: Watch | None  # the new watch (started) or the one already running (exists)


def _json_dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str).encode()


def _json_loads(raw: bytes) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(raw))


def arq_redis(url: str, *, timeout_s: float = 2.0, max_connections: int = 16) -> ArqRedis:
    """An arq client for ``url`` (JSON job payloads, our queue); no connection until first use."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
    )
    return ArqRedis(pool, job_serializer=_json_dumps, job_deserializer=_json_loads, default_queue_name=QUEUE)


class WatchBook:
    """Start, stop, list and update watches; enqueue their ticks. One per process is enough."""

    def __init__(self, redis: ArqRedis, *, max_per_channel: int = 5, clock: Any = time.time) -> None:
        self.redis = redis
        self.max_per_channel = max_per_channel
        self._clock = clock
        self._start = redis.register_script(_START)
        self._stop = redis.register_script(_STOP)
        self._replace = redis.register_script(_REPLACE)

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchBook:
        """The book on ``REDIS_URL``; ``ConfigError`` without one (watches live in Redis)."""
        if settings.redis_dsn is None:
            raise ConfigError("REDIS_URL: watches need Redis (set REDIS_URL and run `mailflow worker`)")
        return cls(arq_redis(settings.redis_dsn), max_per_channel=settings.watch_max_per_channel)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose(close_connection_pool=True)

    @contextlib.contextmanager
    def _translate(self, operation: str) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"Redis is unavailable ({operation} watch): {type(exc).__name__}: {exc}") from None

    # -- keys ----------------------------------------------------------------------------------

    @staticmethod
    def state_key(channel: str, domain: str) -> str:
        return key("watch", "state", channel, domain)

    @staticmethod
    def channel_key(channel: str) -> str:
        return key("watch", "channel", channel)

    @staticmethod
    def all_key() -> str:
        return key("watch", "all")

    @staticmethod
    def post_key(watch_id: str, seq: int) -> str:
        return key("watch", "post", watch_id, seq)

    @staticmethod
    def job_id(watch_id: str, tick: int) -> str:
        return f"mailflow-watch-{watch_id}-{tick}"

    # -- watches -------------------------------------------------------------------------------

    async def start(
        self,
        *,
        channel: str,
        domain: str,
        every_s: float,
        for_s: float,
        thread_ts: str | None = None,
        user: str | None = None,
        language: str = "en",
        baseline: str | None = None,
        detail: str = "",
    ) -> Started:
        """Record a new watch (unless one runs for ``domain`` here, or the channel is full) and
        enqueue its first tick now. ``baseline``: the verdict key the thread already shows."""
        now = self._clock()
        watch = Watch(
            id=uuid.uuid4().hex,
            channel=channel,
            thread_ts=thread_ts,
            domain=domain,
            every_s=every_s,
            started_at=now,
            until=now + for_s,
            user=user,
            language=language,
            verdict=baseline,
            detail=detail,
            checked_at=now if baseline else None,
        )
        with self._translate("start"):
            status, raw = await self._start(
                keys=[self.channel_key(channel), self.state_key(channel, domain), self.all_key()],
                args=[
                    _ms(now),
                    _ms(watch.until),
                    self.max_per_channel,
                    domain,
                    f"{channel} {domain}",
                    watch.dumps(),
                    _ms(GRACE_S),
                ],
            )
        result = Started(cast("StartStatus", status.decode()), Watch.loads(raw) if raw else None)
        if result.status == "started":
            await self.enqueue_tick(watch, 0)
        return result

    async def stop(self, channel: str, domain: str, *, watch_id: str | None = None) -> Watch | None:
        """Remove the watch on ``domain`` in ``channel`` (only the one with ``watch_id``, when
        given); its pending tick finds it gone and ends the chain. Returns what was removed."""
        with self._translate("stop"):
            raw = await self._stop(
                keys=[self.channel_key(channel), self.state_key(channel, domain), self.all_key()],
                args=[domain, f"{channel} {domain}", watch_id or ""],
            )
        return Watch.loads(raw) if raw else None

    async def get(self, channel: str, domain: str) -> Watch | None:
        with self._translate("read"):
            raw = await self.redis.get(self.state_key(channel, domain))
        return Watch.loads(raw) if raw else None

    async def in_channel(self, channel: str) -> list[Watch]:
        """The running watches in ``channel``, the one ending first first."""
        now_ms = _ms(self._clock())
        with self._translate("list"):
            domains = await self.redis.zrangebyscore(self.channel_key(channel), now_ms, "+inf")
            raws = await self.redis.mget([self.state_key(channel, d.decode()) for d in domains]) if domains else []
        return [Watch.loads(raw) for raw in raws if raw]

    async def active(self) -> list[Watch]:
        """Every running watch, in every channel (for the sweeper)."""
        now_ms = _ms(self._clock())
        with self._translate("list all"):
            members = await self.redis.zrangebyscore(self.all_key(), now_ms, "+inf")
            pairs = [m.decode().split(" ", 1) for m in members]
            raws = await self.redis.mget([self.state_key(c, d) for c, d in pairs]) if pairs else []
        return [Watch.loads(raw) for raw in raws if raw]

    async def count_active(self) -> int:
        with self._translate("count"):
            return int(await self.redis.zcount(self.all_key(), _ms(self._clock()), "+inf"))

    async def replace(self, old: Watch, new: Watch) -> bool:
        """Write ``new`` if the stored watch is still ``old`` (same id and revision)."""
        with self._translate("update"):
            done = await self._replace(
                keys=[self.state_key(old.channel, old.domain)], args=[old.id, old.rev, new.dumps()]
            )
        return bool(done)

    # -- posting claims ------------------------------------------------------------------------

    async def claim_post(self, watch: Watch, item: Outgoing) -> Literal["claimed", "sending", "done"]:
        """Claim the right to post change ``item`` (a lease of POST_LEASE_S)."""
        post_key = self.post_key(watch.id, item.seq)
        with self._translate("claim post"):
            if await self.redis.set(post_key, b"sending", px=_ms(POST_LEASE_S), nx=True):
                return "claimed"
            state = await self.redis.get(post_key)
        return "done" if state == b"done" else "sending"

    async def finish_post(self, watch: Watch, item: Outgoing, *, posted: bool) -> None:
        """Mark change ``item`` posted (kept until the watch's keys expire), or release the claim."""
        post_key = self.post_key(watch.id, item.seq)
        with self._translate("finish post"):
            if posted:
                left = max(watch.until - self._clock(), 0.0) + GRACE_S
                await self.redis.set(post_key, b"done", px=_ms(left))
            else:
                await self.redis.delete(post_key)

    # -- ticks ---------------------------------------------------------------------------------

    async def enqueue_tick(self, watch: Watch, tick: int) -> bool:
        """Queue tick ``tick`` of ``watch`` at its due time; False when already queued or past the end."""
        due = watch.due(tick)
        if due >= watch.until and tick > 0:
            return False
        expires = max(watch.until - self._clock(), 1.0)
        with self._translate("enqueue"):
            job = await self.redis.enqueue_job(
                TICK,
                watch.channel,
                watch.domain,
                watch.id,
                tick,
                _job_id=self.job_id(watch.id, tick),
                _defer_until=datetime.fromtimestamp(due, UTC),
                _expires=expires,
            )
        return job is not None


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)
