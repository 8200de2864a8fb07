"""Cancelling a bulk send, anywhere: every issued id is kept, nothing is left running.

``send()`` re-raises ``asyncio.CancelledError`` with ``.partial``; ``send_iter()`` keeps
what finished but was not yielded in ``stream.unclaimed``. After either, no task of the
library runs and no connection stays open (ResourceWarning is an error in this suite;
over loopback the server must also see every connection closed).

Points of cancellation are seeded: random moments on a patched clock (in process,
deterministic), and chosen httpcore trace events over a real socket. The tests that
drive an emulator run for the three gateways (SMS Club, SMSC.kz, SMStele).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from smsclub_async import RetryPolicy, SendResult, SmsClub, SmsClubError
from smsclub_async.errors import SourceError
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, serve

from ..conftest import run_on_fake_clock
from .campaign import check_invariants, make_recipients
from .gateways import GATEWAY_NAMES, GATEWAYS, Gateway

SENDER = "VashZakaz"
SEND_RETRY = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2)


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", type(coro).__name__)


def library_tasks(*, finalizers: bool = True) -> list[str]:
    """Tasks still there besides the current one and the sandbox server's own.

    Args:
        finalizers: include the event loop's tasks that close abandoned async
            generators (``async_generator_athrow``): they run no request, but their
            presence means a generator of the library was not closed when it should
            have been (see test_a_cancelled_send_closes_its_generators).
    """
    me = asyncio.current_task()
    names = [_task_name(task) for task in asyncio.all_tasks() if task is not me]
    # The loopback server reads an idle keep-alive connection under asyncio.wait_for,
    # a task of its own (StreamReader.read): the library uses no asyncio streams.
    return [
        name
        for name in names
        if "SandboxServer" not in name
        and not name.startswith("StreamReader.")
        and (finalizers or name != "async_generator_athrow")
    ]


async def server_connections_closed(deadline: float = 2.0) -> bool:
    """Wait until the loopback server has no open connection (its tasks end on EOF)."""
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while loop.time() < end:
        names = [_task_name(t) for t in asyncio.all_tasks() if t is not me]
        if not any("_serve_connection" in name for name in names):
            return True
        await asyncio.sleep(0.01)
    return False


def faulty_sandbox(
    seed: int, clock: Callable[[], float] | None = None, gateway: Gateway | None = None
) -> Any:
    """A sandbox (or ``gateway``'s emulator) whose send answers are slow and sometimes lost."""
    faults = Faults(
        seed=seed,
        error_before=0.05,
        error_after=0.05,
        drop_before=0.05,
        drop_after=0.05,
        latency=(0.01, 0.2),
    )
    if gateway is not None and gateway.name != "smsclub":
        return gateway.emulator(faults=faults, clock=clock)
    config = SandboxConfig(rate_limit=None, balance=Decimal(10**6))
    if clock is None:
        return Sandbox(config, faults=faults)
    return Sandbox(config, faults=faults, clock=clock)


async def cancel_send_after(
    sms: Any, phones: list[str], delay: float, sender: str = SENDER, *, may_fail: bool = False
) -> SendResult | None:
    """Run send() in a task, cancel it after ``delay`` s; its result or the partial.

    ``may_fail``: the send may end with the library's error (and ``partial``) before
    the cancellation: SMSC and SMStele raise when a chunk failed for good, and
    REX400's client, which never retries a send that may have left, meets that within
    the faulty emulator's first requests.
    """
    caught: dict[str, Any] = {}

    async def send() -> SendResult:
        try:
            result: SendResult = await sms.send(phones, "cancel me", sender=sender)
            return result
        except asyncio.CancelledError as exc:
            caught["partial"] = getattr(exc, "partial", None)
            raise

    task = asyncio.create_task(send())
    await asyncio.sleep(delay)
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        partial = caught.get("partial")
        assert isinstance(partial, SendResult), "CancelledError without .partial"
        return partial
    except SmsClubError as exc:
        if not may_fail:
            raise
        return exc.partial  # type: ignore[no-any-return]


# ----------------------------------------------------------------- in process, patched clock


# SMS Club at 24 seeds (as before the other gateways came), SMSC and SMStele at 8.
RANDOM_MOMENTS = [
    pytest.param(name, seed, id=f"{name}-{seed}")
    for name in GATEWAY_NAMES
    for seed in range(24 if name == "smsclub" else 8)
]


@pytest.mark.parametrize(("name", "seed"), RANDOM_MOMENTS)
def test_cancel_at_a_random_moment_keeps_every_issued_id(name: str, seed: int) -> None:
    """Cancel at a seeded random moment of a 1,000-recipient send: the partial accounts
    for every delivery (sent with its id, or unknown), never calls a delivered phone
    failed, and no task is left running."""
    gateway = GATEWAYS[name]
    rng = random.Random(seed)
    people = make_recipients(1000, seed, gateway)
    token = f"cancel-{seed}-{uuid.uuid4().hex}"

    async def scenario() -> None:
        sandbox = faulty_sandbox(seed, clock=asyncio.get_running_loop().time, gateway=gateway)
        async with gateway.client(
            token,
            emulator=sandbox,
            send_retry=SEND_RETRY,
            max_concurrency=rng.choice([1, 3, 10]),
        ) as sms:
            result = await cancel_send_after(
                sms, people.raw, rng.uniform(0.0, 1.2), gateway.sender, may_fail=name != "smsclub"
            )
            assert result is not None
            assert library_tasks(finalizers=False) == []
        assert check_invariants(people.expected, result, sandbox, token, complete=False) == []

    run_on_fake_clock(scenario())


# Regression test (fixed in 9c444ec). Was a bug: after a cancelled send() the library's own
# async generators are left for the event loop's finalizer (a task closing _phones.aiter_any
# runs after send() has raised): chunk_phones/chunk_messages/_id_chunks iterate aiter_any(...)
# and _client iterates fan_out(...) without contextlib.aclosing
@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_cancelled_send_closes_its_generators(token: str, name: str) -> None:
    """When send() has raised CancelledError, no task at all is left, not even one
    the event loop started to close an abandoned generator of the library."""
    gateway = GATEWAYS[name]

    async def scenario() -> None:
        sandbox = faulty_sandbox(9, clock=asyncio.get_running_loop().time, gateway=gateway)
        async with gateway.client(token, emulator=sandbox, max_concurrency=1) as sms:
            phones = make_recipients(1000, 9, gateway).raw
            await cancel_send_after(sms, phones, 0.3, gateway.sender, may_fail=name != "smsclub")
            assert library_tasks() == []

    run_on_fake_clock(scenario())


async def _cancelled_twice(
    sms: Any, phones: list[str], how: str, sender: str = SENDER
) -> SendResult | None:
    caught: dict[str, Any] = {}

    async def send() -> SendResult:
        try:
            result: SendResult = await sms.send(phones, "cancel twice", sender=sender)
            return result
        except asyncio.CancelledError as exc:
            caught["partial"] = getattr(exc, "partial", None)
            raise

    if how == "anyio":
        # anyio's cancel scopes (Starlette, FastAPI, httpx users...) deliver the
        # cancellation again at every await until the scope is left.
        with anyio.move_on_after(0.15):
            await send()
        return caught.get("partial")
    task = asyncio.create_task(send())
    await asyncio.sleep(0.15)
    task.cancel()
    await asyncio.sleep(0)  # the send is now unwinding: cancel it again
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return caught.get("partial")


# Regression test (fixed in 9c444ec). Was a bug: a second cancellation while a cancelled send
# unwinds interrupts _fanout.fan_out's `await asyncio.gather(*running)` in its finally: the
# results of the requests in flight (ids issued) never reach `leftovers`, so
# CancelledError.partial misses messages the gateway sent
@pytest.mark.parametrize("name", GATEWAY_NAMES)
@pytest.mark.parametrize("how", ["task.cancel() twice", "anyio"])
def test_a_repeated_cancellation_keeps_every_issued_id(token: str, how: str, name: str) -> None:
    """Cancelling again while the first cancellation unwinds loses nothing."""
    gateway = GATEWAYS[name]
    people = make_recipients(1000, 5, gateway)

    async def scenario() -> None:
        sandbox = faulty_sandbox(5, clock=asyncio.get_running_loop().time, gateway=gateway)
        sandbox.faults = Faults(seed=5, latency=(0.1, 0.3))  # everything in flight at 0.15
        async with gateway.client(token, emulator=sandbox) as sms:
            partial = await _cancelled_twice(sms, people.raw, how, gateway.sender)
            assert library_tasks() == []
        assert isinstance(partial, SendResult)
        assert sandbox.deliveries(token), "nothing was sent: the test proves nothing"
        assert check_invariants(people.expected, partial, sandbox, token, complete=False) == []

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- send_iter


async def _stream_then(
    token: str,
    stop: Callable[[Any, list[str], str], Awaitable[tuple[list[SendResult], Any]]],
    gateway: Gateway,
) -> None:
    sandbox = faulty_sandbox(7, clock=asyncio.get_running_loop().time, gateway=gateway)
    people = make_recipients(1000, 7, gateway)
    async with gateway.client(
        token, emulator=sandbox, send_retry=SEND_RETRY, max_concurrency=4
    ) as sms:
        yielded, stream = await stop(sms, people.raw, gateway.sender)
        assert library_tasks() == [], "requests still running after the stream was closed"
        total = SendResult.merged([*yielded, *stream.unclaimed])
    assert check_invariants(people.expected, total, sandbox, token, complete=False) == []


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_cancelling_the_consumer_of_send_iter_keeps_unclaimed_results(
    token: str, name: str
) -> None:
    """The task iterating send_iter() is cancelled: yielded + unclaimed hold every id."""

    async def stop(sms: Any, phones: list[str], sender: str) -> tuple[list[SendResult], Any]:
        yielded: list[SendResult] = []
        stream = sms.send_iter(phones, "stream", sender=sender)

        async def consume() -> None:
            async for part in stream:
                yielded.append(part)

        task = asyncio.create_task(consume())
        # REX400's client never retries a send that may have left: its stream ends
        # sooner, so it is cancelled sooner to be cancelled mid-way.
        await asyncio.sleep(0.3 if name == "smsclub" else 0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return yielded, stream

    run_on_fake_clock(_stream_then(token, stop, GATEWAYS[name]))


# Regression test (fixed in 9c444ec). Was a bug: SendStream.aclose() closes the outer generator
# of _client._stream, but its `async for result in fan_out(...)` does not close fan_out:
# requests keep running after `break`/aclose and `unclaimed` is filled only later, by the event
# loop's async-generator finalizer (missing contextlib.aclosing)
@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_breaking_out_of_send_iter_stops_requests_and_fills_unclaimed(
    token: str, name: str
) -> None:
    """``async with sms.send_iter(...) as stream: ... break``: when the block ends, no
    request is running and yielded + unclaimed account for every delivery."""

    async def stop(sms: Any, phones: list[str], sender: str) -> tuple[list[SendResult], Any]:
        yielded: list[SendResult] = []
        async with sms.send_iter(phones, "stream", sender=sender) as stream:
            async for part in stream:
                yielded.append(part)
                break
        return yielded, stream

    run_on_fake_clock(_stream_then(token, stop, GATEWAYS[name]))


# Regression test (fixed in 9c444ec). Was a bug: status() raising on a failed chunk leaves the
# other chunks' requests running (_client._status_parts iterates fan_out without closing it)
def test_a_failed_status_chunk_leaves_nothing_running(token: str) -> None:
    """status() of 500 ids whose first request fails for good: when it raises, the
    other requests are not running any more."""

    async def gateway(request: httpx.Request) -> httpx.Response:
        ids = httpx.Response(200, content=request.content).json()["id_sms"]
        if "0" in ids:
            return httpx.Response(400, json={"message": "bad request"})
        await asyncio.sleep(1.0)
        info = dict.fromkeys(ids, "ENROUTE")
        return httpx.Response(200, json={"success_request": {"info": info}})

    async def scenario() -> None:
        async with SmsClub(
            token=token,
            transport=httpx.MockTransport(gateway),
            rate_limit=1000,
            retry=RetryPolicy(attempts=1),
        ) as sms:
            with pytest.raises(Exception, match="HTTP 400"):
                await sms.status([str(i) for i in range(500)])
            assert library_tasks() == []

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- over a real socket


class CancelAtTraceEvent(httpx.AsyncBaseTransport):
    """A real HTTP transport that cancels ``target`` when httpcore reports the
    ``occurrence``-th ``event`` (a deterministic point in a request's life)."""

    def __init__(self, event: str, occurrence: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.event = event
        self.remaining = occurrence
        self.target: asyncio.Task[Any] | None = None
        self.fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        original = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if original is not None:
                await original(event, info)
            if event == self.event and not self.fired:
                self.remaining -= 1
                if self.remaining == 0 and self.target is not None:
                    self.fired = True
                    self.target.cancel()

        request.extensions = {**request.extensions, "trace": trace}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# Points of a request's life at which to cancel. From "headers complete" and "body
# started" the cancellation is delivered right after the body's bytes were written
# (the riskiest moment; see also the dedicated test below).
TRACE_EVENTS = [
    "connection.connect_tcp.complete",
    "http11.send_request_headers.started",
    "http11.send_request_headers.complete",
    "http11.send_request_body.started",
    "http11.send_request_body.complete",
    "http11.receive_response_headers.started",
    "http11.receive_response_headers.complete",
    "http11.receive_response_body.started",
    "http11.response_closed.started",
]


async def _cancel_over_loopback(
    event: str, occurrence: int, token: str, gateway: Gateway = GATEWAYS["smsclub"]
) -> None:
    faults = Faults(seed=occurrence, latency=(0.0, 0.01))
    if gateway.name == "smsclub":
        sandbox = Sandbox(SandboxConfig(rate_limit=None, balance=Decimal(10**6)), faults=faults)
    else:
        sandbox = gateway.emulator(faults=faults)
    people = make_recipients(500, occurrence, gateway)
    transport = CancelAtTraceEvent(event, occurrence)
    async with serve(sandbox) as server:
        async with gateway.client(
            token,
            base_url=server.url,
            transport=transport,
            max_concurrency=1,  # one request at a time: the point is exact
        ) as sms:
            caught: dict[str, Any] = {}

            async def send() -> SendResult:
                try:
                    result: SendResult = await sms.send(
                        people.raw, "loopback", sender=gateway.sender
                    )
                    return result
                except asyncio.CancelledError as exc:
                    caught["partial"] = getattr(exc, "partial", None)
                    raise

            task = asyncio.create_task(send())
            transport.target = task
            with pytest.raises(asyncio.CancelledError):
                await task
            assert transport.fired
            assert library_tasks(finalizers=False) == []
        assert await server_connections_closed(), "the server still has an open connection"
    partial = caught["partial"]
    assert isinstance(partial, SendResult)
    assert check_invariants(people.expected, partial, sandbox, token, complete=False) == []


# SMS Club at 12 seeds (as before the other gateways came), SMSC and SMStele at 6.
TRACE_POINTS = [
    pytest.param(name, seed, id=f"{name}-{seed}")
    for name in GATEWAY_NAMES
    for seed in range(12 if name == "smsclub" else 6)
]


@pytest.mark.loopback
@pytest.mark.parametrize(("name", "seed"), TRACE_POINTS)
async def test_cancel_at_a_trace_event_over_loopback_keeps_every_issued_id(
    name: str, seed: int
) -> None:
    """At a seeded (event, request) point of a real HTTP exchange, cancel the send: the
    partial is right by the sandbox's record, nothing runs, every socket is closed."""
    rng = random.Random(seed)
    event = rng.choice(TRACE_EVENTS)
    occurrence = 1 if event.startswith("connection.") else rng.randint(1, 5)
    token = f"loop-{seed}-{uuid.uuid4().hex}"
    await _cancel_over_loopback(event, occurrence, token, GATEWAYS[name])


@pytest.mark.loopback
# Regression test (fixed in 9c444ec). Was a bug: cancelled right after the body bytes were
# handed to the socket but before httpcore reports send_request_body.complete (anyio's send()
# checkpoints after writing), the request is classified 'not sent: cancelled before sending' and
# its phones land in `failed` -- but the gateway received and sent them
# (_pipeline.Progress.maybe_processed ignores send_request_body.started)
@pytest.mark.parametrize(
    ("event", "occurrence"),
    [
        ("http11.send_request_headers.complete", 1),
        ("http11.send_request_headers.complete", 4),
        ("http11.send_request_body.started", 1),
        ("http11.send_request_body.started", 3),
    ],
)
async def test_cancel_while_the_body_is_written_never_calls_a_delivered_phone_failed(
    event: str, occurrence: int
) -> None:
    """The cancellation is delivered at the first await after the body's bytes were
    handed to the socket (anyio's send() yields once after writing)."""
    await _cancel_over_loopback(event, occurrence, f"body-{uuid.uuid4().hex}")


class SlowToCancel(httpx.AsyncBaseTransport):
    """A gateway that answers the first number's request at once and the others in
    5 s; a cancelled request takes 0.2 s to clean up (as closing a TLS connection
    can)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        phones = httpx.Response(200, content=request.content).json()["phone"]
        try:
            await asyncio.sleep(0.05 if "380500000000" in phones else 5.0)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)
            raise
        info = {str(1000 + i): phone for i, phone in enumerate(phones)}
        return httpx.Response(200, json={"success_request": {"info": info}})


def test_a_timeout_that_expires_while_a_stream_closes_still_fires(token: str) -> None:
    """``async with asyncio.timeout(0.1)`` around a stream that is left early: its
    closing takes 0.2 s (cancelled requests cleaning up), so the timeout expires
    meanwhile and must raise TimeoutError, not be lost."""

    async def scenario() -> None:
        async with SmsClub(token=token, transport=SlowToCancel(), rate_limit=1000) as sms:
            phones = [f"38050{i:07d}" for i in range(300)]

            async def leave_early() -> None:
                async with asyncio.timeout(0.1):
                    async with sms.send_iter(phones, "x", sender=SENDER) as stream:
                        async for _ in stream:
                            break

            with pytest.raises(TimeoutError):
                await leave_early()
            assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

    run_on_fake_clock(scenario())


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_an_exception_from_the_callers_iterator_keeps_every_issued_id(
    token: str, name: str
) -> None:
    """Recipients from a generator that fails after 450 numbers (a database cursor
    that dies): the send ends with SourceError (the caller's exception as its cause),
    carrying in ``partial`` every message id issued and every number read."""
    gateway = GATEWAYS[name]

    class CursorLost(Exception):
        pass

    def numbers() -> Any:
        for i in range(450):
            yield gateway.number(50 * 10**7 + i) if name == "smsclub" else gateway.number(i)
        raise CursorLost("the database went away")

    async def scenario() -> None:
        sandbox = faulty_sandbox(11, clock=asyncio.get_running_loop().time, gateway=gateway)
        sandbox.faults = Faults(seed=11, latency=(0.0, 0.05))
        async with gateway.client(token, emulator=sandbox, max_concurrency=2) as sms:
            with pytest.raises(SourceError) as caught:
                await sms.send(numbers(), "x", sender=gateway.sender)
            assert isinstance(caught.value.__cause__, CursorLost)
            assert library_tasks() == []
        assert sandbox.deliveries(token), "nothing was sent: the test proves nothing"
        partial = getattr(caught.value, "partial", None)
        assert isinstance(partial, SendResult), "the issued ids are lost"
        read = {
            gateway.number(50 * 10**7 + i) if name == "smsclub" else gateway.number(i)
            for i in range(450)
        }
        assert check_invariants(read, partial, sandbox, token, complete=True) == []

    run_on_fake_clock(scenario())


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_closing_the_client_during_a_bulk_send_keeps_every_issued_id(token: str, name: str) -> None:
    """A shutdown (FastAPI lifespan, ``async with`` left by another task) closes the
    client while a send runs: the send ends with the library's own error, whose
    ``partial`` holds every id issued."""
    gateway = GATEWAYS[name]

    async def scenario() -> None:
        # Answers lost after processing: their retries come after the close.
        faults = Faults(seed=12, error_after=0.5, latency=(0.05, 0.05))
        clock = asyncio.get_running_loop().time
        if name == "smsclub":
            sandbox = Sandbox(SandboxConfig(rate_limit=None), faults=faults, clock=clock)
        else:
            sandbox = gateway.emulator(faults=faults, clock=clock)
        people = make_recipients(2000, 12, gateway)
        sms = gateway.client(
            token,
            emulator=sandbox,
            max_concurrency=2,
            send_retry=RetryPolicy(attempts=3, backoff=0.1, jitter=0),
        )
        async with sms:
            task = asyncio.create_task(sms.send(people.raw, "shutdown", sender=gateway.sender))
            await asyncio.sleep(0.12)
        outcome: BaseException | None = None
        try:
            await task
        except Exception as exc:
            outcome = exc
        assert sandbox.deliveries(token), "nothing was sent: the test proves nothing"
        assert isinstance(outcome, SmsClubError), f"{type(outcome).__name__}: {outcome}"
        assert isinstance(outcome.partial, SendResult)
        violations = check_invariants(
            people.expected, outcome.partial, sandbox, token, complete=False
        )
        assert violations == []

    run_on_fake_clock(scenario())
