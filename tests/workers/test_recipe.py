"""examples/worker: planning, the stores, jobs, and the recipe on taskiq's in-memory broker.

Everything here runs in one process against the in-process sandbox (no sockets but
Redis's for the Redis store); the rates are raised so that nothing waits long.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import redis.asyncio

from smsclub_async import LimiterError, LocalLimiter, Permit, RetryPolicy, SendResult, SmsClub
from smsclub_async.journal import JournalConflictError, MemoryJournal, RedisJournal
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, SandboxTransport

from ._support import load_recipe

taskiq = pytest.importorskip("taskiq")

worker = load_recipe()
tasks = load_recipe("tasks")

SENDER = "VashZakaz"
FAST = 500  # requests per second, in the sandbox and the client: no real waiting


def phones(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid numbers."""
    return [f"38098{i:07d}" for i in range(start, start + count)]


def assert_partition(report: Any, campaign: Any) -> None:
    """Every number of the campaign is in exactly one of sent, failed, unknown, pending."""
    numbers = [p for chunk in campaign.chunks.values() for p in chunk] + list(campaign.invalid)
    placed = [
        *report.sent.values(),
        *report.failed,
        *report.unknown,
        *report.pending,
    ]
    assert Counter(placed) == Counter(numbers)
    assert report.recipients == len(numbers)


# ------------------------------------------------------------------ planning (pure)


@pytest.mark.parametrize(
    ("raw", "chunks", "invalid"),
    [
        (["380980000001"], {0: ("380980000001",)}, {}),
        (
            ["+38 (098) 000-00-01", "380980000001", "380980000002"],
            {0: ("380980000001", "380980000002")},
            {},
        ),
        (["12", "380980000003"], {0: ("380980000003",)}, {"12": "not a phone number"}),
        ([], {}, {}),
    ],
    ids=["one", "normalised-and-deduplicated", "invalid-kept-aside", "empty"],
)
def test_plan_normalises_deduplicates_and_keeps_invalid_numbers_aside(
    raw: list[str], chunks: dict[int, tuple[str, ...]], invalid: dict[str, str]
) -> None:
    campaign = worker.plan_campaign(raw, "Hi", sender=SENDER, campaign_id="c")
    assert dict(campaign.chunks) == chunks
    assert dict(campaign.invalid) == invalid
    assert campaign.chunk_count == len(chunks)


