"""RedisLimiter against a real redis-server: pacing, keys, failures, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio

import smsclub_async.redis as redis_module
from smsclub_async._errors import ClientClosedError, ConfigurationError, LimiterError
from smsclub_async._limiter import Permit, RateLimiter, token_fingerprint
from smsclub_async.redis import DEFAULT_KEY_PREFIX, RedisLimiter, _RedisClock

from ._redis_support import TEST_HORIZON, LimiterFactory, RedisServer, free_port
from ._redis_timing import densest_window, steady_rate, tightest_span

pytestmark = pytest.mark.redis


async def collect(limiter: RedisLimiter, coroutines: int, each: int) -> list[list[float]]:
    """Admission times of ``coroutines`` tasks that each acquire ``each`` times."""

    async def run() -> list[float]:
        times = []
        for _ in range(each):
            await limiter.acquire()
            times.append(time.monotonic())
        return times

    return await asyncio.gather(*(run() for _ in range(coroutines)))


# --- the pure timing helpers the tests judge with ---------------------------------


def test_densest_window_counts_a_closed_window() -> None:
    """Two admissions exactly one window apart share a window."""
    assert densest_window([0.0, 1.0]) == 2
    assert densest_window([0.0, 1.0001]) == 1
    assert densest_window([]) == 0
    assert densest_window([0.5, 0.0, 0.2, 3.0, 3.1]) == 3


def test_steady_rate_uses_the_span_between_first_and_last() -> None:
    """Ten admissions 0.1 s apart are 10 per second; times outside are ignored."""
    times = [i / 10 for i in range(10)] + [50.0]
    assert abs(steady_rate(times, 0.0, 10.0) - 10.0) < 1e-9
    assert steady_rate([1.0], 0.0, 2.0) == 0.0


def test_tightest_span_of_consecutive_admissions() -> None:
    """The shortest time three consecutive admissions took; inf when there are fewer."""
    assert tightest_span([0.0, 0.5, 0.6, 2.0], 3) == 0.6
    assert tightest_span([0.0, 1.0], 3) == float("inf")


# --- mapping Redis's clock onto the local one (pure) ---------------------------


def test_clock_mapping_trusts_the_shortest_round_trip() -> None:
    """The offset comes from the fastest reply; the uncertainty is its round trip."""
    clock = _RedisClock()
    # Redis runs 1000 s ahead of the local clock.
    clock.add(asked=10.0, answered=10.050, redis_now=1010.049)  # slow: 50 ms
    clock.add(asked=11.0, answered=11.001, redis_now=1011.0005)  # fast: 1 ms
    clock.add(asked=12.0, answered=12.030, redis_now=1012.001)  # slow, ran early
    local, uncertainty = clock.to_local(1012.101, asked=12.0, answered=12.030, redis_now=1012.001)
    assert uncertainty == pytest.approx(0.001)
    assert local == pytest.approx(12.101)


def test_clock_mapping_stays_within_what_the_latest_call_proves() -> None:
    """A stale offset (Redis's clock stepped) cannot move a slot out of what the call proves."""
    clock = _RedisClock()
    clock.add(asked=10.0, answered=10.001, redis_now=1010.0005)
    # Redis's clock stepped 5 s back since.
    clock.add(asked=11.0, answered=11.004, redis_now=1006.002)
    local, _ = clock.to_local(1006.102, asked=11.0, answered=11.004, redis_now=1006.002)
    assert 11.1 <= local <= 11.104


def test_clock_mapping_forgets_old_replies() -> None:
    """Replies older than a few seconds are dropped (the clocks drift apart slowly)."""
    clock = _RedisClock()
    clock.add(asked=0.0, answered=0.0001, redis_now=1000.0)
    clock.add(asked=100.0, answered=100.002, redis_now=1100.001)
    _, uncertainty = clock.to_local(1100.5, asked=100.0, answered=100.002, redis_now=1100.001)
    assert uncertainty == pytest.approx(0.002)


# --- pacing --------------------------------------------------------------------


async def test_one_coroutine_is_paced_at_the_rate(make_limiter: LimiterFactory) -> None:
    """One coroutine: the first slot is immediate, then one per interval, cap held."""
    limiter = make_limiter(rate=40)
    started = time.monotonic()
    [times] = await collect(limiter, 1, 50)
    assert times[0] - started < 0.05
    # Gaps between admissions may be shorter than the interval after a late wake-up
    # (the slot stays where it was); the window is what must hold.
    assert densest_window(times) <= 40
    assert steady_rate(times, times[0], times[-1]) >= 0.95 * 40


@pytest.mark.parametrize(
    "horizon",
    [TEST_HORIZON, 0.1],
    ids=["all-slots-reserved-ahead", "horizon-full-waiters-poll"],
)
async def test_many_coroutines_share_the_cap(make_limiter: LimiterFactory, horizon: float) -> None:
    """Ten coroutines: no 1 s window over the cap, >= 95 % of it, everyone served.

    With a 0.1 s horizon the schedule is full most of the time, so most waiters are
    turned away and ask again: the polling path must hold the cap and the rate too.
    """
    limiter = make_limiter(rate=40, horizon=horizon)
    per_task = await collect(limiter, 10, 5)
    times = [t for task in per_task for t in task]
    assert len(times) == 50
    assert densest_window(times) <= 40
    assert steady_rate(times, min(times), max(times)) >= 0.95 * 40


async def test_a_slot_reached_late_is_forfeited_not_used(make_limiter: LimiterFactory) -> None:
    """A caller whose loop was blocked far past its slot takes a new slot instead.

    Its wire time could reach Redis after the slot `rate` places later was granted,
    so going would risk the cap. A little late is fine: the wire time is reported.
    """
    limiter = make_limiter(rate=20)  # a slot every 50.4 ms
    assert limiter._late_limit == pytest.approx((limiter.window - limiter.horizon) / 2)
    await limiter.acquire()
    started = time.monotonic()
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)  # the second caller has reserved the slot at ~50 ms
    time.sleep(0.05 + limiter._late_limit + 0.05)  # noqa: ASYNC251 - block the loop on purpose
    await second
    assert limiter.late_slots == 1
    assert time.monotonic() - started >= 0.05 + limiter._late_limit + 0.05


