"""The send journal: sends that survive a crash, and keys that make a send idempotent.

A journal records, per *key* (one campaign, one web request's ``Idempotency-Key``)
and per recipient, where the send stands:

* **started**, durably, *before* the request that carries the number leaves;
* **done** as soon as the answer is read: ``sent`` (with the message id),
  ``failed`` (with why) or ``unknown`` (with why: it may have gone out).

A second call with the same key (a rerun after a crash, a client's retry) sends only
the recipients never started, and returns the combined result: earlier outcomes
from the journal, recipients started but never done in ``unknown`` with
:data:`INTERRUPTED` as the reason, and the rest sent now. Nothing is ever sent twice
through the journal.

Which journal:

* :class:`SqliteJournal` (the embedded default): one file, stdlib ``sqlite3`` in WAL
  mode, written off the event loop; processes of one host may share the file.
* :class:`RedisJournal`: many processes and hosts sharing one journal.
* :class:`MemoryJournal`: one process only; what a client uses when ``key=`` is
  given without a journal. It protects against a repeated call within the process
  (a retried coroutine), not against a crash.

Design (the same for every journal):

* **Claims carry an owner.** Each call's wrapper (:func:`journaled`) is an owner,
  named ``host:pid:random``. Claiming a chunk marks the numbers nobody started as
  started by the owner, in one transaction, and reports the others: done ones with
  their outcome, and started ones with their owner.
* **Owners hold a lease.** A claim writes "alive until now + lease" for its owner;
  while the owner has requests in flight a heartbeat renews it every third of the
  lease (30 s by default). An owner is dead once its lease ran out, or at once when
  it ran on this host and its process is gone.
* **Started by a live owner: wait. By a dead one: unknown.** Two calls with the same
  key at the same moment never both send a number: the second one waits until the
  first records the outcome, and reports it. A number started by an owner that died
  is reported ``unknown`` (:data:`INTERRUPTED`) and never sent again; check it
  (delivery reports, the gateway's cabinet) before sending it yourself.
* **``failed`` is not final.** A recipient recorded as failed certainly got nothing
  (the gateway refused it, or the request never left): a later call with the key
  claims it again and sends it. ``sent`` and ``unknown`` are never sent again.
* **Numbers refused before any request** (not a phone number) are not journaled:
  they are in ``failed`` of every call.
* **Retention.** A key's entries are kept :data:`DEFAULT_RETENTION` (7 days) after
  its last write, then dropped: by Redis itself (key expiry), by SQLite when a send
  begins, by :meth:`purge` for all. A key reused after that starts afresh.

The journal holds the recipients, not memory: claiming and recording touch one
chunk's numbers at a time, so ``send_iter`` over a million numbers stays flat.

Example:
    >>> from smsclub_async import SmsClub
    >>> from smsclub_async.journal import SqliteJournal
    >>> async def main(phones: list[str]) -> None:
    ...     async with SmsClub(token="...", journal=SqliteJournal("sends.db")) as sms:
    ...         result = await sms.send(phones, "Sale", sender="Shop", key="sale-42")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

from ._errors import ConfigurationError, SmsClubError
from ._phones import Chunk
from ._results import SendResult
from .telemetry import mask_numbers

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "INTERRUPTED",
    "Claim",
    "Journal",
    "JournalConflictError",
    "JournalError",
    "KeySummary",
    "MemoryJournal",
    "Outcome",
    "RedisJournal",
    "SqliteJournal",
    "fingerprint",
    "journaled",
    "new_owner",
]

DEFAULT_RETENTION = timedelta(days=7)
"""How long a key's entries are kept after its last write."""

DEFAULT_LEASE = timedelta(seconds=30)
"""How long an owner counts as alive after its last claim or heartbeat."""

DEFAULT_POLL = 0.5
"""Seconds between looks at numbers another live call of the same key is sending."""

INTERRUPTED = "started before an interruption; may have been sent"
"""The ``unknown`` reason of a number started by a call that died before its answer."""

NOT_ACCOUNTED = "maybe sent: the result of its request did not mention this number"

_log = logging.getLogger("smsclub_async.journal")

State = Literal["sent", "failed", "unknown"]


