"""The Redis journal on the wire: outcomes queued and carried by the key's next claim
(or written by a timer, ``finish()`` or a read), claims meeting in one batch, lists
joined into one argument each, hostile details round-tripping, cancellations and
failures that lose no outcome."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from smsclub_async import SendResult
from smsclub_async.journal import INTERRUPTED, JournalError, Outcome, RedisJournal, new_owner
from smsclub_async.journal import _redis as redis_journal

from .conftest import Clock

pytestmark = pytest.mark.redis

LEASE = 30.0
PHONES = [f"38098{i:07d}" for i in range(10)]


@pytest.fixture
async def journal(redis_client: redis.asyncio.Redis, clock: Clock) -> AsyncIterator[RedisJournal]:
    """A Redis journal under a prefix of its own, on the test's clock."""
    made = RedisJournal(redis_client, prefix=f"test:{uuid.uuid4().hex}:", clock=clock)
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
def no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued outcomes wait a minute for the timer: only a claim or finish() writes
    them within a test."""
    monkeypatch.setattr(redis_journal, "FLUSH_AFTER", 60.0)


async def entry(journal: RedisJournal, key: str, phone: str) -> str | None:
    """The number's entry in Redis, read past the journal (and its queue)."""
    raw = await journal.redis.hget(f"{journal.prefix}e:{key}", phone)
    return raw.decode() if isinstance(raw, bytes) else raw


def count_batches(journal: RedisJournal, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of claims in each EVALSHA of the claim script, as they go out."""
    batches: list[int] = []
    original = journal._eval

    async def counting(sha: str, keys: int, args: Any) -> Any:
        if sha == redis_journal._CLAIM_SHA:
            batches.append(args[7])
        return await original(sha, keys, args)

    monkeypatch.setattr(journal, "_eval", counting)
    return batches


@pytest.mark.usefixtures("no_timer")
async def test_a_record_is_queued_and_rides_with_the_next_claim(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record() writes nothing itself; the key's next claim carries the outcomes in
    its own EVALSHA, written before it claims."""
    owner = new_owner()
    await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)
    batches = count_batches(journal, monkeypatch)
    recording = journal.record(
        "k",
        [Outcome(PHONES[0], "sent", "id-0"), Outcome(PHONES[1], "failed", "refused")],
        owner=owner,
    )
    assert recording.done()  # nothing to wait for: no task, no Redis call
    await recording
    assert await entry(journal, "k", PHONES[0]) == f"s{owner}"  # only queued
    claim = await journal.claim("k", PHONES[1:3], owner=owner, lease=LEASE)
    assert batches == [1]  # one EVALSHA carried the outcomes and the claim
    assert await entry(journal, "k", PHONES[0]) == "Sid-0"
    assert claim.fresh == PHONES[1:3]  # the failed number was written first, then claimed
    assert await entry(journal, "k", PHONES[1]) == f"s{owner}"


async def test_the_timer_writes_outcomes_no_claim_carries(journal: RedisJournal) -> None:
    """Without a claim after it, a record is written a moment later by the timer."""
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    await asyncio.sleep(0.2)
    assert await entry(journal, "k", PHONES[0]) == "Sid-0"
    (summary,) = await journal.summary()
    assert (summary.started, summary.sent) == (0, 1)


@pytest.mark.usefixtures("no_timer")
async def test_finish_writes_the_queued_outcomes(journal: RedisJournal) -> None:
    """finish() returns once every queued outcome of the key is in Redis."""
    owner = new_owner()
    await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    await journal.record(
        "k",
        [Outcome(PHONES[1], "unknown", "maybe"), Outcome(PHONES[2], "failed", "no")],
        owner=owner,
    )
    await journal.finish("k", owner)
    assert [await entry(journal, "k", p) for p in PHONES[:3]] == ["Sid-0", "umaybe", "fno"]
    await journal.finish("k", owner)  # nothing queued: nothing to do
    await journal.finish("never-used", owner)


