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

import uuid
from decimal import Decimal

import pytest

from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

from ._fleet import run_fleet
from ._redis_support import TEST_HORIZON, RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.loopback, pytest.mark.slow]

CAP = 9
REQUESTS = 36  # four seconds at the cap: long enough that the first second is a quarter


@pytest.mark.parametrize("processes", [2, 4, 8])
async def test_a_cold_fleet_holds_the_cap_at_the_server_from_the_first_request(
    redis_server: RedisServer, processes: int
) -> None:
    """N fresh processes on one token: densest window <= 9, no 429, >= 95 % of the cap."""
    token = f"fleet-{processes}-{uuid.uuid4().hex}"
    sandbox = Sandbox(SandboxConfig(rate_limit=CAP, balance=Decimal(10**7)))
    phones = [f"38067{i:07d}" for i in range(REQUESTS * 100)]
    async with serve(sandbox) as server:
        run = await run_fleet(
            redis_url=redis_server.url,
            base_url=server.url,
            token=token,
            processes=processes,
            phones=phones,
            rate=CAP,
            limiter_options={"horizon": TEST_HORIZON},
        )
    stats = sandbox.stats(token)
    accepted = sorted(a.at for a in stats.arrivals if a.status == 200)
    combined = (len(accepted) - 1) / (accepted[-1] - accepted[0])
    first_second = [a.at for a in stats.arrivals if a.at < stats.arrivals[0].at + 1.0]
    print(
        f"{processes} processes: {stats.count} arrivals, densest {stats.densest_window()},"
        f" 429s {stats.rate_limited}, combined {combined:.3f}/s ({combined / CAP:.1%}),"
        f" first second {len(first_second)}, late slots {run.total('late_slots')},"
        f" reports {run.total('reports')}"
    )
    assert stats.rate_limited == 0
    assert stats.densest_window() <= CAP
    assert run.total("sent") == len(phones)
    assert run.total("failed") == 0
    assert combined >= 0.95 * CAP
