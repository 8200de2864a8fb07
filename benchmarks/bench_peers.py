"""3. Peers on the same job: 10,000 recipients, one text, a 9/s-per-token gateway.

* ``ours``: ``SmsClub.send`` (100 numbers a request, limiter, retries), strict server.
* ``sequential``: a loop of single-recipient requests, one after the other, as in the
  gateway's PHP examples (10,000 requests). Measured three ways:
  - against a sandbox with the rate limit off, all of them: its raw wall time (a real
    gateway would refuse most of them, see the next line);
  - against the strict 9/s sandbox, a measured subset: its 429s (each one a recipient
    lost: the examples do not retry), extrapolated to 10,000;
  - paced to 9/s (``asyncio.sleep(1/9)`` between requests), a measured subset against
    the strict server: the wall time for 10,000 is extrapolated from its rate.
* ``gather``: unbounded ``asyncio.gather`` of raw ``httpx`` posts of 100 numbers each
  (100 at once): 429s and recipients lost; then a naive retry loop (wait the
  Retry-After, post every refused request again, at most ``--rounds`` rounds):
  recipients resent, recipients still lost.
* ``gather+aiolimiter``: the same posts behind ``aiolimiter.AsyncLimiter(9, 1)``, if
  aiolimiter is installed (it admits a burst of 9 then 9 more within the same second).

Goal: ours is the fastest of those that get no 429s.

    python benchmarks/bench_peers.py [--recipients 10000] [--reps 3] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import _harness as h
import httpx

from smsclub_async import SmsClub


def _payload(numbers: list[str], text: str) -> str:
    return json.dumps({"phone": numbers, "src_addr": h.SENDER, "message": text})


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def ours(recipients: int) -> dict[str, Any]:
    """``SmsClub.send`` against the strict server."""
    token = h.unique_token("peers-ours")
    with h.SandboxProcess(rate_limit=h.CAP) as server:
        async with SmsClub(token, base_url=server.url) as sms:
            started = time.perf_counter()
            result = await sms.send(list(h.phones(recipients)), "peers ours", sender=h.SENDER)
            wall = time.perf_counter() - started
            retries = sms.stats.retries
        stats = server.account_stats(token)
    return {
        "wall_s": round(wall, 3),
        "requests": stats["arrivals"],
        "rate_limited": stats["rate_limited"],
        "lost": recipients - len(result.sent),
        "resent": retries * h.PER_REQUEST,
    }


async def sequential(
    requests: int, *, rate_limit: int | None, pause: float = 0.0
) -> dict[str, Any]:
    """One request per recipient, one at a time; ``pause`` seconds between them."""
    token = h.unique_token("peers-seq")
    with h.SandboxProcess(rate_limit=rate_limit) as server:
        refused = 0
        async with httpx.AsyncClient(base_url=server.url) as client:
            started = time.perf_counter()
            for number in h.phones(requests):
                response = await client.post(
                    "/sms/send", content=_payload([number], "peers seq"), headers=_headers(token)
                )
                json.loads(response.content)
                refused += response.status_code == 429
                if pause:
                    await asyncio.sleep(pause)
            wall = time.perf_counter() - started
        stats = server.account_stats(token)
    return {
        "requests": requests,
        "wall_s": round(wall, 3),
        "rate": round(requests / wall, 3),
        "rate_limited": stats["rate_limited"],
        "client_seen_429": refused,
        "densest_window": stats["densest_window"],
    }


async def gather(recipients: int, rounds: int, *, limiter: Any = None) -> dict[str, Any]:
    """All 100-number posts at once; refused ones posted again after Retry-After."""
    token = h.unique_token("peers-gather")
    batches = h.chunks(list(h.phones(recipients)))
    with h.SandboxProcess(rate_limit=h.CAP) as server:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(base_url=server.url, limits=limits) as client:

            async def post(batch: list[str]) -> httpx.Response:
                if limiter is not None:
                    async with limiter:
                        return await client.post(
                            "/sms/send", content=_payload(batch, "gather"), headers=_headers(token)
                        )
                return await client.post(
                    "/sms/send", content=_payload(batch, "gather"), headers=_headers(token)
                )

            started = time.perf_counter()
            pending = batches
            first_lost = None
            resent = 0
            done_rounds = 0
            for round_number in range(rounds):
                if round_number:
                    resent += sum(len(b) for b in pending)
                responses = await asyncio.gather(*(post(b) for b in pending))
                done_rounds += 1
                answered = zip(pending, responses, strict=True)
                refused = [b for b, r in answered if r.status_code == 429]
                for response in responses:
                    json.loads(response.content)
                if first_lost is None:
                    first_lost = sum(len(b) for b in refused)
                pending = refused
                if not pending or round_number == rounds - 1:
                    break
                wait = max(float(r.headers.get("retry-after", "1")) for r in responses)
                await asyncio.sleep(wait)
            wall = time.perf_counter() - started
        stats = server.account_stats(token)
    return {
        "wall_s": round(wall, 3),
        "requests": stats["arrivals"],
        "rate_limited": stats["rate_limited"],
        "lost_first_round": first_lost,
        "rounds": done_rounds,
        "resent": resent,
        "lost": sum(len(b) for b in pending),
        "densest_window": stats["densest_window"],
    }


async def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--recipients", type=int, default=None)
    cli.add_argument("--rounds", type=int, default=None, help="naive retry rounds at most")
    args = cli.parse_args()
    quick = args.quick
    recipients = args.recipients or (1000 if quick else 10_000)
    reps = args.reps or (1 if quick else 3)
    rounds = args.rounds or (3 if quick else 20)
    subset = 30 if quick else 300
    paced_subset = 10 if quick else 90

    def step(text: str) -> None:
        h.log(args, f"peers: {text}")

    peers: dict[str, Any] = {}
    runs = []
    for rep in range(reps):
        step(f"ours run {rep + 1}/{reps}")
        runs.append(await ours(recipients))
    peers["ours"] = _peer(runs, "measured, strict 9/s server")

    runs = []
    for rep in range(reps):
        step(f"sequential, no rate limit, run {rep + 1}/{reps}")
        runs.append(await sequential(recipients, rate_limit=None))
    peers["sequential_unlimited_server"] = _peer(
        runs,
        "measured in full against a sandbox with the rate limit OFF; 429s at a real"
        " gateway: see sequential_strict",
    )

    step(f"sequential, strict, {subset} requests")
    strict = await sequential(subset, rate_limit=h.CAP)
    share = strict["rate_limited"] / subset
    peers["sequential_strict"] = {
        "how": f"{subset} requests measured against the strict server; 10,000 extrapolated",
        "subset": strict,
        "wall_s": round(recipients / strict["rate"], 3),
        "rate_limited": round(share * recipients),
        "lost": round(share * recipients),
        "resent": 0,
    }

    runs = []
    for rep in range(reps):
        step(f"sequential paced to 9/s, {paced_subset} requests, run {rep + 1}/{reps}")
        runs.append(await sequential(paced_subset, rate_limit=h.CAP, pause=1 / h.CAP))
    rate = h.summary([r["rate"] for r in runs], 3)
    limited = sum(r["rate_limited"] for r in runs)
    peers["sequential_paced"] = {
        "how": f"{paced_subset} requests x {reps} runs measured; wall for {recipients}"
        " extrapolated from the median rate",
        "subset_rate": rate,
        "subset_rate_limited": limited,
        "wall_s": round(recipients / rate["median"], 1),
        "rate_limited": round(limited / (paced_subset * reps) * recipients),
        "lost": round(limited / (paced_subset * reps) * recipients),
        "resent": 0,
    }

    runs = []
    for rep in range(reps):
        step(f"gather + naive retries, run {rep + 1}/{reps}")
        runs.append(await gather(recipients, rounds))
    peers["gather"] = _peer(runs, f"measured; refused requests posted again, {rounds} rounds max")

    try:
        from aiolimiter import AsyncLimiter  # noqa: PLC0415
    except ImportError:
        peers["gather_aiolimiter"] = {"how": "skipped: aiolimiter is not installed"}
    else:
        runs = []
        for rep in range(reps):
            step(f"gather + aiolimiter, run {rep + 1}/{reps}")
            runs.append(await gather(recipients, rounds, limiter=AsyncLimiter(h.CAP, 1)))
        peers["gather_aiolimiter"] = _peer(runs, "measured; AsyncLimiter(9, 1), naive retries")

    clean = {
        name: p["wall_s"]
        for name, p in peers.items()
        if "wall_s" in p and p["rate_limited"] == 0 and name != "sequential_unlimited_server"
    }
    fastest = min(clean, key=lambda name: _median(clean[name]))
    results = {
        "recipients": recipients,
        "repetitions": reps,
        "peers": peers,
        "fastest_without_429": fastest,
        "goal": "ours is the fastest of the peers that get no 429s",
        "goal_met": fastest == "ours",
    }
    h.emit("peers", args, results, _render)


def _median(value: Any) -> float:
    return float(value["median"] if isinstance(value, dict) else value)


def _peer(runs: list[dict[str, Any]], how: str) -> dict[str, Any]:
    peer: dict[str, Any] = {"how": how, "wall_s": h.summary([r["wall_s"] for r in runs], 3)}
    for key in ("rate_limited", "lost", "resent"):
        peer[key] = max(r.get(key, 0) for r in runs)
    peer["runs"] = runs
    return peer


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"peers on {doc['recipients']} recipients (worst run for 429s/lost/resent)",
        f"{'peer':28} {'wall s':>10} {'429s':>6} {'lost':>6} {'resent':>7}  how",
    ]
    for name, p in doc["peers"].items():
        if "wall_s" not in p:
            lines.append(f"{name:28} {p['how']}")
            continue
        lines.append(
            f"{name:28} {_median(p['wall_s']):>10.2f} {p['rate_limited']:>6} {p['lost']:>6}"
            f" {p['resent']:>7}  {p['how']}"
        )
    lines.append(f"fastest without 429s: {doc['fastest_without_429']} ({h.ok(doc['goal_met'])})")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