@pytest.mark.usefixtures("no_timer")
async def test_a_read_sees_the_journals_own_queued_outcomes(journal: RedisJournal) -> None:
    """load() and started() write what this journal queued before they read."""
    owner = new_owner()
    await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    assert await journal.started("k") == {PHONES[1]: owner}
    await journal.record("k", [Outcome(PHONES[1], "failed", "no")], owner=owner)
    assert await journal.load("k") == SendResult(sent={"id-0": PHONES[0]}, failed={PHONES[1]: "no"})


HOSTILE = [
    "line one\nline two",
    "\n",
    "",
    "ends with a backslash \\",
    "\\n is not a line break, \\\\ is two backslashes",
    "CR LF\r\n, tab\t, NUL\x00, escape\x1b[31m",
    "Невірний номер 🙂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u200b\ufeff é e\u0301",
    "=starts like the plain mode",
    "estarts like the escaped mode\n",
]


@pytest.mark.parametrize(
    "reasons",
    [HOSTILE, [r for r in HOSTILE if "\n" not in r]],
    ids=["with-line-breaks", "without-line-breaks"],
)
async def test_hostile_details_round_trip(journal: RedisJournal, reasons: list[str]) -> None:
    """Reasons and ids with line breaks, backslashes, control and odd unicode come back
    exactly, through record -> load and through another owner's claim."""
    owner = new_owner()
    n = len(reasons)
    phones = [f"38067{i:07d}" for i in range(2 * n + 2)]
    await journal.claim("k", phones, owner=owner, lease=LEASE)
    outcomes = [Outcome(phones[i], "failed", reason) for i, reason in enumerate(reasons)]
    outcomes += [Outcome(phones[n + i], "unknown", reason) for i, reason in enumerate(reasons)]
    message_id = reasons[0] + "\\n id"
    outcomes.append(Outcome(phones[-2], "sent", message_id))
    await journal.record("k", outcomes, owner=owner)
    unknown = {phones[n + i]: reason for i, reason in enumerate(reasons)}
    assert await journal.load("k") == SendResult(
        sent={message_id: phones[-2]},
        failed={phones[i]: reason for i, reason in enumerate(reasons)},
        unknown={**unknown, phones[-1]: INTERRUPTED},  # claimed, never recorded
    )
    again = await journal.claim("k", phones, owner=new_owner(), lease=LEASE)
    assert again.earlier == SendResult(sent={message_id: phones[-2]}, unknown=unknown)
    assert again.fresh == phones[:n]  # failed: claimed again
    assert again.held == [phones[-1]]


async def test_a_lone_surrogate_is_written_as_a_question_mark(journal: RedisJournal) -> None:
    """A detail that cannot be UTF-8 (a broken JSON escape) costs only that character."""
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "failed", "bad \ud800 escape")], owner=owner)
    assert await journal.load("k") == SendResult(failed={PHONES[0]: "bad ? escape"})


async def test_a_result_is_recorded_from_its_dicts(journal: RedisJournal) -> None:
    """The wrapper's lazy outcomes of a result (``phones`` and ``result``): all sent,
    in order or not, is read straight from the dict; anything else as outcomes."""
    owner = new_owner()

    class Lazy(list[Outcome]):
        def __init__(self, phones: list[str], result: SendResult) -> None:
            self.phones, self.result = phones, result
            super().__init__(
                Outcome(p, "sent", i) for i, p in result.sent.items() if p in set(phones)
            )

    await journal.claim("k", PHONES[:6], owner=owner, lease=LEASE)
    await journal.record(
        "k", Lazy(PHONES[:2], SendResult(sent={"a": PHONES[0], "b": PHONES[1]})), owner=owner
    )
    await journal.record(
        "k", Lazy(PHONES[2:4], SendResult(sent={"d": PHONES[3], "c": PHONES[2]})), owner=owner
    )
    mixed = Lazy(PHONES[4:6], SendResult(sent={"e": PHONES[4]}, failed={PHONES[5]: "no"}))
    mixed.append(Outcome(PHONES[5], "failed", "no"))
    await journal.record("k", mixed, owner=owner)
    assert await journal.load("k") == SendResult(
        sent={"a": PHONES[0], "b": PHONES[1], "c": PHONES[2], "d": PHONES[3], "e": PHONES[4]},
        failed={PHONES[5]: "no"},
    )


