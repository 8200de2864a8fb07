"""2. Bulk wall time against the physical limit of 9 requests/s x 100 numbers.

A bulk ``send`` of 10,000 and of 100,000 recipients (100 and 1,000 requests) to a
strict 9/s sandbox server in another process. The physical limit is
``requests / 9`` seconds (10,000 recipients: 11.1 s; 100,000: 111.1 s); the ratio
``wall / (requests / 9)`` says how close the client gets to it.

Goal: ratio <= 1.02 for both sizes, with no 429s.

    python benchmarks/bench_bulk.py [--sizes 10000,100000] [--reps 3] [--big-reps 1]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import _harness as h

from smsclub_async import SmsClub

BIG = 100_000


async def one_run(recipients: int) -> dict[str, Any]:
    """One ``send`` of ``recipients`` numbers to a fresh strict server."""
    token = h.unique_token("bulk")
    with h.SandboxProcess(rate_limit=h.CAP) as server:
        limiter = h.RecordingLimiter()
        async with SmsClub(token, base_url=server.url, limiter=limiter) as sms:
            numbers = list(h.phones(recipients))
            started = time.perf_counter()
            result = await sms.send(numbers, "bulk benchmark", sender=h.SENDER)
            wall = time.perf_counter() - started
        stats = server.account_stats(token)
    requests = stats["arrivals"]
    return {
        "requests": requests,
        "sent": len(result.sent),
        "wall_s": round(wall, 3),
        "limit_s": round(requests / h.CAP, 3),
        "ratio": round(wall / (requests / h.CAP), 4),
        "densest_window": stats["densest_window"],
        "client_densest_window": limiter.densest(),
        "rate_limited": stats["rate_limited"],
    }


async def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--sizes", default=None, help="comma-separated recipient counts")
    cli.add_argument("--big-reps", type=int, default=1, help=f"repetitions of sizes >= {BIG}")
    args = cli.parse_args()
    default_sizes = "1000" if args.quick else f"10000,{BIG}"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    reps = args.reps or (1 if args.quick else 3)
    rows = []
    for size in sizes:
        size_reps = args.big_reps if size >= BIG else reps
        runs = []
        for rep in range(size_reps):
            h.log(args, f"bulk: {size} recipients, run {rep + 1}/{size_reps}")
            runs.append(await one_run(size))
        ratio = h.summary([r["ratio"] for r in runs])
        rows.append(
            {
                "recipients": size,
                "requests": runs[0]["requests"],
                "limit_s": runs[0]["limit_s"],
                "wall_s": h.summary([r["wall_s"] for r in runs], 3),
                "ratio": ratio,
                "densest_window_max": max(r["densest_window"] for r in runs),
                "client_densest_window_max": max(r["client_densest_window"] for r in runs),
                "rate_limited_total": sum(r["rate_limited"] for r in runs),
                "all_sent": all(r["sent"] == size for r in runs),
                "runs": runs,
                "goal_met": ratio["max"] <= 1.02 and all(r["rate_limited"] == 0 for r in runs),
            }
        )
    results = {
        "repetitions": reps,
        "big_repetitions": args.big_reps,
        "goal": {"ratio_max": 1.02},
        "sizes": rows,
        "goal_met": all(r["goal_met"] for r in rows),
    }
    h.emit("bulk", args, results, _render)


def _render(doc: dict[str, Any]) -> str:
    lines = [
        "bulk send vs the limit (requests / 9 s)",
        f"{'recipients':>10} {'requests':>8} {'limit s':>8} {'wall s (median, min-max)':>26}"
        f" {'ratio':>7} {'runs':>4} {'densest':>7} {'429s':>4} goal",
    ]
    for r in doc["sizes"]:
        w = r["wall_s"]
        lines.append(
            f"{r['recipients']:>10} {r['requests']:>8} {r['limit_s']:>8.2f}"
            f" {w['median']:>9.2f} ({w['min']:.2f}-{w['max']:.2f}) {r['ratio']['median']:>9.4f}"
            f" {len(r['runs']):>4} {r['densest_window_max']:>7} {r['rate_limited_total']:>4}"
            f" {h.ok(r['goal_met'])}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
