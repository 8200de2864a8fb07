"""SMS Club answers the client must read whatever their shape: a 400 that names the
field at fault, odd accepted answers, numbers out of any sane range."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from smsclub_async import DecodeError, SmsClub, ValidationError
from smsclub_async.errors import JournalConflictError

PHONES = ["380989361131", "380989361130"]


async def test_a_400_with_add_info_keeps_the_gateways_message_and_fields(
    gateway: respx.MockRouter, token: str
) -> None:
    """HTTP 400 carrying ``success_request.add_info`` (the gateway's validation of a
    send): the phones are failed with the gateway's words, and a read raises
    ValidationError whose ``fields`` and message say which field and why."""
    body = {"success_request": {"add_info": {"src_addr": "Sender name is incorrect"}}}
    gateway.post("/sms/send").respond(400, json=body)
    gateway.post("/sms/balance").respond(400, json=body)
    async with SmsClub(token=token) as sms:
        with pytest.raises(ValidationError) as caught:
            await sms.send(PHONES, "Hi", sender="Bad")
        error, partial = caught.value, caught.value.partial
        assert error.fields == {"src_addr": "Sender name is incorrect"}
        assert "Sender name is incorrect" in str(error)
        assert set(partial.failed) == set(PHONES)
        assert all("Sender name is incorrect" in r for r in partial.failed.values())
        assert partial.errors == {"src_addr": "Sender name is incorrect"}
        with pytest.raises(ValidationError) as read:
            await sms.balance()
        assert read.value.gateway_message == "src_addr: Sender name is incorrect"
        assert read.value.fields == {"src_addr": "Sender name is incorrect"}


async def test_an_absurd_balance_is_a_decode_error_at_once(
    gateway: respx.MockRouter, token: str
) -> None:
    """money "1e999999999" or "1e600000": DecodeError, without converting the number."""
    for money in ("1e999999999", "1e600000", "NaN"):
        gateway.post("/sms/balance").respond(
            json={"success_request": {"info": {"money": money, "currency": "UAH"}}}
        )
        async with SmsClub(token=token) as sms:
            with pytest.raises(DecodeError, match="money is not a number"):
                await sms.balance()


async def test_a_key_reused_for_another_text_sends_and_reads_nothing(
    gateway: respx.MockRouter, token: str
) -> None:
    """The same key with another text: JournalConflictError before any request and
    before a single number is read from the caller's source."""
    route = gateway.post("/sms/send").respond(
        json={"success_request": {"info": {"1": "380989361131"}}}
    )
    read: list[str] = []

    def numbers(call: str) -> Iterator[str]:
        read.append(call)
        yield "380989361131"

    async with SmsClub(token=token) as sms:
        await sms.send(numbers("first"), "first", sender="Shop", key="k-1")
        calls = route.call_count
        with pytest.raises(JournalConflictError):
            await sms.send(numbers("second"), "another text", sender="Shop", key="k-1")
    assert route.call_count == calls == 1
    assert read == ["first"]


async def test_an_unhashable_value_in_info_costs_only_its_entry(
    gateway: respx.MockRouter, token: str
) -> None:
    """``info`` with a list where a number should be: the other id is kept, the phone
    the list stood for is ``unknown`` (found by the fuzz test, a TypeError before)."""
    gateway.post("/sms/send").respond(
        json={"success_request": {"info": {"1": PHONES[0], "2": [PHONES[1]]}}}
    )
    async with SmsClub(token=token) as sms:
        result = await sms.send(PHONES, "Hi", sender="Shop")
    assert result.sent == {"1": PHONES[0]}
    assert set(result.unknown) == {PHONES[1]}
