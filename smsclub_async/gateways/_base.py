"""What the gateway clients share with :class:`~smsclub_async.SmsClub`: lifecycle, the
request path and bulk fan-out.

The structure mirrors ``_client.py``: an unopened / opened / closed state
machine, an owned or borrowed ``httpx.AsyncClient`` (a borrowed one is never
closed), one event loop per client, and every request through the core
:class:`Pipeline` (limiter -> httpx -> status classification -> retries), with
:func:`._exchange.exchange` adding the refusals these gateways put in 200 answers.

Credentials travel only in the form-encoded POST body (never the URL, a header
or a log line), and :meth:`GatewayClient._scrub` blanks them out of anything the
gateway echoes back before it reaches an exception text.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx

from .._common import POOL_LIMITS, ClientState, SendStream
from .._errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DecodeError,
    EventLoopError,
    SmsClubError,
)
from .._fanout import fan_out
from .._limiter import RateLimiter
from .._phones import Chunk
from .._pipeline import Pipeline, Progress, Stats
from .._results import SendResult, StatusReport
from .._retry import RetryPolicy
from .._tracking import StatusChange, track_statuses
from .._version import __version__
from ._exchange import Judge, Outcome, exchange
from ._keys import form_body

__all__ = ["GatewayClient", "check_base_url"]

R = TypeVar("R", bound=SendResult)

_FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
    "User-Agent": f"smsclub-async/{__version__}",
}


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash; ConfigurationError unless http(s)."""
    url = url.rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError(f"base_url must start with https:// or http://, got {url!r}")
    if urllib.parse.urlsplit(url).query:
        raise ConfigurationError("base_url must not carry a query string")
    return url


