"""Run one coroutine per item of a stream, a bounded number at a time.

Not a ``TaskGroup``: one failed chunk must not cancel the chunks that already sent
messages. Workers are expected to turn their own failures (cancellation included)
into results; what they return is yielded in completion order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["fan_out"]

T = TypeVar("T")
R = TypeVar("R")


async def fan_out(
    items: AsyncIterator[T],
    worker: Callable[[T], Awaitable[R]],
    *,
    limit: int,
    stop_after: Callable[[R], bool] | None = None,
    leftovers: list[R] | None = None,
) -> AsyncGenerator[R, None]:
    """Yield ``worker(item)`` results as they finish, at most ``limit`` running at once.

    Args:
        items: the work, read lazily (so memory stays bounded however long it is).
        worker: turns one item into a result; must not raise for ordinary failures.
        limit: how many workers may run at once.
        stop_after: when it returns True for a result, no further items are started
            (the running ones still finish and are yielded).
        leftovers: if the consumer stops early or the task is cancelled, the results
            of workers that finished or were cancelled but not yet yielded are
            appended here, so nothing they achieved is lost.
    """
    running: set[asyncio.Task[R]] = set()
    finished = _Finished[R]()
    ready: deque[R] = deque()
    exhausted = False
    stopping = False
    try:
        while True:
            while not exhausted and not stopping and len(running) < limit:
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    exhausted = True
                    break
                running.add(finished.watch(asyncio.ensure_future(worker(item))))
            if not running:
                return
            failure: BaseException | None = None
            for task in await finished.wait():
                running.discard(task)
                if task.cancelled() or task.exception() is None:
                    ready.append(task.result())
                elif failure is None:
                    failure = task.exception()
            if failure is not None:
                # A worker broke its contract: the finished results go to leftovers.
                raise failure
            while ready:
                result = ready.popleft()
                if stop_after is not None and stop_after(result):
                    stopping = True
                yield result
    finally:
        if running:
            for task in running:
                task.cancel()
            # Workers turn cancellation into a result describing what may have gone out.
            # A second cancellation must not make us drop those results: wait them out.
            gathering = asyncio.gather(*running, return_exceptions=True)
            cancelled = False
            while not gathering.done():
                try:
                    await asyncio.shield(gathering)
                except asyncio.CancelledError:
                    cancelled = True
            ready.extend(o for o in gathering.result() if not isinstance(o, BaseException))
        else:
            cancelled = False
        if leftovers is not None:
            leftovers.extend(ready)
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
        if cancelled:
            # The results are safe; now let the cancellation (e.g. a timeout) go on.
            raise asyncio.CancelledError


class _Finished(Generic[R]):
    """Tasks in the order they finish.

    One done-callback per task, rather than ``asyncio.wait()``, which adds and removes
    a callback on every running task each time one of them finishes.
    """

    __slots__ = ("_tasks", "_wakeup")

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[R]] = []
        self._wakeup: asyncio.Future[None] | None = None

    def watch(self, task: asyncio.Task[R]) -> asyncio.Task[R]:
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[R]) -> None:
        self._tasks.append(task)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def wait(self) -> list[asyncio.Task[R]]:
        """The tasks finished since the last call, waiting for one if there are none."""
        if not self._tasks:
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        tasks, self._tasks = self._tasks, []
        return tasks
