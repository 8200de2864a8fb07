"""Every REX400 error code: its exception, its documented meaning, and the emulator's way to it."""

from __future__ import annotations

import dataclasses
import json

import pytest

from smsclub_async import (
    APIError,
    AuthenticationError,
    InsufficientFundsError,
    ServerError,
    ValidationError,
)
from smsclub_async.gateways import SmsteleClient
from smsclub_async.gateways._smstele_wire import ERRORS, ErrorAnswer, error_for, refusal_for
from smsclub_async.sandbox.gateways import (
    FormRequest,
    GatewayTransport,
    SmsteleConfig,
    SmsteleSandbox,
)

from .conftest import REX_LOGIN, REX_PASSWORD, REX_READ, REX_SEND, rex_client

TABLE = [
    (-1, "REXSMSCE_SYSERR", ServerError, "system error"),
    (-2, "REXSMSCE_NOMEMORY", ServerError, "out of memory"),
    (-6, "REXSMSCE_NYI", APIError, "not yet implemented"),
    (-21, "REXSMSCE_MISSING_LOGIN", AuthenticationError, "no login"),
    (-22, "REXSMSCE_MISSING_PASSWORD", AuthenticationError, "no password"),
    (-23, "REXSMSCE_INVALID_LOGIN_OR_PASS", AuthenticationError, "invalid login or password"),
    (-24, "REXSMSCE_IP_NOT_ALLOWED", AuthenticationError, "requests from this IP address"),
    (-25, "REXSMSCE_MISSING_DESTINATION_ADDRESS", ValidationError, "no destination number"),
    (-26, "REXSMSCE_INVALID_DESTINATION_ADDRESS", ValidationError, "invalid destination number"),
    (-27, "REXSMSCE_MISSING_TEXT", ValidationError, "no message text"),
    (-28, "REXSMSCE_INVALID_VALIDITY", ValidationError, "invalid validity"),
    (-29, "REXSMSCE_INVALID_DEFERRED", ValidationError, "invalid deferred time"),
    (-30, "REXSMSCE_INVALID_PRIORITY", ValidationError, "invalid priority"),
    (-31, "REXSMSCE_INVALID_SENDER", ValidationError, "invalid sender name"),
    (-32, "REXSMSCE_SENDER_NOT_ALLOWED", ValidationError, "the sender name is not allowed"),
    (-33, "REXSMSCE_INVALID_CHARSET", ValidationError, "invalid charset"),
    (-34, "REXSMSCE_MISSING_MESSAGE_ID", ValidationError, "no message id"),
    (-35, "REXSMSCE_INVALID_MESSAGE_ID", ValidationError, "invalid message id"),
    (-41, "REXSMSCE_TOO_LONG_TEXT", ValidationError, "the text is too long"),
    (-42, "REXSMSCE_TOO_MANY_SEGMENTS", ValidationError, "the text needs too many SMS parts"),
    (-43, "REXSMSCE_NOT_ENOUGH_CREDITS", InsufficientFundsError, "not enough credits"),
]


@pytest.mark.parametrize(("code", "name", "cls", "meaning"), TABLE)
def test_each_documented_code_maps_to_its_exception(
    code: int, name: str, cls: type[APIError], meaning: str
) -> None:
    """The table: code -> exception class, the documented name, its meaning, the code."""
    error = error_for(
        ErrorAnswer(error=str(code), description="from the gateway"), endpoint="/x", scrub=str
    )
    assert type(error) is cls
    assert f"SMStele error {code} {name} ({meaning}" in str(error)
    assert "from the gateway" in str(error)
    assert error.fields["error_code"] == str(code)


def test_the_table_covers_every_documented_negative_code() -> None:
    """All 21 negative codes of the document's list (0, NOERROR, is no error)."""
    assert sorted(ERRORS) == sorted(code for code, *_ in TABLE)


def test_minus_24_is_read_by_its_description() -> None:
    """The table says IP_NOT_ALLOWED; example 4 uses it for a missing attribute."""
    missing = ErrorAnswer(error="-24", description="Missing attribute: 'phones'")
    banned = ErrorAnswer(error="-24", description="IP address not allowed")
    assert type(error_for(missing, endpoint="/x", scrub=str)) is ValidationError
    assert type(error_for(banned, endpoint="/x", scrub=str)) is AuthenticationError


@pytest.mark.parametrize(("code", "retry"), [(-1, True), (-2, True), (-22, False), (-43, False)])
def test_only_the_gateways_own_troubles_are_retried(code: int, retry: bool) -> None:
    """-1 and -2 ("request rejected" by a system error) are retried; the rest are final."""
    refusal = refusal_for(ErrorAnswer(error=str(code)), endpoint="/x", scrub=str)
    assert refusal.retry is retry


