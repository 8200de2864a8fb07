"""SMSC sender-name management end to end against the emulator: list, add, change,
send a confirmation code, confirm, delete (the reference's six answers)."""

from __future__ import annotations

import pytest

from smsclub_async import NotFoundError, RateLimitedError, ValidationError
from smsclub_async.gateways import SenderState, SmscClient
from smsclub_async.sandbox import ManualClock
from smsclub_async.sandbox.gateways import SmscSandbox

PHONE = "77011234567"


async def test_add_change_and_delete_a_sender_name(
    smsc: SmscClient, smsc_sandbox: SmscSandbox, login: str
) -> None:
    """add -> an id, awaiting moderation; change by that id -> the new name, back in
    moderation; delete -> gone; deleting again -> NotFoundError (error 3)."""
    before = smsc_sandbox.senders(login)
    sender_id = await smsc.add_sender("Bakery", comment="our shop")
    assert smsc_sandbox.senders(login) == {**before, "Bakery": 0}
    await smsc.change_sender(sender_id, sender="Bakery2")
    assert smsc_sandbox.senders(login) == {**before, "Bakery2": 0}
    listed = {s.name: s.state for s in await smsc.sender_list()}
    assert listed["Bakery2"] is SenderState.MODERATION
    assert "Bakery" not in listed
    await smsc.delete_sender("Bakery2")
    assert smsc_sandbox.senders(login) == before
    with pytest.raises(NotFoundError):
        await smsc.delete_sender("Bakery2")


async def test_changing_an_unknown_sender_id_is_not_found(smsc: SmscClient) -> None:
    """An id SMSC does not have: error 3, NotFoundError; nothing created."""
    with pytest.raises(NotFoundError, match="error 3"):
        await smsc.change_sender(999_999, sender="Other")


async def test_a_phone_number_sender_is_confirmed_with_its_code(
    smsc: SmscClient, smsc_sandbox: SmscSandbox, login: str
) -> None:
    """send_code -> the owner reads a code; a wrong code is refused (error 11); the
    right one makes the number a usable sender name."""
    await smsc.send_sender_code(PHONE)
    code = smsc_sandbox.confirmation_code(login, PHONE)
    assert code
    with pytest.raises(ValidationError, match="error 11"):
        await smsc.confirm_sender(PHONE, "000000" if code != "000000" else "111111")
    await smsc.confirm_sender(PHONE, code)
    assert smsc_sandbox.senders(login)[PHONE] == 1
    assert PHONE in await smsc.senders()


async def test_a_second_code_within_eight_hours_is_refused(
    smsc: SmscClient, smsc_sandbox: SmscSandbox, login: str, clock: ManualClock
) -> None:
    """Error 10: a code went to the number less than 8 hours ago; not retried."""
    await smsc.send_sender_code(PHONE)
    requests = len(smsc_sandbox.requests)
    clock.advance(3600)
    with pytest.raises(RateLimitedError, match="error 10"):
        await smsc.send_sender_code(PHONE)
    assert len(smsc_sandbox.requests) == requests + 1


@pytest.mark.parametrize(
    "call",
    [
        lambda smsc: smsc.change_sender("", sender="X"),
        lambda smsc: smsc.change_sender(1, sender=""),
        lambda smsc: smsc.send_sender_code(""),
        lambda smsc: smsc.confirm_sender(PHONE, ""),
    ],
)
async def test_bad_sender_arguments_are_refused_before_any_request(
    smsc: SmscClient, smsc_sandbox: SmscSandbox, call: object
) -> None:
    """Empty ids, names, numbers or codes: ValueError, and the emulator hears nothing."""
    with pytest.raises(ValueError, match="must be a non-empty string"):
        await call(smsc)  # type: ignore[operator]
    assert smsc_sandbox.requests == []
