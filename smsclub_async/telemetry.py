"""OpenTelemetry spans and metrics for every client, and the ``SMSCLUB_LOG`` switch.

Off by default. :func:`instrument` turns it on for every client of the process
(:class:`~smsclub_async.SmsClub`, :class:`~smsclub_async.gateways.SmscClient`,
:class:`~smsclub_async.gateways.SmsteleClient`: they share one engine), with the
application's tracer and meter providers or the global ones; :func:`uninstrument`
turns it off again. It needs ``opentelemetry-api`` (``pip install
'smsclub-async[otel]'``); the application brings the SDK and its exporters. Without
the package the library imports and works as before; only :func:`instrument` refuses.

**Cost when off**: the engine tests one module attribute per call, per HTTP attempt
and per limiter wait (about 50 ns per request, next to about a millisecond of client
CPU); nothing is imported, created or allocated.

**Spans**: one ``INTERNAL`` span per call (``smsclub send``, ``smsc status``,
``smstele balance``: the gateway, then the operation), parent of one ``CLIENT`` span
per HTTP attempt (``POST /sms/send``). A bulk send is one call however many requests
it makes; so is a ``status`` of 10,000 ids. Attributes:

=============================== ======= ============================================
attribute                       on      meaning
=============================== ======= ============================================
``smsclub.gateway``             both    ``smsclub``, ``smsc`` or ``smstele``
``smsclub.endpoint``            both    the path, e.g. ``/sms/send``
``smsclub.lane``                both    the limiter lane: ``high`` or ``normal``
``smsclub.recipients``          call    sends: recipients accounted for
``smsclub.sent`` / ``.failed``  call    sends: recipients in each outcome
``smsclub.unknown``             call    sends: recipients that may have gone out
``smsclub.messages``            call    status: ids asked about
``smsclub.requests``            call    HTTP attempts that left
``smsclub.retries``             call    attempts that were retries
``smsclub.limiter_wait``        both    seconds waited for the rate limiter
``error.type``                  both    the error's class (``RateLimitedError``, ...)
``http.request.method``         attempt ``POST``
``server.address``/``.port``    attempt the gateway's host and port
``url.full``                    attempt base URL and path (never a query string)
``http.response.status_code``   attempt when an answer came
``smsclub.attempt``             attempt 1 for the first attempt of a request
``http.request.resend_count``   attempt retries only: 1 for the first retry
``smsclub.outcome``             attempt ``ok``, ``refused`` (an answer that says no),
                                        ``transport_error`` (no answer) or
                                        ``not_sent`` (a deadline passed first)
``smsclub.maybe_processed``     attempt the gateway may have acted on it
``smsclub.retry_after``         attempt the seconds a refusal asked us to wait
=============================== ======= ============================================

**Metrics** (meter ``smsclub_async``):

================================ ============= =====================================
instrument                       kind          attributes
================================ ============= =====================================
``smsclub.requests``             counter       gateway, endpoint, outcome
``smsclub.rate_limited``         counter       gateway, endpoint (429s, and a
                                               gateway's own "too many" codes)
``smsclub.retries``              counter       gateway, endpoint
``smsclub.limiter.wait``         histogram (s) gateway, lane
``smsclub.limiter.queue``        observable    gateway, lane: requests waiting for
                                 up-down       a limiter slot (read when the
                                 counter       metrics are collected)
``smsclub.recipients``           counter       gateway, endpoint, ``smsclub.outcome``
                                               (``sent``, ``failed``, ``unknown``)
``http.client.request.duration`` histogram (s) method, server, status code, error
================================ ============= =====================================

**Privacy**: no phone number, message text, token or password is ever an attribute,
an event or a span name. Span status descriptions are the library's own error
texts (already free of credentials) with every phone-like number masked by
:func:`mask_numbers` (``38098*****31``). The same masking guards the library's log
lines.

**Logging**: ``SMSCLUB_LOG=debug`` (or ``info``, ``warning``, ``error``) in the
environment sets the level of the ``smsclub_async`` logger when the first client is
made, and, if the application has configured no logging at all (the root logger has
no handler), gives it a handler that writes to stderr. The root logger is never
touched. DEBUG shows one line per HTTP attempt, INFO one per retry.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import sys
import time
import urllib.parse
import warnings
from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import RateLimitedError, SmsClubError
from ._version import __version__

if TYPE_CHECKING:
    from ._pipeline import Pipeline, Progress, _Attempt

__all__ = [
    "LOG_ENV",
    "instrument",
    "is_instrumented",
    "mask_numbers",
    "mask_phone",
    "uninstrument",
]

T = TypeVar("T")

LOG_ENV = "SMSCLUB_LOG"
"""The environment variable of the debug-logging switch."""

_NAME = "smsclub_async"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_OFF = frozenset({"", "0", "off", "false", "no", "none"})
# Seconds: a limiter wait is 0 most of the time, up to a window (1 s) when busy.
_WAIT_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_PHONE_LIKE = re.compile(r"(?<![\d*])\+?\d{9,15}(?![\d*])")

_active: _Telemetry | None = None
"""The switch the engine reads: ``None`` when off (the default)."""

_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar(
    "smsclub_async_call", default=None
)
_ATTEMPT: contextvars.ContextVar[_AttemptRecord | None] = contextvars.ContextVar(
    "smsclub_async_attempt", default=None
)
_logging_checked = False


# ----------------------------------------------------------------------- public


def instrument(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Turn spans and metrics on for every client of this process.

    Calling it again replaces the providers. Calls already running keep the spans
    they started.

    Args:
        tracer_provider: an OpenTelemetry ``TracerProvider``; the global one by default.
        meter_provider: an OpenTelemetry ``MeterProvider``; the global one by default.

    Raises:
        ImportError: ``opentelemetry-api`` is not installed (the ``[otel]`` extra).

    Example:
        >>> from smsclub_async import telemetry
        >>> telemetry.instrument()  # the global providers your application set up
        >>> telemetry.is_instrumented()
        True
        >>> telemetry.uninstrument()
    """
    global _active  # noqa: PLW0603 - the one process-wide switch
    try:
        telemetry = _Telemetry(tracer_provider, meter_provider)
    except ImportError as exc:
        raise ImportError(
            "smsclub_async.telemetry needs opentelemetry-api: pip install 'smsclub-async[otel]'"
        ) from exc
    _active = telemetry


