"""examples/aiohttp_app.py: the client lives in a cleanup context, against the sandbox.

``aiohttp.test_utils.TestServer`` runs the application's startup and cleanup like a
real server, on the test's own event loop.
"""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("aiohttp")

from aiohttp.test_utils import TestClient, TestServer

from smsclub_async import SmsClub
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from ._load import load_example

aiohttp_app = load_example("aiohttp_app")


def unique_token() -> str:
    """A token no other test uses, so the process-wide rate limiter starts empty."""
    return f"aiohttp-{uuid.uuid4().hex}"


async def test_send_and_status_through_the_cleanup_context_client() -> None:
    """Startup opens one client, both handlers use it against the sandbox, and
    cleanup closes it."""
    sandbox = Sandbox(SandboxConfig(delivery_delay=0.0))
    sandbox.add_blacklist("380989361130")
    app = aiohttp_app.create_app(token=unique_token(), transport=SandboxTransport(sandbox))

    async with TestClient(TestServer(app)) as client:
        sms = app[aiohttp_app.SMS]
        assert isinstance(sms, SmsClub)
        assert not sms.is_closed

        sent = await client.post(
            "/notifications",
            json={"phones": ["+38 (098) 936-11-31", "380989361130"], "message": "Order ready"},
        )
        assert sent.status == 200, await sent.text()
        outcome = await sent.json()
        [(message_id, phone)] = outcome["sent"].items()
        assert phone == "380989361131"
        assert outcome["failed"] == {"380989361130": "This number is in the black list"}
        assert outcome["unknown"] == {}
        assert [(m.id, m.phone) for m in sandbox.messages()] == [(message_id, "380989361131")]

        status = await client.get("/messages/status", params=[("id", message_id), ("id", "999")])
        assert status.status == 200, await status.text()
        assert await status.json() == {
            "statuses": {message_id: "DELIVRD"},
            "final": False,
            "missing": ["999"],
        }
        assert app[aiohttp_app.SMS] is sms

    assert sms.is_closed, "cleanup must close the client"


async def test_errors_become_502_and_bad_input_422() -> None:
    """A refused token is a 502 without the token in it; no recipients is a 422."""
    token = unique_token()
    sandbox = Sandbox(tokens=["the-real-one"])
    app = aiohttp_app.create_app(token=token, transport=SandboxTransport(sandbox))
    async with TestClient(TestServer(app)) as client:
        refused = await client.post(
            "/notifications", json={"phones": ["380989361131"], "message": "x"}
        )
        assert refused.status == 502
        text = await refused.text()
        assert "401" in text
        assert token not in text

        empty = await client.post("/notifications", json={"phones": [], "message": "x"})
        assert empty.status == 422
        no_ids = await client.get("/messages/status")
        assert no_ids.status == 422
    assert app[aiohttp_app.SMS].is_closed
    assert sandbox.messages() == []


async def test_sandbox_env_var_selects_the_in_process_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SMSCLUB_SANDBOX=1`` with no token or transport runs against a private sandbox."""
    monkeypatch.setenv("SMSCLUB_SANDBOX", "1")
    monkeypatch.delenv("SMSCLUB_BASE_URL", raising=False)
    app = aiohttp_app.create_app(token=unique_token())
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/notifications", json={"phones": ["380989361131"], "message": "Hi"}
        )
        assert response.status == 200, await response.text()
        assert list((await response.json())["sent"].values()) == ["380989361131"]
    assert app[aiohttp_app.SMS].is_closed