@pytest.mark.usefixtures("no_timer")
@pytest.mark.parametrize("steps", [0, 1, 2, 3, 5])
async def test_a_cancelled_claim_carrying_outcomes_loses_none(
    journal: RedisJournal, steps: int
) -> None:
    """Cancel the caller of the claim that carries queued outcomes, before it leaves or
    while it is in flight: the outcomes are written all the same, and at once."""
    owner = new_owner()
    await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)

    claiming = journal.claim("k", PHONES[2:4], owner=owner, lease=LEASE)

    async def claim_more() -> None:
        await claiming

    caller = asyncio.ensure_future(claim_more())
    for _ in range(steps):
        await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    for _ in range(100):  # well before the (one minute) timer
        if await entry(journal, "k", PHONES[0]) == "Sid-0":
            break
        await asyncio.sleep(0.01)
    assert await entry(journal, "k", PHONES[0]) == "Sid-0"
    assert await entry(journal, "k", PHONES[1]) == f"s{owner}"


@pytest.mark.usefixtures("no_timer")
async def test_a_claim_cancelled_before_its_batch_leaves_is_not_sent(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim waiting behind the key's batch in flight, cancelled: nothing claimed."""
    owner = new_owner()
    batches = count_batches(journal, monkeypatch)
    first = journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    second = asyncio.ensure_future(journal.claim("k", PHONES[1:2], owner=owner, lease=LEASE))
    second.cancel()
    assert (await first).fresh == PHONES[:1]
    await asyncio.sleep(0.05)
    assert batches == [1]
    assert await entry(journal, "k", PHONES[1]) is None


async def test_claims_that_meet_go_out_as_one_batch_in_order(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claims made together leave as one EVALSHA, run in the order they were made: a
    number two owners claim goes to the first, the second waits for it."""
    first, second = new_owner(), new_owner()
    batches = count_batches(journal, monkeypatch)
    claims = await asyncio.gather(
        journal.claim("k", PHONES[:3], owner=first, lease=LEASE),
        journal.claim("k", PHONES[2:5], owner=second, lease=LEASE),
        journal.claim("k", PHONES[5:6], owner=second, lease=LEASE),
        journal.claim("other", PHONES[:1], owner=second, lease=LEASE),
    )
    assert sorted(batches) == [1, 3]  # one batch per key
    assert claims[0].fresh == PHONES[:3]
    assert (claims[1].fresh, claims[1].held) == (PHONES[3:5], [PHONES[2]])
    assert claims[2].fresh == PHONES[5:6]
    assert claims[3].fresh == PHONES[:1]
    (summary,) = [s for s in await journal.summary() if s.key == "k"]
    assert summary.started == 6


@pytest.mark.usefixtures("no_timer")
async def test_a_failed_batch_puts_its_outcomes_back(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis failing under the claim that carries outcomes: the claim raises, the
    outcomes wait for the next write."""
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    original = journal._eval
    failures = [RedisConnectionError("connection reset")]

    async def failing_once(sha: str, keys: int, args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await original(sha, keys, args)

    monkeypatch.setattr(journal, "_eval", failing_once)
    with pytest.raises(JournalError, match="failed to claim numbers: connection reset"):
        await journal.claim("k", PHONES[1:2], owner=owner, lease=LEASE)
    assert await entry(journal, "k", PHONES[0]) == f"s{owner}"
    assert (await journal.claim("k", PHONES[1:2], owner=owner, lease=LEASE)).fresh == PHONES[1:2]
    assert await entry(journal, "k", PHONES[0]) == "Sid-0"


async def test_a_failed_timer_write_is_logged_with_numbers_masked(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The timer's write failing raises into nobody: it is logged, numbers masked, and
    the numbers stay started (reported unknown later, never resent)."""
    owner = new_owner()
    key = "campaign-380981234567"
    await journal.claim(key, PHONES[:1], owner=owner, lease=LEASE)

    async def failing(sha: str, keys: int, args: Any) -> Any:
        raise RedisConnectionError("connection reset")

    monkeypatch.setattr(journal, "_eval", failing)
    with caplog.at_level(logging.ERROR, logger="smsclub_async.journal"):
        await journal.record(key, [Outcome(PHONES[0], "sent", f"77:{PHONES[0]}")], owner=owner)
        await asyncio.sleep(0.2)
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "could not record the outcome of 1 numbers" in logged
    assert "connection reset" in logged
    assert PHONES[0] not in logged
    assert "380981234567" not in logged
    assert "77:38098*****00" in logged
    monkeypatch.undo()
    assert await journal.started(key) == {PHONES[0]: owner}


async def test_finish_raises_when_the_write_fails(
    journal: RedisJournal, monkeypatch: pytest.MonkeyPatch, no_timer: None
) -> None:
    """finish() is told: a JournalError, the outcomes still queued for a later write."""
    owner = new_owner()
    await journal.claim("k", PHONES[:1], owner=owner, lease=LEASE)
    await journal.record("k", [Outcome(PHONES[0], "sent", "id-0")], owner=owner)
    original = journal._eval

    async def failing(sha: str, keys: int, args: Any) -> Any:
        raise RedisConnectionError("down")

    monkeypatch.setattr(journal, "_eval", failing)
    with pytest.raises(JournalError, match="failed to record outcomes: down"):
        await journal.finish("k", owner)
    monkeypatch.setattr(journal, "_eval", original)
    await journal.finish("k", owner)
    assert await entry(journal, "k", PHONES[0]) == "Sid-0"


async def test_release_sends_the_numbers_as_one_argument(journal: RedisJournal) -> None:
    """release() takes the claim's attempt and drops only the owner's start marks."""
    owner, other = new_owner(), new_owner()
    await journal.claim("k", PHONES[:3], owner=owner, lease=LEASE)
    await journal.claim("k", PHONES[3:4], owner=other, lease=LEASE)
    await journal.release("k", [*PHONES[:2], PHONES[3]], owner=owner, attempt="a-1")
    await journal.release("k", [], owner=owner)
    assert await journal.started("k") == {PHONES[2]: owner, PHONES[3]: other}
    (summary,) = await journal.summary()
    assert summary.started == 2


async def test_a_phone_or_owner_with_a_line_break_is_refused(journal: RedisJournal) -> None:
    """Lists are joined with line breaks: a value holding one is refused, not split."""
    with pytest.raises(ValueError, match="line break"):
        await journal.claim("k", ["380981234567\n380981234568"], owner="o", lease=LEASE)
    with pytest.raises(ValueError, match="line break"):
        await journal.claim("k", PHONES[:1], owner="o\nx", lease=LEASE)
    assert await journal.started("k") == {}


async def test_a_flushed_script_cache_is_loaded_again(journal: RedisJournal) -> None:
    """Redis restarted or SCRIPT FLUSH: the scripts are loaded again on the way."""
    owner = new_owner()
    await journal.begin("k", "fp")
    await journal.redis.script_flush()
    assert (await journal.claim("k", PHONES[:2], owner=owner, lease=LEASE)).fresh == PHONES[:2]
    await journal.redis.script_flush()
    await journal.release("k", PHONES[1:2], owner=owner)
    assert await journal.started("k") == {PHONES[0]: owner}
