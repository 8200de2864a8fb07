"""One job: send a campaign's chunks through a shared limiter, recording each chunk.

Engine-agnostic: :func:`run_job` is what a taskiq, SAQ, arq or Celery task calls;
:func:`start_campaign` and :func:`rerun_campaign` take the engine's "enqueue" as a
function.

Per chunk (at most 100 numbers, one request)::

    claim (record "started", atomically; skip the chunk if it has any record)
    -> sms.send(...)            waits for the token's slot in the shared limiter
    -> finish (record "done" with the ids, failures and unknowns)

What can go wrong between the two records, and what is recorded:

* the send ended with an error (a 5xx after retries, a dropped answer...): the
  result the client returns says per phone whether it failed (certainly not sent)
  or is unknown (may have gone out); that is recorded as done;
* the limiter failed (``LimiterError``: Redis down longer than ``redis_timeout``)
  before the chunk got any slot: nothing went out, so the claim is *released* and the
  job tries the chunk again after a pause (a re-run would send it as well);
* the job was cancelled (time-out, worker shutdown): released if nothing went out,
  else recorded as done with the in-flight phones unknown;
* the worker died (SIGKILL, OOM, power): the chunk stays "started"; a re-run skips
  it and the report lists its phones as unknown, since they may have gone out.

"Nothing went out" is known exactly: the client is built on a :class:`CountingLimiter`,
which counts the slots each chunk's send was granted (a slot is taken before every
attempt). A client without one is treated as "may have gone out".
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass

from smsclub_async import LimiterError, Permit, RateLimiter, SendResult, SmsClub, SmsClubError

from .campaign import Campaign, CampaignReport, ChunkRecord, build_report
from .store import CampaignStore, worker_name

__all__ = [
    "DEFAULT_CONCURRENCY",
    "CountingLimiter",
    "JobSummary",
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

    async def acquire(self) -> Permit:
        """The inner limiter's slot, counted for the chunk being sent."""
        permit = await self.inner.acquire()
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
        sent, failed, unknown: numbers in each state, over the chunks it sent.
        skipped: chunks that already had a record (done, or started elsewhere).
        released: claims given back because the limiter failed before any slot.
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


class _Released(Exception):  # noqa: N818 - a signal, not an error
    """A chunk's claim was given back: nothing was sent."""


