"""A pytest plugin: sandbox gateways and clients on them, as fixtures.

Installed with ``smsclub-async`` and registered through the ``pytest11`` entry
point, so nothing needs importing. Each test gets a fresh emulator and a client
wired to it in process (no socket):

=====================  ======================================================
fixture                what it is
=====================  ======================================================
``smsclub_sandbox``    a fresh :class:`~smsclub_async.sandbox.Sandbox`
``smsclub_client``     an :class:`~smsclub_async.SmsClub` on it
``smsc_sandbox``       a fresh :class:`~smsclub_async.sandbox.gateways.SmscSandbox`
``smsc_client``        an :class:`~smsclub_async.SmscClient` on it
``smstele_sandbox``    a fresh :class:`~smsclub_async.sandbox.gateways.SmsteleSandbox`
``smstele_client``     an :class:`~smsclub_async.SmsteleClient` on it
=====================  ======================================================

Defaults made for tests: each sandbox runs on its own
:class:`~smsclub_async.sandbox.ManualClock` (``sandbox.clock.advance(60)``
moves deliveries along; nothing sleeps), the SMS Club sandbox's rate limit is
off (a clock that stands still would see every request at one instant), and
the clients' retries do not wait. Fault injection is the sandbox's
``faults`` (``smsclub_sandbox.faults.script(["drop_after"])``); a marker of
the fixture's name passes constructor arguments instead of the defaults::

    @pytest.mark.smsclub_sandbox(faults=Faults(error_after=0.5), config=SandboxConfig())
    async def test_retries(smsclub_client): ...

The client fixtures are async and declared with ``pytest_asyncio.fixture``, so
they work in pytest-asyncio's strict mode (mark the tests ``@pytest.mark.asyncio``)
and in auto mode. Without pytest-asyncio installed, the sandbox fixtures still
work and the client fixtures say what to install.
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from . import SmsClub
from .gateways import SmscClient, SmsteleClient
from .sandbox import ManualClock, Sandbox, SandboxConfig, SandboxTransport
from .sandbox.gateways import GatewayTransport, SmscSandbox, SmsteleSandbox

__all__ = [
    "smsc_client",
    "smsc_sandbox",
    "smsclub_client",
    "smsclub_sandbox",
    "smstele_client",
    "smstele_sandbox",
]

#: The token the ``smsclub_client`` fixture presents (the sandbox accepts any).
SMSCLUB_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox accepts any token
#: The SMSC password the ``smsc_client`` fixture presents when any is accepted.
SMSC_PASSWORD = "sandbox-password"  # noqa: S105 - an emulator account
#: The client limiter's rate: the sandbox's own rate limit is off by default.
CLIENT_RATE = 1_000

_MARKERS = {
    "smsclub_sandbox": "smsclub_sandbox(**kwargs): arguments for this test's Sandbox(...)",
    "smsc_sandbox": "smsc_sandbox(**kwargs): arguments for this test's SmscSandbox(...)",
    "smstele_sandbox": "smstele_sandbox(**kwargs): arguments for this test's SmsteleSandbox(...)",
}

_Fixture = TypeVar("_Fixture", bound=Callable[..., Any])

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - exercised only without the dev extra
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers (pytest runs with ``--strict-markers`` in many projects)."""
    for line in _MARKERS.values():
        config.addinivalue_line("markers", line)


