"""A campaign, split into chunks and jobs, and its report (pure, no I/O).

A campaign is one message to many numbers. :func:`plan_campaign` normalises and
de-duplicates the numbers (so each one lands in exactly one chunk), splits them into
chunks of at most 100 (one request each) and groups the chunks into jobs. A job is
just ``(campaign id, chunk indexes)``: the phones stay in the store, so a job message
is small and a re-run can be built from the campaign id alone.

What happened to each number is in the send journal (``smsclub_async.journal``),
under the campaign id as its key: *started* before its request (atomically: a
number some worker started is never sent again), *done* after, with its outcome.
:func:`build_report` turns what the journal holds into the campaign's account:
every phone in exactly one of sent, failed, unknown (started but never finished
counts here: review before resending) or pending.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from smsclub_async import SendResult
from smsclub_async.gateways import DEFAULT_TIMEOUT, normalize_phone

__all__ = [
    "DEFAULT_CHUNKS_PER_JOB",
    "DEFAULT_CHUNK_SIZE",
    "Campaign",
    "CampaignReport",
    "build_report",
    "job_chunks",
    "job_timeout",
    "plan_campaign",
]

DEFAULT_CHUNK_SIZE = 100
"""Numbers per chunk: the gateway takes 100 per request, so one chunk is one request."""

DEFAULT_CHUNKS_PER_JOB = 10
"""Chunks per job: 1,000 numbers, at least 1.1 s of the token's 9 requests a second."""

_GATEWAY_RATE = 9
# One send may take up to 5 attempts, each up to the read timeout, with backoffs
# between; the job time-out leaves room for one chunk to go through all of that.
_SEND_WORST_CASE = 5 * (DEFAULT_TIMEOUT.read or 15.0) + 20.0