class JournalError(SmsClubError):
    """The journal could not be read or written (the database or Redis failed).

    When it happens before a request (the start mark), nothing was sent: the chunk's
    numbers are in ``failed``. After the answer (the done mark), the numbers stay
    *started* in the journal, and a later call reports them ``unknown``.
    """


class JournalConflictError(JournalError, ConfigurationError):
    """The key is already in the journal for another send (another text, sender...).

    Nothing was sent. Use a new key for a new send.
    """


class Outcome(NamedTuple):
    """What happened to one number of a request, as recorded.

    Attributes:
        phone: the normalised number.
        state: ``"sent"``, ``"failed"`` or ``"unknown"``.
        detail: the message id when sent, else the reason.
    """

    phone: str
    state: State
    detail: str


@dataclass(slots=True)
class Claim:
    """What a claim found, number by number (each number in exactly one field).

    Attributes:
        fresh: numbers now marked started by this owner: send them.
        earlier: outcomes recorded before (``sent`` and ``unknown``; ``failed`` ones
            are claimed again, so they are in ``fresh``).
        held: numbers started by a live owner (possibly this one): wait for them.
        interrupted: numbers started by an owner that died: ``unknown``.
        attempt: the journal's handle of this claim, for :meth:`Journal.record`.
    """

    fresh: list[str] = field(default_factory=list)
    earlier: SendResult = field(default_factory=SendResult)
    held: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    attempt: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySummary:
    """One key's entries, counted (for ``smsclub journal show``).

    Attributes:
        key: the key.
        fingerprint: what the key was begun for (a hash of the send's parameters).
        created: when the key was begun (UTC).
        updated: its last write (UTC); it expires ``retention`` after that.
        started: numbers started and not (yet) done.
        sent, failed, unknown: numbers done, by outcome.
    """

    key: str
    fingerprint: str | None
    created: datetime
    updated: datetime
    started: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def recipients(self) -> int:
        """Numbers journaled under the key."""
        return self.started + self.sent + self.failed + self.unknown

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        return {
            "key": self.key,
            "fingerprint": self.fingerprint,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "started": self.started,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
        }


@runtime_checkable
class Journal(Protocol):
    """What :func:`journaled` (and so the clients) need from a journal.

    Every method may raise :class:`JournalError`. ``claim`` and ``record`` are each
    one atomic, durable write: when they return, the marks survive a crash.
    """

    async def begin(self, key: str, fingerprint: str) -> None:
        """Register ``key`` for a send; raise :class:`JournalConflictError` if the key
        is already there with another fingerprint."""
        ...

    async def claim(self, key: str, phones: Sequence[str], *, owner: str, lease: float) -> Claim:
        """Mark the numbers nobody started as started by ``owner``; report the rest.

        Also makes ``owner`` alive for ``lease`` seconds.
        """
        ...

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        """Record the outcomes of numbers ``owner`` started.

        ``attempt`` is the :attr:`Claim.attempt` of their claim, when known.
        ``outcomes`` should cover every number of that claim: a journal may record
        the claim as a whole, the numbers left out as ``unknown``.
        """
        ...

    async def release(self, key: str, phones: Sequence[str], *, owner: str) -> None:
        """Drop ``owner``'s start marks of numbers whose request never left."""
        ...

    async def heartbeat(self, owner: str, lease: float) -> None:
        """Keep ``owner`` alive for ``lease`` more seconds."""
        ...

    async def load(self, key: str) -> SendResult:
        """Everything recorded under ``key``: started numbers in ``unknown``."""
        ...

    async def started(self, key: str) -> dict[str, str]:
        """The numbers started and not done under ``key``: phone -> owner."""
        ...

    async def summary(self) -> list[KeySummary]:
        """Every key, counted, most recently written first."""
        ...

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        """Drop keys not written for ``older_than`` (the retention by default).

        Returns:
            How many keys were dropped.
        """
        ...

    async def aclose(self) -> None:
        """Release the journal's resources (safe to call twice)."""
        ...


# ---------------------------------------------------------------- helpers (pure)


