"""A rate limiter shared through Redis by every process and host that uses a token.

Install the extra: ``pip install 'smsclub-async[redis]'``.

Algorithm: reserved slots, corrected by wire times
==================================================
The token's schedule lives in Redis (two small keys per token; see
:mod:`smsclub_async._redis_script`). A Lua script, run atomically by Redis in one
round trip (``EVALSHA``), reads Redis's own clock (``TIME``) and reserves the next
*slot*: no sooner than one *interval* after the slot before it (``(period + margin) /
rate``, 112 ms for 9 per 1.008 s: even spacing, no bursts) and no sooner than
``window = period + margin`` after the ``rate``-th latest *claim*. A claim is the
moment a granted request reaches (or may reach) the gateway: it starts as the slot,
and when the request goes out later than its slot (the first request on a cold
connection, a busy event loop, a process waiting for a CPU), :meth:`Permit.sent`
reports the real wire time and the claim moves there. Slots granted after that report
keep ``window`` from it, so the cap holds for the arrivals the server counts, from
the first request of a cold fleet on.

Why this closes the gap of a schedule alone: a request that left 20 ms late on a
cold connection, with the request ``rate`` slots after it on time, put ten arrivals in
one second (measured: 2, 4 and 8 fresh processes, 10 in the densest window in 5 of 5
runs). Now the later slot keeps ``window`` from the late wire time. That works as long
as the report reaches Redis before the later slot is granted, and slots are granted
at most ``horizon`` ahead (0.5 s by default), while the slot ``rate`` places later is
at least ``window`` after ours: a request may be up to ``window - horizon`` (~0.5 s)
late, its own way to Redis included. To stay inside that, a caller that wakes more
than ``(window - horizon) / 2`` after its slot forfeits it and reserves another
(``late_slots`` counts them), and a pipeline that awaits :meth:`ready` before writing
(see below) checks again at the last moment.

A transport without trace events (aiohttp) never calls :meth:`Permit.sent`; its
request is reported when its answer arrives (:meth:`Permit.done`), as having left
``margin`` before that: it reached the gateway before the answer came back, and the
next request arrives after its own slot, so ``period`` between them is enough.

Lanes: ``acquire(priority="high")`` takes the next free slot ahead of every normal
request still waiting, in every process. A normal request is granted a slot at most
``normal_horizon`` ahead (two intervals); a high one up to ``horizon``, so it takes
the first slot after those already granted, and waits at most about
``normal_horizon + interval`` (~0.34 s at 9/s). Going ahead spends one unit of a
high budget kept in Redis for the token (``high_burst`` units, refilled at
``high_share`` of the cap, 10 % by default): normal traffic keeps at least 90 % of the
cap while high requests are occasional. In a process, the waiters of each lane queue
locally and only the first of each lane asks Redis (the others do not poll), so when
the budget is spent the two lanes of every process meet Redis on equal terms and
neither starves.

Why Redis's clock: every reservation is computed on one clock, so host clocks that
disagree, drift or step do not matter. The reply carries the wait and Redis's time;
the caller maps the slot onto its own monotonic clock (NTP-style, from the recent
reply with the shortest round trip, so to within half of it: ~0.1 ms on a LAN) and
sleeps until the latest moment the slot can be on its clock, so it never goes early.
While the mapping is too uncertain (only slow round trips so far, e.g. new
connections), a waiter reads Redis's ``TIME`` again during its wait.

:meth:`ready` (optional in the pipeline): awaited when the request holds a connection
and is about to be written. If that moment is more than ``(window - horizon) / 2``
after the slot, the slot is forfeited and a new one taken there, on the connection
already open. If it is late but usable (a cold connection), the claim is moved in
Redis *before* the write, so a process descheduled right after writing cannot delay
the report. On time, it returns at once without asking Redis.

Guards:

* Horizon: a slot is never reserved more than ``horizon`` seconds ahead; a caller
  that finds the schedule full that far asks again when room opens (with jitter).
* Redis restarted (the schedule lost, or reloaded stale from disk) while callers
  still sleep towards slots it had granted: those slots lie at most one horizon after
  the crash, so for ``horizon`` + 1 s after Redis started the script grants nothing
  (it reads the uptime from ``INFO server``).
* Redis's clock stepped back: the schedule moves back with it instead of stalling.

Limits, stated plainly: a Redis failover to a replica that lags behind, a
``maxmemory`` policy that evicts keys with a TTL (``volatile-*``, ``allkeys-*``), a
``FLUSHALL``, or a forward step of Redis's clock while requests are queued can each
let a few requests through early once; so can a request that reaches the wire more
than ``window - horizon`` after its slot without passing through :meth:`ready`.
Every limiter that shares a token must use the same ``rate``, ``period``, ``margin``
and ``horizon``.

Failure behaviour: retry, then fail closed
==========================================
A connection refused or reset, a timeout, or a Redis still loading its data is retried
(backoff from 10 ms to 250 ms, with jitter) until ``redis_timeout`` has passed since
the first failure of the call: a Redis restart shorter than that costs latency, not
recipients (after it, the start-up guard above holds slots back for ``horizon`` + 1
s). Then :meth:`RedisLimiter.acquire` raises :class:`~smsclub_async.LimiterError`
naming the Redis address (never a password, never the token) and chaining the cause,
and no request is sent. A bad password, missing permissions or an error reply fail at
once. A restarted Redis, which has lost its script cache, gets the scripts loaded again
(redis-py's ``Script`` handles ``NOSCRIPT``).

Opting for availability instead: pass ``fallback=LocalLimiter(rate=...)`` with a
conservative share of the cap (``rate // number_of_processes``); while Redis fails,
acquisitions go through it, and Redis is asked again after at most a second. The
fallback cannot see the other processes, so the cap holds only if the shares add up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from ._errors import ClientClosedError, ConfigurationError, LimiterError
from ._limiter import (
    DEFAULT_HIGH_SHARE,
    DEFAULT_RATE_LIMIT,
    DEFAULT_WINDOW_MARGIN,
    Permit,
    Priority,
    RateLimiter,
    check_priority,
)
from ._limiter import token_fingerprint as _token_fingerprint
from ._redis_script import REPORT_SCRIPT, RESERVE_SCRIPT, RESERVED, SECOND_US

try:
    import redis.asyncio as aioredis
    from redis.asyncio.connection import SSLConnection
    from redis.exceptions import (
        AuthenticationError,
        AuthorizationError,
        RedisError,
    )
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "smsclub_async.redis needs redis-py: pip install 'smsclub-async[redis]'"
    ) from exc

__all__ = [
    "DEFAULT_HORIZON",
    "DEFAULT_KEY_PREFIX",
    "DEFAULT_REDIS_TIMEOUT",
    "RedisLimiter",
]

DEFAULT_KEY_PREFIX = "smsclub:ratelimit:"
"""Prefix of the Redis keys; the token's fingerprint follows it."""

