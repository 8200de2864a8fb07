"""One worker process of the multi-process tests: the recipe's task on a Redis queue.

Usage: ``python -m tests.workers._taskiq_worker CONFIG``, CONFIG being JSON with
``redis_url`` (the queue's, the store's and the journal's), ``queue``,
``store_prefix``, ``journal_prefix``,
``limiter_url``, ``base_url`` (the sandbox), ``token``, ``rate``, ``horizon``,
``redis_timeout``, ``concurrency`` (chunks in flight in the worker), ``jobs_at_once``
and optionally ``margin``.

It is what ``taskiq worker worker.app:broker`` runs, minus the process manager: the
recipe's :func:`tasks.redis_broker`, :func:`tasks.install` and
:func:`tasks.production_resources`,
a receiver (``taskiq.api.run_receiver_task``). It prints ``ready`` once it listens,
one JSON line ``{"job": ...}`` per finished job, and on SIGTERM stops, closes its
resources and prints ``{"final": ...}``: slots granted, requests, forfeited slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.api import run_receiver_task

from tests.workers._support import load_recipe


class PrintJobs(TaskiqMiddleware):
    """Prints each finished job's summary (or error) as a JSON line."""

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        line = {
            "args": message.args,
            "summary": result.return_value if not result.is_err else None,
            "error": repr(result.error) if result.is_err else None,
        }
        print(json.dumps({"job": line}), flush=True)


async def main(config: dict[str, Any]) -> None:
    tasks = load_recipe("tasks")
    settings = tasks.Settings(
        redis_url=config["redis_url"],
        queue=config["queue"],
        limiter_url=config["limiter_url"],
        store_prefix=config["store_prefix"],
        journal_prefix=config["journal_prefix"],
        token=config["token"],
        base_url=config["base_url"],
        rate=config["rate"],
        horizon=config["horizon"],
        redis_timeout=config["redis_timeout"],
        concurrency=config["concurrency"],
        **({"margin": config["margin"]} if "margin" in config else {}),
    )
    opened: list[Any] = []

    @contextlib.asynccontextmanager
    async def resources() -> AsyncIterator[Any]:
        async with tasks.production_resources(settings) as worker:
            opened.append(worker)
            yield worker

    broker = tasks.redis_broker(settings)
    tasks.install(broker, resources, concurrency=settings.concurrency)
    broker.add_middlewares(PrintJobs())
    broker.is_worker_process = True
    await broker.startup()
    # Connected to the limiter's Redis before saying ready.
    worker = opened[0]
    await worker.sms.limiter.inner._client.ping()
    print("ready", flush=True)

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    receiver = asyncio.create_task(
        run_receiver_task(broker, max_async_tasks=config["jobs_at_once"], run_startup=False)
    )
    await stop.wait()
    receiver.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiver
    limiter = worker.sms.limiter
    final = {
        "granted": limiter.granted,
        "requests": worker.sms.stats.requests,
        "late_slots": limiter.inner.late_slots,
    }
    await broker.shutdown()
    print(json.dumps({"final": final}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
