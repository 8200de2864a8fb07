"""Every request example in the gateway's documentation gets the documented answer shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import Sandbox

from .sandbox_helpers import post


async def test_send_example(client: httpx.AsyncClient) -> None:
    """The /sms/send example: info maps the new id to the phone, no add_info."""
    answer = await post(
        client,
        "/sms/send",
        {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "test text"},
    )
    assert answer == {"success_request": {"info": {"100": "380989361131"}}}


async def test_partial_success_example(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The partial-success example: the blacklisted number lands in add_info."""
    sandbox.add_blacklist("380989361130")
    answer = await post(
        client,
        "/sms/send",
        {"phone": ["380989361131", "380989361130"], "src_addr": "VashZakaz", "message": "test api"},
    )
    assert answer == {
        "success_request": {
            "info": {"100": "380989361131"},
            "add_info": {"380989361130": "This number is in the black list"},
        }
    }


async def test_incorrect_sender_example(client: httpx.AsyncClient) -> None:
    """The failed-send example: only add_info, keyed by the field."""
    answer = await post(
        client, "/sms/send", {"phone": ["380989361131"], "src_addr": "Nope", "message": "x"}
    )
    assert answer == {"success_request": {"add_info": {"src_addr": "Sender name is incorrect"}}}


async def test_personalised_example(client: httpx.AsyncClient) -> None:
    """The /v2/sms/send example, lifetime as the string "60", two ids."""
    answer = await post(
        client,
        "/v2/sms/send",
        {
            "src_addr": "VashZakaz",
            "lifetime": "60",
            "data_message": [
                {"phone": "0980000001", "message": "test 1"},
                {"phone": "0980000002", "message": "test 2"},
            ],
        },
    )
    assert answer == {"success_request": {"info": {"100": "0980000001", "101": "0980000002"}}}


async def test_status_example(client: httpx.AsyncClient) -> None:
    """The /sms/status example: a fresh message is ENROUTE."""
    await post(
        client, "/sms/send", {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "m"}
    )
    answer = await post(client, "/sms/status", {"id_sms": ["100"]})
    assert answer == {"success_request": {"info": {"100": "ENROUTE"}}}


async def test_originator_example(client: httpx.AsyncClient) -> None:
    """/sms/originator without a body lists the Approved names."""
    answer = await post(client, "/sms/originator")
    assert answer == {"success_request": {"info": ["VashZakaz", "test1", "test2"]}}


async def test_balance_example(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """/sms/balance without a body: money as a 4-decimal string and the currency."""
    sandbox.set_balance("8111.17")
    answer = await post(client, "/sms/balance")
    assert answer == {"success_request": {"info": {"money": "8111.1700", "currency": "UAH"}}}


async def test_registration_example(client: httpx.AsyncClient) -> None:
    """The registration example (fop, with an empty okpo) is accepted for moderation."""
    answer = await post(
        client,
        "/originators/registration-originators",
        {
            "sender_id": "test_an",
            "company_type": "fop",
            "company": "Sms-api",
            "inn": "133323",
            "okpo": "",
            "subject": "Інформування постійних клієнтів про акції, події, знижки.",
            "description": "Магазин побутової техніки",
            "site": "https://google.com",
        },
    )
    assert answer == {
        "success_request": {"info": {"originator": "test_an", "status": "Being moderated"}}
    }


async def test_registration_error_example(client: httpx.AsyncClient) -> None:
    """The registration error example: a blank company."""
    answer = await post(
        client,
        "/originators/registration-originators",
        {
            "sender_id": "Shop",
            "company_type": "tov",
            "company": "",
            "okpo": "12345678",
            "subject": "s",
            "description": "d",
            "site": "https://example.com",
        },
    )
    assert answer == {
        "success_request": {"add_info": {"company": "Legal name of the company cannot be blank."}}
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"sender_id": "test_an"}, {"info": {"test_an": "Being moderated"}}),
        ({"sender_id": "test_nssnn"}, {"add_info": {"test_nssnn": "Error. Data not found"}}),
        (
            None,
            {
                "info": {
                    "VashZakaz": "Approved",
                    "test1": "Approved",
                    "test2": "Approved",
                    "test_an": "Being moderated",
                }
            },
        ),
    ],
)
async def test_sender_status_examples(client: httpx.AsyncClient, body: Any, expected: Any) -> None:
    """The three /originators/stat-originators examples."""
    answer = await post(client, "/originators/stat-originators", body)
    assert answer == {"success_request": expected}
