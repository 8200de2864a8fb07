"""One-time codes while campaigns run: how long does a high-priority send wait?

A service sends a one-time code (one recipient) every ``--every`` seconds at
``priority="high"`` while 1 or 3 campaigns send at the normal priority on the same
token, to the sandbox's HTTP server (its own process, strict 9/s check):

* ``one process``: the campaigns and the codes use clients in this process, sharing
  the token's process-wide :class:`~smsclub_async.LocalLimiter`;
* ``processes``: each campaign runs in a worker process of its own and the codes in
  this one, every client with a :class:`~smsclub_async.redis.RedisLimiter`.

Reported: the codes' latency (from the call to the answer: p50, p95, max, and how
many), the campaigns' combined rate (their accepted requests per second between their
first and last), the densest window and the 429s at the server.

How a code is sent: with ``SmsClub.send(..., priority="high")`` when the client takes
``priority`` (mode ``send``); before that lands, by taking a high permit from the
client's limiter and posting the same ``/sms/send`` request with httpx (mode
``limiter``), which is what the pipeline will do. The table says which mode ran.

The campaigns get the cap minus the codes' own slots: with a code every second they
cannot exceed 9 / 1.008 - 1 = 7.9 requests/s; the issue's 8.8/s for the campaigns
needs codes no more often than one every 8 s (``--every 8 --size 9000``).

    python benchmarks/bench_lanes.py [--campaigns 1 3] [--every 1.0] [--size N]
        [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import inspect
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _harness as h
import httpx
from bench_redis_limiter import redis_server, wait_until_ready

from smsclub_async import RateLimiter, SmsClub

GOAL_ONE = 0.3  # p95 of the codes' latency, one process
GOAL_MANY = 0.5  # ... across processes
GOAL_RATE = 8.8  # campaigns together, requests per second
CAMPAIGN = {1: 6_000, 3: 3_000}  # recipients per campaign

SEND_TAKES_PRIORITY = "priority" in inspect.signature(SmsClub.send).parameters


def code_sender(
    sms: SmsClub, limiter: RateLimiter, http: httpx.AsyncClient, token: str
) -> Callable[[str], Awaitable[None]]:
    """How this run sends one code at high priority (see the module docstring)."""

    async def with_send(phone: str) -> None:
        await sms.send(phone, "Your code: 1234", sender=h.SENDER, priority="high")

    async def with_limiter(phone: str) -> None:
        permit = await limiter.acquire(priority="high")
        try:
            body = {"phone": [phone], "src_addr": h.SENDER, "message": "Your code: 1234"}
            response = await http.post(
                "/sms/send", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            response.raise_for_status()
        finally:
            permit.done()

    return with_send if SEND_TAKES_PRIORITY else with_limiter


async def send_codes(
    send: Callable[[str], Awaitable[None]], every: float, running: Callable[[], bool]
) -> list[float]:
    """A code every ``every`` seconds while ``running()``; each one's latency."""
    latencies: list[float] = []
    index = 0
    await asyncio.sleep(every / 2)
    while running():
        asked = time.monotonic()
        await send(f"38099{index:07d}")
        latencies.append(time.monotonic() - asked)
        index += 1
        await asyncio.sleep(max(0.0, asked + every - time.monotonic()))
    return latencies


