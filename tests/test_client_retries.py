"""Error statuses, Retry-After, and the send retry rules that prevent double sends."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
import respx

from smsclub_async import (
    AuthenticationError,
    DecodeError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    SmsClub,
    TransportError,
    ValidationError,
)

from .conftest import NO_WAIT, NO_WAIT_SEND, fake_clock

PHONE = "380989361131"
SENT = httpx.Response(200, json={"success_request": {"info": {"106": PHONE}}})


def error(status: int, message: str = "boom", **headers: str) -> httpx.Response:
    body = {"name": "Error", "message": message, "code": 0, "status": status}
    return httpx.Response(status, json=body, headers=headers)


def client(token: str, **kwargs: object) -> SmsClub:
    kwargs.setdefault("retry", NO_WAIT)
    kwargs.setdefault("send_retry", NO_WAIT_SEND)
    return SmsClub(token=token, rate_limit=1000, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
    ],
)
async def test_read_error_statuses_raise_by_meaning(
    gateway: respx.MockRouter, token: str, status: int, exc_type: type[Exception]
) -> None:
    """Each status raises its class, with the gateway's message and the endpoint."""
    gateway.post("/sms/balance").mock(return_value=error(status, "Something specific"))
    async with client(token) as sms:
        with pytest.raises(exc_type) as caught:
            await sms.balance()
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert caught.value.endpoint == "/sms/balance"  # type: ignore[attr-defined]
    assert "Something specific" in str(caught.value)


async def test_reads_retry_5xx_then_succeed(gateway: respx.MockRouter, token: str) -> None:
    """Idempotent calls retry 5xx and transport errors."""
    route = gateway.post("/sms/originator")
    route.side_effect = [
        error(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"success_request": {"info": ["a"]}}),
    ]
    async with client(token) as sms:
        assert await sms.senders() == ["a"]
        assert sms.stats.retries == 2
        assert sms.stats.server_errors == 1
        assert sms.stats.transport_errors == 1
    assert route.call_count == 3


async def test_reads_give_up_after_the_configured_attempts(
    gateway: respx.MockRouter, token: str
) -> None:
    """attempts=2 means two requests, then the error."""
    route = gateway.post("/sms/originator").mock(return_value=error(500))
    async with client(token, retry=RetryPolicy(attempts=2, wait=False)) as sms:
        with pytest.raises(ServerError):
            await sms.senders()
    assert route.call_count == 2


async def test_400_and_401_are_not_retried(gateway: respx.MockRouter, token: str) -> None:
    """Client errors do not get better by repeating."""
    route = gateway.post("/sms/originator").mock(return_value=error(401))
    async with client(token) as sms:
        with pytest.raises(AuthenticationError):
            await sms.senders()
    assert route.call_count == 1


@fake_clock
@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "7"}, 7.0), ({"Retry-After-Ms": "2500"}, 2.5)],
)
async def test_retry_after_is_honoured(
    gateway: respx.MockRouter, token: str, headers: dict[str, str], expected: float
) -> None:
    """A 429's Retry-After (seconds or ms) sets the wait before the retry."""
    route = gateway.post("/sms/originator")
    route.side_effect = [
        error(429, **headers),
        httpx.Response(200, json={"success_request": {"info": []}}),
    ]
    loop = asyncio.get_running_loop()
    async with client(token, retry=RetryPolicy()) as sms:
        start = loop.time()
        await sms.senders()
        waited = loop.time() - start
    assert expected <= waited < expected + 0.5
    assert sms.stats.rate_limited == 1


async def test_retry_after_beyond_the_cap_ends_retries(
    gateway: respx.MockRouter, token: str
) -> None:
    """A Retry-After longer than max_retry_after is not slept through."""
    route = gateway.post("/sms/originator").mock(return_value=error(429, **{"Retry-After": "3600"}))
    async with client(token, retry=RetryPolicy(max_retry_after=30)) as sms:
        with pytest.raises(RateLimitedError) as caught:
            await sms.senders()
    assert caught.value.retry_after == 3600
    assert route.call_count == 1


# --------------------------------------------------------------------------- sends


async def test_send_5xx_then_453_is_unknown_never_failed(
    gateway: respx.MockRouter, token: str
) -> None:
    """The first attempt may have gone out; the retry's 453 proves it probably did."""
    route = gateway.post("/sms/send")
    route.side_effect = [error(500), error(453, "Duplicate")]
    async with client(token) as sms:
        result = await sms.send(PHONE, "hi", sender="X")
    assert route.call_count == 2
    assert PHONE in result.unknown
    assert "453" in result.unknown[PHONE]
    assert not result.failed
    assert not result.sent


async def test_send_453_on_first_attempt_is_a_callers_duplicate(
    gateway: respx.MockRouter, token: str
) -> None:
    """A 453 to a fresh request: nothing went out now, so the phones are failed."""
    gateway.post("/sms/send").mock(return_value=error(453, "Duplicate"))
    async with client(token) as sms:
        result = await sms.send(PHONE, "hi", sender="X")
    assert PHONE in result.failed
    assert "less than 2 minutes" in result.failed[PHONE]
    assert not result.unknown


@pytest.mark.parametrize(
    "first",
    [
        error(429, **{"Retry-After": "0"}),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
    ],
    ids=["429", "connect-error", "connect-timeout"],
)
async def test_send_retries_attempts_that_never_reached_the_gateway(
    gateway: respx.MockRouter, token: str, first: object
) -> None:
    """429 and connection failures are always safe to retry; the id arrives."""
    route = gateway.post("/sms/send")
    route.side_effect = [first, SENT]
    async with client(token) as sms:
        result = await sms.send(PHONE, "hi", sender="X")
    assert result.sent == {"106": PHONE}
    assert route.call_count == 2


