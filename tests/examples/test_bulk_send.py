"""examples/bulk_send.py: progress per request, and a cancel that keeps every issued id."""

from __future__ import annotations

import asyncio
import io
import uuid
from decimal import Decimal

import pytest

from smsclub_async import SendResult, SmsClub
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, SandboxTransport

from ._load import load_example

bulk_send = load_example("bulk_send")

SENDER = "VashZakaz"


def slow_sandbox() -> Sandbox:
    """Send answers take 50 to 300 ms (seeded), so requests finish one by one and a
    cancel after the first lands with others in flight."""
    return Sandbox(
        SandboxConfig(rate_limit=None, balance=Decimal(10**6)),
        faults=Faults(seed=3, latency=(0.05, 0.3)),
    )


def running_tasks() -> list[asyncio.Task[object]]:
    """Tasks left besides this test's own (a finalizer closing a forgotten generator
    counts: everything should have been closed already)."""
    return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]


def client(sandbox: Sandbox) -> SmsClub:
    return SmsClub(
        token=f"bulk-{uuid.uuid4().hex}",
        transport=SandboxTransport(sandbox),
        rate_limit=1000,
        max_concurrency=3,
    )


async def test_progress_is_reported_per_request_and_the_result_is_complete() -> None:
    """250 recipients are 3 requests: three progress reports, counting up to 250, and
    a result whose ids are exactly the messages the gateway accepted."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    phones = bulk_send.demo_phones(250)
    seen: list[tuple[int, int | None, int]] = []

    def on_progress(progress: object, part: SendResult) -> None:
        seen.append((progress.done, progress.total, part.recipients))  # type: ignore[attr-defined]

    async with client(sandbox) as sms:
        job = bulk_send.BulkSend(sms, phones, "Sale", sender=SENDER, on_progress=on_progress)
        result = await job.run()

    assert sorted(n for _, _, n in seen) == [50, 100, 100]
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
    assert seen[-1][:2] == (250, 250)
    assert not job.cancelled
    assert result.ok
    assert result.sent == {m.id: m.phone for m in sandbox.messages()}


async def test_cancel_keeps_what_was_sent_and_reraises() -> None:
    """Cancel a 2,000-recipient job after its first progress report: the task ends
    cancelled, and the job's result holds every message the gateway accepted, with
    its id or as unknown (in flight at the cancel), never as failed; nothing is
    left running."""
    sandbox = slow_sandbox()
    phones = bulk_send.demo_phones(2000)
    first_report = asyncio.Event()

    async with client(sandbox) as sms:
        job = bulk_send.BulkSend(
            sms, phones, "Sale", sender=SENDER, on_progress=lambda *_: first_report.set()
        )
        task = asyncio.create_task(job.run())
        await first_report.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert job.cancelled
    result = job.result
    accepted = {m.id: m.phone for m in sandbox.messages()}
    assert 0 < len(accepted) < len(phones), "the cancel should land mid-way"
    # Every id the gateway issued and answered is kept, with the right phone.
    assert result.sent.items() <= accepted.items()
    # What went out without its answer reaching us is "maybe sent", not "failed".
    delivered_phones = set(accepted.values())
    assert delivered_phones <= set(result.sent.values()) | set(result.unknown)
    assert not delivered_phones & set(result.failed)
    assert result.unknown, "requests were in flight when the cancel came"
    assert all("cancelled" in why for why in result.unknown.values())
    # Recipients never attempted are in no map: the job knows how many.
    assert result.recipients < len(phones)
    assert running_tasks() == []

    out = io.StringIO()
    bulk_send.summary(job, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"cancelled: {len(result.sent)} sent")
    assert "not attempted" in lines[0]
    assert lines[1:] == [f"{i},{p}" for i, p in result.sent.items()]


async def test_main_stops_at_its_deadline_and_prints_the_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo's ``--stop-after`` deadline cancels the job; the summary still lists
    every id that was issued."""
    code = await bulk_send.main(["--recipients", "5000", "--stop-after", "0.5"])
    out, err = capsys.readouterr()
    assert code == 1  # not everyone was sent
    assert "deadline reached" in err
    assert "recipients: +" in err  # progress lines
    first, *ids = out.splitlines()
    assert first.startswith("cancelled: ")
    assert ids
    assert all(line.count(",") == 1 for line in ids)
