"""A campaign on taskiq's in-memory broker against the in-process sandbox (no Redis).

    cd examples && python -m worker [--recipients 2000]

Enqueues a campaign (jobs of 10 chunks of 100), lets the "worker" send it at the
gateway's 9 requests a second, prints the report, then re-runs the campaign: nothing
is sent again.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from taskiq import InMemoryBroker

from smsclub_async import LocalLimiter, SmsClub
from smsclub_async.journal import MemoryJournal
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from .campaign import plan_campaign
from .job import CountingLimiter, campaign_report
from .store import MemoryStore
from .tasks import WorkerResources, enqueue_campaign, install, rerun


async def main(recipients: int) -> None:
    sandbox = Sandbox(SandboxConfig(rate_limit=9, balance=Decimal(10**6)))
    store = MemoryStore()
    journal = MemoryJournal()

    @asynccontextmanager
    async def resources() -> AsyncIterator[WorkerResources]:
        limiter = CountingLimiter(LocalLimiter(rate=9))
        transport = SandboxTransport(sandbox)
        async with SmsClub(token="demo", transport=transport, limiter=limiter) as sms:
            yield WorkerResources(sms, store, journal, "demo-worker")

    broker = InMemoryBroker()
    install(broker, resources)
    await broker.startup()
    try:
        phones = [f"38098{i:07d}" for i in range(recipients)]
        campaign = plan_campaign(phones, "Sale today", sender="VashZakaz", campaign_id="demo")
        jobs = await enqueue_campaign(broker, store, journal, campaign)
        print(f"enqueued {jobs} jobs of up to 10 chunks of 100")
        await broker.wait_all()
        report = await campaign_report(store, journal, campaign.id)
        print(report.summary())
        before = len(sandbox.messages())
        print(f"re-run: {await rerun(broker, store, journal, campaign.id)} jobs enqueued")
        await broker.wait_all()
        print(
            f"messages at the sandbox: {before} before the re-run, {len(sandbox.messages())} after"
        )
    finally:
        await broker.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recipients", type=int, default=2000)
    asyncio.run(main(parser.parse_args().recipients))
