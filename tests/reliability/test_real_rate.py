"""Issue 3 end to end: a faulty bulk send at the real 9/s rate, over a loopback socket.

The default client limiter against the sandbox's strict default check (9 arrivals in
any one-second window): no 429, and every recipient accounted for exactly once.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from smsclub_async import RetryPolicy, SendResult, SmsClub, SmsClubError
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, serve

from .campaign import check_invariants, make_recipients

pytestmark = [pytest.mark.loopback, pytest.mark.slow]

RECIPIENTS = 2_000


async def test_faulty_bulk_send_at_the_real_rate_accounts_for_everyone_without_a_429() -> None:
    """2,000 recipients (20 requests plus retries, about 3 s at 9/s) with 5xx before and
    after processing and dropped connections before and after: exactly-once accounting by
    the sandbox's own record, and the sandbox never had to answer 429."""
    token = f"real-rate-{uuid.uuid4().hex}"
    people = make_recipients(RECIPIENTS, seed=3)
    faults = Faults(seed=3, error_before=0.05, error_after=0.05, drop_before=0.05, drop_after=0.05)
    # Each kind at least once, whatever the draw.
    faults.script(["error_before", "error_after", None, "drop_before", "drop_after"])
    sandbox = Sandbox(SandboxConfig(balance=Decimal(10**6)), faults=faults)  # rate_limit=9
    assert sandbox.config.rate_limit == 9
    sandbox.add_blacklist(*people.blacklist)

    async with (
        serve(sandbox) as server,
        SmsClub(
            token=token,
            base_url=server.url,  # the default rate_limit: 9/s
            send_retry=RetryPolicy(attempts=5, backoff=0.05, max_backoff=0.2),
        ) as sms,
    ):
        try:
            result = await sms.send(people.raw, "issue 3", sender="VashZakaz")
        except SmsClubError as exc:
            result = exc.partial
        assert isinstance(result, SendResult)
        client_stats = sms.stats

    assert check_invariants(people.expected, result, sandbox, token) == []
    stats = sandbox.stats(token)
    assert stats.rate_limited == 0, stats.as_json()
    assert client_stats.rate_limited == 0
    assert stats.densest_window() <= 9
    assert set(stats.faults) == {"error_before", "error_after", "drop_before", "drop_after"}
    assert stats.count >= RECIPIENTS // 100 + 4  # 20 requests and at least one retry per fault
    # Only the blacklisted and the invalid numbers failed; lost answers made unknowns.
    assert set(result.failed) <= {*people.blacklist, *(p for p in people.raw if "bad" in p)}
