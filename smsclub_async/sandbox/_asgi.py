"""An ASGI application over a :class:`Sandbox`, for any ASGI server or test client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._state import Sandbox
from ._wire import SandboxRequest

__all__ = ["SandboxApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SandboxApp:
    """The sandbox as an ASGI 3 application (``http`` and ``lifespan`` scopes).

    ASGI has no way to close a connection without answering, so a dropped
    connection raises :class:`ConnectionResetError` from the app (servers then
    abort or answer 500, as they do for any crash), and a truncated body is
    sent as a short body under the full Content-Length, which a real server
    turns into a closed connection.

    Args:
        sandbox: The sandbox that answers.
    """

    __slots__ = ("sandbox",)

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the sandbox serves HTTP only, not {scope['type']!r}")
        now = self.sandbox.clock()
        body = await _read_body(receive)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        answer = self.sandbox.handle(
            SandboxRequest.build(scope["method"], scope["path"], headers, body), now
        )
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.disposition == "drop":
            raise ConnectionResetError("the sandbox dropped the connection (injected fault)")
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        raw_headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
        sent = answer.body
        if answer.disposition == "truncate":
            sent = sent[: len(sent) // 2]
        await send({"type": "http.response.body", "body": sent, "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
