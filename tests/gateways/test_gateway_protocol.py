"""SmsGateway: all three clients satisfy it, and an application runs on any of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

import smsclub_async
import smsclub_async.errors as errors
import smsclub_async.gateways as gateways
import smsclub_async.sandbox.gateways as sandbox_gateways
from smsclub_async import DeliveryStatus, RetryPolicy, SendResult, SmsClub, StatusReport
from smsclub_async.errors import UnsupportedError
from smsclub_async.gateways import SmscClient, SmsGateway, SmsteleClient
from smsclub_async.sandbox import ManualClock, Sandbox, SandboxConfig, SandboxTransport
from smsclub_async.sandbox.gateways import GatewayTransport, SmscSandbox, SmsteleSandbox

from .conftest import REX_LOGIN, REX_PASSWORD, SMSC_READ, SMSC_SEND

# mypy checks these assignments (mypy --strict tests/gateways); the same three are
# checked by CI's `mypy --strict smsclub_async` in smsclub_async/gateways/_conformance.py.
_SMS_CLUB: SmsGateway = SmsClub(token="t")
_SMSC: SmsGateway = SmscClient(login="l", password="p")
_SMSTELE: SmsGateway = SmsteleClient(login="l", password="p")


@pytest.mark.parametrize("client", [_SMS_CLUB, _SMSC, _SMSTELE], ids=["smsclub", "smsc", "rex"])
def test_every_client_is_an_sms_gateway(client: object) -> None:
    """isinstance against the runtime-checkable protocol holds for all three."""
    assert isinstance(client, SmsGateway)


def test_something_else_is_not_a_gateway() -> None:
    """An object without the methods is not an SmsGateway."""
    assert not isinstance(httpx.AsyncClient, SmsGateway)
    assert not isinstance(object(), SmsGateway)


async def notify(gateway: SmsGateway, phones: list[str]) -> tuple[SendResult, StatusReport]:
    """The application under test: written once against the protocol."""
    async with gateway:
        result = await gateway.send(phones, "Your order is ready", sender="MyShop")
        report = await gateway.status(result.sent)
    return result, report


Factory = Callable[[ManualClock], SmsGateway]


def _smsclub(clock: ManualClock) -> SmsGateway:
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock)
    sandbox.add_sender("MyShop")
    return SmsClub(
        token="app-token",
        transport=SandboxTransport(sandbox),
        retry=RetryPolicy(wait=False),
        send_retry=RetryPolicy(wait=False),
    )


def _smsc(clock: ManualClock) -> SmsGateway:
    sandbox = SmscSandbox(clock=clock)
    return SmscClient(
        "demo", "demo", transport=GatewayTransport(sandbox), retry=SMSC_READ, send_retry=SMSC_SEND
    )


def _rex(clock: ManualClock) -> SmsGateway:
    sandbox = SmsteleSandbox(clock=clock)
    return SmsteleClient(REX_LOGIN, REX_PASSWORD, transport=GatewayTransport(sandbox))


@pytest.fixture(params=[_smsclub, _smsc, _rex], ids=["smsclub", "smsc", "rex"])
async def gateway(request: pytest.FixtureRequest) -> AsyncIterator[SmsGateway]:
    """Each gateway on its own sandbox; the test decides nothing else."""
    client: SmsGateway = request.param(ManualClock(1000.0))
    yield client
    await client.aclose()


@pytest.mark.parametrize("phones", [["79160001234", "79260004567"]])
async def test_the_same_application_runs_on_every_gateway(
    gateway: SmsGateway, phones: list[str]
) -> None:
    """Switching gateways is one line: send, then status by the ids send returned."""
    result, report = await notify(gateway, phones)
    assert sorted(result.sent.values()) == phones
    assert result.ok
    assert set(report) == set(result.sent)
    assert all(s in (DeliveryStatus.ENROUTE, DeliveryStatus.PENDING) for s in report.values())


async def test_gateways_without_a_balance_call_say_so(gateway: SmsGateway) -> None:
    """balance() and senders() answer, or raise UnsupportedError before any request."""
    async with gateway:
        for call in (gateway.balance, gateway.senders):
            if isinstance(gateway, SmsteleClient):
                with pytest.raises(UnsupportedError, match="REX400"):
                    await call()
            else:
                await call()


@pytest.mark.parametrize("module", [gateways, sandbox_gateways], ids=["gateways", "sandbox"])
def test_exported_members_are_sorted_and_real(module: object) -> None:
    """__all__ is sorted (isort style) and names every public object of the package."""
    names: list[str] = module.__all__  # type: ignore[attr-defined]

    def key(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert names == sorted(names, key=key)
    for name in names:
        assert getattr(module, name) is not None
    public = {n for n in vars(module) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(module, n)).__name__ == "module"}
    assert public - modules == set(names)


def test_the_gateway_packages_export_their_clients_and_types() -> None:
    """The gateways' clients and own types live in smsclub_async.gateways, their errors
    in smsclub_async.errors (the common ones at the top level too)."""
    for name in (
        "SmsClub",
        "SmscClient",
        "SmsteleClient",
        "SmsGateway",
        "SmscSendResult",
        "SmsteleSendResult",
        "SmsteleRecipient",
        "HlrResult",
        "SmscCost",
        "SmscSender",
    ):
        assert name in gateways.__all__
    for name in ("InsufficientFundsError", "UnsupportedError"):
        assert name in errors.__all__
    assert "InsufficientFundsError" in smsclub_async.__all__


@pytest.mark.parametrize("bad", [None, 1.5, b"79160001234"], ids=["none", "float", "bytes"])
async def test_every_gateway_refuses_a_non_list_of_phones_up_front(
    gateway: SmsGateway, bad: object
) -> None:
    """The same clear ValueError from all three clients, before any request."""
    with pytest.raises(ValueError, match="phones must be"):
        await gateway.send(bad, "Hello", sender="MyShop")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 1.5, b"1:79160001234"], ids=["none", "float", "bytes"])
async def test_every_gateway_refuses_non_list_message_ids(gateway: SmsGateway, bad: object) -> None:
    """status() of None, a float or bytes: one clear ValueError on every gateway."""
    with pytest.raises(ValueError, match="message_ids must be"):
        await gateway.status(bad)  # type: ignore[arg-type]
