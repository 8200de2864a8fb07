"""The in-process limiter holds the cap as the server sees it (on a patched clock)."""

from __future__ import annotations

import asyncio
import bisect
import random
import time
import uuid
from decimal import Decimal

import pytest

from smsclub_async import LocalLimiter, SmsClub
from smsclub_async._limiter import _MAX_PREDICTED_LAG, Priority
from smsclub_async.gateways import BothLimiter, ConcurrencyLimiter, limiter_for_token
from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

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


def test_registry_keeps_one_limiter_per_token_and_the_strictest_rate_wins() -> None:
    """Clients of one token share one limiter whatever rate they ask for: a lower rate
    tightens it, a higher one changes nothing; another token gets its own."""
    a = limiter_for_token("registry-token-a")
    assert limiter_for_token("registry-token-a") is a
    assert limiter_for_token("registry-token-b") is not a
    assert limiter_for_token("registry-token-a", 20) is a
    assert a.rate == 9
    assert limiter_for_token("registry-token-a", 8) is a
    assert (a.rate, a.window) == (8, 1.008)
    assert limiter_for_token("registry-token-a", 9).rate == 8
    limiter_for_token("registry-token-a", 8, margin=0.02)
    assert a.window == 1.02


@pytest.mark.loopback
@pytest.mark.slow
async def test_clients_asking_9_and_8_on_one_token_never_exceed_8_together() -> None:
    """Two SmsClub clients of one token, rate_limit=9 and rate_limit=8, sending at once
    to a loopback server that answers 429 to the 9th request in any second: one limiter
    (the stricter), no 429, no window over 8 at the server."""
    token = f"nine-and-eight-{uuid.uuid4().hex}"
    sandbox = Sandbox(SandboxConfig(rate_limit=8, balance=Decimal(10**6)))
    async with (
        serve(sandbox) as server,
        SmsClub(token=token, base_url=server.url, rate_limit=9) as nine,
        SmsClub(token=token, base_url=server.url, rate_limit=8) as eight,
    ):
        assert nine.limiter is eight.limiter
        phones = [f"38050{i:07d}" for i in range(2_000)]
        results = await asyncio.gather(
            nine.send(phones[:1_000], "nine", sender="VashZakaz"),
            eight.send(phones[1_000:], "eight", sender="VashZakaz"),
        )
    assert all(not result.failed for result in results)
    stats = sandbox.stats(token)
    assert stats.rate_limited == 0
    assert stats.densest_window() <= 8
    assert stats.count >= 20


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
    # The 4th may be admitted up to the predicted admission-to-wire lag early (it
    # will reach the wire that much later); nothing else may shorten the window.
    assert times[3] - times[0] >= limiter.window - _MAX_PREDICTED_LAG


# --- lanes ---------------------------------------------------------------------


@fake_clock
async def test_a_high_request_goes_ahead_of_every_waiting_normal_one() -> None:
    """30 normal requests queued; a high one arriving later takes the next free slot."""
    limiter = LocalLimiter(9, clock=loop_clock)
    order: list[str] = []

    async def request(name: str, priority: Priority) -> float:
        permit = await limiter.acquire(priority=priority)
        order.append(name)
        permit.sent()
        permit.done()
        return loop_clock()

    normals = [asyncio.create_task(request(f"n{i}", "normal")) for i in range(30)]
    await asyncio.sleep(0.5)
    arrived = loop_clock()
    admitted = await request("high", "high")
    assert admitted - arrived <= limiter.window / limiter.rate + 1e-6
    # Only the normal requests admitted before it arrived went first.
    assert order.index("high") == sum(1 for name in order[: order.index("high")])
    assert order.index("high") <= 6
    await asyncio.gather(*normals)
    assert limiter.waiting == (0, 0)


@fake_clock
async def test_lanes_never_break_the_cap() -> None:
    """High and normal requests mixed at random: no window over 9 at the wire."""
    limiter = LocalLimiter(9, clock=loop_clock)
    wire: list[float] = []
    rng = random.Random(5)

    async def request(priority: Priority) -> None:
        await asyncio.sleep(rng.uniform(0, 10))
        permit = await limiter.acquire(priority=priority)
        await asyncio.sleep(rng.uniform(0, 0.02))  # on its way to the wire
        wire.append(loop_clock())
        permit.sent()
        permit.done()

    lanes: list[Priority] = ["high", "normal"]
    await asyncio.gather(*(request(rng.choice(lanes)) for _ in range(300)))
    assert densest_window(wire) <= 9


