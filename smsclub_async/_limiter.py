"""Rate limiting as the server sees it.

The SMS Club gateway allows 9 requests per second per token. A server counts
*arrivals*, so "no sliding one-second window holds more than 9" has to hold for the
moments requests reach the wire, not for the moments a limiter said yes: the first
request on a fresh connection leaves ~30 ms after admission (TCP and TLS set-up)
while the ones behind it on warm connections leave at once, which squeezes ten
arrivals into one window behind a limiter that spaced its admissions perfectly.

:class:`LocalLimiter` therefore has two stages, both under one ``threading.Lock``:

1. a pacer that hands out evenly spaced *slots* (``window / rate`` apart). Slots are
   reserved in advance, so a waiter that wakes a little late does not push every
   later slot back (lateness does not accumulate), and waiters are served in order;
2. a sliding log of *wire times* that admits a request only if it will leave at
   least ``window`` seconds after the request ``rate`` places before it. Each
   admitted request holds a :class:`Permit`; the request pipeline calls
   :meth:`Permit.sent` when httpcore reports the request headers written, which
   replaces the admission time by the real wire time. A request still waiting to go
   out counts as leaving *now*, the earliest it could. A transport without trace
   events (aiohttp) gets its requests logged when their answers arrive, a moment
   after the gateway saw them, so those entries need no jitter margin.

Why not ``aiolimiter.AsyncLimiter``: its bucket lives on one event loop (a Celery
worker that runs each task under a fresh ``asyncio.run`` would start every task with
an empty history and burst), each late wake-up delays every later admission (at a
cap of 9 that alone costs the 8.9/s goal), ``AsyncLimiter(9, 1)`` admits 17 in one
second, and at a capacity of one its float arithmetic can ask for a wake-up
``1e-16`` s away, which spins forever under a patched test clock. The log here uses
``time.monotonic`` and a thread lock, so every client of a token in one process
shares it, whatever event loop or thread it runs on.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_WINDOW_MARGIN",
    "LocalLimiter",
    "Permit",
    "RateLimiter",
    "limiter_for_token",
    "token_fingerprint",
]

DEFAULT_RATE_LIMIT = 9
"""Requests per second the SMS Club gateway allows a token."""

DEFAULT_WINDOW_MARGIN = 0.008
"""Seconds added to the one-second window to absorb jitter between our wire time and
the server's arrival time. 8 ms keeps the sustained rate above 8.9/s at a cap of 9."""

# Waits shorter than this are rounding noise: admit rather than sleep for them.
_EPSILON = 1e-9
# The largest part of the admission-to-wire lag the guard may assume in advance.
_MAX_PREDICTED_LAG = 0.005
_LAG_SAMPLES = 32


@runtime_checkable
class Permit(Protocol):
    """A slot granted by a :class:`RateLimiter` for one HTTP attempt."""

    def sent(self) -> None:
        """Report that the request has been written to the connection."""

    def done(self) -> None:
        """Report that the attempt is over (response, error or cancellation)."""


@runtime_checkable
class RateLimiter(Protocol):
    """What the request pipeline needs from a limiter.

    Implementations: :class:`LocalLimiter` (one process) and
    :class:`smsclub_async.redis.RedisLimiter` (many processes sharing a token).
    ``acquire`` waits until a request may be sent and must never return early.
    """

    async def acquire(self) -> Permit:
        """Wait for a slot and return its permit."""
        ...


class _Entry:
    __slots__ = ("admitted", "wire")

    def __init__(self, admitted: float) -> None:
        self.admitted = admitted
        self.wire: float | None = None


class _LocalPermit:
    __slots__ = ("_entry", "_limiter")

    def __init__(self, limiter: LocalLimiter, entry: _Entry) -> None:
        self._limiter = limiter
        self._entry = entry

    def sent(self) -> None:
        self._limiter._mark_sent(self._entry)

    def done(self) -> None:
        self._limiter._mark_done(self._entry)


