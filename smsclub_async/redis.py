"""A rate limiter shared through Redis by every process and host that uses a token.

Install the extra: ``pip install 'smsclub-async[redis]'``.

Algorithm: a reserving GCRA with no burst
=========================================
The token's schedule is one number in Redis, the *theoretical arrival time* (TAT):
the earliest moment the next request may go. A Lua script, run atomically by Redis
in one round trip (``EVALSHA``), reads Redis's own clock (``TIME``), reserves the slot
``max(now, TAT)``, moves TAT one *interval* on and returns the wait until the slot;
the caller sleeps that long and goes. The interval is ``(period + margin) / rate``
(112 ms for 9 per 1.008 s), so any ``rate + 1`` consecutive slots span at least
``period + margin``: no window of ``period`` seconds can hold more than ``rate``
admissions, across any number of processes, and the sustained rate is
``rate * period / (period + margin)`` (99.2 % of the cap with the defaults).

Why spacing rather than an exact sliding log of the last ``rate`` admissions (a ZSET):
a log admits ``rate`` requests at once and then ``rate`` more a window later, so the
whole margin is spent between the first and the last of a burst, and a burst of nine
requests opening nine connections at once is what makes arrival times jitter. Even
spacing gives the same long-run rate, keeps the state at one small hash per token
(O(1) work, no trimming), and, since slots are handed out in the order the
reservations reach Redis, serves waiters first come, first served. The cost is
latency for an idle token's burst: the ninth request of a burst waits 0.9 s instead
of going at once.

Why Redis's clock: every reservation is computed on one clock, so host clocks that
disagree, drift or step do not matter. The reply carries the wait and Redis's time;
the caller maps the slot onto its own monotonic clock (NTP-style, from the recent
reply with the shortest round trip, so to within half of it: ~0.1 ms on a LAN) and
sleeps until then. A reply that was held up on its way back therefore does not make
its caller late, as long as it arrives before the slot. While the mapping is too
uncertain (only slow round trips so far, e.g. new connections), a waiter reads
Redis's ``TIME`` again during its wait.

Late slots are forfeited. Spacing alone breaks if a request goes late (a busy event
loop, a process waiting for a CPU) while the one ``rate`` slots after it goes on
time: measured with 8 processes on 2 busy cores, one admission 11 ms late put 10 in
a second. So a caller that wakes up checks how late it may be (its lateness plus the
mapping's uncertainty); beyond ``max(margin / 2, 1 ms)`` it does not go but
reserves a new slot (counted in ``late_slots``). Every admission is therefore within
``margin / 2`` of its slot, relative to the others, which leaves the other half of
the margin for the request's own way to the wire. A forfeited slot is lost
capacity, never a breach.

Why :meth:`Permit.sent` and :meth:`Permit.done` are no-ops: the schedule is fixed
when a slot is reserved (often a second or more before the request leaves), so a
wire time reported later could not move the slots already handed out; and with no
bursts, a request ``rate`` places later is at least ``period + margin`` behind, so
the cap holds as the server sees it as long as the admission-to-wire lag of two
requests differs by less than ``margin / 2``. Warm connections on a quiet loop are
well within the default 4 ms; a cold TLS connection (~30 ms) is not. Where requests
often go out on fresh connections, raise ``margin`` (0.05 s still sustains 95 % of
the cap). Hosts whose usual round trips to Redis differ by more than that also need a
larger margin: the reply's one-way delay is not known, only its variation.

Guards:

* Horizon: a slot is never reserved more than ``horizon`` seconds ahead; a caller
  that finds the schedule full that far asks again when room opens (with jitter).
  This bounds how far ahead anyone sleeps towards a slot, which the next guard uses.
* Redis restarted (the schedule lost, or reloaded stale from disk) while callers
  still sleep towards slots it had granted: those slots lie at most one horizon after
  the crash, so for ``horizon`` + 1 s after Redis started the script grants nothing
  (it reads the uptime from ``INFO server``).
* Redis's clock stepped back: the schedule moves back with it instead of stalling.

Limits, stated plainly: a Redis failover to a replica that lags behind, a
``maxmemory`` policy that evicts keys with a TTL (``volatile-*``, ``allkeys-*``), a
``FLUSHALL``, or a forward step of Redis's clock while requests are queued can each
let a few requests through early once. Every limiter that shares a token must use the
same ``rate``, ``period``, ``margin`` and ``horizon``.

Failure behaviour: fail closed
==============================
If Redis does not answer within ``redis_timeout`` (connection refused, timeout,
error reply, bad password), :meth:`RedisLimiter.acquire` raises
:class:`~smsclub_async.LimiterError` naming the Redis address (never a password,
never the token) and chaining the cause, and no request is sent. redis-py's own
retries run inside that bound, so a Redis restart that takes less than
``redis_timeout`` costs only latency. Recovery is automatic: every ``acquire`` asks
Redis again, and a restarted Redis, which has lost its script cache, gets the
script loaded again (redis-py's ``Script`` handles ``NOSCRIPT``).

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
from types import TracebackType
from typing import Any, Final

from ._errors import ClientClosedError, ConfigurationError, LimiterError
from ._limiter import DEFAULT_RATE_LIMIT, DEFAULT_WINDOW_MARGIN, Permit, RateLimiter
from ._limiter import token_fingerprint as _token_fingerprint
from ._redis_script import RESERVE_SCRIPT, RESERVED, SECOND_US

try:
    import redis.asyncio as aioredis
    from redis.asyncio.connection import SSLConnection
    from redis.exceptions import RedisError
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
"""Seconds one reservation may take, redis-py's retries included, before failing."""

