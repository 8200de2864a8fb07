"""Bulk campaigns on a job engine: plan, enqueue, send through a shared limiter, report.

The engine-agnostic core (this package without :mod:`.tasks`) needs only
smsclub-async with its ``redis`` extra (the send journal, ``RedisJournal``, records
every number); :mod:`.tasks` wires it to taskiq. See
README.md beside this file.
"""

from .campaign import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNKS_PER_JOB,
    Campaign,
    CampaignReport,
    build_report,
    job_chunks,
    job_timeout,
    plan_campaign,
)
from .job import (
    CountingLimiter,
    JobSummary,
    campaign_fingerprint,
    campaign_key,
    campaign_report,
    rerun_campaign,
    run_job,
    start_campaign,
)
from .resources import Settings, WorkerResources, production_resources
from .store import CampaignNotFoundError, CampaignStore, MemoryStore, RedisStore, worker_name

__all__ = [
    "DEFAULT_CHUNKS_PER_JOB",
    "DEFAULT_CHUNK_SIZE",
    "Campaign",
    "CampaignNotFoundError",
    "CampaignReport",
    "CampaignStore",
    "CountingLimiter",
    "JobSummary",
    "MemoryStore",
    "RedisStore",
    "Settings",
    "WorkerResources",
    "build_report",
    "campaign_fingerprint",
    "campaign_key",
    "campaign_report",
    "job_chunks",
    "job_timeout",
    "plan_campaign",
    "production_resources",
    "rerun_campaign",
    "run_job",
    "start_campaign",
    "worker_name",
]
