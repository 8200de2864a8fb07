"""Authentication, accounts, methods, bodies and the Yii2 error shape."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from smsclub_async.sandbox import (
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxRequest,
    SandboxTransport,
)

from .sandbox_helpers import post, send_body

UNAUTHORIZED = {
    "name": "Unauthorized",
    "message": "Your request was made with invalid credentials.",
    "code": 0,
    "status": 401,
}


def _client(sandbox: Sandbox, token: str | None = None) -> httpx.AsyncClient:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(
        transport=SandboxTransport(sandbox), base_url="https://x", headers=headers
    )


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "bearer t", "Basic dDp0", "Token t"]
)
async def test_missing_or_malformed_credentials_are_401(
    sandbox: Sandbox, authorization: str | None
) -> None:
    """No bearer token (the scheme is case-sensitive, as in Yii2) is a 401 in Yii2's shape."""
    headers = {} if authorization is None else {"Authorization": authorization}
    async with _client(sandbox) as client:
        response = await client.post("/sms/balance", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert sandbox.messages() == []


async def test_only_listed_tokens_are_accepted(clock: ManualClock) -> None:
    """Sandbox(tokens=...) accepts those tokens only."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), tokens=["good"], clock=clock)
    async with _client(sandbox, "good") as good, _client(sandbox, "bad") as bad:
        assert (await good.post("/sms/balance")).status_code == 200
        response = await bad.post("/sms/send", json=send_body("380989361131"))
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
    assert sandbox.messages() == []
    assert sandbox.stats("bad").statuses == {401: 1}


async def test_each_token_is_its_own_account(sandbox: Sandbox) -> None:
    """Balances, senders and messages are per token; ids are global."""
    async with _client(sandbox, "a") as a, _client(sandbox, "b") as b:
        await post(a, "/sms/send", send_body("380989361131", message="a" * 161))
        await post(b, "/sms/send", send_body("380989361131"))
        await post(
            a,
            "/originators/registration-originators",
            {
                "sender_id": "OnlyA",
                "company_type": "tov",
                "company": "c",
                "okpo": "1",
                "subject": "s",
                "description": "d",
                "site": "s",
            },
        )
    assert sandbox.balance("a") == Decimal("999")
    assert sandbox.balance("b") == Decimal("999.5")
    assert [m.id for m in sandbox.messages("a")] == ["100"]
    assert [m.id for m in sandbox.messages("b")] == ["101"]
    assert "OnlyA" in sandbox.senders("a")
    assert "OnlyA" not in sandbox.senders("b")
    assert sandbox.deliveries() == {"380989361131": 2}
    assert sandbox.deliveries("a") == {"380989361131": 1}


async def test_set_balance_for_everyone_includes_later_accounts(sandbox: Sandbox) -> None:
    """token=None edits apply to existing and future accounts."""
    sandbox.balance("early")
    sandbox.set_balance(Decimal("5"))
    assert sandbox.balance("early") == Decimal("5.0000")
    assert sandbox.balance("late") == Decimal("5.0000")
    sandbox.set_balance(0.1, token="late")
    assert sandbox.balance("late") == Decimal("0.1")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "Invalid JSON data in request body: Syntax error."),
        (b'"a string"', 400, "Invalid JSON data in request body: a JSON object is expected."),
        (b"[1, 2]", 400, "Invalid JSON data in request body: a JSON object is expected."),
        (b"\xff\xfe", 400, "Invalid JSON data in request body: Syntax error."),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_400(
    client: httpx.AsyncClient, body: bytes, status: int, message: str
) -> None:
    """Not JSON, or JSON but not an object: 400 in Yii2's shape."""
    response = await client.post("/sms/send", content=body)
    assert response.status_code == status
    assert response.json() == {
        "name": "Bad Request",
        "message": message,
        "code": 0,
        "status": status,
    }


@pytest.mark.parametrize("body", [b"", b"  ", b"[]", b"{}"])
async def test_empty_bodies_mean_no_parameters(client: httpx.AsyncClient, body: bytes) -> None:
    """An empty body, or PHP's empty array, is no parameters: validation errors, not 400."""
    response = await client.post("/sms/send", content=body)
    assert response.status_code == 200
    assert set(response.json()["success_request"]["add_info"]) == {"src_addr", "message", "phone"}


@pytest.mark.parametrize(
    "path", ["/sms/balance", "/sms/originator", "/originators/stat-originators"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_body_less_endpoints_take_get_or_empty_post(
    client: httpx.AsyncClient, path: str, method: str
) -> None:
    """The three body-less endpoints answer a GET and an empty POST."""
    response = await client.request(method, path)
    assert response.status_code == 200
    assert "info" in response.json()["success_request"]


@pytest.mark.parametrize(
    "path",
    ["/sms/send", "/v2/sms/send", "/sms/status", "/originators/registration-originators"],
)
async def test_get_on_a_post_endpoint_is_405(client: httpx.AsyncClient, path: str) -> None:
    """Endpoints with a body accept POST only."""
    response = await client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["name"] == "Method Not Allowed"


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    """Paths the gateway does not have are 404, even with a good token."""
    response = await client.post("/sms/sendd", json={})
    assert response.status_code == 404
    assert response.json() == {
        "name": "Not Found",
        "message": "Page not found.",
        "code": 0,
        "status": 404,
    }


async def test_body_size_limit(clock: ManualClock) -> None:
    """A body over max_body is 413."""
    sandbox = Sandbox(SandboxConfig(max_body=10, rate_limit=None), clock=clock)
    async with _client(sandbox, "t") as client:
        response = await client.post("/sms/send", json=send_body("380989361131"))
    assert response.status_code == 413


def test_handle_is_usable_without_http(sandbox: Sandbox) -> None:
    """The core answers a SandboxRequest directly, at the time it is given."""
    request = SandboxRequest.build("post", "/sms/balance", [("Authorization", "Bearer t")], b"")
    response = sandbox.handle(request, now=5.0)
    assert response.status == 200
    assert response.disposition == "respond"
    assert response.body == b'{"success_request":{"info":{"money":"1000.0000","currency":"UAH"}}}'
    assert sandbox.stats("t").arrivals[0].at == 5.0


def test_config_is_validated() -> None:
    """Nonsense configuration fails early."""
    with pytest.raises(ValueError, match="unknown state"):
        SandboxConfig(senders={"X": "Allowed"})
    with pytest.raises(ValueError, match="rate_limit"):
        SandboxConfig(rate_limit=0)
    with pytest.raises(ValueError, match="rate_period"):
        SandboxConfig(rate_period=0)
    with pytest.raises(ValueError, match="delivery_delay"):
        SandboxConfig(delivery_delay=-1)
