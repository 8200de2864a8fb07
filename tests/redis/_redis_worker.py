"""One process of the multi-process test: N coroutines acquiring from a RedisLimiter.

Usage: python _redis_worker.py URL TOKEN RATE COROUTINES DURATION HORIZON

Prints ``ready`` once connected, then reads the start time (``time.monotonic``, which
is CLOCK_MONOTONIC and so the same clock in every process) from stdin, runs until
start + DURATION, and prints the admission times as a JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from smsclub_async.redis import RedisLimiter


async def main(argv: list[str]) -> list[float]:
    url, token, rate, coroutines, duration, horizon = argv
    times: list[float] = []
    async with RedisLimiter.from_url(
        url, token=token, rate=int(rate), horizon=float(horizon)
    ) as limiter:
        await limiter._client.ping()
        print("ready", flush=True)
        start = float(await asyncio.to_thread(sys.stdin.readline))
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        deadline = start + float(duration)

        async def run() -> None:
            while time.monotonic() < deadline:
                await limiter.acquire()
                times.append(time.monotonic())

        await asyncio.gather(*(run() for _ in range(int(coroutines))))
    return times


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))), flush=True)
