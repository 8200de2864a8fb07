"""The lifecycle every gateway client shares: unopened -> opened -> closed.

A client owns the ``httpx.AsyncClient`` it creates and closes it, or borrows one it
was given and never closes it; it binds to the event loop it is first used on; using
it after ``aclose()`` or from another loop raises a clear error; a collected client
that was opened and never closed warns with ``ResourceWarning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx

from ._common import DEFAULT_MAX_CONCURRENCY, POOL_LIMITS, ClientState, SendStream
from ._errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    EventLoopError,
    SmsClubError,
)
from ._fanout import fan_out
from ._limiter import RateLimiter
from ._outcomes import blame
from ._phones import Chunk
from ._pipeline import Pipeline, Progress, Stats
from ._results import SendResult, StatusReport
from ._retry import RetryPolicy
from ._tracking import StatusChange, track_statuses

__all__ = ["ClientLifecycle"]

R = TypeVar("R", bound=SendResult)


class ClientLifecycle:
    """Construction checks, state, the lazily built pipeline, and closing.

    Subclasses give the request headers (:meth:`_request_headers`), how the client
    names itself in its repr (:meth:`_identity`), and optionally the advice and the
    scrubber for error texts.
    """

    _http_advice: ClassVar[Mapping[type[APIError], str] | None] = None
    """What to do, by exception class, in error texts; ``None`` for SMS Club's."""
    _poll_interval: ClassVar[float] = 2.0
    """The first interval between status polls, in seconds."""

    def __init__(
        self,
        *,
        base_url: str,
        limiter: RateLimiter,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy,
        send_retry: RetryPolicy,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        if http_client is not None and (transport is not None or event_hooks is not None):
            raise ConfigurationError(
                "transport= and event_hooks= configure the client's own httpx client;"
                " set them on the http_client you pass instead"
            )
        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        self.base_url = base_url
        self._limiter = limiter
        self._borrowed = http_client
        self._transport = transport
        self._timeout = timeout
        self._event_hooks = event_hooks
        self.retry = retry
        self.send_retry = send_retry
        self.max_concurrency = max_concurrency
        self.stats = Stats()
        """Counters: requests, retries, rate-limit refusals, time waited for the limiter."""
        self._http: httpx.AsyncClient | None = http_client
        self._pipeline: Pipeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = ClientState.UNOPENED

    # Subclasses fill these in.

    def _request_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _identity(self) -> str:
        """Who the client is, for its repr: never a secret (e.g. a token's hash)."""
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        """Remove secrets from a gateway's own message before it goes into an error."""
        return text

    # The lifecycle.

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} {self._identity()}"
            f" limiter={self._limiter!r} state={self._state.name.lower()}>"
        )

    @property
    def is_closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._state is ClientState.CLOSED

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter this client's requests go through."""
        return self._limiter

    def _open(self) -> Pipeline:
        name = type(self).__name__
        if self._state is ClientState.CLOSED:
            raise ClientClosedError(
                f"this {name} client is closed; create a new one (or keep using it inside"
                " its `async with` block)"
            )
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise EventLoopError(
                f"this {name} client was first used on another event loop; its connections"
                " belong to that loop. Create one client per event loop (for example inside"
                " each Celery task or pytest test), not one shared global"
            )
        if self._pipeline is None:
            if self._http is None:
                self._http = httpx.AsyncClient(
                    transport=self._transport,
                    timeout=self._timeout,
                    limits=POOL_LIMITS,
                    event_hooks=dict(self._event_hooks) if self._event_hooks else None,
                )
            self._pipeline = Pipeline(
                self._http,
                base_url=self.base_url,
                headers=self._request_headers(),
                limiter=self._limiter,
                stats=self.stats,
                clock=loop.time,
                advice=self._http_advice,
                scrub=self._scrub,
            )
            self._state = ClientState.OPENED
        return self._pipeline

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and, if it owns its httpx client, that too. Safe to call twice."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        if self._http is not None and self._borrowed is None:
            await self._http.aclose()

    def __del__(self) -> None:
        if (
            getattr(self, "_state", None) is ClientState.OPENED
            and self._borrowed is None
            and self._http is not None
            and not self._http.is_closed
        ):
            warnings.warn(
                f"unclosed {self!r}: use `async with {type(self).__name__}(...)` or"
                " `await client.aclose()`",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )

    # Shared by every gateway: tracking and merging bulk results.

    async def status(self, message_ids: Any) -> StatusReport:
        """Delivery statuses of messages (each client implements it)."""
        raise NotImplementedError

    async def wait_for_final(
        self,
        message_ids: Iterable[str | int],
        *,
        timeout: float | None = 600.0,  # noqa: ASYNC109 - a polling deadline (documented)
        interval: float | None = None,
        max_interval: float = 60.0,
    ) -> StatusReport:
        """Poll until every message has a final status, or ``timeout`` seconds pass.

        Polls only the ids not yet final, 100 per request, through the shared rate
        limiter, with the interval growing from ``interval`` (by default the
        gateway's own pace: 2 s for SMS Club) to ``max_interval``.

        Returns:
            The last known status of every id; ``missing`` lists ids the gateway
            never reported. After a timeout some statuses may still be ENROUTE.

        Example:
            >>> async def main(sms) -> None:  # any client
            ...     result = await sms.send(["380989361131"], "Hi", sender="VashZakaz")
            ...     report = await sms.wait_for_final(result.sent, timeout=300)
        """
        report = StatusReport()
        async for _ in self.track(
            message_ids,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            report=report,
        ):
            pass
        return report

    def track(
        self,
        message_ids: Iterable[str | int],
        *,
        timeout: float | None = None,
        interval: float | None = None,
        max_interval: float = 60.0,
        report: StatusReport | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Yield a :class:`StatusChange` each time a message's status changes.

        Ends when every status is final (or after ``timeout`` seconds). Cancel it, or
        ``break`` out of the loop, at any time.

        Example:
            >>> async def main(sms: SmsClub, ids: list[str]) -> None:
            ...     async for change in sms.track(ids):
            ...         print(change.message_id, change.status)
        """
        first = self._poll_interval if interval is None else interval
        return track_statuses(
            self.status,
            message_ids,
            interval=first,
            max_interval=max(max_interval, first),
            timeout=timeout,
            report=report if report is not None else StatusReport(),
        )

    async def _collect(self, stream: SendStream, result_type: type[R]) -> R:
        """Merge a stream into one result; on an error attach it as ``partial``."""
        total = result_type()
        try:
            async with stream:
                async for part in stream:
                    total.merge(part)
        except asyncio.CancelledError as exc:
            for part in stream.unclaimed:
                total.merge(part)
            exc.partial = total  # type: ignore[attr-defined]
            raise
        except Exception as exc:
            # Ours, or one from the caller's own iterator: either way keep the ids.
            for part in stream.unclaimed:
                total.merge(part)
            with contextlib.suppress(AttributeError):
                exc.partial = total  # type: ignore[attr-defined]
            raise
        if total.recipients == 0 and not total.errors:
            raise ValueError("no recipients: the phone list was empty")
        if total.error is not None:
            error = total.error
            error.partial = total
            raise error
        return total

    def _run_chunks(
        self,
        chunks: AsyncIterator[Chunk],
        attempt: Callable[[Chunk, Progress], Awaitable[SendResult]],
        *,
        rejected_only: Callable[[Chunk], SendResult],
        interrupted: Callable[[Chunk, bool], SendResult],
    ) -> SendStream:
        """Send chunk after chunk, a bounded number in flight, one result per request.

        ``attempt`` sends one chunk; ``interrupted(chunk, maybe_processed)`` accounts
        for a chunk whose request was cancelled or failed before an answer (the
        limiter failed, the client was closed): its phones are ``unknown`` if the
        request may have been processed, else ``failed``. No chunk task ever raises,
        so the results of the others are never dropped.
        """
        unclaimed: list[SendResult] = []

        async def send_chunk(chunk: Chunk) -> SendResult:
            if not chunk.phones:
                return rejected_only(chunk)
            progress = Progress()
            try:
                return await attempt(chunk, progress)
            except asyncio.CancelledError:
                return interrupted(chunk, progress.maybe_processed)
            except SmsClubError as exc:
                return blame(interrupted(chunk, progress.maybe_processed), chunk, exc)

        async def results() -> AsyncGenerator[SendResult, None]:
            self._open()
            fatal: SmsClubError | None = None
            parts = fan_out(
                chunks,
                send_chunk,
                limit=self.max_concurrency,
                stop_after=lambda r: isinstance(r.error, AuthenticationError),
                leftovers=unclaimed,
            )
            # aclosing: stopping this stream must stop the requests at once, not when
            # the event loop finalises the generator.
            async with aclosing(parts):
                async for result in parts:
                    if isinstance(result.error, AuthenticationError):
                        fatal = result.error
                    yield result
            if fatal is not None:
                raise fatal

        return SendStream(results(), unclaimed)