@fake_clock
async def test_occasional_high_requests_wait_one_slot_and_bulk_keeps_its_rate() -> None:
    """A campaign saturating the cap and one high request every 2 s: each high waits at
    most one interval, and the campaign keeps more than 90 % of the cap."""
    limiter = LocalLimiter(9, clock=loop_clock)
    bulk: list[float] = []
    waits: list[float] = []
    stop = 60.0

    async def campaign() -> None:
        while loop_clock() < stop:
            permit = await limiter.acquire()
            bulk.append(loop_clock())
            permit.sent()
            permit.done()

    async def otp() -> None:
        while loop_clock() < stop:
            await asyncio.sleep(2.0)
            asked = loop_clock()
            permit = await limiter.acquire(priority="high")
            waits.append(loop_clock() - asked)
            permit.sent()
            permit.done()

    await asyncio.gather(*(campaign() for _ in range(10)), otp())
    assert len(waits) >= 25
    assert max(waits) <= limiter.window / limiter.rate + 0.002
    bulk_rate = (len(bulk) - 1) / (bulk[-1] - bulk[0])
    assert bulk_rate >= 0.9 * 9, bulk_rate


@fake_clock
async def test_a_flood_of_high_requests_starves_neither_lane() -> None:
    """Both lanes saturated for 60 s: past the first burst, high requests go ahead only
    within their share (10 %), otherwise both lanes are served in arrival order, so
    normal requests still get at least 40 % of the cap (10 coroutines in each lane)."""
    limiter = LocalLimiter(9, clock=loop_clock)
    admitted: dict[str, list[float]] = {"high": [], "normal": []}
    stop = 60.0

    async def flood(priority: Priority) -> None:
        while loop_clock() < stop:
            permit = await limiter.acquire(priority=priority)
            admitted[priority].append(loop_clock())
            permit.sent()
            permit.done()

    await asyncio.gather(*(flood("high") for _ in range(10)), *(flood("normal") for _ in range(10)))
    after_burst = [t for t in admitted["normal"] if t >= 10.0]
    normal_rate = (len(after_burst) - 1) / (after_burst[-1] - after_burst[0])
    high_after = [t for t in admitted["high"] if t >= 10.0]
    high_rate = (len(high_after) - 1) / (high_after[-1] - high_after[0])
    # Arrival order alone would split 50/50; the share moves 10 % of the cap to high.
    assert 0.4 * 9 <= normal_rate <= 0.5 * 9, normal_rate
    assert high_rate <= 0.6 * 9, high_rate
    assert densest_window(admitted["high"] + admitted["normal"]) <= 9


@fake_clock
async def test_a_cancelled_head_passes_its_turn_on() -> None:
    """The waiter at the head of the queue is cancelled: the next one is served."""
    limiter = LocalLimiter(1, clock=loop_clock)
    first = await limiter.acquire()
    first.sent()
    first.done()
    head = asyncio.create_task(limiter.acquire(priority="high"))
    behind = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.2)
    head.cancel()
    permit = await behind
    assert loop_clock() <= limiter.window + 1e-6
    permit.done()
    assert limiter.waiting == (0, 0)


def test_an_unknown_priority_is_refused() -> None:
    """Only "high" and "normal" are lanes."""
    with pytest.raises(ValueError, match="priority"):
        asyncio.run(LocalLimiter(9).acquire(priority="urgent"))  # type: ignore[arg-type]


async def test_the_in_flight_cap_serves_a_high_waiter_first_within_its_share() -> None:
    """ConcurrencyLimiter: a freed slot goes to a high waiter ahead of earlier normal
    ones, but at most once in HIGH_TURNS hand-overs while both lanes wait."""
    limiter = ConcurrencyLimiter(1)
    held = await limiter.acquire()
    order: list[str] = []

    async def wait(name: str, priority: Priority) -> None:
        permit = await limiter.acquire(priority=priority)
        order.append(name)
        await asyncio.sleep(0)
        permit.done()

    tasks = [asyncio.create_task(wait(f"n{i}", "normal")) for i in range(3)]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(wait(f"h{i}", "high")) for i in range(2)]
    await asyncio.sleep(0)
    held.done()
    await asyncio.gather(*tasks)
    # h0 jumps the queue; h1 may not jump again within ten hand-overs.
    assert order == ["h0", "n0", "n1", "n2", "h1"]


async def test_both_limiter_passes_the_priority_and_forwards_ready() -> None:
    """BothLimiter hands "high" to each limiter and awaits ready() of permits that have it."""
    seen: list[str] = []

    class ReadyPermit:
        async def ready(self) -> None:
            seen.append("ready")

        def sent(self) -> None:
            seen.append("sent")

        def done(self) -> None:
            seen.append("done")

    class Recording:
        async def acquire(self, *, priority: Priority = "normal") -> ReadyPermit:
            seen.append(priority)
            return ReadyPermit()

    both = BothLimiter(ConcurrencyLimiter(2), Recording())
    permit = await both.acquire(priority="high")
    await permit.ready()  # type: ignore[attr-defined]
    permit.sent()
    permit.done()
    assert seen == ["high", "ready", "sent", "done"]
