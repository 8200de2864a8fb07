"""1. Rate against a strict server: does ``send`` hold 9 requests/s as the server sees it?

At least 300 requests of 100 numbers each go through ``SmsClub.send`` to a sandbox
server in another process that enforces a strict sliding one-second window of 9
arrivals per token. Reported per run, from the server's own records: arrivals, 429s,
the densest one-second window of arrivals, and the sustained rate ((n - 1) / span of
the accepted arrivals); from the client: requests / wall time of the call.

Variants: no server latency, and 0-20 ms of random latency on every answer; each on
httpx's own transport (the limiter learns wire times from httpcore's trace extension)
and on the aiohttp-backed httpx transport (no trace events: the limiter falls back to
admission times), if ``httpx-aiohttp`` is installed.

Goal: >= 8.9 requests/s sustained, densest window <= 9, zero 429s.

    python benchmarks/bench_rate.py [--requests 300] [--reps 3] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import _harness as h

from smsclub_async import SmsClub

LATENCY = (0.0, 0.02)


async def one_run(
    transport: str, latency: tuple[float, float] | None, requests: int
) -> dict[str, Any]:
    """One ``send`` of ``requests`` x 100 numbers to a fresh strict server."""
    token = h.unique_token(f"rate-{transport}")
    with h.SandboxProcess(rate_limit=h.CAP, latency=latency) as server:
        http_transport = h.aiohttp_transport() if transport == "aiohttp" else None
        limiter = h.RecordingLimiter()
        async with SmsClub(
            token, base_url=server.url, transport=http_transport, limiter=limiter
        ) as sms:
            numbers = list(h.phones(requests * h.PER_REQUEST))
            started = time.perf_counter()
            result = await sms.send(numbers, "rate benchmark", sender=h.SENDER)
            wall = time.perf_counter() - started
            client_429 = sms.stats.rate_limited
        stats = server.account_stats(token)
        times = server.arrival_times(token)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "requests": stats["arrivals"],
        "sent": len(result.sent),
        "wall_s": round(wall, 3),
        "rate_wall": round(stats["arrivals"] / wall, 3),
        "rate_sustained": round((len(times) - 1) / span, 3) if span else None,
        "densest_window": stats["densest_window"],
        "client_densest_window": limiter.densest(),
        "rate_limited": stats["rate_limited"],
        "client_seen_429": client_429,
    }


async def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--requests", type=int, default=None)
    cli.add_argument("--transports", default="httpx,aiohttp")
    args = cli.parse_args()
    requests = args.requests or (12 if args.quick else 300)
    reps = args.reps or (1 if args.quick else 3)
    transports = [t for t in args.transports.split(",") if t != "aiohttp" or h.has_aiohttp()]
    variants = []
    for transport in transports:
        for latency in (None, LATENCY):
            runs = []
            for rep in range(reps):
                h.log(args, f"rate: {transport} latency={latency} run {rep + 1}/{reps}")
                runs.append(await one_run(transport, latency, requests))
            variants.append(_variant(transport, latency, runs))
    results = {
        "requests_per_run": requests,
        "repetitions": reps,
        "goal": {"rate_sustained_min": 8.9, "densest_window_max": h.CAP, "rate_limited": 0},
        "variants": variants,
        "goal_met": all(v["goal_met"] for v in variants),
    }
    h.emit("rate", args, results, _render)


def _variant(
    transport: str, latency: tuple[float, float] | None, runs: list[dict[str, Any]]
) -> dict[str, Any]:
    sustained = [r["rate_sustained"] or 0.0 for r in runs]
    densest = max(r["densest_window"] for r in runs)
    limited = sum(r["rate_limited"] for r in runs)
    return {
        "transport": transport,
        "latency_ms": [int(x * 1000) for x in latency] if latency else None,
        "rate_sustained": h.summary(sustained, 3),
        "rate_wall": h.summary([r["rate_wall"] for r in runs], 3),
        "densest_window_max": densest,
        "client_densest_window_max": max(r["client_densest_window"] for r in runs),
        "rate_limited_total": limited,
        "runs": runs,
        "goal_met": min(sustained) >= 8.9 and densest <= h.CAP and limited == 0,
    }


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"rate against a strict {h.CAP}/s server, {doc['requests_per_run']} requests x"
        f" {doc['repetitions']} runs",
        f"{'transport':10} {'latency':9} {'sustained/s (median, min-max)':32}"
        f" {'wall rate/s':12} {'densest':8} {'client':7} {'429s':5} goal",
    ]
    for v in doc["variants"]:
        s = v["rate_sustained"]
        latency = f"{v['latency_ms'][0]}-{v['latency_ms'][1]}ms" if v["latency_ms"] else "none"
        lines.append(
            f"{v['transport']:10} {latency:9} {s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"
            f"{'':12} {v['rate_wall']['median']:<12.3f} {v['densest_window_max']:<8}"
            f" {v['client_densest_window_max']:<7}"
            f" {v['rate_limited_total']:<5} {h.ok(v['goal_met'])}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
