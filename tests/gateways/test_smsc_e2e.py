"""SmscClient against the SMSC emulator: every operation, retries, the duplicate rule."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from smsclub_async import (
    ClientClosedError,
    DeliveryStatus,
    InsufficientFundsError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from smsclub_async.gateways import SMSC_SEND_RETRY, SmscClient, SmscSendResult
from smsclub_async.sandbox import Faults, ManualClock
from smsclub_async.sandbox.gateways import GatewayApp, GatewayTransport, SmscConfig, SmscSandbox

from .conftest import SMSC_READ, SMSC_SEND, SMSC_URL, smsc_client

PHONES = ["77011234567", "77051234568", "77071234569"]


async def test_send_status_lifecycle(smsc: SmscClient, clock: ManualClock) -> None:
    """Accepted -> with the operator (0) -> delivered (1) or undeliverable (20, ends in 9)."""
    result = await smsc.send(PHONES, "Hello", sender="MyShop")
    assert result.ok
    assert sorted(result.sent.values()) == PHONES
    assert result.cost == Decimal("30.00")
    assert result.parts == 3
    assert result.balance == Decimal("970.00")
    report = await smsc.status(result.sent)
    assert set(report.values()) == {DeliveryStatus.ENROUTE}
    clock.advance(1.0)
    report = await smsc.status(result.ids)
    assert report.counts() == {DeliveryStatus.DELIVRD: 2, DeliveryStatus.UNDELIV: 1}
    assert report.all_final
    assert sorted(report.raw.values()) == ["1", "1", "20"]


async def test_deferred_send_waits_with_status_minus_one(
    smsc: SmscClient, clock: ManualClock
) -> None:
    """time=+m: status -1 (PENDING) until then."""
    result = await smsc.send("77011234567", "Later", deferred=timedelta(minutes=5))
    assert (await smsc.status(result.sent)).raw == {f"{result.ids[0]}": "-1"}
    clock.advance(301.0)
    assert set((await smsc.status(result.sent)).values()) == {DeliveryStatus.DELIVRD}


async def test_bulk_send_is_chunked_and_merged(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """250 numbers, 100 per request: three ids, every phone once."""
    phones = [f"7701{n:07d}" for n in range(250)]
    smsc_sandbox.set_balance(login, 10_000)
    async with smsc_client(smsc_sandbox, login, password) as smsc:
        result = await smsc.send(phones, "Hi")
    assert len(result.sent) == 250
    assert len(result.message_ids) == 3
    assert max(smsc_sandbox.deliveries().values()) == 1


async def test_personalised_send(smsc: SmscClient, smsc_sandbox: SmscSandbox) -> None:
    """Each number its own text, line breaks intact."""
    result = await smsc.send_personalized([("77011234567", "one\ntwo"), ("77051234567", "three")])
    assert result.ok
    assert {m.phone: m.text for m in smsc_sandbox.messages()} == {
        "77011234567": "one\ntwo",
        "77051234567": "three",
    }


async def test_invalid_and_undeliverable_numbers_are_failed_per_number(
    smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """op=1 reports error 8 for a number SMSC cannot reach; the rest are sent."""
    result = await smsc.send(["77011234567", "70001234567"], "Hi")
    assert list(result.sent.values()) == ["77011234567"]
    assert "SMSC error 8" in result.failed["70001234567"]
    assert smsc_sandbox.deliveries() == {"77011234567": 1}


async def test_cost_does_not_send(smsc: SmscClient, smsc_sandbox: SmscSandbox) -> None:
    """cost=1 prices a message (parts x price) and sends nothing."""
    cost = await smsc.cost(["77011234567", "77051234567"], "ж" * 71)
    assert (cost.cost, cost.parts) == (Decimal("40.00"), 4)
    assert not smsc_sandbox.messages()


async def test_hlr_lookup(smsc: SmscClient, clock: ManualClock) -> None:
    """hlr=1 then status all=1: the network data of each number."""
    started = await smsc.hlr(["77011234567", "77051234569"])
    clock.advance(1.0)
    results = await smsc.hlr_results(started.sent)
    by_phone = {r.phone: r for r in results.values()}
    assert by_phone["77011234567"].status is DeliveryStatus.DELIVRD
    assert (by_phone["77011234567"].mcc, by_phone["77011234567"].operator) == ("401", "Kcell")
    assert by_phone["77011234567"].imsi.startswith("40102")
    assert by_phone["77051234569"].status is DeliveryStatus.UNDELIV


async def test_not_enough_money(smsc: SmscClient, smsc_sandbox: SmscSandbox, login: str) -> None:
    """Error 3: InsufficientFundsError, the issued id kept, the phone failed."""
    smsc_sandbox.set_balance(login, "1")
    with pytest.raises(InsufficientFundsError) as caught:
        await smsc.send("77011234567", "Hi")
    assert caught.value.fields["message_id"] == caught.value.partial.message_ids[0]
    assert "issued id" in caught.value.partial.failed["77011234567"]


async def test_api_key_login(smsc_sandbox: SmscSandbox) -> None:
    """The emulator accepts the API key; the balance is the key's login's."""
    async with SmscClient(api_key="key-1", transport=GatewayTransport(smsc_sandbox)) as smsc:
        assert (await smsc.balance()).currency == "KZT"


# ----------------------------------------------------------------- retries: codes 4 and 9


@pytest.mark.parametrize("code", [4, 9])
async def test_reads_back_off_on_codes_4_and_9(
    code: int, smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """A read refused with 4 or 9 is retried once (waits off) and then succeeds."""
    smsc_sandbox.script([code])
    assert (await smsc.balance()).money == Decimal("1000.00")
    assert smsc.stats.retries == 1
    assert smsc.stats.rate_limited == 1


@pytest.mark.parametrize("code", [4, 9])
async def test_sends_back_off_on_codes_4_and_9(
    code: int, smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """A send refused before processing is retried and goes out once."""
    refusals = 1 if code == 4 else 3  # a second 4 would ask for 120 s: beyond the policy
    smsc_sandbox.script([code] * refusals)
    result = await smsc.send("77011234567", "Hi")
    assert result.ok
    assert smsc.stats.retries == refusals
    assert smsc_sandbox.deliveries() == {"77011234567": 1}


async def test_a_block_longer_than_the_policy_allows_is_raised(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """Error 4 asks for a minute; a policy that waits at most 30 s stops and says so."""
    smsc_sandbox.script([4])
    policy = dataclasses.replace(SMSC_READ, max_retry_after=30.0)
    async with smsc_client(smsc_sandbox, login, password, retry=policy) as smsc:
        with pytest.raises(RateLimitedError) as caught:
            await smsc.balance()
    assert caught.value.retry_after == 60.0
    assert len(smsc_sandbox.requests) == 1


async def test_a_persistent_block_is_waited_out_once(
    smsc: SmscClient, smsc_sandbox: SmscSandbox
) -> None:
    """The second refusal asks for 120 s, beyond the default 60: RateLimitedError."""
    smsc_sandbox.block(3600)
    with pytest.raises(RateLimitedError, match="temporarily blocked"):
        await smsc.balance()
    assert len(smsc_sandbox.requests) == 2


async def test_the_backoff_really_waits_when_waits_are_on(
    smsc_sandbox: SmscSandbox, login: str, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With waits on, error 4 sleeps the documented minute (the sleep is captured here)."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    smsc_sandbox.script([4])
    policy = dataclasses.replace(SMSC_READ, wait=True)
    async with smsc_client(smsc_sandbox, login, password, retry=policy) as smsc:
        await smsc.balance()
    assert 60.0 in slept


async def test_five_failed_logins_block_the_client(smsc_sandbox: SmscSandbox, login: str) -> None:
    """5 bad logins in 30 minutes block the client: error 4, even with the right password."""
    async with SmscClient(
        login, "wrong", transport=GatewayTransport(smsc_sandbox), retry=SMSC_READ
    ) as bad:
        for _ in range(5):
            with pytest.raises(Exception, match="SMSC error 2"):
                await bad.balance()
    async with SmscClient(
        login,
        "s3cr&t pass/+word",
        transport=GatewayTransport(smsc_sandbox),
        retry=dataclasses.replace(SMSC_READ, max_retry_after=1.0),
    ) as good:
        with pytest.raises(RateLimitedError, match="SMSC error 4"):
            await good.balance()


# ----------------------------------------------------------------- the duplicate rule


async def test_a_callers_repeat_within_a_minute_is_failed_not_sent(
    smsc: SmscClient, smsc_sandbox: SmscSandbox, clock: ManualClock
) -> None:
    """The same message to the same numbers again: error 9, reported failed, not raised."""
    first = await smsc.send(PHONES[:2], "Same text")
    again = await smsc.send(PHONES[:2], "Same text")
    assert first.ok
    assert not again.sent
    assert all("repeat of an identical request" in r for r in again.failed.values())
    clock.advance(61.0)
    later = await smsc.send(PHONES[:2], "Same text")
    assert later.ok
    assert smsc_sandbox.deliveries() == dict.fromkeys(PHONES[:2], 2)


async def test_a_lost_answer_then_a_duplicate_refusal_is_unknown(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """Processed, answer dropped, the retry refused as a repeat: unknown, sent once."""
    smsc_sandbox.faults.script(["drop_after"])
    async with smsc_client(smsc_sandbox, login, password) as smsc:
        result = await smsc.send(PHONES, "Hi")
    assert not result.sent
    assert not result.failed
    assert set(result.unknown) == set(PHONES)
    assert all("error 9" in reason for reason in result.unknown.values())
    assert smsc_sandbox.deliveries() == dict.fromkeys(PHONES, 1)


async def test_a_failure_before_processing_is_retried_and_sent(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """Dropped before processing: the retry sends it, once."""
    smsc_sandbox.faults.script(["drop_before", "error_before"])
    async with smsc_client(smsc_sandbox, login, password) as smsc:
        result = await smsc.send(PHONES, "Hi")
    assert result.ok
    assert smsc_sandbox.deliveries() == dict.fromkeys(PHONES, 1)


async def test_a_5xx_after_processing_is_unknown_when_retries_run_out(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """5xx after processing, then refusals: unknown with the reason, never failed."""
    smsc_sandbox.faults = Faults(seed=1, scope="all")
    smsc_sandbox.faults.script(["error_after", "error_before", "error_before", "error_before"])
    policy = dataclasses.replace(SMSC_SEND, attempts=3)
    async with smsc_client(smsc_sandbox, login, password, send_retry=policy) as smsc:
        with pytest.raises(ServerError) as caught:
            await smsc.send("77011234567", "Hi")
    partial = caught.value.partial
    assert set(partial.unknown) == {"77011234567"}
    assert not partial.failed


async def test_no_retry_after_the_duplicate_window(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """The default send policy stops retrying a maybe-sent request after 45 s of 60."""
    assert SMSC_SEND_RETRY.send_budget == 45.0
    smsc_sandbox.faults.script(["drop_after"])
    policy = dataclasses.replace(SMSC_SEND, duplicate_window=0.0, window_safety=0.0)
    async with smsc_client(smsc_sandbox, login, password, send_retry=policy) as smsc:
        with pytest.raises(TransportError) as caught:
            await smsc.send("77011234567", "Hi")
    assert set(caught.value.partial.unknown) == {"77011234567"}
    assert len(smsc_sandbox.requests) == 1


# ----------------------------------------------------------------- limits and lifecycle


async def test_the_fifteenth_request_in_flight_is_refused_by_the_emulator(
    login: str, password: str, clock: ManualClock
) -> None:
    """15 concurrent requests straight to the emulator (no client, whose pool would
    hold them to 10) draw error 9 for the fifteenth."""
    sandbox = SmscSandbox(
        SmscConfig(accounts={login: password}),
        clock=clock,
        faults=Faults(latency=(0.05, 0.05), scope="all"),
    )
    form = {"login": login, "psw": password, "fmt": "3"}
    async with httpx.AsyncClient(
        transport=GatewayTransport(sandbox), base_url="https://smsc.kz"
    ) as http:
        answers = await asyncio.gather(
            *(http.post("/sys/balance.php", data=form) for _ in range(15))
        )
    refused = [a.json() for a in answers if "error_code" in a.json()]
    assert len(refused) == 1
    assert refused[0]["error_code"] == 9


async def test_the_default_limiter_keeps_fewer_than_15_in_flight(
    login: str, password: str, clock: ManualClock
) -> None:
    """The shared per-login limiter holds 14: 30 concurrent reads, none refused."""
    sandbox = SmscSandbox(
        SmscConfig(accounts={login: password}),
        clock=clock,
        faults=Faults(latency=(0.02, 0.02), scope="all"),
    )
    async with smsc_client(
        sandbox, login, password, retry=dataclasses.replace(SMSC_READ, attempts=1)
    ) as smsc:
        await asyncio.gather(*(smsc.balance() for _ in range(30)))
        assert smsc.limiter.in_flight == 0  # type: ignore[attr-defined]


async def test_lifecycle_and_borrowed_client(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """aclose() twice is fine; a closed client refuses; a borrowed httpx client stays open."""
    async with httpx.AsyncClient(transport=GatewayTransport(smsc_sandbox)) as http:
        smsc = SmscClient(login, password, http_client=http, retry=SMSC_READ)
        await smsc.balance()
        await smsc.aclose()
        await smsc.aclose()
        assert smsc.is_closed
        assert not http.is_closed
        with pytest.raises(ClientClosedError):
            await smsc.balance()


async def test_the_asgi_app_serves_the_emulator(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """GatewayApp through httpx's ASGITransport: the same answers."""
    transport = httpx.ASGITransport(app=GatewayApp(smsc_sandbox))
    async with SmscClient(
        login, password, base_url=SMSC_URL, transport=transport, retry=SMSC_READ
    ) as smsc:
        assert (await smsc.balance()).money == Decimal("1000.00")
        result = await smsc.send("77011234567", "via ASGI")
    assert result.ok


