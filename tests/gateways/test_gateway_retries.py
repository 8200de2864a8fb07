"""The retry layer for refusals inside 200 answers, and sends with no duplicate window."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import respx

from smsclub_async import RateLimitedError, ServerError
from smsclub_async.gateways import SmsteleClient

from ..conftest import fake_clock
from .conftest import REX_SEND, REX_URL

OK = {"id": "a", "cnt": "1", "messages": [{"id": "a", "phone": "79160001234", "operator": "m"}]}


@fake_clock
async def test_a_maybe_sent_send_is_not_retried_even_on_a_frozen_clock() -> None:
    """Budget 0 and waits off on a clock that never moves: still exactly one attempt.

    (The core pipeline alone would retry here: it compares elapsed > budget, 0 > 0.)
    """
    with respx.mock(base_url=REX_URL) as router:
        route = router.post("/cgibin/sendsms").respond(502)
        async with SmsteleClient("l", "p", send_retry=REX_SEND) as rex:
            with pytest.raises(ServerError) as caught:
                await rex.send("79160001234", "x")
    assert route.call_count == 1
    assert set(caught.value.partial.unknown) == {"79160001234"}


@fake_clock
async def test_safe_failures_of_a_zero_budget_send_are_retried() -> None:
    """Connect errors and 429s (nothing processed) are retried, honouring Retry-After."""
    with respx.mock(base_url=REX_URL) as router:
        route = router.post("/cgibin/sendsms")
        route.side_effect = [
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"retry-after": "2"}),
            httpx.Response(200, json=OK),
        ]
        async with SmsteleClient("l", "p", send_retry=REX_SEND) as rex:
            result = await rex.send("79160001234", "x", message_id="a")
            assert rex.stats.retries == 2
    assert result.ok
    assert route.call_count == 3


@fake_clock
async def test_a_long_retry_after_ends_a_zero_budget_send() -> None:
    """A 429 asking for more than max_retry_after: failed (nothing was processed), raised."""
    with respx.mock(base_url=REX_URL) as router:
        router.post("/cgibin/sendsms").respond(429, headers={"retry-after": "300"})
        policy = dataclasses.replace(REX_SEND, max_retry_after=10.0)
        async with SmsteleClient("l", "p", send_retry=policy) as rex:
            with pytest.raises(RateLimitedError) as caught:
                await rex.send("79160001234", "x")
    assert set(caught.value.partial.failed) == {"79160001234"}
