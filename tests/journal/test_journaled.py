"""``journaled()`` over a fake chunk sender: what is sent, what is returned, what is recorded."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from smsclub_async import SendResult
from smsclub_async._phones import Chunk
from smsclub_async.gateways import SmscSendResult
from smsclub_async.journal import (
    INTERRUPTED,
    Claim,
    JournalError,
    MemoryJournal,
    Outcome,
    RedisJournal,
    SqliteJournal,
    journaled,
    new_owner,
)
from tests.conftest import fake_clock
from tests.redis._redis_support import free_port

PHONES = [f"38050{i:07d}" for i in range(8)]


class FakeGateway:
    """A chunk sender: each phone gets the id ``id-<phone>`` after ``delay`` seconds,
    but for phones in ``refuse`` (failed) and ``lose`` (unknown)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.chunks: list[Chunk] = []
        self.refuse: set[str] = set()
        self.lose: set[str] = set()
        self.result_type: type[SendResult] = SendResult
        self.called = asyncio.Event()

    @property
    def sends(self) -> Counter[str]:
        return Counter(phone for chunk in self.chunks for phone in chunk.phones)

    async def __call__(self, chunk: Chunk) -> SendResult:
        self.chunks.append(chunk)
        self.called.set()
        result = self.result_type(failed=dict(chunk.rejected), requests=1)
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:  # like the engine: cancellation becomes a result
            result.unknown.update(dict.fromkeys(chunk.phones, "maybe sent: cancelled"))
            return result
        for phone in chunk.phones:
            if phone in self.refuse:
                result.failed[phone] = "not sent: refused"
            elif phone in self.lose:
                result.unknown[phone] = "maybe sent: lost"
            else:
                result.sent[f"id-{phone}"] = phone
        return result


def chunk(*phones: str, rejected: dict[str, str] | None = None, **kw: list[str]) -> Chunk:
    return Chunk(phones=list(phones), messages=kw.get("messages", []), rejected=rejected or {})


async def test_a_fresh_chunk_is_sent_and_recorded() -> None:
    """First call: everything is sent, and the journal holds the outcomes."""
    journal, gateway = MemoryJournal(), FakeGateway()
    gateway.refuse.add(PHONES[1])
    gateway.lose.add(PHONES[2])
    send = journaled(gateway, journal=journal, key="k")
    result = await send(chunk(*PHONES[:3]))
    assert result.sent == {f"id-{PHONES[0]}": PHONES[0]}
    assert result.failed == {PHONES[1]: "not sent: refused"}
    assert result.unknown == {PHONES[2]: "maybe sent: lost"}
    assert result.requests == 1
    assert await journal.load("k") == result


async def test_a_second_call_sends_nothing_and_returns_the_same() -> None:
    """Same key again: no request, the earlier outcomes (failed ones are sent again)."""
    journal, gateway = MemoryJournal(), FakeGateway()
    gateway.lose.add(PHONES[2])
    gateway.refuse.add(PHONES[3])
    first = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:4]))
    gateway.refuse.clear()
    again = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:4]))
    assert gateway.sends == Counter(PHONES[:4]) + Counter([PHONES[3]])
    assert again.sent == {**first.sent, f"id-{PHONES[3]}": PHONES[3]}
    assert again.unknown == first.unknown
    assert again.failed == {}
    third = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:4]))
    assert len(gateway.chunks) == 2
    assert third == again
    assert third.requests == 0


async def test_other_keys_are_independent() -> None:
    """The same phones under another key are sent again."""
    journal, gateway = MemoryJournal(), FakeGateway()
    await journaled(gateway, journal=journal, key="a")(chunk(*PHONES[:2]))
    await journaled(gateway, journal=journal, key="b")(chunk(*PHONES[:2]))
    assert gateway.sends == Counter(PHONES[:2] * 2)


async def test_only_fresh_numbers_go_out_with_their_own_messages() -> None:
    """A personalised chunk is cut down to the fresh numbers, each with its text."""
    journal, gateway = MemoryJournal(), FakeGateway()
    await journaled(gateway, journal=journal, key="k")(chunk(PHONES[1], messages=["B"]))
    await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:3], messages=["A", "B", "C"]))
    assert gateway.chunks[1].phones == [PHONES[0], PHONES[2]]
    assert gateway.chunks[1].messages == ["A", "C"]


