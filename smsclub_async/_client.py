"""The engine every gateway client runs on; it knows no gateway.

:class:`GatewayClient` holds what the three clients share, written once:

* the lifecycle: unopened -> opened -> closed; an owned ``httpx.AsyncClient`` is
  closed with the client, a borrowed one never; one event loop per client; using it
  after ``aclose()`` or from another loop raises a clear error; a collected client
  that was opened and never closed warns with ``ResourceWarning``;
* secrets: every text taken from an answer is scrubbed of the client's credentials
  before it reaches an exception, a reason or a log line;
* bulk sends: chunks read lazily, a bounded number in flight, one result per
  request, cancellation and errors turned into per-recipient outcomes, the journal
  (``key=``), lanes (``priority=``) and deadlines;
* reads in bulk (statuses), and ``track``/``wait_for_final`` on top of them.

A gateway client subclasses it and supplies declarations and pure functions: how to
build each request, how to decipher an answer (:class:`~._pipeline.Refusal`), how to
account for a send chunk. See ``docs/adding-a-gateway.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import math
import urllib.parse
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

import httpx

from . import telemetry as _telemetry
from ._accounting import interrupted, not_attempted
from ._common import DEFAULT_MAX_CONCURRENCY, POOL_LIMITS, ClientState, SendStream
from ._decipher import Decipher
from ._errors import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DecodeError,
    EventLoopError,
    SmsClubError,
    SourceError,
)
from ._fanout import fan_out
from ._limiter import RateLimiter, check_priority
from ._phones import Chunk, SourceFailure
from ._pipeline import Outcome, Pipeline, Priority, Progress, Stats
from ._results import SendResult, StatusReport
from ._retry import RetryPolicy
from ._tracking import StatusChange, track_statuses

if TYPE_CHECKING:
    from .journal import JournaledSend
    from .journal._wrapper import ClaimingAhead

__all__ = ["GatewayClient", "SendPlan"]

R = TypeVar("R", bound=SendResult)
T = TypeVar("T")
U = TypeVar("U")

# Errors after which no further chunk of a send is started.
_FATAL = (AuthenticationError, ClientClosedError)


@dataclass(frozen=True, slots=True)
class SendPlan:
    """What one bulk send needs from its gateway: declarations and pure functions.

    Attributes:
        endpoint: the path the send requests go to.
        build: the request body of one chunk.
        decipher: the gateway's reading of an answer.
        account: every phone of a chunk into ``sent``/``failed``/``unknown``, given how
            its request ended (accepted or not); pure.
        result_type: the gateway's result class.
        fingerprint: what the journal compares when a key is reused (text, sender,
            options): the same key with another fingerprint is refused.
        hint: for a chunk, text appended to ``unknown`` reasons (how to look it up).
        distinct: the chunks never repeat a number (the send deduplicates): a
            journal may then skip indexing the numbers of a key one call holds.
    """

    endpoint: str
    build: Callable[[Chunk], bytes]
    decipher: Decipher
    account: Callable[[Chunk, Outcome], SendResult]
    result_type: type[SendResult]
    fingerprint: str
    hint: Callable[[Chunk], str] = lambda chunk: ""
    distinct: bool = False


class GatewayClient:
    """The engine of :class:`SmsClub`, :class:`SmscClient` and :class:`SmsteleClient`.

    Not instantiated directly: each gateway's client subclasses it.
    """

    _gateway: ClassVar[str] = "gateway"
    _poll_interval: ClassVar[float] = 2.0
    """The first interval between status polls, in seconds."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        identity: str,
        secrets: Sequence[str],
        limiter: RateLimiter,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy | int,
        send_retry: RetryPolicy | int,
        default_retry: RetryPolicy,
        default_send_retry: RetryPolicy,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        journal: Any = None,
        query: str = "",
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConfigurationError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        if http_client is not None and (transport is not None or event_hooks is not None):
            raise ConfigurationError(
                "transport= and event_hooks= configure the client's own httpx client;"
                " set them on the http_client you pass instead"
            )
        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency < 1
        ):
            raise ConfigurationError(f"max_concurrency must be at least 1, got {max_concurrency!r}")
        self.base_url = base_url
        self._headers = dict(headers)
        self._identity = identity
        # Longest first, so a secret that contains another is blanked whole.
        variants = {s for secret in secrets if secret for s in _encoded_forms(secret)}
        self._secrets = tuple(sorted(variants, key=len, reverse=True))
        self._limiter = limiter
        self._borrowed = http_client
        self._transport = transport
        self._timeout = _check_timeout(timeout)
        self.retry = _check_policy(retry, default_retry, "retry")
        self.send_retry = _check_policy(send_retry, default_send_retry, "send_retry")
        self.max_concurrency = max_concurrency
        self._event_hooks = event_hooks
        self._query = query
        self.journal = journal
        """The send journal (``key=`` on sends), or ``None``: keys then live in memory."""
        self._memory_journal: Any = None
        self.stats = Stats()
        """Counters: requests, retries, rate-limit refusals, time waited for the limiter."""
        self._http: httpx.AsyncClient | None = http_client
        self._pipeline: Pipeline | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = ClientState.UNOPENED
        _telemetry.log_from_env()  # SMSCLUB_LOG, applied once per process

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
                headers=self._headers,
                limiter=self._limiter,
                stats=self.stats,
                clock=loop.time,
                scrub=self._scrub,
                query=self._query,
                attempt_timeout=_attempt_timeout(self._http.timeout),
                answer_timeout=self._http.timeout.read,
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
        """Close the client and, if it owns its httpx client, that too. Safe to call twice.

        Requests still in flight are stopped first: each call ends with
        :class:`ClientClosedError`, a bulk send's ``partial`` holding every issued id
        (recipients whose request may have left are ``unknown``), and no connection
        is left open behind the client.
        """
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        if self._pipeline is not None:
            await self._pipeline.abort()
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

    def _scrub(self, text: str) -> str:
        """``text`` with every credential of this client replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _scrub_bytes(self, body: bytes) -> bytes:
        for secret in self._secrets:
            body = body.replace(secret.encode("utf-8", "replace"), b"***")
        return body

    def _scrub_error(self, error: SmsClubError) -> None:
        """Remove the client's secrets from an error built from an answer, in place."""
        if self._secrets:
            error.message = self._scrub(error.message)
            error.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in error.args)
            if isinstance(error, DecodeError):
                error.body = self._scrub_bytes(error.body)

    def _decode_error(self, endpoint: str, body: bytes, problem: str) -> DecodeError:
        """A DecodeError whose text and body carry no secret."""
        return DecodeError(
            f"{endpoint}: unexpected answer from the gateway: {self._scrub(problem)}",
            endpoint=endpoint,
            body=self._scrub_bytes(body),
        )

    # ----------------------------------------------------------------- requests

    async def _call(
        self,
        endpoint: str,
        payload: bytes | None,
        decipher: Decipher,
        *,
        priority: Priority = "normal",
    ) -> bytes:
        """An idempotent request: the body of its accepted answer, or the error raised."""
        request = self._open().call(
            endpoint, payload, policy=self.retry, decipher=decipher, priority=priority
        )
        if _telemetry._active is None:
            return await request
        return await _telemetry.observe_call(self, endpoint, request, lane=priority)

    async def _reads(
        self,
        items: AsyncIterator[T],
        fetch: Callable[[T], Awaitable[U]],
    ) -> AsyncGenerator[U, None]:
        """``fetch`` each item (a bounded number at once); the first error ends it."""
        self._open()

        async def one(item: T) -> U | SmsClubError:
            try:
                return await fetch(item)
            except SmsClubError as exc:
                return exc

        parts = fan_out(items, one, limit=self.max_concurrency)
        async with aclosing(parts):
            async for part in parts:
                if isinstance(part, SmsClubError):
                    raise part
                yield part

    async def _report(
        self, items: AsyncIterator[T], fetch: Callable[[T], Awaitable[StatusReport]]
    ) -> StatusReport:
        """Merge the reports of every chunk; an error carries the rest as ``partial``."""
        if _telemetry._active is None:
            return await self._merged(items, fetch)
        return await _telemetry.observe_call(
            self, None, self._merged(items, fetch), operation="status"
        )

    async def _merged(
        self, items: AsyncIterator[T], fetch: Callable[[T], Awaitable[StatusReport]]
    ) -> StatusReport:
        report = StatusReport()
        try:
            async with aclosing(self._reads(items, fetch)) as parts:
                async for part in parts:
                    report.merge(part)
        except SmsClubError as exc:
            exc.partial = report
            raise
        return report

    # ----------------------------------------------------------------- bulk sends

    def _send_stream(
        self,
        chunks: AsyncGenerator[Chunk, None],
        plan: SendPlan,
        *,
        key: str | None,
        priority: Priority | None,
        deadline: float | timedelta | datetime | None,
        recipients: object,
        chunk_size: int,
    ) -> SendStream:
        """Send chunk after chunk, a bounded number in flight, one result per request.

        No chunk task ever raises (cancellation and our own errors become results),
        so the results of the others are never dropped. Requests already on the wire
        when something stops the send (an authentication error, ``aclose()``, the
        caller's own iterator raising) finish and are accounted for; chunks read but
        never sent are reported ``failed`` ("not sent"), and so is the rest of a
        finite input (a list, a dict) after an authentication error or ``aclose()``.
        """
        if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > 200):
            raise ValueError(
                f"key must be a non-empty string of at most 200 characters, got {key!r}"
            )
        finite = is_finite_input(recipients)
        # The default lane: a call that fits in one request (a one-time code) is urgent.
        small = isinstance(recipients, str) or (finite and len(recipients) <= chunk_size)  # type: ignore[arg-type]
        if priority is None:
            lane: Priority = "high" if small else "normal"
        else:
            lane = "high" if check_priority(priority) else "normal"
        run = _SendRun(self, plan, lane=lane, deadline=_deadline_seconds(deadline))
        # Reading a source that is not async never waits on the event loop.
        eager = not isinstance(recipients, AsyncIterable)
        results = run.results(chunks, key=key, finite=finite, eager=eager)
        if _telemetry._active is not None:
            results = _telemetry.observe_send(self, plan.endpoint, lane, results, run.unclaimed)
        return SendStream(results, run.unclaimed)

    async def _journaled(
        self,
        send_chunk: Callable[[Chunk], Awaitable[SendResult]],
        key: str,
        plan: SendPlan,
    ) -> JournaledSend:
        from .journal import MemoryJournal, journaled  # noqa: PLC0415 - only with key=

        journal = self.journal
        if journal is None:
            if self._memory_journal is None:
                self._memory_journal = MemoryJournal()
            journal = self._memory_journal
        fingerprint = hashlib.sha256(
            f"{self._gateway}|{self._identity}|{plan.endpoint}|{plan.fingerprint}".encode()
        ).hexdigest()
        await journal.begin(key, fingerprint)
        return journaled(send_chunk, journal=journal, key=key, distinct=plan.distinct)

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

    # ----------------------------------------------------------------- tracking

    def _canonical_id(self, raw: object) -> str:
        """A message reference as :meth:`status` names it in its report."""
        raise NotImplementedError

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
        gateway's own pace: 2 s for SMS Club) to ``max_interval``. Nothing to ask
        (no ids, e.g. when nothing was sent) is an empty report at once.

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
        ``break`` out of the loop, at any time. Ids are read as :meth:`status` reads
        them (``"100\\n"`` is ``"100"``).

        Example:
            >>> async def main(sms: SmsClub, ids: list[str]) -> None:
            ...     async for change in sms.track(ids):
            ...         print(change.message_id, change.status)
        """
        if isinstance(message_ids, str | int):
            message_ids = [message_ids]
        ids = [self._canonical_id(i) for i in message_ids]
        first = self._poll_interval if interval is None else interval
        return track_statuses(
            self.status,
            ids,
            interval=first,
            max_interval=max(max_interval, first),
            timeout=timeout,
            report=report if report is not None else StatusReport(),
        )


class _SendRun:
    """One bulk send in progress: its chunks' requests and what they achieved."""

    __slots__ = ("_client", "_deadline", "_lane", "_not_after", "_pipeline", "_plan", "unclaimed")

    def __init__(
        self, client: GatewayClient, plan: SendPlan, *, lane: Priority, deadline: float | None
    ) -> None:
        self._client = client
        self._plan = plan
        self._lane = lane
        self._deadline = deadline
        self._not_after: float | None = None
        self._pipeline: Pipeline | None = None
        self.unclaimed: list[SendResult] = []
        """Results that finished but were never yielded (after an early stop)."""

    def _empty(self, chunk: Chunk) -> SendResult:
        return self._plan.result_type(failed=dict(chunk.rejected))

    async def send_chunk(self, chunk: Chunk) -> SendResult:
        """One chunk's request and its accounting; never raises."""
        plan = self._plan
        if not chunk.phones:
            return self._empty(chunk)
        assert self._pipeline is not None
        progress = Progress()
        try:
            outcome = await self._pipeline.exchange(
                plan.endpoint,
                plan.build(chunk),
                policy=self._client.send_retry,
                is_send=True,
                decipher=plan.decipher,
                progress=progress,
                priority=self._lane,
                not_after=self._not_after,
            )
        except asyncio.CancelledError:
            error: SmsClubError | None = None
        except SmsClubError as exc:
            error = exc
        else:
            result = plan.account(chunk, outcome)
            if result.error is not None:
                self._client._scrub_error(result.error)
            return result
        return interrupted(
            self._empty(chunk),
            chunk,
            maybe_processed=progress.maybe_processed,
            error=error,
            hint=plan.hint(chunk),
        )

    async def results(
        self,
        chunks: AsyncGenerator[Chunk, None],
        *,
        key: str | None,
        finite: bool,
        eager: bool = False,
    ) -> AsyncGenerator[SendResult, None]:
        """The chunks' results as they finish; then the error that stopped the send."""
        source = _Guarded(chunks)
        fatal: SmsClubError | None = None
        journal: JournaledSend | None = None
        ahead: ClaimingAhead | None = None
        try:
            self._pipeline = self._client._open()
            if self._deadline is not None:
                self._not_after = asyncio.get_running_loop().time() + self._deadline
            worker: Callable[[Chunk], Awaitable[SendResult]] = self.send_chunk
            items: AsyncIterator[Chunk] = source
            if key is not None:
                worker = journal = await self._client._journaled(self.send_chunk, key, self._plan)
                if eager:  # reading never waits: claim a group of chunks in one write
                    items = ahead = journal.claim_ahead(source, window=self._client.max_concurrency)
            parts = fan_out(
                items,
                worker,
                limit=self._client.max_concurrency,
                stop_after=lambda r: isinstance(r.error, _FATAL),
                leftovers=self.unclaimed,
            )
            # aclosing: stopping this stream must stop the requests at once, not when
            # the event loop finalises the generator.
            async with aclosing(parts):
                async for result in parts:
                    if isinstance(result.error, _FATAL):
                        fatal = result.error
                    yield result
            if fatal is not None:
                # The rest was never attempted: say so, recipient by recipient (what was
                # read ahead always; the rest of an input already in memory too).
                why = f"the send stopped first ({fatal})"
                for chunk in ahead.leftover() if ahead is not None else ():
                    yield not_attempted(self._empty(chunk), chunk, why)
                if finite and source.error is None:
                    async for chunk in chunks:
                        yield not_attempted(self._empty(chunk), chunk, why)
        finally:
            if journal is not None:
                await journal.aclose()  # the queued outcomes written, the key freed
            # Closed whatever ended the send (a refused key, a closed client too).
            await chunks.aclose()
        if source.leftover is not None:
            why = "the recipients' source raised before this number's request was made"
            yield not_attempted(self._empty(source.leftover), source.leftover, why)
        if source.error is not None:
            failure = SourceError(
                f"reading the recipients failed after {source.read} chunk(s) were read:"
                f" {type(source.error).__name__}: {source.error}; the requests already"
                " made are accounted for in `partial`"
            )
            failure.__cause__ = source.error
            raise failure
        if fatal is not None:
            raise fatal


