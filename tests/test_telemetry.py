"""OpenTelemetry signals (``smsclub_async.telemetry``) and the ``SMSCLUB_LOG`` switch.

Every gateway runs on one engine, so each behaviour is checked on the three of them,
on their emulators in process, with the SDK's in-memory span exporter and metric
reader. The privacy checks scan every name, attribute, event and status text that
was exported.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from smsclub_async import RetryPolicy, SmsClub, telemetry
from smsclub_async.sandbox import Faults, Sandbox, SandboxTransport

from .examples._load import load_example
from .reliability.gateways import GATEWAYS, PASSWORD, Gateway

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Your secret code is 4711, Olena"
NO_WAIT = RetryPolicy(attempts=3, wait=False)


@dataclass
class Signals:
    """What the in-memory exporter and reader collected."""

    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.kind is SpanKind.INTERNAL]

    def attempts(self) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.kind is SpanKind.CLIENT]

    def points(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of a counter's points whose attributes include ``attributes``."""
        return sum(
            point.value
            for point in self.points().get(name, [])
            if all(point.attributes.get(k) == v for k, v in attributes.items())
        )

    def exported_text(self) -> str:
        """Every string a backend would receive: names, attributes, events, statuses."""
        parts: list[str] = []
        for span in self.finished():
            parts.append(span.name)
            parts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
            parts.append(span.status.description or "")
            for event in span.events:
                parts.append(event.name)
                parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        for name, points in self.points().items():
            parts.append(name)
            for point in points:
                parts.extend(f"{k}={v}" for k, v in point.attributes.items())
        return "\n".join(parts)


