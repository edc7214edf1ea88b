"""``SingleFlight``: many concurrent requests for the same work, one run, everyone gets the result.

Two levels, both behind one call (``SingleFlight.run``):

1. In one process, the first caller starts the work as a task and later callers await the same
   task (through ``asyncio.shield``, so a caller that gives up does not cancel it for the
   others, and the result still reaches the store).
2. Across processes sharing a store, that task first asks ``lookup`` (has someone published a
   result?), then takes a lock with ``set_nx`` (a random token, expiring after ``lock_ttl_s``).
   The holder runs the work, publishes the result (``work`` itself writes it where ``lookup``
   reads it), then deletes the lock if it still holds its token. The others poll the lock
   every ``poll_s``; when it is gone they ask ``lookup`` again, and take the lock themselves if
   nothing was published (the holder failed). A holder that dies leaves a lock that expires,
   and a waiter takes over; a waiter that has waited ``wait_s`` runs the work itself, so
   nobody waits forever. ``lock_ttl_s`` must exceed the longest run (the diagnosis deadline
   is 90 s by default), or a second run may start beside a slow first one.

If the store fails (``StoreError``), the work runs without the cross-process part: the answer
matters more than the saving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from bot.store.base import Store
from bot.store.errors import StoreError

log = logging.getLogger("mailflow.store")
T = TypeVar("T")


class SingleFlight:
    def __init__(
        self, store: Store, *, lock_ttl_s: float = 120.0, wait_s: float | None = None, poll_s: float = 0.05
    ) -> None:
        self.store = store
        self.lock_ttl_s = lock_ttl_s
        self.wait_s = lock_ttl_s if wait_s is None else wait_s
        self.poll_s = poll_s
        self._flights: dict[tuple[str, str], asyncio.Task[Any]] = {}

    async def run(
        self,
        lock_key: str,
        work: Callable[[], Awaitable[T]],
        lookup: Callable[[], Awaitable[T | None]],
        *,
        tag: str = "",
    ) -> T:
        """The result of ``work``, run once for everyone asking for ``lock_key`` at the same time.

        ``lookup`` returns a result already published (by a flight in another process), or
        None. ``tag`` separates flights on the same lock in this process whose callers accept
        different results (a forced re-run must not join a flight that may return a cached one).
        """
        flight = (lock_key, tag)
        task = self._flights.get(flight)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._lead(lock_key, work, lookup))
            self._flights[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        return cast("T", await asyncio.shield(task))

    def _landed(self, flight: tuple[str, str], task: asyncio.Task[Any]) -> None:
        if self._flights.get(flight) is task:
            del self._flights[flight]
        if not task.cancelled():
            task.exception()  # retrieved here: the callers (if any are left) get it from shield()

    async def _lead(
        self, lock_key: str, work: Callable[[], Awaitable[T]], lookup: Callable[[], Awaitable[T | None]]
    ) -> T:
        token = secrets.token_hex(16).encode()
        try:
            found, locked = await self._turn(lock_key, token, lookup)
        except StoreError as exc:
            log.warning("single-flight lock unavailable, running %s without it: %s", lock_key, exc)
            found, locked = None, False
        if found is not None:
            return found
        try:
            return await work()
        finally:
            if locked:
                with contextlib.suppress(StoreError):
                    await self.store.delete(lock_key, if_value=token)

    async def _turn(
        self, lock_key: str, token: bytes, lookup: Callable[[], Awaitable[T | None]]
    ) -> tuple[T | None, bool]:
        """(a published result, False), or (None, True) holding the lock, or (None, False) past the deadline."""
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while True:
            found = await lookup()
            if found is not None:
                return found, False
            if await self.store.set_nx(lock_key, token, self.lock_ttl_s):
                return None, True
            while await self.store.get(lock_key) is not None:
                if asyncio.get_running_loop().time() >= deadline:
                    log.warning("waited %g s for %s held elsewhere; running it here", self.wait_s, lock_key)
                    return None, False
                await asyncio.sleep(self.poll_s)
