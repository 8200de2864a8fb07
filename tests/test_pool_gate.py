"""Our requests enter httpcore's pool one at a time, until each holds a connection.

Without the gate, httpcore hands one idle connection to every request queued in the
same pass; all but one fail over with ``ConnectionNotAvailable`` and cost another
pass over every connection (about 150 us of client CPU a request).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpcore
import httpx
import pytest
from httpcore._async import http11

from smsclub_async import LocalLimiter, SmsClub
from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

from .conftest import EchoGateway

SENDER = "VashZakaz"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"38050{start + i:07d}" for i in range(count)]


@pytest.fixture
def not_available(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ``ConnectionNotAvailable`` fail-overs inside httpcore."""
    count = [0]
    original = http11.AsyncHTTP11Connection.handle_async_request

    async def counting(
        self: http11.AsyncHTTP11Connection, request: httpcore.Request
    ) -> httpcore.Response:
        try:
            return await original(self, request)
        except httpcore.ConnectionNotAvailable:
            count[0] += 1
            raise

    monkeypatch.setattr(http11.AsyncHTTP11Connection, "handle_async_request", counting)
    return count


async def test_traced_requests_never_fail_over_in_the_pool(not_available: list[int]) -> None:
    """5,000 numbers, 10 requests at a time over loopback: every one sent, and once
    the gate is on, no request was handed a connection another one took."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None, delivery_delay=0, balance=Decimal(10**6)))
    async with (
        serve(sandbox) as server,
        SmsClub("gate", base_url=server.url, rate_limit=100_000) as sms,
    ):
        await sms.send(numbers(1000), "warm up", sender=SENDER)
        gate = sms._open()._pool_gate
        assert gate.enabled
        not_available[0] = 0
        result = await sms.send(numbers(5000, start=10_000), "Hi", sender=SENDER)
        assert len(result.sent) == 5000
        assert not_available[0] == 0
        assert not gate._lock.locked()


async def test_an_untraced_transport_is_never_gated() -> None:
    """A transport that reports no trace events (a mock, aiohttp) keeps 10 in flight."""
    gateway = EchoGateway()
    async with SmsClub(
        "gate-mock", transport=httpx.MockTransport(gateway), rate_limit=100_000
    ) as sms:
        result = await sms.send(numbers(3000), "Hi", sender=SENDER)
        assert len(result.sent) == 3000
        assert not sms._open()._pool_gate.enabled
    assert gateway.most_in_flight == 10


async def test_a_send_cancelled_at_the_gate_is_not_sent_and_frees_its_slot() -> None:
    """Cancelled while waiting its turn: failed (never left), holding no limiter slot,
    and the next send goes out."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None, delivery_delay=0))
    limiter = LocalLimiter(100_000)
    async with (
        serve(sandbox) as server,
        SmsClub("gate-cancel", base_url=server.url, limiter=limiter) as sms,
    ):
        await sms.send(numbers(10), "warm up", sender=SENDER)
        gate = sms._open()._pool_gate
        await gate._lock.acquire()  # someone else's turn, for as long as we like
        sending = asyncio.ensure_future(sms.send(["380671112233"], "Hi", sender=SENDER))
        await asyncio.sleep(0.2)
        assert not sending.done()
        sending.cancel()
        with pytest.raises(asyncio.CancelledError) as cancelled:
            await sending
        partial = cancelled.value.partial  # type: ignore[attr-defined]
        assert list(partial.failed) == ["380671112233"]
        assert not partial.unknown
        assert not limiter._pending
        gate._lock.release()
        again = await sms.send(["380671112233"], "Hi", sender=SENDER)
        assert list(again.sent.values()) == ["380671112233"]
    assert sandbox.deliveries() == {**dict.fromkeys(numbers(10), 1), "380671112233": 1}