DEFAULT_HORIZON = 2.0
"""Seconds ahead a slot may be reserved. 18 waiters at 9/s queue without polling; a
restarted Redis grants no slot for this long plus one second."""

# How long a limiter with a fallback keeps using it before asking Redis again.
_FALLBACK_PROBE_INTERVAL = 1.0
# Slots taken later than max(margin / 2, this) are forfeited (see the module docstring).
_MIN_LATE_TOLERANCE = 0.001
# The clock mapping uses the replies of the last few seconds (clocks drift apart
# slowly; NTP slews by at most 0.05 %, 2.5 ms over 5 s) ...
_CLOCK_SAMPLE_AGE = 5.0
# ... and at most this many of them.
_CLOCK_SAMPLES = 64
# Extra reads of Redis's clock a waiter may make when the mapping is too uncertain.
_CALIBRATIONS = 3

_log = logging.getLogger(__name__)


class _NoopPermit:
    """The permit of a Redis slot: the schedule was fixed when the slot was reserved."""

    __slots__ = ()

    def sent(self) -> None:
        """Nothing to record (see the module docstring)."""

    def done(self) -> None:
        """Nothing to release: a slot is spent whether or not the request went out."""

    def __repr__(self) -> str:
        return "RedisPermit()"


_PERMIT: Final = _NoopPermit()


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


