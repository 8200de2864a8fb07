"""Each endpoint over respx: what goes on the wire and what comes back."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import respx

from smsclub_async import (
    Balance,
    DecodeError,
    DeliveryStatus,
    NotFoundError,
    SmsClub,
    ValidationError,
)
from smsclub_async.gateways import SenderRegistration, SenderState

from .conftest import NO_WAIT, NO_WAIT_SEND


def ok(info: object = None, add_info: object = None) -> httpx.Response:
    body: dict[str, object] = {}
    if info is not None:
        body["info"] = info
    if add_info is not None:
        body["add_info"] = add_info
    return httpx.Response(200, json={"success_request": body})


def client(token: str, **kwargs: object) -> SmsClub:
    kwargs.setdefault("retry", NO_WAIT)
    kwargs.setdefault("send_retry", NO_WAIT_SEND)
    return SmsClub(token=token, rate_limit=1000, **kwargs)  # type: ignore[arg-type]


async def test_send_puts_wire_names_and_bearer_token_on_the_wire(
    gateway: respx.MockRouter, token: str
) -> None:
    """src_addr/phone/message/lifetime go out as documented, with the Bearer header."""
    route = gateway.post("/sms/send").mock(return_value=ok({"106": "380989361131"}))
    async with client(token) as sms:
        result = await sms.send(
            "+38 (098) 936-11-31", "Your order", sender="VashZakaz", lifetime=60
        )
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "phone": ["380989361131"],
        "src_addr": "VashZakaz",
        "message": "Your order",
        "lifetime": 60,
    }
    assert result.sent == {"106": "380989361131"}
    assert result.ok


async def test_partial_success_splits_sent_and_failed(
    gateway: respx.MockRouter, token: str
) -> None:
    """The documented partial answer: one id, one blacklisted number."""
    gateway.post("/sms/send").mock(
        return_value=ok(
            {"107": "380989361131"}, {"380989361130": "This number is in the black list"}
        )
    )
    async with client(token) as sms:
        result = await sms.send(["380989361131", "380989361130"], "test api", sender="VashZakaz")
    assert result.sent == {"107": "380989361131"}
    assert result.failed == {"380989361130": "This number is in the black list"}
    assert not result.unknown
    assert not result.ok


async def test_field_error_goes_to_errors_and_phones_to_failed(
    gateway: respx.MockRouter, token: str
) -> None:
    """A request-level add_info (src_addr) refuses every number of the request."""
    gateway.post("/sms/send").mock(
        return_value=ok(add_info={"src_addr": "Sender name is incorrect"})
    )
    async with client(token) as sms:
        result = await sms.send(["380989361131"], "x", sender="Bad")
    assert result.errors == {"src_addr": "Sender name is incorrect"}
    assert set(result.failed) == {"380989361131"}
    assert "Sender name is incorrect" in result.failed["380989361131"]


async def test_send_personalized_uses_v2_data_message(
    gateway: respx.MockRouter, token: str
) -> None:
    """Personalised sends go to /v2/sms/send with one entry per phone."""
    route = gateway.post("/v2/sms/send").mock(
        return_value=ok({"106": "380980000001", "107": "380980000002"})
    )
    async with client(token) as sms:
        result = await sms.send_personalized(
            {"380980000001": "Hi Ann", "380980000002": "Hi Bob"}, sender="VashZakaz", lifetime=60
        )
    assert json.loads(route.calls.last.request.content) == {
        "src_addr": "VashZakaz",
        "lifetime": 60,
        "data_message": [
            {"phone": "380980000001", "message": "Hi Ann"},
            {"phone": "380980000002", "message": "Hi Bob"},
        ],
    }
    assert result.sent == {"106": "380980000001", "107": "380980000002"}


async def test_status_decodes_english_and_russian_and_unknown(
    gateway: respx.MockRouter, token: str
) -> None:
    """Statuses decode from both languages; an undocumented one is UNKNOWN, raw kept."""
    route = gateway.post("/sms/status").mock(
        return_value=ok({"1": "DELIVRD", "2": "Отправлено", "3": "WEIRD"})
    )
    async with client(token) as sms:
        report = await sms.status({"1": "380...", "2": "380...", "3": "x", "4": "y"})
    assert json.loads(route.calls.last.request.content) == {"id_sms": ["1", "2", "3", "4"]}
    assert report == {
        "1": DeliveryStatus.DELIVRD,
        "2": DeliveryStatus.ENROUTE,
        "3": DeliveryStatus.UNKNOWN,
    }
    assert report.raw["3"] == "WEIRD"
    assert report.missing == ["4"]
    assert not report.all_final


async def test_status_of_250_ids_takes_three_requests(
    gateway: respx.MockRouter, token: str
) -> None:
    """Any number of ids: split into requests of at most 100 and merged."""

    def answer(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["id_sms"]
        assert len(ids) <= 100
        return ok(dict.fromkeys(ids, "DELIVRD"))

    route = gateway.post("/sms/status").mock(side_effect=answer)
    async with client(token) as sms:
        report = await sms.status(range(250))
    assert route.call_count == 3
    assert len(report) == 250
    assert report.all_final


async def test_balance_is_exact_decimal(gateway: respx.MockRouter, token: str) -> None:
    """money "8111.1700" is Decimal 8111.17; a body-less POST is sent."""
    route = gateway.post("/sms/balance").mock(
        return_value=ok({"money": "8111.1700", "currency": "UAH"})
    )
    async with client(token) as sms:
        balance = await sms.balance()
    assert balance == Balance(money=Decimal("8111.17"), currency="UAH")
    assert route.calls.last.request.content == b""
    assert str(balance) == "8111.17 UAH"


async def test_balance_keeps_digits_that_carry_value(gateway: respx.MockRouter, token: str) -> None:
    """Sub-cent amounts are not rounded away."""
    gateway.post("/sms/balance").mock(return_value=ok({"money": "0.1250", "currency": "UAH"}))
    async with client(token) as sms:
        assert (await sms.balance()).money == Decimal("0.125")


async def test_balance_garbage_is_a_decode_error(gateway: respx.MockRouter, token: str) -> None:
    """A balance that is not a number is a DecodeError naming the endpoint."""
    gateway.post("/sms/balance").mock(return_value=ok({"money": "lots", "currency": "UAH"}))
    async with client(token) as sms:
        with pytest.raises(DecodeError, match="/sms/balance"):
            await sms.balance()


async def test_senders(gateway: respx.MockRouter, token: str) -> None:
    """The list of active sender names."""
    gateway.post("/sms/originator").mock(return_value=ok(["test1", "test2"]))
    async with client(token) as sms:
        assert await sms.senders() == ["test1", "test2"]


async def test_sender_status_one_all_and_missing(gateway: respx.MockRouter, token: str) -> None:
    """One name, all names, and "Error. Data not found" as NotFoundError."""
    route = gateway.post("/originators/stat-originators")
    route.side_effect = [
        ok({"test_an": "Being moderated"}),
        ok({"test_an": "Being moderated", "Shop Zakaz": "Approved"}),
        ok(add_info={"test_nssnn": "Error. Data not found"}),
    ]
    async with client(token) as sms:
        assert await sms.sender_status("test_an") == {"test_an": SenderState.MODERATION}
        assert json.loads(route.calls[0].request.content) == {"sender_id": "test_an"}
        every = await sms.sender_status()
        assert route.calls[1].request.content == b""
        assert every["Shop Zakaz"] is SenderState.APPROVED
        with pytest.raises(NotFoundError, match="Data not found"):
            await sms.sender_status("test_nssnn")


@pytest.mark.parametrize(
    ("company_type", "ids", "wire"),
    [
        ("fop", {"inn": "133323"}, {"inn": "133323", "okpo": ""}),
        ("tov", {"okpo": "12345678"}, {"okpo": "12345678", "inn": ""}),
    ],
)
async def test_register_sender_both_company_types(
    gateway: respx.MockRouter,
    token: str,
    company_type: str,
    ids: dict[str, str],
    wire: dict[str, str],
) -> None:
    """'fop' sends inn, 'tov' sends okpo; the answer is the name in moderation."""
    route = gateway.post("/originators/registration-originators").mock(
        return_value=ok({"originator": "test_an", "status": "Being moderated"})
    )
    async with client(token) as sms:
        reg = await sms.register_sender(
            sender="test_an",
            company_type=company_type,  # type: ignore[arg-type]
            company="Sms-api",
            subject="Notification of order status",
            description="Shop",
            site="https://example.com",
            **ids,
        )
    assert reg == SenderRegistration(sender="test_an", status="Being moderated")
    sent = json.loads(route.calls.last.request.content)
    assert sent["company_type"] == company_type
    assert {k: sent[k] for k in ("okpo", "inn")} == wire


async def test_register_sender_field_errors_raise_with_fields(
    gateway: respx.MockRouter, token: str
) -> None:
    """add_info instead of info: ValidationError whose fields name the culprit."""
    gateway.post("/originators/registration-originators").mock(
        return_value=ok(add_info={"company": "Legal name of the company cannot be blank."})
    )
    async with client(token) as sms:
        with pytest.raises(ValidationError) as caught:
            await sms.register_sender(
                sender="x",
                company_type="fop",
                company="c",
                subject="s",
                description="d",
                site="https://e.com",
                inn="1",
            )
    assert caught.value.fields == {"company": "Legal name of the company cannot be blank."}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"company_type": "tov"}, "okpo"),
        ({"company_type": "fop"}, "inn"),
        ({"company_type": "llc", "inn": "1"}, "company_type"),
        ({"company_type": "fop", "inn": "1", "company": " "}, "company"),
    ],
)
async def test_register_sender_refuses_bad_input_before_any_request(
    gateway: respx.MockRouter, token: str, kwargs: dict[str, str], match: str
) -> None:
    """Missing okpo/inn or a wrong company type never reaches the gateway."""
    route = gateway.post("/originators/registration-originators")
    fields = {"sender": "x", "company": "c", "subject": "s", "description": "d", "site": "u"}
    fields.update(kwargs)
    async with client(token) as sms:
        with pytest.raises(ValueError, match=match):
            await sms.register_sender(**fields)  # type: ignore[arg-type]
    assert not route.called
