"""The SQLite journal: one file, WAL mode, written off the event loop.

How a claim stays cheap. A key is usually sent by one call at a time, so the
journal does not index numbers while one call holds a key: a claim appends one row
(the attempt: its owner and its numbers as one JSON array) and its outcome is one
row appended to ``outcomes`` (a row that grew in place would move its neighbours):
a page or two of the WAL per request instead of a hundred index entries scattered
over the file. The number index (``entries``) is built only when
a key changes hands:

* **Taken over** (its holder finished, or died: lease run out, process gone): the
  new holder indexes every attempt since the last hand-over, then looks each chunk's
  numbers up in the index (a rerun, a retried web request).
* **Shared** (a second call arrives while the holder is alive): the key is indexed
  and stays shared; from then on every claim of any owner inserts its numbers into
  the index, which lets two calls never claim the same number.

Writes go through :class:`~smsclub_async.journal._batches.BatchThread`: claims that
arrive together share one transaction, and outcomes are queued and written with the
next transaction (usually the next claim of the same call), within
:data:`RECORD_DELAY` at the latest, and by :meth:`SqliteJournal.finish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Literal, TypeVar

from .._errors import ConfigurationError
from .._results import SendResult
from ..telemetry import mask_numbers
from ._batches import BatchThread
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
    ResultOutcomes,
    _alive,
    _conflict,
    _load_entry,
    _mark,
    _seconds,
    _summary,
)

T = TypeVar("T")

_log = logging.getLogger("smsclub_async.journal")

_SCHEMA_VERSION = 3

# keys.holder: the owner that holds the key alone, SHARED once two calls met on it,
# NULL when free. keys.indexed: the last attempt whose numbers are in ``entries``.
# An attempt without an ``outcomes`` row is started, not done.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    fingerprint TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    holder TEXT,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    key_id INTEGER NOT NULL,
    owner TEXT NOT NULL,
    phones TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (key_id);
CREATE TABLE IF NOT EXISTS outcomes (
    attempt INTEGER PRIMARY KEY,
    result TEXT NOT NULL,
    sent INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    unknown INTEGER NOT NULL
);
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

# A file of the first layout (a row per number for every claim, outcomes in the
# attempt rows): its index is complete, so its keys are shared (indexed on every
# claim, as before).
_MIGRATE_1 = """
ALTER TABLE attempts ADD COLUMN phones TEXT NOT NULL DEFAULT '[]';
ALTER TABLE keys ADD COLUMN holder TEXT;
ALTER TABLE keys ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
UPDATE attempts SET phones = (
    SELECT coalesce(json_group_array(phone), '[]') FROM entries WHERE attempt = attempts.id
);
UPDATE keys SET holder = '*',
    indexed = coalesce((SELECT max(id) FROM attempts WHERE key_id = keys.id), 0);
"""
_MIGRATE_OUTCOMES = """
INSERT OR IGNORE INTO outcomes (attempt, result, sent, failed, unknown)
    SELECT id, coalesce(outcome, '{}'), sent, failed, unknown FROM attempts WHERE done = 1;
