"""Fixtures for the Redis limiter tests: a real redis-server on a loopback port.

Without a ``redis-server`` binary on PATH these tests are skipped, except under CI
(the ``CI`` environment variable set), where they fail: CI must run
``scripts/ensure-redis-server.sh`` first.

This folder is the package ``tests.redis`` (``tests/`` has an ``__init__.py`` too):
as a bare folder on ``sys.path`` it could be mistaken for the ``redis`` package.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio

from smsclub_async.redis import RedisLimiter

from ._redis_support import TEST_HORIZON, LimiterFactory, RedisServer, redis_server_binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session, past its start-up quarantine."""
    server = RedisServer(redis_server_binary())
    server.start()
    try:
        server.wait_out_quarantine()
        yield server
    finally:
        server.stop()


@pytest.fixture
def spare_redis_server() -> Iterator[RedisServer]:
    """A private, not yet started server, for tests that crash or restart it."""
    server = RedisServer(redis_server_binary())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token() -> str:
    """A token unique to the test, shaped like a real one and easy to spot in text."""
    return f"TOKEN-{uuid.uuid4().hex}-SECRET"


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """An asyncio client of the session server, closed after the test."""
    client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def make_limiter(
    redis_client: redis.asyncio.Redis, token: str
) -> AsyncIterator[LimiterFactory]:
    """Build limiters on the session server (test token, horizon 1 s) and close them."""
    made: list[RedisLimiter] = []

    def make(**options: Any) -> RedisLimiter:
        options.setdefault("token", token)
        options.setdefault("horizon", TEST_HORIZON)
        limiter = RedisLimiter(redis_client, **options)
        made.append(limiter)
        return limiter

    try:
        yield make
    finally:
        for limiter in made:
            await limiter.aclose()
