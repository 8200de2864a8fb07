"""Issue 14: a Redis restart shorter than ``redis_timeout`` costs latency, not recipients."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest
import redis.asyncio

from smsclub_async import LimiterError, SmsClub
from smsclub_async.redis import RedisLimiter
from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

from ._redis_support import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.loopback, pytest.mark.slow]

RATE = 30  # fast enough for a short test; the server checks the same cap


async def test_redis_down_for_a_fifth_of_a_second_during_a_bulk_send_fails_nobody(
    spare_redis_server: RedisServer,
) -> None:
    """Kill -9 Redis 0.3 s into a send of 3,000 recipients, start it again 0.2 s later:
    every recipient sent, none failed or unknown, no 429 at the server (the restarted
    Redis holds slots back for its start-up guard, which costs time, not the cap)."""
    server = spare_redis_server
    await asyncio.to_thread(server.start)
    await asyncio.to_thread(server.wait_out_quarantine, 0.5)
    token = f"blip-{uuid.uuid4().hex}"
    sandbox = Sandbox(SandboxConfig(rate_limit=RATE, balance=Decimal(10**6)))
    phones = [f"38063{i:07d}" for i in range(3_000)]

    async def restart() -> float:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop, kill=True)
        down = time.monotonic()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(server.start)
        return time.monotonic() - down

    async with (
        serve(sandbox) as gateway,
        RedisLimiter.from_url(server.url, token=token, rate=RATE, horizon=0.5) as limiter,
        SmsClub(token=token, base_url=gateway.url, limiter=limiter, rate_limit=RATE) as sms,
    ):
        assert limiter.redis_timeout == 2.0  # the default
        result, outage = await asyncio.gather(
            sms.send(phones, "blip", sender="VashZakaz"), restart()
        )
    assert outage < limiter.redis_timeout
    assert len(result.sent) == len(phones)
    assert not result.failed
    assert not result.unknown
    stats = sandbox.stats(token)
    assert stats.rate_limited == 0
    assert stats.densest_window() <= RATE


async def test_redis_down_longer_than_the_timeout_fails_closed_after_it(token: str) -> None:
    """Nobody listening for good: the refused connection is retried for redis_timeout,
    then LimiterError (not at once, not later)."""
    from ._redis_support import free_port  # noqa: PLC0415

    async with RedisLimiter.from_url(
        f"redis://127.0.0.1:{free_port()}/0", token=token, redis_timeout=0.4
    ) as limiter:
        started = time.monotonic()
        with pytest.raises(LimiterError, match=r"within 0\.4 s \(ConnectionError\)"):
            await limiter.acquire()
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed <= 0.4 + 0.3


async def test_a_wrong_password_fails_at_once(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, token: str
) -> None:
    """What a retry cannot fix is not retried: a bad password fails well within the timeout."""
    user = f"limiter-{uuid.uuid4().hex[:8]}"
    await redis_client.acl_setuser(user, enabled=True, passwords=["+right-password"])
    url = f"redis://{user}:wrong-password@127.0.0.1:{redis_server.port}/0"
    async with RedisLimiter.from_url(url, token=token, redis_timeout=2.0) as limiter:
        started = time.monotonic()
        with pytest.raises(LimiterError) as caught:
            await limiter.acquire()
        assert time.monotonic() - started < 0.5
    assert "wrong-password" not in str(caught.value)
    assert "credentials" in str(caught.value)


async def test_missing_permissions_fail_at_once(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, token: str
) -> None:
    """A user that may not touch the limiter's keys gets LimiterError at once."""
    user = f"limiter-{uuid.uuid4().hex[:8]}"
    await redis_client.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["other:*"], commands=["+@all"]
    )
    url = f"redis://{user}:pw@127.0.0.1:{redis_server.port}/0"
    async with RedisLimiter.from_url(url, token=token, redis_timeout=2.0) as limiter:
        started = time.monotonic()
        with pytest.raises(LimiterError, match=r"NoPermissionError|ResponseError"):
            await limiter.acquire()
        assert time.monotonic() - started < 0.5