async def test_rejected_numbers_pass_through_as_failed() -> None:
    """Numbers refused before any request are failed, in every call, and not journaled."""
    journal, gateway = MemoryJournal(), FakeGateway()
    rejected = {"12": "Incorrect phone number (12)"}
    first = await journaled(gateway, journal=journal, key="k")(chunk(PHONES[0], rejected=rejected))
    assert first.failed == rejected
    again = await journaled(gateway, journal=journal, key="k")(chunk(PHONES[0], rejected=rejected))
    assert again.failed == rejected
    only = await journaled(gateway, journal=journal, key="k")(chunk(rejected=rejected))
    assert only.failed == rejected
    assert "12" not in (await journal.load("k")).failed


async def test_numbers_started_before_a_crash_are_unknown_and_not_sent() -> None:
    """Started by a call that died (lease over): unknown, with the interruption reason."""
    now = [1000.0]
    journal, gateway = MemoryJournal(clock=lambda: now[0]), FakeGateway()
    crashed = new_owner()
    await journal.claim("k", PHONES[:2], owner=crashed, lease=30)
    now[0] += 31
    result = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:3]))
    assert gateway.sends == Counter([PHONES[2]])
    assert result.unknown == dict.fromkeys(PHONES[:2], INTERRUPTED)
    assert result.sent == {f"id-{PHONES[2]}": PHONES[2]}


async def test_a_number_nobody_mentions_is_recorded_unknown() -> None:
    """A phone the inner result does not account for is recorded as unknown."""
    journal = MemoryJournal()

    async def forgetful(chunk: Chunk) -> SendResult:
        return SendResult(sent={"x": chunk.phones[0]})

    result = await journaled(forgetful, journal=journal, key="k")(chunk(*PHONES[:2]))
    loaded = await journal.load("k")
    assert loaded.sent == {"x": PHONES[0]}
    assert list(loaded.unknown) == [PHONES[1]]
    assert result.unknown == {}  # the returned result is the sender's own


@fake_clock
async def test_two_calls_at_once_send_each_number_once() -> None:
    """Two coroutines with the same key: each number goes out once, both see it all."""
    loop = asyncio.get_running_loop()
    journal, gateway = MemoryJournal(clock=loop.time), FakeGateway(delay=5.0)
    one = journaled(gateway, journal=journal, key="k", poll=0.5)
    two = journaled(gateway, journal=journal, key="k", poll=0.5)
    a, b = await asyncio.gather(one(chunk(*PHONES[:5])), two(chunk(*PHONES[3:8])))
    assert gateway.sends == Counter(PHONES)
    assert set(a.sent.values()) == set(PHONES[:5])
    assert set(b.sent.values()) == set(PHONES[3:8])


@fake_clock
async def test_the_heartbeat_outlives_a_long_request() -> None:
    """A request longer than the lease: the other call keeps waiting, then sees it sent."""
    loop = asyncio.get_running_loop()
    journal, gateway = MemoryJournal(clock=loop.time), FakeGateway(delay=100.0)
    slow = journaled(gateway, journal=journal, key="k", lease=9.0)
    waiting = journaled(gateway, journal=journal, key="k", lease=9.0, poll=1.0)
    first = asyncio.ensure_future(slow(chunk(*PHONES[:2])))
    await asyncio.sleep(1)
    second = await waiting(chunk(*PHONES[:2]))
    assert second.sent == (await first).sent
    assert len(gateway.chunks) == 1


@fake_clock
async def test_without_a_heartbeat_the_waiter_reports_unknown() -> None:
    """A holder that stops beating (a hung process) is given up after its lease."""
    loop = asyncio.get_running_loop()
    journal, gateway = MemoryJournal(clock=loop.time), FakeGateway()
    await journal.claim("k", PHONES[:1], owner=new_owner(), lease=9.0)
    result = await journaled(gateway, journal=journal, key="k", poll=1.0)(chunk(PHONES[0]))
    assert result.unknown == {PHONES[0]: INTERRUPTED}
    assert loop.time() == pytest.approx(9.0, abs=1.0)
    assert gateway.chunks == []


async def test_a_journal_that_fails_to_claim_sends_nothing() -> None:
    """Claiming failed: nothing sent, the numbers failed, the error on the result."""

    class Broken(MemoryJournal):
        async def claim(self, key: str, phones: object, **options: Any) -> Claim:
            raise JournalError("disk full")

    gateway = FakeGateway()
    result = await journaled(gateway, journal=Broken(), key="k")(
        chunk(*PHONES[:2], rejected={"1": "bad"})
    )
    assert gateway.chunks == []
    assert isinstance(result.error, JournalError)
    assert set(result.failed) == {*PHONES[:2], "1"}
    assert "the journal failed: disk full" in result.failed[PHONES[0]]


