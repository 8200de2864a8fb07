"""wait_for_final and track poll only what is pending, back off, stop on time."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import respx

from smsclub_async import DeliveryStatus, SmsClub

from .conftest import NO_WAIT, fake_clock


def statuses(**by_id: str) -> httpx.Response:
    return httpx.Response(200, json={"success_request": {"info": by_id}})


@fake_clock
async def test_wait_for_final_polls_only_pending_ids_with_backoff(
    gateway: respx.MockRouter, token: str
) -> None:
    """Final ids drop out of later polls; the interval grows between polls."""
    route = gateway.post("/sms/status")
    route.side_effect = [
        statuses(**{"1": "ENROUTE", "2": "DELIVRD"}),
        statuses(**{"1": "ENROUTE"}),
        statuses(**{"1": "UNDELIV"}),
    ]
    loop = asyncio.get_running_loop()
    async with SmsClub(token=token, retry=NO_WAIT, rate_limit=1000) as sms:
        start = loop.time()
        report = await sms.wait_for_final(["1", "2"], interval=2, max_interval=60)
        elapsed = loop.time() - start
    assert report == {"1": DeliveryStatus.UNDELIV, "2": DeliveryStatus.DELIVRD}
    assert report.all_final
    bodies = [json.loads(c.request.content)["id_sms"] for c in route.calls]
    assert bodies == [["1", "2"], ["1"], ["1"]]
    assert elapsed == pytest.approx(2 + 3, abs=0.1)  # 2 s, then 2 * 1.5


@fake_clock
async def test_wait_for_final_returns_what_is_known_at_the_timeout(
    gateway: respx.MockRouter, token: str
) -> None:
    """A message that never settles: the call returns at the timeout, ENROUTE kept."""
    gateway.post("/sms/status").mock(return_value=statuses(**{"7": "ENROUTE"}))
    loop = asyncio.get_running_loop()
    async with SmsClub(token=token, retry=NO_WAIT, rate_limit=1000) as sms:
        start = loop.time()
        report = await sms.wait_for_final(["7", "8"], timeout=30, interval=5)
        assert loop.time() - start == pytest.approx(30, abs=0.1)
    assert report == {"7": DeliveryStatus.ENROUTE}
    assert report.missing == ["8"]
    assert not report.all_final


@fake_clock
async def test_track_yields_each_change_once(gateway: respx.MockRouter, token: str) -> None:
    """track() yields a change only when the status moves."""
    route = gateway.post("/sms/status")
    route.side_effect = [
        statuses(**{"1": "ENROUTE"}),
        statuses(**{"1": "ENROUTE"}),
        statuses(**{"1": "DELIVRD"}),
    ]
    async with SmsClub(token=token, retry=NO_WAIT, rate_limit=1000) as sms:
        changes = [c async for c in sms.track(["1"], interval=1)]
    assert [(c.previous, c.status) for c in changes] == [
        (None, DeliveryStatus.ENROUTE),
        (DeliveryStatus.ENROUTE, DeliveryStatus.DELIVRD),
    ]
    assert changes[-1].is_final


@fake_clock
async def test_track_is_cancellable(gateway: respx.MockRouter, token: str) -> None:
    """Cancelling a tracker mid-wait ends it cleanly, nothing left running."""
    gateway.post("/sms/status").mock(return_value=statuses(**{"1": "ENROUTE"}))
    async with SmsClub(token=token, retry=NO_WAIT, rate_limit=1000) as sms:
        task = asyncio.create_task(sms.wait_for_final(["1"], timeout=None, interval=10))
        await asyncio.sleep(25)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []


async def test_tracking_refuses_nonsense(token: str) -> None:
    """A bad interval: ValueError before any request (no ids at all is an empty report)."""
    async with SmsClub(token=token) as sms:
        assert await sms.wait_for_final([]) == {}
        with pytest.raises(ValueError, match="interval"):
            await sms.wait_for_final(["1"], interval=0)
