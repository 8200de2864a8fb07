"""Fault injection through the in-process transport and the real loopback server.

"before" faults change nothing; "after" faults leave the messages sent and
charged, and a retry of the same request is then refused with 453.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import (
    Faults,
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxTransport,
    serve,
)

from .sandbox_helpers import send_body

NUMBER = "380989361131"
BODY = send_body(NUMBER)


@pytest.fixture(params=["transport", pytest.param("server", marks=pytest.mark.loopback)])
async def wired(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A sandbox with a client reaching it in process, or over a loopback socket."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock)
    async with AsyncExitStack() as stack:
        if request.param == "transport":
            options: dict[str, Any] = {
                "transport": SandboxTransport(sandbox),
                "base_url": "https://im.smsclub.mobi",
            }
        else:
            server = await stack.enter_async_context(serve(sandbox))
            options = {"base_url": server.url}
        client = await stack.enter_async_context(
            httpx.AsyncClient(headers={"Authorization": "Bearer t"}, timeout=5, **options)
        )
        yield sandbox, client


def _charged(sandbox: Sandbox) -> Decimal:
    return Decimal("1000") - sandbox.balance("t")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_error_before_changes_nothing(
    wired: tuple[Sandbox, httpx.AsyncClient], status: int
) -> None:
    """error_before: a 5xx in Yii2's shape, no message, no charge; a retry goes through."""
    sandbox, client = wired
    sandbox.faults = Faults(status_codes=(status,))
    sandbox.faults.script(["error_before"])
    response = await client.post("/sms/send", json=BODY)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert sandbox.messages() == []
    assert _charged(sandbox) == 0
    retry = await client.post("/sms/send", json=BODY)
    assert retry.json() == {"success_request": {"info": {"100": NUMBER}}}