DEFAULT_REDIS_TIMEOUT = 2.0
"""Seconds a call to Redis may take, retries included, before failing closed."""

DEFAULT_HORIZON = 0.5
"""Seconds ahead a slot may be reserved (by the high lane; normal: two intervals).
Below the one-second window, so that a late request's wire time reaches Redis before
the slot ``rate`` places later is granted. A restarted Redis grants no slot for this
long plus one second."""

# How long a limiter with a fallback keeps using it before asking Redis again.
_FALLBACK_PROBE_INTERVAL = 1.0
# Smallest lateness at wake-up that forfeits a slot.
_MIN_LATE_TOLERANCE = 0.001
# Smallest normal horizon (at high rates two intervals are very short).
_MIN_NORMAL_HORIZON = 0.05
# The clock mapping uses the replies of the last few seconds (clocks drift apart
# slowly; NTP slews by at most 0.05 %, 2.5 ms over 5 s) ...
_CLOCK_SAMPLE_AGE = 5.0
# ... and at most this many of them.
_CLOCK_SAMPLES = 64
# Extra reads of Redis's clock a waiter may make when the mapping is too uncertain.
_CALIBRATIONS = 3
# Backoff between retries of a failed Redis call.
_RETRY_FIRST = 0.01
_RETRY_MAX = 0.25
# Errors that a Redis restart or a network blip causes: retried within redis_timeout.
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)
# ... except these, which a retry cannot fix.
_PERMANENT = (AuthenticationError, AuthorizationError)

