"""The Lua scripts behind :class:`smsclub_async.redis.RedisLimiter`.

All times are integer microseconds on the Redis server's clock (``TIME``), so the
clocks of the hosts that share a token never matter. Two keys per token:

* ``KEYS[1]``, a hash, the token's schedule:

  - ``tat``: the theoretical arrival time, the earliest moment the next slot may take;
  - ``seen``: the Redis time of the last reservation (to notice a clock stepped back);
  - ``seq``: the number of the last slot granted (names the claims);
  - ``budget``, ``budget_at``: the high lane's budget (units) and when it was counted.

* ``KEYS[2]``, a sorted set, the *claims*: the ``rate`` latest moments the token's
  requests reach (or may reach) the gateway, one per granted slot (member: the
  slot's number, score: its time). A slot's claim starts at the slot itself; when
  its request reaches the wire later than that (a cold connection, a busy loop),
  :data:`REPORT_SCRIPT` moves the claim to the real wire time. A new slot is never
  granted less than ``window`` after the ``rate``-th latest claim, so a request that
  went out late pushes the slots granted after it hears of it: the cap holds as the
  server sees it, not only as the schedule says.

:data:`RESERVE_SCRIPT`: ``ARGV`` = interval, normal horizon, high horizon, window,
rate, lane (``1`` high, ``0`` normal), high burst (units), high refill (units per
microsecond). The reply is ``{1, wait, now, seq}`` when slot ``seq`` was reserved
``wait`` microseconds after ``now`` (Redis's clock when the script ran), or
``{0, wait, now, 0}`` when nothing was reserved because the next free slot lies
beyond the lane's horizon; the caller then asks again in ``wait``. ``now`` lets the
caller map Redis's clock onto its own, so that a reply held up on its way back does
not make it late for its slot.

Lanes: a normal request is granted a slot at most ``normal horizon`` ahead (a couple
of intervals); a high request up to ``high horizon``, so it takes the next free slot
after those already granted, ahead of every normal request still asking. Going
ahead (needing more than the normal horizon) spends one unit of the high budget; with
the budget empty a high request is held to the normal horizon like any other.

Guards:

* Redis's clock stepped back (a ``seen`` later than now): the schedule moves back by
  the same step and the claims are forgotten, so the token is not stalled.
* Redis restarted and lost (or reloaded a stale copy of) the schedule, while callers
  are still sleeping towards slots reserved before the crash: those slots lie at most
  one horizon after the crash, so for one horizon after the server started no slot is
  granted. The start time comes from ``INFO server`` (``uptime_in_seconds``, whole
  seconds, hence the extra second). If ``INFO`` is unavailable the guard is skipped.
* The keys expire once the schedule is in the past, so an idle token leaves nothing.

Numbers are formatted with ``%.0f`` before they are stored: Lua 5.1 turns large
numbers into strings with 14 significant digits, which would round microsecond
timestamps (16 digits).
"""

from __future__ import annotations

__all__ = ["REPORT_SCRIPT", "RESERVED", "RESERVE_SCRIPT", "SECOND_US"]

SECOND_US = 1_000_000
"""Microseconds per second: the scripts' unit of time."""

RESERVED = 1
"""First element of the reservation's reply when a slot was reserved."""

RESERVE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end

local interval = tonumber(ARGV[1])
local horizon_normal = tonumber(ARGV[2])
local horizon_high = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local rate = tonumber(ARGV[5])
local high = ARGV[6] == '1'
local burst = tonumber(ARGV[7])
local refill = tonumber(ARGV[8])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local state = redis.call('HMGET', KEYS[1], 'tat', 'seen', 'seq', 'budget', 'budget_at')
local tat = tonumber(state[1]) or 0
local seen = tonumber(state[2]) or now
local seq = tonumber(state[3]) or 0
local budget = tonumber(state[4]) or burst
local budget_at = tonumber(state[5]) or now
if now < seen then
  tat = tat - (seen - now)
  budget_at = now
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat), 'seen', string.format('%.0f', now))
end
if now > budget_at then
  budget = math.min(burst, budget + (now - budget_at) * refill)
end

local slot = now
if tat > slot then slot = tat end

local claims = redis.call('ZREVRANGE', KEYS[2], rate - 1, rate - 1, 'WITHSCORES')
if claims[2] then
  local bound = tonumber(claims[2]) + window
  if bound > slot then slot = bound end
end

local ok, info = pcall(redis.call, 'INFO', 'server')
if ok and type(info) == 'string' then
  local uptime = tonumber(string.match(info, 'uptime_in_seconds:(%d+)'))
  if uptime then
    local quarantine_end = now + horizon_high + 1000000 - uptime * 1000000
    if quarantine_end > slot then slot = quarantine_end end
  end
end

local horizon = horizon_normal
if high and budget >= 1 then horizon = horizon_high end
if slot - now > horizon then
  return {0, slot - now - horizon, now, 0}
end
if slot - now > horizon_normal then budget = budget - 1 end

seq = seq + 1
local next_tat = slot + interval
local ttl = string.format('%.0f', math.ceil((next_tat + window - now) / 1000) + 1000)
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', next_tat),
           'seen', string.format('%.0f', now), 'seq', string.format('%.0f', seq),
           'budget', string.format('%.6f', budget), 'budget_at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', slot), string.format('%.0f', seq))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(rate + 1))
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, slot - now, now, seq}
"""

REPORT_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end

local member = ARGV[1]
local wire = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local current = tonumber(redis.call('ZSCORE', KEYS[1], member))
if current and current >= wire then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.0f', wire), member)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(rate + 1))
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ttl = redis.call('PTTL', KEYS[1])
local wanted = math.ceil((wire + window - now) / 1000) + 1000
if ttl < wanted then redis.call('PEXPIRE', KEYS[1], string.format('%.0f', wanted)) end
return 1
"""
"""Move a slot's claim (``ARGV[1]``, its number) to a later wire time (``ARGV[2]``).

``KEYS[1]`` is the claims set; ``ARGV[3]`` the rate, ``ARGV[4]`` the window. An
earlier time than the claim's is ignored (a claim only ever moves later). A claim
already dropped from the set (it is older than the ``rate`` latest) is added back if
it is now among them.
"""
