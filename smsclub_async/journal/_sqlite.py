"""The SQLite journal: one file, WAL mode, written off the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from .._errors import ConfigurationError
from .._results import SendResult

if TYPE_CHECKING:
    pass

from ._model import (
    _STARTED,
    _STATE_OF,
    _TOUCH_EVERY,
    DEFAULT_RETENTION,
    NOT_ACCOUNTED,
    Claim,
    JournalError,
    KeySummary,
    Outcome,
    _alive,
    _conflict,
    _load_entry,
    _mark,
    _seconds,
    _summary,
)

# ---------------------------------------------------------------- SQLite

# One row per number (the claim: which attempt holds it), one per attempt (a claimed
# chunk: its owner, then its outcomes as one JSON document). Recording a chunk is one
# row written, not a hundred.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    fingerprint TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id INTEGER NOT NULL,
    owner TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    size INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (key_id);
CREATE TABLE IF NOT EXISTS entries (
    key_id INTEGER NOT NULL,
    phone TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    PRIMARY KEY (key_id, phone)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    alive_until REAL NOT NULL
);
"""


_SET_UP_TIMEOUT = 30.0
"""Seconds a new connection retries setting up a file another one is setting up."""

T = TypeVar("T")

_KEYS_REMEMBERED = 64

_INSERT_FRESH = (
    "INSERT INTO entries (key_id, phone, attempt) SELECT ?, value, ? FROM json_each(?)"
    " WHERE true ON CONFLICT DO NOTHING"
)
_HOLDERS = (
    "SELECT e.phone, a.id, a.owner, a.done, a.outcome, o.alive_until"
    " FROM entries AS e JOIN attempts AS a ON a.id = e.attempt"
    " LEFT JOIN owners AS o ON o.owner = a.owner"
    " WHERE e.key_id = ? AND e.phone IN (SELECT value FROM json_each(?))"
)


