"""Where campaigns and their chunks' records live: in memory (tests, one process) or Redis.

The one operation that must be atomic is :meth:`CampaignStore.claim`: "record this
chunk as started unless it has a record". Two workers that get the same job (a
re-run while the first run is still going, or an engine that delivers a job twice)
then never both send a chunk. Redis does it with ``HSETNX``.

Redis layout, for a campaign ``<id>`` (the prefix is configurable)::

    smsclub:campaign:<id>:meta     hash: message, sender, chunk_count, chunks_per_job,
                                   invalid (JSON)
    smsclub:campaign:<id>:chunks   hash: chunk index -> JSON list of phones
    smsclub:campaign:<id>:records  hash: chunk index -> ChunkRecord JSON

The store is the record of what was sent: keep it on a Redis that persists
(``appendonly yes``) and never evicts (``maxmemory-policy noeviction``), or it can
forget a chunk that went out, and a re-run would send it again. Keys expire ``ttl``
seconds after the campaign was saved (30 days by default).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis

from .campaign import Campaign, ChunkRecord

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
    """``host:pid``: who claimed a chunk, for the report of a chunk left started."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CampaignStore(Protocol):
    """What the jobs and the report need from a store."""

    async def save(self, campaign: Campaign) -> bool:
        """Store a planned campaign; ``False`` (and nothing changed) if it exists."""
        ...

    async def load(self, campaign_id: str, chunks: Iterable[int] | None = None) -> Campaign:
        """The campaign with the phones of ``chunks`` (all when ``None``)."""
        ...

    async def claim(self, campaign_id: str, index: int, *, worker: str) -> ChunkRecord | None:
        """Record the chunk as started, atomically; ``None`` if it already has a record."""
        ...

    async def finish(self, campaign_id: str, index: int, record: ChunkRecord) -> None:
        """Record the chunk as done (``record.state == "done"``)."""
        ...

    async def release(self, campaign_id: str, index: int, record: ChunkRecord) -> bool:
        """Drop a started record made by this claim (nothing went out); whether it did."""
        ...

    async def records(self, campaign_id: str) -> dict[int, ChunkRecord]:
        """Every chunk's record (chunks without one are pending)."""
        ...


def _started(worker: str) -> ChunkRecord:
    return ChunkRecord(state="started", attempt=uuid.uuid4().hex, worker=worker, at=time.time())


class MemoryStore:
    """A store in this process's memory, for tests and single-process demos.

    Every method finishes without awaiting anything, so each is atomic on its loop.
    """

    def __init__(self) -> None:
        self._campaigns: dict[str, Campaign] = {}
        self._records: dict[str, dict[int, ChunkRecord]] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(campaigns={len(self._campaigns)})"

    async def save(self, campaign: Campaign) -> bool:
        if campaign.id in self._campaigns:
            return False
        self._campaigns[campaign.id] = campaign
        self._records[campaign.id] = {}
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

    async def claim(self, campaign_id: str, index: int, *, worker: str) -> ChunkRecord | None:
        records = self._records_of(campaign_id)
        if index in records:
            return None
        record = records[index] = _started(worker)
        return record

    async def finish(self, campaign_id: str, index: int, record: ChunkRecord) -> None:
        self._records_of(campaign_id)[index] = record

    async def release(self, campaign_id: str, index: int, record: ChunkRecord) -> bool:
        records = self._records_of(campaign_id)
        current = records.get(index)
        if current is None or current.state != "started" or current.attempt != record.attempt:
            return False
        del records[index]
        return True

    async def records(self, campaign_id: str) -> dict[int, ChunkRecord]:
        return dict(self._records_of(campaign_id))

    def _campaign(self, campaign_id: str) -> Campaign:
        try:
            return self._campaigns[campaign_id]
        except KeyError:
            raise CampaignNotFoundError(f"no campaign {campaign_id!r} in this store") from None

    def _records_of(self, campaign_id: str) -> dict[int, ChunkRecord]:
        self._campaign(campaign_id)
        return self._records[campaign_id]


# Deletes a chunk's record only if it is still the started record of this claim.
_RELEASE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local record = cjson.decode(current)
if record['state'] ~= 'started' or record['attempt'] ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


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
        self._release = client.register_script(_RELEASE)

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

    async def claim(self, campaign_id: str, index: int, *, worker: str) -> ChunkRecord | None:
        record = _started(worker)
        key = self._key(campaign_id, "records")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, str(index), record.to_json())
            pipe.expire(key, self._ttl, nx=True)
            claimed, _ = await pipe.execute()
        return record if claimed else None

    async def finish(self, campaign_id: str, index: int, record: ChunkRecord) -> None:
        await self._redis.hset(self._key(campaign_id, "records"), str(index), record.to_json())

    async def release(self, campaign_id: str, index: int, record: ChunkRecord) -> bool:
        key = self._key(campaign_id, "records")
        return bool(await self._release(keys=[key], args=[str(index), record.attempt]))

    async def records(self, campaign_id: str) -> dict[int, ChunkRecord]:
        raw = await self._redis.hgetall(self._key(campaign_id, "records"))
        return {int(index): ChunkRecord.from_json(value) for index, value in raw.items()}