def fingerprint(**parts: object) -> str:
    """A stable hash of a send's parameters, for :meth:`Journal.begin`.

    Example:
        >>> fingerprint(text="Hi", sender="Shop") == fingerprint(sender="Shop", text="Hi")
        True
    """
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


_HOST = socket.gethostname()


def new_owner() -> str:
    """A fresh owner name: ``host:pid:random`` (the host and pid tell liveness)."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _process_gone(owner: str) -> bool:
    """Whether ``owner`` ran on this host in a process that no longer exists."""
    host = owner.rpartition(":")[0]  # host:pid:random
    host, _, pid_text = host.rpartition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but not ours to signal
        return False
    return False


def _alive(owner: str, alive_until: float | None, now: float) -> bool:
    return alive_until is not None and alive_until > now and not _process_gone(owner)


def outcomes_of(phones: Iterable[str], result: SendResult) -> list[Outcome]:
    """Each of ``phones``' outcome in ``result`` (a number it does not mention: unknown)."""
    ids = {phone: message_id for message_id, phone in result.sent.items()}
    out: list[Outcome] = []
    for phone in phones:
        if phone in ids:
            out.append(Outcome(phone, "sent", ids[phone]))
        elif phone in result.failed:
            out.append(Outcome(phone, "failed", result.failed[phone]))
        elif phone in result.unknown:
            out.append(Outcome(phone, "unknown", result.unknown[phone]))
        else:
            out.append(Outcome(phone, "unknown", NOT_ACCOUNTED))
    return out


def _seconds(value: timedelta | float) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ConfigurationError(f"a journal duration must be positive, got {value!r}")
    return seconds


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# Entries, as the SQLite and memory journals keep them: (state, owner-or-id, reason).
_STARTED = "started"


def _sort_entry(
    claim: Claim,
    phone: str,
    *,
    state: str,
    detail: str | None,
    owners: Mapping[str, float | None],
    now: float,
) -> None:
    """Put a number that is not fresh in its field of ``claim``."""
    if state == "sent":
        claim.earlier.sent[detail or ""] = phone
    elif state == "unknown":
        claim.earlier.unknown[phone] = detail or ""
    elif _alive(detail or "", owners.get(detail or ""), now):  # started: detail = owner
        claim.held.append(phone)
    else:
        claim.interrupted.append(phone)


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

T = TypeVar("T")

_SET_UP_TIMEOUT = 30.0
"""Seconds a new connection retries setting up a file another one is setting up."""

_TOUCH_EVERY = 60.0
"""Seconds between writes of a key's ``updated`` time by one journal."""
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


def _mark(outcome: Outcome) -> str:
    return _MARK_OF[outcome.state] + outcome.detail


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


def _conflict(key: str) -> JournalConflictError:
    return JournalConflictError(
        f"the journal key {key!r} was used for another send (another text, sender,"
        " recipients' messages or options); nothing was sent. Use a new key for a new send"
    )


def _load_entry(result: SendResult, phone: str, state: str, detail: str | None) -> None:
    if state == "sent":
        result.sent[detail or ""] = phone
    elif state == "failed":
        result.failed[phone] = detail or ""
    elif state == "unknown":
        result.unknown[phone] = detail or ""
    else:
        result.unknown[phone] = INTERRUPTED


def _summary(
    key: str, fp: str | None, created: float, updated: float, counts: dict[str, int]
) -> KeySummary:
    return KeySummary(
        key=key,
        fingerprint=fp,
        created=_when(created),
        updated=_when(updated),
        started=counts.get(_STARTED, 0),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        unknown=counts.get("unknown", 0),
    )


# ---------------------------------------------------------------- memory


@dataclass(slots=True)
class _MemoryKey:
    fingerprint: str | None
    created: float
    updated: float
    entries: dict[str, tuple[str, str | None]] = field(default_factory=dict)