class RedisLimiter:
    """A :class:`~smsclub_async.RateLimiter` whose schedule lives in Redis.

    Every process, on any host, that builds a ``RedisLimiter`` for the same token and
    Redis shares one schedule: together they never admit more than ``rate`` requests
    in any ``period``-long window, and together they sustain
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
        key_prefix: prefix of the Redis key (the fingerprint follows it).
        redis_timeout: seconds a reservation may take before :class:`LimiterError`.
        horizon: seconds ahead a slot may be reserved, and how long a freshly
            started Redis grants nothing (plus one second; see the module docstring).
        fallback: a limiter to use while Redis fails, instead of failing. Give it a
            conservative share of the cap, e.g. ``LocalLimiter(rate // processes)``.

    Attributes:
        late_slots: slots this limiter reserved but forfeited because its caller
            woke up too late to use them safely (a sign of an overloaded loop).

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
        "_client",
        "_clock",
        "_closed",
        "_fallback",
        "_fallback_until",
        "_horizon_us",
        "_interval_us",
        "_key",
        "_late_tolerance",
        "_owns_client",
        "_reserve",
        "horizon",
        "late_slots",
        "margin",
        "period",
        "rate",
        "redis_timeout",
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
        self.rate = rate
        self.period = period
        self.margin = margin
        self.redis_timeout = redis_timeout
        self.horizon = horizon
        # Rounded up, so rounding never brings two slots closer than the interval.
        self._interval_us = math.ceil((period + margin) * SECOND_US / rate)
        self._horizon_us = round(horizon * SECOND_US)
        self._key = f"{key_prefix}{_token_fingerprint(token)}"
        self._client = client
        self._address = _redis_address(client)
        self._reserve = client.register_script(RESERVE_SCRIPT)
        self._late_tolerance = max(margin / 2, _MIN_LATE_TOLERANCE)
        self._clock = _RedisClock()
        self.late_slots = 0
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
            fallback=fallback,
        )
        limiter._owns_client = True
        return limiter

    @property
    def key(self) -> str:
        """The Redis key of the token's schedule (prefix and fingerprint, never the token)."""
        return self._key

    @property
    def address(self) -> str:
        """The Redis server, as a URL without credentials."""
        return self._address

    @property
    def window(self) -> float:
        """``period + margin``: the window no ``rate + 1`` admissions fit into."""
        return round(self.period + self.margin, 9)

    @property
    def interval(self) -> float:
        """Seconds between two consecutive slots of the token."""
        return self._interval_us / SECOND_US

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

    async def acquire(self) -> Permit:
        """Wait for the token's next slot and return its permit.

        Waits as long as the schedule needs (never fails because the rate is
        reached); cancelling the wait forfeits the reserved slot, which is safe.

        Raises:
            LimiterError: Redis did not grant a slot within ``redis_timeout`` (and no
                fallback was given); no request may be sent.
            ClientClosedError: the limiter was closed.
        """
        while True:
            if self._closed:
                raise ClientClosedError(
                    f"this RedisLimiter ({self._key}) was closed; create a new one"
                )
            if self._fallback is not None and time.monotonic() < self._fallback_until:
                return await self._fallback.acquire()
            asked = time.monotonic()
            try:
                reserved, wait_us, redis_now_us = await self._call_script()
            except LimiterError as error:
                if self._fallback is None:
                    raise
                self._use_fallback(error)
                return await self._fallback.acquire()
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
            if not reserved:
                # The schedule is full up to the horizon: ask again when room opens,
                # spread out so that waiters turned away together do not come back
                # together.
                jitter = random.uniform(0, self._interval_us)  # noqa: S311 - not for security
                await asyncio.sleep((wait_us + jitter) / SECOND_US)
                continue
            if await self._wait_for(redis_now + wait_us / SECOND_US, asked, answered, redis_now):
                return _PERMIT

    async def _wait_for(
        self, redis_slot: float, asked: float, answered: float, redis_now: float
    ) -> bool:
        """Sleep until a reserved slot; whether it was reached in time to be used.

        ``asked`` and ``answered`` are the local times around the call that reserved
        it, ``redis_now`` Redis's time in that call.
        """
        calibrations = 0
        while True:
            # Mapped again after every wait: replies that arrived meanwhile (to other
            # coroutines) may pin the clocks better.
            slot, uncertainty = self._clock.to_local(
                redis_slot, asked=asked, answered=answered, redis_now=redis_now
            )
            delay = slot - time.monotonic()
            if delay <= 0:
                break
            if uncertainty > self._late_tolerance / 2 and calibrations < _CALIBRATIONS:
                # Too uncertain to go on time (all recent round trips were slow, e.g.
                # new connections): read Redis's clock once more meanwhile.
                calibrations += 1
                await self._calibrate(delay)
            else:
                await asyncio.sleep(delay)
        lateness = time.monotonic() - slot + uncertainty
        if lateness <= self._late_tolerance:
            return True
        # Going now could put this request within one window of the one `rate` slots
        # later, which will be on time: forfeit the slot (the caller takes another).
        self.late_slots += 1
        _log.debug(
            "slot of %s reached up to %.1f ms late (%.1f ms uncertain); reserving another",
            self._key,
            lateness * 1e3,
            uncertainty * 1e3,
        )
        return False

    async def _calibrate(self, limit: float) -> None:
        """One ``TIME`` round trip, to map Redis's clock better; failures are ignored."""
        asked = time.monotonic()
        try:
            async with asyncio.timeout(min(limit, self.redis_timeout)):
                seconds, micros = await self._client.time()
        except (TimeoutError, RedisError, OSError):
            return
        self._clock.add(asked, time.monotonic(), seconds + micros / SECOND_US)

    async def _call_script(self) -> tuple[bool, int, int]:
        """Run the reservation script once; any failure becomes a :class:`LimiterError`."""
        try:
            async with asyncio.timeout(self.redis_timeout):
                reply = await self._reserve(
                    keys=[self._key], args=[self._interval_us, self._horizon_us]
                )
        except TimeoutError as exc:
            raise LimiterError(
                f"Redis at {self._address} did not grant a rate-limit slot within"
                f" {self.redis_timeout:g} s; no request was sent (check that Redis is"
                " up and reachable, or raise redis_timeout)"
            ) from exc
        except (RedisError, OSError) as exc:
            raise LimiterError(
                f"Redis at {self._address} could not grant a rate-limit slot"
                f" ({type(exc).__name__}); no request was sent (check that Redis is up"
                " and reachable and the credentials are right)"
            ) from exc
        try:
            status, wait_us, redis_now_us = reply
            return int(status) == RESERVED, max(0, int(wait_us)), int(redis_now_us)
        except (TypeError, ValueError) as exc:
            raise LimiterError(
                f"Redis at {self._address} answered the rate-limit script with"
                f" {type(reply).__name__} instead of three numbers; no request was sent"
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

        Safe to call more than once. A borrowed client stays open.
        """
        if self._closed:
            return
        self._closed = True
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