async def one_process(sandbox: h.SandboxProcess, campaigns: int, every: float) -> dict[str, Any]:
    """Campaigns and codes in this process, one token, the process-wide limiter."""
    token = h.unique_token(f"lanes-one-{campaigns}")
    size = CAMPAIGN[campaigns]
    clients = [SmsClub(token=token, base_url=sandbox.url) for _ in range(campaigns + 1)]
    done = 0
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        try:
            for client in clients:
                await client.__aenter__()
            codes = clients[-1]
            send = code_sender(codes, codes.limiter, http, token)

            async def campaign(index: int) -> None:
                nonlocal done
                phones = list(h.phones(size, start=index * 1_000_000))
                await clients[index].send(phones, "Sale today", sender=h.SENDER)
                done += 1

            runs = [asyncio.create_task(campaign(i)) for i in range(campaigns)]
            latencies = await send_codes(send, every, lambda: done < campaigns)
            await asyncio.gather(*runs)
        finally:
            for client in clients:
                await client.__aexit__(None, None, None)
    return judge(sandbox, token, latencies, campaigns * size // h.PER_REQUEST)


WORKER_READY = "ready"


async def worker(options: dict[str, Any]) -> None:
    """One campaign through a RedisLimiter; started by ``processes``."""
    from smsclub_async.redis import RedisLimiter  # noqa: PLC0415 - workers only

    limiter = RedisLimiter.from_url(options["redis"], token=options["token"])
    async with (
        limiter,
        SmsClub(token=options["token"], base_url=options["base_url"], limiter=limiter) as sms,
    ):
        await sms.balance()  # warm: this benchmark is about the lanes, not cold starts
        print(WORKER_READY, flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        phones = list(h.phones(options["size"], start=options["start"]))
        await sms.send(phones, "Sale today", sender=h.SENDER)
    print(json.dumps({"late_slots": limiter.late_slots}), flush=True)


async def processes(
    url: str, sandbox: h.SandboxProcess, campaigns: int, every: float
) -> dict[str, Any]:
    """Each campaign in a worker process, the codes here; all through Redis."""
    from smsclub_async.redis import RedisLimiter  # noqa: PLC0415

    token = h.unique_token(f"lanes-many-{campaigns}")
    size = CAMPAIGN[campaigns]
    workers = []
    for index in range(campaigns):
        options = {
            "redis": url,
            "token": token,
            "base_url": sandbox.url,
            "size": size,
            "start": index * 1_000_000,
        }
        workers.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                json.dumps(options),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=h.ROOT,
            )
        )
    limiter = RedisLimiter.from_url(url, token=token)
    async with (
        limiter,
        SmsClub(token=token, base_url=sandbox.url, limiter=limiter) as codes,
        httpx.AsyncClient(base_url=sandbox.url) as http,
    ):
        await codes.balance()
        for process in workers:
            assert process.stdout is not None
            if (await process.stdout.readline()).decode().strip() != WORKER_READY:
                raise SystemExit("a campaign worker failed to start")
        start = time.monotonic() + 0.3
        for process in workers:
            assert process.stdin is not None
            process.stdin.write(f"{start}\n".encode())
            await process.stdin.drain()
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        waiting = [asyncio.create_task(process.wait()) for process in workers]
        send = code_sender(codes, limiter, http, token)
        latencies = await send_codes(send, every, lambda: not all(w.done() for w in waiting))
        await asyncio.gather(*waiting)
    return judge(sandbox, token, latencies, campaigns * size // h.PER_REQUEST)


def judge(
    sandbox: h.SandboxProcess, token: str, latencies: list[float], campaign_requests: int
) -> dict[str, Any]:
    """The codes' latency and the server's view of the run."""
    account = sandbox.account_stats(token)
    times = sandbox.arrival_times(token)
    # The balance calls before the start are not sends; codes are sends of one.
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else 0.0
    return {
        "codes": len(latencies),
        "p50": round(statistics.median(ordered), 4) if ordered else None,
        "p95": round(p95, 4),
        "max": round(max(ordered), 4) if ordered else None,
        "campaign_rate": round((campaign_requests - 1) / span, 3) if span else 0.0,
        "all_rate": round((len(times) - 1) / span, 3) if span else 0.0,
        "densest_window": account["densest_window"],
        "rate_limited": account["rate_limited"],
    }


def render(document: dict[str, Any]) -> str:
    lines = [
        f"One-time codes (one every {document['every']} s, priority high, mode"
        f" {document['mode']}) while campaigns run, strict sandbox at 9/s",
        f"{'where':>12} {'campaigns':>9} {'codes':>5} {'p50 s':>6} {'p95 s':>6} {'max s':>6}"
        f" {'campaigns/s':>11} {'densest':>7} {'429s':>5}",
    ]
    for row in document["rows"]:
        lines.append(
            f"{row['where']:>12} {row['campaigns']:>9} {row['codes']:>5} {row['p50']:>6.3f}"
            f" {row['p95']:>6.3f} {row['max']:>6.3f} {row['campaign_rate']:>11.3f}"
            f" {row['densest_window']:>7} {row['rate_limited']:>5}"
        )
    lines.append(f"goal: {document['goal']} -> {h.ok(document['goal_met'])}")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        asyncio.run(worker(json.loads(sys.argv[2])))
        return
    cli = h.parser(__doc__.splitlines()[0] if __doc__ else "Lanes benchmark")
    cli.add_argument("--campaigns", type=int, nargs="+", default=None, choices=[1, 3])
    cli.add_argument("--every", type=float, default=1.0, help="seconds between two codes")
    cli.add_argument("--size", type=int, default=None, help="recipients per campaign")
    args = cli.parse_args()
    counts = args.campaigns or ([1] if args.quick else [1, 3])
    if args.quick:
        CAMPAIGN.update({1: 1_000, 3: 600})
    if args.size:
        CAMPAIGN.update({1: args.size, 3: args.size})

    from smsclub_async.redis import DEFAULT_HORIZON  # noqa: PLC0415

    rows = []
    with redis_server() as url, h.SandboxProcess(rate_limit=h.CAP, gc=False) as sandbox:
        wait_until_ready(url, int(DEFAULT_HORIZON) + 2)
        for count in counts:
            h.log(args, f"{count} campaign(s), one process")
            row = asyncio.run(one_process(sandbox, count, args.every))
            rows.append({"where": "one process", "campaigns": count, **row})
            h.log(args, f"{count} campaign(s), processes through Redis")
            row = asyncio.run(processes(url, sandbox, count, args.every))
            rows.append({"where": "processes", "campaigns": count, **row})
    met = all(
        row["rate_limited"] == 0
        and row["p95"] <= (GOAL_ONE if row["where"] == "one process" else GOAL_MANY)
        and (row["campaigns"] != 3 or row["campaign_rate"] >= GOAL_RATE)
        for row in rows
    )
    goal = (
        f"no 429; code p95 <= {GOAL_ONE} s in one process, <= {GOAL_MANY} s across"
        f" processes; 3 campaigns together >= {GOAL_RATE}/s"
    )
    h.emit(
        "lanes",
        args,
        {
            "mode": "send" if SEND_TAKES_PRIORITY else "limiter",
            "every": args.every,
            "campaign_sizes": CAMPAIGN,
            "rows": rows,
            "goal": goal,
            "goal_met": met,
        },
        render,
    )


if __name__ == "__main__":
    main()