@pytest.fixture
def signals() -> Iterator[Signals]:
    """Telemetry on, into an in-memory exporter and reader; off again afterwards."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield Signals(exporter, reader)
    finally:
        telemetry.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


def account() -> str:
    """An account no other test uses, so the process-wide limiter starts empty."""
    return f"otel-{uuid.uuid4().hex}"


def secrets_of(gateway: Gateway, name: str, phones: list[str]) -> list[str]:
    """What must never be exported: the numbers, the text, the credentials."""
    return [*phones, TEXT, "secret code", name, PASSWORD]


def assert_private(signals: Signals, forbidden: list[str]) -> None:
    exported = signals.exported_text()
    assert exported, "nothing was exported"
    for secret in forbidden:
        assert secret not in exported, f"{secret!r} was exported"


# ----------------------------------------------------------------------- spans and metrics


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=repr)
async def test_a_send_and_a_read_make_their_spans_and_metrics(
    gateway: Gateway, signals: Signals
) -> None:
    """A send is one call span (counts by outcome) over its attempt spans; a status
    read is another; the metrics count requests and recipients by gateway."""
    name = account()
    refused = gateway.refused_number(99)
    emulator = gateway.emulator(blacklist=[refused])
    phones = [gateway.number(1), gateway.number(2), refused]
    async with gateway.client(name, emulator=emulator) as sms:
        result = await sms.send(phones, TEXT, sender=gateway.sender)
        await sms.status(result.sent)

    assert len(result.sent) == 2
    # SMS Club and SMSC refuse the number (failed); REX400 lists it unsent (unknown).
    assert len(result.failed) + len(result.unknown) == 1
    send, status = signals.calls()
    assert send.name == f"{gateway.name} send"
    assert status.name == f"{gateway.name} status"
    assert send.attributes is not None
    counts = {
        k: send.attributes[f"smsclub.{k}"] for k in ("recipients", "sent", "failed", "unknown")
    }
    assert counts == {
        "recipients": 3,
        "sent": 2,
        "failed": len(result.failed),
        "unknown": len(result.unknown),
    }
    assert send.attributes["smsclub.gateway"] == gateway.name
    assert send.attributes["smsclub.requests"] == 1
    assert send.attributes["smsclub.retries"] == 0
    assert send.attributes["smsclub.lane"] == "high"  # one request: a one-time-code send
    assert send.attributes["smsclub.limiter_wait"] >= 0
    assert status.attributes is not None
    assert status.attributes["smsclub.messages"] == 2
    assert status.attributes["smsclub.endpoint"] != send.attributes["smsclub.endpoint"]

    attempts = signals.attempts()
    assert len(attempts) == 2
    for attempt, parent in zip(attempts, (send, status), strict=True):
        assert attempt.parent is not None
        assert attempt.parent.span_id == parent.context.span_id
        assert attempt.context.trace_id == parent.context.trace_id
        assert attempt.attributes is not None
        assert attempt.name == f"POST {parent.attributes['smsclub.endpoint']}"  # type: ignore[index]
        assert attempt.attributes["http.request.method"] == "POST"
        assert attempt.attributes["http.response.status_code"] == 200
        assert attempt.attributes["smsclub.attempt"] == 1
        assert attempt.attributes["smsclub.outcome"] == "ok"
        assert attempt.attributes["smsclub.maybe_processed"] is False
        assert attempt.attributes["server.address"] == httpx.URL(sms.base_url).host
        assert "http.request.resend_count" not in attempt.attributes

    endpoint = send.attributes["smsclub.endpoint"]
    assert signals.total("smsclub.requests", **{"smsclub.gateway": gateway.name}) == 2
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "sent"}) == 2
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "failed"}) == len(
        result.failed
    )
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "unknown"}) == len(
        result.unknown
    )
    assert signals.total("smsclub.retries") == 0
    assert signals.total("smsclub.rate_limited") == 0
    assert signals.total("smsclub.limiter.queue") == 0  # nobody waits any more
    [waits] = [
        p
        for p in signals.points()["smsclub.limiter.wait"]
        if p.attributes["smsclub.lane"] == "high"
    ]
    assert waits.count == 1
    assert (
        signals.total("smsclub.requests", **{"smsclub.endpoint": endpoint, "smsclub.outcome": "ok"})
        == 1
    )
    assert_private(signals, secrets_of(gateway, name, phones))


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=repr)
async def test_retries_show_as_attempts_and_are_counted(gateway: Gateway, signals: Signals) -> None:
    """A status read answered 503, then 200: two attempt spans under one call span."""
    name = account()
    faults = Faults(status_codes=(503,), scope="all")
    emulator = gateway.emulator(faults=faults)
    phones = [gateway.number(3)]
    async with gateway.client(name, emulator=emulator, retry=NO_WAIT) as sms:
        result = await sms.send(phones, TEXT, sender=gateway.sender)
        faults.script(["error_before", None])
        report = await sms.status(result.sent)
    assert len(report) == 1

    _, call = signals.calls()
    first, second = signals.attempts()[1:]
    assert call.attributes is not None
    assert (call.attributes["smsclub.requests"], call.attributes["smsclub.retries"]) == (2, 1)
    assert call.status.status_code is StatusCode.UNSET  # it succeeded in the end
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["smsclub.attempt"] == 1
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["smsclub.outcome"] == "refused"
    assert first.attributes["error.type"] == "ServerError"
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["smsclub.attempt"] == 2
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["smsclub.outcome"] == "ok"
    assert {first.parent.span_id, second.parent.span_id} == {call.context.span_id}  # type: ignore[union-attr]
    assert signals.total("smsclub.retries", **{"smsclub.gateway": gateway.name}) == 1
    assert signals.total("smsclub.requests", **{"smsclub.outcome": "refused"}) == 1
    assert signals.total("smsclub.requests", **{"smsclub.outcome": "ok"}) == 2
    assert_private(signals, secrets_of(gateway, name, phones))


class FirstRefused(httpx.AsyncBaseTransport):
    """The emulator's transport, but the first request is answered 429."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.refused = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            self.refused = True
            return httpx.Response(429, headers={"Retry-After": "0"}, text="Too Many Requests")
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=repr)
async def test_a_429_is_counted_as_rate_limited(gateway: Gateway, signals: Signals) -> None:
    """A rate-limit refusal is counted by gateway and endpoint, and named on its attempt."""
    name = account()
    transport = FirstRefused(gateway.in_process(gateway.emulator()))
    async with gateway.client(name, transport=transport, send_retry=NO_WAIT) as sms:
        result = await sms.send([gateway.number(4)], TEXT, sender=gateway.sender)
    assert len(result.sent) == 1

    [call] = signals.calls()
    first, _ = signals.attempts()
    assert first.attributes is not None
    assert first.attributes["http.response.status_code"] == 429
    assert first.attributes["error.type"] == "RateLimitedError"
    endpoint = call.attributes["smsclub.endpoint"]  # type: ignore[index]
    where = {"smsclub.gateway": gateway.name, "smsclub.endpoint": endpoint}
    assert signals.total("smsclub.rate_limited", **where) == 1
    assert signals.total("smsclub.requests", **where) == 2


