"""The Redis journal: many processes and hosts sharing one journal."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
    ResultOutcomes,
    _alive,
    _conflict,
    _load_entry,
    _log,
    _seconds,
    _summary,
)

T = TypeVar("T")

# Entries: hash field phone -> "s<owner>" started, "S<id>" sent, "f<reason>" failed,
# "u<reason>" unknown. Counters per key in its meta hash (for the summary).

FLUSH_AFTER = 0.05
"""Seconds a recorded outcome may wait in the queue for a claim to carry it."""

# One EVALSHA writes a batch: the outcomes queued for the key, then the claims that
# arrived while the key's previous batch was in flight, in order. ARGV: now, ttl
# (ms), the number of claims, one argument per claim, one per outcome group.
#
# Lists travel inside one argument, joined with "\n" (a few bytes to pack instead of
# 100 arguments); phones and owners never hold a line break. A claim is
# "<owner>\n<alive until>\n<phones>". An outcome group (one record) is
# "<owner>\n<marks>\n<phones>\n<mode><details>": marks one letter per phone (S, f,
# u), then the details (message ids, reasons) joined with "\n" after a mode letter:
# "e" when a detail holds a line break itself, every detail then escaped ("\\" as
# "\\\\", a line break as "\\n"), "=" otherwise.
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
-- The line of s at from (the text up to the next line break), and where the next starts.
local function line(s, from)
  local cut = string.find(s, '\n', from, true) or (#s + 1)
  return string.sub(s, from, cut - 1), cut + 1
end
"""

