"""Worker processes sending through SmsClub + RedisLimiter: do they hold 9/s at the gateway?

What the gateway sees, not what the limiter says: each run starts N worker
processes (this script with ``--worker``) that share one fresh token through a
``RedisLimiter`` and send their share of the recipients with ``SmsClub.send`` (100
per request, up to 10 in flight per process) to the sandbox's HTTP server on
loopback, whose strict sliding-window check answers 429 to any request that makes
a one-second window hold more than the cap. From the sandbox's record of arrivals:

* the densest one-second window (goal: <= the cap) and the 429s (goal: none);
* the combined rate, (n - 1) / span of the accepted requests after the first
  ``--warmup`` seconds (goal: >= 95 % of the cap);
* the tightest span of ``cap + 1`` consecutive arrivals (> 1 s when the cap held;
  the excess is the slack left for jitter);
* the slots the workers' limiters forfeited (their callers woke up late).

Each process count is run ``--reps`` times (3 by default) with a fresh token; the
table shows the medians (the JSON has every run). A throw-away ``redis-server`` is
started on a free loopback port unless ``--url`` is given, and used once past the
limiter's start-up quarantine; the sandbox runs in a process of its own.

    python benchmarks/bench_redis_clients.py [--processes 1 2 4 8] [--requests 54]
        [--reps 3] [--rate 9] [--margin 0.008] [--url redis://...] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

import _harness as h
from bench_redis_limiter import (
    densest_window,
    redis_at,
    steady_rate,
    tightest_span,
    wait_until_ready,
)

GOAL_SHARE = 0.95
WARMUP = 0.5


# --- the worker -------------------------------------------------------------------


async def worker(options: dict[str, Any]) -> None:
    """Send ``phones`` from ``start`` (read from stdin); print the client's counters."""
    from smsclub_async import SmsClub  # noqa: PLC0415 - only the workers need them
    from smsclub_async.redis import RedisLimiter  # noqa: PLC0415

    limiter = RedisLimiter.from_url(
        options["redis"], token=options["token"], rate=options["rate"], margin=options["margin"]
    )
    async with (
        limiter,
        SmsClub(token=options["token"], base_url=options["base_url"], limiter=limiter) as sms,
    ):
        await sms.balance()  # connects to Redis and the sandbox; one slot, not counted
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        result = await sms.send(options["phones"], "Sale today", sender=h.SENDER)
    report = {
        "sent": len(result.sent),
        "requests": sms.stats.requests - 1,
        "late_slots": limiter.late_slots,
    }
    print(json.dumps(report), flush=True)


# --- the parent -------------------------------------------------------------------


def run_processes(
    url: str, sandbox: h.SandboxProcess, processes: int, requests: int, rate: int, margin: float
) -> tuple[str, list[dict[str, Any]]]:
    """One run: ``requests`` requests of 100 split over ``processes`` workers."""
    token = h.unique_token(f"clients-{processes}p")
    numbers = list(h.phones(requests * h.PER_REQUEST))
    shares = [numbers[i::processes] for i in range(processes)]
    workers: list[dict[str, Any]] = []
    for share in shares:
        options = {
            "redis": url,
            "token": token,
            "rate": rate,
            "margin": margin,
            "base_url": sandbox.url,
            "phones": share,
        }
        workers.append(options)
    timeout = requests / rate * 3 + 60
    return token, h.run_workers(__file__, workers, timeout=timeout)


def measure(
    url: str, sandbox: h.SandboxProcess, processes: int, requests: int, rate: int, margin: float
) -> dict[str, Any]:
    """One run, judged from the sandbox's record of the token's arrivals."""
    token, reports = run_processes(url, sandbox, processes, requests, rate, margin)
    account = sandbox.account_stats(token)
    # One accepted send per request; the balance check before the start is not one.
    times = sandbox.arrival_times(token)
    start = times[0] if times else 0.0
    combined = steady_rate(times, start + WARMUP, times[-1]) if times else 0.0
    span = tightest_span(times, rate + 1)
    densest = max(account["densest_window"], densest_window(times))
    return {
        "requests": len(times),
        "arrivals": account["arrivals"],
        "rate_limited": account["rate_limited"],
        "densest_window": densest,
        "tightest_span": round(span, 4) if span is not None else None,
        "combined_rate": round(combined, 3),
        "share_of_cap": round(combined / rate, 4),
        "late_slots": sum(report["late_slots"] for report in reports),
        "sent": sum(report["sent"] for report in reports),
    }