class MemoryJournal:
    """A journal in this process's memory: protects one process from a repeated call.

    What a client uses when ``key=`` is given without a journal. Forgotten when the
    process ends: it does not survive a crash and is not shared between processes
    (use :class:`SqliteJournal` or :class:`RedisJournal` for that). It holds every
    journaled number in memory (about 150 bytes each) until its key expires: keys
    past the retention are dropped when a send begins (at most once a minute) and by
    :meth:`purge`.

    Every method finishes without awaiting anything, so each is atomic on its loop.

    Args:
        retention: how long a key is kept after its last write.
        clock: seconds since the epoch (tests patch it).
    """

    def __init__(
        self, *, retention: timedelta = DEFAULT_RETENTION, clock: Callable[[], float] = time.time
    ) -> None:
        self.retention = retention
        self._retention_s = _seconds(retention)
        self._clock = clock
        self._keys: dict[str, _MemoryKey] = {}
        self._owners: dict[str, float] = {}
        self._purged_at = float("-inf")

    def __repr__(self) -> str:
        return f"MemoryJournal(keys={len(self._keys)})"

    def _key(self, key: str, now: float) -> _MemoryKey:
        entry = self._keys.get(key)
        if entry is not None and entry.updated < now - self._retention_s:
            entry = None
        if entry is None:
            entry = self._keys[key] = _MemoryKey(None, now, now)
        return entry

    async def begin(self, key: str, fingerprint: str) -> None:
        now = self._clock()
        if now - self._purged_at >= _TOUCH_EVERY:  # expired keys go, once a minute at most
            self._purged_at = now
            await self.purge()
        entry = self._key(key, now)
        if entry.fingerprint is None:
            entry.fingerprint = fingerprint
        elif entry.fingerprint != fingerprint:
            raise _conflict(key)

    async def claim(self, key: str, phones: Sequence[str], *, owner: str, lease: float) -> Claim:
        now = self._clock()
        self._owners[owner] = now + lease
        entry = self._key(key, now)
        claim = Claim()
        owners: dict[str, float] = self._owners
        for phone in dict.fromkeys(phones):
            row = entry.entries.get(phone)
            if row is None or row[0] == "failed":
                claim.fresh.append(phone)
                entry.entries[phone] = (_STARTED, owner)
            else:
                _sort_entry(claim, phone, state=row[0], detail=row[1], owners=owners, now=now)
        if claim.fresh:
            entry.updated = now
        return claim

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        now = self._clock()
        entry = self._key(key, now)
        for outcome in outcomes:
            if entry.entries.get(outcome.phone) == (_STARTED, owner):
                entry.entries[outcome.phone] = (outcome.state, outcome.detail)
        entry.updated = now

    async def release(self, key: str, phones: Sequence[str], *, owner: str) -> None:
        entry = self._keys.get(key)
        if entry is None:
            return
        for phone in phones:
            if entry.entries.get(phone) == (_STARTED, owner):
                del entry.entries[phone]

    async def heartbeat(self, owner: str, lease: float) -> None:
        self._owners[owner] = self._clock() + lease

    async def load(self, key: str) -> SendResult:
        result = SendResult()
        entry = self._keys.get(key)
        if entry is not None:
            for phone, (state, detail) in entry.entries.items():
                _load_entry(result, phone, state, detail)
        return result

    async def started(self, key: str) -> dict[str, str]:
        entry = self._keys.get(key)
        if entry is None:
            return {}
        return {p: o or "" for p, (state, o) in entry.entries.items() if state == _STARTED}

    async def summary(self) -> list[KeySummary]:
        out = []
        for key, entry in self._keys.items():
            counts: dict[str, int] = {}
            for state, _ in entry.entries.values():
                counts[state] = counts.get(state, 0) + 1
            out.append(_summary(key, entry.fingerprint, entry.created, entry.updated, counts))
        return sorted(out, key=lambda s: s.updated, reverse=True)

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._retention_s if older_than is None else older_than.total_seconds()
        before = self._clock() - age
        old = [key for key, entry in self._keys.items() if entry.updated < before]
        for key in old:
            del self._keys[key]
        for owner in [o for o, until in self._owners.items() if until < before]:
            del self._owners[owner]
        return len(old)

    async def aclose(self) -> None:
        """Nothing to release."""


# ---------------------------------------------------------------- Redis