@pytest.mark.parametrize(
    "first",
    [error(502), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")],
    ids=["502", "read-timeout", "dropped"],
)
async def test_send_retry_after_maybe_processed_gets_the_id_when_it_was_not(
    gateway: respx.MockRouter, token: str, first: object
) -> None:
    """If the gateway answers the retry with 200, the first attempt did not go out."""
    route = gateway.post("/sms/send")
    route.side_effect = [first, SENT]
    async with client(token) as sms:
        result = await sms.send(PHONE, "hi", sender="X")
    assert result.sent == {"106": PHONE}


async def test_send_exhausted_5xx_raises_with_unknown_partial(
    gateway: respx.MockRouter, token: str
) -> None:
    """Retries run out on 5xx: ServerError, and partial puts the phones in unknown."""
    route = gateway.post("/sms/send").mock(return_value=error(500))
    async with client(token, send_retry=RetryPolicy(attempts=3, wait=False)) as sms:
        with pytest.raises(ServerError) as caught:
            await sms.send([PHONE, "380989361132"], "hi", sender="X")
    assert route.call_count == 3
    partial = caught.value.partial
    assert set(partial.unknown) == {PHONE, "380989361132"}
    assert not partial.failed


async def test_send_exhausted_429_is_failed_not_unknown(
    gateway: respx.MockRouter, token: str
) -> None:
    """Only 429s: the gateway never processed it, so resending is safe (failed)."""
    gateway.post("/sms/send").mock(return_value=error(429, **{"Retry-After": "0"}))
    async with client(token, send_retry=RetryPolicy(attempts=2, wait=False)) as sms:
        with pytest.raises(RateLimitedError) as caught:
            await sms.send(PHONE, "hi", sender="X")
    assert PHONE in caught.value.partial.failed


@fake_clock
async def test_send_stops_retrying_when_the_duplicate_window_would_pass(
    gateway: respx.MockRouter, token: str
) -> None:
    """A retry that would land after the 2-minute window is not made: unknown instead."""
    route = gateway.post("/sms/send").mock(return_value=error(503))
    policy = RetryPolicy(attempts=10, backoff=40, max_backoff=80, jitter=0)
    async with client(token, send_retry=policy) as sms:
        with pytest.raises(ServerError) as caught:
            await sms.send(PHONE, "hi", sender="X")
    # Waits of 40 and 80 s: the third retry would be at 120 s > 100 s budget.
    assert route.call_count == 2
    assert PHONE in caught.value.partial.unknown


async def test_send_garbled_200_is_unknown(gateway: respx.MockRouter, token: str) -> None:
    """A 200 we cannot read was processed: phones unknown, DecodeError raised."""
    gateway.post("/sms/send").mock(return_value=httpx.Response(200, content=b"<html>oops"))
    async with client(token) as sms:
        with pytest.raises(DecodeError) as caught:
            await sms.send(PHONE, "hi", sender="X")
    assert PHONE in caught.value.partial.unknown


async def test_send_400_marks_failed_and_records_the_error(
    gateway: respx.MockRouter, token: str
) -> None:
    """A 400 was refused before processing: failed, with the gateway's words."""
    gateway.post("/sms/send").mock(return_value=error(400, "Bad JSON"))
    async with client(token) as sms:
        with pytest.raises(ValidationError) as caught:
            await sms.send(PHONE, "hi", sender="X")
    assert "Bad JSON" in caught.value.partial.failed[PHONE]


async def test_send_401_stops_the_job_and_keeps_what_was_sent(
    gateway: respx.MockRouter, token: str
) -> None:
    """An auth failure ends a bulk send early; ids already issued are in partial."""
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        phones = json.loads(request.content)["phone"]
        if calls == 1:
            return httpx.Response(
                200,
                json={"success_request": {"info": {str(i): p for i, p in enumerate(phones)}}},
            )
        return error(401, "Your request was made with invalid credentials.")

    gateway.post("/sms/send").mock(side_effect=answer)
    phones = [f"38098{i:07d}" for i in range(1000)]
    async with client(token, max_concurrency=1) as sms:
        with pytest.raises(AuthenticationError) as caught:
            await sms.send(phones, "hi", sender="X")
    partial = caught.value.partial
    assert len(partial.sent) == 100
    assert calls == 2, "no further chunks after the 401"


async def test_transport_error_text_says_whether_it_was_sent(
    gateway: respx.MockRouter, token: str
) -> None:
    """Errors say whether the request left; connect errors are 'before'."""
    gateway.post("/sms/balance").mock(side_effect=httpx.ConnectError("refused"))
    async with client(token, retry=RetryPolicy(attempts=1)) as sms:
        with pytest.raises(TransportError, match="before the request was sent"):
            await sms.balance()


async def test_every_attempt_is_logged_at_debug_without_the_token(
    gateway: respx.MockRouter, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One DEBUG line per attempt (endpoint, status, attempt); retries at INFO."""
    route = gateway.post("/sms/originator")
    route.side_effect = [error(500), httpx.Response(200, json={"success_request": {"info": []}})]
    caplog.set_level(logging.DEBUG, logger="smsclub_async")
    async with client(token) as sms:
        await sms.senders()
    lines = [r.getMessage() for r in caplog.records]
    assert any("/sms/originator -> HTTP 500" in m and "attempt 1" in m for m in lines)
    assert any("/sms/originator -> HTTP 200" in m and "attempt 2" in m for m in lines)
    assert any(m.startswith("retrying /sms/originator") for m in lines)
    assert all(token not in m for m in lines)
