"""Every request and answer in shared/reference/smstele-rex400-http-api.ru.md.

The answers are copied from the document. Where its formatting broke the JSON
(example 2 is split across two code blocks with a stray quote, the status
example lacks its closing brace, the templates end lists with ``{ }``), the
repair is named at the constant. Each request is replayed against the emulator
the way the document's curl sends it (login and psw in the URL, the rest as a
POST body), and the emulator answers the documented shape.
"""

from __future__ import annotations

import json

import httpx
import pytest

from smsclub_async import AuthenticationError, DeliveryStatus, ValidationError
from smsclub_async._decoding import decode as decode_json
from smsclub_async.gateways._smstele_wire import (
    ErrorAnswer,
    SendAnswer,
    StatusAnswer,
    delivery_status,
    error_for,
    parse_error,
)
from smsclub_async.sandbox import ManualClock
from smsclub_async.sandbox.gateways import GatewayTransport, SmsteleSandbox

ERROR_1 = b'{  \n  "error": "-22",  \n  "description": "No password"  \n}'
ERROR_2 = (
    b'{  \n  "error": "-35",  \n  "description": "Invalid attribute: '
    b"'id=custom-message-id-test-11-too-long-1234567890abcdefghijklmnopqrstuvwxyz'\"  \n}"
)
ERROR_3 = b'{  \n  "error": "-25",  \n  "description": "Invalid attribute: \'phones=\'"  \n}'
ERROR_4 = b'{  \n  "error": "-24",  \n  "description": "Missing attribute: \'phones\'"  \n}'

# The request halves as the document's curl commands send them: (query, body).
REQUEST_1 = ("login=test:http", "mes=Test message 1&id=custom-message-id-test-11")
REQUEST_2 = (
    "login=test:http&psw=~test123",
    "charset=windows-1251&mes=Test message 1"
    "&id=custommessage-id-test-11-too-long-1234567890abcdefghijklmnopqrstuvwxyz",
)
REQUEST_3 = (
    "login=test:http&psw=~test123",
    "phones=&mes=Test message 1&id=custom-message-id-test-11",
)
REQUEST_4 = ("login=test:http&psw=~test123", "mes=Test message 1&id=custom-message-id-test-11")

SUCCESS_1 = b"""{
"id": "custom-message-id-test-21",
"cnt": "1",
"messages": [
{
"id": "custom-message-id-test-21",
"phone": "79160001234",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "mMTS",
"region": "77",
"mnc": "01"
}
]
}"""

# Joined from its two code blocks; the stray '"' line between them removed.
SUCCESS_2 = b"""{
"id": "custom-message-id-test-22",
"cnt": "2",
"messages": [
{
"id": "custom-message-id-test-22",
"phone": "79160001234",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "mMTS",
"region": "77",
"mnc": "01"
},
{
"id": "custom-message-id-test-22",
"phone": "79072233645",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "",
"region": "",
"mnc": ""
},
{
"id": "custom-message-id-test-22",
"phone": "79676771707",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "",
"region": "",
"mnc": ""
},
{
"id": "custom-message-id-test-22",
"phone": "79260004567",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "mMEGAFON",
"region": "77",
"mnc": "02"
}
]
}
"""

# Verbatim: the body ends with "]", the closing "}" is missing in the document.
STATUS_EXAMPLE = b"""{
"results": [
{
"id": "custom-message-id-test-22",
"phone": "79160001234",
"sender": "REX400.RU",
"status": "-99",
"err": "-99",
"stat": "DELIVRD",
"type": "1",
"send_timestamp": "2018-06-04 18:41:09+03",
"last_timestamp": "2018-06-04 18:41:09+03",
"operator": "mMTS",
"region": "77",
"mnc": "01"
},
{
"id": "custom-message-id-test-22",
"phone": "79260004567",
"sender": "REX400.RU",
"status": "-99",
"err": "-99",
"stat": "DELIVRD",
"type": "1",
"send_timestamp": "2018-06-04 18:41:10+03",
"last_timestamp": "2018-06-04 18:41:10+03",
"operator": "mMEGAFON",
"region": "77",
"mnc": "02"
}
]
"""

# The success template, placeholders filled in; it ends its list with "{ }".
SUCCESS_TEMPLATE = b"""{
  "id": "x",
  "cnt": "1",
  "messages": [
    {
"id": "x",
"phone": "79160001234",
"status": "-99",
"error": "-99",
"cnt": "1",
"operator": "mMTS",
"region": "77",
"mnc": "01"
},
{
}
]
}"""


async def replay(sandbox: SmsteleSandbox, path: str, query: str, body: str) -> httpx.Response:
    """POST ``body`` to ``path?query`` as curl -d does (form-encoded, bytes as given)."""
    async with httpx.AsyncClient(
        transport=GatewayTransport(sandbox), base_url="http://rexsmsc.rex400.ru:8881"
    ) as http:
        return await http.post(
            f"{path}?{query}",
            content=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "code", "cls", "field"),
    [
        (ERROR_1, "-22", AuthenticationError, None),
        (ERROR_2, "-35", ValidationError, "id"),
        (ERROR_3, "-25", ValidationError, "phones"),
        (ERROR_4, "-24", ValidationError, "phones"),
    ],
    ids=["no-password", "long-id", "empty-phones", "missing-phones"],
)
def test_documented_error_answers_decode(
    body: bytes, code: str, cls: type[Exception], field: str | None
) -> None:
    """Each error answer decodes; -24 "Missing attribute" is a validation error, not an IP ban."""
    answer = parse_error(body)
    assert answer is not None
    assert answer.error == code
    error = error_for(answer, endpoint="/cgibin/sendsms", scrub=lambda t: t)
    assert type(error) is cls
    assert error.fields["error_code"] == code
    if field is not None:
        assert field in error.fields