async def test_a_failed_call_carries_its_error_type_with_numbers_masked(
    signals: Signals, caplog: pytest.LogCaptureFixture
) -> None:
    """An error that quotes a number: the span's status, the attempt's status and the
    retry log line show it masked; the error type is named."""
    phone = "380989361131"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"no route while sending to {phone}")

    token = account()
    caplog.set_level(logging.INFO, logger="smsclub_async")
    async with SmsClub(
        token=token, transport=httpx.MockTransport(refuse), retry=NO_WAIT, send_retry=NO_WAIT
    ) as sms:
        with pytest.raises(Exception, match="ConnectError"):
            await sms.balance()

    [call] = signals.calls()
    assert call.name == "smsclub balance"
    assert call.attributes is not None
    assert call.attributes["error.type"] == "TransportError"
    assert call.status.status_code is StatusCode.ERROR
    assert "38098*****31" in (call.status.description or "")
    attempts = signals.attempts()
    assert len(attempts) == 3
    assert {a.attributes["smsclub.outcome"] for a in attempts} == {"transport_error"}  # type: ignore[index]
    assert signals.total("smsclub.requests", **{"smsclub.outcome": "transport_error"}) == 3
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all("38098*****31" in line for line in retries)
    assert_private(signals, [phone, token])
    assert all(phone not in r.getMessage() for r in caplog.records)


async def test_a_bulk_send_is_one_span_over_many_requests(signals: Signals) -> None:
    """250 recipients on SMS Club: one call span (normal lane), three attempt spans."""
    gateway = GATEWAYS["smsclub"]
    emulator = gateway.emulator()
    phones = [gateway.number(n) for n in range(250)]
    async with gateway.client(account(), emulator=emulator) as sms:
        async for _ in sms.send_iter(phones, TEXT, sender=gateway.sender):
            pass
    [call] = signals.calls()
    assert call.attributes is not None
    assert call.attributes["smsclub.lane"] == "normal"
    assert (call.attributes["smsclub.requests"], call.attributes["smsclub.sent"]) == (3, 250)
    assert len(signals.attempts()) == 3
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "sent"}) == 250


# ----------------------------------------------------------------------- off by default


class _SpyTracerProvider:
    """A tracer provider that fails the test if anything asks it for a span."""

    def __init__(self) -> None:
        self.spans_asked = 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        spy = self

        class Tracer:
            def start_span(self, *args: Any, **kwargs: Any) -> Any:
                spy.spans_asked += 1
                raise AssertionError("a span was started while telemetry is off")

        return Tracer()


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=repr)
async def test_off_means_no_spans_and_no_tracer_calls(gateway: Gateway) -> None:
    """After uninstrument() nothing reaches the tracer (it would raise)."""
    spy = _SpyTracerProvider()
    telemetry.instrument(tracer_provider=spy, meter_provider=MeterProvider())
    telemetry.uninstrument()
    assert not telemetry.is_instrumented()
    async with gateway.client(account(), emulator=gateway.emulator()) as sms:
        result = await sms.send([gateway.number(5)], TEXT, sender=gateway.sender)
        await sms.status(result.sent)
    assert spy.spans_asked == 0
    assert len(result.sent) == 1


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (warnings as errors) from the checkout."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMSCLUB_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
        check=False,
    )


SEND_ON_THE_SANDBOX = """
    import asyncio, sys
    from smsclub_async import SmsClub, telemetry
    from smsclub_async.sandbox import Sandbox, SandboxTransport

    async def main():
        async with SmsClub(token="t", transport=SandboxTransport(Sandbox())) as sms:
            result = await sms.send(["380989361131"], "Hi", sender="VashZakaz")
        assert list(result.sent.values()) == ["380989361131"], result
    asyncio.run(main())
"""