# Entries: hash field phone -> "s<owner>" started, "S<id>" sent, "f<reason>" failed,
# "u<reason>" unknown. Counters per key in its meta hash (for the summary).
_CLAIM = """
local entries, meta, owners, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, now, alive_until, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('HSET', owners, owner, alive_until)
local out = {}
local fresh = 0
for i = 5, #ARGV do
  local phone = ARGV[i]
  local v = redis.call('HGET', entries, phone)
  if not v or string.sub(v, 1, 1) == 'f' then
    redis.call('HSET', entries, phone, 's' .. owner)
    if v then redis.call('HINCRBY', meta, 'failed', -1) end
    redis.call('HINCRBY', meta, 'started', 1)
    fresh = fresh + 1
    out[#out + 1] = ''
  elseif string.sub(v, 1, 1) == 's' then
    local until_ = redis.call('HGET', owners, string.sub(v, 2)) or '0'
    out[#out + 1] = v .. '\\n' .. until_
  else
    out[#out + 1] = v
  end
end
if fresh > 0 then
  if redis.call('HSETNX', meta, 'created', now) == 1 then
    redis.call('HSETNX', meta, 'fingerprint', '')
  end
  redis.call('HSET', meta, 'updated', now)
  redis.call('ZADD', index, now, KEYS[5])
  redis.call('PEXPIRE', entries, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
if fresh == #ARGV - 4 then
  return fresh  -- all of them new: no list to send back and parse
end
return out
"""

_RECORD = """
local entries, meta, index = KEYS[1], KEYS[2], KEYS[3]
local started, now, ttl = 's' .. ARGV[1], ARGV[2], tonumber(ARGV[3])
local names = {S = 'sent', f = 'failed', u = 'unknown'}
for i = 4, #ARGV do
  local value = ARGV[i]
  local cut = string.find(value, '\\n', 1, true)
  local phone, mark = string.sub(value, 1, cut - 1), string.sub(value, cut + 1)
  if redis.call('HGET', entries, phone) == started then
    redis.call('HSET', entries, phone, mark)
    redis.call('HINCRBY', meta, 'started', -1)
    redis.call('HINCRBY', meta, names[string.sub(mark, 1, 1)], 1)
  end
end
redis.call('HSET', meta, 'updated', now)
redis.call('ZADD', index, now, KEYS[4])
redis.call('PEXPIRE', entries, ttl)
redis.call('PEXPIRE', meta, ttl)
return 1
"""

_RELEASE = """
local entries, meta = KEYS[1], KEYS[2]
local started = 's' .. ARGV[1]
for i = 2, #ARGV do
  if redis.call('HGET', entries, ARGV[i]) == started then
    redis.call('HDEL', entries, ARGV[i])
    redis.call('HINCRBY', meta, 'started', -1)
  end
end
return 1
"""

_BEGIN = """
local meta, index = KEYS[1], KEYS[2]
local fp, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local existing = redis.call('HGET', meta, 'fingerprint')
if existing and existing ~= '' and existing ~= fp then
  return existing
end
redis.call('HSET', meta, 'fingerprint', fp)
redis.call('HSETNX', meta, 'created', now)
redis.call('HSET', meta, 'updated', now)
redis.call('ZADD', index, now, KEYS[3])
redis.call('PEXPIRE', meta, ttl)
return false
"""

_STATE_OF = {"S": "sent", "f": "failed", "u": "unknown"}
_MARK_OF = {"sent": "S", "failed": "f", "unknown": "u"}