@pytest.mark.parametrize(
    ("path", "request_halves", "documented"),
    [
        ("/cgi-bin/sendsms", REQUEST_1, ERROR_1),
        ("/cgi-bin/sendsms", REQUEST_2, ERROR_2),
        ("/cgi-bin/sendsms", REQUEST_3, ERROR_3),
        ("/cgi-bin/sendsms", REQUEST_4, ERROR_4),
    ],
    ids=["no-password", "long-id", "empty-phones", "missing-phones"],
)
async def test_the_emulator_answers_the_documented_errors(
    path: str, request_halves: tuple[str, str], documented: bytes
) -> None:
    """The four documented requests get the four documented answers (code and words).

    Example 2's answer quotes the id as ``custom-message-id-...`` while its request
    sent ``custommessage-id-...``: a typo in the document; the emulator quotes what
    was sent.
    """
    answer = await replay(SmsteleSandbox(), path, *request_halves)
    got = answer.json()
    expected = json.loads(documented)
    assert got["error"] == expected["error"]
    assert got["description"].replace("custommessage", "custom-message") == expected["description"]


# ----------------------------------------------------------------- sends


def test_success_examples_decode() -> None:
    """Example 1 and 2 (repaired as noted) decode with every recipient field."""
    one = decode_json(SendAnswer, SUCCESS_1)
    assert (one.id, one.cnt) == ("custom-message-id-test-21", "1")
    [entry] = one.recipients()
    assert (entry.phone, entry.operator, entry.region, entry.mnc) == (
        "79160001234",
        "mMTS",
        "77",
        "01",
    )
    two = decode_json(SendAnswer, SUCCESS_2)
    assert [r.operator for r in two.recipients()] == ["mMTS", "", "", "mMEGAFON"]


def test_the_template_with_its_empty_entry_decodes() -> None:
    """The template's trailing ``{ }`` is no recipient."""
    answer = decode_json(SendAnswer, SUCCESS_TEMPLATE)
    assert [r.phone for r in answer.recipients()] == ["79160001234"]


async def test_the_emulator_answers_example_1() -> None:
    """Example 1: one recipient, mMTS. (The request's id lacks a dash the answer has: a typo.)"""
    answer = await replay(
        SmsteleSandbox(),
        "/cgibin/sendsms",
        "login=test:http&psw=~test123",
        "phones=79160001234&mes=Test message 1&id=custom-message-id-test-21",
    )
    assert answer.json() == json.loads(SUCCESS_1)


async def test_the_emulator_answers_example_2_exactly() -> None:
    """Example 2: four recipients, two unroutable (no operator), top-level cnt "2"."""
    answer = await replay(
        SmsteleSandbox(),
        "/cgibin/sendsms",
        "login=test:http&psw=~test123",
        "phones=79160001234,79072233645,79676771707,79260004567&mes=Test message 1"
        "&id=custom-message-id-test-22",
    )
    assert answer.json() == json.loads(SUCCESS_2)


# ----------------------------------------------------------------- status


def test_the_status_example_decodes_despite_its_missing_brace() -> None:
    """The example's body is cut short; the decoder closes it and reads both results."""
    entries = decode_json(StatusAnswer, STATUS_EXAMPLE).entries()
    assert [(e.phone, e.stat, e.operator) for e in entries] == [
        ("79160001234", "DELIVRD", "mMTS"),
        ("79260004567", "DELIVRD", "mMEGAFON"),
    ]
    assert delivery_status(entries[0].stat) is DeliveryStatus.DELIVRD


async def test_the_emulator_answers_the_status_example() -> None:
    """After example 2, status by id lists the two routed numbers as in the document."""
    clock = ManualClock(1000.0)
    sandbox = SmsteleSandbox(clock=clock)
    await replay(
        sandbox,
        "/cgibin/sendsms",
        "login=test:http&psw=~test123",
        "phones=79160001234,79072233645,79676771707,79260004567&mes=Test message 1"
        "&id=custom-message-id-test-22",
    )
    clock.advance(5.0)
    answer = await replay(
        sandbox, "/cgibin/status", "login=test:http&psw=~test123", "id=custom-message-id-test-22"
    )
    got = answer.json()["results"]
    expected = decode_json(StatusAnswer, STATUS_EXAMPLE).entries()
    stamps = {"send_timestamp", "last_timestamp"}
    for mine, theirs in zip(got, expected, strict=True):
        assert set(mine) == set(theirs.__struct_fields__)
        assert {k: v for k, v in mine.items() if k not in stamps} == {
            f: getattr(theirs, f) for f in theirs.__struct_fields__ if f not in stamps
        }
        assert mine["send_timestamp"].endswith("+03")


def test_error_answers_are_not_mistaken_for_success() -> None:
    """A send answer (errors only per recipient) is not an error answer."""
    assert parse_error(SUCCESS_2) is None
    assert parse_error(STATUS_EXAMPLE) is None
    assert decode_json(ErrorAnswer, ERROR_1).description == "No password"
