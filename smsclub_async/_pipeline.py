"""The one request path: lane -> limiter -> pool -> httpx -> decipher -> retry decision.

Every request of every gateway goes through :meth:`Pipeline.exchange`. What an
answer *means* is the gateway's business: a pure ``decipher`` function turns each
answer (status, headers, body) into ``None`` (accepted: the body goes to the
gateway's accounting) or a :class:`Refusal`, whether the refusal came as an HTTP
status or inside a 200 (SMSC's error 9, REX400's negative codes). Everything else
is decided here, once, for every gateway: when to retry (one tenacity loop, one
pure stop rule: :meth:`RetryPolicy.next_wait`), whether an attempt may have been
processed, and when a request is too late to leave.

Whether a failed attempt may have been *processed* decides whether a send may be
retried freely. httpcore reports, through the request's ``trace`` extension, when
the request headers start to be written and when the body was completely written:
before the first the gateway cannot have seen anything, so the attempt is safe to
repeat. Transports that do not trace (aiohttp, respx) fall back on the exception:
only a connection that could not be made at all proves that nothing left.

The trace hook is awaited by httpcore before it writes, so the last checks happen
there, when the request holds a connection and is about to leave: the limiter's
``Permit.ready()`` (admission at the last moment) and the deadlines (the end of the
duplicate window for a retry, the caller's ``deadline`` for a send). A request that
is too late there is never written.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import time
import weakref
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from . import telemetry as _telemetry
from ._decipher import Decipher, Refusal
from ._errors import (
    ClientClosedError,
    DecodeError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SmsClubError,
    TransportError,
)
from ._limiter import Permit, Priority, RateLimiter
from ._retry import RetryPolicy

__all__ = [
    "MAX_ANSWER_BYTES",
    "Outcome",
    "Pipeline",
    "Priority",
    "Progress",
    "Stats",
]

logger = logging.getLogger("smsclub_async")

MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""The largest answer body read, after decompression: a send or status answer of 1,000
recipients is well under 200 KB; anything much larger is not an answer to us."""

_BODY_WRITTEN = frozenset({"http11.send_request_body.complete", "http2.send_request_body.complete"})
_HEADERS_WRITTEN = frozenset(
    {"http11.send_request_headers.complete", "http2.send_request_headers.complete"}
)
_HEADERS_STARTED = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)


