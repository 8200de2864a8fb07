"""The SQLite journal's own design: a key one call holds alone is not indexed, the
index is built when the key changes hands, outcomes are queued and written with the
next transaction, and transactions are shared by the claims that arrive together."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from smsclub_async import SendResult, SmsClub
from smsclub_async.journal import (
    INTERRUPTED,
    JournalError,
    Outcome,
    ResultOutcomes,
    SqliteJournal,
    new_owner,
)
from smsclub_async.journal._batches import BatchThread
from smsclub_async.journal._sqlite import RECORD_DELAY
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from .conftest import Clock

LEASE = 30.0
PHONES = [f"38097{i:07d}" for i in range(12)]


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    """What another connection (another process) reads in the file now."""
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def sent(*phones: str) -> SendResult:
    return SendResult(sent={f"id-{p}": p for p in phones})


async def test_a_key_one_call_holds_alone_is_not_indexed(tmp_path: Path, clock: Clock) -> None:
    """Distinct claims of one owner: an attempt row each, no index entry per number."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        await journal.begin("k", "fp")
        owner = new_owner()
        first = await journal.claim("k", PHONES[:4], owner=owner, lease=LEASE, distinct=True)
        second = await journal.claim("k", PHONES[4:8], owner=owner, lease=LEASE, distinct=True)
        assert first.fresh == PHONES[:4]
        assert second.fresh == PHONES[4:8]
        assert rows(path, "SELECT count(*) FROM entries") == [(0,)]
        assert rows(path, "SELECT count(*) FROM attempts") == [(2,)]
        assert rows(path, "SELECT holder FROM keys") == [(owner,)]


async def test_a_finished_key_is_taken_over_and_indexed(tmp_path: Path, clock: Clock) -> None:
    """After finish(), the next call indexes the key and sees every earlier outcome."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        first = new_owner()
        claim = await journal.claim("k", PHONES[:3], owner=first, lease=LEASE, distinct=True)
        outcomes = ResultOutcomes(claim.fresh, sent(*PHONES[:2]))
        await journal.record("k", outcomes, owner=first, attempt=claim.attempt)
        await journal.finish("k", first)
        assert rows(path, "SELECT holder FROM keys") == [(None,)]
        again = await journal.claim("k", PHONES[:5], owner=new_owner(), lease=LEASE, distinct=True)
    assert again.earlier.sent == {f"id-{p}": p for p in PHONES[:2]}
    assert again.earlier.unknown == {
        PHONES[2]: "maybe sent: the result of its request did not mention this number"
    }
    assert again.fresh == PHONES[3:5]
    assert sorted(r[0] for r in rows(path, "SELECT phone FROM entries")) == PHONES[:3]


async def test_a_key_whose_holder_died_is_taken_over(tmp_path: Path, clock: Clock) -> None:
    """A holder past its lease: its started numbers are interrupted, the rest fresh."""
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as journal:
        await journal.claim("k", PHONES[:2], owner=new_owner(), lease=LEASE, distinct=True)
        clock.advance(LEASE + 1)
        claim = await journal.claim("k", PHONES[:4], owner=new_owner(), lease=LEASE, distinct=True)
    assert claim.interrupted == PHONES[:2]
    assert claim.fresh == PHONES[2:4]


async def test_a_second_live_call_shares_the_key(tmp_path: Path, clock: Clock) -> None:
    """Two live calls on one key: number by number, neither claims the other's."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        one, two = new_owner(), new_owner()
        await journal.claim("k", PHONES[:3], owner=one, lease=LEASE, distinct=True)
        claim = await journal.claim("k", PHONES[1:6], owner=two, lease=LEASE, distinct=True)
        assert claim.held == PHONES[1:3]
        assert claim.fresh == PHONES[3:6]
        assert rows(path, "SELECT holder FROM keys") == [("*",)]
        back = await journal.claim("k", PHONES[5:8], owner=one, lease=LEASE, distinct=True)
        assert back.held == [PHONES[5]]
        assert back.fresh == PHONES[6:8]