class RedisJournal:
    """A journal in Redis, shared by many processes and hosts.

    Claims and records are Lua scripts, so each is atomic; keep the Redis persistent
    (``appendonly yes``, ideally ``appendfsync always``) and never evicting
    (``maxmemory-policy noeviction``): a journal that forgets a start mark lets a
    later call send the number again. A key's entries expire ``retention`` after its
    last write (Redis key expiry); :meth:`purge` drops them earlier on demand.

    Leases are judged by the clients' clocks (keep hosts in NTP sync: the lease is
    30 s, skews are milliseconds).

    Layout, for a key ``K`` (the prefix is configurable)::

        <prefix>e:K      hash: phone -> "s<owner>" | "S<message id>" | "f<reason>" | "u<reason>"
        <prefix>m:K      hash: fingerprint, created, updated, counts per state
        <prefix>keys     sorted set: key -> last write (for the summary and purge)
        <prefix>owners   hash: owner -> alive until (epoch seconds)

    Args:
        redis: a ``redis.asyncio.Redis`` client (borrowed: never closed here).
        prefix: the prefix of every Redis key.
        retention: how long a key is kept after its last write.
        clock: seconds since the epoch (tests patch it).
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        prefix: str = "smsclub:journal:",
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retention = retention
        self._ttl_ms = int(_seconds(retention) * 1000)
        self._clock = clock
        self._claim = redis.register_script(_CLAIM)
        self._record = redis.register_script(_RECORD)
        self._release = redis.register_script(_RELEASE)
        self._begin = redis.register_script(_BEGIN)

    def __repr__(self) -> str:
        return f"RedisJournal(prefix={self.prefix!r}, retention={self.retention!r})"

    def _entries(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    def _meta(self, key: str) -> str:
        return f"{self.prefix}m:{key}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}keys"

    @property
    def _owners(self) -> str:
        return f"{self.prefix}owners"

    async def _call(self, what: str, work: Awaitable[T]) -> T:
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        try:
            return await work
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to {what}: {exc}") from exc

    async def begin(self, key: str, fingerprint: str) -> None:
        existing = await self._call(
            "begin a key",
            self._begin(
                keys=[self._meta(key), self._index, key],
                args=[fingerprint, repr(self._clock()), self._ttl_ms],
            ),
        )
        if existing:
            raise _conflict(key)

    async def claim(self, key: str, phones: Sequence[str], *, owner: str, lease: float) -> Claim:
        phones = list(dict.fromkeys(phones))
        if not phones:
            return Claim()
        now = self._clock()
        answers = await self._call(
            "claim numbers",
            self._claim(
                keys=[self._entries(key), self._meta(key), self._owners, self._index, key],
                args=[owner, repr(now), repr(now + lease), self._ttl_ms, *phones],
            ),
        )
        claim = Claim()
        if isinstance(answers, int):  # every number was new
            claim.fresh = phones
            return claim
        for phone, raw in zip(phones, answers, strict=True):
            value = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not value:
                claim.fresh.append(phone)
            elif value[0] == "s":
                holder, _, until = value[1:].partition("\n")
                if _alive(holder, float(until or 0), now):
                    claim.held.append(phone)
                else:
                    claim.interrupted.append(phone)
            elif value[0] == "S":
                claim.earlier.sent[value[1:]] = phone
            else:
                claim.earlier.unknown[phone] = value[1:]
        return claim

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        if not outcomes:
            return
        marks = [f"{o.phone}\n{_MARK_OF[o.state]}{o.detail}" for o in outcomes]
        await self._call(
            "record outcomes",
            self._record(
                keys=[self._entries(key), self._meta(key), self._index, key],
                args=[owner, repr(self._clock()), self._ttl_ms, *marks],
            ),
        )

    async def release(self, key: str, phones: Sequence[str], *, owner: str) -> None:
        if phones:
            await self._call(
                "release numbers",
                self._release(keys=[self._entries(key), self._meta(key)], args=[owner, *phones]),
            )

    async def heartbeat(self, owner: str, lease: float) -> None:
        await self._call(
            "renew a lease", self.redis.hset(self._owners, owner, repr(self._clock() + lease))
        )

    async def _scan(self, key: str) -> list[tuple[str, str]]:
        """Every (phone, entry) of ``key``, read in pages of 1,000."""
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        out: list[tuple[str, str]] = []
        try:
            async for raw_phone, raw in self.redis.hscan_iter(self._entries(key), count=1000):
                phone = raw_phone.decode() if isinstance(raw_phone, bytes) else str(raw_phone)
                out.append((phone, raw.decode() if isinstance(raw, bytes) else str(raw)))
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to read {key!r}: {exc}") from exc
        return out

    async def load(self, key: str) -> SendResult:
        result = SendResult()
        for phone, value in await self._scan(key):
            _load_entry(result, phone, _STATE_OF.get(value[:1], _STARTED), value[1:])
        return result

    async def started(self, key: str) -> dict[str, str]:
        return {phone: value[1:] for phone, value in await self._scan(key) if value[:1] == "s"}

    async def summary(self) -> list[KeySummary]:
        keys = await self._call("list keys", self.redis.zrevrange(self._index, 0, -1))
        out = []
        for raw in keys:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            meta = await self._call("read a key", self.redis.hgetall(self._meta(key)))
            if not meta:
                continue
            fields = {
                (k.decode() if isinstance(k, bytes) else k): (
                    v.decode() if isinstance(v, bytes) else v
                )
                for k, v in meta.items()
            }
            counts = {s: int(fields.get(s, 0)) for s in (_STARTED, "sent", "failed", "unknown")}
            out.append(
                _summary(
                    key,
                    fields.get("fingerprint") or None,
                    float(fields.get("created", 0)),
                    float(fields.get("updated", 0)),
                    counts,
                )
            )
        return out

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._ttl_ms / 1000 if older_than is None else older_than.total_seconds()
        before = self._clock() - age
        old = await self._call(
            "list old keys", self.redis.zrangebyscore(self._index, "-inf", f"({before!r}")
        )
        dropped = 0
        for raw in old:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.exists(self._meta(key))
                pipe.delete(self._entries(key), self._meta(key))
                pipe.zrem(self._index, key)
                existed, *_ = await self._call("purge a key", pipe.execute())
            dropped += bool(existed)
        owners = await self._call("list owners", self.redis.hgetall(self._owners))
        stale = [o for o, until in owners.items() if float(until) < before]
        if stale:
            await self._call("purge owners", self.redis.hdel(self._owners, *stale))
        return dropped

    async def aclose(self) -> None:
        """The Redis client is borrowed: nothing to close."""


# ---------------------------------------------------------------- the wrapper

SendChunk = Callable[[Chunk], Awaitable[SendResult]]

_background: set[asyncio.Task[Any]] = set()


class _Lease:
    """One owner's heartbeat, running while it has chunks in flight."""

    __slots__ = ("_in_flight", "_task", "journal", "lease", "owner")

    def __init__(self, journal: Journal, owner: str, lease: float) -> None:
        self.journal = journal
        self.owner = owner
        self.lease = lease
        self._in_flight = 0
        self._task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        self._in_flight += 1
        if self._task is None:
            self._task = asyncio.ensure_future(self._beat())

    def exit(self) -> None:
        self._in_flight -= 1
        if not self._in_flight and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self.journal.heartbeat(self.owner, self.lease)
            except JournalError:
                _log.warning("could not renew the journal lease of %s", self.owner, exc_info=True)


