"""Fixtures for the gateway tests: manual clocks, the two emulators, clients wired to them."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from smsclub_async.gateways import (
    SMSC_READ_RETRY,
    SMSC_SEND_RETRY,
    SMSTELE_READ_RETRY,
    SMSTELE_SEND_RETRY,
    SmscClient,
    SmsteleClient,
)
from smsclub_async.sandbox import ManualClock
from smsclub_async.sandbox.gateways import (
    GatewayTransport,
    SmscConfig,
    SmscSandbox,
    SmsteleConfig,
    SmsteleSandbox,
)

SMSC_URL = "https://smsc.kz"
REX_URL = "https://rexsmsc.rex400.ru:8882"
REX_LOGIN = "test:http"
REX_PASSWORD = "~test123"

SMSC_READ = dataclasses.replace(SMSC_READ_RETRY, wait=False)
SMSC_SEND = dataclasses.replace(SMSC_SEND_RETRY, wait=False)
REX_READ = dataclasses.replace(SMSTELE_READ_RETRY, wait=False)
REX_SEND = dataclasses.replace(SMSTELE_SEND_RETRY, wait=False)


@pytest.fixture
def login() -> str:
    """An SMSC login no other test uses (so the shared in-flight limiter starts empty)."""
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def password() -> str:
    """A password with characters that percent-encoding changes."""
    return "s3cr&t pass/+word"


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock(1000.0)


@pytest.fixture
def smsc_sandbox(clock: ManualClock, login: str, password: str) -> SmscSandbox:
    """An SMSC emulator that knows ``login``/``password`` and an API key ``key-1``."""
    config = SmscConfig(accounts={login: password}, api_keys={"key-1": login})
    return SmscSandbox(config, clock=clock)


def smsc_client(sandbox: SmscSandbox, login: str, password: str, **kwargs: object) -> SmscClient:
    """An SmscClient on ``sandbox`` with waits off."""
    kwargs.setdefault("retry", SMSC_READ)
    kwargs.setdefault("send_retry", SMSC_SEND)
    return SmscClient(login, password, transport=GatewayTransport(sandbox), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def smsc(smsc_sandbox: SmscSandbox, login: str, password: str) -> AsyncIterator[SmscClient]:
    """An SmscClient wired to ``smsc_sandbox``, closed after the test."""
    async with smsc_client(smsc_sandbox, login, password) as client:
        yield client


@pytest.fixture
def rex_sandbox(clock: ManualClock) -> SmsteleSandbox:
    """A REX400 emulator with the document's test account."""
    return SmsteleSandbox(SmsteleConfig(), clock=clock)


def rex_client(sandbox: SmsteleSandbox, **kwargs: object) -> SmsteleClient:
    """An SmsteleClient on ``sandbox`` with waits off."""
    kwargs.setdefault("retry", REX_READ)
    kwargs.setdefault("send_retry", REX_SEND)
    return SmsteleClient(
        REX_LOGIN,
        REX_PASSWORD,
        transport=GatewayTransport(sandbox),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
async def rex(rex_sandbox: SmsteleSandbox) -> AsyncIterator[SmsteleClient]:
    """An SmsteleClient wired to ``rex_sandbox``, closed after the test."""
    async with rex_client(rex_sandbox) as client:
        yield client