def test_not_instrumented_never_imports_opentelemetry() -> None:
    """Off costs nothing: a send does not even import the package."""
    done = run_python(
        SEND_ON_THE_SANDBOX
        + """
    assert not any(m.startswith("opentelemetry") for m in sys.modules), "imported"
    print("ok")
    """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_library_works_without_opentelemetry() -> None:
    """With opentelemetry unimportable the client works; instrument() says what to install."""
    done = run_python(
        """
    import sys
    sys.modules["opentelemetry"] = None  # as if it were not installed
    """
        + SEND_ON_THE_SANDBOX
        + """
    try:
        telemetry.instrument()
    except ImportError as exc:
        assert "smsclub-async[otel]" in str(exc), exc
        print("refused")
    assert not telemetry.is_instrumented()
    """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"


# ----------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("380989361131", "38098*****31"),
        ("+38 (098) 936-11-31", "38098*****31"),
        ("77011234567", "77011****67"),
        ("12345", "*****"),
    ],
)
def test_mask_phone_keeps_the_first_five_and_last_two_digits(text: str, masked: str) -> None:
    assert telemetry.mask_phone(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("380989361131: in the black list", "38098*****31: in the black list"),
        ("ids 100:+77011234567 and 101", "ids 100:77011****67 and 101"),
        ("HTTP 503 after 2 attempts", "HTTP 503 after 2 attempts"),
        ("already 38098*****31", "already 38098*****31"),
    ],
)
def test_mask_numbers_masks_phone_like_runs_only(text: str, masked: str) -> None:
    assert telemetry.mask_numbers(text) == masked


# ----------------------------------------------------------------------- SMSCLUB_LOG

LOGGING_STATE = """
    import logging
    root = logging.getLogger()
    ours = logging.getLogger("smsclub_async")
    print("root", root.level, len(root.handlers), "ours", ours.level, len(ours.handlers))
"""


def test_smsclub_log_debug_writes_attempts_to_stderr() -> None:
    """SMSCLUB_LOG=debug: one line per attempt on stderr, the root logger untouched."""
    done = run_python(SEND_ON_THE_SANDBOX + LOGGING_STATE, SMSCLUB_LOG="debug")
    assert done.returncode == 0, done.stderr
    assert "DEBUG smsclub_async: POST /sms/send -> HTTP 200" in done.stderr
    assert "380989361131" not in done.stderr
    assert done.stdout.split() == ["root", "30", "0", "ours", "10", "1"]


def test_smsclub_log_unset_or_off_configures_nothing() -> None:
    for value in (None, "off"):
        env = {} if value is None else {"SMSCLUB_LOG": value}
        done = run_python(SEND_ON_THE_SANDBOX + LOGGING_STATE, **env)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert done.stdout.split() == ["root", "30", "0", "ours", "0", "0"]


