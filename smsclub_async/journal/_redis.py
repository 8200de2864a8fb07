"""The Redis journal: many processes and hosts sharing one journal."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .._results import SendResult
from ..telemetry import mask_numbers

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
    _log,
    _seconds,
    _summary,
)

# ---------------------------------------------------------------- Redis

# Entries: hash field phone -> "s<owner>" started, "S<id>" sent, "f<reason>" failed,
# "u<reason>" unknown. Counters per key in its meta hash (for the summary).
T = TypeVar("T")

FLUSH_AFTER = 0.05
"""Seconds a recorded outcome may wait in the queue for a claim to carry it."""

# Lists travel as one argument each, joined with "\n" (a few bytes to pack instead of
# 100 arguments). Phones never hold a line break. Outcomes travel in groups of four
# arguments: the owner, its phones, their marks (one letter each: S, f, u), and
# their details (message ids, reasons): a mode letter, then the details joined with
# "\n"; mode "e" when a detail holds a line break itself, each detail then escaped
# ("\\" as "\\\\", a line break as "\\n").
_SPLIT = r"""
local function split(s, from)
  local out, n = {}, 0
  while true do
    local cut = string.find(s, '\n', from, true)
    n = n + 1
    if not cut then
      out[n] = string.sub(s, from)
      return out
    end
    out[n] = string.sub(s, from, cut - 1)
    from = cut + 1
  end
end
"""

_APPLY = r"""
local function unescape(c)
  if c == 'n' then return '\n' end
  return c
end
local names = {S = 'sent', f = 'failed', u = 'unknown'}
-- Write the outcome groups ARGV[first..]: a number only while its owner started it.
local function apply(entries, meta, first)
  local counts = {sent = 0, failed = 0, unknown = 0}
  local done = 0
  for g = first, #ARGV - 3, 4 do
    local started = 's' .. ARGV[g]
    local phones = split(ARGV[g + 1], 1)
    local marks = ARGV[g + 2]
    local details = split(ARGV[g + 3], 2)
    local escaped = string.sub(ARGV[g + 3], 1, 1) == 'e'
    for i = 1, #phones do
      local phone, mark = phones[i], string.sub(marks, i, i)
      local name = names[mark]
      if name and redis.call('HGET', entries, phone) == started then
        local detail = details[i] or ''
        if escaped then detail = string.gsub(detail, '\\(.)', unescape) end
        redis.call('HSET', entries, phone, mark .. detail)
        counts[name] = counts[name] + 1
        done = done + 1
      end
    end
  end
  if done > 0 then
    redis.call('HINCRBY', meta, 'started', -done)
    for _, name in ipairs({'sent', 'failed', 'unknown'}) do
      if counts[name] > 0 then redis.call('HINCRBY', meta, name, counts[name]) end
    end
  end
end
"""

# ARGV: owner, now, alive until, ttl (ms), the phones; then outcome groups, written
# first (a number recorded, then claimed again, is claimed as what it became).
_CLAIM = (
    _SPLIT
    + _APPLY
    + r"""
local entries, meta, owners, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, now, alive_until, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local recorded = #ARGV > 5
if recorded then apply(entries, meta, 6) end
redis.call('HSET', owners, owner, alive_until)
local phones = split(ARGV[5], 1)
local out = {}
local fresh = 0
for i = 1, #phones do
  local phone = phones[i]
  local v = redis.call('HGET', entries, phone)
  if not v or string.sub(v, 1, 1) == 'f' then
    redis.call('HSET', entries, phone, 's' .. owner)
    if v then redis.call('HINCRBY', meta, 'failed', -1) end
    fresh = fresh + 1
    out[i] = ''
  elseif string.sub(v, 1, 1) == 's' then
    local until_ = redis.call('HGET', owners, string.sub(v, 2)) or '0'
    out[i] = v .. '\n' .. until_
  else
    out[i] = v
  end
end
if fresh > 0 then
  redis.call('HINCRBY', meta, 'started', fresh)
  if redis.call('HSETNX', meta, 'created', now) == 1 then
    redis.call('HSETNX', meta, 'fingerprint', '')
  end
