"""A process that claims overlapping windows of numbers in a journal and prints what it got.

    python -m tests.journal._claimer '{"sqlite": path} | {"redis": url, "prefix": p}' START N

Waits until the epoch second ``START`` so that several processes claim at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import redis.asyncio

from smsclub_async.journal import Journal, RedisJournal, SqliteJournal, new_owner


async def main(spec: dict[str, str], start: float, seed: int) -> None:
    client = None
    journal: Journal
    if "sqlite" in spec:
        journal = SqliteJournal(spec["sqlite"])
    else:
        client = redis.asyncio.Redis.from_url(spec["redis"])
        journal = RedisJournal(client, prefix=spec["prefix"])
    phones = [f"38063{i:07d}" for i in range(1000)]
    owner = new_owner()
    fresh: list[str] = []
    await asyncio.sleep(max(0.0, start - time.time()))
    for n in range(20):
        at = (n * 50 + seed * 17) % 1000
        window = (phones + phones)[at : at + 100]
        fresh += (await journal.claim("k", window, owner=owner, lease=30)).fresh
    await journal.aclose()
    if client is not None:
        await client.aclose()
    print(json.dumps(fresh))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