async def run_job(
    sms: SmsClub,
    store: CampaignStore,
    campaign_id: str,
    chunks: Sequence[int],
    *,
    worker: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    gate: asyncio.Semaphore | None = None,
    limiter_retries: int = _LIMITER_RETRIES,
    limiter_pause: float = _LIMITER_PAUSE,
) -> JobSummary:
    """Send the given chunks of a campaign, each at most once, recording each.

    Args:
        sms: the worker's client, built on a :class:`CountingLimiter` around the
            token's shared limiter (``RedisLimiter`` when processes share the token).
        store: where the campaign and the chunks' records live.
        campaign_id: the campaign.
        chunks: the chunk indexes of this job.
        worker: the name recorded with each claim (``host:pid`` by default).
        concurrency: chunks of this job in flight at once (when no ``gate``).
        gate: a semaphore shared by every job of the worker, so that all its jobs
            together keep at most that many chunks in flight. Keep it at or below
            the client's connection pool (10): a request that got its slot and
            then waits for a connection goes out late, which crowds the window.
        limiter_retries: how often a chunk turned away by a failing limiter is
            tried again within the job.
        limiter_pause: seconds between those tries.

    Returns:
        The job's counts; every chunk's outcome is in the store.

    Raises:
        LimiterError: the limiter kept failing for some chunks; they are released
            (not sent), so running the job again, or a re-run, sends them.
        asyncio.CancelledError: the job was cancelled; every chunk is recorded or
            released first.
    """
    worker = worker or worker_name()
    campaign = await store.load(campaign_id, chunks)
    summary = JobSummary(chunks=len(chunks))
    counting = isinstance(sms.limiter, CountingLimiter)
    gate = gate or asyncio.Semaphore(concurrency)

    async def one_chunk(index: int) -> None:
        for attempt in range(limiter_retries + 1):
            if attempt:
                await asyncio.sleep(limiter_pause)
            async with gate:
                try:
                    await _send_chunk(
                        sms,
                        store,
                        campaign,
                        index,
                        worker=worker,
                        summary=summary,
                        counting=counting,
                    )
                except _Released:
                    continue
            return
        raise LimiterError(
            f"chunk {index} of campaign {campaign_id}: the rate limiter failed"
            f" {limiter_retries + 1} times; nothing was sent, a re-run will send it"
        )

    # Not a TaskGroup: one chunk that gives up must not cancel chunks that are sending.
    outcomes = await asyncio.gather(*(one_chunk(i) for i in chunks), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    _log.info("campaign %s, chunks %s: %s", campaign_id, list(chunks), summary)
    return summary


async def _send_chunk(
    sms: SmsClub,
    store: CampaignStore,
    campaign: Campaign,
    index: int,
    *,
    worker: str,
    summary: JobSummary,
    counting: bool,
) -> None:
    """Claim, send and record one chunk; raise :class:`_Released` if it gave its claim back."""
    claim = await _claim(store, campaign.id, index, worker)
    if claim is None:
        summary.skipped += 1
        return
    phones = list(campaign.chunks[index])
    grants = _Grants()
    _GRANTS.set(grants)  # this task's context only (gather runs each chunk in a task)
    try:
        result = await sms.send(phones, campaign.message, sender=campaign.sender)
    except LimiterError as error:
        summary.limiter_errors += 1
        if counting and grants.count == 0:
            await _release(store, campaign.id, index, claim=claim, summary=summary, error=error)
            raise _Released from error
        result = _complete(error.partial, phones, f"maybe sent: {error}")
    except SmsClubError as error:
        # Every chunk-level failure (after retries) lands here with its per-phone
        # result; an authentication error too (its phones are failed, not sent).
        result = _complete(error.partial, phones, f"maybe sent: {error}")
    except asyncio.CancelledError as cancel:
        partial = getattr(cancel, "partial", None)
        nothing_out = (counting and grants.count == 0) or (
            isinstance(partial, SendResult) and not partial.sent and not partial.unknown
        )
        if nothing_out:
            released = _release(store, campaign.id, index, claim=claim, summary=summary, error=None)
            await asyncio.shield(released)
        else:
            result = _complete(partial, phones, "maybe sent: cancelled while in flight")
            finished = _finish(
                store, campaign.id, index, claim=claim, result=result, summary=summary
            )
            await asyncio.shield(finished)
        raise
    await _finish(store, campaign.id, index, claim=claim, result=result, summary=summary)


async def _claim(
    store: CampaignStore, campaign_id: str, index: int, worker: str
) -> ChunkRecord | None:
    """Claim a chunk; if cancelled meanwhile, give a claim that was made back."""
    claiming = asyncio.ensure_future(store.claim(campaign_id, index, worker=worker))
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        claim = await claiming if not claiming.cancelled() else None
        if claim is not None:
            await store.release(campaign_id, index, claim)
        raise


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


async def _finish(
    store: CampaignStore,
    campaign_id: str,
    index: int,
    *,
    claim: ChunkRecord,
    result: SendResult,
    summary: JobSummary,
) -> None:
    try:
        await store.finish(campaign_id, index, claim.finished(result, time.time()))
    except BaseException:
        # The chunk stays "started" (its phones will be reported unknown); keep its
        # ids in the log so that they can still be matched.
        _log.exception(
            "campaign %s chunk %d: could not record %s (ids %s)",
            campaign_id,
            index,
            result,
            result.sent,
        )
        raise
    summary.sent += len(result.sent)
    summary.failed += len(result.failed)
    summary.unknown += len(result.unknown)


async def _release(
    store: CampaignStore,
    campaign_id: str,
    index: int,
    *,
    claim: ChunkRecord,
    summary: JobSummary,
    error: LimiterError | None,
) -> None:
    # If releasing fails, the chunk stays "started" and is reported unknown: safe.
    if await store.release(campaign_id, index, claim):
        summary.released += 1
        _log.warning(
            "campaign %s chunk %d not sent (%s); released for another try",
            campaign_id,
            index,
            error or "cancelled before its request",
        )


Enqueue = Callable[[str, list[int]], Awaitable[object]]
"""The engine's "enqueue a job": ``(campaign id, chunk indexes)``."""


async def start_campaign(store: CampaignStore, campaign: Campaign, enqueue: Enqueue) -> int:
    """Save a planned campaign and enqueue its jobs; returns how many were enqueued.

    Starting a campaign that is already stored enqueues only the jobs that still have
    chunks to send, like :func:`rerun_campaign`.
    """
    if not await store.save(campaign):
        return await rerun_campaign(store, campaign.id, enqueue)
    for chunks in campaign.jobs():
        await enqueue(campaign.id, chunks)
    return len(campaign.jobs())


async def rerun_campaign(store: CampaignStore, campaign_id: str, enqueue: Enqueue) -> int:
    """Enqueue again every job that has chunks without a record; returns how many.

    Chunks that are done, or were started (perhaps by a worker that died), are not
    sent again: run it after the workers of the first run finished or died.
    """
    campaign = await store.load(campaign_id, ())
    records = await store.records(campaign_id)
    enqueued = 0
    for chunks in campaign.jobs():
        left = [index for index in chunks if index not in records]
        if left:
            await enqueue(campaign_id, left)
            enqueued += 1
    return enqueued


async def campaign_report(store: CampaignStore, campaign_id: str) -> CampaignReport:
    """Where every number of the campaign stands (see :class:`CampaignReport`)."""
    campaign = await store.load(campaign_id)
    return build_report(campaign, await store.records(campaign_id))