class LocalLimiter:
    """An in-process limiter that holds a cap as the server sees it.

    Args:
        rate: requests allowed per ``period``.
        period: the server's window, in seconds.
        margin: seconds added to the window to absorb timing jitter.
        clock: a monotonic clock; tests pass the event loop's (patched) clock.

    Example:
        >>> limiter = LocalLimiter(rate=9)
        >>> limiter.rate, limiter.window
        (9, 1.008)
    """

    __slots__ = (
        "_clock",
        "_lags",
        "_lock",
        "_log",
        "_next_slot",
        "_pending",
        "period",
        "rate",
        "window",
    )

    def __init__(
        self,
        rate: int = DEFAULT_RATE_LIMIT,
        *,
        period: float = 1.0,
        margin: float = DEFAULT_WINDOW_MARGIN,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(rate, int) or rate < 1:
            raise ValueError(f"rate must be a positive whole number of requests, got {rate!r}")
        if period <= 0 or margin < 0:
            raise ValueError("period must be positive and margin not negative")
        self.rate = rate
        self.period = period
        self.window = round(period + margin, 9)
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        # Wire (or admission) times of the last `rate` requests that left, sorted.
        self._log: list[float] = []
        self._pending: set[_Entry] = set()
        self._lags: deque[float] = deque(maxlen=_LAG_SAMPLES)
        self._next_slot = float("-inf")

    def __repr__(self) -> str:
        return f"LocalLimiter(rate={self.rate}, period={self.period}, window={self.window})"

    async def acquire(self) -> Permit:
        """Wait until a request may leave without breaking the window, then admit it."""
        with self._lock:
            slot = max(self._clock(), self._next_slot)
            self._next_slot = slot + self.window / self.rate
        while True:
            with self._lock:
                now = self._clock()
                wait = max(slot - now, self._wait_needed(now))
                if wait <= _EPSILON:
                    entry = _Entry(now)
                    self._pending.add(entry)
                    return _LocalPermit(self, entry)
            await asyncio.sleep(wait)

    def _wait_needed(self, now: float) -> float:
        """Seconds until a request admitted now is sure to respect the window (lock held)."""
        # Requests not yet on the wire will leave at `now` at the earliest.
        # The log is sorted and every entry is <= now; pending requests count as now.
        pending = len(self._pending)
        if len(self._log) + pending < self.rate:
            return 0.0
        kth = now if pending >= self.rate else self._log[pending - self.rate]
        if kth >= now and self._pending:
            # The deciding request has not left yet: look again shortly.
            return 0.001
        predicted_lag = min(min(self._lags, default=0.0), _MAX_PREDICTED_LAG)
        return kth + self.window - (now + predicted_lag)

    def _mark_sent(self, entry: _Entry) -> None:
        with self._lock:
            if entry.wire is None:
                entry.wire = self._clock()
                self._lags.append(entry.wire - entry.admitted)
                self._record(entry.wire)
                self._pending.discard(entry)

    def _mark_done(self, entry: _Entry) -> None:
        with self._lock:
            if entry in self._pending:
                # No trace hook fired (a transport without httpcore tracing, or a
                # failure before writing).
                self._pending.discard(entry)
                # We only know it left before now; its admission time may be too early
                # (a busy event loop delays the write), and too early breaks the cap.
                entry.wire = self._clock()
                # Now is after the gateway received it, and the next request arrives
                # after its own admission: "admitted >= now + period" is enough, so the
                # jitter margin in the window would only cost rate.
                self._record(entry.wire - (self.window - self.period))

    def _record(self, when: float) -> None:
        # Wire times can be reported out of order, so insert in place.
        bisect.insort(self._log, when)
        if len(self._log) > self.rate:
            del self._log[0]


_registry: dict[tuple[str, int, float, float], LocalLimiter] = {}
_registry_lock = threading.Lock()


def token_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token (for keys and logs; never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def limiter_for_token(
    token: str,
    rate: int = DEFAULT_RATE_LIMIT,
    *,
    period: float = 1.0,
    margin: float = DEFAULT_WINDOW_MARGIN,
) -> LocalLimiter:
    """Return the process-wide limiter of a token, creating it on first use.

    Every client in one process that uses the same token (and the same rate) shares
    it, so two ``SmsClub`` objects in one application cannot exceed the cap together.
    """
    key = (token_fingerprint(token), rate, period, margin)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = LocalLimiter(rate, period=period, margin=margin)
            _registry[key] = limiter
        return limiter