StartedReason = (
    "maybe sent: its chunk was started by {worker} but never finished (the worker died,"
    " was stopped or timed out mid-send); check before resending"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Campaign:
    """One message to many numbers, split into chunks.

    Attributes:
        id: the campaign's id (the key of everything stored about it).
        message: the text.
        sender: the approved sender name.
        chunk_count: how many chunks the campaign has.
        chunks: chunk index -> its phones (all of them, or the ones a job loaded).
        invalid: numbers refused before sending (raw value -> reason).
        chunks_per_job: how many chunks one job sends.
    """

    id: str
    message: str
    sender: str
    chunk_count: int
    chunks: Mapping[int, tuple[str, ...]]
    invalid: Mapping[str, str] = field(default_factory=dict)
    chunks_per_job: int = DEFAULT_CHUNKS_PER_JOB

    @property
    def recipients(self) -> int:
        """Distinct valid numbers in the loaded chunks."""
        return sum(len(phones) for phones in self.chunks.values())

    def jobs(self) -> list[list[int]]:
        """The chunk indexes of each job."""
        return job_chunks(self.chunk_count, self.chunks_per_job)


def plan_campaign(
    phones: Iterable[str],
    message: str,
    *,
    sender: str,
    campaign_id: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_job: int = DEFAULT_CHUNKS_PER_JOB,
) -> Campaign:
    """Normalise and de-duplicate the numbers, and split them into chunks and jobs.

    Example:
        >>> campaign = plan_campaign(
        ...     ["+380 98 000 0001", "380980000001", "12", "380980000002"],
        ...     "Sale today", sender="VashZakaz", campaign_id="c1", chunk_size=1,
        ... )
        >>> campaign.chunks, dict(campaign.invalid), campaign.jobs()
        ({0: ('380980000001',), 1: ('380980000002',)}, {'12': 'not a phone number'}, [[0, 1]])
    """
    if not 1 <= chunk_size <= DEFAULT_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be 1 to {DEFAULT_CHUNK_SIZE}, got {chunk_size}")
    if chunks_per_job < 1:
        raise ValueError(f"chunks_per_job must be at least 1, got {chunks_per_job}")
    if not message.strip() or not sender.strip():
        raise ValueError("a campaign needs a message and a sender")
    seen: set[str] = set()
    valid: list[str] = []
    invalid: dict[str, str] = {}
    for raw in phones:
        phone = normalize_phone(raw)
        if phone is None:
            invalid[str(raw)] = "not a phone number"
        elif phone not in seen:
            seen.add(phone)
            valid.append(phone)
    chunks = {
        index: tuple(valid[start : start + chunk_size])
        for index, start in enumerate(range(0, len(valid), chunk_size))
    }
    return Campaign(
        id=campaign_id or uuid.uuid4().hex,
        message=message,
        sender=sender,
        chunk_count=len(chunks),
        chunks=chunks,
        invalid=invalid,
        chunks_per_job=chunks_per_job,
    )


def job_chunks(chunk_count: int, chunks_per_job: int) -> list[list[int]]:
    """Consecutive chunk indexes, ``chunks_per_job`` per job.

    Example:
        >>> job_chunks(5, 2)
        [[0, 1], [2, 3], [4]]
    """
    return [
        list(range(start, min(start + chunks_per_job, chunk_count)))
        for start in range(0, chunk_count, chunks_per_job)
    ]


def job_timeout(chunks: int, *, concurrent_jobs: int = 1, rate: int = _GATEWAY_RATE) -> float:
    """Seconds a job of ``chunks`` chunks needs, at the least, plus room for one bad send.

    The token's ``rate`` is shared by every job that runs at once, so a job's
    requests go out at ``rate / concurrent_jobs`` a second at worst: 10 chunks with 4
    jobs running take at least 10 * 4 / 9 = 4.4 s, and a single job of 100,000
    numbers (1,000 chunks) at least 111 s. A quarter is added for the limiter's
    margin and uneven sharing, then :data:`_SEND_WORST_CASE` (one send retried to the
    end). A time-out cancels the job: chunks in flight are recorded as unknown (or
    failed, when they had not sent), and a re-run sends the rest.

    Example:
        >>> job_timeout(10), job_timeout(1000)
        (97.0, 234.0)
    """
    if chunks < 1 or concurrent_jobs < 1 or rate < 1:
        raise ValueError("chunks, concurrent_jobs and rate must be positive")
    return float(math.ceil(chunks * concurrent_jobs / rate * 1.25 + _SEND_WORST_CASE))


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignReport:
    """Where every number of a campaign stands.

    Every number is in exactly one of ``sent`` (as a value), ``failed``, ``unknown``
    or ``pending``.

    Attributes:
        campaign_id: the campaign.
        recipients: numbers given (invalid ones included, duplicates not).
        sent: message id -> phone.
        failed: phone -> reason; certainly not sent (invalid numbers included).
        unknown: phone -> reason; may have been sent: check before resending. The
            phones of chunks started but never finished are here.
        pending: phones of chunks no worker has started yet.
        chunks_done: chunks whose every number is recorded done.
        chunks_started: chunks with numbers started and not done (in flight now, or
            their worker died: those phones are in ``unknown``) or not yet started.
        chunks_pending: chunks no number of which was started.
    """

    campaign_id: str
    recipients: int
    sent: Mapping[str, str]
    failed: Mapping[str, str]
    unknown: Mapping[str, str]
    pending: Sequence[str]
    chunks_done: int
    chunks_started: int
    chunks_pending: int

    @property
    def finished(self) -> bool:
        """Whether every chunk has been attempted (none pending)."""
        return self.chunks_pending == 0

    def totals(self) -> dict[str, int]:
        """How many numbers are in each state."""
        return {
            "recipients": self.recipients,
            "sent": len(self.sent),
            "failed": len(self.failed),
            "unknown": len(self.unknown),
            "pending": len(self.pending),
        }

    def summary(self) -> str:
        """One line for logs."""
        totals = self.totals()
        return (
            f"campaign {self.campaign_id}: {totals['recipients']} recipients,"
            f" {totals['sent']} sent, {totals['failed']} failed,"
            f" {totals['unknown']} unknown (check before resending),"
            f" {totals['pending']} pending; chunks {self.chunks_done} done,"
            f" {self.chunks_started} started, {self.chunks_pending} not started"
        )


def build_report(
    campaign: Campaign, recorded: SendResult, started: Mapping[str, str] | None = None
) -> CampaignReport:
    """The campaign's account from what the journal holds (pure).

    Args:
        campaign: the plan, every chunk loaded.
        recorded: ``journal.load(campaign.id)``.
        started: ``journal.started(campaign.id)``: phone -> the worker that started it
            and has not recorded it done (in flight, or dead).

    Example:
        >>> campaign = plan_campaign(
        ...     ["380980000001", "380980000002", "x"], "Hi", sender="S",
        ...     campaign_id="c", chunk_size=1,
        ... )
        >>> build_report(campaign, SendResult(), {"380980000001": "w1"}).totals()
        {'recipients': 3, 'sent': 0, 'failed': 1, 'unknown': 1, 'pending': 1}
    """
    started = started or {}
    ids = {phone: message_id for message_id, phone in recorded.sent.items()}
    sent: dict[str, str] = {}
    failed: dict[str, str] = dict(campaign.invalid)
    unknown: dict[str, str] = {}
    pending: list[str] = []
    done = in_flight = 0
    for index in range(campaign.chunk_count):
        states = set()
        for phone in campaign.chunks[index]:
            if phone in started:
                unknown[phone] = StartedReason.format(worker=started[phone])
                states.add("started")
            elif phone in ids:
                sent[ids[phone]] = phone
                states.add("done")
            elif phone in recorded.failed:
                failed[phone] = recorded.failed[phone]
                states.add("done")
            elif phone in recorded.unknown:
                unknown[phone] = recorded.unknown[phone]
                states.add("done")
            else:
                pending.append(phone)
                states.add("pending")
        if states == {"done"}:
            done += 1
        elif states != {"pending"}:
            in_flight += 1
    return CampaignReport(
        campaign_id=campaign.id,
        recipients=sum(len(p) for p in campaign.chunks.values()) + len(campaign.invalid),
        sent=sent,
        failed=failed,
        unknown=unknown,
        pending=pending,
        chunks_done=done,
        chunks_started=in_flight,
        chunks_pending=campaign.chunk_count - done - in_flight,
    )