_log = logging.getLogger(__name__)

T = TypeVar("T")


def _redis_address(client: aioredis.Redis) -> str:
    """Where a client points, as a URL without credentials (for messages and repr)."""
    try:
        pool = client.connection_pool
        options = pool.connection_kwargs
        db = options.get("db", 0)
        path = options.get("path")
        if path:
            return f"unix://{path}?db={db}"
        scheme = "rediss" if issubclass(pool.connection_class, SSLConnection) else "redis"
        host = str(options.get("host", "localhost"))
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{options.get('port', 6379)}/{db}"
    except (AttributeError, TypeError):
        return "Redis (address unknown)"


class _RedisClock:
    """Maps Redis's clock onto ``time.monotonic()`` from the script's replies (NTP-style).

    Each reply carries Redis's time when the script ran, somewhere between the
    moments the call was made and answered. The reply with the shortest round trip
    among the recent ones pins the offset between the clocks best: to within half
    that round trip.
    """

    __slots__ = ("_samples",)

    def __init__(self) -> None:
        # (answered, round trip, offset = redis time - local midpoint)
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=_CLOCK_SAMPLES)

    def add(self, asked: float, answered: float, redis_now: float) -> None:
        """Record one reply: local times around the call, Redis's time in the script."""
        self._samples.append((answered, answered - asked, redis_now - (asked + answered) / 2))
        while self._samples[0][0] < answered - _CLOCK_SAMPLE_AGE:
            self._samples.popleft()

    def to_local(
        self, redis_time: float, *, asked: float, answered: float, redis_now: float
    ) -> tuple[float, float]:
        """Map a Redis time onto the local clock, using the latest call's reply.

        Args:
            redis_time: the Redis time to map (a slot).
            asked: local time the latest call was made.
            answered: local time its reply arrived.
            redis_now: Redis's time in that reply (already passed to :meth:`add`).

        Returns:
            ``(local, uncertainty)``: the true local time is within ``uncertainty / 2``
            of ``local``. ``local`` is also kept within what the latest call alone
            proves (Redis ran between ``asked`` and ``answered``), which bounds the
            damage of a stale mapping, e.g. after Redis's clock stepped.
        """
        round_trip, offset = min((trip, offset) for _, trip, offset in self._samples)
        wait = redis_time - redis_now
        local = min(max(redis_time - offset, asked + wait), answered + wait)
        return local, round_trip

    def latest_local(
        self, redis_time: float, *, answered: float, redis_now: float
    ) -> tuple[float, float]:
        """The latest local moment a Redis time can be, and the mapping's uncertainty.

        Sleeping until it never goes early: within half the best round trip of the
        mapped time, and never after what the latest call proves (Redis ran before
        ``answered``).
        """
        round_trip, offset = min((trip, offset) for _, trip, offset in self._samples)
        latest = min(redis_time - offset + round_trip / 2, answered + redis_time - redis_now)
        return latest, round_trip

    def latest_redis_time(self, local: float) -> float:
        """The latest Redis time a local moment can be (half the best round trip later)."""
        round_trip, offset = min((trip, offset) for _, trip, offset in self._samples)
        return local + offset + round_trip / 2


async def _acquire_from(limiter: RateLimiter, *, high: bool) -> Permit:
    """Acquire from another limiter; ``priority`` only passed for the high lane, so a
    limiter written before lanes existed still works as a fallback."""
    if high:
        return await limiter.acquire(priority="high")
    return await limiter.acquire()


class _Grant:
    """A slot reserved in Redis: its number, its Redis time, and where it falls locally."""

    __slots__ = ("claimed", "high", "redis_slot", "seq", "target")

    def __init__(self, seq: int, redis_slot: float, target: float, *, high: bool) -> None:
        self.seq = seq
        self.redis_slot = redis_slot
        self.target = target  # the latest local moment the slot can be
        self.high = high
        self.claimed = redis_slot  # the slot's claim in Redis (moved by reports)


