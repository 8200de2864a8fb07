"""Lanes through Redis: a high request takes the next free slot ahead of every waiting
normal one, in any process, without breaking the cap or starving the normal lane.

Two limiters on separate Redis clients stand for two processes: each has its own
local queue, and they meet only in Redis.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio

from smsclub_async.redis import RedisLimiter

from ._redis_support import TEST_HORIZON, RedisServer
from ._redis_timing import densest_window

pytestmark = pytest.mark.redis

RATE = 20  # a slot every 50.4 ms: short tests


async def make(server: RedisServer, token: str, **options: object) -> RedisLimiter:
    return RedisLimiter(
        redis.asyncio.Redis(host="127.0.0.1", port=server.port),
        token=token,
        rate=RATE,
        horizon=TEST_HORIZON,
        **options,  # type: ignore[arg-type]
    )


async def saturate(limiter: RedisLimiter, until: float, times: list[float], n: int) -> None:
    async def run() -> None:
        while time.monotonic() < until:
            permit = await limiter.acquire()
            times.append(time.monotonic())
            permit.sent()
            permit.done()

    await asyncio.gather(*(run() for _ in range(n)))


async def test_a_high_request_in_another_process_goes_ahead_of_a_saturating_campaign(
    redis_server: RedisServer, token: str
) -> None:
    """A campaign of 10 coroutines keeps the cap busy; a high request from another
    limiter every 0.3 s waits no more than the normal horizon plus one interval."""
    campaign = await make(redis_server, token)
    otp = await make(redis_server, token)
    bulk: list[float] = []
    waits: list[float] = []
    until = time.monotonic() + 3.0

    async def otps() -> None:
        await asyncio.sleep(0.5)
        while time.monotonic() < until - 0.3:
            asked = time.monotonic()
            permit = await otp.acquire(priority="high")
            waits.append(time.monotonic() - asked)
            bulk.append(time.monotonic())
            permit.sent()
            permit.done()
            await asyncio.sleep(0.3)

    try:
        await asyncio.gather(saturate(campaign, until, bulk, 10), otps())
    finally:
        for limiter in (campaign, otp):
            await limiter.aclose()
            await limiter._client.aclose()
    bound = campaign.normal_horizon + campaign.interval + 0.03  # 30 ms: Redis round trips
    assert len(waits) >= 5
    assert max(waits) <= bound, (waits, bound)
    assert densest_window(bulk) <= RATE


async def test_a_high_request_without_budget_waits_like_a_normal_one(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, token: str
) -> None:
    """The schedule is full 0.3 s ahead (beyond the normal horizon, within the high
    one). With a budget of one unit and no refill, a first high request is granted its
    slot at once (spending the unit); a second is turned away like a normal one, and
    so is a normal one."""
    limiter = await make(redis_server, token, high_burst=1, high_share=0.0)
    try:
        seconds, micros = await redis_client.time()
        now_us = seconds * 1_000_000 + micros
        await redis_client.hset(limiter.key, mapping={"tat": str(now_us + 300_000)})
        assert limiter.normal_horizon < 0.3 < limiter.horizon
        first = await limiter._call_script(high=True)
        assert first[0]  # reserved: it went ahead
        assert await _budget(redis_server, limiter) == 0
        second = await limiter._call_script(high=True)
        normal = await limiter._call_script(high=False)
        assert not second[0]
        assert not normal[0]
        # Both are told to come back when the next slot enters the normal horizon.
        assert abs(second[1] - normal[1]) < 5_000
    finally:
        await limiter.aclose()
        await limiter._client.aclose()


async def _budget(server: RedisServer, limiter: RedisLimiter) -> float:
    async with redis.asyncio.Redis(host="127.0.0.1", port=server.port) as client:
        value = await client.hget(limiter.key, "budget")
    return float(value or 0)


async def test_a_flood_of_high_requests_leaves_the_campaign_its_share(
    redis_server: RedisServer, token: str
) -> None:
    """10 high coroutines against 10 normal ones in another process for 3 s: the high
    lane goes ahead only within its budget, the cap holds, the campaign keeps going."""
    campaign = await make(redis_server, token)
    flood = await make(redis_server, token, high_burst=2)
    bulk: list[float] = []
    high: list[float] = []
    until = time.monotonic() + 3.0

    async def highs() -> None:
        async def run() -> None:
            while time.monotonic() < until:
                permit = await flood.acquire(priority="high")
                high.append(time.monotonic())
                permit.sent()
                permit.done()

        await asyncio.gather(*(run() for _ in range(10)))

    try:
        await asyncio.gather(saturate(campaign, until, bulk, 10), highs())
    finally:
        for limiter in (campaign, flood):
            await limiter.aclose()
            await limiter._client.aclose()
    assert densest_window(bulk + high) <= RATE
    # The campaign is not starved: at least a third of the slots (polls are a lottery
    # once the budget is spent: 10 high and 10 normal askers, one per process at a time
    # for normal, so the high lane has more askers).
    assert len(bulk) >= 0.3 * (len(bulk) + len(high)), (len(bulk), len(high))


async def test_ready_keeps_a_fresh_slot_and_replaces_a_stale_one(
    redis_server: RedisServer, token: str
) -> None:
    """ready() returns at once on time; far past the slot it takes a new one first."""
    limiter = await make(redis_server, token)
    try:
        permit = await limiter.acquire()
        started = time.monotonic()
        await permit.ready()  # type: ignore[attr-defined]
        assert time.monotonic() - started < 0.01
        assert limiter.late_slots == 0
        permit.sent()
        permit.done()

        stale = await limiter.acquire()
        before = repr(stale)
        await asyncio.sleep(limiter._late_limit + 0.05)  # e.g. a very slow connect
        await stale.ready()  # type: ignore[attr-defined]
        assert limiter.late_slots == 1
        assert repr(stale) != before  # it holds another slot now
        stale.sent()
        stale.done()
    finally:
        await limiter.aclose()
        await limiter._client.aclose()


async def test_ready_claims_a_late_write_in_redis_before_it_happens(
    redis_server: RedisServer, token: str
) -> None:
    """A slot reached 60 ms late (within the limit): ready() moves its claim in Redis
    before returning, so the report does not depend on the process after the write."""
    limiter = await make(redis_server, token)
    try:
        permit = await limiter.acquire()
        await asyncio.sleep(0.06)  # a cold connection, say
        async with redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port) as client:
            await permit.ready()  # type: ignore[attr-defined]
            assert limiter.reports == 1  # awaited: in Redis already
            permit.sent()  # written at once: nothing more to report
            permit.done()
            assert limiter.reports == 1
            claims = await client.zrange(limiter.claims_key, 0, -1, withscores=True)
            seconds, micros = await client.time()
        latest = max(float(entry[1]) for entry in claims)
        assert abs(latest - (seconds * 1_000_000 + micros)) < 10_000  # about now
    finally:
        await limiter.aclose()
        await limiter._client.aclose()
