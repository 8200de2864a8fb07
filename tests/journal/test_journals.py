"""Each journal (memory, SQLite, Redis) on a patched clock: claims, records, leases,
conflicts, retention, purge and the summary."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio

from smsclub_async import ConfigurationError, SendResult
from smsclub_async.journal import (
    INTERRUPTED,
    Journal,
    JournalConflictError,
    MemoryJournal,
    Outcome,
    RedisJournal,
    SqliteJournal,
    new_owner,
)
from tests.redis._redis_support import RedisServer

from .conftest import Clock, JournalFactory

LEASE = 30.0
PHONES = [f"38098{i:07d}" for i in range(10)]


def dead_owner() -> str:
    """An owner name of this host whose process has exited (and been reaped)."""
    process = subprocess.run(
        [sys.executable, "-c", "from smsclub_async.journal import new_owner; print(new_owner())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return process.stdout.strip()


async def test_begin_refuses_a_key_used_for_another_send(make_journal: JournalFactory) -> None:
    """The same key and fingerprint may begin again; another fingerprint is a conflict."""
    journal = make_journal()
    await journal.begin("k", "fp-1")
    await journal.begin("k", "fp-1")
    with pytest.raises(JournalConflictError, match="'k' was used for another send") as caught:
        await journal.begin("k", "fp-2")
    assert isinstance(caught.value, ConfigurationError)
    await journal.begin("other", "fp-2")


async def test_claim_then_record_then_claim_again(make_journal: JournalFactory) -> None:
    """A second claim gets the recorded outcomes; failed numbers are claimed afresh."""
    journal = make_journal()
    first, second = new_owner(), new_owner()
    await journal.begin("k", "fp")
    claim = await journal.claim("k", PHONES[:3], owner=first, lease=LEASE)
    assert claim.fresh == PHONES[:3]
    await journal.claim("k", PHONES[3:4], owner=first, lease=LEASE)
    assert claim.held == claim.interrupted == []
    assert claim.earlier.recipients == 0
    await journal.record(
        "k",
        [
            Outcome(PHONES[0], "sent", "id-0"),
            Outcome(PHONES[1], "failed", "not sent: refused"),
            Outcome(PHONES[2], "unknown", "maybe sent: dropped answer"),
        ],
        owner=first,
        attempt=claim.attempt,
    )
    again = await journal.claim("k", PHONES[:6], owner=second, lease=LEASE)
    assert again.earlier.sent == {"id-0": PHONES[0]}
    assert again.earlier.unknown == {PHONES[2]: "maybe sent: dropped answer"}
    assert again.held == [PHONES[3]]  # started by a live owner, not done yet
    assert sorted(again.fresh) == sorted([PHONES[1], PHONES[4], PHONES[5]])
    assert again.interrupted == []


async def test_a_claim_repeats_no_number(make_journal: JournalFactory) -> None:
    """A number listed twice in one claim is claimed once."""
    journal = make_journal()
    claim = await journal.claim("k", [PHONES[0], PHONES[0], PHONES[1]], owner="o", lease=LEASE)
    assert claim.fresh == [PHONES[0], PHONES[1]]


async def test_a_lapsed_lease_makes_started_numbers_interrupted(
    make_journal: JournalFactory, clock: Clock
) -> None:
    """Started by an owner whose lease ran out: interrupted, never fresh again."""
    journal = make_journal()
    crashed, later = new_owner(), new_owner()
    await journal.claim("k", PHONES[:2], owner=crashed, lease=LEASE)
    clock.advance(LEASE - 1)
    assert (await journal.claim("k", PHONES[:2], owner=later, lease=LEASE)).held == PHONES[:2]
    clock.advance(2)
    claim = await journal.claim("k", PHONES[:2], owner=later, lease=LEASE)
    assert claim.interrupted == PHONES[:2]
    assert claim.fresh == []


async def test_a_heartbeat_keeps_the_owner_alive(
    make_journal: JournalFactory, clock: Clock
) -> None:
    """Renewing the lease keeps numbers held past the first lease."""
    journal = make_journal()
    sender = new_owner()
    await journal.claim("k", PHONES[:1], owner=sender, lease=LEASE)
    clock.advance(LEASE - 1)
    await journal.heartbeat(sender, LEASE)
    clock.advance(LEASE - 1)
    assert (await journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE)).held == PHONES[:1]


async def test_an_owner_whose_process_is_gone_is_dead_at_once(
    make_journal: JournalFactory,
) -> None:
    """On this host, a claim by an exited process is interrupted before its lease ends."""
    journal = make_journal()
    await journal.claim("k", PHONES[:3], owner=dead_owner(), lease=LEASE)
    claim = await journal.claim("k", PHONES[:3], owner=new_owner(), lease=LEASE)
    assert claim.interrupted == PHONES[:3]


async def test_release_gives_numbers_back(make_journal: JournalFactory) -> None:
    """Released numbers (their request never left) are fresh for the next claim."""
    journal = make_journal()
    owner = new_owner()
    await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE)
    await journal.release("k", PHONES[:2], owner="someone else")  # not theirs: no effect
    await journal.release("k", PHONES[:2], owner=owner)
    claim = await journal.claim("k", PHONES[:3], owner=new_owner(), lease=LEASE)
    assert claim.fresh == PHONES[:2]
    assert claim.held == [PHONES[2]]


async def test_only_the_owner_records(make_journal: JournalFactory) -> None:
    """An outcome recorded by another owner than the one that started the number is ignored."""
    journal = make_journal()
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "forged")], owner="intruder")
    assert (await journal.load("k")).unknown == {PHONES[0]: INTERRUPTED}
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-1")], owner=owner)
    assert (await journal.load("k")).sent == {"id-1": PHONES[0]}


async def test_load_and_summary(make_journal: JournalFactory, clock: Clock) -> None:
    """``load`` is everything recorded (started ones unknown); ``summary`` counts it."""
    journal = make_journal()
    owner = new_owner()
    await journal.begin("k", "fp")
    created = clock.now
    await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE)
    await journal.claim("k", PHONES[3:4], owner=owner, lease=LEASE)
    clock.advance(5)
    await journal.record(
        "k",
        [
            Outcome(PHONES[0], "sent", "id-0"),
            Outcome(PHONES[1], "sent", "id-1"),
            Outcome(PHONES[2], "failed", "no"),
        ],
        owner=owner,
    )
    assert await journal.started("k") == {PHONES[3]: owner}
    assert await journal.started("nope") == {}
    loaded = await journal.load("k")
    assert loaded == SendResult(
        sent={"id-0": PHONES[0], "id-1": PHONES[1]},
        failed={PHONES[2]: "no"},
        unknown={PHONES[3]: INTERRUPTED},
    )
    (summary,) = await journal.summary()
    assert (summary.key, summary.fingerprint) == ("k", "fp")
    assert (summary.started, summary.sent, summary.failed, summary.unknown) == (1, 2, 1, 0)
    assert summary.recipients == 4
    assert summary.created.timestamp() == pytest.approx(created)
    assert summary.updated.timestamp() == pytest.approx(created + 5)
    assert summary.as_dict()["sent"] == 2


async def test_counts_follow_a_failed_number_claimed_again(make_journal: JournalFactory) -> None:
    """A failed number claimed again counts as started, not failed, in the summary."""
    journal = make_journal()
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "failed", "no")], owner=owner)
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    (summary,) = await journal.summary()
    assert (summary.started, summary.failed) == (1, 0)


async def test_purge_drops_keys_past_retention(make_journal: JournalFactory, clock: Clock) -> None:
    """Keys not written for the retention are purged; a purged key starts afresh."""
    journal = make_journal(retention=timedelta(days=7))
    owner = new_owner()
    await journal.begin("old", "fp-old")
    await journal.claim("old", PHONES[:2], owner=owner, lease=LEASE)
    clock.advance(timedelta(days=6).total_seconds())
    await journal.begin("young", "fp")
    await journal.claim("young", PHONES[:1], owner=owner, lease=LEASE)
    assert await journal.purge() == 0
    clock.advance(timedelta(days=1, seconds=1).total_seconds())
    assert await journal.purge() == 1
    assert [s.key for s in await journal.summary()] == ["young"]
    await journal.begin("old", "another fingerprint")  # no conflict: forgotten
    assert (await journal.claim("old", PHONES[:2], owner=new_owner(), lease=LEASE)).fresh == (
        PHONES[:2]
    )
    clock.advance(1)
    assert await journal.purge(older_than=timedelta(0)) == 2
    assert await journal.summary() == []


async def test_two_coroutines_never_claim_the_same_number(make_journal: JournalFactory) -> None:
    """Overlapping claims at the same moment: every number fresh for exactly one owner."""
    journals = [make_journal(), make_journal()]  # SQLite/Redis: two connections
    phones = [f"38067{i:07d}" for i in range(300)]
    owners = [new_owner() for _ in range(6)]

    async def claims(n: int) -> list[str]:
        journal = journals[n % 2]
        fresh: list[str] = []
        for start in range(0, 300, 50):
            window = phones[(start + 25 * n) % 300 :][:100]
            fresh += (await journal.claim("k", window, owner=owners[n], lease=LEASE)).fresh
        return fresh

    results = await asyncio.gather(*(claims(n) for n in range(6)))
    everything = [phone for fresh in results for phone in fresh]
    assert len(everything) == len(set(everything))
    assert set(everything) <= set(phones)


async def test_sqlite_marks_survive_reopening(tmp_path: Path, clock: Clock) -> None:
    """A claim is on disk when it returns: a new journal on the file sees it."""
    first = SqliteJournal(tmp_path / "j.db", clock=clock)
    await first.begin("k", "fp")
    owner = new_owner()
    await first.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await first.claim("k", PHONES[1:2], owner=owner, lease=LEASE)
    await first.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    await first.aclose()
    await first.aclose()  # twice is fine
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as second:
        assert await second.load("k") == SendResult(
            sent={"id-0": PHONES[0]}, unknown={PHONES[1]: INTERRUPTED}
        )
        with pytest.raises(JournalConflictError):
            await second.begin("k", "other")
    with pytest.raises(Exception, match="closed"):
        await first.load("k")


async def test_sqlite_purges_when_a_send_begins(tmp_path: Path, clock: Clock) -> None:
    """Beginning any key drops the keys past the retention."""
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as journal:
        await journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE)
    clock.advance(timedelta(days=8).total_seconds())
    async with SqliteJournal(tmp_path / "j.db", clock=clock) as journal:
        assert [s.key for s in await journal.summary()] == ["k"]
        await journal.begin("other", "fp")
        assert [s.key for s in await journal.summary()] == ["other"]


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    """The database is in WAL mode."""
    async with SqliteJournal(tmp_path / "j.db") as journal:
        await journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE)
    with sqlite3.connect(tmp_path / "j.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("make_journal", ["redis"], indirect=True)
async def test_redis_keys_expire_after_the_retention(make_journal: JournalFactory) -> None:
    """Redis expires a key's hashes ``retention`` after the last write."""
    journal = make_journal(retention=timedelta(hours=2))
    assert isinstance(journal, RedisJournal)
    await journal.begin("k", "fp")
    await journal.claim("k", PHONES[:1], owner=new_owner(), lease=LEASE)
    for name in (f"{journal.prefix}e:k", f"{journal.prefix}m:k"):
        ttl = await journal.redis.pttl(name)
        assert 7_100_000 < ttl <= 7_200_000


