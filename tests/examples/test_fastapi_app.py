"""examples/fastapi_app.py: the client lives in the lifespan, against the sandbox.

``asgi_lifespan.LifespanManager`` runs the application's lifespan (startup before the
first request, shutdown at the end of the block); a bare ``httpx.ASGITransport`` would
not, and the endpoints would find no client. (Starlette's ``TestClient`` would too,
but it runs the application on another thread's event loop and now warns about httpx.)
"""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("asgi_lifespan")

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from smsclub_async import SmsClub
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from ._load import load_example


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The application with its lifespan running, and an HTTP client to call it."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://app"
        ) as client,
    ):
        yield client


fastapi_app = load_example("fastapi_app")


def unique_token() -> str:
    """A token no other test uses, so the process-wide rate limiter starts empty."""
    return f"fastapi-{uuid.uuid4().hex}"


async def test_send_and_status_through_the_lifespan_client() -> None:
    """Startup opens one client, both endpoints use it against the sandbox, and
    shutdown closes it."""
    sandbox = Sandbox(SandboxConfig(delivery_delay=0.0))
    sandbox.add_blacklist("380989361130")
    app = fastapi_app.create_app(token=unique_token(), transport=SandboxTransport(sandbox))

    async with running(app) as client:
        sms = app.state.sms
        assert isinstance(sms, SmsClub)
        assert not sms.is_closed

        sent = await client.post(
            "/notifications",
            json={"phones": ["+38 (098) 936-11-31", "380989361130"], "message": "Order ready"},
        )
        assert sent.status_code == 200, sent.text
        outcome = sent.json()
        [(message_id, phone)] = outcome["sent"].items()
        assert phone == "380989361131"
        assert outcome["failed"] == {"380989361130": "This number is in the black list"}
        assert outcome["unknown"] == {}
        # The sandbox saw exactly that message, from the default sender.
        [message] = sandbox.messages()
        assert (message.id, message.phone, message.text, message.sender) == (
            message_id,
            "380989361131",
            "Order ready",
            "VashZakaz",
        )

        status = await client.get("/messages/status", params={"id": [message_id, "999"]})
        assert status.status_code == 200, status.text
        assert status.json() == {
            "statuses": {message_id: "DELIVRD"},
            "final": False,
            "missing": ["999"],
        }
        assert app.state.sms is sms, "one client for the application, not one per request"

    assert sms.is_closed, "shutdown must close the client"


async def test_sandbox_env_var_selects_the_in_process_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SMSCLUB_SANDBOX=1`` with no token or transport runs against a private sandbox."""
    monkeypatch.setenv("SMSCLUB_SANDBOX", "1")
    monkeypatch.delenv("SMSCLUB_TOKEN", raising=False)
    monkeypatch.delenv("SMSCLUB_BASE_URL", raising=False)
    app = fastapi_app.create_app(token=unique_token())
    async with running(app) as client:
        response = await client.post(
            "/notifications", json={"phones": ["380989361131"], "message": "Hi"}
        )
        assert response.status_code == 200, response.text
        assert list(response.json()["sent"].values()) == ["380989361131"]
    assert app.state.sms.is_closed


async def test_gateway_errors_become_502_and_bad_input_422() -> None:
    """A token the gateway refuses is the server's problem (502, no token in the text);
    a request with no usable recipient is the caller's (422)."""
    token = unique_token()
    sandbox = Sandbox(tokens=["the-real-one"])
    app = fastapi_app.create_app(token=token, transport=SandboxTransport(sandbox))
    async with running(app) as client:
        refused = await client.post(
            "/notifications", json={"phones": ["380989361131"], "message": "x"}
        )
        assert refused.status_code == 502
        assert "401" in refused.json()["detail"]
        assert token not in refused.text

        empty = await client.post("/notifications", json={"phones": [], "message": "x"})
        assert empty.status_code == 422
    assert sandbox.messages() == []


async def test_the_dependency_can_be_overridden() -> None:
    """Endpoints get the client through ``get_sms``, so a test can hand them another."""
    sandbox = Sandbox()
    app = fastapi_app.create_app(token=unique_token(), transport=SandboxTransport(Sandbox()))
    async with SmsClub(token=unique_token(), transport=SandboxTransport(sandbox)) as other:
        app.dependency_overrides[fastapi_app.get_sms] = lambda: other
        async with running(app) as client:
            response = await client.post(
                "/notifications", json={"phones": ["380989361131"], "message": "x"}
            )
            assert response.status_code == 200, response.text
    assert [m.phone for m in sandbox.messages()] == ["380989361131"]
