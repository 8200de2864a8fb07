"""The SMS Club sandbox against its reference, driven with plain httpx (not our client).

Every service address of ``smsclub-json-api.en.txt`` with the documented JSON
request (Bearer token), against the documented answer shape; the documented
HTTP statuses (401, 453); and the hostile bodies of issue 13 (a 5,000-digit
``lifetime``) in process and over loopback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import (
    DELIVERY_STATUSES,
    ManualClock,
    Sandbox,
    SandboxApp,
    SandboxConfig,
    SandboxTransport,
    serve,
)

TOKEN = "your_token"
URL = "https://im.smsclub.mobi"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock(1000.0)


@pytest.fixture
def smsclub(clock: ManualClock) -> Sandbox:
    """The sandbox without its rate limit (the clock stands still)."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock)
    sandbox.add_blacklist("380989361130", token=TOKEN)
    return sandbox


@pytest.fixture
async def http(smsclub: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Plain httpx, in process, with the documented Bearer header."""
    async with httpx.AsyncClient(
        transport=SandboxTransport(smsclub), base_url=URL, headers=AUTH
    ) as client:
        yield client


def info(answer: httpx.Response) -> Any:
    """``success_request.info`` of a 200 answer."""
    assert answer.status_code == 200, answer.text
    return answer.json()["success_request"]["info"]


def add_info(answer: httpx.Response) -> Any:
    """``success_request.add_info`` of an answer."""
    return answer.json()["success_request"]["add_info"]


# ----------------------------------------------------------------- the documented examples


async def test_send_example(http: httpx.AsyncClient) -> None:
    """/sms/send: ``info`` maps the new message id to the number."""
    body = {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "test text"}
    sent = info(await http.post("/sms/send", json=body))
    ((message_id, phone),) = sent.items()
    assert message_id.isdigit()
    assert phone == "380989361131"


async def test_partial_send_example(http: httpx.AsyncClient) -> None:
    """A blacklisted number: ``info`` for the sent one, ``add_info`` with the documented text."""
    body = {
        "phone": ["380989361131", "380989361130"],
        "src_addr": "VashZakaz",
        "message": "test api",
    }
    answer = await http.post("/sms/send", json=body)
    assert list(info(answer).values()) == ["380989361131"]
    assert add_info(answer) == {"380989361130": "This number is in the black list"}


async def test_bad_sender_example(http: httpx.AsyncClient) -> None:
    """An unknown src_addr: ``add_info.src_addr`` "Sender name is incorrect", nothing sent."""
    body = {"phone": ["380989361131"], "src_addr": "Nobody", "message": "t"}
    answer = await http.post("/sms/send", json=body)
    assert answer.json() == {
        "success_request": {"add_info": {"src_addr": "Sender name is incorrect"}}
    }


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("src_addr", "Sender Name cannot be blank."),
        ("phone", "Phone number cannot be blank."),
        ("message", "Message cannot be blank."),
    ],
)
async def test_blank_fields_have_the_documented_texts(
    http: httpx.AsyncClient, field: str, text: str
) -> None:
    """The RU->EN table: a missing field is named with its documented English text."""
    body: dict[str, Any] = {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "t"}
    del body[field]
    assert add_info(await http.post("/sms/send", json=body))[field] == text


async def test_personalised_send_example(http: httpx.AsyncClient, smsclub: Sandbox) -> None:
    """/v2/sms/send: the documented body (lifetime as the string "60"), one id per pair."""
    body = {
        "src_addr": "VashZakaz",
        "lifetime": "60",
        "data_message": [
            {"phone": "380980000001", "message": "test 1"},
            {"phone": "380980000002", "message": "test 2"},
        ],
    }
    sent = info(await http.post("/v2/sms/send", json=body))
    assert sorted(sent.values()) == ["380980000001", "380980000002"]
    assert sorted(m.text for m in smsclub.messages()) == ["test 1", "test 2"]


async def test_status_example(http: httpx.AsyncClient, clock: ManualClock) -> None:
    """/sms/status: ``info`` maps each id to a documented status, ENROUTE first."""
    body = {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "t"}
    (message_id,) = info(await http.post("/sms/send", json=body))
    assert info(await http.post("/sms/status", json={"id_sms": [message_id]})) == {
        message_id: "ENROUTE"
    }
    clock.advance(60.0)
    final = info(await http.post("/sms/status", json={"id_sms": [message_id]}))[message_id]
    assert final in DELIVERY_STATUSES[1:]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_originator_example(http: httpx.AsyncClient, method: str) -> None:
    """/sms/originator without a body: a list of the account's names."""
    names = info(await http.request(method, "/sms/originator"))
    assert isinstance(names, list)
    assert {"test1", "test2"} <= set(names)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_balance_example(http: httpx.AsyncClient, method: str) -> None:
    """/sms/balance: money with four decimals, as a string, and the currency."""
    balance = info(await http.request(method, "/sms/balance"))
    assert set(balance) == {"money", "currency"}
    assert re.fullmatch(r"\d+\.\d{4}", balance["money"])
    assert balance["currency"] == "UAH"


async def test_sender_registration_example(http: httpx.AsyncClient) -> None:
    """/originators/registration-originators: the name, "Being moderated"."""
    body = {
        "sender_id": "test_new",
        "company_type": "fop",
        "company": "Sms-api",
        "inn": "133323",
        "okpo": "",
        "subject": "Информирование постоянных клиентов об акциях.",
        "description": "Магазин бытовой техники",
        "site": "https://google.com",
    }
    answer = await http.post("/originators/registration-originators", json=body)
    assert info(answer) == {"originator": "test_new", "status": "Being moderated"}
    blank = await http.post(
        "/originators/registration-originators", json={**body, "sender_id": "x2", "company": ""}
    )
    assert add_info(blank) == {"company": "Legal name of the company cannot be blank."}


async def test_sender_status_examples(http: httpx.AsyncClient) -> None:
    """/originators/stat-originators: all names, one name, an unknown name."""
    every = info(await http.post("/originators/stat-originators"))
    assert every["test_an"] == "Being moderated"
    assert every["test1"] == "Approved"
    one = await http.post("/originators/stat-originators", json={"sender_id": "test_an"})
    assert info(one) == {"test_an": "Being moderated"}
    unknown = await http.post("/originators/stat-originators", json={"sender_id": "test_nssnn"})
    assert add_info(unknown) == {"test_nssnn": "Error. Data not found"}


# ----------------------------------------------------------------- the documented statuses


async def test_no_token_is_401(smsclub: Sandbox) -> None:
    """401: the user is not recognised."""
    async with httpx.AsyncClient(transport=SandboxTransport(smsclub), base_url=URL) as http:
        assert (await http.post("/sms/balance")).status_code == 401


async def test_the_same_send_twice_is_453(http: httpx.AsyncClient) -> None:
    """453: the same message again within two minutes."""
    body = {"phone": ["380989361131"], "src_addr": "VashZakaz", "message": "same"}
    assert (await http.post("/sms/send", json=body)).status_code == 200
    assert (await http.post("/sms/send", json=body)).status_code == 453


# ----------------------------------------------------------------- issue 13, item 12


HUGE_LIFETIMES = [
    pytest.param(b"9" * 5000, id="number"),
    pytest.param(b'"' + b"9" * 5000 + b'"', id="string"),
]


def _huge_body(lifetime: bytes) -> bytes:
    return (
        b'{"phone":["380989361131"],"src_addr":"VashZakaz","message":"t","lifetime":'
        + lifetime
        + b"}"
    )


@pytest.mark.parametrize("lifetime", HUGE_LIFETIMES)
async def test_a_5000_digit_lifetime_is_a_validation_answer_in_process(
    http: httpx.AsyncClient, smsclub: Sandbox, lifetime: bytes
) -> None:
    """Through SandboxTransport: the lifetime is "not an integer" (no bare ValueError)."""
    answer = await http.post(
        "/sms/send", content=_huge_body(lifetime), headers={"content-type": "application/json"}
    )
    assert add_info(answer) == {"lifetime": "Lifetime must be an integer."}
    assert smsclub.messages() == []


@pytest.mark.parametrize("lifetime", HUGE_LIFETIMES)
async def test_a_5000_digit_lifetime_is_a_validation_answer_over_loopback(
    smsclub: Sandbox, lifetime: bytes
) -> None:
    """Over a socket: the same validation answer, not 431."""
    async with (
        serve(smsclub) as server,
        httpx.AsyncClient(base_url=server.url, headers=AUTH) as http,
    ):
        answer = await http.post(
            "/sms/send", content=_huge_body(lifetime), headers={"content-type": "application/json"}
        )
    assert answer.status_code != 431
    assert add_info(answer) == {"lifetime": "Lifetime must be an integer."}


async def test_the_asgi_app_answers_the_documented_examples(smsclub: Sandbox) -> None:
    """SandboxApp (ASGI) gives the same answers."""
    transport = httpx.ASGITransport(app=SandboxApp(smsclub))
    async with httpx.AsyncClient(transport=transport, base_url=URL, headers=AUTH) as http:
        assert set(info(await http.get("/sms/balance"))) == {"money", "currency"}


# ----------------------------------------------------------------- the overview page


async def test_the_overview_send_example(http: httpx.AsyncClient) -> None:
    """smsclub-api-overview: the same send, its fields in another order."""
    body = (
        b'{\n    "phone" : ["380989361131"],\n    "message" : "test text",\n'
        b'    "src_addr" : "VashZakaz"\n}'
    )
    answer = await http.post("/sms/send", content=body)
    assert list(info(answer).values()) == ["380989361131"]


async def test_the_overview_status_example_with_its_trailing_comma(
    http: httpx.AsyncClient,
) -> None:
    """The overview's status body ends ``["107"],}``: PHP's json_decode (Yii2) refuses it.

    The reference is silent on what the gateway answers; the emulator answers as a
    Yii2 application does to a body json_decode cannot read.
    """
    answer = await http.post("/sms/status", content=b'{\n    "id_sms" : ["107"],\n}')
    assert answer.status_code == 400
    assert answer.json()["message"] == "Invalid JSON data in request body: Syntax error."