def _sub_chunk(chunk: Chunk, phones: list[str], *, rejected: bool) -> Chunk:
    messages: list[str] = []
    if chunk.messages:
        text = dict(zip(chunk.phones, chunk.messages, strict=False))
        messages = [text[p] for p in phones]
    return Chunk(
        phones=phones,
        messages=messages,
        rejected=dict(chunk.rejected) if rejected else {},
        index=chunk.index,
    )


_HELD_ELSEWHERE = "maybe sent: another call with the same key was sending it"


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _keep(journal_write: Awaitable[None]) -> asyncio.Future[None]:
    """Run a journal write to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(journal_write)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def journaled(
    send_chunk: SendChunk,
    *,
    journal: Journal,
    key: str,
    owner: str | None = None,
    lease: timedelta | float = DEFAULT_LEASE,
    poll: float = DEFAULT_POLL,
) -> SendChunk:
    """Wrap a chunk sender so that every number goes through ``journal`` under ``key``.

    For each chunk: claim its numbers (start marks on disk before anything is sent),
    send only the freshly claimed ones (a sub-chunk, with their personalised
    messages), record their outcomes as soon as the answer is back, and return the
    chunk's combined result: earlier outcomes, :data:`INTERRUPTED` numbers in
    ``unknown``, numbers another live call was sending (waited for, ``poll`` seconds
    between looks), and what was sent now. Numbers refused before any request pass
    through as ``failed``. Like ``send_chunk``, the wrapper never raises: a journal
    failure before the request leaves the chunk's numbers ``failed`` (nothing was
    sent) with ``error`` set to the :class:`JournalError`.

    Call :meth:`Journal.begin` for ``key`` first (the client does).

    Args:
        send_chunk: sends one chunk and never raises.
        journal: where the marks go.
        key: the send's key.
        owner: the name of this call's claims (:func:`new_owner` by default).
        lease: how long this call stays alive without a heartbeat.
        poll: seconds between looks at numbers another live call is sending.
    """
    lease_s = _seconds(lease)
    me = owner or new_owner()
    heart = _Lease(journal, me, lease_s)

    async def send(chunk: Chunk) -> SendResult:
        if not chunk.phones:
            return await send_chunk(chunk)
        combined = SendResult()
        fresh_results: list[SendResult] = []
        pending = list(dict.fromkeys(chunk.phones))
        first = True
        heart.enter()
        try:
            while pending:
                try:
                    claim = await _claim(journal, key, pending, me, lease_s)
                except JournalError as exc:
                    combined.failed.update(
                        dict.fromkeys(pending, f"not sent: the journal failed: {exc}")
                    )
                    combined.error = exc
                    break
                except asyncio.CancelledError:
                    combined.failed.update(
                        dict.fromkeys(pending, "not sent: cancelled before sending")
                    )
                    break
                combined.merge(claim.earlier)
                combined.unknown.update(dict.fromkeys(claim.interrupted, INTERRUPTED))
                if claim.fresh:
                    if first and len(claim.fresh) == len(chunk.phones):
                        sub = chunk  # the common case: all of it is new
                    else:
                        sub = _sub_chunk(chunk, claim.fresh, rejected=first)
                    first = False
                    result = await send_chunk(sub)
                    fresh_results.append(result)
                    await _record(journal, key, claim, result, me)
                pending = claim.held
                if pending and _cancelling():
                    # send_chunk turns a cancellation into a result: stop waiting too.
                    combined.unknown.update(dict.fromkeys(pending, _HELD_ELSEWHERE))
                    break
                if pending:
                    try:
                        await asyncio.sleep(poll)
                    except asyncio.CancelledError:
                        combined.unknown.update(dict.fromkeys(pending, _HELD_ELSEWHERE))
                        break
        finally:
            heart.exit()
        if first and chunk.rejected:
            combined.failed.update(chunk.rejected)
        return _combine(combined, fresh_results)

    return send


def _combine(earlier: SendResult, fresh: list[SendResult]) -> SendResult:
    """A chunk's result: what the journal knew, then what was sent now (its type kept)."""
    if not fresh:
        return earlier
    if len(fresh) == 1 and not earlier.recipients and earlier.error is None:
        return fresh[0]  # nothing from before: the sender's result as it is
    total = type(fresh[0])()
    total.merge(earlier)
    for result in fresh:
        total.merge(result)
    return total


