"""One job: send a campaign's chunks through a shared limiter and the send journal.

Engine-agnostic: :func:`run_job` is what a taskiq, SAQ, arq or Celery task calls;
:func:`start_campaign` and :func:`rerun_campaign` take the engine's "enqueue" as a
function.

Per chunk (at most 100 numbers, one request), through
:func:`smsclub_async.journal.journaled` with the campaign's key::

    claim the numbers (marked "started" atomically, before the request; numbers
        another worker started are not sent again)
    -> sms.send(...)            waits for the token's slot in the shared limiter
    -> record them "done" with their outcome: the id, or why failed / unknown

What can go wrong, and what the journal ends up holding:

* the send ended with an error (a 5xx after retries, a dropped answer...): the
  result the client returns says per phone whether it failed (certainly not sent)
  or is unknown (may have gone out); that is recorded;
* the limiter failed (``LimiterError``: Redis down longer than ``redis_timeout``)
  before the chunk got any slot: nothing went out, so its numbers are recorded
  *failed*, which the journal lets a later claim take again: the job tries the
  chunk again after a pause (and a re-run would send it as well);
* the job was cancelled (time-out, worker shutdown): numbers whose request had not
  left are recorded failed (a re-run sends them), in-flight ones unknown;
* the worker died (SIGKILL, OOM, power): its numbers stay "started"; a re-run does
  not send them and the report lists them as unknown, since they may have gone out.

"Nothing went out" is known exactly: the client is built on a :class:`CountingLimiter`,
which counts the slots each chunk's send was granted (a slot is taken before every
attempt). A client without one is treated as "may have gone out".
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass

from smsclub_async import LimiterError, Permit, RateLimiter, SendResult, SmsClub, SmsClubError
from smsclub_async._limiter import Priority
from smsclub_async._phones import Chunk
from smsclub_async.journal import Journal, fingerprint, journaled, new_owner

from .campaign import Campaign, CampaignReport, build_report
from .store import CampaignStore

__all__ = [
    "DEFAULT_CONCURRENCY",
    "CountingLimiter",
    "JobSummary",
    "campaign_fingerprint",
    "campaign_key",
    "campaign_report",
    "rerun_campaign",
    "run_job",
    "start_campaign",
]

DEFAULT_CONCURRENCY = 10
"""Chunks of one job in flight at once (the shared limiter sets the pace anyway)."""

# How often, and after how long, a chunk turned away by a failing limiter is retried
# within its job: 30 x 1 s rides out a Redis restart or a short failover.
_LIMITER_RETRIES = 30
_LIMITER_PAUSE = 1.0

_log = logging.getLogger("smsclub_worker")


class _Grants:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


# Set in each chunk's task; the client's request tasks inherit it (asyncio copies
# the context into every task it creates), so the limiter sees whose slot it grants.
_GRANTS: contextvars.ContextVar[_Grants | None] = contextvars.ContextVar(
    "smsclub_worker_grants", default=None
)


class CountingLimiter:
    """A limiter that counts the slots it grants to each chunk's send.

    Wrap the shared limiter in it: ``SmsClub(limiter=CountingLimiter(redis_limiter))``.

    Attributes:
        inner: the limiter that decides.
        granted: slots granted in all.
    """

    __slots__ = ("granted", "inner")

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self.granted = 0

    def __repr__(self) -> str:
        return f"CountingLimiter({self.inner!r}, granted={self.granted})"

    async def acquire(self, *, priority: Priority = "normal") -> Permit:
        """The inner limiter's slot, counted for the chunk being sent."""
        permit = await self.inner.acquire(priority=priority)
        self.granted += 1
        grants = _GRANTS.get()
        if grants is not None:
            grants.count += 1
        return permit


@dataclass(slots=True)
class JobSummary:
    """What one job did (the details are in the store).

    Attributes:
        chunks: chunks the job was given.
        sent, failed, unknown: numbers in each state, over the job's chunks (earlier
            outcomes from the journal included).
        skipped: chunks it sent nothing for (all done, or started elsewhere).
        released: chunks the limiter turned away before any slot (nothing sent;
            their numbers recorded failed, to be claimed again).
        limiter_errors: ``LimiterError``\\ s met (fail-closed: nothing was sent).
    """

    chunks: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    released: int = 0
    limiter_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """For the job engine's result backend and logs."""
        return asdict(self)