async def test_repeats_within_a_call_are_sent_once_unless_distinct(
    tmp_path: Path, clock: Clock
) -> None:
    """Without ``distinct`` a call's own earlier numbers are looked up (sent once)."""
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as journal:
        owner = new_owner()
        claim = await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)
        await journal.record(
            "k", ResultOutcomes(claim.fresh, sent(*PHONES[:2])), owner=owner, attempt=claim.attempt
        )
        again = await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE)
    assert again.earlier.sent == {f"id-{p}": p for p in PHONES[:2]}
    assert again.fresh == [PHONES[2]]


async def test_outcomes_wait_for_the_next_write_at_most_a_moment(
    tmp_path: Path, clock: Clock
) -> None:
    """A recorded outcome is on disk with the next claim, or RECORD_DELAY later."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        owner = new_owner()
        claim = await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE, distinct=True)
        await journal.record(
            "k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner, attempt=claim.attempt
        )
        assert rows(path, "SELECT count(*) FROM outcomes") == [(0,)]  # queued, not written
        await journal.claim("k", PHONES[1:2], owner=owner, lease=LEASE, distinct=True)
        assert rows(path, "SELECT attempt FROM outcomes") == [(int(claim.attempt or 0),)]
        await journal.record("k", [Outcome(PHONES[1], "failed", "no")], owner=owner)
        await asyncio.sleep(RECORD_DELAY * 4)
        assert rows(path, "SELECT count(*) FROM outcomes") == [(2,)]


async def test_finish_writes_the_queued_outcomes(tmp_path: Path, clock: Clock) -> None:
    """finish() returns once the call's outcomes are on disk."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        owner = new_owner()
        claim = await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE, distinct=True)
        await journal.record(
            "k", ResultOutcomes(claim.fresh, sent(*PHONES[:2])), owner=owner, attempt=claim.attempt
        )
        await journal.finish("k", owner)
        assert rows(path, "SELECT sent, failed, unknown FROM outcomes") == [(2, 0, 0)]


async def test_closing_writes_the_queued_outcomes(tmp_path: Path, clock: Clock) -> None:
    """aclose() writes what is queued before it closes the file."""
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, clock=clock)
    owner = new_owner()
    claim = await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE, distinct=True)
    await journal.record(
        "k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner, attempt=claim.attempt
    )
    await journal.aclose()
    async with SqliteJournal(path, clock=clock) as again:
        assert (await again.load("k")).sent == {"id-0": PHONES[0]}


async def test_a_result_is_stored_as_it_is_and_read_back_number_by_number(
    tmp_path: Path, clock: Clock
) -> None:
    """Sent, failed, unknown and unmentioned numbers of one result, loaded back."""
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as journal:
        owner = new_owner()
        claim = await journal.claim("k", PHONES[:4], owner=owner, lease=LEASE, distinct=True)
        result = SendResult(
            sent={'id\n"0"': PHONES[0], "id-x": "380000000000"},  # and a number not asked
            failed={PHONES[1]: "refused: \u0431\u0430\u043d"},
            unknown={PHONES[2]: "dropped"},
        )
        await journal.record(
            "k", ResultOutcomes(claim.fresh, result), owner=owner, attempt=claim.attempt
        )
        await journal.finish("k", owner)
        loaded = await journal.load("k")
        (summary,) = await journal.summary()
    assert loaded.sent == {'id\n"0"': PHONES[0]}
    assert loaded.failed == {PHONES[1]: "refused: \u0431\u0430\u043d"}
    assert loaded.unknown[PHONES[2]] == "dropped"
    assert PHONES[3] in loaded.unknown
    assert (summary.sent, summary.failed, summary.unknown, summary.started) == (1, 1, 2, 0)