class GatewayClient:
    """The lifecycle and request path of a form-encoded gateway client (not public)."""

    _gateway: ClassVar[str] = "gateway"
    _http_advice: ClassVar[Mapping[type[APIError], str]] = {}
    _poll_interval: ClassVar[float] = 2.0

    def __init__(
        self,
        *,
        base_url: str,
        identity: str,
        secrets: Sequence[str],
        limiter: RateLimiter,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy,
        send_retry: RetryPolicy,
        max_concurrency: int,
        chunk_size: int,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None,
    ) -> None:
        if http_client is not None and (transport is not None or event_hooks is not None):
            raise ConfigurationError(
                "transport= and event_hooks= configure the client's own httpx client;"
                " set them on the http_client you pass instead"
            )
        if max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        if not 1 <= chunk_size <= 1000:
            raise ConfigurationError("chunk_size must be between 1 and 1000")
        self.base_url = base_url
        self._identity = identity
        # Longest first, so a secret that contains another is blanked whole.
        variants = {s for secret in secrets if secret for s in _encoded_forms(secret)}
        self._secrets = tuple(sorted(variants, key=len, reverse=True))
        self._limiter = limiter
        self._borrowed = http_client
        self._transport = transport
        self._timeout = timeout
        self._event_hooks = event_hooks
        self.retry = retry
        self.send_retry = send_retry
        self.max_concurrency = max_concurrency
        self.chunk_size = chunk_size
        self.stats = Stats()
        """Counters: requests, retries, refusals for rate, time waited for the limiter."""
        self._http: httpx.AsyncClient | None = http_client
        self._pipeline: Pipeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = ClientState.UNOPENED

    # ----------------------------------------------------------------- lifecycle

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} {self._identity}"
            f" limiter={self._limiter!r} state={self._state.name.lower()}>"
        )

    @property
    def is_closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._state is ClientState.CLOSED

    @property
    def limiter(self) -> RateLimiter:
        """The limiter this client's requests go through."""
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
                " belong to that loop. Create one client per event loop, not one shared global"
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
                headers=dict(_FORM_HEADERS),
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

    # ----------------------------------------------------------------- secrets

    def _auth(self) -> dict[str, str]:
        """The credential parameters of every request (overridden)."""
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        """``text`` with every credential of this client replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _scrub_bytes(self, body: bytes) -> bytes:
        for secret in self._secrets:
            body = body.replace(secret.encode("utf-8", "replace"), b"***")
        return body

    def _decode_error(self, endpoint: str, body: bytes, problem: str) -> DecodeError:
        return DecodeError(
            f"{endpoint}: unexpected answer from the gateway: {self._scrub(problem)}",
            endpoint=endpoint,
            body=self._scrub_bytes(body),
        )

    # ----------------------------------------------------------------- requests

    def _payload(self, params: Mapping[str, str], encoding: str = "utf-8") -> bytes:
        return form_body({**self._auth(), **params}, encoding=encoding)

    async def _exchange(
        self,
        endpoint: str,
        payload: bytes,
        *,
        policy: RetryPolicy,
        is_send: bool,
        judge: Judge,
        progress: Progress,
    ) -> Outcome:
        return await exchange(
            self._open(),
            endpoint,
            payload,
            policy=policy,
            is_send=is_send,
            judge=judge,
            progress=progress,
        )

    async def _call(
        self, endpoint: str, params: Mapping[str, str], judge: Judge, *, encoding: str = "utf-8"
    ) -> bytes:
        """An idempotent request: the body of its accepted answer, or the error raised."""
        outcome = await self._exchange(
            endpoint,
            self._payload(params, encoding),
            policy=self.retry,
            is_send=False,
            judge=judge,
            progress=Progress(),
        )
        if outcome.error is not None:
            raise outcome.error
        assert outcome.body is not None
        return outcome.body

    def _stream(
        self,
        chunks: AsyncIterator[Chunk],
        *,
        endpoint: str,
        payload: Callable[[Chunk], bytes],
        judge: Judge,
        interpret: Callable[[Chunk, Outcome], SendResult],
        cancelled: Callable[[Chunk, bool], SendResult],
        rejected_only: Callable[[Chunk], SendResult],
    ) -> SendStream:
        """Send chunk after chunk, a bounded number in flight, one result per request."""
        unclaimed: list[SendResult] = []

        async def send_chunk(chunk: Chunk) -> SendResult:
            if not chunk.phones:
                return rejected_only(chunk)
            progress = Progress()
            try:
                outcome = await self._exchange(
                    endpoint,
                    payload(chunk),
                    policy=self.send_retry,
                    is_send=True,
                    judge=judge,
                    progress=progress,
                )
            except asyncio.CancelledError:
                return cancelled(chunk, progress.maybe_processed)
            return interpret(chunk, outcome)

        async def results() -> AsyncIterator[SendResult]:
            self._open()
            fatal: SmsClubError | None = None
            async for result in fan_out(
                chunks,
                send_chunk,
                limit=self.max_concurrency,
                stop_after=lambda r: isinstance(r.error, AuthenticationError),
                leftovers=unclaimed,
            ):
                if isinstance(result.error, AuthenticationError):
                    fatal = result.error
                yield result
            if fatal is not None:
                raise fatal

        return SendStream(results(), unclaimed)

    # ----------------------------------------------------------------- tracking

    async def status(self, message_ids: Any) -> StatusReport:
        """Delivery statuses (overridden by each client)."""
        raise NotImplementedError

    async def wait_for_final(
        self,
        message_ids: Iterable[str],
        *,
        timeout: float | None = 600.0,  # noqa: ASYNC109 - a polling deadline (documented)
        interval: float | None = None,
        max_interval: float = 60.0,
    ) -> StatusReport:
        """Poll until every message has a final status, or ``timeout`` seconds pass.

        As :meth:`SmsClub.wait_for_final`; the first interval defaults to the
        gateway's own pace (SMSC refuses a sixth identical status request a minute).
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
        message_ids: Iterable[str],
        *,
        timeout: float | None = None,
        interval: float | None = None,
        max_interval: float = 60.0,
        report: StatusReport | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Yield a :class:`StatusChange` each time a message's status changes (see SmsClub)."""
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
        """Merge a stream into one result; raise (with ``partial``) as SmsClub.send does."""
        total = result_type()
        try:
            async for part in stream:
                total.merge(part)
        except asyncio.CancelledError as exc:
            await stream.aclose()
            for part in stream.unclaimed:
                total.merge(part)
            exc.partial = total  # type: ignore[attr-defined]
            raise
        except SmsClubError as exc:
            for part in stream.unclaimed:
                total.merge(part)
            exc.partial = total
            raise
        if total.recipients == 0 and not total.errors:
            raise ValueError("no recipients: the phone list was empty")
        if total.error is not None:
            error = total.error
            error.partial = total
            raise error
        return total


def _encoded_forms(secret: str) -> tuple[str, ...]:
    """A secret as it may come back: verbatim or percent-encoded from our form body."""
    return (
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
    )
