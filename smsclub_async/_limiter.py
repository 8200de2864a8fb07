"""Rate limiting as the server sees it, with a fast lane for what cannot wait.

The SMS Club gateway allows 9 requests per second per token. A server counts
*arrivals*, so "no sliding one-second window holds more than 9" has to hold for the
moments requests reach the wire, not for the moments a limiter said yes: the first
request on a fresh connection leaves ~30 ms after admission (TCP and TLS set-up)
while the ones behind it on warm connections leave at once, which squeezes ten
arrivals into one window behind a limiter that spaced its admissions perfectly.

:class:`LocalLimiter` therefore has two stages, both under one ``threading.Lock``:

1. a pacer that hands out evenly spaced *slots* (``window / rate`` apart) to the
   waiter at the head of the queue. The slot after an admission is counted from the
   slot before, not from the moment the waiter woke, so a waiter that wakes a little
   late does not push every later slot back (lateness does not accumulate);
2. a sliding log of *wire times* that admits a request only if it will leave at
   least ``window`` seconds after the request ``rate`` places before it. Each
   admitted request holds a :class:`Permit`; the request pipeline calls
   :meth:`Permit.sent` when httpcore reports the request headers written, which
   replaces the admission time by the real wire time. A request still waiting to go
   out counts as leaving *now*, the earliest it could. A transport without trace
   events (aiohttp) gets its requests logged when their answers arrive, a moment
   after the gateway saw them, so those entries need no jitter margin.

Lanes
=====
``acquire(priority="high")`` puts a request in the *high* lane: it becomes the head
of the queue ahead of every waiting *normal* request and takes the next free slot.
It never breaks the cap (the slot and the wire log are the same for both lanes), and
it cannot starve the normal lane: going ahead of waiting normal requests spends one
unit of a *high budget*, a token bucket that holds ``high_burst`` units (``rate`` by
default, one window's worth) and refills at ``high_share`` of the cap (10 % by
default). A high request that finds the budget empty waits in arrival order with
the normal ones, and one that finds no normal request waiting spends nothing.
So while high requests are occasional (below ``high_share`` of the cap on average)
each waits at most one slot and normal traffic keeps at least 90 % of the cap; when
both lanes are flooded, high requests go ahead within their share and otherwise both
lanes are served first come, first served, so neither starves.

One limiter per token
=====================
:func:`limiter_for_token` keeps one :class:`LocalLimiter` per token in a process,
whatever rates the clients ask for: the strictest asked for wins, and the shared
limiter is tightened in place when a client asks for less (a client with
``rate_limit=8`` next to one with 9 makes both send at 8/s). Two clients of one token
can never exceed the stricter cap together.

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
import contextlib
import hashlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_HIGH_SHARE",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_WINDOW_MARGIN",
    "HighBudget",
    "LocalLimiter",
    "Permit",
    "Priority",
    "RateLimiter",
    "check_priority",
    "limiter_for_token",
    "token_fingerprint",
]

DEFAULT_RATE_LIMIT = 9
"""Requests per second the SMS Club gateway allows a token."""

DEFAULT_WINDOW_MARGIN = 0.008
"""Seconds added to the one-second window to absorb jitter between our wire time and
the server's arrival time. 8 ms keeps the sustained rate above 8.9/s at a cap of 9."""

DEFAULT_HIGH_SHARE = 0.1
"""Share of the cap the high lane may take ahead of waiting normal requests, long run."""

Priority = Literal["high", "normal"]
"""The lane of a request: ``"high"`` goes ahead of waiting ``"normal"`` requests."""

_PRIORITIES = ("high", "normal")

# Waits shorter than this are rounding noise: admit rather than sleep for them.
_EPSILON = 1e-9
# The largest part of the admission-to-wire lag the guard may assume in advance.
_MAX_PREDICTED_LAG = 0.005
_LAG_SAMPLES = 32

_log = logging.getLogger(__name__)


def check_priority(priority: str) -> bool:
    """Whether ``priority`` is the high lane; anything but the two lanes is refused.

    Raises:
        ValueError: ``priority`` is neither ``"high"`` nor ``"normal"``.

    Example:
        >>> check_priority("high"), check_priority("normal")
        (True, False)
    """
    if priority not in _PRIORITIES:
        raise ValueError(f"priority must be 'high' or 'normal', got {priority!r}")
    return priority == "high"