def _arguments(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker is not None else {}


def _without_waits(client: Callable[..., Any]) -> dict[str, Any]:
    """The client's default retry policies (``retry``, ``send_retry``) without their sleeps."""
    parameters = inspect.signature(client).parameters
    policies: dict[str, Any] = {}
    for name in ("retry", "send_retry"):
        policy = parameters[name].default if name in parameters else None
        if (
            dataclasses.is_dataclass(policy)
            and not isinstance(policy, type)
            and any(f.name == "wait" for f in dataclasses.fields(policy))
        ):
            policies[name] = dataclasses.replace(policy, wait=False)
    return policies


def _async_fixture(function: _Fixture) -> _Fixture:
    """``pytest_asyncio.fixture`` (strict mode needs it), or a fixture that explains."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)  # type: ignore[return-value]

    @pytest.fixture(name=function.__name__)
    def missing() -> None:
        pytest.fail(
            f"the {function.__name__} fixture needs pytest-asyncio: pip install pytest-asyncio"
        )

    return missing  # type: ignore[return-value,unused-ignore]


# ----------------------------------------------------------------- SMS Club


@pytest.fixture
def smsclub_sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """A fresh SMS Club sandbox on a manual clock, its rate limit off.

    ``@pytest.mark.smsclub_sandbox(config=..., tokens=..., clock=..., faults=...)``
    replaces the defaults.
    """
    arguments = _arguments(request, "smsclub_sandbox")
    arguments.setdefault("config", SandboxConfig(rate_limit=None))
    arguments.setdefault("clock", ManualClock())
    return Sandbox(**arguments)


@_async_fixture
async def smsclub_client(smsclub_sandbox: Sandbox) -> AsyncIterator[SmsClub]:
    """An :class:`~smsclub_async.SmsClub` on ``smsclub_sandbox``, in process, closed after."""
    async with SmsClub(
        # A token per test: the client shares its limiter per token.
        token=f"{SMSCLUB_TOKEN}-{uuid.uuid4().hex[:12]}",
        transport=SandboxTransport(smsclub_sandbox),
        rate_limit=CLIENT_RATE,
        **_without_waits(SmsClub),
    ) as client:
        yield client


# ----------------------------------------------------------------- SMSC.kz


@pytest.fixture
def smsc_sandbox(request: pytest.FixtureRequest) -> SmscSandbox:
    """A fresh SMSC.kz emulator on a manual clock (``@pytest.mark.smsc_sandbox(...)``)."""
    arguments = _arguments(request, "smsc_sandbox")
    arguments.setdefault("clock", ManualClock())
    return SmscSandbox(**arguments)


@_async_fixture
async def smsc_client(smsc_sandbox: SmscSandbox) -> AsyncIterator[SmscClient]:
    """An :class:`~smsclub_async.SmscClient` on ``smsc_sandbox``, with its first account.

    With ``accounts=None`` (any login) the login is unique to the test, as the
    client shares its in-flight limit per login.
    """
    accounts = smsc_sandbox.config.accounts
    if accounts:
        login, password = next(iter(accounts.items()))
    else:
        login, password = f"sandbox-{uuid.uuid4().hex[:12]}", SMSC_PASSWORD
    async with SmscClient(
        login,
        password,
        transport=GatewayTransport(smsc_sandbox),
        **_without_waits(SmscClient),
    ) as client:
        yield client


# ----------------------------------------------------------------- SMStele (REX400)


@pytest.fixture
def smstele_sandbox(request: pytest.FixtureRequest) -> SmsteleSandbox:
    """A fresh REX400 emulator on a manual clock (``@pytest.mark.smstele_sandbox(...)``)."""
    arguments = _arguments(request, "smstele_sandbox")
    arguments.setdefault("clock", ManualClock())
    return SmsteleSandbox(**arguments)


@_async_fixture
async def smstele_client(smstele_sandbox: SmsteleSandbox) -> AsyncIterator[SmsteleClient]:
    """An :class:`~smsclub_async.SmsteleClient` on ``smstele_sandbox``, with its first account."""
    accounts = smstele_sandbox.config.accounts
    if accounts:
        login, password = next(iter(accounts.items()))
    else:
        login, password = f"sandbox-{uuid.uuid4().hex[:12]}", SMSC_PASSWORD
    async with SmsteleClient(
        login,
        password,
        transport=GatewayTransport(smstele_sandbox),
        **_without_waits(SmsteleClient),
    ) as client:
        yield client