async def _claim(journal: Journal, key: str, phones: list[str], owner: str, lease: float) -> Claim:
    """Claim; if cancelled meanwhile, give back what the claim took (nothing was sent)."""
    claiming = asyncio.ensure_future(journal.claim(key, phones, owner=owner, lease=lease))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:

        async def give_back() -> None:
            with contextlib.suppress(BaseException):
                claim = await claiming
                await journal.release(key, claim.fresh, owner=owner)

        _keep(give_back())
        raise


async def _record(journal: Journal, key: str, claim: Claim, result: SendResult, owner: str) -> None:
    """Record the outcomes; a cancellation meanwhile does not stop the write."""
    phones = claim.fresh
    outcomes = outcomes_of(phones, result)
    writing = _keep(journal.record(key, outcomes, owner=owner, attempt=claim.attempt))
    try:
        await asyncio.shield(writing)
    except asyncio.CancelledError:
        pass  # the write goes on; the result is returned either way
    except JournalError as exc:
        # The numbers stay "started": a later call reports them unknown, never resends.
        # Ids of SMSC and REX400 are "<id>:<phone>", and a key may hold a number:
        # masked, as every signal of the library is (telemetry.mask_numbers).
        _log.error(
            "journal key %r: could not record the outcome of %d numbers (ids %s): %s",
            mask_numbers(key),
            len(phones),
            mask_numbers(", ".join(result.sent)),
            exc,
        )