def test_smsclub_log_joins_logging_the_application_configured() -> None:
    """With the root logger configured, only the level is set: no second handler."""
    done = run_python(
        "import logging, sys\nlogging.basicConfig(stream=sys.stdout, format='%(message)s')\n"
        + textwrap.dedent(SEND_ON_THE_SANDBOX)
        + textwrap.dedent(LOGGING_STATE),
        SMSCLUB_LOG="info",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.split()[-6:] == ["root", "30", "1", "ours", "20", "0"]


def test_smsclub_log_with_a_typo_warns() -> None:
    done = run_python(SEND_ON_THE_SANDBOX, SMSCLUB_LOG="verbose")
    assert done.returncode != 0
    assert "RuntimeWarning" in done.stderr
    assert "SMSCLUB_LOG='verbose' is not a level" in done.stderr


# ----------------------------------------------------------------------- the recipe


async def test_the_opentelemetry_recipe_exports_to_the_console() -> None:
    """examples/otel_app.py (docs/recipes/opentelemetry.md): a send through the app
    prints its spans, and its metrics at shutdown; no number or text in them."""
    pytest.importorskip("fastapi")
    lifespan = pytest.importorskip("asgi_lifespan")
    otel_app = load_example("otel_app")
    sandbox = Sandbox()
    out = io.StringIO()
    app = otel_app.create_app(token=account(), transport=SandboxTransport(sandbox), out=out)
    phone = "380989361131"
    async with (
        lifespan.LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://app"
        ) as client,
    ):
        assert telemetry.is_instrumented()
        response = await client.post("/notifications", json={"phones": [phone], "message": TEXT})
        assert response.status_code == 200, response.text
        assert response.json() == {"sent": 1, "failed": 0}
    assert not telemetry.is_instrumented()

    printed = out.getvalue()
    decoder = json.JSONDecoder()
    documents, position = [], 0
    while position < len(printed):
        if printed[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(printed, position)
        documents.append(document)
    spans = {d["name"]: d for d in documents if "name" in d and "context" in d}
    assert set(spans) == {"smsclub send", "POST /sms/send"}
    assert spans["smsclub send"]["attributes"]["smsclub.sent"] == 1
    assert spans["POST /sms/send"]["parent_id"] == spans["smsclub send"]["context"]["span_id"]
    [metrics] = [d for d in documents if "resource_metrics" in d]
    names = {
        metric["name"]
        for resource in metrics["resource_metrics"]
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert {"smsclub.requests", "smsclub.recipients", "smsclub.limiter.wait"} <= names
    assert phone not in printed
    assert TEXT not in printed
    assert [m.phone for m in sandbox.messages()] == [phone]


class _Permit:
    def sent(self) -> None:
        pass

    def done(self) -> None:
        pass


class GateLimiter:
    """A limiter that admits nobody until the test opens it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.asked = asyncio.Event()

    async def acquire(self) -> _Permit:
        self.asked.set()
        await self.open.wait()
        return _Permit()


async def test_requests_waiting_for_a_slot_show_in_the_queue_depth(signals: Signals) -> None:
    """While the limiter holds a request, the queue gauge reads 1; then 0 again."""
    limiter = GateLimiter()
    async with SmsClub(
        token=account(), transport=SandboxTransport(Sandbox()), limiter=limiter
    ) as sms:
        balance = asyncio.create_task(sms.balance())
        await limiter.asked.wait()
        where = {"smsclub.gateway": "smsclub", "smsclub.lane": "normal"}
        assert signals.total("smsclub.limiter.queue", **where) == 1
        assert signals.calls() == []  # the call is still running
        limiter.open.set()
        await balance
    assert signals.total("smsclub.limiter.queue", **where) == 0
    [wait] = signals.points()["smsclub.limiter.wait"]
    assert wait.count == 1
    [call] = signals.calls()
    [attempt] = signals.attempts()
    assert call.attributes is not None
    assert attempt.attributes is not None
    assert call.attributes["smsclub.limiter_wait"] == attempt.attributes["smsclub.limiter_wait"]
    assert call.attributes["smsclub.limiter_wait"] == pytest.approx(wait.sum)


class HeldTransport(httpx.AsyncBaseTransport):
    """Holds every request until cancelled."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.arrived.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_cancelled_send_ends_its_spans_cleanly(
    signals: Signals, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelling a send mid-request ends the call and attempt spans (error.type
    CancelledError), with the recipient unknown, and no context error is logged."""
    transport = HeldTransport()
    async with SmsClub(token=account(), transport=transport) as sms:
        send = asyncio.create_task(sms.send(["380989361131"], TEXT, sender="VashZakaz"))
        await transport.arrived.wait()
        send.cancel()
        with pytest.raises(asyncio.CancelledError) as raised:
            await send
    partial = raised.value.partial  # type: ignore[attr-defined]
    assert list(partial.unknown) == ["380989361131"]
    [call] = signals.calls()
    [attempt] = signals.attempts()
    assert call.attributes is not None
    assert attempt.attributes is not None
    assert call.attributes["error.type"] == "CancelledError"
    assert call.attributes["smsclub.unknown"] == 1
    assert attempt.attributes["error.type"] == "CancelledError"
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "unknown"}) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_send_stream_closed_early_ends_its_span_with_what_it_did(
    signals: Signals,
) -> None:
    """Breaking out of send_iter ends the call span; results that finished but were
    never yielded still count (they are what the send did)."""
    gateway = GATEWAYS["smsclub"]
    emulator = gateway.emulator()
    phones = [gateway.number(n) for n in range(300)]
    name = account()
    async with gateway.client(name, emulator=emulator) as sms:
        stream = sms.send_iter(phones, TEXT, sender=gateway.sender)
        async with stream:
            async for _ in stream:
                break
        unclaimed = sum(len(part.sent) for part in stream.unclaimed)
    [call] = signals.calls()
    assert call.attributes is not None
    assert call.attributes["smsclub.sent"] == 100 + unclaimed
    assert call.attributes["smsclub.sent"] == len(emulator.messages(name))
    assert signals.total("smsclub.recipients", **{"smsclub.outcome": "sent"}) == 100 + unclaimed


@pytest.mark.parametrize("gateway", list(GATEWAYS.values()), ids=repr)
async def test_a_stream_made_while_on_and_run_after_uninstrument_makes_no_span(
    gateway: Gateway, signals: Signals
) -> None:
    """The switch is read when the send starts: no half-made span, the send works."""
    name = account()
    async with gateway.client(name, emulator=gateway.emulator()) as sms:
        stream = sms.send_iter([gateway.number(6)], TEXT, sender=gateway.sender)
        telemetry.uninstrument()
        async with stream:
            parts = [part async for part in stream]
    assert sum(len(part.sent) for part in parts) == 1
    assert signals.finished() == []
