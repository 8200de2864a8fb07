"""The Lua script behind :class:`smsclub_async.redis.RedisLimiter`.

One call reserves the next free slot of a token and says how long to wait for it.
All times are integer microseconds on the Redis server's clock (``TIME``), so the
clocks of the hosts that share a token never matter.

``KEYS[1]`` is a hash that holds the token's schedule:

* ``tat``: the theoretical arrival time, the earliest moment the next slot may take;
* ``seen``: the Redis time of the last reservation (to notice a clock stepped back).

``ARGV[1]`` is the interval between slots, ``ARGV[2]`` the horizon (the furthest ahead
a slot may be reserved). The reply is ``{1, wait, now}`` when a slot was reserved
``wait`` microseconds after ``now`` (Redis's clock when the script ran), or
``{0, wait, now}`` when nothing was reserved because the next free slot lies beyond
the horizon; the caller then asks again in ``wait``. ``now`` lets the caller map
Redis's clock onto its own, so that a reply held up on its way back does not make it
late for its slot.

Three guards:

* Redis's clock stepped back (a ``seen`` later than now): the schedule moves back by
  the same step, so the token is not stalled for the length of the step.
* Redis restarted and lost (or reloaded a stale copy of) the schedule, while callers
  are still sleeping towards slots reserved before the crash: those slots lie at most
  one horizon after the crash, so for one horizon after the server started no slot is
  granted. The start time comes from ``INFO server`` (``uptime_in_seconds``, whole
  seconds, hence the extra second). If ``INFO`` is unavailable the guard is skipped.
* The key expires once its schedule is in the past, so an idle token leaves nothing.

Numbers are formatted with ``%.0f`` before they are stored: Lua 5.1 turns large
numbers into strings with 14 significant digits, which would round microsecond
timestamps (16 digits).
"""

from __future__ import annotations

__all__ = ["RESERVED", "RESERVE_SCRIPT", "SECOND_US"]

SECOND_US = 1_000_000
"""Microseconds per second: the script's unit of time."""

RESERVED = 1
"""First element of the script's reply when a slot was reserved."""

RESERVE_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end

local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local state = redis.call('HMGET', KEYS[1], 'tat', 'seen')
local tat = tonumber(state[1]) or 0
local seen = tonumber(state[2]) or now
if now < seen then
  tat = tat - (seen - now)
end

local slot = now
if tat > slot then slot = tat end

local ok, info = pcall(redis.call, 'INFO', 'server')
if ok and type(info) == 'string' then
  local uptime = tonumber(string.match(info, 'uptime_in_seconds:(%d+)'))
  if uptime then
    local quarantine_end = now + horizon + 1000000 - uptime * 1000000
    if quarantine_end > slot then slot = quarantine_end end
  end
end

if slot - now > horizon then
  return {0, slot - now - horizon, now}
end

local next_tat = slot + interval
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', next_tat),
           'seen', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil((next_tat - now) / 1000) + 1000))
return {1, slot - now, now}
"""
