"""Sender names: listing, registration for both company types, moderation, status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, Sandbox, SandboxConfig, SandboxTransport

from .sandbox_helpers import post, send_body

TOV = {
    "sender_id": "Shop",
    "company_type": "tov",
    "company": "TOV Shop",
    "okpo": "12345678",
    "subject": "Sending authorization codes to customers on the website.",
    "description": "Online shop",
    "site": "https://shop.example",
}
FOP = {**TOV, "company_type": "fop", "okpo": "", "inn": "1234567890", "sender_id": "Fop.Shop"}
REGISTER = "/originators/registration-originators"


@pytest.mark.parametrize("body", [TOV, FOP], ids=["tov", "fop"])
async def test_registration_and_moderation(
    client: httpx.AsyncClient, clock: ManualClock, body: dict[str, str]
) -> None:
    """A registered name is Being moderated, unusable, then Approved after 60 s."""
    name = body["sender_id"]
    answer = await post(client, REGISTER, body)
    assert answer == {
        "success_request": {"info": {"originator": name, "status": "Being moderated"}}
    }
    status = await post(client, "/originators/stat-originators", {"sender_id": name})
    assert status == {"success_request": {"info": {name: "Being moderated"}}}
    refused = await post(client, "/sms/send", send_body("380989361131", sender=name))
    assert refused["success_request"]["add_info"] == {
        "src_addr": 'Sender Name has state "Being moderated" and not available at the moment.'
    }
    assert name not in (await post(client, "/sms/originator"))["success_request"]["info"]
    clock.advance(60)
    status = await post(client, "/originators/stat-originators", {"sender_id": name})
    assert status == {"success_request": {"info": {name: "Approved"}}}
    assert name in (await post(client, "/sms/originator"))["success_request"]["info"]
    sent = await post(client, "/sms/send", send_body("380989361131", sender=name))
    assert sent == {"success_request": {"info": {"100": "380989361131"}}}


async def test_moderation_delay_none_never_approves(clock: ManualClock) -> None:
    """moderation_delay=None leaves a name Being moderated for ever."""
    sandbox = Sandbox(SandboxConfig(moderation_delay=None, rate_limit=None), clock=clock)
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox),
        base_url="https://x",
        headers={"Authorization": "Bearer t"},
    ) as client:
        await post(client, REGISTER, TOV)
        clock.advance(10**9)
        assert sandbox.senders("t")["Shop"] == "Being moderated"


@pytest.mark.parametrize(
    ("change", "add_info"),
    [
        ({"sender_id": ""}, {"sender_id": "Sender Name cannot be blank."}),
        (
            {"sender_id": "ABCDEFGHIJKL"},
            {"sender_id": "Sender Name should contain at most 11 characters."},
        ),
        ({"sender_id": "Магазин"}, {"sender_id": "Sender Name is invalid."}),
        (
            {"sender_id": "VashZakaz"},
            {"sender_id": 'Sender Name "VashZakaz" has already been taken.'},
        ),
        ({"company_type": ""}, {"company_type": "Company Type cannot be blank."}),
        ({"company_type": "pp"}, {"company_type": "Company Type is invalid."}),
        ({"company": ""}, {"company": "Legal name of the company cannot be blank."}),
        ({"company": 5}, {"company": "Legal name of the company must be a string."}),
        ({"okpo": ""}, {"okpo": "OKPO cannot be blank."}),
        ({"subject": ""}, {"subject": "Subject cannot be blank."}),
        ({"description": None}, {"description": "Description cannot be blank."}),
        ({"site": ""}, {"site": "Site cannot be blank."}),
    ],
)
async def test_registration_field_errors(
    client: httpx.AsyncClient, sandbox: Sandbox, change: dict[str, Any], add_info: Any
) -> None:
    """Each missing or bad field is reported in add_info; nothing is registered."""
    answer = await post(client, REGISTER, {**TOV, **change})
    assert answer == {"success_request": {"add_info": add_info}}
    assert "Shop" not in sandbox.senders("test-token")


async def test_fop_needs_inn_not_okpo(client: httpx.AsyncClient) -> None:
    """company_type "fop" requires inn."""
    answer = await post(client, REGISTER, {**FOP, "inn": ""})
    assert answer == {"success_request": {"add_info": {"inn": "INN cannot be blank."}}}


async def test_all_registration_errors_at_once(client: httpx.AsyncClient) -> None:
    """An empty application lists every required field."""
    answer = await post(client, REGISTER, {})
    assert set(answer["success_request"]["add_info"]) == {
        "sender_id",
        "company_type",
        "company",
        "subject",
        "description",
        "site",
    }


async def test_sender_states_are_editable(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """add_sender sets any documented state; token=None reaches every account."""
    sandbox.add_sender("Blocked", "Rejected")
    sandbox.add_sender("Info", "Waiting for Additional. Information", token="test-token")
    answer = await post(client, "/originators/stat-originators")
    assert answer["success_request"]["info"]["Blocked"] == "Rejected"
    assert answer["success_request"]["info"]["Info"] == "Waiting for Additional. Information"
    assert "Info" not in sandbox.senders("another")
    assert sandbox.senders("another")["Blocked"] == "Rejected"
    with pytest.raises(ValueError, match="unknown sender state"):
        sandbox.add_sender("X", "Allowed")


async def test_stat_originators_accepts_get_and_rejects_a_non_string(
    client: httpx.AsyncClient,
) -> None:
    """A GET lists all; a non-string sender_id is explained."""
    response = await client.get("/originators/stat-originators")
    assert response.status_code == 200
    assert "VashZakaz" in response.json()["success_request"]["info"]
    answer = await post(client, "/originators/stat-originators", {"sender_id": 5})
    assert answer == {
        "success_request": {"add_info": {"sender_id": "Sender Name must be a string."}}
    }


async def test_originator_list_may_be_empty(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """With no Approved name the list is present and empty."""
    for name in ("VashZakaz", "test1", "test2"):
        sandbox.add_sender(name, "Rejected")
    assert await post(client, "/sms/originator") == {"success_request": {"info": []}}
