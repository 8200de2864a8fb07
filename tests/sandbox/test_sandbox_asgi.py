"""The ASGI adapter, driven by httpx's ASGI transport and by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, Sandbox, SandboxApp, SandboxConfig

from .sandbox_helpers import send_body


@pytest.fixture
async def asgi(clock: ManualClock) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A sandbox behind its ASGI app, reached through httpx.ASGITransport."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=SandboxApp(sandbox)),
        base_url="https://im.smsclub.mobi",
        headers={"Authorization": "Bearer t"},
    ) as client:
        yield sandbox, client


async def test_send_and_status(asgi: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """The gateway answers through ASGI exactly as in process."""
    sandbox, client = asgi
    sent = await client.post("/sms/send", json=send_body("380989361131"))
    assert sent.json() == {"success_request": {"info": {"100": "380989361131"}}}
    assert sent.headers["content-length"] == str(len(sent.content))
    status = await client.post("/sms/status", json={"id_sms": ["100"]})
    assert status.json() == {"success_request": {"info": {"100": "ENROUTE"}}}
    assert (await client.post("/sms/send", json=send_body("380989361131"))).status_code == 453
    assert sandbox.deliveries() == {"380989361131": 1}


async def test_drop_raises_from_the_app(asgi: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """ASGI cannot drop a connection: the app raises ConnectionResetError instead."""
    sandbox, client = asgi
    sandbox.faults.script(["drop_after"])
    with pytest.raises(ConnectionResetError):
        await client.post("/sms/send", json=send_body("380989361131"))
    assert sandbox.deliveries() == {"380989361131": 1}


async def test_truncated_sends_a_short_body(asgi: tuple[Sandbox, httpx.AsyncClient]) -> None:
    """A truncated answer is half the body under the full Content-Length."""
    sandbox, client = asgi
    sandbox.faults.script(["truncated"])
    response = await client.post("/sms/send", json=send_body("380989361131"))
    assert len(response.content) < int(response.headers["content-length"])


async def test_lifespan_and_other_scopes() -> None:
    """Lifespan startup/shutdown complete; websocket scopes are refused."""
    app = SandboxApp(Sandbox())
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    with pytest.raises(ValueError, match="HTTP only"):
        await app({"type": "websocket"}, receive, send)


async def test_body_in_several_messages() -> None:
    """A body split across http.request messages is joined."""
    sandbox = Sandbox()
    app = SandboxApp(sandbox)
    inbox = [
        {"type": "http.request", "body": b'{"id_sms"', "more_body": True},
        {"type": "http.request", "body": b': ["1"]}', "more_body": False},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/sms/status",
        "headers": [(b"authorization", b"Bearer t")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"success_request":{"add_info":{"1":"Error. Data not found"}}}'
