"""The SMSC and REX400 emulators behind the real loopback HTTP server.

Same clients, same emulators as the in-process tests, but over a socket: the
query string, form bodies, keep-alive and a connection dropped mid-request.
"""

from __future__ import annotations

import httpx

from smsclub_async import DeliveryStatus
from smsclub_async.gateways import SmscClient, SmsteleClient
from smsclub_async.sandbox import ManualClock, serve
from smsclub_async.sandbox.gateways import (
    SmscConfig,
    SmscSandbox,
    SmsteleConfig,
    SmsteleSandbox,
)

from .conftest import REX_LOGIN, REX_PASSWORD, REX_READ, REX_SEND, SMSC_READ, SMSC_SEND

PHONES = ["77011234567", "77051234568", "77071234569"]


async def test_smsc_over_loopback(login: str, password: str, clock: ManualClock) -> None:
    """Send, status and balance over a socket; the password survives form encoding."""
    sandbox = SmscSandbox(SmscConfig(accounts={login: password}), clock=clock)
    async with serve(sandbox) as server:
        assert server.url.startswith("http://127.0.0.1:")
        async with SmscClient(
            login, password, base_url=server.url, retry=SMSC_READ, send_retry=SMSC_SEND
        ) as smsc:
            result = await smsc.send(PHONES, "Hello", sender="MyShop")
            assert sorted(result.sent.values()) == PHONES
            assert set((await smsc.status(result.sent)).values()) == {DeliveryStatus.ENROUTE}
            clock.advance(60.0)
            report = await smsc.status(result.sent)
            assert report.counts() == {DeliveryStatus.DELIVRD: 2, DeliveryStatus.UNDELIV: 1}
            assert (await smsc.balance()).money == 970  # 1000 less 3 parts at 10
    assert sandbox.deliveries() == dict.fromkeys(PHONES, 1)
    assert {request.path for request in sandbox.requests} >= {"/sys/send.php", "/sys/status.php"}


async def test_smsc_query_parameters_reach_the_emulator(login: str, password: str) -> None:
    """A GET with its parameters in the URL (as SMSC's own examples do) is answered."""
    sandbox = SmscSandbox(SmscConfig(accounts={login: password}))
    async with serve(sandbox) as server, httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(
            "/sys/balance.php", params={"login": login, "psw": password, "fmt": "3"}
        )
    assert response.status_code == 200
    assert "balance" in response.json()
    (request,) = sandbox.requests
    assert request.method == "GET"
    assert request.body == b""
    assert request.params()["psw"] == password


async def test_smsc_connection_dropped_after_processing_is_unknown(
    login: str, password: str, clock: ManualClock
) -> None:
    """A real socket closed with no answer after the send went out: unknown, sent once."""
    sandbox = SmscSandbox(SmscConfig(accounts={login: password}), clock=clock)
    sandbox.faults.script(["drop_after"])
    async with (
        serve(sandbox) as server,
        SmscClient(
            login, password, base_url=server.url, retry=SMSC_READ, send_retry=SMSC_SEND
        ) as smsc,
    ):
        result = await smsc.send(PHONES, "Hi")
    assert not result.sent
    assert not result.failed
    assert set(result.unknown) == set(PHONES)
    assert sandbox.deliveries() == dict.fromkeys(PHONES, 1)


REX_PHONES = ["79160001234", "79160001235"]


async def test_smstele_over_loopback(clock: ManualClock) -> None:
    """REX400's send and status over a socket."""
    sandbox = SmsteleSandbox(SmsteleConfig(), clock=clock)
    async with (
        serve(sandbox) as server,
        SmsteleClient(
            REX_LOGIN, REX_PASSWORD, base_url=server.url, retry=REX_READ, send_retry=REX_SEND
        ) as rex,
    ):
        result = await rex.send(REX_PHONES, "Hello", sender="MyShop")
        assert sorted(result.sent.values()) == REX_PHONES
        report = await rex.status(result.sent)
        assert set(report) == set(result.sent)
    assert len(sandbox.requests) == 2