async def test_error_after_sends_then_fails(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """error_after: the message is sent and charged, the client sees a 5xx; a retry is 453."""
    sandbox, client = wired
    sandbox.faults.script(["error_after"])
    response = await client.post("/sms/send", json=BODY)
    assert response.status_code in (500, 502, 503)
    assert [m.phone for m in sandbox.messages()] == [NUMBER]
    assert _charged(sandbox) == Decimal("0.5")
    assert (await client.post("/sms/send", json=BODY)).status_code == 453
    assert sandbox.deliveries() == {NUMBER: 1}


async def test_drop_before_is_a_transport_error_and_changes_nothing(
    wired: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    """drop_before: no answer at all, nothing sent; the next request is served."""
    sandbox, client = wired
    sandbox.faults.script(["drop_before"])
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/sms/send", json=BODY)
    assert sandbox.messages() == []
    assert (await client.post("/sms/send", json=BODY)).status_code == 200
    assert sandbox.stats("t").dropped == 1


async def test_drop_after_sends_but_never_answers(
    wired: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    """drop_after: the message went out, the client only sees a transport error."""
    sandbox, client = wired
    sandbox.faults.script(["drop_after"])
    with pytest.raises(httpx.TransportError):
        await client.post("/sms/send", json=BODY)
    assert sandbox.deliveries() == {NUMBER: 1}
    assert (await client.post("/sms/send", json=BODY)).status_code == 453
    assert sandbox.stats("t").faults == {"drop_after": 1}


async def test_malformed_body(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """malformed: 200 labelled JSON, but the body does not parse; the message was sent."""
    sandbox, client = wired
    sandbox.faults.script(["malformed"])
    response = await client.post("/sms/send", json=BODY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        json.loads(response.content)
    assert sandbox.deliveries() == {NUMBER: 1}


async def test_truncated_body(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """truncated: the headers promise more than arrives, then the connection closes."""
    sandbox, client = wired
    sandbox.faults.script(["truncated"])
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/sms/send", json=BODY)
    assert sandbox.deliveries() == {NUMBER: 1}
    assert (await client.post("/sms/send", json=BODY)).status_code == 453


async def test_wrong_content_type(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """wrong_content_type: the real answer labelled text/html."""
    sandbox, client = wired
    sandbox.faults.script(["wrong_content_type"])
    response = await client.post("/sms/send", json=BODY)
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert response.json() == {"success_request": {"info": {"100": NUMBER}}}


async def test_latency_delays_the_answer(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """latency: the answer comes after a drawn delay."""
    sandbox, client = wired
    sandbox.faults = Faults(latency=(0.05, 0.05))
    started = time.perf_counter()
    response = await client.post("/sms/send", json=BODY)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.05


async def test_latency_past_the_read_timeout_after_sending(
    wired: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    """A client that times out has still sent the message: its retry is 453."""
    sandbox, client = wired
    sandbox.faults = Faults(latency=(0.3, 0.3))
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/sms/send", json=BODY, timeout=0.05)
    assert sandbox.deliveries() == {NUMBER: 1}
    sandbox.faults = Faults()
    assert (await client.post("/sms/send", json=BODY)).status_code == 453


async def test_faults_apply_to_send_endpoints_only_by_default(
    wired: tuple[Sandbox, httpx.AsyncClient],
) -> None:
    """With the default scope, other endpoints never fail and use no script entry."""
    sandbox, client = wired
    sandbox.faults.script(["error_before"])
    assert (await client.post("/sms/balance")).status_code == 200
    assert sandbox.faults.scripted == 1
    sandbox.faults = Faults(scope="all")
    sandbox.faults.script(["error_before"])
    assert (await client.post("/sms/balance")).status_code >= 500


async def test_v2_send_is_faulted_too(wired: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """/v2/sms/send is in the default scope."""
    sandbox, client = wired
    sandbox.faults.script(["error_after"])
    body = {"src_addr": "VashZakaz", "data_message": [{"phone": NUMBER, "message": "x"}]}
    assert (await client.post("/v2/sms/send", json=body)).status_code >= 500
    assert (await client.post("/v2/sms/send", json=body)).status_code == 453


async def test_a_script_runs_in_order_then_probabilities_apply(
    wired: tuple[Sandbox, httpx.AsyncClient], clock: ManualClock
) -> None:
    """Scripted faults are used one per request in scope, then the draw resumes."""
    sandbox, client = wired
    sandbox.faults.script(["error_after", None, "drop_before"])
    first = await client.post("/sms/send", json=send_body(NUMBER, message="1"))
    second = await client.post("/sms/send", json=send_body(NUMBER, message="2"))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/sms/send", json=send_body(NUMBER, message="3"))
    fourth = await client.post("/sms/send", json=send_body(NUMBER, message="4"))
    assert (first.status_code >= 500, second.status_code, fourth.status_code) == (True, 200, 200)
    assert [m.text for m in sandbox.messages()] == ["1", "2", "4"]
    assert [a.fault for a in sandbox.stats().arrivals] == ["error_after", None, "drop_before", None]
    assert [a.status for a in sandbox.stats().arrivals][1:] == [200, None, 200]


def test_random_faults_are_reproducible_from_the_seed() -> None:
    """The same seed gives the same faults, statuses and delays."""

    def draws(seed: int) -> list[Any]:
        faults = Faults(
            seed=seed, error_before=0.2, drop_after=0.2, malformed=0.1, latency=(0.0, 1.0)
        )
        return [(faults.next_fault(), faults.next_status(), faults.next_delay()) for _ in range(50)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    kinds = {kind for kind, _, _ in draws(3)}
    assert kinds == {None, "error_before", "drop_after", "malformed"}


def test_probability_one_always_faults() -> None:
    """A probability of 1 faults every request."""
    faults = Faults(truncated=1.0)
    assert {faults.next_fault() for _ in range(20)} == {"truncated"}
    assert {Faults().next_fault() for _ in range(20)} == {None}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"error_before": 1.5}, "probability"),
        ({"error_before": 0.6, "error_after": 0.6}, "sum"),
        ({"latency": (2.0, 1.0)}, "latency"),
        ({"status_codes": (404,)}, "5xx"),
        ({"status_codes": ()}, "5xx"),
        ({"scope": "some"}, "scope"),
    ],
)
def test_faults_are_validated(kwargs: dict[str, Any], match: str) -> None:
    """Nonsense fault settings fail early."""
    with pytest.raises(ValueError, match=match):
        Faults(**kwargs)


def test_script_rejects_unknown_kinds() -> None:
    """A typo in a script fails at once, not mid-test."""
    with pytest.raises(ValueError, match="unknown fault"):
        Faults().script(["error_afterr"])  # type: ignore[list-item]
