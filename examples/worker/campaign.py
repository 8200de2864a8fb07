"""A campaign, split into chunks and jobs; chunk records; the campaign report (pure, no I/O).

A campaign is one message to many numbers. :func:`plan_campaign` normalises and
de-duplicates the numbers (so each one lands in exactly one chunk), splits them into
chunks of at most 100 (one request each) and groups the chunks into jobs. A job is
just ``(campaign id, chunk indexes)``: the phones stay in the store, so a job message
is small and a re-run can be built from the campaign id alone.

Each chunk goes through two records in the store:

* ``started`` - written *before* its request (with an atomic "set if absent"), so a
  chunk whose worker died mid-send is never sent again blindly: it may have gone out;
* ``done`` - written after, with what happened to every phone (ids, failures, unknowns).

A re-run skips every chunk that has a record. :func:`build_report` turns the records
into the campaign's account: every phone in exactly one of sent, failed, unknown (a
chunk started but never finished counts here: review before resending) or pending.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from smsclub_async import SendResult
from smsclub_async.gateways import DEFAULT_TIMEOUT, normalize_phone

__all__ = [
    "DEFAULT_CHUNKS_PER_JOB",
    "DEFAULT_CHUNK_SIZE",
    "Campaign",
    "CampaignReport",
    "ChunkRecord",
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
    released, when they had not sent), and a re-run sends the rest.

    Example:
        >>> job_timeout(10), job_timeout(1000)
        (97.0, 234.0)
    """
    if chunks < 1 or concurrent_jobs < 1 or rate < 1:
        raise ValueError("chunks, concurrent_jobs and rate must be positive")
    return float(math.ceil(chunks * concurrent_jobs / rate * 1.25 + _SEND_WORST_CASE))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkRecord:
    """What the store knows about one chunk.

    Attributes:
        state: ``started`` (claimed, the request may be on its way) or ``done``.
        attempt: a unique id of the claim (only its owner may release it).
        worker: who claimed it (host and process id).
        at: when the record was written (Unix time).
        sent: message id -> phone (done only).
        failed: phone -> reason; certainly not sent (done only).
        unknown: phone -> reason; may have been sent (done only).
    """

    state: Literal["started", "done"]
    attempt: str
    worker: str
    at: float
    sent: Mapping[str, str] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    unknown: Mapping[str, str] = field(default_factory=dict)

    def finished(self, result: SendResult, at: float) -> ChunkRecord:
        """The ``done`` record of this claim, holding ``result``."""
        return ChunkRecord(
            state="done",
            attempt=self.attempt,
            worker=self.worker,
            at=at,
            sent=dict(result.sent),
            failed=dict(result.failed),
            unknown=dict(result.unknown),
        )

    def to_json(self) -> str:
        """The record as JSON (how the Redis store keeps it)."""
        document: dict[str, Any] = {
            "state": self.state,
            "attempt": self.attempt,
            "worker": self.worker,
            "at": self.at,
        }
        if self.state == "done":
            document |= {"sent": self.sent, "failed": self.failed, "unknown": self.unknown}
        return json.dumps(document, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChunkRecord:
        """Read a record written by :meth:`to_json`."""
        document = json.loads(text)
        return cls(
            state=document["state"],
            attempt=document["attempt"],
            worker=document["worker"],
            at=document["at"],
            sent=document.get("sent", {}),
            failed=document.get("failed", {}),
            unknown=document.get("unknown", {}),
        )


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
        chunks_done: chunks sent and recorded.
        chunks_started: chunks started and not finished: in flight now, or their
            worker died (their phones are in ``unknown``).
        chunks_pending: chunks not started.
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


def build_report(campaign: Campaign, records: Mapping[int, ChunkRecord]) -> CampaignReport:
    """The campaign's account from its chunks' records (pure).

    Example:
        >>> campaign = plan_campaign(
        ...     ["380980000001", "380980000002", "x"], "Hi", sender="S",
        ...     campaign_id="c", chunk_size=1,
        ... )
        >>> started = ChunkRecord(state="started", attempt="a", worker="w1", at=0.0)
        >>> build_report(campaign, {0: started}).totals()
        {'recipients': 3, 'sent': 0, 'failed': 1, 'unknown': 1, 'pending': 1}
    """
    sent: dict[str, str] = {}
    failed: dict[str, str] = dict(campaign.invalid)
    unknown: dict[str, str] = {}
    pending: list[str] = []
    done = started = 0
    for index in range(campaign.chunk_count):
        phones = campaign.chunks[index]
        record = records.get(index)
        if record is None:
            pending.extend(phones)
        elif record.state == "started":
            started += 1
            reason = StartedReason.format(worker=record.worker)
            unknown.update(dict.fromkeys(phones, reason))
        else:
            done += 1
            sent.update(record.sent)
            failed.update(record.failed)
            unknown.update(record.unknown)
    return CampaignReport(
        campaign_id=campaign.id,
        recipients=sum(len(p) for p in campaign.chunks.values()) + len(campaign.invalid),
        sent=sent,
        failed=failed,
        unknown=unknown,
        pending=pending,
        chunks_done=done,
        chunks_started=started,
        chunks_pending=campaign.chunk_count - done - started,
    )