async def test_a_slot_reached_a_little_late_is_used_and_reported(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    """Blocked 60 ms past its slot: the request goes, and its claim moves to its wire time."""
    limiter = make_limiter(rate=20)
    await limiter.acquire()
    second = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    time.sleep(0.1)  # noqa: ASYNC251 - block the loop past the slot (~50 ms) on purpose
    permit = await second
    assert limiter.late_slots == 0
    seconds, micros = await redis_client.time()
    permit.sent()
    await asyncio.sleep(0.05)  # the report is sent in the background
    assert limiter.reports == 1
    claims = await redis_client.zrange(limiter.claims_key, 0, -1, withscores=True)
    latest = max(float(entry[1]) for entry in claims)
    # The claim is the wire time (about now on Redis's clock), not the slot 50 ms ago.
    assert abs(latest - (seconds * 1_000_000 + micros)) < 5_000


async def test_the_protocol_is_implemented(make_limiter: LimiterFactory) -> None:
    """RedisLimiter is a RateLimiter; its permit's sent() and done() are harmless no-ops."""
    limiter = make_limiter()
    assert isinstance(limiter, RateLimiter)
    permit = await limiter.acquire()
    assert isinstance(permit, Permit)
    permit.sent()
    permit.done()
    permit.done()


# --- keys ----------------------------------------------------------------------


async def test_keys_carry_the_fingerprint_never_the_token(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis, token: str
) -> None:
    """Only prefix + fingerprint reaches Redis, with a TTL just past the schedule."""
    default = make_limiter(rate=40)
    custom = make_limiter(rate=40, key_prefix="myapp:sms:")
    await collect(default, 3, 2)
    await custom.acquire()

    keys = [key.decode() async for key in redis_client.scan_iter(count=1000)]
    fingerprint = token_fingerprint(token)
    assert default.key == f"{DEFAULT_KEY_PREFIX}{fingerprint}"
    assert custom.key == f"myapp:sms:{fingerprint}"
    assert {default.key, custom.key, default.claims_key, custom.claims_key} <= set(keys)
    for key in keys:
        assert token not in key
        assert "SECRET" not in key
        if key.endswith(":claims"):
            claims = await redis_client.zrange(key, 0, -1)
            assert all(token.encode() not in member for member in claims)
            continue
        state = await redis_client.hgetall(key)
        assert all(token.encode() not in value for value in [*state, *state.values()])
    ttl_ms = await redis_client.pttl(default.key)
    # The schedule (7 slots) plus one window for the claims, plus a second.
    assert 0 < ttl_ms <= 1000 + (7 * default.interval + default.window) * 1000 + 5


async def test_an_idle_token_leaves_nothing_behind(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    """The key expires about a second after the token's schedule runs out."""
    limiter = make_limiter(rate=40)
    await limiter.acquire()
    ttl_ms = await redis_client.pttl(limiter.key)
    assert ttl_ms > 0
    await asyncio.sleep(ttl_ms / 1000 + 0.05)
    assert await redis_client.exists(limiter.key) == 0


# --- Redis misbehaving -----------------------------------------------------------


async def test_redis_down_fails_closed_quickly(token: str) -> None:
    """Nothing listening: LimiterError within the timeout, naming the address only."""
    port = free_port()
    limiter = RedisLimiter.from_url(
        f"redis://:hunter2@127.0.0.1:{port}/0", token=token, redis_timeout=0.3
    )
    async with limiter:
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(LimiterError) as caught:
                await limiter.acquire()
            assert time.monotonic() - started < 0.3 + 0.3
            message = str(caught.value)
            assert f"redis://127.0.0.1:{port}/0" in message
            assert "no request was sent" in message
            assert "hunter2" not in message
            assert token not in message
            assert caught.value.__cause__ is not None


async def test_redis_that_hangs_fails_closed_after_the_timeout(token: str) -> None:
    """A server that accepts and never answers: LimiterError after redis_timeout."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RedisLimiter.from_url(
            f"redis://127.0.0.1:{port}/0", token=token, redis_timeout=0.3
        ) as limiter:
            started = time.monotonic()
            with pytest.raises(LimiterError, match=r"within 0\.3 s"):
                await limiter.acquire()
            assert 0.3 <= time.monotonic() - started < 0.8
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.01)


async def test_script_cache_flushed_is_reloaded(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    """NOSCRIPT (a restarted or flushed Redis) is answered by loading the script again."""
    limiter = make_limiter(rate=40)
    await limiter.acquire()
    await redis_client.script_flush()
    await limiter.acquire()


async def test_redis_clock_stepped_back_does_not_stall_the_token(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    """A schedule written by a clock 10 s ahead is moved back, not waited out."""
    limiter = make_limiter(rate=40)
    seconds, micros = await redis_client.time()
    now_us = seconds * 1_000_000 + micros
    ahead = 10_000_000
    await redis_client.hset(
        limiter.key, mapping={"tat": str(now_us + ahead + 300_000), "seen": str(now_us + ahead)}
    )
    started = time.monotonic()
    await limiter.acquire()
    assert 0.25 <= time.monotonic() - started < 0.6


async def test_redis_restarted_mid_run_resumes_without_breaking_the_cap(
    spare_redis_server: RedisServer, token: str
) -> None:
    """Kill -9 and restart Redis on the same port while 8 coroutines are queued.

    Slots granted before the crash are still being slept towards; the restarted,
    empty Redis must not hand out slots that collide with them (its start-up
    quarantine), acquisitions must resume by themselves, and the errors during the
    outage must be LimiterError, never an admission.
    """
    server = spare_redis_server
    await asyncio.to_thread(server.start)
    rate, horizon, redis_timeout = 20, 0.5, 0.5
    times: list[float] = []
    errors: list[LimiterError] = []
    restarted_at = 0.0

    stop = asyncio.Event()

    async def run(limiter: RedisLimiter) -> None:
        # Until told to stop, not only until cancelled: a loop that catches
        # LimiterError must not outlive the test if a cancellation were lost.
        while not stop.is_set():
            try:
                await limiter.acquire()
            except LimiterError as error:
                errors.append(error)
                await asyncio.sleep(0.05)
            else:
                times.append(time.monotonic())

    async def admitted(count: int, after: float, within: float) -> None:
        deadline = time.monotonic() + within
        while sum(t > after for t in times) < count:
            assert time.monotonic() < deadline, f"only {len(times)} admissions"
            await asyncio.sleep(0.02)

    async with RedisLimiter.from_url(
        server.url, token=token, rate=rate, horizon=horizon, redis_timeout=redis_timeout
    ) as limiter:
        tasks = [asyncio.create_task(run(limiter)) for _ in range(8)]
        try:
            await admitted(25, 0.0, within=horizon + 1 + 3)
            await asyncio.to_thread(server.stop, kill=True)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.start)
            restarted_at = time.monotonic()
            await admitted(25, restarted_at, within=horizon + 1 + 3)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=redis_timeout * 4)
            assert not stuck, f"{len(stuck)} acquire() loops ignored their cancellation"

    after = [t for t in times if t > restarted_at]
    assert after[0] - restarted_at < horizon + 1 + 0.5
    assert densest_window(times) <= rate
    assert all(token not in str(error) for error in errors)


# --- fallback ------------------------------------------------------------------


class CountingLimiter:
    """A fallback that admits at once and counts (written before lanes: no priority)."""

    def __init__(self) -> None:
        self.count = 0

    async def acquire(self) -> Permit:
        self.count += 1
        return _FakePermit()


class _FakePermit:
    def sent(self) -> None:
        pass

    def done(self) -> None:
        pass


async def test_fallback_is_used_while_redis_is_down_and_left_when_it_returns(
    spare_redis_server: RedisServer,
    token: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opt-in availability: the fallback admits during the outage, Redis after it."""
    monkeypatch.setattr(redis_module, "_FALLBACK_PROBE_INTERVAL", 0.1)
    fallback = CountingLimiter()
    caplog.set_level(logging.INFO, logger="smsclub_async.redis")
    async with RedisLimiter.from_url(
        spare_redis_server.url,
        token=token,
        redis_timeout=0.2,
        horizon=0.2,
        fallback=fallback,  # type: ignore[arg-type]  # a limiter from before lanes still works
    ) as limiter:
        for _ in range(3):
            await limiter.acquire()
        assert fallback.count == 3
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "fallback" in warnings[0].getMessage()
        assert token not in caplog.text

        await asyncio.to_thread(spare_redis_server.start)
        await asyncio.sleep(0.15)
        await limiter.acquire()
        assert fallback.count == 3
        assert "answers again" in caplog.text


# --- lifecycle and configuration -------------------------------------------------


async def test_from_url_owns_and_closes_its_client(
    redis_server: RedisServer, redis_client: redis.asyncio.Redis, token: str
) -> None:
    """A from_url limiter's connections are gone after aclose; aclose twice is fine."""
    limiter = RedisLimiter.from_url(
        redis_server.url, token=token, horizon=TEST_HORIZON, client_name="owned-limiter"
    )
    await limiter.acquire()
    names = [c["name"] for c in await redis_client.client_list()]
    assert "owned-limiter" in names
    await limiter.aclose()
    await limiter.aclose()
    assert limiter.closed
    await asyncio.sleep(0.05)
    names = [c["name"] for c in await redis_client.client_list()]
    assert "owned-limiter" not in names
    with pytest.raises(ClientClosedError):
        await limiter.acquire()


async def test_a_borrowed_client_stays_open(
    make_limiter: LimiterFactory, redis_client: redis.asyncio.Redis
) -> None:
    """Closing a limiter built on your client leaves the client usable."""
    limiter = make_limiter()
    async with limiter:
        await limiter.acquire()
    assert limiter.closed
    assert await redis_client.ping()
    with pytest.raises(ClientClosedError, match="closed"):
        await limiter.acquire()


async def test_repr_names_the_address_and_fingerprint_never_token_or_password(
    token: str,
) -> None:
    """repr shows rate, key and a credential-free address."""
    limiter = RedisLimiter.from_url("redis://admin:hunter2@127.0.0.1:6390/2", token=token)
    text = repr(limiter)
    assert text == (
        "RedisLimiter(rate=9, period=1.0, margin=0.008,"
        f" key='smsclub:ratelimit:{token_fingerprint(token)}',"
        " redis='redis://127.0.0.1:6390/2')"
    )
    assert limiter.address == "redis://127.0.0.1:6390/2"
    await limiter.aclose()
    assert repr(limiter).endswith(", closed)")
    assert token not in repr(limiter)
    assert "hunter2" not in repr(limiter)
    assert "admin" not in repr(limiter)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("rediss://:pw@cache.example:6380/1", "rediss://cache.example:6380/1"),
        ("unix:///run/redis.sock?db=3", "unix:///run/redis.sock?db=3"),
        ("redis://[::1]:6379", "redis://[::1]:6379/0"),
    ],
)
async def test_address_is_a_url_without_credentials(url: str, address: str) -> None:
    """TLS, unix sockets and IPv6 hosts are named as the user would write them."""
    limiter = RedisLimiter.from_url(url, token="t")
    assert limiter.address == address
    await limiter.aclose()


@pytest.mark.parametrize(
    "options",
    [
        {"token": ""},
        {"rate": 0},
        {"rate": 9.5},
        {"rate": True},
        {"period": 0},
        {"margin": -0.001},
        {"redis_timeout": 0},
        {"horizon": -1},
    ],
    ids=str,
)
async def test_impossible_settings_are_refused(options: dict[str, object]) -> None:
    """Bad settings raise ConfigurationError (a ValueError) naming the problem."""
    client = redis.asyncio.Redis()
    arguments: dict[str, object] = {"token": "t", **options}
    with pytest.raises(ConfigurationError):
        RedisLimiter(client, **arguments)  # type: ignore[arg-type]
    await client.aclose()


async def test_interval_spaces_rate_slots_over_period_plus_margin() -> None:
    """9 per 1.008 s: 112 ms between slots, so ten slots never fit into one second."""
    async with RedisLimiter.from_url("redis://127.0.0.1:6379/0", token="t") as limiter:
        assert limiter.window == 1.008
        assert limiter.interval == 0.112
        assert 9 * limiter.interval > 1.0