@dataclass(slots=True)
class Stats:
    """Counters a client keeps, for users' own metrics.

    Attributes:
        requests: HTTP attempts made (retries included).
        retries: attempts that were retries.
        rate_limited: rate-limit refusals received (HTTP 429, or a gateway's own
            "too many requests" code).
        server_errors: 5xx answers received.
        transport_errors: attempts that ended without an answer.
        limiter_wait: seconds spent waiting for the rate limiter, summed over attempts.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    limiter_wait: float = 0.0


class _Kind(enum.Enum):
    OK = "ok"
    RETRY_SAFE = "retry-safe"  # refused before processing: 429, connect errors
    RETRY_MAYBE = "retry-maybe"  # may have been processed: 5xx, read errors after writing
    DUPLICATE = "duplicate"  # the gateway's duplicate rule (453, SMSC error 9)
    FINAL = "final"  # will not succeed by repeating


@dataclass(slots=True)
class _Attempt:
    kind: _Kind
    status_code: int | None = None
    body: bytes = b""
    error: SmsClubError | None = None
    refusal: Refusal | None = None
    processed_maybe: bool = False

    @property
    def retry_after(self) -> float | None:
        return self.refusal.retry_after if self.refusal is not None else None


@dataclass(slots=True)
class Outcome:
    """How one logical request ended, after all its retries.

    Attributes:
        body: the body of the accepted answer, or ``None``.
        error: the error that ended it otherwise, or ``None``.
        refusal: the gateway's refusal that ended it, if one did.
        maybe_processed: an attempt may have been processed by the gateway without
            its answer reaching us (so the request may have taken effect).
        duplicate: the final answer was the gateway's duplicate refusal.
        attempts: how many attempts were made.
        status_code: the HTTP status of the final answer, if one arrived.
        error_body: the body of a final refusal, else empty.
        late: the request was never written because a deadline had passed.
    """

    body: bytes | None
    error: SmsClubError | None
    maybe_processed: bool
    refusal: Refusal | None = None
    duplicate: bool = False
    attempts: int = 0
    status_code: int | None = None
    error_body: bytes = b""
    late: bool = False


@dataclass(slots=True)
class Progress:
    """What a request in progress has done so far; read it after a cancellation.

    Attributes:
        maybe_since: when an attempt first may have been processed without its
            answer reaching us (clock of the pipeline), else ``None``.
        in_flight: an attempt is between handing the request to httpx and its answer.
        traced: the transport reports httpcore trace events for the current attempt.
        started: the current attempt began writing to the connection.
        written: the current attempt's body was completely written.
        attempts: attempts started.
        refusals: refusals read from answers so far.
    """

    maybe_since: float | None = None
    in_flight: bool = False
    traced: bool = False
    started: bool = False
    written: bool = False
    attempts: int = 0
    refusals: int = 0
    last: _Attempt | None = None

    @property
    def maybe_processed(self) -> bool:
        """Whether the gateway may have processed the request, as far as we know now.

        A cancelled attempt counts once it began writing (the bytes may all be in the
        socket before httpcore reports the body complete), or when the transport does
        not trace and the request had been handed over.
        """
        if self.maybe_since is not None:
            return True
        return self.in_flight and (self.started or not self.traced)


_CLOSING = "smsclub-async: the client is closing"


class _TooLate(Exception):  # noqa: N818 - internal signal, never escapes the pipeline
    """Raised from the trace hook to stop a request before a byte of it is written."""


class _AnswerTooLarge(Exception):  # noqa: N818 - internal signal, never escapes the pipeline
    pass


class Pipeline:
    """Sends requests for one client under one limiter, with retries.

    Args:
        http: the ``httpx.AsyncClient``.
        base_url: the gateway's base URL, without a trailing slash.
        headers: headers for every request.
        limiter: the rate limiter shared by every client of the account.
        stats: the counters to update.
        clock: a monotonic clock (the event loop's by default).
        scrub: removes the client's secrets from any text taken from an answer.
        max_in_flight: requests in flight at once (the size of the connection pool).
        attempt_timeout: the longest one attempt may take in all (httpx's timeouts
            are per read, so a body trickling a byte at a time never trips them).
        answer_timeout: once the request has left, its answer must be complete
            within this many seconds.
        query: a query string appended to every URL (``?a=b``); endpoints, which name
            requests in errors and logs, never include it.
    """

    __slots__ = (
        "_aborted",
        "_answer_timeout",
        "_attempt_timeout",
        "_clock",
        "_closing",
        "_headers",
        "_http",
        "_idle",
        "_lanes",
        "_limiter",
        "_pool_gate",
        "_query",
        "_running",
        "_sockets",
        "_urls",
        "base_url",
        "scrub",
        "stats",
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        headers: dict[str, str],
        limiter: RateLimiter,
        stats: Stats,
        clock: Callable[[], float] = time.monotonic,
        scrub: Callable[[str], str] = str,
        max_in_flight: int = 10,
        attempt_timeout: float | None = None,
        answer_timeout: float | None = None,
        query: str = "",
    ) -> None:
        # Take a connection's worth of room before a limiter slot: a request holding
        # a slot must not then queue for a pooled connection and reach the gateway
        # late, next to the requests admitted after it.
        self._sockets = asyncio.Semaphore(max_in_flight)
        self._pool_gate = _PoolGate()
        self._http = http
        self.base_url = base_url
        self.scrub = scrub
        # Parsed once per endpoint: httpx parses a URL string on every request (~17 us).
        self._urls: dict[str, httpx.URL] = {}
        self._headers = headers
        self._limiter = limiter
        # Limiters written before lanes existed take no priority: they get none.
        self._lanes = _takes_priority(limiter)
        self.stats = stats
        self._clock = clock
        self._attempt_timeout = attempt_timeout
        self._answer_timeout = answer_timeout
        self._running: set[asyncio.Task[Any]] = set()
        self._aborted: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._idle: asyncio.Event | None = None
        self._closing = False
        self._query = query

    async def exchange(
        self,
        endpoint: str,
        payload: bytes | None,
        *,
        policy: RetryPolicy,
        is_send: bool,
        decipher: Decipher,
        progress: Progress | None = None,
        priority: Priority = "normal",
        not_after: float | None = None,
    ) -> Outcome:
        """Make a request with retries and return how it ended. Never raises an API error.

        When the client closes (:meth:`abort`) the request is stopped: it raises
        :class:`ClientClosedError`, and ``progress`` says whether it may have left.
        """
        if self._closing:
            raise ClientClosedError(f"{endpoint}: the client is closed")
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            return await self._exchange(
                endpoint,
                payload,
                policy=policy,
                is_send=is_send,
                decipher=decipher,
                progress=progress,
                priority=priority,
                not_after=not_after,
            )
        except asyncio.CancelledError:
            if task not in self._aborted:
                raise
            task.uncancel()
            closed = ClientClosedError(f"{endpoint}: the client was closed during the request")
            raise closed from None
        finally:
            self._running.discard(task)
            if not self._running and self._idle is not None:
                self._idle.set()

    async def abort(self) -> None:
        """Stop every request in flight and refuse new ones (the client is closing).

        Returns once each has ended (turned into its caller's ``ClientClosedError``
        and per-recipient results), so no connection is left behind the pool.
        """
        self._closing = True
        me = asyncio.current_task()
        others = [task for task in self._running if task is not me]
        if not others:
            return
        self._idle = asyncio.Event()
        for task in others:
            self._aborted.add(task)
            task.cancel(_CLOSING)
        # Each turns the cancellation into an outcome and leaves; a stubborn one
        # (a caller's shielded await) is not waited for past a few seconds.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                while any(task in self._running for task in others):
                    self._idle.clear()
                    await self._idle.wait()

    async def _exchange(
        self,
        endpoint: str,
        payload: bytes | None,
        *,
        policy: RetryPolicy,
        is_send: bool,
        decipher: Decipher,
        progress: Progress | None,
        priority: Priority,
        not_after: float | None,
    ) -> Outcome:
        """:meth:`exchange`, without the bookkeeping of requests in flight.

        Args:
            endpoint: the path, e.g. ``/sms/send``.
            payload: the body, or ``None`` for body-less endpoints.
            policy: the retry policy.
            is_send: a send is not idempotent: once an attempt may have been
                processed, retries must stay inside the duplicate window.
            decipher: the gateway's reading of an answer.
            progress: filled in as the request goes; after a cancellation it tells
                whether the request may have been processed.
            priority: the limiter lane.
            not_after: no attempt is written after this moment (pipeline clock).
        """
        progress = progress if progress is not None else Progress()
        began = self._clock()
        call_deadline = None if policy.deadline is None else began + policy.deadline

        def should_retry(attempt: _Attempt) -> bool:
            return attempt.kind in (_Kind.RETRY_SAFE, _Kind.RETRY_MAYBE)

        decided: list[float | None] = [None]

        def wait(state: tenacity.RetryCallState) -> float:
            attempt = progress.last
            decided[0] = (
                None
                if attempt is None
                else policy.next_wait(
                    attempt=state.attempt_number,
                    retry_after=attempt.retry_after,
                    maybe_since=progress.maybe_since if is_send else None,
                    now=self._clock(),
                    deadline=_earliest(call_deadline, not_after),
                )
            )
            return decided[0] or 0.0

        def stop(state: tenacity.RetryCallState) -> bool:
            return decided[0] is None

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.retries += 1
            attempt = progress.last
            if _telemetry._active is not None:
                _telemetry._active.retried(endpoint)
            logger.info(
                "retrying %s in %.2fs (attempt %d failed: %s)",
                endpoint,
                state.upcoming_sleep or 0.0,
                state.attempt_number,
                # An answer's text may quote a recipient's number: never log it whole.
                _telemetry.mask_numbers(str(attempt.error))
                if attempt and attempt.error
                else "retryable answer",
            )

        async def one_attempt() -> _Attempt:
            progress.attempts += 1
            # The gateway may have processed the request any time after it left, so the
            # duplicate window is counted from before sending, not from the failure.
            started = self._clock()
            deadline = not_after
            if is_send and progress.maybe_since is not None:
                deadline = _earliest(deadline, progress.maybe_since + policy.send_budget)
            attempt = await self._attempt(endpoint, payload, progress, decipher, deadline, priority)
            if attempt.processed_maybe and progress.maybe_since is None:
                progress.maybe_since = started
            if attempt.refusal is not None and attempt.kind is not _Kind.RETRY_MAYBE:
                progress.refusals += 1
            if attempt.kind is _Kind.FINAL and attempt.error is None and progress.last:
                # Too late to leave: the previous attempt's failure is how it ended.
                attempt = _Attempt(
                    _Kind.FINAL,
                    progress.last.status_code,
                    progress.last.body,
                    progress.last.error,
                    progress.last.refusal,
                )
            progress.last = attempt
            return attempt

        final = await one_attempt()
        if should_retry(final):
            # tenacity only once a retry is needed (it costs ~20 us per request); the
            # attempt already made is handed to it as attempt 1.
            made = [final]

            async def next_attempt() -> _Attempt:
                return made.pop() if made else await one_attempt()

            retrying = tenacity.AsyncRetrying(
                retry=tenacity.retry_if_result(should_retry),
                wait=wait,
                stop=stop,
                before_sleep=before_sleep,
                sleep=asyncio.sleep,
                retry_error_callback=lambda state: progress.last,
                reraise=True,
            )
            final = await retrying(next_attempt)
        late = final.kind is _Kind.FINAL and final.error is None
        if late:
            final = _Attempt(_Kind.FINAL)
        return Outcome(
            body=final.body if final.kind is _Kind.OK else None,
            error=final.error,
            maybe_processed=progress.maybe_since is not None,
            refusal=final.refusal,
            duplicate=final.refusal is not None and final.refusal.duplicate,
            attempts=progress.attempts,
            status_code=final.status_code,
            error_body=final.body if final.kind is not _Kind.OK else b"",
            late=late,
        )

    async def call(
        self,
        endpoint: str,
        payload: bytes | None,
        *,
        policy: RetryPolicy,
        decipher: Decipher,
        priority: Priority = "normal",
    ) -> bytes:
        """An idempotent request: the body of its accepted answer, or the error raised."""
        result = await self.exchange(
            endpoint, payload, policy=policy, is_send=False, decipher=decipher, priority=priority
        )
        if result.error is not None:
            raise result.error
        if result.body is None:  # never written: the call's deadline passed first
            raise RequestTimeoutError(
                f"{endpoint}: the call's deadline passed before it could be sent",
                endpoint=endpoint,
            )
        return result.body

    async def _attempt(  # noqa: PLR0917
        self,
        endpoint: str,
        payload: bytes | None,
        progress: Progress,
        decipher: Decipher,
        deadline: float | None,
        priority: Priority,
    ) -> _Attempt:
        async with self._sockets:
            attempt = self._attempt_on_a_connection(
                endpoint, payload, progress, decipher, deadline, priority
            )
            if _telemetry._active is None:
                return await attempt
            return await _telemetry.observe_attempt(self, endpoint, priority, progress, attempt)

    async def _attempt_on_a_connection(  # noqa: PLR0917
        self,
        endpoint: str,
        payload: bytes | None,
        progress: Progress,
        decipher: Decipher,
        deadline: float | None,
        priority: Priority,
    ) -> _Attempt:
        url = self._urls.get(endpoint) or self._parse_url(endpoint)
        # The turn at the pool gate comes before the limiter slot, so that nothing
        # stands between a slot and the wire (limiters that reason from admission
        # times, such as Redis's, would see arrivals bunch).
        leave_gate = await self._pool_gate.enter()
        permit, started = await self._slot(leave_gate, priority)
        clock = self._clock
        if deadline is not None and started >= deadline:
            leave_gate()
            permit.done()
            return _Attempt(_Kind.FINAL)
        self.stats.requests += 1
        number = progress.attempts
        progress.traced = progress.started = progress.written = False
        progress.in_flight = True
        cap = _AnswerCap(self._answer_timeout)
        trace = _tracer(progress, permit, leave_gate, deadline, clock, cap.shorten, self.stats)
        try:
            status, headers, body = await self._round_trip(url, payload, trace, cap)
        except TimeoutError:
            progress.in_flight = False
            exc = httpx.ReadTimeout("no complete answer within the timeout")
            _log_attempt(endpoint, None, started, clock(), number, "attempt timeout")
            return self._transport_failure(endpoint, exc, progress)
        except _TooLate:
            progress.in_flight = False
            return _Attempt(_Kind.FINAL)
        except _AnswerTooLarge:
            progress.in_flight = False
            error = DecodeError(
                f"{endpoint}: the answer is larger than {MAX_ANSWER_BYTES:,} bytes; not read",
                endpoint=endpoint,
            )
            return _Attempt(_Kind.FINAL, error=error, processed_maybe=True)
        except RuntimeError as exc:
            progress.in_flight = False
            if not self._http.is_closed:
                raise
            # The client was closed under a request (aclose() during a bulk send).
            closed = ClientClosedError(f"{endpoint}: the client was closed during the request")
            closed.__cause__ = exc
            return _Attempt(
                _Kind.FINAL, error=closed, processed_maybe=progress.started or not progress.traced
            )
        except httpx.HTTPError as exc:
            progress.in_flight = False
            _log_attempt(endpoint, None, started, clock(), number, type(exc).__name__)
            return self._transport_failure(endpoint, exc, progress)
        finally:
            leave_gate()
            self._pool_gate.enabled |= progress.traced
            permit.done()
        progress.in_flight = False
        _log_attempt(endpoint, status, started, clock(), number, None)
        return self._read(status, headers, body, decipher, progress)

    async def _round_trip(
        self,
        url: httpx.URL,
        payload: bytes | None,
        trace: Callable[[str, dict[str, Any]], Awaitable[None]],
        cap: _AnswerCap,
    ) -> tuple[int, httpx.Headers, bytes]:
        """Send the request and read its answer, within the attempt's time.

        httpx's timeouts are per read: a body trickling a byte at a time never trips
        them. So the attempt as a whole is bounded, and once the request has left
        (the trace says so; for untraced transports, once the headers came) its
        answer must be complete within the read timeout.
        """
        async with asyncio.timeout(self._attempt_timeout) as timeout:
            cap.timeout = timeout
            request = self._http.build_request(
                "POST",
                url,
                content=payload if payload is not None else b"",
                headers=self._headers,
                extensions={"trace": trace},
            )
            response = await self._http.send(request, stream=True)
            cap.shorten(asyncio.get_running_loop().time())
            try:
                body = await _read_bounded(response, MAX_ANSWER_BYTES)
            finally:
                await response.aclose()
        return response.status_code, response.headers, body

    async def _slot(
        self, leave_gate: Callable[[], None], priority: Priority
    ) -> tuple[Permit, float]:
        """A limiter slot and when it came (waiting for it failed: the gate is left)."""
        waited_from = self._clock()
        watch = _telemetry._active  # None unless telemetry.instrument() was called
        if watch is not None:
            watch.queued(1, priority)
        try:
            if self._lanes and priority != "normal":
                permit = await self._limiter.acquire(priority=priority)
            else:
                permit = await self._limiter.acquire()
        except BaseException:
            leave_gate()
            raise
        finally:
            if watch is not None:
                watch.queued(-1, priority)
        started = self._clock()
        self.stats.limiter_wait += started - waited_from
        if watch is not None:
            watch.waited(started - waited_from, priority)
        return permit, started

    def _transport_failure(
        self, endpoint: str, exc: httpx.HTTPError, progress: Progress
    ) -> _Attempt:
        """An attempt that ended without an answer: retry-safe only if nothing left."""
        self.stats.transport_errors += 1
        maybe = progress.written if progress.traced else not _nothing_left(exc)
        error_cls = (
            RequestTimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
        )
        what = "after the request may have been sent" if maybe else "before the request was sent"
        detail = self.scrub(str(exc))
        error = error_cls(f"{endpoint}: {type(exc).__name__} {what}: {detail}", endpoint=endpoint)
        error.__cause__ = exc
        return _Attempt(
            _Kind.RETRY_MAYBE if maybe else _Kind.RETRY_SAFE, error=error, processed_maybe=maybe
        )

    def _parse_url(self, endpoint: str) -> httpx.URL:
        url = self._urls[endpoint] = httpx.URL(self.base_url + endpoint + self._query)
        return url

    def _read(
        self,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        decipher: Decipher,
        progress: Progress,
    ) -> _Attempt:
        refusal = decipher(status, headers, body, progress.refusals)
        if refusal is None:
            # Accepted: the gateway's accounting reads the body (an odd one -> unknown).
            return _Attempt(_Kind.OK, status_code=status, body=body)
        if isinstance(refusal.error, RateLimitedError):
            self.stats.rate_limited += 1
        elif isinstance(refusal.error, ServerError) and status >= 500:
            self.stats.server_errors += 1
        if refusal.retry:
            # SMSC's error 9 on a send is both: come back soon (too many at once), and
            # if it lasts, the duplicate rule (the outcome says so).
            kind = _Kind.RETRY_MAYBE if refusal.processed else _Kind.RETRY_SAFE
        elif refusal.duplicate:
            kind = _Kind.DUPLICATE
        else:
            kind = _Kind.FINAL
        return _Attempt(
            kind,
            status,
            body,
            refusal.error,
            refusal,
            processed_maybe=refusal.processed,
        )


def _tracer(  # noqa: PLR0917
    progress: Progress,
    permit: Permit,
    leave_gate: Callable[[], None],
    deadline: float | None,
    clock: Callable[[], float],
    written: Callable[[float], None],
    stats: Stats,
) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """The httpcore trace hook of one attempt: it records what left, and when.

    httpcore awaits it before writing the headers: the last moment to let the
    limiter admit the request (``Permit.ready``) and to stop one that is too late.
    """
    ready = getattr(permit, "ready", None)

    async def trace(event: str, info: dict[str, Any]) -> None:
        progress.traced = True
        leave_gate()  # it holds a connection now (or is opening one)
        if event in _HEADERS_STARTED:
            if ready is not None:
                waited_from = clock()
                await ready()  # the limiter may hold the write back: that is its wait too
                stats.limiter_wait += clock() - waited_from
            if deadline is not None and clock() >= deadline:
                raise _TooLate
            progress.started = True
        elif event in _HEADERS_WRITTEN:
            permit.sent()
        elif event in _BODY_WRITTEN:
            progress.written = True
            written(asyncio.get_running_loop().time())

    return trace


class _AnswerCap:
    """Brings an attempt's time limit forward: its answer is due ``seconds`` after it left."""

    __slots__ = ("seconds", "timeout")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.timeout: asyncio.Timeout | None = None

    def shorten(self, now: float) -> None:
        if self.seconds is None or self.timeout is None:
            return
        current = self.timeout.when()
        if current is None or now + self.seconds < current:
            self.timeout.reschedule(now + self.seconds)


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def _takes_priority(limiter: RateLimiter) -> bool:
    try:
        return "priority" in inspect.signature(limiter.acquire).parameters
    except (TypeError, ValueError):
        return False


def _nothing_left(exc: httpx.HTTPError) -> bool:
    """Whether an untraced transport's error proves the request never left.

    Only a connection that could not be made proves it. httpx-aiohttp maps most of
    aiohttp's connection errors, a server that dropped the connection after reading
    the request among them, to ``ConnectTimeout``: such a request may have been
    processed. A ``ConnectTimeout`` raised by httpx itself (no cause, or httpcore's)
    is a real connect timeout.
    """
    if isinstance(exc, httpx.ConnectError | httpx.PoolTimeout):
        return True
    if isinstance(exc, httpx.ConnectTimeout):
        cause = exc.__cause__
        return cause is None or type(cause).__module__.startswith("httpcore")
    return False


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The body, decompressed here with a bound, so a compressed bomb cannot blow up."""
    if response.is_stream_consumed or getattr(response, "_content", None) is not None:
        body = response.content  # already in memory (a mock transport's answer)
        if len(body) > limit:
            raise _AnswerTooLarge
        return body
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        # An encoding we did not ask for: let httpx decode it, bounded after the fact.
        body = b""
        async for part in response.aiter_bytes():
            body += part
            if len(body) > limit:
                raise _AnswerTooLarge
        return body
    parts: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        if inflate is None:
            chunk = raw
        else:
            try:
                chunk = inflate.decompress(raw, limit - size + 1)
            except zlib.error as exc:
                raise httpx.DecodingError(f"cannot decompress the answer: {exc}") from exc
            if inflate.unconsumed_tail:
                raise _AnswerTooLarge
        size += len(chunk)
        if size > limit:
            raise _AnswerTooLarge
        parts.append(chunk)
    return b"".join(parts)


def _nothing() -> None:
    pass


class _PoolGate:
    """Lets our requests into httpcore's connection pool one at a time, each until it
    reports (a trace event) that it holds a connection.

    httpcore hands one idle connection to every request queued in the same pass; all
    but one then fail over (``ConnectionNotAvailable``) and wait for another pass, and
    every pass polls each idle connection's socket (~75 us with ten). Ungated, a
    request cost four passes instead of two: ~150 us of a ~1,100 us request. Only
    transports known to send trace events are gated (``enabled`` is set after the
    first traced request): a gate nothing opens would serialise every request.
    """

    __slots__ = ("_lock", "enabled")

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.enabled = False

    async def enter(self) -> Callable[[], None]:
        """Wait for our turn; return the (idempotent) call that lets the next one in."""
        if not self.enabled:
            return _nothing
        await self._lock.acquire()
        inside = True

        def leave() -> None:
            nonlocal inside
            if inside:
                inside = False
                self._lock.release()

        return leave


def _log_attempt(  # noqa: PLR0917
    endpoint: str,
    status: int | None,
    started: float,
    ended: float,
    number: int,
    failure: str | None,
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        outcome = f"HTTP {status}" if status is not None else failure
        logger.debug(
            "POST %s -> %s in %.1f ms (attempt %d)",
            endpoint,
            outcome,
            (ended - started) * 1000,
            number,
        )