class _Guarded(AsyncIterator[Chunk]):
    """The chunk stream, with an exception of the caller's own source kept aside.

    A caller's generator that raises (or an item that cannot even be printed) must
    not cancel the requests in flight: the stream simply ends there, the running
    requests finish and are accounted for, the chunk being filled is reported as
    never sent, and then the error is raised. Before any chunk was read (so before
    any request) the caller's exception propagates as it is.
    """

    __slots__ = ("_chunks", "error", "leftover", "read")

    def __init__(self, chunks: AsyncGenerator[Chunk, None]) -> None:
        self._chunks = chunks
        self.error: BaseException | None = None
        self.leftover: Chunk | None = None
        self.read = 0

    async def __anext__(self) -> Chunk:
        if self.error is not None:
            raise StopAsyncIteration
        try:
            chunk = await anext(self._chunks)
        except SourceFailure as failure:
            cause = failure.__cause__ or failure
            if self.read == 0:
                raise cause from None
            self.error = cause
            self.leftover = failure.chunk
            raise StopAsyncIteration from None
        self.read += 1
        return chunk

    async def aclose(self) -> None:
        """Left open: the stream's owner closes the chunks (it may read the rest first)."""


def _deadline_seconds(deadline: object) -> float | None:
    """A send's deadline as seconds from now (refused before any request if odd)."""
    if deadline is None:
        return None
    if isinstance(deadline, timedelta):
        seconds = deadline.total_seconds()
    elif isinstance(deadline, datetime):
        if deadline.tzinfo is None:
            raise ValueError("deadline must be a timezone-aware datetime, e.g. datetime.now(UTC)")
        seconds = (deadline - datetime.now(deadline.tzinfo)).total_seconds()
    elif isinstance(deadline, int | float) and not isinstance(deadline, bool):
        seconds = float(deadline)
    else:
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError throughout the API
            f"deadline must be seconds, a timedelta or an aware datetime, got {deadline!r}"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"deadline must lie in the future, got {deadline!r}")
    return seconds