async def test_released_numbers_are_fresh_again(tmp_path: Path, clock: Clock) -> None:
    """Given back (the request never left): gone from the attempt, fresh for the next call."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        owner = new_owner()
        claim = await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE, distinct=True)
        await journal.release("k", claim.fresh, owner=owner, attempt=claim.attempt)
        assert rows(path, "SELECT phones, size FROM attempts") == [("[]", 0)]
        await journal.finish("k", owner)
        again = await journal.claim("k", PHONES[:3], owner=new_owner(), lease=LEASE)
    assert again.fresh == PHONES[:3]


async def test_a_file_of_the_first_layout_is_migrated(tmp_path: Path, clock: Clock) -> None:
    """A journal written by the first layout (a row per number) reads and resumes."""
    path = tmp_path / "j.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                fingerprint TEXT, created REAL NOT NULL, updated REAL NOT NULL);
            CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, key_id INTEGER NOT NULL,
                owner TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, outcome TEXT,
                size INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0, unknown INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE entries (key_id INTEGER NOT NULL, phone TEXT NOT NULL,
                attempt INTEGER NOT NULL, PRIMARY KEY (key_id, phone)) WITHOUT ROWID;
            CREATE TABLE owners (owner TEXT PRIMARY KEY, alive_until REAL NOT NULL);
            """
        )
        db.execute("INSERT INTO keys VALUES (1, 'k', 'fp', 1, 1)")
        outcome = json.dumps({PHONES[0]: "Sid-0", PHONES[1]: "fno"})
        db.execute("INSERT INTO attempts VALUES (1, 1, 'gone:1:x', 1, ?, 2, 1, 1, 0)", (outcome,))
        db.execute("INSERT INTO attempts (id, key_id, owner, size) VALUES (2, 1, 'gone:1:y', 1)")
        db.executemany(
            "INSERT INTO entries VALUES (1, ?, ?)", [(PHONES[0], 1), (PHONES[1], 1), (PHONES[2], 2)]
        )
    async with SqliteJournal(path, clock=clock) as journal:
        assert await journal.load("k") == SendResult(
            sent={"id-0": PHONES[0]}, failed={PHONES[1]: "no"}, unknown={PHONES[2]: INTERRUPTED}
        )
        claim = await journal.claim("k", PHONES[:4], owner=new_owner(), lease=LEASE, distinct=True)
    assert claim.earlier.sent == {"id-0": PHONES[0]}
    assert claim.interrupted == [PHONES[2]]
    assert sorted(claim.fresh) == sorted([PHONES[1], PHONES[3]])


async def test_claims_arriving_together_share_a_transaction(tmp_path: Path) -> None:
    """Ten claims submitted at once: fewer transactions than claims, all committed."""
    path = tmp_path / "j.db"
    transactions = 0
    async with SqliteJournal(path) as journal:
        thread = journal._thread
        run = thread._run

        def counting(jobs: list[object]) -> None:
            nonlocal transactions
            transactions += 1
            run(jobs)  # type: ignore[arg-type]

        thread._run = counting  # type: ignore[method-assign]
        owners = [new_owner() for _ in range(10)]
        claims = await asyncio.gather(
            *(
                journal.claim(f"k{n}", PHONES[n : n + 1], owner=o, lease=LEASE)
                for n, o in enumerate(owners)
            )
        )
    assert [c.fresh for c in claims] == [PHONES[n : n + 1] for n in range(10)]
    assert transactions < 10
    assert rows(path, "SELECT count(*) FROM attempts") == [(10,)]


async def test_a_failing_job_costs_only_itself() -> None:
    """In a shared transaction, one job's error goes to its caller; the others commit."""

    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        db.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
        return db

    thread = BatchThread(
        connect,
        before_batch=lambda db: None,
        translate=lambda exc: JournalError(str(exc)),
        on_rollback=lambda: None,
        name="test",
    )
    gate = threading.Event()
    batches: list[int] = []
    run = thread._run

    def counting(jobs: list[object]) -> None:
        batches.append(len(jobs))
        run(jobs)  # type: ignore[arg-type]

    thread._run = counting  # type: ignore[method-assign]
    entered = threading.Event()

    def hold(db: sqlite3.Connection) -> bool:
        entered.set()
        return gate.wait(5)

    held = thread.submit(hold)
    await asyncio.to_thread(entered.wait, 5)  # the thread is busy: the next ones queue
    jobs = [
        thread.submit(lambda db: db.execute("INSERT INTO t VALUES (1)").rowcount),
        thread.submit(lambda db: db.execute("INSERT INTO t VALUES (1)").rowcount),
        thread.submit(lambda db: db.execute("INSERT INTO t VALUES (2)").rowcount),
    ]
    gate.set()
    assert await held is True
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert batches[1] == 3  # the three went into one transaction
    assert results[0] == 1
    assert isinstance(results[1], JournalError)
    assert results[2] == 1
    assert await thread.submit(lambda db: db.execute("SELECT v FROM t").fetchall()) == [(1,), (2,)]
    await thread.close()