@runtime_checkable
class Permit(Protocol):
    """A slot granted by a :class:`RateLimiter` for one HTTP attempt.

    A permit may also have ``async def ready(self) -> None``: the pipeline awaits it
    (when present) once the request holds a connection and is about to be written,
    and the permit may sleep there to move the write to a safe moment. Transports
    without trace events never call ``ready`` nor ``sent``, only ``done``.
    """

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
    ``priority="high"`` asks for the fast lane (see the module docstring).
    """

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """Wait for a slot and return its permit."""
        ...


class HighBudget:
    """The token bucket that bounds how much the high lane may go ahead of normal.

    Holds up to ``burst`` units, refills at ``refill`` units per second; a high
    request that goes ahead of waiting normal requests spends one.

    Example:
        >>> budget = HighBudget(burst=2, refill=0.5, now=0.0)
        >>> budget.spend(0.0), budget.spend(0.0), budget.available(0.0)
        (None, None, False)
        >>> budget.available(2.0)
        True
    """

    __slots__ = ("_at", "_units", "burst", "refill")

    def __init__(self, *, burst: float, refill: float, now: float) -> None:
        if not burst >= 1 or not refill >= 0:
            raise ValueError("the high lane needs a burst of at least 1 and a refill >= 0")
        self.burst = burst
        self.refill = refill
        self._units = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._units = min(self.burst, self._units + (now - self._at) * self.refill)
            self._at = now

    def available(self, now: float) -> bool:
        """Whether one unit is there to spend at ``now``."""
        self._refill(now)
        return self._units >= 1 - _EPSILON

    def spend(self, now: float) -> None:
        """Spend one unit (the caller checked :meth:`available`)."""
        self._refill(now)
        self._units = max(0.0, self._units - 1)


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


class _Waiter:
    """One coroutine waiting in a :class:`LocalLimiter`'s queue, on its own loop."""

    __slots__ = ("future", "high", "loop", "seq", "since")

    def __init__(self, loop: asyncio.AbstractEventLoop, *, high: bool, seq: int) -> None:
        self.loop = loop
        self.high = high
        self.seq = seq
        self.since = 0.0  # when it last became the head of the queue
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        """Wake the coroutine (runs on its own loop)."""
        if not self.future.done():
            self.future.set_result(None)

    def fresh(self) -> None:
        """A new future to wait on, once the last one was used."""
        if self.future.done():
            self.future = self.loop.create_future()

    async def wait(self, seconds: float | None) -> None:
        """Until woken, or for ``seconds`` (``None``: until woken)."""
        if seconds is None:
            await self.future
        else:
            await asyncio.wait((self.future,), timeout=seconds)


