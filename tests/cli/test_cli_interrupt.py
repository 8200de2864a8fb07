"""Ctrl-C in process: cancelling a bulk send or a status watch loses nothing."""

from __future__ import annotations

import asyncio
import uuid

from smsclub_async import SmsClub
from smsclub_async.cli._bulk import CANCELLED_BEFORE_SENDING, run_bulk, watch_statuses
from smsclub_async.cli._output import Output, render_send
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from .conftest import SENDER


def client_for(sandbox: Sandbox) -> SmsClub:
    """A client at the real 9 requests/s, with a token no other test shares."""
    return SmsClub(f"cli-{uuid.uuid4().hex}", transport=SandboxTransport(sandbox))


async def test_cancelled_bulk_send_keeps_every_id_the_gateway_issued() -> None:
    """Cancel mid-send (what Ctrl-C does): every message the sandbox accepted is in
    ``sent`` with its id, or in ``unknown`` if its answer was cut off; nobody is lost."""
    sandbox = Sandbox()
    phones = [f"38067{i:07d}" for i in range(1500)]
    first = asyncio.Event()
    async with client_for(sandbox) as client:
        task = asyncio.create_task(
            run_bulk(
                lambda: client.send_iter(phones, "Hi", sender=SENDER),
                phones=phones,
                on_result=lambda _: first.set(),
            )
        )
        await first.wait()
        await asyncio.sleep(0.25)
        task.cancel()
        outcome = await task
    assert outcome.interrupted
    result = outcome.result
    accepted = sandbox.messages()
    assert 0 < len(result.sent) < len(phones)
    for message in accepted:
        assert result.sent.get(message.id) == message.phone or message.phone in result.unknown
    groups = [*result.sent.values(), *result.failed, *result.unknown, *outcome.not_sent]
    assert sorted(groups) == phones


async def test_cancelled_status_watch_keeps_the_last_known_statuses() -> None:
    sandbox = Sandbox(SandboxConfig(delivery_delay=60))
    async with client_for(sandbox) as client:
        sent = await client.send(["380501234567", "380501234568"], "Hi", sender=SENDER)
        task = asyncio.create_task(
            watch_statuses(client, list(sent.sent), timeout=None, interval=0.1, max_interval=0.1)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        outcome = await task
    assert outcome.interrupted
    assert {status.value for status in outcome.report.values()} == {"ENROUTE"}
    assert sorted(outcome.pending) == sorted(sent.sent)


async def test_after_a_cancel_not_sent_is_one_bucket() -> None:
    """Chunks cancelled before their request left are "not sent", with the recipients
    never tried: not also in ``failed`` (two buckets saying the same thing)."""
    sandbox = Sandbox()
    phones = [f"38067{i:07d}" for i in range(3000)]
    first = asyncio.Event()
    async with client_for(sandbox) as client:
        task = asyncio.create_task(
            run_bulk(
                lambda: client.send_iter(phones, "Hi", sender=SENDER),
                phones=phones,
                on_result=lambda _: first.set(),
            )
        )
        await first.wait()
        task.cancel()
        outcome = await task
    assert outcome.interrupted
    assert CANCELLED_BEFORE_SENDING not in outcome.result.failed.values()
    assert outcome.result.failed == {}
    assert outcome.not_sent
    groups = [*outcome.result.sent.values(), *outcome.result.unknown, *outcome.not_sent]
    assert sorted(groups) == phones

    output = Output(json_mode=False)
    with output.out.capture() as captured:
        render_send(output, outcome, ids_saved_to="ids.csv")
    text = captured.get()
    assert text.count("not sent") == 1
    assert "not sent (stopped first)" in text
    assert f"{len(outcome.not_sent):,}" in text
