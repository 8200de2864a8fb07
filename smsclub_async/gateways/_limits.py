"""Limiters for gateways that cap connections in flight rather than requests per second.

SMSC.kz answers error 9 ("too many concurrent requests") to the fifteenth request
in flight under one login, so its default limiter holds at most 14 at once across
every client of the login in the process. :class:`ConcurrencyLimiter` implements
the core :class:`~smsclub_async.RateLimiter` protocol: the pipeline acquires a
permit per attempt and calls ``done()`` when the attempt ends, which frees the slot.

Like :class:`~smsclub_async.LocalLimiter` it keeps its state under a
``threading.Lock``, so clients on different event loops or threads share it; a
waiter is woken on its own loop with ``call_soon_threadsafe``.

Lanes: ``acquire(priority="high")`` puts a waiter ahead of every waiting normal one
when a slot frees up. So that the normal lane keeps at least 90 % of the slots while
both wait, a freed slot goes to a high waiter ahead of normal ones at most once in
every ten hand-overs (:data:`HIGH_TURNS`); the rest go in arrival order.
:class:`BothLimiter` passes the priority to every limiter it combines, and forwards
``ready`` to the permits that have it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from .._limiter import (
    LocalLimiter,
    Permit,
    Priority,
    RateLimiter,
    check_priority,
    limiter_for_token,
    token_fingerprint,
)

__all__ = [
    "HIGH_TURNS",
    "BothLimiter",
    "ConcurrencyLimiter",
    "concurrency_limiter_for",
    "default_limiter",
]


HIGH_TURNS = 10
"""Of this many consecutive hand-overs with both lanes waiting, one may go to a high
waiter ahead of earlier normal ones."""


class _Waiter:
    __slots__ = ("future", "granted", "high", "loop", "seq")

    def __init__(self, loop: asyncio.AbstractEventLoop, *, high: bool, seq: int) -> None:
        self.loop = loop
        self.high = high
        self.seq = seq
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _SlotPermit:
    __slots__ = ("_limiter", "_released")

    def __init__(self, limiter: ConcurrencyLimiter) -> None:
        self._limiter = limiter
        self._released = False

    def sent(self) -> None:
        """Nothing to do: the slot is held until the attempt is over."""

    def done(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._release()


class ConcurrencyLimiter:
    """At most ``limit`` requests in flight at once, waiters served in order.

    Args:
        limit: how many attempts may be in flight at the same time.

    Example:
        >>> ConcurrencyLimiter(14)
        ConcurrencyLimiter(limit=14, in_flight=0, waiting=0)
    """

    __slots__ = ("_high", "_in_flight", "_lock", "_seq", "_since_high", "_waiters", "limit")

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive whole number, got {limit!r}")
        self.limit = limit
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiters: deque[_Waiter] = deque()  # normal lane
        self._high: deque[_Waiter] = deque()
        self._seq = 0
        # Hand-overs since a high waiter last went ahead of a normal one.
        self._since_high = HIGH_TURNS

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimiter(limit={self.limit}, in_flight={self._in_flight},"
            f" waiting={len(self._waiters) + len(self._high)})"
        )

    @property
    def in_flight(self) -> int:
        """Attempts holding a slot now."""
        return self._in_flight

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """Wait for a free slot and return the permit that holds it.

        Args:
            priority: ``"high"`` to be served ahead of waiting normal requests
                (see the module docstring for the share that bounds it).
        """
        high = check_priority(priority)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_flight < self.limit and not self._waiters and not self._high:
                self._in_flight += 1
                return _SlotPermit(self)
            self._seq += 1
            waiter = _Waiter(loop, high=high, seq=self._seq)
            (self._high if high else self._waiters).append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    (self._high if high else self._waiters).remove(waiter)
            if granted:  # the slot was handed over as we were cancelled: pass it on
                self._release()
            raise
        return _SlotPermit(self)

    def _next_waiter(self) -> _Waiter | None:
        """The waiter the next free slot goes to, taken out of its lane (lock held)."""
        if self._high and self._waiters:
            ahead = self._high[0].seq > self._waiters[0].seq
            if not ahead:
                return self._high.popleft()
            if self._since_high >= HIGH_TURNS - 1:
                self._since_high = 0
                return self._high.popleft()
            self._since_high += 1
            return self._waiters.popleft()
        if self._high:
            return self._high.popleft()
        if self._waiters:
            self._since_high = min(self._since_high + 1, HIGH_TURNS)
            return self._waiters.popleft()
        return None

    def _release(self) -> None:
        with self._lock:
            waiter = self._next_waiter()
            if waiter is not None:
                # Hand the slot straight to the next waiter: in_flight stays the same.
                waiter.granted = True
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                return
            self._in_flight -= 1


class _BothPermit:
    __slots__ = ("_permits",)

    def __init__(self, permits: tuple[Permit, ...]) -> None:
        self._permits = permits

    async def ready(self) -> None:
        """Let every permit that can move the write do so (in order)."""
        for permit in self._permits:
            ready = getattr(permit, "ready", None)
            if ready is not None:
                await ready()

    def sent(self) -> None:
        for permit in self._permits:
            permit.sent()

    def done(self) -> None:
        for permit in self._permits:
            permit.done()


class BothLimiter:
    """Admit a request only when every one of several limiters does (in the given order).

    Example:
        >>> BothLimiter(ConcurrencyLimiter(14), LocalLimiter(5))  # doctest: +ELLIPSIS
        BothLimiter(ConcurrencyLimiter(limit=14, ...), LocalLimiter(rate=5, ...))
    """

    __slots__ = ("limiters",)

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("BothLimiter needs at least one limiter")
        self.limiters = limiters

    def __repr__(self) -> str:
        return f"BothLimiter({', '.join(repr(limiter) for limiter in self.limiters)})"

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """Acquire every limiter in turn (with the same priority); on cancellation give
        back what was taken."""
        high = check_priority(priority)
        taken: list[Permit] = []
        try:
            for limiter in self.limiters:
                # The priority only when high: a limiter written before lanes works too.
                taken.append(
                    await (limiter.acquire(priority="high") if high else limiter.acquire())
                )
        except BaseException:
            for permit in taken:
                permit.done()
            raise
        return _BothPermit(tuple(taken))


_registry: dict[tuple[str, int], ConcurrencyLimiter] = {}
_registry_lock = threading.Lock()


def concurrency_limiter_for(account: str, limit: int) -> ConcurrencyLimiter:
    """The process-wide concurrency limiter of an account (created on first use).

    Args:
        account: a string naming the account (gateway host and login); only its
            hash is kept.
        limit: the most attempts in flight at once.
    """
    key = (token_fingerprint(account), limit)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = ConcurrencyLimiter(limit)
            _registry[key] = limiter
        return limiter


def default_limiter(account: str, *, max_in_flight: int, rate_limit: int | None) -> RateLimiter:
    """The shared in-flight cap of an account, plus a per-second cap when one is asked for."""
    in_flight = concurrency_limiter_for(account, max_in_flight)
    if rate_limit is None:
        return in_flight
    per_second: LocalLimiter = limiter_for_token(account, rate_limit)
    return BothLimiter(in_flight, per_second)
