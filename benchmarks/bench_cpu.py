"""4. Client CPU per request: our layers vs a bare HTTP loop doing the same requests.

The sandbox server runs in another process with its rate limit off; the client's
CPU is ``time.process_time()`` of this process around the requests. Every variant
sends the same 100-number requests with 10 in flight over at most 10 connections:

* ``bare_httpx``: ``httpx.AsyncClient.post`` + ``json.loads`` in 10 workers;
* ``ours_httpx``: ``SmsClub(rate_limit=100000).send`` (chunking, normalising and
  de-duplicating numbers, limiter, retries, msgspec decoding, per-number results);
* ``bare_aiohttp``: ``aiohttp.ClientSession.post`` + ``json.loads`` in 10 workers;
* ``ours_aiohttp``: ``SmsClub(transport=httpx_aiohttp.AiohttpTransport(...))``.

Each repetition starts a fresh server and runs every variant once (the order rotates
between repetitions), so the ratios ours / bare are taken within one run.

Goal: ours_httpx <= 1.15 x bare_httpx CPU per request.

    python benchmarks/bench_cpu.py [--requests 1000] [--reps 5] [--json] [--quick]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _harness as h
import httpx

from smsclub_async import SmsClub

CONCURRENCY = 10
WARM_UP = 20
HIGH_RATE = 100_000

Variant = Callable[[str, list[list[str]]], Awaitable[None]]


def _body(batch: list[str]) -> bytes:
    return json.dumps({"phone": batch, "src_addr": h.SENDER, "message": "cpu"}).encode()


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def _workers(batches: list[list[str]], send: Callable[[list[str]], Awaitable[None]]) -> None:
    queue = iter(batches)

    async def worker() -> None:
        for batch in queue:
            await send(batch)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def bare_httpx(url: str, warm: list[list[str]], batches: list[list[str]]) -> float:
    """Seconds of CPU for ``batches`` through a bare httpx loop."""
    token = h.unique_token("cpu-bare-httpx")
    headers = _headers(token)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        ids: dict[str, str] = {}

        async def send(batch: list[str]) -> None:
            response = await client.post("/sms/send", content=_body(batch), headers=headers)
            ids.update(json.loads(response.content)["success_request"]["info"])

        await _workers(warm, send)
        cpu = time.process_time()
        await _workers(batches, send)
        return time.process_time() - cpu


async def bare_aiohttp(url: str, warm: list[list[str]], batches: list[list[str]]) -> float:
    """Seconds of CPU for ``batches`` through a bare aiohttp loop."""
    import aiohttp  # noqa: PLC0415

    token = h.unique_token("cpu-bare-aiohttp")
    headers = _headers(token)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:
        ids: dict[str, str] = {}

        async def send(batch: list[str]) -> None:
            async with session.post("/sms/send", data=_body(batch), headers=headers) as response:
                ids.update(json.loads(await response.read())["success_request"]["info"])

        await _workers(warm, send)
        cpu = time.process_time()
        await _workers(batches, send)
        return time.process_time() - cpu


async def _ours(url: str, warm: list[list[str]], batches: list[list[str]], transport: Any) -> float:
    token = h.unique_token("cpu-ours")
    async with SmsClub(
        token,
        base_url=url,
        rate_limit=HIGH_RATE,
        transport=transport,
        max_concurrency=CONCURRENCY,
    ) as sms:
        await sms.send([p for b in warm for p in b], "cpu", sender=h.SENDER)
        numbers = [p for b in batches for p in b]
        cpu = time.process_time()
        result = await sms.send(numbers, "cpu", sender=h.SENDER)
        spent = time.process_time() - cpu
    assert len(result.sent) == len(numbers), "not every number was sent"
    return spent


async def ours_httpx(url: str, warm: list[list[str]], batches: list[list[str]]) -> float:
    """Seconds of CPU for ``batches`` through ``SmsClub.send`` on httpx's transport."""
    return await _ours(url, warm, batches, None)


