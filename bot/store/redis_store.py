"""``RedisStore``: the shared ``Store``, on redis.asyncio (hiredis parses replies when installed).

Strategy: one command (or one MULTI/EXEC, or one Lua script) per ``Store`` call, so every
write and its expiry land together: a key can never be left without a TTL by a crash between
two commands. Connections come from the client's pool and are opened lazily, so creating a
``RedisStore`` never touches the network (Redis may be down when the bot starts).

Nothing hangs: connect and read timeouts are short and explicit (0.5 s by default, where
redis-py would wait 5 s), and redis-py's default retry policy (10 attempts with exponential
backoff) is replaced by one immediate retry on a broken connection only (a pooled connection
left stale by a Redis restart), never on a timeout. The pool is bounded (32 connections) and
blocking: a burst of callers waits its turn, at most ``RedisTimeouts.pool`` (1 s), instead of
failing with "Too many connections" as redis-py's default pool (100) does past its limit.

Errors are translated here, where they enter: WRONGTYPE becomes ``StoreError``; every other
redis or socket error becomes ``StoreUnavailable``, naming the operation, the server and the
timeout. The URL's password is never put in a message.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import ConfigError
from bot.store.base import Window, check_ttl
from bot.store.errors import StoreError, StoreUnavailable

# KEYS[1] counter; ARGV[1] window in ms. The expiry is set by the hit that creates the key, and
# re-set if it is somehow missing, so a counter can never outlive its window.
_INCR_WINDOW = """
local n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if n == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {n, left}
"""

# KEYS[1]; ARGV[1] the value the caller expects (a lock token): delete only if it still holds it.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class RedisTimeouts:
    connect: float = 0.5  # TCP connect (or unix socket) to Redis
    read: float = 0.5  # one command and its reply
    pool: float = 1.0  # waiting for a free connection when all ``max_connections`` are busy


def _ms(ttl: float) -> int:
    return max(1, math.ceil(check_ttl(ttl) * 1000))


class RedisStore:
    """A ``Store`` on one Redis server (or anything speaking its protocol)."""

    def __init__(self, client: aioredis.Redis, *, timeouts: RedisTimeouts | None = None) -> None:
        self._client = client
        self._timeouts = timeouts or RedisTimeouts()
        kwargs = client.connection_pool.connection_kwargs
        self._where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self._incr_window = client.register_script(_INCR_WINDOW)
        self._delete_if = client.register_script(_DELETE_IF)

    @classmethod
    def from_url(cls, url: str, *, timeouts: RedisTimeouts | None = None, max_connections: int = 32) -> RedisStore:
        """A store for ``url`` (``redis://``, ``rediss://`` or ``unix://``); no connection yet."""
        timeouts = timeouts or RedisTimeouts()
        try:
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=timeouts.pool,
                socket_connect_timeout=timeouts.connect,
                socket_timeout=timeouts.read,
                retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
            )
        except ValueError as exc:  # an unknown scheme, a port that is no number: bad configuration
            raise ConfigError(f"REDIS_URL: cannot use this Redis URL ({exc})") from None
        return cls(aioredis.Redis.from_pool(pool), timeouts=timeouts)

    @contextlib.contextmanager
    def _translate(self, operation: str) -> Iterator[None]:
        try:
            yield
        except ResponseError as exc:
            if "WRONGTYPE" in str(exc):
                raise StoreError(f"Redis {operation}: {exc}") from None
            raise StoreUnavailable(f"Redis at {self._where} refused {operation}: {exc}") from None
        except (RedisTimeoutError, TimeoutError):
            raise StoreUnavailable(
                f"Redis at {self._where} did not answer {operation} within "
                f"{self._timeouts.read:g} s (connect {self._timeouts.connect:g} s)"
            ) from None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self._where} is unavailable ({operation}): {exc}") from None

    async def get(self, key: str) -> bytes | None:
        with self._translate("GET"):
            return cast("bytes | None", await self._client.get(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        with self._translate("SET"):
            await self._client.set(key, value, px=_ms(ttl))

    async def set_nx(self, key: str, value: bytes, ttl: float) -> bool:
        with self._translate("SET NX"):
            written = await self._client.set(key, value, px=_ms(ttl), nx=True)
        return bool(written)

    async def delete(self, key: str, *, if_value: bytes | None = None) -> bool:
        with self._translate("DEL"):
            if if_value is None:
                removed = await self._client.delete(key)
            else:
                removed = await self._delete_if(keys=[key], args=[if_value])
        return bool(removed)

    async def ttl(self, key: str) -> float | None:
        with self._translate("PTTL"):
            left = int(await self._client.pttl(key))
        if left == -2:
            return None
        return math.inf if left == -1 else left / 1000

    async def incr_window(self, key: str, window_s: float) -> Window:
        with self._translate("INCR"):
            count, left = await self._incr_window(keys=[key], args=[_ms(window_s)])
        return Window(int(count), int(left) / 1000)

    async def push_capped(self, key: str, value: bytes, cap: int, ttl: float) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        ms = _ms(ttl)
        with self._translate("LPUSH"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, value)
                pipe.ltrim(key, 0, cap - 1)
                pipe.pexpire(key, ms)
                await pipe.execute()

    async def list_range(self, key: str, n: int) -> list[bytes]:
        if n < 1:
            return []
        with self._translate("LRANGE"):
            return await cast("Awaitable[list[bytes]]", self._client.lrange(key, 0, n - 1))

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float) -> None:
        ms = _ms(ttl)
        if not mapping:
            return
        with self._translate("HSET"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=cast("Any", dict(mapping)))
                pipe.pexpire(key, ms)
                await pipe.execute()

    async def hgetall(self, key: str) -> dict[str, bytes]:
        with self._translate("HGETALL"):
            fields = await cast("Awaitable[dict[bytes, bytes]]", self._client.hgetall(key))
        return {k.decode(): v for k, v in fields.items()}

    async def add_event(self, key: str, at: float, value: bytes, *, keep_s: float, cap: int) -> None:
        if cap < 1:
            raise ValueError("cap must be at least 1")
        ms = _ms(keep_s)
        with self._translate("ZADD"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {value: at})
                pipe.zremrangebyscore(key, "-inf", f"({at - keep_s!r}")
                pipe.zremrangebyrank(key, 0, -cap - 1)
                pipe.pexpire(key, ms)
                await pipe.execute()

    async def events_since(self, key: str, since: float, n: int) -> list[tuple[float, bytes]]:
        if n < 1:
            return []
        with self._translate("ZREVRANGEBYSCORE"):
            newest = await self._client.zrevrangebyscore(key, "+inf", repr(since), start=0, num=n, withscores=True)
        return [(float(score), bytes(member)) for member, score in reversed(newest)]

    async def ping(self) -> bool:
        try:
            with self._translate("PING"):
                return bool(await self._client.ping())
        except StoreError:
            return False

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
