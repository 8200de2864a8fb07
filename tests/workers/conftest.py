"""Fixtures of the worker tests: the Redis limiter tests' real redis-server on loopback.

The fixtures are imported from ``tests.redis.conftest`` rather than redefined:
``redis_server`` (one server for this folder's tests, past its start-up quarantine)
and ``spare_redis_server`` (a private one, for tests that restart it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from tests.redis._redis_support import RedisServer
from tests.redis.conftest import redis_server, spare_redis_server

__all__ = ["redis_server", "spare_redis_server"]


@pytest.fixture
async def store_redis(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """A client of the session server for the stores, closed after the test."""
    client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield client
    finally:
        await client.aclose()
