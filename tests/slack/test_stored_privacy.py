"""What the bot keeps in Redis holds no mail address: after pasted bounces (the summary's
events), a diagnosis, a summary and a sender check through the real bolt app, ``KEYS *`` on a
redis-server of the test's own, and every value behind those keys, are searched for the
recipients' local parts and addresses. Recipients are kept hashed (bot/summary.py); the
answers kept for redraws are the one exception, checked to be the only one."""

# ruff: noqa: F811  (fixtures imported by name)
from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from bot.store import RedisStore, RedisTimeouts
from bot.summary import hash_recipient
from tests.fixtures.dns_server import DnsServer, dns_server  # noqa: F401
from tests.sender.world import IP
from tests.slack.conftest import MakeHarness
from tests.slack.test_sender import SPAMHAUS_BOUNCE, probes
from tests.slack.test_summary import HealthyService, pasted_ndr, queue_error
from tests.store.redis_server import RedisServer, redis_server  # noqa: F401

pytestmark = pytest.mark.timeout(60)
SECRETS = ("ann.lee", "pat.lee", "jo.smith", "@fabrikam")


async def everything(raw: aioredis.Redis) -> dict[bytes, bytes]:
    """Every key and a dump of its value, whatever its type."""
    found: dict[bytes, bytes] = {}
    for k in await raw.keys("*"):
        kind = (await raw.type(k)).decode()
        if kind == "string":
            value = await raw.get(k) or b""
        elif kind == "list":
            value = b"\n".join(await raw.lrange(k, 0, -1))
        elif kind == "zset":
            value = b"\n".join(m for m, _ in await raw.zrange(k, 0, -1, withscores=True))
        elif kind == "hash":
            value = b"\n".join(a + b"=" + b for a, b in (await raw.hgetall(k)).items())
        elif kind == "set":
            value = b"\n".join(await raw.smembers(k))
        else:
            value = kind.encode()
        found[k] = value
    return found


async def test_no_mail_address_in_any_redis_key_or_value(
    make_harness: MakeHarness, redis_server: RedisServer, dns_server: DnsServer
) -> None:
    store = RedisStore.from_url(redis_server.url, timeouts=RedisTimeouts(connect=2.0, read=2.0))
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        h = await make_harness(store=store, service=HealthyService(), probes=probes(dns_server))
        await h.message(pasted_ndr("ann.lee@fabrikam.com"))
        await h.message(pasted_ndr('"jo.smith"@fabrikam.com'))
        await h.message(queue_error("contoso.com"))
        await h.message(SPAMHAUS_BOUNCE)
        await h.command("diagnose contoso.com")
        await h.command(f"sender ok.test --ip {IP}")
        await h.settle()
        await h.command("summary --since 2h")
        await h.settle()
        assert any("/mailflow summary" in c.all_text for c in h.api.calls_to("chat.postMessage"))
        stored = await everything(raw)
    finally:
        await raw.aclose()
        await store.close()
    keys = [k.decode() for k in stored]
    assert any(":summary" in k or "summary:" in k for k in keys), keys  # the events were kept
    assert any("sender" in k for k in keys), keys
    assert [k for k in keys if "@" in k or IP in k or any(s in k for s in SECRETS)] == []
    # The recipients' hashes are keyed: a list of addresses hashed plainly finds none of them.
    summary = b"".join(v for k, v in stored.items() if b":summary:" in k)
    assert b'"h"' in summary
    assert hash_recipient("ann.lee@fabrikam.com").encode() not in summary
    leaks = {k: v[:200] for k, v in stored.items() if any(s.encode() in v for s in SECRETS)}
    # The one place a value holds an address: the copy of an answer with a checklist, kept
    # (24 h) to redraw it on a tick; it is the message the bot posted, recipients included.
    assert {k.split(b":")[2] for k in leaks} <= {b"answer"}, leaks
