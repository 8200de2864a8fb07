"""The Redis journal: many processes and hosts sharing one journal."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from .._results import SendResult

if TYPE_CHECKING:
    import redis.asyncio

from ._model import (
    _MARK_OF,
    _STARTED,
    _STATE_OF,
    DEFAULT_RETENTION,
    Claim,
    JournalError,
    KeySummary,
    Outcome,
    _alive,
    _conflict,
    _load_entry,
    _seconds,
    _summary,
)

# ---------------------------------------------------------------- Redis

# Entries: hash field phone -> "s<owner>" started, "S<id>" sent, "f<reason>" failed,
# "u<reason>" unknown. Counters per key in its meta hash (for the summary).
T = TypeVar("T")

_CLAIM = """
local entries, meta, owners, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, now, alive_until, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('HSET', owners, owner, alive_until)
local out = {}
local fresh = 0
for i = 5, #ARGV do
  local phone = ARGV[i]
  local v = redis.call('HGET', entries, phone)
  if not v or string.sub(v, 1, 1) == 'f' then
    redis.call('HSET', entries, phone, 's' .. owner)
    if v then redis.call('HINCRBY', meta, 'failed', -1) end
    redis.call('HINCRBY', meta, 'started', 1)
    fresh = fresh + 1
    out[#out + 1] = ''
  elseif string.sub(v, 1, 1) == 's' then
    local until_ = redis.call('HGET', owners, string.sub(v, 2)) or '0'
    out[#out + 1] = v .. '\\n' .. until_
  else
    out[#out + 1] = v
  end
end
if fresh > 0 then
  if redis.call('HSETNX', meta, 'created', now) == 1 then
    redis.call('HSETNX', meta, 'fingerprint', '')
  end
  redis.call('HSET', meta, 'updated', now)
  redis.call('ZADD', index, now, KEYS[5])
  redis.call('PEXPIRE', entries, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
if fresh == #ARGV - 4 then
  return fresh  -- all of them new: no list to send back and parse
end
return out
"""

_RECORD = """
local entries, meta, index = KEYS[1], KEYS[2], KEYS[3]
local started, now, ttl = 's' .. ARGV[1], ARGV[2], tonumber(ARGV[3])
local names = {S = 'sent', f = 'failed', u = 'unknown'}
for i = 4, #ARGV do
  local value = ARGV[i]
  local cut = string.find(value, '\\n', 1, true)
  local phone, mark = string.sub(value, 1, cut - 1), string.sub(value, cut + 1)
  if redis.call('HGET', entries, phone) == started then
    redis.call('HSET', entries, phone, mark)
    redis.call('HINCRBY', meta, 'started', -1)
    redis.call('HINCRBY', meta, names[string.sub(mark, 1, 1)], 1)
  end
end
redis.call('HSET', meta, 'updated', now)
redis.call('ZADD', index, now, KEYS[4])
redis.call('PEXPIRE', entries, ttl)
redis.call('PEXPIRE', meta, ttl)
return 1
"""

_RELEASE = """
local entries, meta = KEYS[1], KEYS[2]
local started = 's' .. ARGV[1]
for i = 2, #ARGV do
  if redis.call('HGET', entries, ARGV[i]) == started then
    redis.call('HDEL', entries, ARGV[i])
    redis.call('HINCRBY', meta, 'started', -1)
  end
end
return 1
"""

_BEGIN = """
local meta, index = KEYS[1], KEYS[2]
local fp, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local existing = redis.call('HGET', meta, 'fingerprint')
if existing and existing ~= '' and existing ~= fp then
  return existing
end
redis.call('HSET', meta, 'fingerprint', fp)
redis.call('HSETNX', meta, 'created', now)
redis.call('HSET', meta, 'updated', now)
redis.call('ZADD', index, now, KEYS[3])
redis.call('PEXPIRE', meta, ttl)
return false
"""


class RedisJournal:
    """A journal in Redis, shared by many processes and hosts.

    Claims and records are Lua scripts, so each is atomic; keep the Redis persistent
    (``appendonly yes``, ideally ``appendfsync always``) and never evicting
    (``maxmemory-policy noeviction``): a journal that forgets a start mark lets a
    later call send the number again. A key's entries expire ``retention`` after its
    last write (Redis key expiry); :meth:`purge` drops them earlier on demand.

    Leases are judged by the clients' clocks (keep hosts in NTP sync: the lease is
    30 s, skews are milliseconds).

    Layout, for a key ``K`` (the prefix is configurable)::

        <prefix>e:K      hash: phone -> "s<owner>" | "S<message id>" | "f<reason>" | "u<reason>"
        <prefix>m:K      hash: fingerprint, created, updated, counts per state
        <prefix>keys     sorted set: key -> last write (for the summary and purge)
        <prefix>owners   hash: owner -> alive until (epoch seconds)

    Args:
        redis: a ``redis.asyncio.Redis`` client (borrowed: never closed here).
        prefix: the prefix of every Redis key.
        retention: how long a key is kept after its last write.
        clock: seconds since the epoch (tests patch it).
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        *,
        prefix: str = "smsclub:journal:",
        retention: timedelta = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.retention = retention
        self._ttl_ms = int(_seconds(retention) * 1000)
        self._clock = clock
        self._claim = redis.register_script(_CLAIM)
        self._record = redis.register_script(_RECORD)
        self._release = redis.register_script(_RELEASE)
        self._begin = redis.register_script(_BEGIN)

    def __repr__(self) -> str:
        return f"RedisJournal(prefix={self.prefix!r}, retention={self.retention!r})"

    def _entries(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    def _meta(self, key: str) -> str:
        return f"{self.prefix}m:{key}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}keys"

    @property
    def _owners(self) -> str:
        return f"{self.prefix}owners"

    async def _call(self, what: str, work: Awaitable[T]) -> T:
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        try:
            return await work
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to {what}: {exc}") from exc

    async def begin(self, key: str, fingerprint: str) -> None:
        existing = await self._call(
            "begin a key",
            self._begin(
                keys=[self._meta(key), self._index, key],
                args=[fingerprint, repr(self._clock()), self._ttl_ms],
            ),
        )
        if existing:
            raise _conflict(key)

    async def claim(self, key: str, phones: Sequence[str], *, owner: str, lease: float) -> Claim:
        phones = list(dict.fromkeys(phones))
        if not phones:
            return Claim()
        now = self._clock()
        answers = await self._call(
            "claim numbers",
            self._claim(
                keys=[self._entries(key), self._meta(key), self._owners, self._index, key],
                args=[owner, repr(now), repr(now + lease), self._ttl_ms, *phones],
            ),
        )
        claim = Claim()
        if isinstance(answers, int):  # every number was new
            claim.fresh = phones
            return claim
        for phone, raw in zip(phones, answers, strict=True):
            value = raw.decode() if isinstance(raw, bytes) else str(raw)
            if not value:
                claim.fresh.append(phone)
            elif value[0] == "s":
                holder, _, until = value[1:].partition("\n")
                if _alive(holder, float(until or 0), now):
                    claim.held.append(phone)
                else:
                    claim.interrupted.append(phone)
            elif value[0] == "S":
                claim.earlier.sent[value[1:]] = phone
            else:
                claim.earlier.unknown[phone] = value[1:]
        return claim

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        if not outcomes:
            return
        marks = [f"{o.phone}\n{_MARK_OF[o.state]}{o.detail}" for o in outcomes]
        await self._call(
            "record outcomes",
            self._record(
                keys=[self._entries(key), self._meta(key), self._index, key],
                args=[owner, repr(self._clock()), self._ttl_ms, *marks],
            ),
        )

    async def release(self, key: str, phones: Sequence[str], *, owner: str) -> None:
        if phones:
            await self._call(
                "release numbers",
                self._release(keys=[self._entries(key), self._meta(key)], args=[owner, *phones]),
            )

    async def heartbeat(self, owner: str, lease: float) -> None:
        await self._call(
            "renew a lease", self.redis.hset(self._owners, owner, repr(self._clock() + lease))
        )

    async def _scan(self, key: str) -> list[tuple[str, str]]:
        """Every (phone, entry) of ``key``, read in pages of 1,000."""
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        out: list[tuple[str, str]] = []
        try:
            async for raw_phone, raw in self.redis.hscan_iter(self._entries(key), count=1000):
                phone = raw_phone.decode() if isinstance(raw_phone, bytes) else str(raw_phone)
                out.append((phone, raw.decode() if isinstance(raw, bytes) else str(raw)))
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to read {key!r}: {exc}") from exc
        return out

    async def load(self, key: str) -> SendResult:
        result = SendResult()
        for phone, value in await self._scan(key):
            _load_entry(result, phone, _STATE_OF.get(value[:1], _STARTED), value[1:])
        return result

    async def started(self, key: str) -> dict[str, str]:
        return {phone: value[1:] for phone, value in await self._scan(key) if value[:1] == "s"}

    async def summary(self) -> list[KeySummary]:
        keys = await self._call("list keys", self.redis.zrevrange(self._index, 0, -1))
        out = []
        for raw in keys:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            meta = await self._call("read a key", self.redis.hgetall(self._meta(key)))
            if not meta:
                continue
            fields = {
                (k.decode() if isinstance(k, bytes) else k): (
                    v.decode() if isinstance(v, bytes) else v
                )
                for k, v in meta.items()
            }
            counts = {s: int(fields.get(s, 0)) for s in (_STARTED, "sent", "failed", "unknown")}
            out.append(
                _summary(
                    key,
                    fields.get("fingerprint") or None,
                    float(fields.get("created", 0)),
                    float(fields.get("updated", 0)),
                    counts,
                )
            )
        return out

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._ttl_ms / 1000 if older_than is None else older_than.total_seconds()
        before = self._clock() - age
        old = await self._call(
            "list old keys", self.redis.zrangebyscore(self._index, "-inf", f"({before!r}")
        )
        dropped = 0
        for raw in old:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.exists(self._meta(key))
                pipe.delete(self._entries(key), self._meta(key))
                pipe.zrem(self._index, key)
                existed, *_ = await self._call("purge a key", pipe.execute())
            dropped += bool(existed)
        owners = await self._call("list owners", self.redis.hgetall(self._owners))
        stale = [o for o, until in owners.items() if float(until) < before]
        if stale:
            await self._call("purge owners", self.redis.hdel(self._owners, *stale))
        return dropped

    async def aclose(self) -> None:
        """The Redis client is borrowed: nothing to close."""
