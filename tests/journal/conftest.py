"""Fixtures of the journal tests: each journal on a patched clock, Redis on loopback.

The Redis fixtures come from ``tests.redis.conftest`` (a real ``redis-server`` on a
loopback port, skipped without the binary, failing under CI).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio

from smsclub_async.journal import Journal, MemoryJournal, RedisJournal, SqliteJournal
from tests.redis._redis_support import RedisServer
from tests.redis.conftest import redis_client, redis_server

__all__ = ["redis_client", "redis_server"]


class Clock:
    """Seconds since the epoch that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


JournalFactory = Callable[..., Journal]


@pytest.fixture
def clock() -> Clock:
    """A clock the journals read; tests move it to expire leases and keys."""
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def make_journal(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[JournalFactory]:
    """Build journals of one kind on ``clock``; two built in a test share their storage."""
    made: list[Journal] = []
    prefix = f"test:{uuid.uuid4().hex}:"
    memory: list[MemoryJournal] = []
    clients: list[redis.asyncio.Redis] = []

    def make(retention: timedelta = timedelta(days=7)) -> Journal:
        journal: Journal
        if request.param == "memory":
            if not memory:  # one process's memory: every "instance" is the same one
                memory.append(MemoryJournal(retention=retention, clock=clock))
            journal = memory[0]
        elif request.param == "sqlite":
            journal = SqliteJournal(tmp_path / "sends.db", retention=retention, clock=clock)
        else:
            server: RedisServer = request.getfixturevalue("redis_server")
            client = redis.asyncio.Redis(host="127.0.0.1", port=server.port)
            clients.append(client)
            journal = RedisJournal(client, prefix=prefix, retention=retention, clock=clock)
        made.append(journal)
        return journal

    try:
        yield make
    finally:
        for journal in made:
            await journal.aclose()
        for client in clients:
            await client.aclose()
