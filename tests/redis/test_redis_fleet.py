"""Issue 14 end to end: a cold fleet of 2, 4 and 8 processes on one token holds the cap
as the server sees it, from the first request.

The workers are fresh processes with fresh clients (no connection to Redis or to the
server before the start), sending at once through ``SmsClub(limiter=RedisLimiter)``
to the sandbox on a loopback socket, whose strict check answers 429 to any request
that would put 10 in a one-second window. What is judged is the server's record:

* no 429 and no window over 9, *first second included* (that is where cold
  connections made arrivals jitter by +-20 ms and ten fit in a second);
* the combined rate, (n - 1) / span of the accepted arrivals from the first to the
  last, at least 95 % of the cap: the limiter sustains 9 / 1.008 = 8.93/s (99.2 %),
  so 4 % of the cap (about 40 ms per second) is left for what a cold start costs
  (late first requests push the schedule by their lateness, once) and for wake-ups
  a busy 2-core machine delays past the point where a slot is forfeited;
* every recipient sent, none failed.

The margins are the limiter's design, not fitted to a run: 9 in a window is the cap,
95 % is the issue's goal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from decimal import Decimal

import pytest

from smsclub_async.sandbox import Arrival, Sandbox, SandboxConfig, SandboxStats, serve

from ._fleet import FleetRun, run_fleet
from ._redis_support import TEST_HORIZON, RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.loopback, pytest.mark.slow]

CAP = 9
# Six seconds at the cap. A cold start costs a fixed amount once (the slowest first
# request, measured 45-180 ms late on a busy 2-core machine, pushes the schedule by its
# lateness), which a run this long keeps within the 4 % left below the goal.
REQUESTS = 54


# The judge is a Python server on the same busy cores: when its process is not
# scheduled, requests wait in its socket and are stamped together when it wakes
# (measured at load 6-7 on 2 cores: two requests 112 ms apart stamped 1.4 ms apart).
# A heartbeat on its loop records such stalls. A 429 proves nothing when the first
# arrival of its window was stamped at the end of a stall long enough that it may have
# come in more than a second before the refused one: the run is then repeated (at most
# ATTEMPTS runs). Any other 429 fails the test at once.
HEARTBEAT = 0.002
STALL = 0.004  # shorter stalls are not recorded: half the default margin
ATTEMPTS = 3


@pytest.mark.parametrize("processes", [2, 4, 8])
async def test_a_cold_fleet_holds_the_cap_at_the_server_from_the_first_request(
    redis_server: RedisServer, processes: int
) -> None:
    """N fresh processes on one token: densest window <= 9, no 429, >= 95 % of the cap."""
    for attempt in range(1, ATTEMPTS + 1):
        token = f"fleet-{processes}-{uuid.uuid4().hex}"
        stats, run, stalls = await _one_run(redis_server, token, processes)
        refused = [a.at for a in stats.arrivals if a.status == 429]
        void = bool(refused) and all(_explained_by_stall(at, stats, stalls) for at in refused)
        accepted = sorted(a.at for a in stats.arrivals if a.status == 200)
        combined = (len(accepted) - 1) / (accepted[-1] - accepted[0])
        first_second = [a.at for a in stats.arrivals if a.at < stats.arrivals[0].at + 1.0]
        print(
            f"{processes} processes, run {attempt}: {stats.count} arrivals, densest"
            f" {stats.densest_window()}, 429s {stats.rate_limited}, combined"
            f" {combined:.3f}/s ({combined / CAP:.1%}), first second {len(first_second)},"
            f" late slots {run.total('late_slots')}, reports {run.total('reports')},"
            f" judge stalls > {STALL * 1e3:g} ms: {len(stalls)}{' (void)' if void else ''}"
        )
        if not void:
            break
    assert not void, f"the judge stalled in every one of {ATTEMPTS} runs"
    assert stats.rate_limited == 0, _around_refusals(stats.arrivals)
    assert stats.densest_window() <= CAP
    assert run.total("sent") == REQUESTS * 100
    assert run.total("failed") == 0
    assert combined >= 0.95 * CAP


async def _one_run(
    redis_server: RedisServer, token: str, processes: int
) -> tuple[SandboxStats, FleetRun, list[tuple[float, float]]]:
    """One cold fleet against a fresh judge; its record, the workers', the judge's stalls."""
    sandbox = Sandbox(SandboxConfig(rate_limit=CAP, balance=Decimal(10**7)))
    phones = [f"38067{i:07d}" for i in range(REQUESTS * 100)]
    stalls: list[tuple[float, float]] = []

    async def heartbeat() -> None:
        before = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT)
            now = time.monotonic()
            if now - before > HEARTBEAT + STALL:
                stalls.append((before, now))
            before = now

    async with serve(sandbox) as server:
        beating = asyncio.create_task(heartbeat())
        try:
            run = await run_fleet(
                redis_url=redis_server.url,
                base_url=server.url,
                token=token,
                processes=processes,
                phones=phones,
                rate=CAP,
                limiter_options={"horizon": TEST_HORIZON},
            )
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
    return sandbox.stats(token), run, stalls


def _explained_by_stall(
    refused_at: float, stats: SandboxStats, stalls: list[tuple[float, float]]
) -> bool:
    """Whether the judge's stall may have stamped the window's first arrival too late."""
    first = min(a.at for a in stats.arrivals if refused_at - 1.0 <= a.at <= refused_at)
    short_by = 1.0 - (refused_at - first)  # how much later than true it must have been
    return any(
        begin < first <= end + HEARTBEAT and first - begin >= short_by for begin, end in stalls
    )


def _around_refusals(arrivals: tuple[Arrival, ...]) -> str:
    """The arrivals of the second before each 429, in ms from the first of them."""
    lines = []
    for refused in (a for a in arrivals if a.status == 429):
        window = [a for a in arrivals if refused.at - 1.0 <= a.at <= refused.at]
        lines.append(" ".join(f"{(a.at - window[0].at) * 1e3:.1f}:{a.status}" for a in window))
    return "; ".join(lines)