def test_a_retention_must_be_positive(tmp_path: Path) -> None:
    """A zero or negative retention is refused."""
    with pytest.raises(ConfigurationError, match="positive"):
        SqliteJournal(tmp_path / "j.db", retention=timedelta(0))


def test_journals_satisfy_the_protocol(tmp_path: Path) -> None:
    """Every journal class is a :class:`Journal`."""
    assert isinstance(MemoryJournal(), Journal)
    assert isinstance(SqliteJournal(tmp_path / "j.db"), Journal)


@pytest.mark.redis
async def test_redis_journal_reads_a_client_that_decodes_responses(
    redis_server: RedisServer,
) -> None:
    """A ``decode_responses=True`` client (str replies) works the same."""
    client = redis.asyncio.Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True)
    try:
        journal = RedisJournal(client, prefix=f"test:{uuid.uuid4().hex}:")
        owner = new_owner()
        await journal.begin("k", "fp")
        claim = await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)
        await journal.record(
            "k",
            [Outcome(PHONES[0], "sent", "id-0"), Outcome(PHONES[1], "failed", "no")],
            owner=owner,
        )
        assert claim.fresh == PHONES[:2]
        assert await journal.load("k") == SendResult(
            sent={"id-0": PHONES[0]}, failed={PHONES[1]: "no"}
        )
        again = await journal.claim("k", PHONES[:2], owner=new_owner(), lease=LEASE)
        assert (again.earlier.sent, again.fresh) == ({"id-0": PHONES[0]}, [PHONES[1]])
        (summary,) = await journal.summary()
        assert (summary.fingerprint, summary.sent, summary.started) == ("fp", 1, 1)
        assert await journal.purge(older_than=timedelta(0)) == 1
    finally:
        await client.aclose()


async def test_memory_journal_drops_expired_keys_when_a_send_begins(clock: Clock) -> None:
    """A long-lived process keying each request does not keep them all forever."""
    journal = MemoryJournal(retention=timedelta(hours=1), clock=clock)
    await journal.begin("old", "fp")
    await journal.claim("old", PHONES[:1], owner=new_owner(), lease=LEASE)
    clock.advance(3601)
    await journal.begin("new", "fp")
    assert [s.key for s in await journal.summary()] == ["new"]
