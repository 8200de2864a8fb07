"""The one request path: limiter -> httpx -> status-to-outcome -> retry decision.

Every endpoint of every gateway goes through :meth:`Pipeline.exchange`. Decoding the
body into a result is left to the caller (pure functions in the client modules).

Whether a failed attempt may have been *processed* by the gateway decides whether a
send may be retried freely. httpcore reports, through the request's ``trace``
extension, when the request body was completely written: before that the gateway
cannot have processed it (it needs the whole body), so the attempt is safe to repeat.
Transports that do not trace (respx, other backends) fall back on the exception type:
connect and pool errors are safe, anything later is not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from ._errors import (
    APIError,
    ClientClosedError,
    DuplicateError,
    SmsClubError,
    TimeoutError,
    TransportError,
    error_for_status,
)
from ._limiter import Permit, RateLimiter
from ._retry import RetryPolicy, parse_retry_after
from ._wire import decode_error_message

__all__ = ["Exchange", "Pipeline", "Progress", "Stats"]

logger = logging.getLogger("smsclub_async")

_BODY_WRITTEN = frozenset({"http11.send_request_body.complete", "http2.send_request_body.complete"})
_HEADERS_WRITTEN = frozenset(
    {"http11.send_request_headers.complete", "http2.send_request_headers.complete"}
)
_HEADERS_STARTED = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)
_SAFE_TRANSPORT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Kind(enum.Enum):
    OK = "ok"
    RETRY_SAFE = "retry-safe"  # rejected before processing: 429, connect errors
    RETRY_MAYBE = "retry-maybe"  # may have been processed: 5xx, read errors after writing
    DUPLICATE = "duplicate"  # 453
    FINAL = "final"  # 4xx: will not succeed by repeating


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


@dataclass(slots=True)
class _Attempt:
    kind: _Kind
    status_code: int | None = None
    body: bytes = b""
    error: SmsClubError | None = None
    retry_after: float | None = None
    processed_maybe: bool = False


@dataclass(slots=True)
class Exchange:
    """The end of one logical request after all its retries.

    Attributes:
        body: the body of the final 200 answer, or ``None``.
        error: the error that ended it, or ``None`` after a 200.
        maybe_processed: an attempt may have been processed by the gateway without
            its answer reaching us (so the request may have taken effect).
        duplicate: the final answer was 453.
        attempts: how many attempts were made.
        status_code: the HTTP status of the final answer, if one arrived.
        error_body: the body of a final error answer (for gateways with their own
            error shapes), else empty.
    """

    body: bytes | None
    error: SmsClubError | None
    maybe_processed: bool
    duplicate: bool = False
    attempts: int = 0
    status_code: int | None = None
    error_body: bytes = b""


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
    """

    maybe_since: float | None = None
    in_flight: bool = False
    traced: bool = False
    started: bool = False
    written: bool = False
    attempts: int = 0
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


