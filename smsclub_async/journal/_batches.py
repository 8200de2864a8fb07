"""One thread that runs an SQLite connection's work in batches, one transaction each.

Every job queued while the thread was busy goes into the next transaction (a group
commit): ten claims arriving together cost one commit and one wake-up of the thread,
not ten. If the transaction fails, each job runs again in one of its own, so a
failing job costs only itself.
The results reach each event loop with one ``call_soon_threadsafe`` per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

Work = Callable[[sqlite3.Connection], T]
BeforeBatch = Callable[[sqlite3.Connection], Callable[[], None] | None]
"""Runs first in every batch's transaction; returns what undoes it if the batch fails."""


class _Job(Generic[T]):
    __slots__ = ("future", "loop", "work")

    def __init__(
        self, work: Work[T] | None, loop: asyncio.AbstractEventLoop, future: asyncio.Future[T]
    ) -> None:
        self.work = work  # None: close the connection and end the thread
        self.loop = loop
        self.future = future


class BatchThread:
    """Runs ``work(db)`` jobs on one connection, in a thread of its own, in batches.

    Args:
        connect: opens the connection (called in the thread, once, lazily).
        before_batch: runs first in every batch (the journal writes its queued
            records there).
        translate: turns an ``sqlite3.Error`` (or the failure to open the file) into
            the exception the caller sees.
        on_rollback: called when a transaction was rolled back (the jobs' own memory
            of what they wrote may be wrong).
        name: the thread's name.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        before_batch: BeforeBatch,
        translate: Callable[[Exception], BaseException],
        on_rollback: Callable[[], None],
        name: str,
    ) -> None:
        self._connect = connect
        self._before_batch = before_batch
        self._translate = translate
        self._on_rollback = on_rollback
        self._name = name
        self._queue: queue.SimpleQueue[list[_Job[Any]]] = queue.SimpleQueue()
        self._outbox: list[_Job[Any]] = []
        self._outbox_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._start_lock = threading.Lock()

    def submit(self, work: Work[T]) -> asyncio.Future[T]:
        """Queue ``work``; the future is settled on the running loop when it is done.

        Jobs submitted in one turn of the event loop reach the thread together (one
        wake-up of the thread, one transaction).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            self._start()
        with self._outbox_lock:
            self._outbox.append(_Job(work, loop, future))
            first = len(self._outbox) == 1
        if first:
            loop.call_soon(self._push)
        return future

    def _push(self) -> None:
        with self._outbox_lock:
            jobs, self._outbox = self._outbox, []
        if jobs:
            self._queue.put(jobs)

    async def close(self) -> None:
        """Close the connection after the queued jobs, and end the thread."""
        if self._thread is None:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._push()
        self._queue.put([_Job(None, loop, future)])
        await asyncio.shield(future)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                thread.start()
                self._thread = thread

    # The thread.

    def _serve(self) -> None:
        while True:
            batch = self._queue.get()
            while True:
                try:
                    batch += self._queue.get_nowait()
                except queue.Empty:
                    break
            jobs = [job for job in batch if job.work is not None]
            closing = [job for job in batch if job.work is None]
            if jobs:
                try:
                    self._run(jobs)
                except BaseException as exc:
                    _settle([(job, None, exc) for job in jobs])
            if closing:
                if self._db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.close()
                    self._db = None
                _settle([(job, None, None) for job in closing])
                return

    def _run(self, jobs: list[_Job[Any]]) -> None:
        """All of ``jobs`` in one transaction; if it fails, each in its own."""
        try:
            if self._db is None:
                self._db = self._connect()
        except Exception as exc:
            failure = self._translate(exc)
            _settle([(job, None, failure) for job in jobs])
            return
        db = self._db
        try:
            outcomes = self._transaction(db, jobs, before=True)
        except BaseException:
            outcomes = []
            for job in jobs:
                try:
                    outcomes.extend(self._transaction(db, [job], before=False))
                except sqlite3.Error as exc:
                    outcomes.append((job, None, self._translate(exc)))
                except Exception as exc:
                    outcomes.append((job, None, exc))
        _settle(outcomes)

    def _transaction(
        self, db: sqlite3.Connection, jobs: list[_Job[Any]], *, before: bool
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        undo: Callable[[], None] | None = None
        db.execute("BEGIN IMMEDIATE")
        try:
            if before:
                undo = self._before_batch(db)
            outcomes: list[tuple[_Job[Any], Any, BaseException | None]] = [
                (job, job.work(db), None)  # type: ignore[misc]
                for job in jobs
            ]
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            self._on_rollback()
            if undo is not None:
                undo()
            raise
        return outcomes


def _settle(outcomes: list[tuple[_Job[Any], Any, BaseException | None]]) -> None:
    """Hand each job's result to its loop: one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job[Any], Any, BaseException | None]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, some in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_deliver, some)


def _deliver(outcomes: list[tuple[_Job[Any], Any, BaseException | None]]) -> None:
    for job, value, error in outcomes:
        if job.future.done():  # its caller was cancelled and gave up on it
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)