def summarise(processes: int, runs: list[dict[str, Any]], rate: int) -> dict[str, Any]:
    """Medians over the runs of one process count, and whether every run met the goal."""

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs if run[key] is not None)

    met = [
        run["rate_limited"] == 0
        and run["densest_window"] <= rate
        and run["share_of_cap"] >= GOAL_SHARE
        for run in runs
    ]
    return {
        "processes": processes,
        "median_combined_rate": round(median("combined_rate"), 3),
        "median_share_of_cap": round(median("share_of_cap"), 4),
        "median_densest_window": median("densest_window"),
        "max_densest_window": max(run["densest_window"] for run in runs),
        "median_tightest_span": round(median("tightest_span"), 4),
        "rate_limited": sum(run["rate_limited"] for run in runs),
        "median_late_slots": median("late_slots"),
        "runs_meeting_goal": sum(met),
        "goal_met": all(met),
        "runs": runs,
    }


def render(document: dict[str, Any]) -> str:
    rate = document["rate"]
    lines = [
        f"SmsClub + RedisLimiter in N processes vs the strict sandbox at {rate}/s:"
        f" {document['requests_per_run']} requests of 100 per run, medians of"
        f" {document['reps']} runs, margin {document['margin'] * 1e3:g} ms",
        f"{'procs':>5} {'rate/s':>7} {'of cap':>7} {'densest 1s':>10} {'max':>4}"
        f" {f'tightest {rate + 1}':>12} {'429s':>5} {'late':>5} {'runs ok':>8}",
    ]
    for row in document["rows"]:
        lines.append(
            f"{row['processes']:>5} {row['median_combined_rate']:>7.3f}"
            f" {row['median_share_of_cap']:>7.1%} {row['median_densest_window']:>10g}"
            f" {row['max_densest_window']:>4} {row['median_tightest_span']:>12.4f}"
            f" {row['rate_limited']:>5} {row['median_late_slots']:>5g}"
            f" {row['runs_meeting_goal']:>4}/{len(row['runs']):<3}"
        )
    lines.append(f"goal: {document['goal']} -> {h.ok(document['goal_met'])}")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        asyncio.run(worker(json.loads(sys.argv[2])))
        return
    cli = h.parser(__doc__.splitlines()[0] if __doc__ else "Redis clients benchmark")
    cli.add_argument("--processes", type=int, nargs="+", default=None)
    cli.add_argument("--requests", type=int, default=None, help="requests per run (54)")
    cli.add_argument("--rate", type=int, default=h.CAP)
    cli.add_argument("--margin", type=float, default=0.008, help="RedisLimiter margin (s)")
    cli.add_argument("--url", default=None, help="an existing Redis (default: start one)")
    args = cli.parse_args()
    processes = args.processes or ([1, 2] if args.quick else [1, 2, 4, 8])
    requests = args.requests or (12 if args.quick else 54)
    reps = args.reps or (1 if args.quick else 3)

    from smsclub_async.redis import DEFAULT_HORIZON  # noqa: PLC0415

    rows = []
    with (
        redis_at(args.url) as url,
        h.SandboxProcess(rate_limit=args.rate) as sandbox,
    ):
        h.log(args, f"waiting for Redis at {url} to be past its start-up quarantine")
        wait_until_ready(url, int(DEFAULT_HORIZON) + 2)
        for count in processes:
            runs = []
            for rep in range(reps):
                h.log(args, f"{count} process(es), run {rep + 1}/{reps}: {requests} requests")
                runs.append(measure(url, sandbox, count, requests, args.rate, args.margin))
            rows.append(summarise(count, runs, args.rate))
    goal = (
        f"in every run: no 429, densest 1 s window <= {args.rate},"
        f" combined rate >= {GOAL_SHARE:.0%} of the cap"
    )
    h.emit(
        "redis_clients",
        args,
        {
            "rate": args.rate,
            "margin": args.margin,
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