end
if fresh > 0 or recorded then
  redis.call('HSET', meta, 'updated', now)
  redis.call('ZADD', index, now, KEYS[5])
  redis.call('PEXPIRE', entries, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
if fresh == #phones then
  return fresh  -- all of them new: no list to send back and parse
end
return out
"""
)

# ARGV: now, ttl (ms), then outcome groups.
_RECORD = (
    _SPLIT
    + _APPLY
    + r"""
local entries, meta, index = KEYS[1], KEYS[2], KEYS[3]
local now, ttl = ARGV[1], tonumber(ARGV[2])
apply(entries, meta, 3)
redis.call('HSET', meta, 'updated', now)
redis.call('ZADD', index, now, KEYS[4])
redis.call('PEXPIRE', entries, ttl)
redis.call('PEXPIRE', meta, ttl)
return 1
"""
)

# ARGV: owner, the phones.
_RELEASE = (
    _SPLIT
    + r"""
local entries, meta = KEYS[1], KEYS[2]
local started = 's' .. ARGV[1]
local phones = split(ARGV[2], 1)
local dropped = 0
for i = 1, #phones do
  if redis.call('HGET', entries, phones[i]) == started then
    redis.call('HDEL', entries, phones[i])
    dropped = dropped + 1
  end
end
if dropped > 0 then redis.call('HINCRBY', meta, 'started', -dropped) end
return dropped
"""
)

_BEGIN = r"""
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


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


_SOURCES = {_sha(script): script for script in (_CLAIM, _RECORD, _RELEASE, _BEGIN)}
_CLAIM_SHA, _RECORD_SHA, _RELEASE_SHA, _BEGIN_SHA = _SOURCES


def _joined(phones: Sequence[str]) -> str:
    """The phones as one argument (a phone with a line break would shift the rest)."""
    text = "\n".join(phones)
    if text.count("\n") != len(phones) - 1:
        raise ValueError("a phone number holds a line break")
    return text


def _group(owner: str, outcomes: Sequence[Outcome]) -> tuple[str, str, str, bytes]:
    """One record's arguments: owner, phones, marks, details (see ``_APPLY``)."""
    phones, states, details = zip(*outcomes, strict=True)
    marks = "".join(map(_MARK_OF.__getitem__, states))
    text = "\n".join(details)
    if text.count("\n") == len(details) - 1:
        text = "=" + text
    else:  # a detail holds a line break: escape every detail
        text = "e" + "\n".join(d.replace("\\", "\\\\").replace("\n", "\\n") for d in details)
    # A lone surrogate (a gateway's broken JSON escape) cannot be UTF-8: "?" instead.
    return owner, _joined(phones), marks, text.encode("utf-8", "replace")


def _ungroup(queued: Sequence[Any]) -> list[tuple[str, str, str]]:
    """(phone, mark, detail) of every outcome in ``queued`` groups (to log them)."""
    out: list[tuple[str, str, str]] = []
    for at in range(0, len(queued) - 3, 4):
        _, phones, marks, raw = queued[at : at + 4]
        text = raw.decode("utf-8", "replace")
        details = text[1:].split("\n")
        if text[:1] == "e":
            details = [_unescape(d) for d in details]
        out.extend(zip(phones.split("\n"), marks, details, strict=False))
    return out


def _unescape(detail: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m[1] == "n" else m[1], detail)


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


async def _no_claim() -> Claim:
    return Claim()


def _sort(phones: list[str], answers: Any, now: float) -> Claim:
    """The claim script's answer, number by number."""
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


class _Key:
    """One journal key's Redis names (built once) and its queued outcomes."""

    __slots__ = (
        "claim_head",
        "idle",
        "key",
        "queue",
        "record_head",
        "release_head",
        "timer",
        "writing",
    )

    def __init__(self, key: str, prefix: str) -> None:
        entries, meta = f"{prefix}e:{key}", f"{prefix}m:{key}"
        self.key = key
        self.claim_head = (entries, meta, f"{prefix}owners", f"{prefix}keys", key)
        self.record_head = (entries, meta, f"{prefix}keys", key)
        self.release_head = (entries, meta)
        self.queue: list[Any] = []  # outcome groups of four arguments, oldest first
        self.timer: asyncio.TimerHandle | None = None
        self.writing = 0  # writes in flight that carry outcomes
        self.idle: asyncio.Future[None] | None = None  # set when ``writing`` drops to 0

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.writing or self.timer)


