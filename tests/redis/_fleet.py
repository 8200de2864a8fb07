"""A cold fleet: worker processes that share one token through Redis, judged by a
strict loopback server's record of arrivals.

Each worker (:data:`WORKER`, run as ``python -c``) imports the library, builds a
fresh ``SmsClub`` with a fresh ``RedisLimiter`` (no connection to Redis or to the
server yet: everything starts cold), prints ``ready``, reads the start time
(``time.monotonic``, one clock for every process on Linux) from stdin, sleeps until
then and sends its share of the recipients (100 per request, up to 10 requests in
flight). It prints what its client and limiter counted. The judge is the server:
:class:`smsclub_async.sandbox.Sandbox` answers 429 to any request that would make a
one-second window hold more than the cap, and stamps every arrival when it reads the
request line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]

WORKER = """
import asyncio, json, os, sys, time

async def main(options):
    os.nice(options["nice"])
    from smsclub_async import SmsClub, SmsClubError
    from smsclub_async.redis import RedisLimiter

    limiter = RedisLimiter.from_url(
        options["redis"], token=options["token"], rate=options["rate"],
        **options.get("limiter", {}),
    )
    async with limiter, SmsClub(
        token=options["token"], base_url=options["base_url"], limiter=limiter
    ) as sms:
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        try:
            result = await sms.send(options["phones"], "fleet", sender="VashZakaz")
        except SmsClubError as error:
            result = error.partial
        report = {
            "sent": len(result.sent) if result else 0,
            "failed": len(result.failed) if result else -1,
            "unknown": len(result.unknown) if result else -1,
            "requests": sms.stats.requests,
            "rate_limited": sms.stats.rate_limited,
            "late_slots": limiter.late_slots,
            "reports": limiter.reports,
        }
    print(json.dumps(report), flush=True)

asyncio.run(main(json.loads(sys.argv[1])))
"""


@dataclass
class FleetRun:
    """What one run of the fleet reported: the start time and each worker's counters."""

    start: float
    reports: list[dict[str, Any]]

    def total(self, key: str) -> int:
        """A counter summed over the workers."""
        return sum(int(report[key]) for report in self.reports)


async def run_fleet(
    *,
    redis_url: str,
    base_url: str,
    token: str,
    processes: int,
    phones: list[str],
    rate: int = 9,
    limiter_options: dict[str, Any] | None = None,
    lead: float = 0.3,
    nice: int = 0,
    limit: float = 120.0,
) -> FleetRun:
    """Start ``processes`` workers, release them together, and collect their reports."""
    loop = asyncio.get_running_loop()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    workers = []
    try:
        for index in range(processes):
            options = {
                "redis": redis_url,
                "base_url": base_url,
                "token": token,
                "rate": rate,
                "phones": phones[index::processes],
                "limiter": limiter_options or {},
                "nice": nice,
            }
            workers.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    WORKER,
                    json.dumps(options),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=ROOT,
                    env=env,
                )
            )
        for worker in workers:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), limit)
            if line.strip() != b"ready":
                _, err = await worker.communicate()
                raise AssertionError(f"a worker did not start: {line!r} {err.decode()}")
        start = loop.time() + lead  # the loop's clock is time.monotonic
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start}\n".encode())
            await worker.stdin.drain()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(worker.communicate() for worker in workers)), limit
        )
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    reports = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return FleetRun(start, reports)
