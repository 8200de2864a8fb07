"""The taskiq side: one task (``smsclub.send_chunks``), worker resources, enqueueing.

* :func:`install` registers the task on any taskiq broker, with startup and
  shutdown hooks that open and close the worker's resources (client, limiter, store)
  once per worker process, on its event loop.
* :func:`resources.production_resources` builds them from :class:`Settings`: a
  ``SmsClub`` on a ``CountingLimiter(RedisLimiter)``, a ``RedisStore`` and a
  ``RedisJournal``.
* :func:`create_broker` picks the broker: taskiq-redis's ``ListQueueBroker``
  (:func:`redis_broker`) when a Redis URL is configured, else taskiq's
  ``InMemoryBroker`` (one process, for trying it out).
* :func:`enqueue_campaign` / :func:`rerun` kick the jobs with a time-out label
  sized to the job (see :func:`campaign.job_timeout`).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, InMemoryBroker, TaskiqDepends, TaskiqState
from taskiq.events import TaskiqEvents

from .campaign import Campaign, job_timeout
from .job import DEFAULT_CONCURRENCY, rerun_campaign, run_job, start_campaign
from .resources import ResourceFactory, Settings, WorkerResources, production_resources
from .store import CampaignStore

if TYPE_CHECKING:
    from smsclub_async.journal import Journal

__all__ = [
    "SEND_CHUNKS",
    "Settings",
    "WorkerResources",
    "create_broker",
    "enqueue_campaign",
    "install",
    "production_resources",
    "redis_broker",
    "rerun",
]

SEND_CHUNKS = "smsclub.send_chunks"
"""The task's name: fixed, so that producers and workers agree whatever the module path."""

_STATE_KEY = "smsclub_worker"
_GATE_KEY = "smsclub_worker_gate"


def install(
    broker: AsyncBroker,
    resources: ResourceFactory,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncTaskiqDecoratedTask[Any, Any]:
    """Register ``smsclub.send_chunks`` on ``broker`` and the hooks that open ``resources``.

    Args:
        broker: any taskiq broker.
        resources: opens the worker's client and store (once per worker process).
        concurrency: chunks in flight at once in a worker, over all the jobs it runs
            (at most the client's connection pool, 10).

    Returns:
        The task: ``await task.kiq(campaign_id, chunk_indexes)`` enqueues a job.
    """
    stack = AsyncExitStack()

    async def startup(state: TaskiqState) -> None:
        state[_STATE_KEY] = await stack.enter_async_context(resources())
        # One gate for all the jobs the worker runs at once (see run_job's ``gate``).
        state[_GATE_KEY] = asyncio.Semaphore(concurrency)

    async def shutdown(state: TaskiqState) -> None:
        await stack.aclose()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, startup)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, shutdown)

    async def send_chunks(
        campaign_id: str,
        chunks: list[int],
        state: TaskiqState = TaskiqDepends(),  # noqa: B008 - taskiq's dependency injection
    ) -> dict[str, int]:
        worker: WorkerResources = state[_STATE_KEY]
        summary = await run_job(
            worker.sms,
            worker.store,
            worker.journal,
            campaign_id,
            chunks,
            gate=state[_GATE_KEY],
        )
        return summary.as_dict()

    return broker.register_task(send_chunks, task_name=SEND_CHUNKS)


def redis_broker(settings: Settings) -> AsyncBroker:
    """taskiq-redis's ``ListQueueBroker`` on ``settings.redis_url`` (``pip install taskiq-redis``).

    Its connections get no socket time-out: a worker waits for jobs in a ``BRPOP``
    with none, and redis-py 8 times reads out after 5 s by default, which makes an
    idle receiver fail and restart every 5 s. TCP keep-alive notices a dead Redis.

    A job popped by a worker that then dies is gone from the queue; that is what
    :func:`rerun` is for. (``RedisStreamBroker`` redelivers such jobs by itself after
    its ``idle_timeout``; the send journal makes that safe too.)
    """
    from taskiq_redis import ListQueueBroker  # noqa: PLC0415 - only needed with Redis

    if settings.redis_url is None:
        raise ValueError("redis_broker needs Settings.redis_url")
    return ListQueueBroker(
        settings.redis_url, queue_name=settings.queue, socket_timeout=None, socket_keepalive=True
    )


def create_broker(settings: Settings | None = None) -> AsyncBroker:
    """The broker for ``settings`` (from the environment by default), task installed.

    With a Redis URL, :func:`redis_broker`; without, taskiq's ``InMemoryBroker`` (one
    process: the producer runs the jobs itself).
    """
    settings = settings or Settings.from_env()
    broker = InMemoryBroker() if settings.redis_url is None else redis_broker(settings)
    install(broker, lambda: production_resources(settings), concurrency=settings.concurrency)
    return broker


def _task(broker: AsyncBroker) -> Any:
    task = broker.find_task(SEND_CHUNKS)
    if task is None:
        raise LookupError(f"{SEND_CHUNKS} is not installed on {broker!r}: call install() first")
    return task


async def enqueue_campaign(
    broker: AsyncBroker,
    store: CampaignStore,
    journal: Journal,
    campaign: Campaign,
    *,
    concurrent_jobs: int = 4,
    rate: int = 9,
) -> int:
    """Save the campaign and enqueue its jobs, each with a time-out sized to it.

    Args:
        concurrent_jobs: how many jobs may run at once over all workers: they share
            the token's rate, so each job's time-out grows with it.

    Returns:
        How many jobs were enqueued.
    """
    task = _task(broker)

    async def enqueue(campaign_id: str, chunks: list[int]) -> None:
        timeout = job_timeout(len(chunks), concurrent_jobs=concurrent_jobs, rate=rate)
        await task.kicker().with_labels(timeout=timeout).kiq(campaign_id, chunks)

    return await start_campaign(store, journal, campaign, enqueue)


async def rerun(
    broker: AsyncBroker,
    store: CampaignStore,
    journal: Journal,
    campaign_id: str,
    *,
    concurrent_jobs: int = 4,
    rate: int = 9,
) -> int:
    """Enqueue again the jobs with numbers no worker has started (or failed); how many."""
    task = _task(broker)

    async def enqueue(campaign_id: str, chunks: list[int]) -> None:
        timeout = job_timeout(len(chunks), concurrent_jobs=concurrent_jobs, rate=rate)
        await task.kicker().with_labels(timeout=timeout).kiq(campaign_id, chunks)

    return await rerun_campaign(store, journal, campaign_id, enqueue)