async def ours_aiohttp(url: str, warm: list[list[str]], batches: list[list[str]]) -> float:
    """Seconds of CPU for ``batches`` through ``SmsClub.send`` on the aiohttp transport."""
    return await _ours(url, warm, batches, h.aiohttp_transport(CONCURRENCY))


VARIANTS = {
    "bare_httpx": bare_httpx,
    "ours_httpx": ours_httpx,
    "bare_aiohttp": bare_aiohttp,
    "ours_aiohttp": ours_aiohttp,
}


async def one_run(names: list[str], requests: int, rep: int) -> dict[str, Any]:
    """Every variant once, on one fresh server, in an order rotated by ``rep``."""
    order = names[rep % len(names) :] + names[: rep % len(names)]
    cpu_per_request: dict[str, float] = {}
    wall: dict[str, float] = {}
    with h.SandboxProcess(rate_limit=None, duplicate_window=0) as server:
        for index, name in enumerate(order):
            base = (rep * len(names) + index) * (requests + WARM_UP) * h.PER_REQUEST
            numbers = list(h.phones((requests + WARM_UP) * h.PER_REQUEST, start=base))
            batches = h.chunks(numbers)
            started = time.perf_counter()
            cpu = await VARIANTS[name](server.url, batches[:WARM_UP], batches[WARM_UP:])
            wall[name] = time.perf_counter() - started
            cpu_per_request[name] = cpu / requests
    return {
        "order": order,
        "cpu_us_per_request": {k: round(v * 1e6, 1) for k, v in cpu_per_request.items()},
        "wall_s": {k: round(v, 3) for k, v in wall.items()},
    }


async def main() -> None:
    cli = h.parser(__doc__.splitlines()[0])
    cli.add_argument("--requests", type=int, default=None)
    args = cli.parse_args()
    requests = args.requests or (30 if args.quick else 1000)
    reps = args.reps or (1 if args.quick else 5)
    names = [n for n in VARIANTS if "aiohttp" not in n or h.has_aiohttp()]
    runs = []
    for rep in range(reps):
        h.log(args, f"cpu: run {rep + 1}/{reps}")
        runs.append(await one_run(names, requests, rep))
    per_request = {
        name: h.summary([r["cpu_us_per_request"][name] for r in runs], 1) for name in names
    }
    ratios: dict[str, Any] = {}
    pairs = (
        ("ours_httpx", "bare_httpx"),
        ("ours_aiohttp", "bare_aiohttp"),
        ("ours_aiohttp", "bare_httpx"),
        ("bare_aiohttp", "bare_httpx"),
    )
    for ours, bare in pairs:
        if ours in names and bare in names:
            ratios[f"{ours}/{bare}"] = h.summary(
                [r["cpu_us_per_request"][ours] / r["cpu_us_per_request"][bare] for r in runs], 3
            )
    overhead = ratios["ours_httpx/bare_httpx"]["median"]
    results = {
        "requests_per_variant": requests,
        "numbers_per_request": h.PER_REQUEST,
        "concurrency": CONCURRENCY,
        "repetitions": reps,
        "cpu_us_per_request": per_request,
        "ratios": ratios,
        "goal": {"ours_httpx/bare_httpx_max": 1.15},
        "goal_met": overhead <= 1.15,
        "runs": runs,
    }
    h.emit("cpu", args, results, _render)


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"client CPU per 100-number request ({doc['requests_per_variant']} requests,"
        f" {doc['concurrency']} in flight, {doc['repetitions']} runs)",
        f"{'variant':14} {'CPU us/request: median (min-max)':34}",
    ]
    for name, s in doc["cpu_us_per_request"].items():
        lines.append(f"{name:14} {s['median']:8.1f} ({s['min']:.1f}-{s['max']:.1f})")
    for name, s in doc["ratios"].items():
        lines.append(f"{name:28} {s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})")
    lines.append(f"goal ours_httpx/bare_httpx <= 1.15: {h.ok(doc['goal_met'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
