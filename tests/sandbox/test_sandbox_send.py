"""/sms/send and /v2/sms/send: validation, per-number outcomes, billing, duplicates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, Sandbox, SandboxConfig, SandboxTransport

from .sandbox_helpers import post, send_body

NUMBER = "380989361131"
OTHER = "380989361132"
MODERATED = 'Sender Name has state "Being moderated" and not available at the moment.'


@pytest.mark.parametrize(
    ("body", "add_info"),
    [
        ({"phone": [NUMBER], "message": "m"}, {"src_addr": "Sender Name cannot be blank."}),
        (
            {"phone": [NUMBER], "src_addr": "", "message": "m"},
            {"src_addr": "Sender Name cannot be blank."},
        ),
        (
            {"phone": [NUMBER], "src_addr": "Unknown", "message": "m"},
            {"src_addr": "Sender name is incorrect"},
        ),
        (
            {"phone": [NUMBER], "src_addr": 5, "message": "m"},
            {"src_addr": "Sender name is incorrect"},
        ),
        (
            {"phone": [NUMBER], "src_addr": "test_an", "message": "m"},
            {"src_addr": MODERATED},
        ),
        ({"phone": [NUMBER], "src_addr": "VashZakaz"}, {"message": "Message cannot be blank."}),
        (
            {"phone": [NUMBER], "src_addr": "VashZakaz", "message": ""},
            {"message": "Message cannot be blank."},
        ),
        (
            {"phone": [NUMBER], "src_addr": "VashZakaz", "message": 7},
            {"message": "Message must be a string."},
        ),
        ({"src_addr": "VashZakaz", "message": "m"}, {"phone": "Phone number cannot be blank."}),
        (
            {"phone": [], "src_addr": "VashZakaz", "message": "m"},
            {"phone": "Phone number cannot be blank."},
        ),
        (
            {"phone": NUMBER, "src_addr": "VashZakaz", "message": "m"},
            {"phone": "Incorrect phones array or phones quantity greater than 100"},
        ),
        (
            {"phone": [NUMBER] * 101, "src_addr": "VashZakaz", "message": "m"},
            {"phone": "Incorrect phones array or phones quantity greater than 100"},
        ),
        (
            {"phone": [NUMBER, None], "src_addr": "VashZakaz", "message": "m"},
            {"phone": "Incorrect phones array or phones quantity greater than 100"},
        ),
        (
            {"phone": [NUMBER], "src_addr": "VashZakaz", "message": "m", "lifetime": "soon"},
            {"lifetime": "Lifetime must be an integer."},
        ),
        (
            {"phone": [NUMBER], "src_addr": "VashZakaz", "message": "m", "lifetime": 0},
            {"lifetime": "Lifetime must be no less than 1."},
        ),
        (
            {"phone": [NUMBER], "src_addr": "VashZakaz", "message": "m", "integration_id": "x"},
            {"integration_id": "Integration Id must be an integer."},
        ),
        (
            {},
            {
                "src_addr": "Sender Name cannot be blank.",
                "message": "Message cannot be blank.",
                "phone": "Phone number cannot be blank.",
            },
        ),
    ],
)
async def test_request_errors_send_nothing(
    client: httpx.AsyncClient, sandbox: Sandbox, body: Any, add_info: Any
) -> None:
    """A request-level error answers 200 with add_info only, and nothing is sent."""
    answer = await post(client, "/sms/send", body)
    assert answer == {"success_request": {"add_info": add_info}}
    assert sandbox.messages() == []
    assert sandbox.balance("test-token") == Decimal("1000")


async def test_phone_format_is_checked_not_normalised(client: httpx.AsyncClient) -> None:
    """10 to 15 ASCII digits pass as given; anything else is refused per number."""
    phones = [
        "0980000001",
        "123456789012345",
        "123456789",
        "1234567890123456",
        "+380989361131",
        "38098 936113",
        "٣٨٠٩٨٩٣٦١١٣١",
    ]
    answer = await post(client, "/sms/send", send_body(*phones))
    assert answer["success_request"]["info"] == {"100": "0980000001", "101": "123456789012345"}
    assert answer["success_request"]["add_info"] == {
        phone: f"Incorrect phone number ({phone})" for phone in phones[2:]
    }


async def test_numeric_phones_are_accepted_as_decimal_strings(client: httpx.AsyncClient) -> None:
    """JSON numbers in the phone array are keyed by their decimal form."""
    answer = await post(
        client, "/sms/send", {"phone": [380989361131], "src_addr": "VashZakaz", "message": "m"}
    )
    assert answer == {"success_request": {"info": {"100": NUMBER}}}


async def test_partial_success_blacklist_and_bad_number(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Good numbers get ids, in request order; the rest are explained per number."""
    sandbox.add_blacklist(OTHER)
    answer = await post(client, "/sms/send", send_body(NUMBER, OTHER, "12", "380989361133"))
    assert answer == {
        "success_request": {
            "info": {"100": NUMBER, "101": "380989361133"},
            "add_info": {
                OTHER: "This number is in the black list",
                "12": "Incorrect phone number (12)",
            },
        }
    }
    assert sandbox.deliveries() == {NUMBER: 1, "380989361133": 1}