def campaign_key(campaign_id: str) -> str:
    """The journal key of a campaign."""
    return f"campaign:{campaign_id}"


def campaign_fingerprint(campaign: Campaign) -> str:
    """What the journal checks a campaign id against: its text and sender."""
    return fingerprint(kind="worker-campaign", message=campaign.message, sender=campaign.sender)


async def run_job(
    sms: SmsClub,
    store: CampaignStore,
    journal: Journal,
    campaign_id: str,
    chunks: Sequence[int],
    *,
    worker: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    gate: asyncio.Semaphore | None = None,
    limiter_retries: int = _LIMITER_RETRIES,
    limiter_pause: float = _LIMITER_PAUSE,
) -> JobSummary:
    """Send the given chunks of a campaign, each number at most once, through the journal.

    Args:
        sms: the worker's client, built on a :class:`CountingLimiter` around the
            token's shared limiter (``RedisLimiter`` when processes share the token).
        store: where the campaign's plan lives.
        journal: the send journal every worker shares (``RedisJournal``).
        campaign_id: the campaign.
        chunks: the chunk indexes of this job.
        worker: the owner name of this job's claims (``host:pid:random`` by default).
        concurrency: chunks of this job in flight at once (when no ``gate``).
        gate: a semaphore shared by every job of the worker, so that all its jobs
            together keep at most that many chunks in flight. Keep it at or below
            the client's connection pool (10): a request that got its slot and
            then waits for a connection goes out late, which crowds the window.
        limiter_retries: how often a chunk turned away by a failing limiter is
            tried again within the job.
        limiter_pause: seconds between those tries.

    Returns:
        The job's counts; every number's outcome is in the journal.

    Raises:
        LimiterError: the limiter kept failing for some chunks; nothing of theirs
            was sent (recorded failed), so running the job again, or a re-run,
            sends them.
        asyncio.CancelledError: the job was cancelled; every chunk is recorded first.
    """
    campaign = await store.load(campaign_id, chunks)
    key = campaign_key(campaign_id)
    await journal.begin(key, campaign_fingerprint(campaign))
    summary = JobSummary(chunks=len(chunks))
    counting = isinstance(sms.limiter, CountingLimiter)
    gate = gate or asyncio.Semaphore(concurrency)

    async def send_chunk(chunk: Chunk) -> SendResult:
        return await _send(sms, campaign, chunk.phones, summary=summary, counting=counting)

    send = journaled(send_chunk, journal=journal, key=key, owner=worker or new_owner())

    async def one_chunk(index: int) -> None:
        for attempt in range(limiter_retries + 1):
            if attempt:
                await asyncio.sleep(limiter_pause)
            async with gate:
                result = await send(Chunk(phones=list(campaign.chunks[index]), index=index))
            if isinstance(result.error, _NoSlotError) and not _cancelling():
                summary.released += 1
                continue
            _count(summary, result)
            if not result.requests:
                summary.skipped += 1
            if _cancelling():
                raise asyncio.CancelledError
            return
        raise LimiterError(
            f"chunk {index} of campaign {campaign_id}: the rate limiter failed"
            f" {limiter_retries + 1} times; nothing was sent, a re-run will send it"
        )

    # Not a TaskGroup: one chunk that gives up must not cancel chunks that are sending.
    try:
        outcomes = await asyncio.gather(*(one_chunk(i) for i in chunks), return_exceptions=True)
    finally:
        await send.aclose()  # the outcomes written, the key free for the next worker
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    _log.info("campaign %s, chunks %s: %s", campaign_id, list(chunks), summary)
    return summary


class _NoSlotError(LimiterError):
    """The limiter failed before the chunk had any slot: nothing went out."""


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _count(summary: JobSummary, result: SendResult) -> None:
    summary.sent += len(result.sent)
    summary.failed += len(result.failed)
    summary.unknown += len(result.unknown)