_KEYS_KEPT = 1024
"""Keys whose Redis names a journal keeps built (idle ones are dropped beyond it)."""


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

    What a request costs the client: one ``EVALSHA`` (the claim) with a handful of
    arguments, the numbers joined into one. :meth:`record` only queues the outcomes
    (no Redis call, no task): the next claim of the same key carries them in its
    ``EVALSHA`` and the script writes them before it claims; what no claim carries
    within ``FLUSH_AFTER`` (0.05 s) is written by a timer, and :meth:`finish` (and
    every read: :meth:`load`, :meth:`started`, :meth:`summary`, :meth:`purge`)
    writes what is queued first. A crash meanwhile leaves those numbers *started*:
    reported ``unknown`` later, never sent again. A write that fails or is cancelled
    before Redis answers puts its outcomes back in the queue (written twice, an
    outcome changes nothing: a number is written only while its owner started it);
    a timer's write that fails is logged (numbers masked) and its outcomes dropped,
    as a failed record always was.

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
        self._keys: dict[str, _Key] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._done: asyncio.Future[None] | None = None  # resolved: what record() returns

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

    def _key(self, key: str) -> _Key:
        k = self._keys.get(key)
        if k is None:
            if len(self._keys) >= _KEYS_KEPT:
                for name in [n for n, other in self._keys.items() if not other.busy]:
                    del self._keys[name]
            k = self._keys[key] = _Key(key, self.prefix)
        return k

    async def _eval(self, sha: str, keys: int, args: tuple[Any, ...]) -> Any:
        """``EVALSHA``, loading the script when Redis does not know it (a restart)."""
        from redis.exceptions import NoScriptError  # noqa: PLC0415 - redis is an optional extra

        try:
            return await self.redis.evalsha(sha, keys, *args)
        except NoScriptError:
            await self.redis.script_load(_SOURCES[sha])
            return await self.redis.evalsha(sha, keys, *args)

    async def _call(self, what: str, work: Awaitable[T]) -> T:
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        try:
            return await work
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to {what}: {exc}") from exc

    async def begin(self, key: str, fingerprint: str) -> None:
        existing = await self._call(
            "begin a key",
            self._eval(
                _BEGIN_SHA,
                3,
                (self._meta(key), self._index, key, fingerprint, repr(self._clock()), self._ttl_ms),
            ),
        )
        if existing:
            raise _conflict(key)

    def claim(
        self,
        key: str,
        phones: Sequence[str],
        *,
        owner: str,
        lease: float,
        distinct: bool = False,
    ) -> Awaitable[Claim]:
        """See :meth:`Journal.claim` (``distinct`` changes nothing here).

        Carries the key's queued outcomes; that write then runs to its end even if
        the caller is cancelled meanwhile (the outcomes are never left half-known).
        """
        phones = list(dict.fromkeys(phones))
        if not phones:
            return _no_claim()
        k = self._keys.get(key) or self._key(key)
        now = self._clock()
        args = (*k.claim_head, owner, repr(now), repr(now + lease), self._ttl_ms, _joined(phones))
        queued = k.queue
        if not queued:
            return self._claim(args, phones, now)
        k.queue = []
        k.writing += 1
        task = asyncio.ensure_future(self._carry(k, args + tuple(queued), queued, phones, now))
        return asyncio.shield(task)

    async def _claim(self, args: tuple[Any, ...], phones: list[str], now: float) -> Claim:
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        try:
            answers = await self._eval(_CLAIM_SHA, 5, args)
        except RedisError as exc:
            raise JournalError(f"the Redis journal failed to claim numbers: {exc}") from exc
        return _sort(phones, answers, now)

    async def _carry(
        self, k: _Key, args: tuple[Any, ...], queued: list[Any], phones: list[str], now: float
    ) -> Claim:
        """A claim carrying queued outcomes: on failure they go back to the queue."""
        try:
            return await self._claim(args, phones, now)
        except BaseException:
            self._put_back(k, queued)
            raise
        finally:
            self._written(k)

    def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> asyncio.Future[None]:
        """Queue the outcomes (see the class): returns an already resolved future."""
        loop = asyncio.get_running_loop()
        if outcomes:
            k = self._keys.get(key) or self._key(key)
            k.queue += _group(owner, outcomes)
            if k.timer is None:
                k.timer = loop.call_later(FLUSH_AFTER, self._due, k)
        done = self._done
        if done is None or done.get_loop() is not loop:
            done = self._done = loop.create_future()
            done.set_result(None)
        return done

    def _due(self, k: _Key) -> None:
        """The timer: write what no claim carried."""
        k.timer = None
        if k.queue:
            task = asyncio.ensure_future(self._flush(k, loud=False))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, k: _Key, *, loud: bool) -> None:
        """Write ``k``'s queued outcomes with the record script.

        ``loud``: a failure raises :class:`JournalError` (the outcomes go back to the
        queue); else it is logged and the outcomes are dropped (numbers stay started).
        """
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        queued, k.queue = k.queue, []
        if not queued:
            return
        k.writing += 1
        try:
            await self._eval(
                _RECORD_SHA, 4, (*k.record_head, repr(self._clock()), self._ttl_ms, *queued)
            )
        except RedisError as exc:
            if loud:
                self._put_back(k, queued)
                raise JournalError(f"the Redis journal failed to record outcomes: {exc}") from exc
            done = _ungroup(queued)
            # The numbers stay "started": a later call reports them unknown, never resends.
            # Ids of SMSC and REX400 are "<id>:<phone>", and a key may hold a number:
            # masked, as every signal of the library is (telemetry.mask_numbers).
            _log.error(
                "journal key %r: could not record the outcome of %d numbers (ids %s): %s",
                mask_numbers(k.key),
                len(done),
                mask_numbers(", ".join(detail for _, mark, detail in done if mark == "S")),
                exc,
            )
        except BaseException:
            self._put_back(k, queued)
            raise
        finally:
            self._written(k)

    def _put_back(self, k: _Key, queued: list[Any]) -> None:
        """Queue outcomes again after a failed write.

        After the outcomes queued since: if that write did reach Redis and a number it
        failed was claimed again by its owner, a later outcome of the number must land
        first (the old one then changes nothing).
        """
        k.queue += queued
        if k.timer is None:
            k.timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._due, k)

    @staticmethod
    def _written(k: _Key) -> None:
        k.writing -= 1
        if not k.writing and k.idle is not None:
            if not k.idle.done():
                k.idle.set_result(None)
            k.idle = None

    async def _settle(self, k: _Key) -> None:
        """Write ``k``'s queued outcomes and wait for its writes in flight."""
        while True:
            if k.queue:
                await self._flush(k, loud=True)
            elif k.writing:
                if k.idle is None:
                    k.idle = asyncio.get_running_loop().create_future()
                await asyncio.shield(k.idle)
            else:
                return

    async def _settle_all(self) -> None:
        for k in list(self._keys.values()):
            await self._settle(k)

    async def finish(self, key: str, owner: str) -> None:
        """Write the key's queued outcomes (every owner's) and wait for its writes.

        Leases free the numbers of a call that died; a call that finished left none
        started unless its outcomes could not be written.
        """
        k = self._keys.get(key)
        if k is None:
            return
        await self._settle(k)
        if not k.busy and self._keys.get(key) is k:
            del self._keys[key]

    async def release(
        self, key: str, phones: Sequence[str], *, owner: str, attempt: str | None = None
    ) -> None:
        if phones:
            k = self._keys.get(key) or self._key(key)
            await self._call(
                "release numbers",
                self._eval(_RELEASE_SHA, 2, (*k.release_head, owner, _joined(phones))),
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

    async def _settled(self, key: str) -> None:
        """Reads see this journal's own queued outcomes: written first."""
        k = self._keys.get(key)
        if k is not None and (k.queue or k.writing):
            await self._settle(k)

    async def load(self, key: str) -> SendResult:
        await self._settled(key)
        result = SendResult()
        for phone, value in await self._scan(key):
            _load_entry(result, phone, _STATE_OF.get(value[:1], _STARTED), value[1:])
        return result

    async def started(self, key: str) -> dict[str, str]:
        await self._settled(key)
        return {phone: value[1:] for phone, value in await self._scan(key) if value[:1] == "s"}

    async def summary(self) -> list[KeySummary]:
        await self._settle_all()
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
        await self._settle_all()
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
        """Write every queued outcome (a failure is logged); the Redis client is
        borrowed: it stays open."""
        for k in list(self._keys.values()):
            if k.timer is not None:
                k.timer.cancel()
                k.timer = None
            try:
                await self._settle(k)
            except JournalError as exc:
                _log.error(
                    "journal key %r: could not write the last outcomes: %s",
                    mask_numbers(k.key),
                    exc,
                )
            if k.timer is not None:  # put back by the failed write: nobody writes them now
                k.timer.cancel()
                k.timer = None
        self._keys.clear()