async def test_a_journal_that_fails_to_record_leaves_numbers_started() -> None:
    """Recording failed: the result is returned; a later call reports the numbers unknown."""

    class Forgetful(MemoryJournal):
        broken = True

        async def record(self, key: str, outcomes: object, *, owner: str, **kw: object) -> None:
            if self.broken:
                raise JournalError("gone")
            await super().record(key, outcomes, owner=owner)  # type: ignore[arg-type]

    now = [0.0]
    journal, gateway = Forgetful(clock=lambda: now[0]), FakeGateway()
    result = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:2]))
    assert set(result.sent.values()) == set(PHONES[:2])
    now[0] += 100
    again = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:2]))
    assert again.unknown == dict.fromkeys(PHONES[:2], INTERRUPTED)
    assert len(gateway.chunks) == 1


async def test_cancelled_in_flight_is_recorded_unknown() -> None:
    """A request cancelled in flight: the sender's unknown result is recorded."""
    journal, gateway = MemoryJournal(), FakeGateway(delay=60)
    task = asyncio.ensure_future(journaled(gateway, journal=journal, key="k")(chunk(PHONES[0])))
    await gateway.called.wait()
    task.cancel()
    result = await task
    assert result.unknown == {PHONES[0]: "maybe sent: cancelled"}
    await asyncio.sleep(0)
    assert (await journal.load("k")).unknown == {PHONES[0]: "maybe sent: cancelled"}


async def test_cancelled_while_claiming_sends_nothing_and_gives_the_claim_back() -> None:
    """Cancelled during the claim: nothing sent, numbers failed, the claim released."""
    gate = asyncio.Event()

    class Slow(MemoryJournal):
        async def claim(self, key: str, phones: object, **options: Any) -> Claim:
            await gate.wait()
            return await super().claim(key, phones, **options)  # type: ignore[arg-type]

    journal, gateway = Slow(), FakeGateway()
    task = asyncio.ensure_future(journaled(gateway, journal=journal, key="k")(chunk(PHONES[0])))
    await asyncio.sleep(0)
    task.cancel()
    result = await task
    assert result.failed == {PHONES[0]: "not sent: cancelled before sending"}
    gate.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert gateway.chunks == []
    assert await journal.load("k") == SendResult()


async def test_the_senders_result_type_is_kept() -> None:
    """A gateway's own result class (with its extra fields) comes back."""
    journal, gateway = MemoryJournal(), FakeGateway()
    gateway.result_type = SmscSendResult
    result = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:2]))
    assert isinstance(result, SmscSendResult)


async def test_over_sqlite(tmp_path: Path) -> None:
    """The same through SQLite, across two journal instances (a restarted process)."""
    gateway = FakeGateway()
    async with SqliteJournal(tmp_path / "j.db") as journal:
        await journal.begin("k", "fp")
        first = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:3]))
    async with SqliteJournal(tmp_path / "j.db") as journal:
        again = await journaled(gateway, journal=journal, key="k")(chunk(*PHONES[:4]))
        assert (await journal.load("k")).sent == again.sent
    assert gateway.sends == Counter(PHONES[:4])
    assert again.sent == {**first.sent, f"id-{PHONES[3]}": PHONES[3]}


def test_outcome_is_a_tuple() -> None:
    """Outcomes are plain named tuples."""
    assert Outcome("1", "sent", "x") == ("1", "sent", "x")


async def test_a_redis_journal_that_cannot_be_reached_sends_nothing() -> None:
    """Redis down at the claim: a JournalError on the result, no request made."""
    client = redis.asyncio.Redis(
        host="127.0.0.1", port=free_port(), socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        gateway = FakeGateway()
        result = await journaled(gateway, journal=RedisJournal(client), key="k")(chunk(*PHONES[:2]))
        assert gateway.chunks == []
        assert isinstance(result.error, JournalError)
        assert "claim numbers" in str(result.error)
        assert set(result.failed) == set(PHONES[:2])
        with pytest.raises(JournalError, match="failed to read"):
            await RedisJournal(client).load("k")
    finally:
        await client.aclose()
