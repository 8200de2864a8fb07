"""A worker's resources: its client on the shared limiter, its store and journal.

:func:`production_resources` opens them from :class:`Settings`, once per worker
process and on the event loop the jobs run on; every engine's start-up hook (or,
for Celery, every task) uses it the same way.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis

from smsclub_async import SmsClub
from smsclub_async.journal import Journal, RedisJournal
from smsclub_async.redis import DEFAULT_HORIZON, DEFAULT_REDIS_TIMEOUT, RedisLimiter

from .job import DEFAULT_CONCURRENCY, CountingLimiter
from .store import CampaignStore, RedisStore, worker_name

__all__ = ["ResourceFactory", "Settings", "WorkerResources", "production_resources"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """How a worker connects; :meth:`from_env` reads ``SMSCLUB_WORKER_*`` variables.

    Attributes:
        redis_url: the broker's, the store's and the journal's Redis
            (``SMSCLUB_WORKER_REDIS``); ``None`` runs everything in one process
            (InMemoryBroker, MemoryStore, MemoryJournal).
        limiter_url: the limiter's Redis (``SMSCLUB_WORKER_LIMITER_REDIS``), by
            default ``redis_url``. The store must persist, the schedule need not.
        queue: the broker's queue name (``SMSCLUB_WORKER_QUEUE``).
        store_prefix: the prefix of the store's Redis keys.
        journal_prefix: the prefix of the send journal's Redis keys.
        token, base_url: the gateway's (``SMSCLUB_TOKEN``, ``SMSCLUB_BASE_URL``).
        rate: the token's cap, the same in every process (``SMSCLUB_WORKER_RATE``).
        margin, horizon, redis_timeout: the ``RedisLimiter``'s, the same everywhere.
            ``margin`` is 20 ms rather than the limiter's 8 ms: a worker's loop is
            busy (JSON, store writes), and a slot it wakes up for more than
            ``margin / 2`` late is forfeited. Measured with 4 workers on 2 cores:
            8 ms forfeits a slot now and then (94-99 % of the cap), 20 ms none (98 %).
        concurrency: chunks of one job in flight at once.
        concurrent_jobs: jobs running at once over all workers (for the time-out).
    """

    redis_url: str | None = None
    limiter_url: str | None = None
    queue: str = "smsclub"
    store_prefix: str = "smsclub:campaign:"
    journal_prefix: str = "smsclub:journal:"
    token: str | None = None
    base_url: str | None = None
    rate: int = 9
    margin: float = 0.02
    horizon: float = DEFAULT_HORIZON
    redis_timeout: float = DEFAULT_REDIS_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    concurrent_jobs: int = 4

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the environment."""
        env = os.environ
        return cls(
            redis_url=env.get("SMSCLUB_WORKER_REDIS") or None,
            limiter_url=env.get("SMSCLUB_WORKER_LIMITER_REDIS") or None,
            queue=env.get("SMSCLUB_WORKER_QUEUE", "smsclub"),
            token=env.get("SMSCLUB_TOKEN") or None,
            base_url=env.get("SMSCLUB_BASE_URL") or None,
            rate=int(env.get("SMSCLUB_WORKER_RATE", "9")),
            concurrent_jobs=int(env.get("SMSCLUB_WORKER_CONCURRENT_JOBS", "4")),
        )


@dataclass(frozen=True, slots=True)
class WorkerResources:
    """What a worker process holds for its life: its client, store, journal and name."""

    sms: SmsClub
    store: CampaignStore
    journal: Journal
    worker: str


ResourceFactory = Callable[[], AbstractAsyncContextManager[WorkerResources]]
"""Opens a worker's resources (called once per worker process, on its loop)."""


@asynccontextmanager
async def production_resources(settings: Settings) -> AsyncIterator[WorkerResources]:
    """A client on the shared Redis limiter, the Redis store and the Redis journal.

    The limiter fails closed: while its Redis is unreachable no request is sent,
    and :func:`job.run_job` gives the chunk back and tries again.
    """
    if settings.redis_url is None:
        raise ValueError("production_resources needs Settings.redis_url")
    token = settings.token or os.environ.get("SMSCLUB_TOKEN")
    if not token:
        raise ValueError("no token: set SMSCLUB_TOKEN")
    limiter = RedisLimiter.from_url(
        settings.limiter_url or settings.redis_url,
        token=token,
        rate=settings.rate,
        margin=settings.margin,
        horizon=settings.horizon,
        redis_timeout=settings.redis_timeout,
    )
    store_redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        async with (
            limiter,
            SmsClub(
                token=token,
                base_url=settings.base_url,
                limiter=CountingLimiter(limiter),
                max_concurrency=settings.concurrency,
            ) as sms,
        ):
            store = RedisStore(store_redis, prefix=settings.store_prefix)
            journal = RedisJournal(store_redis, prefix=settings.journal_prefix)
            yield WorkerResources(sms, store, journal, worker_name())
    finally:
        await store_redis.aclose()