async def test_a_closed_journal_refuses_work(tmp_path: Path) -> None:
    """After aclose(), a claim or a record raises JournalError."""
    journal = SqliteJournal(tmp_path / "j.db")
    await journal.aclose()
    with pytest.raises(JournalError, match="closed"):
        await journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE)
    with pytest.raises(JournalError, match="closed"):
        await journal.record("k", [Outcome(PHONES[0], "sent", "x")], owner="o", attempt="1")


async def test_claims_of_a_group_are_one_statement_when_the_key_is_held(
    tmp_path: Path, clock: Clock
) -> None:
    """claim_many: a claim per list, fresh, in order; the same answers as claims one by
    one when the key is not (yet) held or was shared."""
    path = tmp_path / "j.db"
    async with SqliteJournal(path, clock=clock) as journal:
        await journal.begin("k", "fp")
        owner = new_owner()
        lists = [PHONES[0:2], PHONES[2:4], PHONES[4:6]]
        first = await journal.claim_many("k", lists, owner=owner, lease=LEASE, distinct=True)
        second = await journal.claim_many(
            "k", [PHONES[6:8], PHONES[8:10]], owner=owner, lease=LEASE, distinct=True
        )
        assert [c.fresh for c in first + second] == [*lists, PHONES[6:8], PHONES[8:10]]
        attempts = [int(c.attempt or 0) for c in first + second]
        assert attempts == sorted(attempts)
        assert rows(path, "SELECT phones FROM attempts ORDER BY id")[3:] == [
            (json.dumps(PHONES[6:8], separators=(",", ":")),),
            (json.dumps(PHONES[8:10], separators=(",", ":")),),
        ]
        other = new_owner()  # a second live call: shared, number by number
        shared = await journal.claim_many(
            "k", [PHONES[1:3], PHONES[10:12]], owner=other, lease=LEASE, distinct=True
        )
    assert [c.held for c in shared] == [PHONES[1:3], []]
    assert [c.fresh for c in shared] == [[], PHONES[10:12]]


async def test_a_file_that_cannot_be_made_is_a_journal_error(tmp_path: Path) -> None:
    """A path under a regular file: JournalError for the claim, and the journal's
    thread lives on (a later call gets an answer, not a hang)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    journal = SqliteJournal(blocker / "sends.db")
    for _ in range(2):
        with pytest.raises(JournalError, match="failed"):
            await asyncio.wait_for(
                journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE), 5
            )
    await journal.aclose()


def test_a_journal_outlives_its_first_event_loop(tmp_path: Path) -> None:
    """Used from one asyncio.run() and then another (a notebook, a CLI calling run
    twice): outcomes recorded in the second loop are still written within a moment."""
    path = tmp_path / "j.db"
    journal = SqliteJournal(path)
    owner = new_owner()

    async def first() -> None:
        claim = await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE, distinct=True)
        await journal.record(
            "k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner, attempt=claim.attempt
        )  # its timer dies with this loop; the next write carries it

    async def second() -> None:
        claim = await journal.claim("k", PHONES[1:2], owner=owner, lease=LEASE, distinct=True)
        await journal.record(
            "k", [Outcome(PHONES[1], "sent", "id-1")], owner=owner, attempt=claim.attempt
        )
        await asyncio.sleep(RECORD_DELAY * 4)
        assert rows(path, "SELECT count(*) FROM outcomes") == [(2,)]
        await journal.aclose()

    asyncio.run(first())
    asyncio.run(second())


async def test_two_journals_on_one_file_share_a_key(tmp_path: Path) -> None:
    """Two connections (as two processes would have) sending one key at once: each
    number delivered once, both results whole."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    phones = [f"38063{i:07d}" for i in range(1500)]

    async def one(journal: SqliteJournal, order: list[str]) -> SendResult:
        async with SmsClub(
            token="shared", transport=SandboxTransport(sandbox), rate_limit=1000, journal=journal
        ) as sms:
            return await sms.send(order, "Sale", sender="VashZakaz", key="k")

    first, second = await asyncio.gather(
        one(SqliteJournal(tmp_path / "j.db"), phones),
        one(SqliteJournal(tmp_path / "j.db"), phones[::-1]),
    )
    assert set(sandbox.deliveries().values()) == {1}
    assert len(sandbox.deliveries()) == len(phones)
    assert first.sent == second.sent
    assert sorted(first.sent.values()) == phones