def _call_soon(waiter: _Waiter) -> None:
    """Wake a waiter from any thread; a loop closed under it has nobody to wake.

    On the waiter's own loop the future is resolved directly (its callbacks are
    scheduled with a plain ``call_soon``): ``call_soon_threadsafe`` would write a
    byte to the loop's self-pipe, a system call and an extra wake-up per request.
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is waiter.loop:
        waiter.wake()
        return
    with contextlib.suppress(RuntimeError):
        waiter.loop.call_soon_threadsafe(waiter.wake)


class LocalLimiter:
    """An in-process limiter that holds a cap as the server sees it, with two lanes.

    Args:
        rate: requests allowed per ``period``.
        period: the server's window, in seconds.
        margin: seconds added to the window to absorb timing jitter.
        clock: a monotonic clock; tests pass the event loop's (patched) clock.
        high_share: the share of the cap the high lane may take ahead of waiting
            normal requests in the long run.
        high_burst: how many high requests may go ahead at once before that share
            applies (``rate`` by default: one window's worth).

    Example:
        >>> limiter = LocalLimiter(rate=9)
        >>> limiter.rate, limiter.window
        (9, 1.008)
    """

    __slots__ = (
        "_budget",
        "_clock",
        "_head",
        "_high",
        "_lags",
        "_lock",
        "_log",
        "_next_slot",
        "_normal",
        "_pending",
        "_seq",
        "high_share",
        "margin",
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
        high_share: float = DEFAULT_HIGH_SHARE,
        high_burst: int | None = None,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise ValueError(f"rate must be a positive whole number of requests, got {rate!r}")
        if not period > 0 or not margin >= 0:
            raise ValueError("period must be positive and margin not negative")
        if not 0 <= high_share <= 1:
            raise ValueError(f"high_share must be between 0 and 1, got {high_share!r}")
        self.rate = rate
        self.period = period
        self.margin = margin
        self.high_share = high_share
        self.window = round(period + margin, 9)
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        # Wire (or admission) times of the last `rate` requests that left, sorted.
        self._log: list[float] = []
        self._pending: set[_Entry] = set()
        self._lags: deque[float] = deque(maxlen=_LAG_SAMPLES)
        self._next_slot = float("-inf")
        self._high: deque[_Waiter] = deque()
        self._normal: deque[_Waiter] = deque()
        self._head: _Waiter | None = None
        self._seq = itertools.count()
        self._budget = HighBudget(
            burst=high_burst if high_burst is not None else rate,
            refill=high_share * rate / period,
            now=self._clock(),
        )

    def __repr__(self) -> str:
        return f"LocalLimiter(rate={self.rate}, period={self.period}, window={self.window})"

    @property
    def waiting(self) -> tuple[int, int]:
        """``(high, normal)``: how many requests wait in each lane now."""
        return len(self._high), len(self._normal)

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """Wait until a request may leave without breaking the window, then admit it.

        Args:
            priority: ``"high"`` to go ahead of waiting normal requests (within the
                high budget; see the module docstring).

        Raises:
            ValueError: an unknown priority.
        """
        high = check_priority(priority)
        waiter = _Waiter(asyncio.get_running_loop(), high=high, seq=next(self._seq))
        with self._lock:
            (self._high if high else self._normal).append(waiter)
            self._choose_head(self._clock())
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait: float | None = None
                    if self._head is waiter:
                        slot = max(self._next_slot, waiter.since)
                        wait = max(slot - now, self._wait_needed(now))
                        if wait <= _EPSILON:
                            return self._admit(waiter, slot, now)
                    waiter.fresh()
                await waiter.wait(wait)
        except BaseException:
            with self._lock:
                self._leave(waiter)
            raise

    def _admit(self, waiter: _Waiter, slot: float, now: float) -> Permit:
        """Admit the head of the queue at ``now`` (lock held)."""
        ahead_of_normal = bool(self._normal) and self._normal[0].seq < waiter.seq
        if waiter.high and ahead_of_normal:
            self._budget.spend(now)
        self._leave(waiter)
        # From the slot, not from now: a late wake-up does not push later slots back.
        self._next_slot = slot + self.window / self.rate
        entry = _Entry(now)
        self._pending.add(entry)
        return _LocalPermit(self, entry)

    def _leave(self, waiter: _Waiter) -> None:
        """Take a waiter out of the queue, admitted or cancelled (lock held)."""
        lane = self._high if waiter.high else self._normal
        if waiter in lane:
            lane.remove(waiter)
        if self._head is waiter:
            self._head = None
            self._choose_head(self._clock())

    def _choose_head(self, now: float) -> None:
        """Make the right waiter the head of the queue and wake it (lock held)."""
        head: _Waiter | None = None
        if self._high and (
            not self._normal
            or self._high[0].seq < self._normal[0].seq
            or self._budget.available(now)
        ):
            head = self._high[0]
        elif self._normal:
            head = self._normal[0]
        if head is not self._head:
            self._head = head
            if head is not None:
                head.since = now
                _call_soon(head)

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
            self._wake_head()

    def _wake_head(self) -> None:
        """Let the head look again: the pending set or the log changed (lock held)."""
        if self._head is not None:
            _call_soon(self._head)

    def _record(self, when: float) -> None:
        # Wire times can be reported out of order, so insert in place.
        bisect.insort(self._log, when)
        if len(self._log) > self.rate:
            del self._log[: len(self._log) - self.rate]

    def tighten(
        self, rate: int, *, period: float = 1.0, margin: float = DEFAULT_WINDOW_MARGIN
    ) -> bool:
        """Adopt a stricter cap in place (never a looser one); whether anything changed.

        Used by :func:`limiter_for_token` when a second client of the token asks for
        less than the first: every client of the limiter then runs at the stricter cap.
        """
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise ValueError(f"rate must be a positive whole number of requests, got {rate!r}")
        if not period > 0 or not margin >= 0:
            raise ValueError("period must be positive and margin not negative")
        with self._lock:
            changed = False
            if rate / period < self.rate / self.period - 1e-12:
                self.rate, self.period = rate, period
                self._budget.refill = self.high_share * rate / period
                changed = True
            if margin > self.margin or changed:
                self.margin = max(margin, self.margin)
                self.window = round(self.period + self.margin, 9)
                changed = True
            if len(self._log) > self.rate:
                del self._log[: len(self._log) - self.rate]
            return changed


_registry: dict[str, LocalLimiter] = {}
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

    There is one limiter per token in a process, whatever rates are asked for: every
    client of the token shares it, so two ``SmsClub`` objects in one application cannot
    exceed the cap together. The strictest rate asked for wins: a client asking for
    less than the limiter allows tightens it for every client of the token (logged at
    INFO); asking for more changes nothing.

    Example:
        >>> limiter_for_token("doc-token", 9) is limiter_for_token("doc-token", 8)
        True
        >>> limiter_for_token("doc-token").rate
        8
    """
    key = token_fingerprint(token)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = LocalLimiter(rate, period=period, margin=margin)
            _registry[key] = limiter
        elif limiter.tighten(rate, period=period, margin=margin):
            _log.info(
                "rate limit of token %s tightened to %d per %g s (window %g s): the"
                " strictest rate asked for by its clients wins",
                key,
                limiter.rate,
                limiter.period,
                limiter.window,
            )
        return limiter