def _check_timeout(timeout: object) -> httpx.Timeout | float | None:
    if timeout is None or isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        if not math.isfinite(timeout) or timeout <= 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        return float(timeout)
    raise ConfigurationError(
        f"timeout must be seconds (a number), an httpx.Timeout or None, got {timeout!r}"
    )


def _check_policy(value: object, default: RetryPolicy, name: str) -> RetryPolicy:
    """A RetryPolicy; a whole number is read as the attempts of the default policy."""
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigurationError(f"{name}={value}: attempts must be at least 1")
        return dataclasses.replace(default, attempts=value)
    raise ConfigurationError(f"{name} must be a RetryPolicy or a number of attempts, got {value!r}")


def _attempt_timeout(timeout: httpx.Timeout) -> float | None:
    """The longest one attempt may take: its phases' timeouts added up (a floor of 1 s)."""
    phases = (timeout.connect, timeout.write, timeout.read, timeout.pool)
    if any(phase is None for phase in phases):
        return None
    return max(1.0, sum(phase for phase in phases if phase is not None))


def _encoded_forms(secret: str) -> tuple[str, ...]:
    """A secret as it may come back: verbatim or percent-encoded from our form body."""
    return (
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
    )


def is_finite_input(items: object) -> bool:
    """Whether a recipients argument is a collection already in memory (not a stream)."""
    return (
        isinstance(items, Collection)
        and not isinstance(items, str | bytes)
        and not isinstance(items, AsyncIterable)
    )