async def test_cancelling_a_send_keeps_the_maybe_sent(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """Cancelled in flight: the partial result says unknown, not failed."""
    smsc_sandbox.faults = Faults(latency=(5.0, 5.0))
    async with smsc_client(smsc_sandbox, login, password) as smsc:
        task = asyncio.ensure_future(smsc.send("77011234567", "Hi"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
    partial = caught.value.partial  # type: ignore[attr-defined]
    assert set(partial.unknown) == {"77011234567"}


async def test_send_iter_streams_and_keeps_unclaimed_on_early_stop(
    smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """Breaking out of send_iter early keeps what finished in ``unclaimed``: no id lost."""
    phones = [f"7701{n:07d}" for n in range(6)]
    async with smsc_client(smsc_sandbox, login, password, chunk_size=2) as smsc:
        async with smsc.send_iter(phones, "Hi") as stream:
            first = await anext(stream)
        seen = SmscSendResult.merged([first, *stream.unclaimed])
    delivered = set(smsc_sandbox.deliveries())
    assert set(seen.sent.values()) <= delivered
    assert set(first.sent.values())


async def test_wait_for_final_polls_until_every_status_is_final(login: str, password: str) -> None:
    """wait_for_final on the emulator: the first poll sees ENROUTE, a later one the end."""
    sandbox = SmscSandbox(SmscConfig(accounts={login: password}, delivery_delay=0.05))
    async with smsc_client(sandbox, login, password) as smsc:
        result = await smsc.send(PHONES, "Hi")
        changes = [c async for c in smsc.track(result.sent, interval=0.03, timeout=5.0)]
        report = await smsc.wait_for_final(result.sent, interval=0.01)
    assert report.all_final
    assert {c.status for c in changes if c.is_final} == {
        DeliveryStatus.DELIVRD,
        DeliveryStatus.UNDELIV,
    }