class Pipeline:
    """Sends requests for one token under one limiter, with retries.

    Args:
        http: the shared ``httpx.AsyncClient``.
        base_url: the gateway's base URL, without a trailing slash.
        headers: headers for every request (``Authorization`` among them).
        limiter: the rate limiter shared by every client of the token.
        stats: the counters to update.
        clock: a monotonic clock (the event loop's by default).
        advice: what to do, by exception class, in error texts (SMS Club's by default).
        scrub: cleans a gateway's own message before it goes into an error text (e.g.
            removes a password some gateways echo).
        max_in_flight: requests in flight at once (the size of the connection pool).
    """

    __slots__ = (
        "_advice",
        "_clock",
        "_headers",
        "_http",
        "_limiter",
        "_pool_gate",
        "_scrub",
        "_sockets",
        "_urls",
        "base_url",
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
        advice: Mapping[type[APIError], str] | None = None,
        scrub: Callable[[str], str] | None = None,
        max_in_flight: int = 10,
    ) -> None:
        # Take a connection's worth of room before a limiter slot: a request holding
        # a slot must not then queue for a pooled connection and reach the gateway
        # late, next to the requests admitted after it.
        self._sockets = asyncio.Semaphore(max_in_flight)
        self._pool_gate = _PoolGate()
        self._advice = advice
        self._scrub = scrub
        self._http = http
        self.base_url = base_url
        # Parsed once per endpoint: httpx parses a URL string on every request (~17 us).
        self._urls: dict[str, httpx.URL] = {}
        self._headers = headers
        self._limiter = limiter
        self.stats = stats
        self._clock = clock

    async def exchange(
        self,
        endpoint: str,
        payload: bytes | None,
        *,
        policy: RetryPolicy,
        is_send: bool,
        progress: Progress | None = None,
    ) -> Exchange:
        """Make a request with retries and return how it ended. Never raises an API error.

        Args:
            endpoint: the path, e.g. ``/sms/send``.
            payload: the JSON body, or ``None`` for body-less endpoints.
            policy: the retry policy.
            is_send: a send is not idempotent: once an attempt may have been
                processed, retries must stay inside the duplicate window.
            progress: filled in as the request goes; after a cancellation it tells
                whether the request may have been processed.
        """
        progress = progress if progress is not None else Progress()

        def should_retry(attempt: _Attempt) -> bool:
            return attempt.kind in (_Kind.RETRY_SAFE, _Kind.RETRY_MAYBE)

        def wait(state: tenacity.RetryCallState) -> float:
            attempt = progress.last
            retry_after = attempt.retry_after if attempt else None
            return policy.backoff_for(state.attempt_number, retry_after)

        def stop(state: tenacity.RetryCallState) -> bool:
            attempt = progress.last
            if state.attempt_number >= policy.attempts or attempt is None:
                return True
            if attempt.retry_after is not None and attempt.retry_after > policy.max_retry_after:
                return True
            if is_send and progress.maybe_since is not None:
                upcoming = state.upcoming_sleep or 0.0
                # >=: with no budget at all (or a clock that does not move) nothing that
                # may have been processed is ever repeated.
                if self._clock() + upcoming - progress.maybe_since >= policy.send_budget:
                    return True
            return False

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.retries += 1
            attempt = progress.last
            logger.info(
                "retrying %s in %.2fs (attempt %d failed: %s)",
                endpoint,
                state.upcoming_sleep or 0.0,
                state.attempt_number,
                attempt.error if attempt and attempt.error else "retryable answer",
            )

        async def one_attempt() -> _Attempt:
            progress.attempts += 1
            # The gateway may have processed the request any time after it left, so the
            # duplicate window is counted from before sending, not from the failure.
            started = self._clock()
            deadline = None
            if is_send and progress.maybe_since is not None:
                deadline = progress.maybe_since + policy.send_budget
            attempt = await self._attempt(endpoint, payload, progress, deadline)
            if attempt.processed_maybe and progress.maybe_since is None:
                progress.maybe_since = started
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
        return Exchange(
            body=final.body if final.kind is _Kind.OK else None,
            error=final.error,
            maybe_processed=progress.maybe_since is not None,
            duplicate=final.kind is _Kind.DUPLICATE,
            attempts=progress.attempts,
            status_code=final.status_code,
            error_body=final.body if final.kind is not _Kind.OK else b"",
        )

    async def call(self, endpoint: str, payload: bytes | None, *, policy: RetryPolicy) -> bytes:
        """An idempotent request: the body of its 200 answer, or the error raised."""
        result = await self.exchange(endpoint, payload, policy=policy, is_send=False)
        if result.error is not None:
            raise result.error
        assert result.body is not None
        return result.body

    async def _attempt(
        self,
        endpoint: str,
        payload: bytes | None,
        progress: Progress,
        deadline: float | None = None,
    ) -> _Attempt:
        async with self._sockets:
            return await self._attempt_on_a_connection(endpoint, payload, progress, deadline)

    async def _attempt_on_a_connection(
        self,
        endpoint: str,
        payload: bytes | None,
        progress: Progress,
        deadline: float | None,
    ) -> _Attempt:
        url = self._urls.get(endpoint) or self._parse_url(endpoint)
        # The turn at the pool gate comes before the limiter slot, so that nothing
        # stands between a slot and the wire (limiters that reason from admission
        # times, such as Redis's, would see arrivals bunch).
        leave_gate = await self._pool_gate.enter()
        permit, started = await self._slot(leave_gate)
        if deadline is not None and started >= deadline and progress.last is not None:
            # A retry that waited this long for the limiter would reach the gateway
            # after its duplicate window: the message could go out twice. Give up.
            leave_gate()
            permit.done()
            return dataclasses.replace(progress.last, kind=_Kind.FINAL)
        self.stats.requests += 1
        number = progress.attempts
        progress.traced = progress.started = progress.written = False

        async def trace(event: str, info: dict[str, Any]) -> None:
            progress.traced = True
            leave_gate()  # it holds a connection now (or is opening one)
            if event in _HEADERS_STARTED:
                progress.started = True
            elif event in _HEADERS_WRITTEN:
                permit.sent()
            elif event in _BODY_WRITTEN:
                progress.written = True

        request = self._http.build_request(
            "POST",
            url,
            content=payload if payload is not None else b"",
            headers=self._headers,
            extensions={"trace": trace},
        )
        progress.in_flight = True
        try:
            response = await self._http.send(request)
            try:
                body = await response.aread()
            finally:
                await response.aclose()
        except RuntimeError as exc:
            progress.in_flight = False
            if not self._http.is_closed:
                raise
            # The client was closed under a request (aclose() during a bulk send).
            closed = ClientClosedError(f"{endpoint}: the client was closed during the request")
            closed.__cause__ = exc
            return _Attempt(
                _Kind.FINAL, error=closed, processed_maybe=progress.written or not progress.traced
            )
        except httpx.HTTPError as exc:
            progress.in_flight = False
            _log_attempt(endpoint, None, started, self._clock(), number, type(exc).__name__)
            return self._transport_failure(endpoint, exc, progress)
        finally:
            leave_gate()
            self._pool_gate.enabled |= progress.traced
            permit.done()
        progress.in_flight = False
        status = response.status_code
        _log_attempt(endpoint, status, started, self._clock(), number, None)
        return self._classify(endpoint, status, body, response.headers)

    async def _slot(self, leave_gate: Callable[[], None]) -> tuple[Permit, float]:
        """A limiter slot and when it came (waiting for it failed: the gate is left)."""
        waited_from = self._clock()
        try:
            permit = await self._limiter.acquire()
        except BaseException:
            leave_gate()
            raise
        started = self._clock()
        self.stats.limiter_wait += started - waited_from
        return permit, started

    def _transport_failure(
        self, endpoint: str, exc: httpx.HTTPError, progress: Progress
    ) -> _Attempt:
        """An attempt that ended without an answer: retry-safe only if nothing left."""
        self.stats.transport_errors += 1
        maybe = progress.written if progress.traced else not isinstance(exc, _SAFE_TRANSPORT_ERRORS)
        error_cls = TimeoutError if isinstance(exc, httpx.TimeoutException) else TransportError
        what = "after the request was sent" if maybe else "before the request was sent"
        error = error_cls(f"{endpoint}: {type(exc).__name__} {what}: {exc}", endpoint=endpoint)
        error.__cause__ = exc
        return _Attempt(
            _Kind.RETRY_MAYBE if maybe else _Kind.RETRY_SAFE, error=error, processed_maybe=maybe
        )

    def _parse_url(self, endpoint: str) -> httpx.URL:
        url = self._urls[endpoint] = httpx.URL(self.base_url + endpoint)
        return url

    def _classify(
        self, endpoint: str, status: int, body: bytes, headers: httpx.Headers
    ) -> _Attempt:
        if 200 <= status < 300:
            # Any 2xx means the gateway processed it; an odd body then decodes to unknown.
            return _Attempt(_Kind.OK, status_code=status, body=body)
        message = decode_error_message(body)
        if message is not None and self._scrub is not None:
            message = self._scrub(message)
        retry_after = None
        if status == 429:
            self.stats.rate_limited += 1
            ms = parse_retry_after(headers.get("retry-after-ms"))
            retry_after = (
                ms / 1000 if ms is not None else parse_retry_after(headers.get("retry-after"))
            )
        elif status >= 500:
            self.stats.server_errors += 1
        error: APIError = error_for_status(
            status,
            endpoint=endpoint,
            gateway_message=message,
            retry_after=retry_after,
            advice=self._advice,
        )
        if status == 429:
            return _Attempt(_Kind.RETRY_SAFE, status, body, error, retry_after)
        if status >= 500:
            return _Attempt(_Kind.RETRY_MAYBE, status, body, error, processed_maybe=True)
        if isinstance(error, DuplicateError):
            return _Attempt(_Kind.DUPLICATE, status, body, error)
        return _Attempt(_Kind.FINAL, status, body, error)


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
