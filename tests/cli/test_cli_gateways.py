"""--gateway smsc and smstele: the same commands on the other gateways' sandboxes."""

from __future__ import annotations

import json

import pytest

from .conftest import Invoke


@pytest.mark.parametrize(
    ("gateway", "phone", "sender"),
    [("smsc", "77011234567", "MyShop"), ("smstele", "79161234567", "MyShop")],
)
def test_send_and_wait_on_another_gateway(
    invoke: Invoke, gateway: str, phone: str, sender: str
) -> None:
    """send --wait works the same way; ids are '<id>:<phone>' keys status accepts."""
    result = invoke(
        "--sandbox",
        "--gateway",
        gateway,
        "--json",
        "send",
        phone,
        "-m",
        "Hello",
        "-s",
        sender,
        "--wait",
        "--timeout",
        "20",
        "--interval",
        "0.2",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (key,) = data["sent"]
    assert key.endswith(f":{phone}")
    assert data["sent"][key] == phone
    assert data["delivery"]["statuses"][key] == "DELIVRD"


def test_smsc_balance(invoke: Invoke) -> None:
    """SMSC reports its balance in the account's currency."""
    balance = invoke("--sandbox", "--gateway", "smsc", "--json", "balance")
    assert balance.exit_code == 0, balance.output
    assert json.loads(balance.stdout)["currency"] == "KZT"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway", "smstele", "--token", "no-colon", "balance"], "LOGIN:PASSWORD"),
        (["--sandbox", "--gateway", "smstele", "balance"], "no balance request"),
        (["--sandbox", "--gateway", "smsc", "senders"], "not available"),
    ],
)
def test_gateway_specific_refusals_are_one_line(
    invoke: Invoke, args: list[str], message: str
) -> None:
    """What a gateway lacks is a one-line error, never a traceback."""
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