class SqliteJournal:
    """A journal in one SQLite file (stdlib ``sqlite3``, WAL mode), the embedded default.

    Every read and write runs in one worker thread of its own, never on the event
    loop; each claim and each record is one transaction. A claim is committed with
    ``synchronous=FULL`` (on disk, even through a power cut, before the request
    leaves); a record with ``NORMAL`` (it survives the process being killed; a
    record lost to a power cut leaves its numbers *started*, so reported unknown and
    never resent). Several processes of one host may share the file (SQLite locks
    it; a claim is ``BEGIN IMMEDIATE``); for several hosts use :class:`RedisJournal`.
    Not for a network file system.

    Keys not written for ``retention`` are dropped when a send begins (:meth:`begin`)
    and by :meth:`purge`.

    Args:
        path: the database file (created if missing).
        retention: how long a key is kept after its last write (7 days by default).
        synchronous: ``"FULL"`` (the default): a start mark survives a power cut or an
            OS crash; ``"NORMAL"``: it survives the process being killed (kill -9,
            OOM, Ctrl-C) but not a power cut, for less CPU (no fsync per claim; on a
            VM an fsync costs about 150 µs of CPU).
        clock: seconds since the epoch (tests patch it).

    Example:
        >>> async def main() -> None:
        ...     async with SqliteJournal("sends.db") as journal:
        ...         for key in await journal.summary():
        ...             print(key.key, key.sent, key.unknown)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: timedelta = DEFAULT_RETENTION,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigurationError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.synchronous = synchronous
        self.path = Path(path)
        self.retention = retention
        self._retention_s = _seconds(retention)
        self._clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None
        self._key_ids: dict[str, tuple[int, float]] = {}  # key -> (row id, last touch)
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self.path)!r}, retention={self.retention!r})"

    async def __aenter__(self) -> SqliteJournal:
        await self._run(lambda db: None)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The worker thread.

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                self._set_up(db)
            except BaseException:
                db.close()
                raise
            self._connection = db
        return self._connection

    def _set_up(self, db: sqlite3.Connection) -> None:
        """WAL mode and the tables; retried while another connection sets them up.

        Switching to WAL takes a lock that SQLite does not wait for (it answers
        "database is locked" at once), so processes opening a new file together retry.
        """
        deadline = time.monotonic() + _SET_UP_TIMEOUT
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA synchronous={self.synchronous}")
                db.executescript(_SCHEMA)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # the journal's own thread, never the event loop
            else:
                return

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._closed:
                raise JournalError(f"{self!r} is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="smsclub-journal")
            executor = self._executor

        def job() -> T:
            return work(self._connect())

        try:
            return await asyncio.get_running_loop().run_in_executor(executor, job)
        except sqlite3.Error as exc:
            self._key_ids.clear()  # a rolled-back transaction may have made one up
            raise JournalError(f"the journal {str(self.path)!r} failed: {exc}") from exc

    def _transaction(
        self, db: sqlite3.Connection, work: Callable[[], T], *, full: bool = True
    ) -> T:
        relax = not full and self.synchronous == "FULL"
        if relax:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = work()
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if relax:
                db.execute("PRAGMA synchronous=FULL")
        return out

    def _key_id(self, db: sqlite3.Connection, key: str, now: float, *, create: bool) -> int | None:
        """The key's row id (inside a transaction), created if asked.

        Its ``updated`` time is written at most once a minute (retention is days).
        """
        cached = self._key_ids.get(key)
        if cached is not None:
            found, touched_at = cached
            if now - touched_at < _TOUCH_EVERY:
                return found
            touched = db.execute("UPDATE keys SET updated = ? WHERE id = ?", (now, found))
            if touched.rowcount:
                self._remember(key, found, now)
                return found
            del self._key_ids[key]  # purged meanwhile (another process)
        row = db.execute("SELECT id FROM keys WHERE key = ?", (key,)).fetchone()
        new_id: int | None = None
        if row is not None:
            db.execute("UPDATE keys SET updated = ? WHERE id = ?", (now, row[0]))
            new_id = int(row[0])
        elif create:
            new_id = db.execute(
                "INSERT INTO keys (key, fingerprint, created, updated) VALUES (?, NULL, ?, ?)",
                (key, now, now),
            ).lastrowid
        if new_id is not None:
            self._remember(key, new_id, now)
        return new_id

    def _remember(self, key: str, key_id: int, now: float) -> None:
        self._key_ids.pop(key, None)
        self._key_ids[key] = (key_id, now)
        if len(self._key_ids) > _KEYS_REMEMBERED:  # a web service uses a key a request
            del self._key_ids[next(iter(self._key_ids))]

    # The journal.

    async def begin(self, key: str, fingerprint: str) -> None:
        def work(db: sqlite3.Connection) -> str | None:
            def inside() -> str | None:
                now = self._clock()
                self._drop_before(db, now - self._retention_s)
                row = db.execute(
                    "SELECT id, fingerprint FROM keys WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO keys (key, fingerprint, created, updated) VALUES (?, ?, ?, ?)",
                        (key, fingerprint, now, now),
                    )
                    return None
                if row[1] is None:
                    db.execute(
                        "UPDATE keys SET fingerprint = ? WHERE id = ?", (fingerprint, row[0])
                    )
                    return None
                return str(row[1])

            return self._transaction(db, inside)

        existing = await self._run(work)
        if existing is not None and existing != fingerprint:
            raise _conflict(key)

    async def claim(self, key: str, phones: Sequence[str], *, owner: str, lease: float) -> Claim:
        phones = list(dict.fromkeys(phones))

        def work(db: sqlite3.Connection) -> Claim:
            def inside() -> Claim:
                now = self._clock()
                db.execute(
                    "INSERT INTO owners (owner, alive_until) VALUES (?, ?)"
                    " ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until",
                    (owner, now + lease),
                )
                key_id = self._key_id(db, key, now, create=True)
                attempt = db.execute(
                    "INSERT INTO attempts (key_id, owner, size) VALUES (?, ?, ?)",
                    (key_id, owner, len(phones)),
                ).lastrowid
                listed = json.dumps(phones)
                inserted = db.execute(_INSERT_FRESH, (key_id, attempt, listed)).rowcount
                claim = Claim(attempt=str(attempt))
                if inserted == len(phones):  # the common case: all of them new
                    claim.fresh = phones
                    return claim
                self._sort(db, claim, key_id, int(attempt or 0), phones, listed, now)
                db.execute("UPDATE attempts SET size = ? WHERE id = ?", (len(claim.fresh), attempt))
                return claim

            return self._transaction(db, inside)

        if not phones:
            return Claim()
        return await self._run(work)

    @staticmethod
    def _sort(  # noqa: PLR0917 - the claim's transaction state, passed on
        db: sqlite3.Connection,
        claim: Claim,
        key_id: int | None,
        attempt: int,
        phones: list[str],
        listed: str,
        now: float,
    ) -> None:
        """Classify the numbers a claim found taken; take back the failed ones."""
        holders = {row[0]: row[1:] for row in db.execute(_HOLDERS, (key_id, listed))}
        outcomes: dict[int, dict[str, str]] = {}
        retaken: list[tuple[int, str]] = []
        for phone in phones:
            held = holders.get(phone)
            if held is None:
                continue
            holder, holder_owner, done, outcome, alive_until = held
            if holder == attempt:
                claim.fresh.append(phone)
                continue
            if not done:
                if _alive(holder_owner, alive_until, now):
                    claim.held.append(phone)
                else:
                    claim.interrupted.append(phone)
                continue
            if holder not in outcomes:
                outcomes[holder] = json.loads(outcome or "{}")
            mark = outcomes[holder].get(phone, "u" + NOT_ACCOUNTED)
            if mark[:1] == "S":
                claim.earlier.sent[mark[1:]] = phone
            elif mark[:1] == "u":
                claim.earlier.unknown[phone] = mark[1:]
            else:  # failed: certainly not sent, so this claim takes it
                claim.fresh.append(phone)
                retaken.append((holder, phone))
        if retaken:
            db.executemany(
                "UPDATE entries SET attempt = ? WHERE key_id = ? AND phone = ?",
                [(attempt, key_id, phone) for _, phone in retaken],
            )
            db.executemany(
                "UPDATE attempts SET size = size - 1, failed = failed - 1 WHERE id = ?",
                [(holder,) for holder, _ in retaken],
            )

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        def work(db: sqlite3.Connection) -> None:
            def inside() -> None:
                now = self._clock()
                key_id = self._key_id(db, key, now, create=False)
                if key_id is None:
                    return
                by_attempt: dict[int, list[Outcome]] = {}
                if attempt is not None:
                    by_attempt[int(attempt)] = list(outcomes)
                else:
                    holders = dict(
                        db.execute(
                            "SELECT phone, attempt FROM entries WHERE key_id = ?"
                            " AND phone IN (SELECT value FROM json_each(?))",
                            (key_id, json.dumps([o.phone for o in outcomes])),
                        ).fetchall()
                    )
                    for outcome in outcomes:
                        if outcome.phone in holders:
                            by_attempt.setdefault(holders[outcome.phone], []).append(outcome)
                for attempt_id, some in by_attempt.items():
                    counts = {"sent": 0, "failed": 0, "unknown": 0}
                    for outcome in some:
                        counts[outcome.state] += 1
                    db.execute(
                        "UPDATE attempts SET done = 1, outcome = ?, sent = ?, failed = ?,"
                        " unknown = ? WHERE id = ? AND owner = ? AND done = 0",
                        (
                            json.dumps({o.phone: _mark(o) for o in some}),
                            counts["sent"],
                            counts["failed"],
                            counts["unknown"],
                            attempt_id,
                            owner,
                        ),
                    )

            self._transaction(db, inside, full=False)

        if outcomes:
            await self._run(work)

    async def release(self, key: str, phones: Sequence[str], *, owner: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            def inside() -> None:
                row = db.execute("SELECT id FROM keys WHERE key = ?", (key,)).fetchone()
                if row is None:
                    return
                gone = db.execute(
                    "DELETE FROM entries WHERE key_id = ?"
                    " AND phone IN (SELECT value FROM json_each(?))"
                    " AND attempt IN (SELECT id FROM attempts WHERE owner = ? AND done = 0)"
                    " RETURNING attempt",
                    (row[0], json.dumps(list(phones)), owner),
                ).fetchall()
                db.executemany(
                    "UPDATE attempts SET size = size - 1 WHERE id = ?", [(a,) for (a,) in gone]
                )

            self._transaction(db, inside)

        if phones:
            await self._run(work)

    async def heartbeat(self, owner: str, lease: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE owners SET alive_until = ? WHERE owner = ?", (self._clock() + lease, owner)
            )

        await self._run(work)

    def _entries(self, db: sqlite3.Connection, key: str) -> Iterable[tuple[str, str, str | None]]:
        """(phone, state, detail) of every number of ``key``; detail = owner if started."""
        outcomes: dict[int, dict[str, str]] = {}
        for phone, attempt, owner, done, outcome in db.execute(
            "SELECT e.phone, a.id, a.owner, a.done, a.outcome FROM keys AS k"
            " JOIN entries AS e ON e.key_id = k.id JOIN attempts AS a ON a.id = e.attempt"
            " WHERE k.key = ? ORDER BY a.id",
            (key,),
        ):
            if not done:
                yield phone, _STARTED, owner
                continue
            if attempt not in outcomes:
                outcomes.clear()  # in attempt order: one document at a time
                outcomes[attempt] = json.loads(outcome or "{}")
            mark = outcomes[attempt].get(phone, "u" + NOT_ACCOUNTED)
            yield phone, _STATE_OF.get(mark[:1], "unknown"), mark[1:]

    async def load(self, key: str) -> SendResult:
        def work(db: sqlite3.Connection) -> SendResult:
            result = SendResult()
            for phone, state, detail in self._entries(db, key):
                _load_entry(result, phone, state, detail)
            return result

        return await self._run(work)

    async def started(self, key: str) -> dict[str, str]:
        def work(db: sqlite3.Connection) -> dict[str, str]:
            rows = db.execute(
                "SELECT e.phone, a.owner FROM keys AS k JOIN entries AS e ON e.key_id = k.id"
                " JOIN attempts AS a ON a.id = e.attempt WHERE k.key = ? AND a.done = 0",
                (key,),
            )
            return dict(rows.fetchall())

        return await self._run(work)

    async def summary(self) -> list[KeySummary]:
        def work(db: sqlite3.Connection) -> list[KeySummary]:
            counts: dict[int, dict[str, int]] = {}
            for key_id, started, sent, failed, unknown in db.execute(
                "SELECT key_id, sum(CASE WHEN done THEN 0 ELSE size END), sum(sent),"
                " sum(failed), sum(unknown) FROM attempts GROUP BY key_id"
            ):
                counts[key_id] = {
                    _STARTED: started or 0,
                    "sent": sent or 0,
                    "failed": failed or 0,
                    "unknown": unknown or 0,
                }
            return [
                _summary(key, fp, created, updated, counts.get(key_id, {}))
                for key_id, key, fp, created, updated in db.execute(
                    "SELECT id, key, fingerprint, created, updated FROM keys ORDER BY updated DESC"
                )
            ]

        return await self._run(work)

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._retention_s if older_than is None else older_than.total_seconds()

        def work(db: sqlite3.Connection) -> int:
            return self._transaction(db, lambda: self._drop_before(db, self._clock() - age))

        return await self._run(work)

    def _drop_before(self, db: sqlite3.Connection, before: float) -> int:
        old = [k for (k,) in db.execute("SELECT id FROM keys WHERE updated < ?", (before,))]
        for table, column in (("entries", "key_id"), ("attempts", "key_id"), ("keys", "id")):
            db.executemany(
                f"DELETE FROM {table} WHERE {column} = ?",  # noqa: S608 - our own names
                [(k,) for k in old],
            )
        db.execute("DELETE FROM owners WHERE alive_until < ?", (before,))
        if old:
            self._key_ids.clear()
        return len(old)

    async def aclose(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is None:
            return

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await asyncio.get_running_loop().run_in_executor(executor, close)
        executor.shutdown(wait=False)