"""

SHARED = "*"
"""``keys.holder`` of a key two calls met on: every claim indexes its numbers."""

RECORD_DELAY = 0.05
"""Seconds an outcome may wait for the next write before it is written alone."""

_SET_UP_TIMEOUT = 30.0
"""Seconds a new connection retries setting up a file another one is setting up."""

_REMEMBERED = 256
"""Keys (last ``updated`` write) and owners (last lease write) remembered."""


_INDEX_SINCE = (
    "INSERT INTO entries (key_id, phone, attempt)"
    " SELECT a.key_id, j.value, a.id FROM attempts AS a, json_each(a.phones) AS j"
    " WHERE a.key_id = ? AND a.id > ? ORDER BY a.id"
    " ON CONFLICT (key_id, phone) DO UPDATE SET attempt = excluded.attempt"
)
# [[attempt, owner, result, sent, failed, unknown], ...]; only the attempt's owner
# records it, once.
_RECORD_ALL = (
    "INSERT OR IGNORE INTO outcomes (attempt, result, sent, failed, unknown)"
    " SELECT a.id, json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'),"
    " json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]')"
    " FROM json_each(?) AS r JOIN attempts AS a ON a.id = json_extract(r.value, '$[0]')"
    " AND a.owner = json_extract(r.value, '$[1]')"
)
# Claims of a key their owner holds alone, with nothing earlier to look up: the
# attempts are appended, nothing else is written.
_APPEND_ALL_IF_HELD = (
    "INSERT INTO attempts (key_id, owner, phones, size)"
    " SELECT k.id, ?, j.value, json_array_length(j.value) FROM keys AS k, json_each(?) AS j"
    " WHERE k.key = ? AND k.holder = ? AND k.indexed = 0 ORDER BY j.key"
)
_INSERT_FRESH = (
    "INSERT INTO entries (key_id, phone, attempt) SELECT ?, value, ? FROM json_each(?)"
    " WHERE true ON CONFLICT DO NOTHING"
)
_HOLDERS = (
    "SELECT e.phone, a.id, a.owner, r.attempt IS NOT NULL, r.result, o.alive_until, a.phones"
    " FROM entries AS e JOIN attempts AS a ON a.id = e.attempt"
    " LEFT JOIN outcomes AS r ON r.attempt = a.id"
    " LEFT JOIN owners AS o ON o.owner = a.owner"
    " WHERE e.key_id = ? AND e.phone IN (SELECT value FROM json_each(?))"
)

_Queued = tuple[str, Sequence[Outcome], str, "str | None"]


class SqliteJournal:
    """A journal in one SQLite file (stdlib ``sqlite3``, WAL mode), the embedded default.

    Every read and write runs in one thread of its own, never on the event loop.
    A claim is committed before it returns (its start marks are on disk before the
    request leaves); claims that arrive together share a transaction. Outcomes are
    queued and written with the next transaction, at most :data:`RECORD_DELAY`
    later, and at the end of each call (:meth:`finish`); a crash meanwhile leaves
    their numbers *started*: reported ``unknown``, never sent again.

    Several processes of one host may share the file (SQLite locks it; every
    transaction is ``BEGIN IMMEDIATE``); for several hosts use :class:`RedisJournal`.
    Not for a network file system.

    Keys not written for ``retention`` are dropped when a send begins (:meth:`begin`)
    and by :meth:`purge`.

    Args:
        path: the database file (created if missing).
        retention: how long a key is kept after its last write (7 days by default).
        synchronous: ``"NORMAL"`` (the default): a committed mark survives the
            process being killed (kill -9, OOM, Ctrl-C), not a power cut or an OS
            crash; ``"FULL"``: it survives those too, at the price of an fsync per
            transaction (about 50-150 µs of CPU on a VM, and the disk's latency).
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
        synchronous: Literal["FULL", "NORMAL"] = "NORMAL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ConfigurationError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.synchronous = synchronous
        self.path = Path(path)
        self.retention = retention
        self._retention_s = _seconds(retention)
        self._clock = clock
        self._thread = BatchThread(
            self._connect,
            before_batch=self._write_queued,
            translate=self._failure,
            on_rollback=self._forget,
            name="smsclub-journal",
        )
        self._closed = False
        # Outcomes waiting for the next transaction (appended on the loop, taken in
        # the thread).
        self._queued: list[_Queued] = []
        self._queued_lock = threading.Lock()
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        # The thread's own memory of what it wrote lately.
        self._touched: dict[str, float] = {}  # key -> last write of its ``updated``
        self._alive_until: dict[str, float] = {}  # owner -> lease last written

    def __repr__(self) -> str:
        return f"SqliteJournal({str(self.path)!r}, retention={self.retention!r})"

    async def __aenter__(self) -> SqliteJournal:
        await self._submit(lambda db: None)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The thread.

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            self._set_up(db)
        except BaseException:
            db.close()
            raise
        return db

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
                db.execute("BEGIN IMMEDIATE")
                try:
                    self._create(db)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # the journal's own thread, never the event loop
            else:
                return

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version >= _SCHEMA_VERSION:
            return
        columns = {row[1] for row in db.execute("PRAGMA table_info(attempts)")}
        if columns and "phones" not in columns:
            _run_script(db, _MIGRATE_1)
        _run_script(db, _SCHEMA)
        if "done" in columns:  # outcomes kept in the attempt rows (layouts 1 and 2)
            _run_script(db, _MIGRATE_OUTCOMES)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _failure(self, exc: Exception) -> JournalError:
        return JournalError(f"the journal {str(self.path)!r} failed: {exc}")

    def _forget(self) -> None:
        """A transaction was rolled back: what this memory says was written may not be."""
        self._touched.clear()
        self._alive_until.clear()

    def _submit(self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        if self._closed:
            raise JournalError(f"{self!r} is closed")
        return self._thread.submit(work)

    # Queued outcomes.

    def _write_queued(self, db: sqlite3.Connection) -> Callable[[], None] | None:
        """Write the queued outcomes first in a batch; what puts them back if it fails."""
        with self._queued_lock:
            queued, self._queued = self._queued, []
        if not queued:
            return None
        try:
            self._record_all(db, queued)
        except sqlite3.Error as exc:
            # The numbers stay started: a later call reports them unknown, never resends.
            _log.error(
                "journal %s: could not record the outcome of %d requests (keys %s): %s",
                self.path,
                len(queued),
                mask_numbers(", ".join(sorted({key for key, *_ in queued}))),
                exc,
            )
            raise

        def put_back() -> None:
            with self._queued_lock:
                self._queued[:0] = queued

        return put_back

    def _flush_soon(self) -> None:
        loop = asyncio.get_running_loop()
        if self._flush_loop is not loop:  # a timer of a loop that ended never fires
            self._flush_timer, self._flush_loop = None, loop
        if self._flush_timer is None and not self._closed:
            self._flush_timer = loop.call_later(RECORD_DELAY, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._queued and not self._closed:
            self._thread.submit(lambda db: None).add_done_callback(_retrieve)

    # The journal.

    async def begin(self, key: str, fingerprint: str) -> None:
        def work(db: sqlite3.Connection) -> str | None:
            now = self._clock()
            self._drop_before(db, now - self._retention_s)
            row = db.execute("SELECT id, fingerprint FROM keys WHERE key = ?", (key,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO keys (key, fingerprint, created, updated) VALUES (?, ?, ?, ?)",
                    (key, fingerprint, now, now),
                )
                return None
            if row[1] is None:
                db.execute("UPDATE keys SET fingerprint = ? WHERE id = ?", (fingerprint, row[0]))
                return None
            return str(row[1])

        existing = await self._submit(work)
        if existing is not None and existing != fingerprint:
            raise _conflict(key)

    def claim(
        self,
        key: str,
        phones: Sequence[str],
        *,
        owner: str,
        lease: float,
        distinct: bool = False,
    ) -> Awaitable[Claim]:
        unique = list(phones) if distinct else list(dict.fromkeys(phones))
        if not unique:
            return _done(Claim())
        return self._submit(
            lambda db: self._claim_all_in(db, key, [unique], owner, lease, distinct)[0]
        )

    def claim_many(
        self,
        key: str,
        phone_lists: Sequence[Sequence[str]],
        *,
        owner: str,
        lease: float,
        distinct: bool = False,
    ) -> asyncio.Future[list[Claim]]:
        """Claims of several requests of one call, in one job and, for a key the call
        holds alone, one statement: what :meth:`JournaledSend.claim_ahead
        <smsclub_async.journal.JournaledSend.claim_ahead>` uses."""
        lists = [list(p) if distinct else list(dict.fromkeys(p)) for p in phone_lists]
        if not all(lists):
            raise ValueError("every claim of claim_many() needs a number")
        return self._submit(lambda db: self._claim_all_in(db, key, lists, owner, lease, distinct))

    def _claim_all_in(  # noqa: PLR0917 - the claims' arguments, passed on
        self,
        db: sqlite3.Connection,
        key: str,
        lists: list[list[str]],
        owner: str,
        lease: float,
        distinct: bool,
    ) -> list[Claim]:
        now = self._clock()
        self._keep_alive(db, owner, now, lease)
        self._touch(db, key, now)
        if distinct:
            # No RETURNING (a step, so a round of the GIL, per row): under the write
            # lock, rows appended together take the ids up to the last one.
            appended = db.execute(_APPEND_ALL_IF_HELD, (owner, json.dumps(lists), key, owner))
            if appended.rowcount == len(lists) and appended.lastrowid:
                first = appended.lastrowid - len(lists) + 1
                return [
                    Claim(fresh=phones, attempt=str(first + n)) for n, phones in enumerate(lists)
                ]
            assert appended.rowcount <= 0  # the key is held (or not) for all of them alike
        return [self._claim_in(db, key, phones, owner, now, distinct) for phones in lists]

    def _claim_in(  # noqa: PLR0917 - the claim's arguments, passed on
        self,
        db: sqlite3.Connection,
        key: str,
        phones: list[str],
        owner: str,
        now: float,
        distinct: bool,
    ) -> Claim:
        """One claim the fast path of :meth:`_claim_all_in` could not take: the key is
        new, not held by ``owner``, shared, indexed, or the call repeats numbers."""
        listed = json.dumps(phones)
        row = db.execute("SELECT id, holder, indexed FROM keys WHERE key = ?", (key,)).fetchone()
        if row is None:
            key_id = int(
                db.execute(
                    "INSERT INTO keys (key, created, updated, holder) VALUES (?, ?, ?, ?)",
                    (key, now, now, owner),
                ).lastrowid
                or 0
            )
            holder, indexed = owner, 0
        else:
            key_id, holder, indexed = row
        if holder not in (owner, SHARED):
            holder, indexed = self._hand_over(
                db, key_id, indexed=indexed, holder=holder, owner=owner, now=now
            )
        attempt = int(
            db.execute(
                "INSERT INTO attempts (key_id, owner, phones, size) VALUES (?, ?, ?, ?)",
                (key_id, owner, listed, len(phones)),
            ).lastrowid
            or 0
        )
        claim = Claim(attempt=str(attempt))
        if holder == SHARED or not distinct:  # index the numbers as they are claimed
            inserted = db.execute(_INSERT_FRESH, (key_id, attempt, listed)).rowcount
            if inserted == len(phones):
                claim.fresh = phones
        elif not indexed:  # held alone, nothing earlier, no repeats: every number is new
            claim.fresh = phones
        if claim.fresh:
            return claim
        self._sort(db, claim, key_id, attempt, phones, listed, now)
        if len(claim.fresh) != len(phones):
            db.execute(
                "UPDATE attempts SET phones = ?, size = ? WHERE id = ?",
                (json.dumps(claim.fresh), len(claim.fresh), attempt),
            )
        if not claim.fresh:
            claim.attempt = None
        return claim

    def _hand_over(
        self,
        db: sqlite3.Connection,
        key_id: int,
        *,
        indexed: int,
        holder: str | None,
        owner: str,
        now: float,
    ) -> tuple[str, int]:
        """Index the key's attempts since the last hand-over; give the key to ``owner``,
        or share it if its holder is alive. Returns the new holder and index mark."""
        shared = holder is not None and self._owner_alive(db, holder, now)
        db.execute(_INDEX_SINCE, (key_id, indexed))
        (last,) = db.execute(
            "SELECT coalesce(max(id), 0) FROM attempts WHERE key_id = ?", (key_id,)
        ).fetchone()
        new_holder = SHARED if shared else owner
        db.execute(
            "UPDATE keys SET holder = ?, indexed = ? WHERE id = ?", (new_holder, last, key_id)
        )
        return new_holder, int(last)

    @staticmethod
    def _owner_alive(db: sqlite3.Connection, owner: str, now: float) -> bool:
        row = db.execute("SELECT alive_until FROM owners WHERE owner = ?", (owner,)).fetchone()
        return _alive(owner, row[0] if row else None, now)

    def _keep_alive(self, db: sqlite3.Connection, owner: str, now: float, lease: float) -> None:
        """Write the owner's lease, unless a third of it has not yet gone by."""
        if self._alive_until.get(owner, 0.0) - now > lease * 2 / 3:
            return
        db.execute(
            "INSERT INTO owners (owner, alive_until) VALUES (?, ?)"
            " ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until",
            (owner, now + lease),
        )
        self._remember(self._alive_until, owner, now + lease)

    def _touch(self, db: sqlite3.Connection, key: str, now: float) -> None:
        """Write the key's ``updated`` time, at most once a minute (retention is days)."""
        if now - self._touched.get(key, float("-inf")) < _TOUCH_EVERY:
            return
        db.execute("UPDATE keys SET updated = ? WHERE key = ?", (now, key))
        self._remember(self._touched, key, now)

    @staticmethod
    def _remember(memory: dict[str, float], name: str, value: float) -> None:
        memory.pop(name, None)
        memory[name] = value
        if len(memory) > _REMEMBERED:  # a web service uses a key (and an owner) a request
            del memory[next(iter(memory))]

    @staticmethod
    def _sort(  # noqa: PLR0917 - the claim's transaction state, passed on
        db: sqlite3.Connection,
        claim: Claim,
        key_id: int,
        attempt: int,
        phones: list[str],
        listed: str,
        now: float,
    ) -> None:
        """Classify a claim's numbers by the index; take back the failed ones."""
        holders = {row[0]: row[1:] for row in db.execute(_HOLDERS, (key_id, listed))}
        outcomes: dict[int, dict[str, str]] = {}
        retaken: list[tuple[int, str]] = []
        for phone in phones:
            held = holders.get(phone)
            if held is None:  # not in the index: nobody started it (the key is ours)
                claim.fresh.append(phone)
                continue
            holder, holder_owner, done, outcome, alive_until, holder_phones = held
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
                outcomes[holder] = _marks(holder_phones, outcome)
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
                "UPDATE outcomes SET failed = failed - 1 WHERE attempt = ?",
                [(holder,) for holder, _ in retaken],
            )

    def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> Awaitable[None]:
        if self._closed:
            return _failed(JournalError(f"{self!r} is closed"))
        if outcomes:
            with self._queued_lock:
                self._queued.append((key, outcomes, owner, attempt))
            self._flush_soon()
        return _done(None)

    def _record_all(self, db: sqlite3.Connection, queued: list[_Queued]) -> None:
        """Outcomes of several attempts, one statement (each statement costs the thread
        a round of the GIL with the event loop's thread)."""
        rows: list[list[object]] = []
        for key, outcomes, owner, attempt in queued:
            if attempt is None:
                self._record_unnamed(db, key, list(outcomes), owner)
                continue
            stored: object
            if isinstance(outcomes, ResultOutcomes):
                stored, counts = _compact(outcomes)
            else:
                tally = {"sent": 0, "failed": 0, "unknown": 0}
                for outcome in outcomes:
                    tally[outcome.state] += 1
                stored = {o.phone: _mark(o) for o in outcomes}
                counts = (tally["sent"], tally["failed"], tally["unknown"])
            rows.append([int(attempt), owner, stored, *counts])
        if rows:
            db.execute(_RECORD_ALL, (json.dumps(rows),))

    def _record_unnamed(
        self, db: sqlite3.Connection, key: str, outcomes: list[Outcome], owner: str
    ) -> None:
        """Outcomes recorded without their claim's attempt: found by number."""
        holders: dict[str, int] = {}
        for attempt_id, phones in db.execute(
            "SELECT a.id, a.phones FROM attempts AS a JOIN keys AS k ON k.id = a.key_id"
            " WHERE k.key = ? AND a.owner = ?"
            " AND NOT EXISTS (SELECT 1 FROM outcomes WHERE attempt = a.id)",
            (key, owner),
        ):
            holders.update(dict.fromkeys(json.loads(phones), attempt_id))
        by_attempt: dict[int, list[Outcome]] = {}
        for outcome in outcomes:
            if outcome.phone in holders:
                by_attempt.setdefault(holders[outcome.phone], []).append(outcome)
        if by_attempt:
            self._record_all(
                db, [(key, some, owner, str(attempt)) for attempt, some in by_attempt.items()]
            )

    async def finish(self, key: str, owner: str) -> None:
        def work(db: sqlite3.Connection) -> None:  # the queued outcomes went first
            db.execute("UPDATE keys SET holder = NULL WHERE key = ? AND holder = ?", (key, owner))

        await self._submit(work)

    async def release(
        self, key: str, phones: Sequence[str], *, owner: str, attempt: str | None = None
    ) -> None:
        gone = set(phones)

        def work(db: sqlite3.Connection) -> None:
            query = (
                "SELECT a.id, a.key_id, a.phones FROM attempts AS a"
                " JOIN keys AS k ON k.id = a.key_id"
                " WHERE k.key = ? AND a.owner = ?"
                " AND NOT EXISTS (SELECT 1 FROM outcomes WHERE attempt = a.id)"
            )
            args: tuple[object, ...] = (key, owner)
            if attempt is not None:
                query += " AND a.id = ?"
                args = (key, owner, int(attempt))
            for attempt_id, key_id, listed in db.execute(query, args).fetchall():
                had = json.loads(listed)
                kept = [phone for phone in had if phone not in gone]
                if len(kept) == len(had):
                    continue
                db.execute(
                    "DELETE FROM entries WHERE key_id = ? AND attempt = ?"
                    " AND phone IN (SELECT value FROM json_each(?))",
                    (key_id, attempt_id, json.dumps([p for p in had if p in gone])),
                )
                # Never deleted: attempt ids must keep growing (``keys.indexed``).
                db.execute(
                    "UPDATE attempts SET phones = ?, size = ? WHERE id = ?",
                    (json.dumps(kept), len(kept), attempt_id),
                )

        if phones:
            await self._submit(work)

    async def heartbeat(self, owner: str, lease: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            until = self._clock() + lease
            db.execute("UPDATE owners SET alive_until = ? WHERE owner = ?", (until, owner))
            self._remember(self._alive_until, owner, until)

        await self._submit(work)

    def _entries(self, db: sqlite3.Connection, key: str) -> Iterable[tuple[str, str, str]]:
        """(phone, state, detail) of every number of ``key``; detail = owner if started.

        Attempts in order, a later one winning: a number is in two attempts only when
        the first failed it (and the second took it back).
        """
        latest: dict[str, tuple[str, str]] = {}
        for owner, listed, done, outcome in db.execute(
            "SELECT a.owner, a.phones, r.attempt IS NOT NULL, r.result FROM keys AS k"
            " JOIN attempts AS a ON a.key_id = k.id"
            " LEFT JOIN outcomes AS r ON r.attempt = a.id WHERE k.key = ? ORDER BY a.id",
            (key,),
        ):
            if not done:
                for phone in json.loads(listed):
                    latest[phone] = (_STARTED, owner)
                continue
            phones = json.loads(listed)
            marks = _marks(phones, outcome)
            for phone in phones:
                mark = marks.get(phone, "u" + NOT_ACCOUNTED)
                latest[phone] = (_STATE_OF.get(mark[:1], "unknown"), mark[1:])
        for phone, (state, detail) in latest.items():
            yield phone, state, detail

    async def load(self, key: str) -> SendResult:
        def work(db: sqlite3.Connection) -> SendResult:
            result = SendResult()
            for phone, state, detail in self._entries(db, key):
                _load_entry(result, phone, state, detail)
            return result

        return await self._submit(work)

    async def started(self, key: str) -> dict[str, str]:
        def work(db: sqlite3.Connection) -> dict[str, str]:
            return {p: d for p, state, d in self._entries(db, key) if state == _STARTED}

        return await self._submit(work)

    async def summary(self) -> list[KeySummary]:
        def work(db: sqlite3.Connection) -> list[KeySummary]:
            counts: dict[int, dict[str, int]] = {}
            for key_id, started, sent, failed, unknown in db.execute(
                "SELECT a.key_id, sum(CASE WHEN r.attempt IS NULL THEN a.size ELSE 0 END),"
                " sum(r.sent), sum(r.failed), sum(r.unknown) FROM attempts AS a"
                " LEFT JOIN outcomes AS r ON r.attempt = a.id GROUP BY a.key_id"
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

        return await self._submit(work)

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._retention_s if older_than is None else older_than.total_seconds()
        return await self._submit(lambda db: self._drop_before(db, self._clock() - age))

    def _drop_before(self, db: sqlite3.Connection, before: float) -> int:
        old = [k for (k,) in db.execute("SELECT id FROM keys WHERE updated < ?", (before,))]
        db.executemany(
            "DELETE FROM outcomes WHERE attempt IN (SELECT id FROM attempts WHERE key_id = ?)",
            [(k,) for k in old],
        )
        for table, column in (("entries", "key_id"), ("attempts", "key_id"), ("keys", "id")):
            db.executemany(
                f"DELETE FROM {table} WHERE {column} = ?",  # noqa: S608 - our own names
                [(k,) for k in old],
            )
        db.execute("DELETE FROM owners WHERE alive_until < ?", (before,))
        if old:
            self._touched.clear()
        return len(old)

    async def aclose(self) -> None:
        """Write what is queued, close the file and end the journal's thread."""
        if self._closed:
            return
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._queued:
            with contextlib.suppress(JournalError):
                await self._submit(lambda db: None)
        self._closed = True
        await self._thread.close()


def _compact(outcomes: ResultOutcomes) -> tuple[list[object], tuple[int, int, int]]:
    """A result, stored against the attempt's numbers: ``[ids, failed, unknown]``.

    ``ids`` holds the message id of each number in the attempt's order (``null``
    when not sent); ``failed`` and ``unknown`` are the result's reasons of the other
    numbers. The numbers are not written twice.
    """
    result, phones = outcomes.result, outcomes.phones
    ids = outcomes.message_ids()
    sent = len(phones) - ids.count(None)
    if sent == len(phones):
        return [ids, {}, {}], (sent, 0, 0)
    unsent = [phone for phone, message_id in zip(phones, ids, strict=True) if message_id is None]
    failed = {p: result.failed[p] for p in unsent if p in result.failed}
    unknown = {p: result.unknown[p] for p in unsent if p not in failed and p in result.unknown}
    return [ids, failed, unknown], (sent, len(failed), len(phones) - sent - len(failed))


def _marks(phones: str | list[str], outcome: str | None) -> dict[str, str]:
    """An attempt's outcome, number -> mark (a number it lacks: not accounted).

    Stored as ``[ids, failed, unknown]`` (see :func:`_compact`) or, when recorded
    number by number, as an object number -> mark.
    """
    stored = json.loads(outcome or "{}")
    if isinstance(stored, dict):
        return stored
    ids, failed, unknown = stored
    listed = json.loads(phones) if isinstance(phones, str) else phones
    marks = {
        phone: "S" + message_id
        for phone, message_id in zip(listed, ids, strict=False)
        if message_id is not None
    }
    for prefix, reasons in (("f", failed), ("u", unknown)):
        for phone, reason in reasons.items():
            marks.setdefault(phone, prefix + reason)
    return marks


def _run_script(db: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _done(value: T) -> asyncio.Future[T]:
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _failed(error: BaseException) -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.error("journal: could not write queued outcomes: %s", future.exception())