class _RedisPermit:
    """The permit of a Redis slot: reports a late wire time so later slots keep clear."""

    __slots__ = ("_grant", "_limiter", "_reported")

    def __init__(self, limiter: RedisLimiter, grant: _Grant) -> None:
        self._limiter = limiter
        self._grant = grant
        self._reported = False

    def __repr__(self) -> str:
        return f"RedisPermit(slot={self._grant.seq})"

    async def ready(self) -> None:
        """Called just before the request is written: take a new slot if this one is stale."""
        if not self._reported:
            self._grant = await self._limiter._ready(self._grant)

    def sent(self) -> None:
        """The request is on the wire: report the moment if it is later than the slot."""
        if not self._reported:
            self._reported = True
            self._limiter._report(self._grant, time.monotonic(), answered=False)

    def done(self) -> None:
        """The attempt is over; without a :meth:`sent`, the answer's time bounds the wire's."""
        if not self._reported:
            self._reported = True
            self._limiter._report(self._grant, time.monotonic(), answered=True)


class RedisLimiter:
    """A :class:`~smsclub_async.RateLimiter` whose schedule lives in Redis.

    Every process, on any host, that builds a ``RedisLimiter`` for the same token and
    Redis shares one schedule: together they never let more than ``rate`` requests
    reach the gateway in any ``period``-long window, and together they sustain
    ``rate * period / (period + margin)`` requests per second. The token itself never
    reaches Redis: keys carry a SHA-256 fingerprint of it.

    A limiter built on a client you pass borrows it (``aclose`` leaves it open); one
    built with :meth:`from_url` owns its client and closes it in :meth:`aclose`.
    A limiter works on the event loop its Redis client is used on.

    Args:
        client: a ``redis.asyncio.Redis`` client.
        token: the SMS Club token whose cap is shared.
        rate: requests allowed per ``period``.
        period: the gateway's window, in seconds.
        margin: seconds added to the window to absorb timing jitter.
        key_prefix: prefix of the Redis keys (the fingerprint follows it).
        redis_timeout: seconds a call to Redis may take, retries included, before
            :class:`LimiterError`.
        horizon: seconds ahead a slot may be reserved by the high lane (keep it below
            the window), and how long a freshly started Redis grants nothing (plus one
            second; see the module docstring).
        high_share: the share of the cap the high lane may take ahead of waiting
            normal requests in the long run.
        high_burst: how many high requests may go ahead at once (``rate`` by default).
        fallback: a limiter to use while Redis fails, instead of failing. Give it a
            conservative share of the cap, e.g. ``LocalLimiter(rate // processes)``.

    Attributes:
        late_slots: slots this limiter reserved but forfeited because its caller
            reached them too late to use them safely (a sign of an overloaded loop).
        reports: late wire times reported to Redis (requests that left after their
            slot, e.g. on a cold connection).

    Raises:
        ConfigurationError: an empty token or an impossible rate, period or timeout.

    Example:
        >>> import redis.asyncio
        >>> limiter = RedisLimiter(redis.asyncio.Redis(), token="secret", rate=9)
        >>> limiter
        RedisLimiter(rate=9, period=1.0, margin=0.008, key='smsclub:ratelimit:2bb80d537b1da3e3', redis='redis://localhost:6379/0')

        In an application::

            async with RedisLimiter.from_url("redis://127.0.0.1:6379/0", token=token) as limiter:
                permit = await limiter.acquire()  # waits for the token's next slot
                ...  # send the request
    """

    __slots__ = (
        "_address",
        "_claims_key",
        "_client",
        "_clock",
        "_closed",
        "_fallback",
        "_fallback_until",
        "_high_burst",
        "_horizon_us",
        "_interval_us",
        "_key",
        "_late_limit",
        "_normal_horizon_us",
        "_owns_client",
        "_refill_per_us",
        "_report_script",
        "_reporting",
        "_reserve",
        "_turns",
        "_window_us",
        "high_share",
        "horizon",
        "late_slots",
        "margin",
        "period",
        "rate",
        "redis_timeout",
        "reports",
    )

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        token: str,
        rate: int = DEFAULT_RATE_LIMIT,
        period: float = 1.0,
        margin: float = DEFAULT_WINDOW_MARGIN,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        redis_timeout: float = DEFAULT_REDIS_TIMEOUT,
        horizon: float = DEFAULT_HORIZON,
        high_share: float = DEFAULT_HIGH_SHARE,
        high_burst: int | None = None,
        fallback: RateLimiter | None = None,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise ConfigurationError("RedisLimiter needs the token whose cap it shares")
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise ConfigurationError(
                f"rate must be a positive whole number of requests, got {rate!r}"
            )
        if not period > 0 or not margin >= 0:
            raise ConfigurationError("period must be positive and margin not negative")
        if not redis_timeout > 0 or not horizon > 0:
            raise ConfigurationError("redis_timeout and horizon must be positive")
        if not 0 <= high_share <= 1:
            raise ConfigurationError(f"high_share must be between 0 and 1, got {high_share!r}")
        if high_burst is not None and (isinstance(high_burst, bool) or high_burst < 1):
            raise ConfigurationError(f"high_burst must be at least 1, got {high_burst!r}")
        self.rate = rate
        self.period = period
        self.margin = margin
        self.redis_timeout = redis_timeout
        self.horizon = horizon
        self.high_share = high_share
        self._high_burst = high_burst if high_burst is not None else rate
        self._refill_per_us = high_share * rate / period / SECOND_US
        # Rounded up, so rounding never brings two slots closer than the interval.
        self._interval_us = math.ceil((period + margin) * SECOND_US / rate)
        self._window_us = math.ceil((period + margin) * SECOND_US)
        self._horizon_us = round(horizon * SECOND_US)
        normal_horizon = min(horizon, max(2 * self._interval_us / SECOND_US, _MIN_NORMAL_HORIZON))
        self._normal_horizon_us = round(normal_horizon * SECOND_US)
        self._key = f"{key_prefix}{_token_fingerprint(token)}"
        self._claims_key = f"{self._key}:claims"
        self._client = client
        self._address = _redis_address(client)
        self._reserve = client.register_script(RESERVE_SCRIPT)
        self._report_script = client.register_script(REPORT_SCRIPT)
        # A wake-up later than this forfeits the slot: the wire time must still reach
        # Redis before the slot `rate` places later is granted (see the docstring).
        self._late_limit = max(margin / 2, _MIN_LATE_TOLERANCE, (period + margin - horizon) / 2)
        self._clock = _RedisClock()
        self._turns = {True: asyncio.Lock(), False: asyncio.Lock()}  # by lane: high?
        self._reporting: set[asyncio.Task[None]] = set()
        self.late_slots = 0
        self.reports = 0
        self._fallback = fallback
        self._fallback_until = 0.0
        self._owns_client = False
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        token: str,
        rate: int = DEFAULT_RATE_LIMIT,
        period: float = 1.0,
        margin: float = DEFAULT_WINDOW_MARGIN,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        redis_timeout: float = DEFAULT_REDIS_TIMEOUT,
        horizon: float = DEFAULT_HORIZON,
        high_share: float = DEFAULT_HIGH_SHARE,
        high_burst: int | None = None,
        fallback: RateLimiter | None = None,
        **redis_options: Any,
    ) -> RedisLimiter:
        """Build a limiter with its own Redis client, closed by :meth:`aclose`.

        Args:
            url: a redis-py URL, e.g. ``redis://:password@host:6379/0``,
                ``rediss://...`` or ``unix:///run/redis.sock?db=0``.
            token: the SMS Club token whose cap is shared.
            redis_options: passed to ``redis.asyncio.Redis.from_url``; the socket
                timeouts default to ``redis_timeout``.

        The other arguments are those of :class:`RedisLimiter`.

        Example:
            >>> limiter = RedisLimiter.from_url("redis://127.0.0.1:6379/0", token="secret")
            >>> limiter.address
            'redis://127.0.0.1:6379/0'
        """
        redis_options.setdefault("socket_connect_timeout", redis_timeout)
        redis_options.setdefault("socket_timeout", redis_timeout)
        client = aioredis.Redis.from_url(url, **redis_options)
        limiter = cls(
            client,
            token=token,
            rate=rate,
            period=period,
            margin=margin,
            key_prefix=key_prefix,
            redis_timeout=redis_timeout,
            horizon=horizon,
            high_share=high_share,
            high_burst=high_burst,
            fallback=fallback,
        )
        limiter._owns_client = True
        return limiter

    @property
    def key(self) -> str:
        """The Redis key of the token's schedule (prefix and fingerprint, never the token)."""
        return self._key

    @property
    def claims_key(self) -> str:
        """The Redis key of the token's recent wire-time claims."""
        return self._claims_key

    @property
    def address(self) -> str:
        """The Redis server, as a URL without credentials."""
        return self._address

    @property
    def window(self) -> float:
        """``period + margin``: the window no ``rate + 1`` arrivals fit into."""
        return round(self.period + self.margin, 9)

    @property
    def interval(self) -> float:
        """Seconds between two consecutive slots of the token."""
        return self._interval_us / SECOND_US

    @property
    def normal_horizon(self) -> float:
        """Seconds ahead a normal request may reserve a slot (two intervals)."""
        return self._normal_horizon_us / SECOND_US

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def __repr__(self) -> str:
        state = ", closed" if self._closed else ""
        return (
            f"RedisLimiter(rate={self.rate}, period={self.period}, margin={self.margin},"
            f" key={self._key!r}, redis={self._address!r}{state})"
        )

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """Wait for the token's next slot and return its permit.

        Waits as long as the schedule needs (never fails because the rate is
        reached); cancelling the wait forfeits the reserved slot, which is safe.

        Args:
            priority: ``"high"`` to take the next free slot ahead of every waiting
                normal request, in every process (within the high budget).

        Raises:
            LimiterError: Redis did not grant a slot within ``redis_timeout`` (and no
                fallback was given); no request may be sent.
            ClientClosedError: the limiter was closed.
            ValueError: an unknown priority.
        """
        high = check_priority(priority)
        while True:
            if self._closed:
                raise ClientClosedError(
                    f"this RedisLimiter ({self._key}) was closed; create a new one"
                )
            if self._fallback is not None and time.monotonic() < self._fallback_until:
                return await _acquire_from(self._fallback, high=high)
            try:
                grant = await self._take_slot(high=high)
            except LimiterError as error:
                if self._fallback is None:
                    raise
                self._use_fallback(error)
                return await _acquire_from(self._fallback, high=high)
            if grant is not None:
                return _RedisPermit(self, grant)

    async def _take_slot(self, *, high: bool) -> _Grant | None:
        """Reserve a slot and sleep until it; ``None`` if it was reached too late."""
        # One waiter per lane and process asks Redis at a time: the others would only
        # be told to come back later, and a lane with more askers would win more polls.
        async with self._turns[high]:
            grant, asked, answered, redis_now = await self._reserve_slot(high=high)
        if await self._wait_for(grant, asked, answered, redis_now):
            return grant
        return None

    async def _reserve_slot(self, *, high: bool) -> tuple[_Grant, float, float, float]:
        """Ask Redis until it grants a slot; the grant and the call's times."""
        while True:
            asked = time.monotonic()
            reserved, wait_us, redis_now_us, seq = await self._call_script(high=high)
            answered = time.monotonic()
            if self._fallback_until:
                self._fallback_until = 0.0
                _log.info(
                    "Redis at %s answers again; rate limit %s shared again",
                    self._address,
                    self._key,
                )
            redis_now = redis_now_us / SECOND_US
            self._clock.add(asked, answered, redis_now)
            if reserved:
                redis_slot = redis_now + wait_us / SECOND_US
                target, _ = self._clock.latest_local(
                    redis_slot, answered=answered, redis_now=redis_now
                )
                return _Grant(seq, redis_slot, target, high=high), asked, answered, redis_now
            # The lane's horizon is full: ask again when room opens, spread out so that
            # waiters turned away together do not come back together.
            jitter = random.uniform(0, self._interval_us / 2)  # noqa: S311 - not for security
            await asyncio.sleep((wait_us + jitter) / SECOND_US)

    async def _wait_for(
        self, grant: _Grant, asked: float, answered: float, redis_now: float
    ) -> bool:
        """Sleep until a reserved slot; whether it was reached in time to be used.

        ``asked`` and ``answered`` are the local times around the call that reserved
        it, ``redis_now`` Redis's time in that call.
        """
        del asked
        calibrations = 0
        while True:
            # Mapped again after every wait: replies that arrived meanwhile (to other
            # coroutines) may pin the clocks better.
            grant.target, uncertainty = self._clock.latest_local(
                grant.redis_slot, answered=answered, redis_now=redis_now
            )
            delay = grant.target - time.monotonic()
            if delay <= 0:
                break
            if uncertainty > self.margin / 2 and calibrations < _CALIBRATIONS:
                # Too uncertain (all recent round trips were slow, e.g. new
                # connections): read Redis's clock once more meanwhile.
                calibrations += 1
                await self._calibrate(delay)
            else:
                await asyncio.sleep(delay)
        return self._in_time(grant)

    def _in_time(self, grant: _Grant) -> bool:
        """Whether a slot reached now can still be used; counts a forfeit if not."""
        lateness = time.monotonic() - grant.target
        if lateness <= self._late_limit:
            return True
        # Its wire time might reach Redis after the slot `rate` places later was
        # granted: forfeit it (the caller takes another).
        self.late_slots += 1
        _log.debug("slot of %s reached %.1f ms late; reserving another", self._key, lateness * 1e3)
        return False

    async def _ready(self, grant: _Grant) -> _Grant:
        """The request is about to be written: keep the slot, or take a fresh one.

        A slot kept although late has its claim moved in Redis *before* the write (to
        now, plus a quarter of the margin for the write itself), so that a process
        that is descheduled right after writing cannot delay the report past the
        moment the slot ``rate`` places later is granted.
        """
        while not self._in_time(grant):
            taken = await self._take_slot(high=grant.high)
            if taken is None:
                continue
            grant = taken
        now = self._clock.latest_redis_time(time.monotonic())
        if now > grant.claimed + self.margin / 4:
            wire = now + self.margin / 4
            self.reports += 1
            await self._send_report(grant.seq, round(wire * SECOND_US))
            grant.claimed = wire
        return grant

    def _report(self, grant: _Grant, local: float, *, answered: bool) -> None:
        """Move the slot's claim in Redis to the request's wire time, if it is later."""
        wire = self._clock.latest_redis_time(local)
        if answered:
            # It reached the gateway before its answer came back; the next request
            # arrives after its own slot, so `period` from here is enough.
            wire -= self.margin
        if wire <= grant.claimed + self.margin / 4:
            # On time, within a quarter of the margin (the rest absorbs the jitter of
            # the way to the gateway and of its clock): the slot's claim stands.
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - a permit used outside a loop
            return
        self.reports += 1
        grant.claimed = wire
        task = loop.create_task(self._send_report(grant.seq, round(wire * SECOND_US)))
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)

    async def _send_report(self, seq: int, wire_us: int) -> None:
        try:
            await self._with_retries(
                lambda: self._report_script(
                    keys=[self._claims_key],
                    args=[seq, wire_us, self.rate, self._window_us],
                )
            )
        except LimiterError as error:
            _log.warning("could not report a late request to Redis: %s", error)

    async def _calibrate(self, limit: float) -> None:
        """One ``TIME`` round trip, to map Redis's clock better; failures are ignored."""
        asked = time.monotonic()
        try:
            async with asyncio.timeout(min(limit, self.redis_timeout)):
                seconds, micros = await self._client.time()
        except (TimeoutError, RedisError, OSError):
            return
        self._clock.add(asked, time.monotonic(), seconds + micros / SECOND_US)

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a Redis call, retrying transient failures until ``redis_timeout`` passed.

        Raises:
            LimiterError: the call failed for good, or did not succeed in time.
        """
        deadline = time.monotonic() + self.redis_timeout
        backoff = _RETRY_FIRST
        first_failure: BaseException | None = None
        while True:
            remaining = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(remaining, 0.0)):
                    return await call()
            except _PERMANENT as exc:
                raise self._failure(exc) from exc
            except (*_TRANSIENT, TimeoutError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Our caller was cancelled as the call timed out: the timeout must
                    # not swallow that (Python 3.11's asyncio.timeout can), or a
                    # cancelled acquire() would go on asking Redis.
                    raise asyncio.CancelledError from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # Name what kept failing, not the timeout of the last short try.
                    cause = first_failure if isinstance(exc, TimeoutError) else exc
                    raise self._failure(cause or exc) from exc
                first_failure = first_failure or exc
                _log.debug("Redis at %s failed (%r); retrying", self._address, exc)
                # The last try is made at the deadline, with what time is left.
                pause = backoff * random.uniform(0.5, 1.0)  # noqa: S311 - not for security
                await asyncio.sleep(min(pause, remaining))
                backoff = min(backoff * 2, _RETRY_MAX)
            except RedisError as exc:
                raise self._failure(exc) from exc

    def _failure(self, exc: BaseException) -> LimiterError:
        if isinstance(exc, TimeoutError | RedisTimeoutError):
            return LimiterError(
                f"Redis at {self._address} did not grant a rate-limit slot within"
                f" {self.redis_timeout:g} s; no request was sent (check that Redis is"
                " up and reachable, or raise redis_timeout)"
            )
        if isinstance(exc, _TRANSIENT) and not isinstance(exc, _PERMANENT):
            return LimiterError(
                f"Redis at {self._address} could not grant a rate-limit slot within"
                f" {self.redis_timeout:g} s ({type(exc).__name__}); no request was sent"
                " (check that Redis is up and reachable)"
            )
        return LimiterError(
            f"Redis at {self._address} could not grant a rate-limit slot"
            f" ({type(exc).__name__}); no request was sent (check that Redis is up"
            " and reachable and the credentials are right)"
        )

    async def _call_script(self, *, high: bool) -> tuple[bool, int, int, int]:
        """Run the reservation script (with retries); failures become :class:`LimiterError`."""
        reply = await self._with_retries(
            lambda: self._reserve(
                keys=[self._key, self._claims_key],
                args=[
                    self._interval_us,
                    self._normal_horizon_us,
                    self._horizon_us,
                    self._window_us,
                    self.rate,
                    1 if high else 0,
                    self._high_burst,
                    repr(self._refill_per_us),
                ],
            )
        )
        try:
            status, wait_us, redis_now_us, seq = reply
            return int(status) == RESERVED, max(0, int(wait_us)), int(redis_now_us), int(seq)
        except (TypeError, ValueError) as exc:
            raise LimiterError(
                f"Redis at {self._address} answered the rate-limit script with"
                f" {type(reply).__name__} instead of four numbers; no request was sent"
            ) from exc

    def _use_fallback(self, error: LimiterError) -> None:
        first = self._fallback_until == 0.0
        self._fallback_until = time.monotonic() + _FALLBACK_PROBE_INTERVAL
        if first:
            _log.warning(
                "%s; using the fallback limiter %r until Redis answers again",
                error,
                self._fallback,
            )

    async def aclose(self) -> None:
        """Close the limiter, and its Redis client if :meth:`from_url` created it.

        Reports of late requests still on their way are given ``redis_timeout`` to
        arrive first. Safe to call more than once. A borrowed client stays open.
        """
        if self._closed:
            return
        self._closed = True
        if self._reporting:
            await asyncio.wait(set(self._reporting), timeout=self.redis_timeout)
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RedisLimiter:
        if self._closed:
            raise ClientClosedError(f"this RedisLimiter ({self._key}) was closed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
