"""Fixtures for the sandbox tests: a manual clock, a sandbox, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, Sandbox, SandboxConfig, SandboxTransport

TOKEN = "test-token"
BASE_URL = "https://im.smsclub.mobi"


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock(1000.0)


@pytest.fixture
def sandbox(clock: ManualClock) -> Sandbox:
    """A default sandbox on the manual clock, without the rate limit.

    With a clock that stands still every request arrives at the same instant,
    so the tests of the rate limit make their own sandbox.
    """
    return Sandbox(SandboxConfig(rate_limit=None), clock=clock)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to ``sandbox`` in process, authenticated with TOKEN."""
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as http:
        yield http
