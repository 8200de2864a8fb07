"""/sms/status and the delivery lifecycle, on a manual clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import (
    LastDigitStatus,
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxTransport,
)

from .sandbox_helpers import post, send_body


async def test_enroute_then_final(
    client: httpx.AsyncClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """ENROUTE until delivery_delay (0.5 s) has passed, then DELIVRD, or UNDELIV for ...9."""
    await post(client, "/sms/send", send_body("380989361131", "380989361139"))
    ids = {"id_sms": ["100", "101"]}
    assert (await post(client, "/sms/status", ids))["success_request"]["info"] == {
        "100": "ENROUTE",
        "101": "ENROUTE",
    }
    clock.advance(0.499)
    assert [m.status for m in sandbox.messages()] == ["ENROUTE", "ENROUTE"]
    clock.advance(0.001)
    assert (await post(client, "/sms/status", ids))["success_request"]["info"] == {
        "100": "DELIVRD",
        "101": "UNDELIV",
    }


async def test_final_status_is_configurable(clock: ManualClock) -> None:
    """final_status maps a phone to its fate; lifetime shorter than the delay expires."""
    config = SandboxConfig(
        rate_limit=None,
        delivery_delay=600,
        final_status=LastDigitStatus({"1": "REJECTD", "2": "UNDELIV"}, default="DELIVRD"),
    )
    sandbox = Sandbox(config, clock=clock)
    async with httpx.AsyncClient(
        transport=SandboxTransport(sandbox),
        base_url="https://x",
        headers={"Authorization": "Bearer t"},
    ) as client:
        await post(client, "/sms/send", send_body("380000000001", "380000000002", "380000000003"))
        await post(client, "/sms/send", {**send_body("380000000004"), "lifetime": 5})
        await post(client, "/sms/send", {**send_body("380000000005", message="x"), "lifetime": 10})
        clock.advance(300)
        ids = {"id_sms": ["100", "101", "102", "103", "104"]}
        info = (await post(client, "/sms/status", ids))["success_request"]["info"]
        assert info == {
            "100": "ENROUTE",
            "101": "ENROUTE",
            "102": "ENROUTE",
            "103": "EXPIRED",
            "104": "ENROUTE",
        }
        clock.advance(300)
        info = (await post(client, "/sms/status", ids))["success_request"]["info"]
        assert info == {
            "100": "REJECTD",
            "101": "UNDELIV",
            "102": "DELIVRD",
            "103": "EXPIRED",
            "104": "DELIVRD",
        }


def test_last_digit_status_rejects_unknown_statuses() -> None:
    """Only final statuses can be configured."""
    with pytest.raises(ValueError, match="not a final status"):
        LastDigitStatus({"1": "ENROUTE"})


async def test_unknown_and_foreign_ids_are_not_found(client: httpx.AsyncClient) -> None:
    """Ids never issued, or issued to another token, go to add_info."""
    await client.post(
        "/sms/send",
        json=send_body("380989361131"),
        headers={"Authorization": "Bearer someone-else"},
    )
    answer = await post(client, "/sms/status", {"id_sms": [100, "999"]})
    assert answer == {
        "success_request": {
            "add_info": {"100": "Error. Data not found", "999": "Error. Data not found"}
        }
    }


async def test_ids_may_be_numbers(client: httpx.AsyncClient) -> None:
    """Ids are accepted as JSON numbers or strings; keys are strings."""
    await post(client, "/sms/send", send_body("380989361131"))
    answer = await post(client, "/sms/status", {"id_sms": [100]})
    assert answer == {"success_request": {"info": {"100": "ENROUTE"}}}


@pytest.mark.parametrize(
    ("body", "add_info"),
    [
        ({}, {"id_sms": "Id Sms cannot be blank."}),
        ({"id_sms": []}, {"id_sms": "Id Sms cannot be blank."}),
        (
            {"id_sms": "100"},
            {"id_sms": "Incorrect id_sms array or id_sms quantity greater than 100"},
        ),
        (
            {"id_sms": [str(i) for i in range(101)]},
            {"id_sms": "Incorrect id_sms array or id_sms quantity greater than 100"},
        ),
        (
            {"id_sms": [1.5]},
            {"id_sms": "Incorrect id_sms array or id_sms quantity greater than 100"},
        ),
    ],
)
async def test_status_request_errors(client: httpx.AsyncClient, body: Any, add_info: Any) -> None:
    """A bad id_sms is a 200 with an add_info keyed "id_sms"."""
    assert await post(client, "/sms/status", body) == {"success_request": {"add_info": add_info}}


async def test_status_accepts_100_ids(client: httpx.AsyncClient) -> None:
    """Exactly 100 ids is allowed."""
    answer = await post(client, "/sms/status", {"id_sms": [str(i) for i in range(100)]})
    assert len(answer["success_request"]["add_info"]) == 100