async def _send(
    sms: SmsClub,
    campaign: Campaign,
    phones: list[str],
    *,
    summary: JobSummary,
    counting: bool,
) -> SendResult:
    """Send the numbers the journal gave us; never raise (journaled() records the result)."""
    grants = _Grants()
    _GRANTS.set(grants)  # this task's context only (gather runs each chunk in a task)
    try:
        return await sms.send(phones, campaign.message, sender=campaign.sender)
    except LimiterError as error:
        summary.limiter_errors += 1
        if counting and grants.count == 0:
            nothing = SendResult(failed=dict.fromkeys(phones, f"not sent: {error}"))
            nothing.error = _NoSlotError(str(error))
            _log.warning("campaign %s: %d numbers not sent (%s)", campaign.id, len(phones), error)
            return nothing
        return _complete(error.partial, phones, f"maybe sent: {error}")
    except SmsClubError as error:
        # Every chunk-level failure (after retries) lands here with its per-phone
        # result; an authentication error too (its phones are failed, not sent).
        return _complete(error.partial, phones, f"maybe sent: {error}")
    except asyncio.CancelledError as cancel:
        # journaled() records what this returns; run_job raises the cancellation after.
        if counting and grants.count == 0:
            return SendResult(failed=dict.fromkeys(phones, "not sent: cancelled before sending"))
        partial = getattr(cancel, "partial", None)
        return _complete(partial, phones, "maybe sent: cancelled while in flight")


def _complete(partial: object, phones: list[str], reason: str) -> SendResult:
    """A chunk's result with every phone accounted for: missing ones are unknown."""
    result = SendResult()
    if isinstance(partial, SendResult):
        result.merge(partial)
    accounted = set(result.sent.values()) | result.failed.keys() | result.unknown.keys()
    for phone in phones:
        if phone not in accounted:
            result.unknown[phone] = reason
    return result


Enqueue = Callable[[str, list[int]], Awaitable[object]]
"""The engine's "enqueue a job": ``(campaign id, chunk indexes)``."""


async def start_campaign(
    store: CampaignStore, journal: Journal, campaign: Campaign, enqueue: Enqueue
) -> int:
    """Save a planned campaign and enqueue its jobs; returns how many were enqueued.

    Starting a campaign that is already stored enqueues only the jobs that still have
    numbers to send, like :func:`rerun_campaign`.

    Raises:
        JournalConflictError: the campaign id was used for another text or sender.
    """
    await journal.begin(campaign_key(campaign.id), campaign_fingerprint(campaign))
    if not await store.save(campaign):
        return await rerun_campaign(store, journal, campaign.id, enqueue)
    for chunks in campaign.jobs():
        await enqueue(campaign.id, chunks)
    return len(campaign.jobs())


async def rerun_campaign(
    store: CampaignStore, journal: Journal, campaign_id: str, enqueue: Enqueue
) -> int:
    """Enqueue again every job with numbers never started (or failed); returns how many.

    Numbers that were sent, are unknown, or were started (perhaps by a worker that
    died) are not sent again. Enqueueing a job twice is harmless: the journal lets
    each number through once.
    """
    campaign = await store.load(campaign_id)
    report = await campaign_report(store, journal, campaign_id, campaign=campaign)
    to_send = set(report.pending) | (report.failed.keys() - campaign.invalid.keys())
    enqueued = 0
    for chunks in campaign.jobs():
        left = [i for i in chunks if to_send.intersection(campaign.chunks[i])]
        if left:
            await enqueue(campaign_id, left)
            enqueued += 1
    return enqueued


async def campaign_report(
    store: CampaignStore,
    journal: Journal,
    campaign_id: str,
    *,
    campaign: Campaign | None = None,
) -> CampaignReport:
    """Where every number of the campaign stands (see :class:`CampaignReport`)."""
    campaign = campaign or await store.load(campaign_id)
    key = campaign_key(campaign_id)
    return build_report(campaign, await journal.load(key), await journal.started(key))