async def test_blacklist_is_per_account_and_removable(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """A blacklist entry for one token does not affect another; it can be removed."""
    sandbox.add_blacklist(NUMBER, token="other")
    answer = await post(client, "/sms/send", send_body(NUMBER))
    assert answer["success_request"]["info"] == {"100": NUMBER}
    sandbox.add_blacklist(OTHER, token="test-token")
    answer = await post(client, "/sms/send", send_body(OTHER))
    assert answer["success_request"]["add_info"] == {OTHER: "This number is in the black list"}
    sandbox.remove_blacklist(OTHER, token="test-token")
    answer = await post(client, "/sms/send", send_body(OTHER, message="again"))
    assert answer["success_request"]["info"] == {"101": OTHER}


@pytest.mark.parametrize(
    ("message", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("я" * 70, 1), ("я" * 71, 2), ("€" * 80, 1), ("€" * 81, 2)],
)
async def test_balance_goes_down_per_part(
    client: httpx.AsyncClient, sandbox: Sandbox, message: str, parts: int
) -> None:
    """Each accepted message costs price_per_part times its parts."""
    await post(client, "/sms/send", send_body(NUMBER, OTHER, message=message))
    assert sandbox.balance("test-token") == Decimal("1000") - Decimal("0.5") * parts * 2
    assert [m.parts for m in sandbox.messages()] == [parts, parts]
    answer = await post(client, "/sms/balance")
    expected = f"{Decimal('1000') - Decimal('0.5') * parts * 2:.4f}"
    assert answer["success_request"]["info"]["money"] == expected


async def test_not_enough_money(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """Numbers the balance cannot pay for are refused; the balance never goes negative."""
    sandbox.set_balance("1.2")
    answer = await post(client, "/sms/send", send_body(NUMBER, OTHER, "380989361133"))
    message = "Not enough money. It is necessary to refill the balance"
    assert answer == {
        "success_request": {
            "info": {"100": NUMBER, "101": OTHER},
            "add_info": {"380989361133": message},
        }
    }
    assert sandbox.balance("test-token") == Decimal("0.2")


async def test_nothing_affordable_means_add_info_only(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """With no money, the answer has add_info only, and no duplicate is remembered."""
    sandbox.set_balance(0)
    body = send_body(NUMBER)
    for _ in range(2):  # a refused send is not a duplicate of itself
        answer = await post(client, "/sms/send", body)
        assert "info" not in answer["success_request"]


async def test_same_phone_twice_in_one_request_is_sent_twice(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """The gateway does not de-duplicate phones: that is the client's job."""
    answer = await post(client, "/sms/send", send_body(NUMBER, NUMBER))
    assert answer["success_request"]["info"] == {"100": NUMBER, "101": NUMBER}
    assert sandbox.deliveries()[NUMBER] == 2


async def test_duplicate_within_window_is_453_and_not_after(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """The same sender, text and phones within 120 s: 453 and nothing sent; at 120 s: sent."""
    first = await post(client, "/sms/send", send_body(NUMBER, OTHER))
    assert first["success_request"]["info"] == {"100": NUMBER, "101": OTHER}
    clock.advance(119.999)
    again = await client.post("/sms/send", json=send_body(OTHER, NUMBER, NUMBER))
    assert again.status_code == 453
    assert again.json() == {
        "name": "Duplicate",
        "message": "Duplication of the message in an interval of less than 2 minutes",
        "code": 0,
        "status": 453,
    }
    assert len(sandbox.messages()) == 2
    clock.advance(0.001)
    later = await post(client, "/sms/send", send_body(NUMBER, OTHER))
    assert later["success_request"]["info"] == {"102": NUMBER, "103": OTHER}


@pytest.mark.parametrize(
    "change",
    [
        {"message": "other text"},
        {"src_addr": "test1"},
        {"phone": [NUMBER]},
        {"phone": [NUMBER, OTHER, "380989361133"]},
    ],
)
async def test_a_different_send_is_not_a_duplicate(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    """Changing the sender, the text or the set of phones makes a new send."""
    await post(client, "/sms/send", send_body(NUMBER, OTHER))
    answer = await post(client, "/sms/send", {**send_body(NUMBER, OTHER), **change})
    assert "info" in answer["success_request"]


async def test_duplicates_are_per_token(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """Another token may send the same thing at once."""
    await post(client, "/sms/send", send_body(NUMBER))
    response = await client.post(
        "/sms/send", json=send_body(NUMBER), headers={"Authorization": "Bearer second"}
    )
    assert response.json() == {"success_request": {"info": {"101": NUMBER}}}


async def test_duplicate_window_is_configurable(clock: ManualClock) -> None:
    """duplicate_window=0 turns the check off."""
    sandbox = Sandbox(SandboxConfig(duplicate_window=0, rate_limit=None), clock=clock)
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox),
        base_url="https://x",
        headers={"Authorization": "Bearer t"},
    ) as client:
        for _ in range(3):
            assert (await client.post("/sms/send", json=send_body(NUMBER))).status_code == 200
    assert sandbox.deliveries()[NUMBER] == 3


async def test_personalised_per_entry_outcomes(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """v2: each entry is accepted or explained by its phone; texts are billed one by one."""
    sandbox.add_blacklist(OTHER)
    answer = await post(
        client,
        "/v2/sms/send",
        {
            "src_addr": "VashZakaz",
            "lifetime": 60,
            "data_message": [
                {"phone": NUMBER, "message": "a" * 200},
                {"phone": OTHER, "message": "x"},
                {"phone": "1", "message": "x"},
                {"phone": "380989361133", "message": ""},
            ],
        },
    )
    assert answer == {
        "success_request": {
            "info": {"100": NUMBER},
            "add_info": {
                OTHER: "This number is in the black list",
                "1": "Incorrect phone number (1)",
                "380989361133": "Message cannot be blank.",
            },
        }
    }
    assert sandbox.balance("test-token") == Decimal("999")
    assert sandbox.messages()[0].lifetime == 60


@pytest.mark.parametrize(
    ("data_message", "add_info"),
    [
        (None, {"data_message": "Data Message cannot be blank."}),
        ([], {"data_message": "Data Message cannot be blank."}),
        ("x", {"data_message": "Incorrect phones array or phones quantity greater than 100"}),
        (
            [{"phone": NUMBER, "message": "m"}] * 101,
            {"data_message": "Incorrect phones array or phones quantity greater than 100"},
        ),
        (
            [{"message": "m"}],
            {"data_message": "Incorrect phones array or phones quantity greater than 100"},
        ),
        (["m"], {"data_message": "Incorrect phones array or phones quantity greater than 100"}),
    ],
)
async def test_personalised_request_errors(
    client: httpx.AsyncClient, sandbox: Sandbox, data_message: Any, add_info: Any
) -> None:
    """v2 request-level errors send nothing."""
    answer = await post(
        client, "/v2/sms/send", {"src_addr": "VashZakaz", "data_message": data_message}
    )
    assert answer == {"success_request": {"add_info": add_info}}
    assert sandbox.messages() == []


async def test_personalised_duplicate(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """v2: the same sender and (phone, message) list within the window is 453."""
    body = {
        "src_addr": "VashZakaz",
        "data_message": [{"phone": NUMBER, "message": "a"}, {"phone": OTHER, "message": "b"}],
    }
    assert (await client.post("/v2/sms/send", json=body)).status_code == 200
    assert (await client.post("/v2/sms/send", json=body)).status_code == 453
    swapped = {
        **body,
        "data_message": [{"phone": NUMBER, "message": "b"}, {"phone": OTHER, "message": "a"}],
    }
    assert (await client.post("/v2/sms/send", json=swapped)).status_code == 200
    clock.advance(120)
    assert (await client.post("/v2/sms/send", json=body)).status_code == 200
