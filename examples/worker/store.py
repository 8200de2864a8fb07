"""Where planned campaigns live: in memory (tests, one process) or Redis.

The store holds each campaign's plan (its text, sender and chunks of numbers), so
that a job message is just ``(campaign id, chunk indexes)``. What was *sent* is not
here: every number goes through the send journal
(:class:`smsclub_async.journal.RedisJournal`, keyed by the campaign id), which marks
it started before its request and done with its outcome after.

Redis layout, for a campaign ``<id>`` (the prefix is configurable)::

    smsclub:campaign:<id>:meta     hash: message, sender, chunk_count, chunks_per_job,
                                   invalid (JSON)
    smsclub:campaign:<id>:chunks   hash: chunk index -> JSON list of phones

Keys expire ``ttl`` seconds after the campaign was saved (30 days by default; keep
it at least the journal's retention, 7 days by default).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis

from .campaign import Campaign

__all__ = [
    "DEFAULT_TTL",
    "CampaignNotFoundError",
    "CampaignStore",
    "MemoryStore",
    "RedisStore",
    "worker_name",
]

DEFAULT_TTL = 30 * 24 * 3600
"""Seconds a campaign's keys are kept in Redis."""


class CampaignNotFoundError(LookupError):
    """The store has no campaign with this id."""


def worker_name() -> str:
    """``host:pid``: a worker's name, for logs."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CampaignStore(Protocol):
    """What the jobs and the report need from a store."""

    async def save(self, campaign: Campaign) -> bool:
        """Store a planned campaign; ``False`` (and nothing changed) if it exists."""
        ...

    async def load(self, campaign_id: str, chunks: Iterable[int] | None = None) -> Campaign:
        """The campaign with the phones of ``chunks`` (all when ``None``)."""
        ...


class MemoryStore:
    """A store in this process's memory, for tests and single-process demos.

    Every method finishes without awaiting anything, so each is atomic on its loop.
    """

    def __init__(self) -> None:
        self._campaigns: dict[str, Campaign] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(campaigns={len(self._campaigns)})"

    async def save(self, campaign: Campaign) -> bool:
        if campaign.id in self._campaigns:
            return False
        self._campaigns[campaign.id] = campaign
        return True

    async def load(self, campaign_id: str, chunks: Iterable[int] | None = None) -> Campaign:
        campaign = self._campaign(campaign_id)
        if chunks is None:
            return campaign
        wanted = {index: campaign.chunks[index] for index in chunks}
        return Campaign(
            id=campaign.id,
            message=campaign.message,
            sender=campaign.sender,
            chunk_count=campaign.chunk_count,
            chunks=wanted,
            invalid=campaign.invalid,
            chunks_per_job=campaign.chunks_per_job,
        )

    def _campaign(self, campaign_id: str) -> Campaign:
        try:
            return self._campaigns[campaign_id]
        except KeyError:
            raise CampaignNotFoundError(f"no campaign {campaign_id!r} in this store") from None


def _text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """A store in Redis, shared by every worker (see the module docstring for the keys).

    Args:
        client: a ``redis.asyncio.Redis`` client (borrowed: never closed here).
        prefix: the keys' prefix.
        ttl: seconds the keys are kept after the campaign is saved.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "smsclub:campaign:",
        ttl: int = DEFAULT_TTL,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = ttl

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"

    def _key(self, campaign_id: str, part: str) -> str:
        return f"{self._prefix}{campaign_id}:{part}"

    async def save(self, campaign: Campaign) -> bool:
        meta = self._key(campaign.id, "meta")
        # Saving again changes nothing. (Two saves racing write the same campaign: the
        # id names one plan.) One transaction: a campaign is visible only once whole.
        if await self._redis.exists(meta):
            return False
        chunks = self._key(campaign.id, "chunks")
        async with self._redis.pipeline(transaction=True) as pipe:
            if campaign.chunks:
                pipe.hset(
                    chunks,
                    mapping={str(i): json.dumps(list(p)) for i, p in campaign.chunks.items()},
                )
                pipe.expire(chunks, self._ttl)
            pipe.hset(
                meta,
                mapping={
                    "message": campaign.message,
                    "sender": campaign.sender,
                    "chunk_count": campaign.chunk_count,
                    "chunks_per_job": campaign.chunks_per_job,
                    "invalid": json.dumps(dict(campaign.invalid)),
                },
            )
            pipe.expire(meta, self._ttl)
            await pipe.execute()
        return True

    async def load(self, campaign_id: str, chunks: Iterable[int] | None = None) -> Campaign:
        raw_meta = await self._redis.hgetall(self._key(campaign_id, "meta"))
        if not raw_meta:
            raise CampaignNotFoundError(f"no campaign {campaign_id!r} in Redis")
        meta = {_text(name): _text(value) for name, value in raw_meta.items()}
        chunk_key = self._key(campaign_id, "chunks")
        if chunks is None:
            raw = await self._redis.hgetall(chunk_key)
            loaded = {int(index): tuple(json.loads(phones)) for index, phones in raw.items()}
        else:
            indexes = list(chunks)
            values = (
                await self._redis.hmget(chunk_key, [str(i) for i in indexes]) if indexes else []
            )
            found = [value for value in values if value is not None]
            if len(found) < len(indexes):
                raise CampaignNotFoundError(f"campaign {campaign_id!r} lacks some chunks")
            loaded = {i: tuple(json.loads(v)) for i, v in zip(indexes, found, strict=True)}
        return Campaign(
            id=campaign_id,
            message=meta["message"],
            sender=meta["sender"],
            chunk_count=int(meta["chunk_count"]),
            chunks=loaded,
            invalid=json.loads(meta["invalid"]),
            chunks_per_job=int(meta["chunks_per_job"]),
        )
