"""A send retried after a maybe-processed failure must reach the gateway inside its
2-minute duplicate window, measured from when the first such attempt could have been
processed, so a message that went out is answered 453, never sent twice.

On a patched clock: a sandbox that processes every send at once and answers too late
for the client's read timeout (a lost answer, the worst case for double sends).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from smsclub_async import LocalLimiter, RetryPolicy, SendResult, SmsClub, SmsClubError
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, SandboxTransport

from ..conftest import run_on_fake_clock
from .gateways import GATEWAYS

PHONE = "380501234560"


async def send_with_lost_answers(token: str, read_timeout: float, attempts: int) -> object:
    """Send once; every answer arrives 10 s after the read timeout."""
    loop = asyncio.get_running_loop()
    delay = read_timeout + 10
    sandbox = Sandbox(
        SandboxConfig(rate_limit=None),
        clock=loop.time,
        faults=Faults(seed=0, latency=(delay, delay)),
    )
    async with SmsClub(
        token=token,
        transport=SandboxTransport(sandbox),
        rate_limit=1000,
        timeout=httpx.Timeout(read_timeout),
        send_retry=RetryPolicy(attempts=attempts, jitter=0),
    ) as sms:
        try:
            result = await sms.send([PHONE], "hello", sender="VashZakaz")
        except SmsClubError as exc:
            result = exc.partial
    assert isinstance(result, SendResult)
    arrivals = [(round(a.at, 1), a.status) for a in sandbox.stats(token).arrivals]
    return sandbox.deliveries(token)[PHONE], result, arrivals


@pytest.mark.parametrize("read_timeout", [5.0, 15.0, 30.0, 60.0])
@pytest.mark.parametrize("name", ["smsc", "smstele"])
def test_lost_answers_never_send_twice_on_the_other_gateways(
    token: str, name: str, read_timeout: float
) -> None:
    """The same lost answers for SMSC (a 60 s window of identical requests, error 9:
    retries only within 45 s of the first attempt) and SMStele (no window at all: the
    send that may have gone out is never retried). Delivered once, the phone unknown."""
    gateway = GATEWAYS[name]
    phone = gateway.number(1)

    async def scenario() -> tuple[int, SendResult, int]:
        loop = asyncio.get_running_loop()
        delay = read_timeout + 10
        emulator = gateway.emulator(clock=loop.time, faults=Faults(seed=0, latency=(delay, delay)))
        async with gateway.client(
            token,
            emulator=emulator,
            timeout=httpx.Timeout(read_timeout),
            send_retry=RetryPolicy(attempts=5, jitter=0),
        ) as sms:
            try:
                result = await sms.send([phone], "hello", sender=gateway.sender)
            except SmsClubError as exc:
                result = exc.partial
        sends = sum(1 for request in emulator.requests if "send" in request.path)
        return emulator.deliveries(token)[phone], result, sends

    delivered, result, sends = run_on_fake_clock(scenario())
    assert delivered == 1
    assert phone in result.unknown
    if name == "smstele":
        assert sends == 1  # never retried: REX400 would send it again


@pytest.mark.parametrize("read_timeout", [5.0, 15.0])
def test_lost_answers_with_a_short_read_timeout_never_send_twice(
    token: str, read_timeout: float
) -> None:
    """With the default 15 s read timeout (or less) the retries stay inside the window:
    the first attempt went out, every retry is answered 453, the phone is unknown."""
    delivered, result, arrivals = run_on_fake_clock(
        send_with_lost_answers(token, read_timeout, attempts=5)
    )
    assert delivered == 1, arrivals
    assert PHONE in result.unknown  # type: ignore[attr-defined]
    assert all(at < 120 for at, _ in arrivals), arrivals


# Regression test (fixed in 9c444ec). Was a bug: the send retry budget counts from the END of
# the first maybe-processed attempt (_pipeline.Pipeline.exchange: maybe_since = clock() after
# the attempt), not from when it was sent; with a read timeout above window_safety (20 s) a
# retry lands after the 120 s duplicate window and the gateway sends the message a second time
@pytest.mark.parametrize("read_timeout", [30.0, 60.0])
def test_lost_answers_with_a_long_read_timeout_never_send_twice(
    token: str, read_timeout: float
) -> None:
    """SmsClub(timeout=30) is a reasonable setting; it must not cause a double send.

    Before the fix: attempt 1 is processed at t=0 and times out at t=30; retries at 30.5 (453),
    61.5 (453), 93.5 (453) and 127.5 -- outside the window, so the sandbox sends again.
    """
    delivered, result, arrivals = run_on_fake_clock(
        send_with_lost_answers(token, read_timeout, attempts=5)
    )
    assert delivered == 1, f"delivered {delivered} times; arrivals {arrivals}"
    assert PHONE in result.unknown  # type: ignore[attr-defined]


def test_a_retry_queued_behind_other_sends_never_lands_outside_the_window() -> None:
    """1,500 one-recipient sends at once through one client (an OTP burst) at the
    default 9/s. The first is answered 5xx after it was processed; its retry takes
    its turn in the limiter at the back of the queue. It must not go out after the
    duplicate window (the phone is then `unknown`, not sent a second time)."""

    async def scenario() -> tuple[int, SendResult]:
        loop = asyncio.get_running_loop()
        faults = Faults(seed=0)
        faults.script(["error_after"])  # the first request: processed, answer lost
        sandbox = Sandbox(SandboxConfig(rate_limit=9), clock=loop.time, faults=faults)
        token = "otp-burst"
        async with SmsClub(
            token=token,
            transport=SandboxTransport(sandbox),
            limiter=LocalLimiter(9, clock=loop.time),  # the default 9/s, on the test clock
        ) as sms:

            async def one(i: int) -> SendResult:
                try:
                    return await sms.send([f"38050{i:07d}"], "Code 1234", sender="VashZakaz")
                except SmsClubError as exc:
                    return exc.partial  # type: ignore[no-any-return]

            results = await asyncio.gather(*(one(i) for i in range(1500)))
        assert sandbox.stats(token).rate_limited == 0
        return sandbox.deliveries(token)[f"38050{0:07d}"], results[0]

    delivered, result = run_on_fake_clock(scenario())
    assert delivered == 1, f"the first OTP was delivered {delivered} times"
    assert f"38050{0:07d}" in result.unknown
