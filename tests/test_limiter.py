"""The in-process limiter holds the cap as the server sees it (on a patched clock)."""

from __future__ import annotations

import asyncio
import bisect
import random
import time

import pytest

from smsclub_async import LocalLimiter
from smsclub_async.gateways import limiter_for_token

from .conftest import fake_clock


def densest_window(times: list[float], period: float = 1.0) -> int:
    """The most events in any half-open window [t, t + period)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + period) - i for i, t in enumerate(ordered)), default=0
    )


def loop_clock() -> float:
    return asyncio.get_running_loop().time()


@fake_clock
async def test_many_waiters_never_exceed_cap_and_run_near_it() -> None:
    """1,000 acquisitions by 50 concurrent waiters: no window over 9, mean rate >= 8.5/s."""
    limiter = LocalLimiter(9, clock=loop_clock)
    sent: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            permit = await limiter.acquire()
            sent.append(loop_clock())
            permit.sent()
            permit.done()

    await asyncio.gather(*(worker(20) for _ in range(50)))
    assert len(sent) == 1000
    assert densest_window(sent) <= 9
    rate = (len(sent) - 1) / (max(sent) - min(sent))
    assert rate >= 8.5, rate


@fake_clock
async def test_late_wire_times_push_later_admissions() -> None:
    """A request that reaches the wire late (connection set-up) counts from its wire time."""
    limiter = LocalLimiter(9, clock=loop_clock)
    wire: list[float] = []

    async def request(delay: float) -> None:
        permit = await limiter.acquire()
        await asyncio.sleep(delay)  # e.g. TCP + TLS set-up of a fresh connection
        wire.append(loop_clock())
        permit.sent()
        permit.done()

    rng = random.Random(7)
    tasks = [
        asyncio.create_task(request(0.03 if i % 10 == 0 else rng.uniform(0, 0.005)))
        for i in range(200)
    ]
    await asyncio.gather(*tasks)
    assert densest_window(wire) <= 9


@fake_clock
async def test_pending_request_blocks_until_it_leaves() -> None:
    """While the deciding request has not reached the wire, nobody else is admitted past it."""
    limiter = LocalLimiter(2, clock=loop_clock)
    first = await limiter.acquire()
    second = await limiter.acquire()
    third = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(3)
    assert not third.done(), "admitted while two requests had not left yet"
    first.sent()
    second.sent()
    sent_at = loop_clock()
    permit = await third
    assert loop_clock() >= sent_at + limiter.window - 0.006
    for p in (first, second, permit):
        p.done()


@fake_clock
async def test_without_trace_every_arrival_the_server_could_see_respects_the_cap() -> None:
    """No trace hooks: a request reached the server somewhere between its admission and
    its answer. Whichever moments those were, no window holds more than the cap, and
    with quick answers the rate stays near it."""
    limiter = LocalLimiter(9, clock=loop_clock)
    spans: list[tuple[float, float]] = []  # (admitted, answered)
    rng = random.Random(3)

    async def request() -> None:
        permit = await limiter.acquire()
        admitted = loop_clock()
        await asyncio.sleep(rng.uniform(0.0005, 0.02))  # the round trip
        spans.append((admitted, loop_clock()))
        permit.done()

    await asyncio.gather(*(request() for _ in range(300)))
    spans.sort()
    # The worst case: the earlier request arrived as late as possible, the later one
    # as early as possible. Ten arrivals in one second would need one such pair.
    tightest = min(spans[i + 9][0] - spans[i][1] for i in range(len(spans) - 9))
    assert tightest >= 1.0 - 1e-6, tightest  # float rounding of the clock
    rate = (len(spans) - 1) / (spans[-1][0] - spans[0][0])
    assert rate >= 8.8, rate


def test_registry_shares_one_limiter_per_token_and_rate() -> None:
    """Two clients of one token share a limiter; another token or rate gets its own."""
    a = limiter_for_token("registry-token-a")
    assert limiter_for_token("registry-token-a") is a
    assert limiter_for_token("registry-token-b") is not a
    assert limiter_for_token("registry-token-a", 20) is not a


def test_repr_and_validation() -> None:
    """The repr says the rate and window; nonsense rates are refused."""
    assert repr(LocalLimiter(9)) == "LocalLimiter(rate=9, period=1.0, window=1.008)"
    with pytest.raises(ValueError, match="rate"):
        LocalLimiter(0)
    with pytest.raises(ValueError, match="rate"):
        LocalLimiter(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        LocalLimiter(9, period=0)


def test_shared_across_event_loops_in_sequence() -> None:
    """History survives a new event loop (Celery runs each task under asyncio.run)."""
    limiter = LocalLimiter(3)
    times: list[float] = []

    async def burst(n: int) -> None:
        for _ in range(n):
            permit = await limiter.acquire()
            times.append(time.monotonic())
            permit.done()

    asyncio.run(burst(3))
    asyncio.run(burst(1))  # a fresh loop, as in the next Celery task
    assert len(times) == 4
    assert times[3] - times[0] >= limiter.window - 0.002