def test_an_undocumented_code_is_a_plain_api_error() -> None:
    """A code outside the list still raises, as APIError."""
    error = error_for(ErrorAnswer(error="-77"), endpoint="/x", scrub=str)
    assert type(error) is APIError
    assert "undocumented" in str(error)


# ----------------------------------------------------------------- produced by the emulator

SEND_CASES = [
    # (code, how to make the emulator answer it: client kwargs, send kwargs, config)
    (-23, {"password": "wrong"}, {}, {}),
    (-24, {}, {}, {"blocked_logins": frozenset({REX_LOGIN})}),
    (-29, {}, {"deferred": "tomorrow"}, {}),
    (-31, {}, {"sender": "bad sender name!"}, {}),
    (-32, {}, {"sender": "Stranger"}, {}),
    (-35, {}, {"message_id": "x" * 65}, {}),
    (-41, {}, {"message": "x" * 2001}, {}),
    (-42, {}, {"message": "ж" * 700}, {}),
    (-43, {}, {}, {"credits": 0}),
]


@pytest.mark.parametrize(("code", "client_kwargs", "send_kwargs", "config"), SEND_CASES)
async def test_the_emulator_produces_each_code_and_the_client_raises_it(
    code: int,
    client_kwargs: dict[str, str],
    send_kwargs: dict[str, object],
    config: dict[str, object],
) -> None:
    """A request that is wrong in the documented way is refused with the code's exception."""
    sandbox = SmsteleSandbox(SmsteleConfig(**config))  # type: ignore[arg-type]
    phones = send_kwargs.pop("phones", "79160001234")
    message = send_kwargs.pop("message", "Hi")
    password = client_kwargs.get("password", REX_PASSWORD)
    expected = next(row for row in TABLE if row[0] == code)
    async with SmsteleClient(
        REX_LOGIN, password, transport=GatewayTransport(sandbox), send_retry=REX_SEND
    ) as rex:
        with pytest.raises(expected[2]) as caught:
            await rex.send(str(phones), str(message), **send_kwargs)  # type: ignore[arg-type]
    assert caught.value.fields["error_code"] == str(code)
    assert set(caught.value.partial.failed) == {"79160001234"}
    assert not sandbox.messages()


async def test_codes_the_client_never_provokes(rex_sandbox: SmsteleSandbox) -> None:
    """Requests the client refuses itself, sent raw: -21, -22, -26, -27, -28, -30, -33, -34."""

    def ask(path: str, body: str) -> str:
        form = "application/x-www-form-urlencoded"
        request = FormRequest("POST", path, "", {"content-type": form}, body.encode())
        return str(json.loads(rex_sandbox.handle(request, 0.0).body)["error"])

    assert ask("/cgibin/sendsms", "psw=x&phones=79160001234&mes=a") == "-21"
    assert ask("/cgibin/sendsms", "login=x&phones=79160001234&mes=a") == "-22"
    auth = f"login={REX_LOGIN}&psw={REX_PASSWORD}"
    assert ask("/cgibin/sendsms", f"{auth}&phones=79160001234") == "-27"
    assert ask("/cgibin/sendsms", f"{auth}&phones=79160001234&mes=a&charset=latin-9") == "-33"
    assert ask("/cgibin/status", auth) == "-34"
    assert ask("/cgibin/sendsms", f"{auth}&phones=79160001234&mes=a&priority=high") == "-30"
    assert ask("/cgibin/sendsms", f"{auth}&phones=7916000123a&mes=a") == "-26"
    assert ask("/cgibin/sendsms", f"{auth}&phones=79160001234&mes=a&validity=1h") == "-28"


@pytest.mark.parametrize("code", [-1, -2])
async def test_system_errors_are_retried(code: int, rex_sandbox: SmsteleSandbox) -> None:
    """-1/-2 then success: the message goes out once."""
    rex_sandbox.script([code, code])
    async with rex_client(rex_sandbox) as rex:
        result = await rex.send("79160001234", "Hi")
        assert rex.stats.retries == 2
    assert result.ok
    assert rex_sandbox.deliveries() == {"79160001234": 1}


async def test_not_yet_implemented_is_final(rex_sandbox: SmsteleSandbox) -> None:
    """-6: APIError, no retry."""
    rex_sandbox.script([-6])
    async with rex_client(rex_sandbox, retry=dataclasses.replace(REX_READ)) as rex:
        with pytest.raises(APIError, match="not yet implemented"):
            await rex.status("some-id")
    assert len(rex_sandbox.requests) == 1
