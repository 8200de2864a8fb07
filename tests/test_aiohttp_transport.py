"""The [aiohttp] extra: SmsClub over httpx-aiohttp's transport, against a loopback sandbox."""

from __future__ import annotations

import pytest

from smsclub_async import SmsClub
from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

httpx_aiohttp = pytest.importorskip("httpx_aiohttp")


async def test_bulk_send_over_aiohttp_holds_the_cap_without_trace_events() -> None:
    """No httpcore trace events on this transport: the limiter logs completions,
    and the server still never sees more than the cap in a second."""
    sandbox = Sandbox(SandboxConfig(rate_limit=30, balance=10**6))
    async with (
        serve(sandbox) as server,
        SmsClub(
            token="aiohttp-transport",
            base_url=server.url,
            transport=httpx_aiohttp.AiohttpTransport(),
            rate_limit=30,
        ) as sms,
    ):
        phones = [f"38098{i:07d}" for i in range(6_000)]
        result = await sms.send(phones, "hi", sender="VashZakaz")
    stats = sandbox.stats()
    assert len(result.sent) == 6_000
    assert stats.rate_limited == 0
    assert stats.densest_window() <= 30