_CLAIM = (
    _SPLIT
    + r"""
local entries, meta, owners, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, ttl, claims = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local touched = #ARGV > 3 + claims

local function unescape(c)
  if c == 'n' then return '\n' end
  return c
end
local names = {S = 'sent', f = 'failed', u = 'unknown'}
local counts = {sent = 0, failed = 0, unknown = 0}
local done = 0
-- The outcomes: a number is written only while its owner started it.
for g = 4 + claims, #ARGV do
  local s = ARGV[g]
  local owner, from = line(s, 1)
  local started = 's' .. owner
  local marks
  marks, from = line(s, from)
  local phones = {}
  for i = 1, #marks do
    phones[i], from = line(s, from)
  end
  local escaped = string.sub(s, from, from) == 'e'
  local details = split(s, from + 1)
  for i = 1, #marks do
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

-- The claims, each answered by the number of its phones when all were new (no list
-- to send back and parse), else by one entry per phone.
local answers = {}
local fresh = 0
for c = 1, claims do
  local s = ARGV[3 + c]
  local owner, from = line(s, 1)
  local alive_until
  alive_until, from = line(s, from)
  redis.call('HSET', owners, owner, alive_until)
  local phones = split(s, from)
  local out = {}
  local new = 0
  for i = 1, #phones do
    local phone = phones[i]
    local v = redis.call('HGET', entries, phone)
    if not v or string.sub(v, 1, 1) == 'f' then
      redis.call('HSET', entries, phone, 's' .. owner)
      if v then redis.call('HINCRBY', meta, 'failed', -1) end
      new = new + 1
      out[i] = ''
    elseif string.sub(v, 1, 1) == 's' then
      local until_ = redis.call('HGET', owners, string.sub(v, 2)) or '0'
      out[i] = v .. '\n' .. until_
    else
      out[i] = v
    end
  end
  fresh = fresh + new
  if new == #phones then answers[c] = new else answers[c] = out end
end
if fresh > 0 then
  redis.call('HINCRBY', meta, 'started', fresh)
  if redis.call('HSETNX', meta, 'created', now) == 1 then
    redis.call('HSETNX', meta, 'fingerprint', '')
  end
end
if fresh > 0 or touched then
  redis.call('HSET', meta, 'updated', now)
  redis.call('ZADD', index, now, KEYS[5])
  redis.call('PEXPIRE', entries, ttl)
  redis.call('PEXPIRE', meta, ttl)
end
return answers
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


_SOURCES = {_sha(script): script for script in (_CLAIM, _RELEASE, _BEGIN)}
_CLAIM_SHA, _RELEASE_SHA, _BEGIN_SHA = _SOURCES


def _joined(phones: Sequence[str]) -> str:
    """The phones as one argument (a phone with a line break would shift the rest)."""
    text = "\n".join(phones)
    if text.count("\n") != len(phones) - 1:
        raise ValueError("a phone number holds a line break")
    return text


def _line_free(owner: str) -> str:
    if "\n" in owner:
        raise ValueError("an owner name holds a line break")
    return owner


def _group(owner: str, outcomes: Sequence[Outcome]) -> bytes:
    """One record's outcomes as one argument (see ``_CLAIM``)."""
    fast = _all_sent(outcomes)
    phones: Sequence[str]
    details: Sequence[str]
    if fast is not None:
        phones, details = fast
        marks = "S" * len(phones)
    else:
        phones, states, details = zip(*outcomes, strict=True)
        marks = "".join(map(_MARK_OF.__getitem__, states))
    text = "\n".join(details)
    if text.count("\n") == len(phones) - 1:
        text = "=" + text
    else:  # a detail holds a line break: escape every detail
        text = "e" + "\n".join(d.replace("\\", "\\\\").replace("\n", "\\n") for d in details)
    group = f"{_line_free(owner)}\n{marks}\n{_joined(phones)}\n{text}"
    # A lone surrogate (a gateway's broken JSON escape) cannot be UTF-8: "?" instead.
    return group.encode("utf-8", "replace")


def _all_sent(outcomes: Sequence[Outcome]) -> tuple[list[str], Sequence[str]] | None:
    """(phones, message ids) when ``outcomes`` are a request's result whose every number
    was sent (:class:`ResultOutcomes`), read from the result's dicts without an
    :class:`Outcome` per number; else ``None``."""
    if not isinstance(outcomes, ResultOutcomes):
        return None
    result = outcomes.result
    if len(result.sent) != len(outcomes.phones) or result.failed or result.unknown:
        return None
    ids = outcomes.message_ids()
    if None in ids:
        return None
    return outcomes.phones, cast("list[str]", ids)


def _ungroup(queued: Sequence[bytes]) -> list[tuple[str, str, str]]:
    """(phone, mark, detail) of every outcome in ``queued`` groups (to log them)."""
    out: list[tuple[str, str, str]] = []
    for group in queued:
        _, marks, rest = group.decode("utf-8", "replace").split("\n", 2)
        lines = rest.split("\n", len(marks))
        text = lines.pop() if len(lines) > len(marks) else "="
        details = text[1:].split("\n")
        if text[:1] == "e":
            details = [_unescape(d) for d in details]
        out.extend(zip(lines, marks, details, strict=False))
    return out


def _unescape(detail: str) -> str:
    return _ESCAPED.sub(lambda m: "\n" if m[1] == "n" else m[1], detail)


_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


async def _no_claim() -> Claim:
    return Claim()


def _sort(phones: list[str], answers: Any, now: float) -> Claim:
    """The claim script's answer, number by number."""
    claim = Claim()
    if isinstance(answers, int):  # every number was new (so none repeated)
        claim.fresh = phones
        return claim
    seen: set[str] = set()
    for phone, raw in zip(phones, answers, strict=True):
        if phone in seen:  # a repeat: the first one tells
            continue
        seen.add(phone)
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


_Waiting = tuple["asyncio.Future[Claim]", list[str], float, bytes]
"""A claim not yet sent: its future, phones, clock and argument."""


class _Key:
    """One journal key: its Redis names (built once), its queued outcomes, and the
    claims waiting for the batch in flight."""

    __slots__ = (
        "claim_head",
        "due",
        "flushers",
        "key",
        "queue",
        "release_head",
        "sending",
        "timer",
        "waiting",
    )

    def __init__(self, key: str, prefix: str) -> None:
        entries, meta = f"{prefix}e:{key}", f"{prefix}m:{key}"
        self.key = key
        self.claim_head = (entries, meta, f"{prefix}owners", f"{prefix}keys", key)
        self.release_head = (entries, meta)
        self.waiting: list[_Waiting] = []
        self.queue: list[bytes] = []  # outcome groups, oldest first
        self.timer: asyncio.TimerHandle | None = None
        self.due = False  # write the queue even without a claim to carry it
        self.flushers: list[asyncio.Future[None]] = []  # settled by the next batch's end
        self.sending: asyncio.Task[None] | None = None  # the batch in flight

    @property
    def busy(self) -> bool:
        return bool(self.queue or self.waiting or self.sending or self.timer)


_KEYS_KEPT = 1024
"""Keys whose Redis names a journal keeps built (idle ones are dropped beyond it)."""

_MOST_CLAIMS = 32
"""Claims in one batch at most (3,200 numbers: the script keeps Redis busy ~ms)."""


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

    What a request costs the client: a share of one ``EVALSHA``. Claims of a key
    go out in batches, one batch in flight at a time: the claims that arrive while
    one is in flight leave together, as one ``EVALSHA`` whose script runs them in
    order (as many separate claims would run), each claim one argument (its numbers
    joined). :meth:`record` only queues the outcomes (no Redis call, no task: it
    returns a resolved future); the key's next batch carries them and its script
    writes them before the claims. What no claim carries within ``FLUSH_AFTER``
    (0.05 s) is written by a timer; :meth:`finish` and every read (:meth:`load`,
    :meth:`started`, :meth:`summary`, :meth:`purge`) write what is queued first. A
    crash meanwhile leaves those numbers *started*: reported ``unknown`` later, never
    sent again. A claim whose caller is cancelled before its batch leaves is not
    sent; a batch in flight runs to its end whatever its callers do (a cancelled
    caller's numbers stay started, as a crash would leave them). A batch that fails
    fails its claims and puts its outcomes back in the queue: written twice, an
    outcome changes nothing, as a number is written only while its owner started it
    (unless that owner claimed the number again meanwhile, after a failure: only a
    send that repeats numbers does). A timer's write that fails is logged (numbers
    masked) and its outcomes dropped, as a failed record always was.

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

    async def _eval(self, sha: str, keys: int, args: Sequence[Any]) -> Any:
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

        Returns a future: the claim goes out with the key's next batch (at once when
        none is in flight). A caller cancelled meanwhile does not stop the batch.
        """
        phones = list(phones)  # a repeat is answered as held by the owner: dropped then
        if not phones:
            return _no_claim()
        k = self._keys.get(key) or self._key(key)
        now = self._clock()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Claim] = loop.create_future()
        argument = f"{_line_free(owner)}\n{now + lease!r}\n{_joined(phones)}".encode()
        k.waiting.append((future, phones, now, argument))
        self._send(k)
        return future

    def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> asyncio.Future[None]:
        """Queue the outcomes (see the class): returns an already resolved future."""
        loop = asyncio.get_running_loop()
        if outcomes:
            k = self._keys.get(key) or self._key(key)
            k.queue.append(_group(owner, outcomes))
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
            k.due = True
            self._send(k)

    def _send(self, k: _Key) -> None:
        """Start sending ``k``'s batches unless a batch is in flight."""
        loop = asyncio.get_running_loop()
        if k.sending is None or k.sending.get_loop() is not loop:  # (a loop run before)
            k.sending = loop.create_task(self._batches(k))

    async def _batches(self, k: _Key) -> None:
        """Send ``k``'s batches, one at a time, while claims wait or outcomes are due."""
        try:
            while k.waiting or k.flushers or (k.queue and k.due):
                await self._batch(k)
        finally:
            k.sending = None

    async def _batch(self, k: _Key) -> None:
        """One EVALSHA: the queued outcomes, then the waiting claims."""
        waiting = k.waiting
        if len(waiting) > _MOST_CLAIMS:
            waiting, k.waiting = waiting[:_MOST_CLAIMS], waiting[_MOST_CLAIMS:]
        else:
            k.waiting = []
        claims = [w for w in waiting if not w[0].done()]  # a cancelled caller: not sent
        queued, k.queue = k.queue, []
        flushers, k.flushers = k.flushers, []
        k.due = False
        if claims or queued:
            args: list[Any] = [*k.claim_head, repr(self._clock()), self._ttl_ms, len(claims)]
            args += [w[3] for w in claims]
            args += queued
            try:
                answers = await self._eval(_CLAIM_SHA, 5, args)
            except Exception as exc:  # every caller of the batch gets it
                self._failed(k, claims, queued, flushers, exc)
                return
            except BaseException:  # cancelled (the loop is closing): not known as written
                self._put_back(k, queued)
                for w in claims:
                    w[0].cancel()
                for flusher in flushers:
                    flusher.cancel()
                raise
            if not isinstance(answers, list) or len(answers) != len(claims):
                answers = [answers] * len(claims)  # not an answer per claim: each fails
            for (future, phones, now, _), answer in zip(claims, answers, strict=True):
                if not future.done():
                    try:
                        future.set_result(_sort(phones, answer, now))
                    except Exception as exc:  # an answer it cannot read
                        future.set_exception(exc)
        for flusher in flushers:
            if not flusher.done():
                flusher.set_result(None)

    def _failed(
        self,
        k: _Key,
        claims: list[_Waiting],
        queued: list[bytes],
        flushers: list[asyncio.Future[None]],
        exc: Exception,
    ) -> None:
        """A batch failed: its claims raise; its outcomes go back to the queue, or are
        logged and dropped when only the timer wanted them written."""
        from redis.exceptions import RedisError  # noqa: PLC0415 - redis is an optional extra

        def error(what: str) -> Exception:
            if isinstance(exc, RedisError):
                return JournalError(f"the Redis journal failed to {what}: {exc}")
            return exc

        for future, *_ in claims:
            if not future.done():
                future.set_exception(error("claim numbers"))
        for flusher in flushers:
            if not flusher.done():
                flusher.set_exception(error("record outcomes"))
        if claims or flushers:
            self._put_back(k, queued)
            return
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
            exc_info=not isinstance(exc, RedisError),
        )

    def _put_back(self, k: _Key, queued: list[bytes]) -> None:
        """Queue outcomes again after a failed write.

        After the outcomes queued since: if that write did reach Redis and a number it
        failed was claimed again by its owner, a later outcome of the number must land
        first (the old one then changes nothing).
        """
        if queued:
            k.queue += queued
            if k.timer is None:
                k.timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self._due, k)

    async def _settle(self, k: _Key) -> None:
        """Write ``k``'s queued outcomes and wait for its batch in flight."""
        if not (k.queue or k.sending):
            return
        flusher: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        k.flushers.append(flusher)
        self._send(k)
        await flusher

    async def _settle_all(self) -> None:
        for k in list(self._keys.values()):
            await self._settle(k)

    async def finish(self, key: str, owner: str) -> None:
        """Write the key's queued outcomes (every owner's) and wait for its batch in
        flight.

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
        if k is not None:
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
