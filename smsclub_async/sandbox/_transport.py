"""An httpx transport that answers from a :class:`Sandbox` in process, no socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from ._state import Sandbox
from ._wire import SandboxRequest

__all__ = ["SandboxTransport"]


class SandboxTransport(httpx.AsyncBaseTransport):
    """Serve ``httpx.AsyncClient`` requests from a sandbox, in process.

    The arrival time is the sandbox clock when the request reaches the
    transport. A dropped connection raises :class:`httpx.RemoteProtocolError`,
    as httpx does when a server closes without answering; a truncated body
    raises it while the body is read; latency longer than the client's read
    timeout raises :class:`httpx.ReadTimeout`.

    Args:
        sandbox: The sandbox that answers.

    Example:
        >>> async def main() -> None:
        ...     transport = SandboxTransport(Sandbox())
        ...     async with httpx.AsyncClient(transport=transport, base_url="https://x") as client:
        ...         await client.post("/sms/balance", headers={"Authorization": "Bearer t"})
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` from the sandbox."""
        now = self.sandbox.clock()
        body = await request.aread()
        answer = self.sandbox.handle(
            SandboxRequest.build(request.method, request.url.path, request.headers.items(), body),
            now,
        )
        if answer.delay:
            await _wait(answer.delay, request)
        if answer.disposition == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = [*answer.headers, ("content-length", str(len(answer.body)))]
        if answer.disposition == "truncate":
            sent = answer.body[: len(answer.body) // 2]
            stream = _TruncatedStream(sent, len(answer.body), request)
            return httpx.Response(answer.status, headers=headers, stream=stream)
        return httpx.Response(answer.status, headers=headers, content=answer.body)


async def _wait(delay: float, request: httpx.Request) -> None:
    """Sleep out a latency fault, timing out as httpx would over a socket.

    No socket means httpx's read timeout is not enforced for us, so the
    transport honours it itself: the request was processed, the answer is lost.
    """
    timeout = request.extensions.get("timeout", {}).get("read")
    if timeout is not None and delay > timeout:
        await asyncio.sleep(timeout)
        raise httpx.ReadTimeout("Timed out waiting for the sandbox's answer.", request=request)
    await asyncio.sleep(delay)


class _TruncatedStream(httpx.AsyncByteStream):
    """Yields part of a body, then fails the way httpx does on a short body."""

    def __init__(self, sent: bytes, expected: int, request: httpx.Request) -> None:
        self._sent = sent
        self._expected = expected
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._sent
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body:"
            f" received {len(self._sent)} bytes, expected {self._expected}",
            request=self._request,
        )