def test_plan_splits_into_chunks_of_100_and_jobs_of_10_chunks() -> None:
    """2,050 numbers: 21 chunks (the last of 50), in jobs of 10, 10 and 1 chunks."""
    campaign = worker.plan_campaign(phones(2050), "Hi", sender=SENDER)
    assert [len(campaign.chunks[i]) for i in range(21)] == [100] * 20 + [50]
    assert campaign.jobs() == [list(range(10)), list(range(10, 20)), [20]]
    assert campaign.recipients == 2050


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_size": 101}, "chunk_size"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunks_per_job": 0}, "chunks_per_job"),
    ],
)
def test_plan_refuses_impossible_sizes(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worker.plan_campaign(["380980000001"], "Hi", sender=SENDER, **options)


@pytest.mark.parametrize(
    ("chunks", "concurrent_jobs", "at_least"),
    [
        (10, 1, 10 / 9),
        (10, 4, 40 / 9),
        (1000, 1, 111.1),  # 100,000 numbers in one job: 111 s at 9/s, at the least
    ],
)
def test_job_timeout_covers_the_rate_the_job_gets(
    chunks: int, concurrent_jobs: int, at_least: float
) -> None:
    """The time-out is at least the job's requests at its share of 9/s, plus a bad send."""
    timeout = worker.job_timeout(chunks, concurrent_jobs=concurrent_jobs)
    assert timeout >= at_least + 5 * 15
    assert worker.job_timeout(chunks * 2, concurrent_jobs=concurrent_jobs) > timeout


def test_report_places_started_numbers_in_unknown_and_untouched_ones_in_pending() -> None:
    """The report reads the journal: started -> unknown (with who), none -> pending."""
    campaign = worker.plan_campaign(
        [*phones(250), "bad"], "Hi", sender=SENDER, campaign_id="c", chunk_size=100
    )
    recorded = SendResult(
        sent={str(100 + i): p for i, p in enumerate(campaign.chunks[1][:98])},
        failed={campaign.chunks[1][98]: "blacklisted"},
        unknown={campaign.chunks[1][99]: "maybe sent: 502"},
    )
    started = dict.fromkeys(campaign.chunks[0], "host:1:abc")
    report = worker.build_report(campaign, recorded, started)
    assert report.totals() == {
        "recipients": 251,
        "sent": 98,
        "failed": 2,
        "unknown": 101,
        "pending": 50,
    }
    assert "host:1" in report.unknown[campaign.chunks[0][0]]
    assert (report.chunks_done, report.chunks_started, report.chunks_pending) == (1, 1, 1)
    assert not report.finished
    assert_partition(report, campaign)


# ------------------------------------------------------------------ the stores


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """A store and a journal: in memory, or in the real redis-server (fresh prefixes)."""
    if request.param == "memory":
        yield worker.MemoryStore(), MemoryJournal()
        return
    server = request.getfixturevalue("redis_server")
    client = redis.asyncio.Redis(host="127.0.0.1", port=server.port)
    prefix = f"test:{uuid.uuid4().hex}:"
    try:
        yield (
            worker.RedisStore(client, prefix=prefix),
            RedisJournal(client, prefix=f"{prefix}journal:"),
        )
    finally:
        await client.aclose()


@pytest.fixture
def store(backend: tuple[Any, Any]) -> Any:
    """The campaign store of ``backend``."""
    return backend[0]


@pytest.fixture
def journal(backend: tuple[Any, Any]) -> Any:
    """The send journal of ``backend``."""
    return backend[1]


async def test_store_saves_once_and_loads_a_job_s_chunks(store: Any) -> None:
    campaign = worker.plan_campaign([*phones(250), "bad"], "Hi", sender=SENDER, campaign_id="c")
    assert await store.save(campaign)
    assert not await store.save(campaign)
    loaded = await store.load("c", [2])
    assert dict(loaded.chunks) == {2: campaign.chunks[2]}
    assert (loaded.message, loaded.sender, loaded.chunk_count) == ("Hi", SENDER, 3)
    assert dict(loaded.invalid) == {"bad": "not a phone number"}
    assert dict((await store.load("c")).chunks) == dict(campaign.chunks)
    with pytest.raises(worker.CampaignNotFoundError):
        await store.load("nope")


async def test_two_jobs_with_the_same_chunks_send_each_number_once(
    store: Any, journal: Any
) -> None:
    """The same job delivered twice at once (an engine's at-least-once): one send each."""
    sandbox = Sandbox(SandboxConfig(rate_limit=FAST, balance=10**6))
    campaign = worker.plan_campaign(phones(500), "Hi", sender=SENDER, campaign_id="c")
    await store.save(campaign)
    async with SmsClub(
        token="t", transport=SandboxTransport(sandbox), limiter=LocalLimiter(rate=FAST)
    ) as sms:
        first, second = await asyncio.gather(
            *(worker.run_job(sms, store, journal, "c", [0, 1, 2, 3, 4]) for _ in range(2))
        )
    assert max(sandbox.deliveries().values()) == 1
    assert len(sandbox.deliveries()) == 500
    assert first.sent == second.sent == 500  # both account for every number
    report = await worker.campaign_report(store, journal, "c")
    assert report.totals()["sent"] == 500


async def test_a_campaign_id_reused_for_another_text_is_refused(store: Any, journal: Any) -> None:
    """The journal ties a campaign id to its text and sender: nothing is enqueued."""
    enqueued: list[Any] = []

    async def enqueue(campaign_id: str, chunks: list[int]) -> None:
        enqueued.append(chunks)

    first = worker.plan_campaign(phones(10), "Hi", sender=SENDER, campaign_id="same")
    assert await worker.start_campaign(store, journal, first, enqueue) == 1
    other = worker.plan_campaign(phones(10), "Other text", sender=SENDER, campaign_id="same")
    with pytest.raises(JournalConflictError):
        await worker.start_campaign(store, journal, other, enqueue)
    assert len(enqueued) == 1


async def test_redis_store_reads_a_client_that_decodes_responses(
    store_redis: redis.asyncio.Redis,
) -> None:
    port = store_redis.connection_pool.connection_kwargs["port"]
    client = redis.asyncio.Redis(host="127.0.0.1", port=port, decode_responses=True)
    try:
        store = worker.RedisStore(client, prefix=f"test:{uuid.uuid4().hex}:")
        campaign = worker.plan_campaign(phones(150), "Hi", sender=SENDER, campaign_id="c")
        await store.save(campaign)
        assert dict((await store.load("c")).chunks) == dict(campaign.chunks)
    finally:
        await client.aclose()


# ------------------------------------------------------------------ the recipe on taskiq


def sandbox_resources(
    sandbox: Sandbox,
    store: Any,
    journal: Any,
    *,
    rate: int = FAST,
    send_retry: RetryPolicy | None = None,
) -> Callable[[], AbstractAsyncContextManager[Any]]:
    """Worker resources on the in-process sandbox: its own client per worker start-up."""

    @asynccontextmanager
    async def resources() -> AsyncIterator[Any]:
        options: dict[str, Any] = {} if send_retry is None else {"send_retry": send_retry}
        async with SmsClub(
            token="campaign-token",
            transport=SandboxTransport(sandbox),
            limiter=worker.CountingLimiter(LocalLimiter(rate=rate)),
            **options,
        ) as sms:
            yield tasks.WorkerResources(sms, store, journal, "in-memory-worker")

    return resources


@asynccontextmanager
async def in_memory_broker(
    resources: Callable[[], AbstractAsyncContextManager[Any]],
) -> AsyncIterator[Any]:
    """taskiq's InMemoryBroker with the recipe installed, started and shut down."""
    broker = taskiq.InMemoryBroker()
    tasks.install(broker, resources)
    await broker.startup()
    try:
        yield broker
    finally:
        await broker.shutdown()


async def kick_every_job(broker: Any, campaign: Any) -> None:
    """Enqueue every job of the campaign again, as an engine redelivering them would."""
    task = broker.find_task(tasks.SEND_CHUNKS)
    for chunks in campaign.jobs():
        await task.kiq(campaign.id, chunks)
    await broker.wait_all()


async def test_campaign_on_taskiq_accounts_for_every_phone_once_and_reruns_send_nothing(
    store: Any, journal: Any
) -> None:
    """3,000 numbers (and 2 invalid) in 3 jobs: all sent once; re-runs leave the gateway as is."""
    sandbox = Sandbox(SandboxConfig(rate_limit=FAST, balance=10**6))
    campaign = worker.plan_campaign(
        [*phones(3000), *phones(10), "bad", "12"], "Sale today", sender=SENDER
    )
    async with in_memory_broker(sandbox_resources(sandbox, store, journal)) as broker:
        assert await tasks.enqueue_campaign(broker, store, journal, campaign) == 3
        await broker.wait_all()
        report = await worker.campaign_report(store, journal, campaign.id)
        assert report.finished
        assert report.totals() == {
            "recipients": 3002,
            "sent": 3000,
            "failed": 2,
            "unknown": 0,
            "pending": 0,
        }
        assert_partition(report, campaign)
        assert set(report.sent.values()) == set(sandbox.deliveries())
        assert max(sandbox.deliveries().values()) == 1
        messages, arrivals = len(sandbox.messages()), sandbox.stats().count

        # A re-run enqueues nothing; jobs delivered again (an engine's at-least-once
        # delivery) skip every chunk: the gateway sees no request at all.
        assert await tasks.rerun(broker, store, journal, campaign.id) == 0
        assert await tasks.enqueue_campaign(broker, store, journal, campaign) == 0
        await kick_every_job(broker, campaign)
        assert (len(sandbox.messages()), sandbox.stats().count) == (messages, arrivals)
        assert await worker.campaign_report(store, journal, campaign.id) == report


async def test_answers_lost_after_processing_become_unknown_and_are_never_resent() -> None:
    """Sends processed but answered 5xx: their phones are unknown, never delivered twice."""
    store, journal = worker.MemoryStore(), MemoryJournal()
    sandbox = Sandbox(
        SandboxConfig(rate_limit=FAST, balance=10**6),
        faults=Faults(seed=3, error_after=0.3, drop_after=0.1),
    )
    no_retry = RetryPolicy(attempts=1)
    campaign = worker.plan_campaign(phones(2000), "Sale today", sender=SENDER)
    async with in_memory_broker(
        sandbox_resources(sandbox, store, journal, send_retry=no_retry)
    ) as broker:
        await tasks.enqueue_campaign(broker, store, journal, campaign)
        await broker.wait_all()
        report = await worker.campaign_report(store, journal, campaign.id)
        assert report.unknown, "the faults should have left some phones unknown"
        await kick_every_job(broker, campaign)
    assert_partition(report, campaign)
    assert not report.pending
    delivered = sandbox.deliveries()
    assert max(delivered.values()) == 1
    assert set(report.sent.values()) <= set(delivered)
    assert set(delivered) <= set(report.sent.values()) | set(report.unknown)
    assert not set(delivered) & set(report.failed)


async def test_a_job_timed_out_mid_send_keeps_what_went_out_and_a_rerun_sends_the_rest() -> None:
    """The engine's time-out cancels a job mid-send: nothing is lost, nothing sent twice."""
    store, journal = worker.MemoryStore(), MemoryJournal()
    sandbox = Sandbox(
        SandboxConfig(rate_limit=FAST, balance=10**6), faults=Faults(latency=(0.15, 0.15))
    )
    # 40 chunks in one job, 10 at once, 0.15 s each: a 0.4 s time-out stops it mid-way.
    campaign = worker.plan_campaign(phones(4000), "Sale today", sender=SENDER, chunks_per_job=40)
    async with in_memory_broker(sandbox_resources(sandbox, store, journal)) as broker:
        task = broker.find_task(tasks.SEND_CHUNKS)
        await store.save(campaign)
        await task.kicker().with_labels(timeout=0.4).kiq(campaign.id, campaign.jobs()[0])
        await broker.wait_all()
        first = await worker.campaign_report(store, journal, campaign.id)
        assert first.pending, "the time-out should have stopped the job mid-way"
        assert await tasks.rerun(broker, store, journal, campaign.id) == 1
        await broker.wait_all()
    report = await worker.campaign_report(store, journal, campaign.id)
    assert report.finished
    assert_partition(report, campaign)
    delivered = sandbox.deliveries()
    assert max(delivered.values()) == 1
    assert set(delivered) <= set(report.sent.values()) | set(report.unknown)
    # What the first run had sent is kept as it was.
    assert set(first.sent.items()) <= set(report.sent.items())


# ------------------------------------------------------------------ jobs and a failing limiter


class FlakyLimiter:
    """Raises LimiterError for the acquisitions whose numbers are in ``failing`` (1-based)."""

    def __init__(self, failing: set[int], rate: int = FAST) -> None:
        self.failing = failing
        self.calls = 0
        self.inner = LocalLimiter(rate=rate)

    async def acquire(self, *, priority: Any = "normal") -> Permit:
        self.calls += 1
        if self.calls in self.failing:
            raise LimiterError("Redis at redis://127.0.0.1:1/0 could not grant a slot (test)")
        return await self.inner.acquire()


async def test_chunks_the_limiter_turned_away_are_retried_in_the_job() -> None:
    """Fail-closed: no slot, no request; the job records the numbers failed, tries again."""
    store, journal = worker.MemoryStore(), MemoryJournal()
    sandbox = Sandbox(SandboxConfig(rate_limit=FAST, balance=10**6))
    campaign = worker.plan_campaign(phones(1000), "Hi", sender=SENDER)
    await store.save(campaign)
    limiter = worker.CountingLimiter(FlakyLimiter(failing={1, 2, 3, 5, 8}))
    async with SmsClub(token="t", transport=SandboxTransport(sandbox), limiter=limiter) as sms:
        summary = await worker.run_job(
            sms, store, journal, campaign.id, campaign.jobs()[0], limiter_pause=0.01
        )
    assert summary.limiter_errors == 5
    assert summary.released == 5
    assert summary.sent == 1000
    assert sandbox.stats().count == 10  # no request went out without a slot
    report = await worker.campaign_report(store, journal, campaign.id)
    assert report.totals()["sent"] == 1000


async def test_a_limiter_that_keeps_failing_fails_the_job_and_a_rerun_sends_it_all() -> None:
    """Nothing went out: the numbers are failed in the journal, and a re-run takes them."""
    store, journal = worker.MemoryStore(), MemoryJournal()
    sandbox = Sandbox(SandboxConfig(rate_limit=FAST, balance=10**6))
    campaign = worker.plan_campaign(phones(300), "Hi", sender=SENDER)
    await store.save(campaign)
    limiter = worker.CountingLimiter(FlakyLimiter(failing=set(range(1, 1000))))
    async with SmsClub(token="t", transport=SandboxTransport(sandbox), limiter=limiter) as sms:
        with pytest.raises(LimiterError, match="a re-run will send it"):
            await worker.run_job(
                sms, store, journal, campaign.id, [0, 1, 2], limiter_retries=2, limiter_pause=0.01
            )
    assert sandbox.stats().count == 0
    report = await worker.campaign_report(store, journal, campaign.id)
    assert len(report.failed) == 300  # nothing went out
    assert all("could not grant a slot" in reason for reason in report.failed.values())
    enqueued: list[list[int]] = []

    async def enqueue(campaign_id: str, chunks: list[int]) -> None:
        enqueued.append(chunks)

    assert await worker.rerun_campaign(store, journal, campaign.id, enqueue) == 1
    assert enqueued == [[0, 1, 2]]
    async with SmsClub(
        token="t", transport=SandboxTransport(sandbox), limiter=LocalLimiter(rate=FAST)
    ) as sms:
        summary = await worker.run_job(sms, store, journal, campaign.id, [0, 1, 2])
    assert summary.sent == 300
    assert len(sandbox.deliveries()) == 300


async def test_a_limiter_failing_on_a_retry_leaves_the_chunk_unknown_not_released() -> None:
    """The first attempt may have gone out (a 5xx), the retry found no slot: unknown."""
    store, journal = worker.MemoryStore(), MemoryJournal()
    sandbox = Sandbox(SandboxConfig(rate_limit=FAST, balance=10**6), faults=Faults())
    sandbox.faults.script(["error_after"])
    campaign = worker.plan_campaign(phones(100), "Hi", sender=SENDER)
    await store.save(campaign)
    limiter = worker.CountingLimiter(FlakyLimiter(failing={2}))
    retry = RetryPolicy(attempts=3, backoff=0.0, jitter=0.0)
    async with SmsClub(
        token="t", transport=SandboxTransport(sandbox), limiter=limiter, send_retry=retry
    ) as sms:
        summary = await worker.run_job(sms, store, journal, campaign.id, [0], limiter_pause=0.01)
    assert (summary.released, summary.unknown) == (0, 100)
    report = await worker.campaign_report(store, journal, campaign.id)
    assert len(report.unknown) == 100
    assert set(sandbox.deliveries()) == set(report.unknown)  # it had gone out
