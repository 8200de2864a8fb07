"""A cold fleet on one token: 2, 4, 8 and 16 fresh processes through RedisLimiter.

What the gateway sees, from the first request: each run starts N worker processes
(this script with ``--worker``) that import the library, build a fresh ``SmsClub``
with a fresh ``RedisLimiter`` (no connection to Redis or to the gateway yet: cold
connections, like a fleet that just started) and, released together, send their
share of the recipients (100 per request, up to 10 in flight per process) to the
sandbox's HTTP server, which runs in a process of its own and answers 429 to any
request that would put more than the cap in a one-second window. From the server's
record, every run included from its first arrival:

* the densest one-second window (goal: <= the cap) and the 429s (goal: none);
* the share of the cap, (n - 1) / span of the accepted arrivals from the first to the
  last, divided by the cap (goal: >= 95 %), and the same over the first 2 s alone;
* the slots forfeited (callers that woke far too late) and the late wire times the
  workers reported to Redis.

    python benchmarks/bench_fleet.py [--processes 2 4 8 16] [--requests 54]
        [--reps 3] [--rate 9] [--url redis://...] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import _harness as h
from bench_redis_limiter import redis_at, wait_until_ready

GOAL_SHARE = 0.95
FIRST = 2.0  # seconds of the start judged on their own


async def worker(options: dict[str, Any]) -> None:
    """Build everything cold, wait for the start (stdin), send; print the counters."""
    from smsclub_async import SmsClub, SmsClubError  # noqa: PLC0415 - workers only
    from smsclub_async.redis import RedisLimiter  # noqa: PLC0415

    limiter = RedisLimiter.from_url(options["redis"], token=options["token"], rate=options["rate"])
    async with (
        limiter,
        SmsClub(token=options["token"], base_url=options["base_url"], limiter=limiter) as sms,
    ):
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        try:
            result = await sms.send(options["phones"], "fleet", sender=h.SENDER)
        except SmsClubError as error:
            result = error.partial
        report = {
            "sent": len(result.sent) if result else 0,
            "failed": len(result.failed) if result else -1,
            "late_slots": limiter.late_slots,
            "reports": limiter.reports,
        }
    print(json.dumps(report), flush=True)


def run_processes(
    url: str, sandbox: h.SandboxProcess, processes: int, requests: int, rate: int
) -> tuple[str, list[dict[str, Any]]]:
    """One run: ``requests`` requests of 100 split over ``processes`` cold workers."""
    token = h.unique_token(f"fleet-{processes}p")
    numbers = list(h.phones(requests * h.PER_REQUEST))
    workers: list[dict[str, Any]] = []
    for index in range(processes):
        options = {
            "redis": url,
            "token": token,
            "rate": rate,
            "base_url": sandbox.url,
            "phones": numbers[index::processes],
        }
        workers.append(options)
    timeout = requests / rate * 3 + 60
    return token, h.run_workers(__file__, workers, timeout=timeout)


def share(times: list[float], rate: int) -> float:
    """(n - 1) / span of the times, as a share of the cap."""
    if len(times) < 2 or times[-1] == times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0]) / rate


def measure(
    url: str, sandbox: h.SandboxProcess, processes: int, requests: int, rate: int
) -> dict[str, Any]:
    """One run, judged from the sandbox's record of the token's arrivals."""
    token, reports = run_processes(url, sandbox, processes, requests, rate)
    account = sandbox.account_stats(token)
    times = sandbox.arrival_times(token)  # the accepted sends
    first = [t for t in times if t <= times[0] + FIRST] if times else []
    return {
        "arrivals": account["arrivals"],
        "rate_limited": account["rate_limited"],
        "densest_window": account["densest_window"],
        "share_of_cap": round(share(times, rate), 4),
        "share_first_2s": round(share(first, rate), 4),
        "in_first_second": sum(1 for t in times if t < times[0] + 1.0) if times else 0,
        "late_slots": sum(report["late_slots"] for report in reports),
        "reports": sum(report["reports"] for report in reports),
        "sent": sum(report["sent"] for report in reports),
        "failed": sum(report["failed"] for report in reports),
    }


def summarise(processes: int, runs: list[dict[str, Any]], rate: int) -> dict[str, Any]:
    """Medians over the runs of one process count, and whether every run met the goal."""

    def median(key: str) -> float:
        return float(statistics.median(run[key] for run in runs))

    met = [
        run["rate_limited"] == 0
        and run["densest_window"] <= rate
        and run["share_of_cap"] >= GOAL_SHARE
        and run["failed"] == 0
        for run in runs
    ]
    return {
        "processes": processes,
        "median_share_of_cap": median("share_of_cap"),
        "median_share_first_2s": median("share_first_2s"),
        "max_densest_window": max(run["densest_window"] for run in runs),
        "rate_limited": sum(run["rate_limited"] for run in runs),
        "median_reports": median("reports"),
        "late_slots": sum(run["late_slots"] for run in runs),
        "runs_meeting_goal": sum(met),
        "goal_met": all(met),
        "runs": runs,
    }


def render(document: dict[str, Any]) -> str:
    rate = document["rate"]
    lines = [
        f"Cold fleet (fresh processes, SmsClub + RedisLimiter) vs the strict sandbox at"
        f" {rate}/s: {document['requests_per_run']} requests of 100 per run, medians of"
        f" {document['reps']} runs, first arrival included",
        f"{'procs':>5} {'of cap':>7} {'first 2s':>8} {'max densest':>11} {'429s':>5}"
        f" {'reports':>7} {'forfeits':>8} {'runs ok':>8}",
    ]
    for row in document["rows"]:
        lines.append(
            f"{row['processes']:>5} {row['median_share_of_cap']:>7.1%}"
            f" {row['median_share_first_2s']:>8.1%} {row['max_densest_window']:>11}"
            f" {row['rate_limited']:>5} {row['median_reports']:>7g} {row['late_slots']:>8}"
            f" {row['runs_meeting_goal']:>4}/{len(row['runs']):<3}"
        )
    lines.append(f"goal: {document['goal']} -> {h.ok(document['goal_met'])}")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        asyncio.run(worker(json.loads(sys.argv[2])))
        return
    cli = h.parser(__doc__.splitlines()[0] if __doc__ else "Cold fleet benchmark")
    cli.add_argument("--processes", type=int, nargs="+", default=None)
    cli.add_argument("--requests", type=int, default=None, help="requests per run (54)")
    cli.add_argument("--rate", type=int, default=h.CAP)
    cli.add_argument("--url", default=None, help="an existing Redis (default: start one)")
    args = cli.parse_args()
    processes = args.processes or ([2, 4] if args.quick else [2, 4, 8, 16])
    requests = args.requests or (18 if args.quick else 54)
    reps = args.reps or (1 if args.quick else 3)

    from smsclub_async.redis import DEFAULT_HORIZON  # noqa: PLC0415

    rows = []
    with (
        redis_at(args.url) as url,
        h.SandboxProcess(rate_limit=args.rate) as sandbox,
    ):
        wait_until_ready(url, int(DEFAULT_HORIZON) + 2)
        for count in processes:
            runs = []
            for rep in range(reps):
                h.log(args, f"{count} process(es), run {rep + 1}/{reps}: {requests} requests")
                runs.append(measure(url, sandbox, count, requests, args.rate))
            rows.append(summarise(count, runs, args.rate))
    goal = (
        f"in every run, first second included: no 429, densest 1 s window <= {args.rate},"
        f" share of the cap >= {GOAL_SHARE:.0%}, no recipient failed"
    )
    h.emit(
        "fleet",
        args,
        {
            "rate": args.rate,
            "requests_per_run": requests,
            "reps": reps,
            "rows": rows,
            "goal": goal,
            "goal_met": all(row["goal_met"] for row in rows),
        },
        render,
    )


if __name__ == "__main__":
    main()
