"""A second process for the single-flight tests: N concurrent get_or_run for one key on Redis.

    python -m tests.store.flight_worker URL TARGET DIR N LOCK_TTL

Each run of the probe appends this process's id to DIR/runs, then waits for DIR/release (at
most 30 s). DIR/ready appears once the N requests are under way; the summary is printed as
JSON on stdout. Only the given Redis URL (127.0.0.1 in the tests) is contacted.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bot.probes.result import ProbeResult
from bot.store import ProbeCache, RedisStore, SingleFlight


async def probe_run(workdir: Path, target: str, *, wait_for_release: bool = True) -> list[ProbeResult]:
    """The probe both processes run: record the run, hold it until released, report."""
    with (workdir / "runs").open("a") as runs:
        runs.write(f"{os.getpid()}\n")
    for _ in range(3000):
        if not wait_for_release or (workdir / "release").exists():
            return [ProbeResult("smtp", target, True, f"run by {os.getpid()}", facts={"pid": os.getpid()})]
        await asyncio.sleep(0.01)
    raise TimeoutError("never released")


async def main(url: str, target: str, workdir: Path, n: int, lock_ttl: float) -> None:
    store = RedisStore.from_url(url)
    cache = ProbeCache(store, flight=SingleFlight(store, lock_ttl_s=lock_ttl, poll_s=0.01))
    try:
        tasks = [
            asyncio.create_task(cache.get_or_run("smtp", target, {}, lambda: probe_run(workdir, target)))
            for _ in range(n)
        ]
        await asyncio.sleep(0.1)
        (workdir / "ready").touch()
        answers = await asyncio.gather(*tasks)
    finally:
        await store.close()
    summary = {
        "answers": len(answers),
        "from_cache": sum(a.from_cache for a in answers),
        "details": sorted({a.results[0].detail for a in answers}),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    url, target, workdir, n, lock_ttl = sys.argv[1:6]
    asyncio.run(main(url, target, Path(workdir), int(n), float(lock_ttl)))