def uninstrument() -> None:
    """Turn spans and metrics off again (the default). Safe to call when off."""
    global _active  # noqa: PLW0603 - the one process-wide switch
    _active = None


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return _active is not None


def mask_phone(phone: str) -> str:
    """A phone number fit for logs and traces: the first 5 and last 2 digits.

    Example:
        >>> mask_phone("380989361131")
        '38098*****31'
        >>> mask_phone("+38 (098) 936-11-31")
        '38098*****31'
    """
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 9:
        return "*" * len(digits)
    return digits[:5] + "*" * (len(digits) - 7) + digits[-2:]


def mask_numbers(text: str) -> str:
    """``text`` with every phone-like number (9 to 15 digits) masked by :func:`mask_phone`.

    Example:
        >>> mask_numbers("380989361131: This number is in the black list")
        '38098*****31: This number is in the black list'
    """
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group()), text)


# ----------------------------------------------------------------------- logging


def log_from_env() -> None:
    """Apply ``SMSCLUB_LOG`` once per process (the engine calls it for each new client)."""
    global _logging_checked  # noqa: PLW0603 - once per process
    if _logging_checked:
        return
    _logging_checked = True
    value = os.environ.get(LOG_ENV, "").strip().lower()
    if value in _OFF:
        return
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{LOG_ENV}={value!r} is not a level; use debug, info, warning or error",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    logger = logging.getLogger(_NAME)
    logger.setLevel(level)
    if logging.getLogger().handlers:
        return  # the application configured logging: its handlers get our lines
    if not any(getattr(h, "_smsclub_env", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._smsclub_env = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


# ----------------------------------------------------------------------- the engine's hooks


class _Telemetry:
    """The tracer and the instruments, made once by :func:`instrument`."""

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from opentelemetry import context, metrics, trace  # noqa: PLC0415 - optional extra
        from opentelemetry.metrics import Observation  # noqa: PLC0415
        from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: PLC0415

        self.context = context
        self.trace = trace
        self.client_kind = SpanKind.CLIENT
        self.internal_kind = SpanKind.INTERNAL
        self._status = Status
        self._error_code = StatusCode.ERROR
        self.tracer = trace.get_tracer(_NAME, __version__, tracer_provider)
        meter = metrics.get_meter(_NAME, __version__, meter_provider)
        self.requests = meter.create_counter(
            "smsclub.requests", unit="{request}", description="HTTP attempts that left"
        )
        self.rate_limited = meter.create_counter(
            "smsclub.rate_limited", unit="{request}", description="rate-limit refusals received"
        )
        self.retries = meter.create_counter(
            "smsclub.retries", unit="{retry}", description="attempts that were retries"
        )
        self.recipients = meter.create_counter(
            "smsclub.recipients", unit="{recipient}", description="send outcomes by recipient"
        )
        # Read when the metrics are collected: no instrument call per request.
        self._waiting: dict[tuple[str, str], int] = {}
        self._observation = Observation
        meter.create_observable_up_down_counter(
            "smsclub.limiter.queue",
            callbacks=[self._observe_queue],
            unit="{request}",
            description="requests waiting for a rate-limiter slot",
        )
        self.wait = _histogram(
            meter, "smsclub.limiter.wait", "time waited for a rate-limiter slot", _WAIT_BUCKETS
        )
        self.duration = _histogram(
            meter,
            "http.client.request.duration",
            "duration of HTTP attempts, limiter wait excluded",
            _DURATION_BUCKETS,
        )
        self._servers: dict[str, tuple[str, int]] = {}

    def error_status(self, description: str) -> Any:
        return self._status(self._error_code, description)

    def server(self, base_url: str) -> tuple[str, int]:
        found = self._servers.get(base_url)
        if found is None:
            parts = urllib.parse.urlsplit(base_url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            found = self._servers[base_url] = (parts.hostname or "", port)
        return found

    # -- the limiter (Pipeline._slot)

    def queued(self, change: int, lane: str) -> None:
        key = (_gateway_now(), lane)
        self._waiting[key] = self._waiting.get(key, 0) + change

    def _observe_queue(self, options: Any) -> list[Any]:
        # Called from the metric reader's thread: copy first (one C-level step).
        waiting = list(self._waiting.items())
        return [
            self._observation(number, {"smsclub.gateway": gateway, "smsclub.lane": lane})
            for (gateway, lane), number in waiting
        ]

    def waited(self, seconds: float, lane: str) -> None:
        self.wait.record(seconds, {"smsclub.gateway": _gateway_now(), "smsclub.lane": lane})
        call = _CALL.get()
        if call is not None:
            call.waited += seconds
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.waited += seconds

    # -- retries (Pipeline._exchange)

    def retried(self, endpoint: str) -> None:
        call = _CALL.get()
        if call is not None:
            call.retries += 1
        self.retries.add(1, {"smsclub.gateway": _gateway_now(), "smsclub.endpoint": endpoint})

    # -- recipients (sends)

    def count(self, call: _Call, result: Any) -> None:
        sent, failed, unknown = len(result.sent), len(result.failed), len(result.unknown)
        call.sent += sent
        call.failed += failed
        call.unknown += unknown
        if call.error is None and result.error is not None:
            call.error = result.error
        for outcome, number in (("sent", sent), ("failed", failed), ("unknown", unknown)):
            if number:
                self.recipients.add(
                    number,
                    {
                        "smsclub.gateway": call.gateway,
                        "smsclub.endpoint": call.endpoint or "",
                        "smsclub.outcome": outcome,
                    },
                )


class _Call:
    """One call of the public API in progress, and its span."""

    __slots__ = (
        "endpoint",
        "error",
        "failed",
        "gateway",
        "is_send",
        "messages",
        "requests",
        "retries",
        "sent",
        "span",
        "telemetry",
        "unknown",
        "waited",
    )

    def __init__(  # noqa: PLR0917
        self,
        telemetry: _Telemetry,
        gateway: str,
        operation: str,
        endpoint: str | None,
        lane: str,
        is_send: bool,
    ) -> None:
        self.telemetry = telemetry
        self.gateway = gateway
        self.endpoint = endpoint
        self.is_send = is_send
        self.sent = self.failed = self.unknown = self.requests = self.retries = 0
        self.messages: int | None = None
        self.waited = 0.0
        self.error: BaseException | None = None
        attributes = {"smsclub.gateway": gateway, "smsclub.lane": lane}
        if endpoint is not None:
            attributes["smsclub.endpoint"] = endpoint
        self.span = telemetry.tracer.start_span(
            f"{gateway} {operation}", kind=telemetry.internal_kind, attributes=attributes
        )

    def learn_endpoint(self, endpoint: str) -> None:
        if self.endpoint is None:
            self.endpoint = endpoint
            self.span.set_attribute("smsclub.endpoint", endpoint)

    def end(self) -> None:
        span = self.span
        if span.is_recording():
            attributes: dict[str, Any] = {
                "smsclub.requests": self.requests,
                "smsclub.retries": self.retries,
                "smsclub.limiter_wait": self.waited,
            }
            if self.is_send:
                attributes["smsclub.recipients"] = self.sent + self.failed + self.unknown
                attributes["smsclub.sent"] = self.sent
                attributes["smsclub.failed"] = self.failed
                attributes["smsclub.unknown"] = self.unknown
            if self.messages is not None:
                attributes["smsclub.messages"] = self.messages
            span.set_attributes(attributes)
            if self.error is not None:
                span.set_attribute("error.type", type(self.error).__name__)
                span.set_status(self.telemetry.error_status(_describe(self.error)))
        span.end()


class _AttemptRecord:
    __slots__ = ("waited",)

    def __init__(self) -> None:
        self.waited = 0.0


async def observe_call(
    client: Any,
    endpoint: str | None,
    request: Awaitable[T],
    *,
    operation: str | None = None,
    lane: str = "normal",
) -> T:
    """Await one call of the public API (``request``) inside its span.

    A request made on behalf of a call already observed (each chunk of a
    ``status``) belongs to that call: it only names the call's endpoint.
    """
    telemetry = _active
    current = _CALL.get()
    if telemetry is None or current is not None:
        if current is not None and endpoint is not None:
            current.learn_endpoint(endpoint)
        return await request
    call = _Call(
        telemetry,
        _gateway_of(client),
        operation or _operation(endpoint or ""),
        endpoint,
        lane,
        is_send=False,
    )
    token = _CALL.set(call)
    try:
        result = await request
    except BaseException as exc:
        call.error = exc
        raise
    else:
        # A status report: every id asked about is reported or missing.
        missing = getattr(result, "missing", None)
        if isinstance(result, dict) and isinstance(missing, list):
            call.messages = len(result) + len(missing)
        return result
    finally:
        _CALL.reset(token)
        call.end()


async def observe_send(
    client: Any,
    endpoint: str,
    lane: str,
    results: AsyncGenerator[Any, None],
    unclaimed: list[Any],
) -> AsyncGenerator[Any, None]:
    """A bulk send's results, inside its span; the requests of its chunks are its children.

    The call is made current around each step of the inner stream (never across a
    ``yield``, so the caller's own code between results is not part of it).
    """
    telemetry = _active
    if telemetry is None:  # turned off between the call and its first step
        async with contextlib.aclosing(results):
            async for result in results:
                yield result
        return
    call = _Call(telemetry, _gateway_of(client), "send", endpoint, lane, is_send=True)
    try:
        while True:
            token = _CALL.set(call)
            try:
                result = await anext(results)
            except StopAsyncIteration:
                break
            finally:
                _CALL.reset(token)
            telemetry.count(call, result)
            yield result
    except GeneratorExit:
        raise
    except BaseException as exc:
        call.error = exc
        raise
    finally:
        token = _CALL.set(call)
        try:
            await results.aclose()
        finally:
            _CALL.reset(token)
            for result in unclaimed:  # finished, never yielded: still what the send did
                telemetry.count(call, result)
            call.end()


async def observe_attempt(
    pipeline: Pipeline,
    endpoint: str,
    lane: str,
    progress: Progress,
    attempt: Awaitable[_Attempt],
) -> _Attempt:
    """One HTTP attempt (limiter wait included) inside its span, counted in the metrics."""
    telemetry = _active
    if telemetry is None:
        return await attempt
    call = _CALL.get()
    gateway = call.gateway if call is not None else "unknown"
    number = progress.attempts
    host, port = telemetry.server(pipeline.base_url)
    attributes: dict[str, Any] = {
        "http.request.method": "POST",
        "server.address": host,
        "server.port": port,
        "url.full": pipeline.base_url + endpoint,
        "smsclub.gateway": gateway,
        "smsclub.endpoint": endpoint,
        "smsclub.lane": lane,
        "smsclub.attempt": number,
    }
    if number > 1:
        attributes["http.request.resend_count"] = number - 1
    trace = telemetry.trace
    parent = trace.set_span_in_context(call.span) if call is not None else None
    span = telemetry.tracer.start_span(
        f"POST {endpoint}", context=parent, kind=telemetry.client_kind, attributes=attributes
    )
    record = _AttemptRecord()
    record_token = _ATTEMPT.set(record)
    # Current while it runs: an httpx instrumentation's spans nest under it.
    context_token = telemetry.context.attach(trace.set_span_in_context(span))
    began = time.perf_counter()
    try:
        result = await attempt
    except BaseException as exc:
        span.set_attributes(
            {"error.type": type(exc).__name__, "smsclub.limiter_wait": record.waited}
        )
        span.set_status(telemetry.error_status(_describe(exc)))
        raise
    else:
        where = (endpoint, host, port)
        _attempt_ended(telemetry, span, call, result, where, record.waited, began)
        return result
    finally:
        telemetry.context.detach(context_token)
        _ATTEMPT.reset(record_token)
        span.end()


def _attempt_ended(  # noqa: PLR0917
    telemetry: _Telemetry,
    span: Any,
    call: _Call | None,
    result: _Attempt,
    where: tuple[str, str, int],
    waited: float,
    began: float,
) -> None:
    endpoint, host, port = where
    status = result.status_code
    error = result.error
    if result.kind.value == "ok":
        outcome = "ok"
    elif result.refusal is not None:
        outcome = "refused"
    elif error is not None:
        outcome = "transport_error"
    else:
        outcome = "not_sent"
    attributes: dict[str, Any] = {
        "smsclub.outcome": outcome,
        "smsclub.maybe_processed": bool(result.processed_maybe),
        "smsclub.limiter_wait": waited,
    }
    if status is not None:
        attributes["http.response.status_code"] = status
    if result.refusal is not None and result.refusal.retry_after is not None:
        attributes["smsclub.retry_after"] = float(result.refusal.retry_after)
    if error is not None:
        attributes["error.type"] = type(error).__name__
        span.set_status(telemetry.error_status(_describe(error)))
    span.set_attributes(attributes)
    if outcome == "not_sent":
        return
    gateway = call.gateway if call is not None else "unknown"
    if call is not None:
        call.requests += 1
    labels = {"smsclub.gateway": gateway, "smsclub.endpoint": endpoint}
    telemetry.requests.add(1, {**labels, "smsclub.outcome": outcome})
    if isinstance(error, RateLimitedError):
        telemetry.rate_limited.add(1, labels)
    duration: dict[str, Any] = {
        "http.request.method": "POST",
        "server.address": host,
        "server.port": port,
    }
    if status is not None:
        duration["http.response.status_code"] = status
    if error is not None:
        duration["error.type"] = type(error).__name__
    telemetry.duration.record(max(0.0, time.perf_counter() - began - waited), duration)


# ----------------------------------------------------------------------- helpers


def _histogram(meter: Any, name: str, description: str, buckets: tuple[float, ...]) -> Any:
    try:
        return meter.create_histogram(
            name, unit="s", description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # an API older than the bucket advice
        return meter.create_histogram(name, unit="s", description=description)


def _gateway_of(client: Any) -> str:
    name: str = getattr(type(client), "_gateway", "gateway")
    return name.replace(" ", "").lower()


def _gateway_now() -> str:
    call = _CALL.get()
    return call.gateway if call is not None else "unknown"


def _operation(endpoint: str) -> str:
    """``/sms/balance`` -> ``balance``; ``/sys/senders.php`` -> ``senders``."""
    last = endpoint.rstrip("/").rpartition("/")[2]
    return last.partition(".")[0] or endpoint


def _describe(error: BaseException) -> str:
    """A status description: the library's own text (no secrets), numbers masked."""
    if isinstance(error, SmsClubError):
        return mask_numbers(str(error))[:300]
    return type(error).__name__
