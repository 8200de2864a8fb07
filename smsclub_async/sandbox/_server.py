"""A real HTTP/1.1 server on loopback (asyncio streams).

It serves the SMS Club :class:`Sandbox` or one of the gateway emulators
(:mod:`smsclub_async.sandbox.gateways`), which see the query string too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from ._http11 import (
    HttpError,
    ParsedRequest,
    read_request,
    read_request_line,
    render_error,
    render_head,
)
from ._state import Sandbox
from ._wire import SandboxRequest, SandboxResponse
from .gateways._common import Emulator, FormRequest, answer_after_delay

__all__ = ["SandboxServer", "run", "serve"]

_log = logging.getLogger("smsclub_async.sandbox")

_EMULATOR_MAX_BODY = 1 << 20


class SandboxServer:
    """A sandbox listening on a socket; get one from :func:`serve`.

    Attributes:
        sandbox: The sandbox (or gateway emulator) that answers.
        host: The address listened on.
        port: The port listened on (the real one when 0 was asked for).
    """

    __slots__ = ("_connections", "_max_body", "_server", "host", "port", "sandbox")

    def __init__(self, sandbox: Sandbox | Emulator, host: str) -> None:
        self.sandbox = sandbox
        self._max_body = (
            sandbox.config.max_body if isinstance(sandbox, Sandbox) else _EMULATOR_MAX_BODY
        )
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    def __repr__(self) -> str:
        return f"SandboxServer({self.url!r}, connections={len(self._connections)})"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, port: int = 0) -> None:
        """Start listening on ``port`` (0 picks a free one)."""
        self._server = await asyncio.start_server(self._accept, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        _log.info("sandbox listening on %s", self.url)

    async def aclose(self) -> None:
        """Stop listening and close every connection, even mid-request; safe twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = dict(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        # A task cancelled before it first ran never reached its own cleanup;
        # closing again is harmless. No wait_closed() here: a cancelled task
        # may have cancelled the writer's close waiter with it.
        for writer in connections.values():
            writer.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let the transports finish closing

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve_connection(reader, writer))
        self._connections[task] = writer
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(task, None)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await self._serve_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            _log.debug("connection ended: %r", error)
        except ValueError:  # a line longer than the stream's limit
            writer.write(render_error(HttpError(431, "Request line or header too long.")))
        finally:
            await _close(writer)

    async def _serve_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; return whether the connection stays open."""
        request_line = await read_request_line(reader)
        if not request_line:
            return False
        # The arrival time is taken here, before the headers and body are read.
        now = self.sandbox.clock()
        try:
            request = await read_request(reader, writer, request_line, self._max_body)
        except HttpError as error:
            writer.write(render_error(error))
            await writer.drain()
            return False
        if isinstance(self.sandbox, Sandbox):
            answer = self.sandbox.handle(
                SandboxRequest.build(request.method, request.path, request.headers, request.body),
                now,
            )
            if answer.delay:
                await asyncio.sleep(answer.delay)
        else:
            answer = await _emulate(self.sandbox, request, now)
        if answer.disposition == "drop":
            return False
        truncate = answer.disposition == "truncate"
        keep_alive = request.keep_alive and not truncate
        body = answer.body[: len(answer.body) // 2] if truncate else answer.body
        head = render_head(answer.status, answer.headers, len(answer.body), keep_alive)
        writer.write(head if request.method == "HEAD" else head + body)
        await writer.drain()
        return keep_alive


async def _emulate(emulator: Emulator, request: ParsedRequest, now: float) -> SandboxResponse:
    """Answer from a gateway emulator, which counts the request in flight until done."""
    form = FormRequest(
        request.method,
        request.path,
        request.query,
        {name.lower(): value for name, value in request.headers},
        request.body,
    )
    return await answer_after_delay(emulator, form, now)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve(
    sandbox: Sandbox | Emulator, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[SandboxServer]:
    """Run ``sandbox`` as a real HTTP/1.1 server for the duration of a block.

    Args:
        sandbox: The sandbox that answers, or a gateway emulator (``SmscSandbox``,
            ``SmsteleSandbox``).
        host: The address to listen on; loopback by default.
        port: The port; 0 picks a free one (see ``server.port``).

    Yields:
        The running server, with ``url``, ``host`` and ``port``.

    Example:
        >>> async def main() -> None:
        ...     async with serve(Sandbox()) as server:
        ...         async with httpx.AsyncClient(base_url=server.url) as client:
        ...             await client.post("/sms/balance", headers={"Authorization": "Bearer t"})
    """
    server = SandboxServer(sandbox, host)
    await server.start(port)
    try:
        yield server
    finally:
        await server.aclose()


def run(
    sandbox: Sandbox | Emulator,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Serve ``sandbox`` until interrupted (Ctrl+C); blocks, for a CLI command.

    Args:
        sandbox: The sandbox (or gateway emulator) that answers.
        host: The address to listen on.
        port: The port to listen on.
        ready: Called with the running server once it listens (to print its URL).
    """

    async def main() -> None:
        async with serve(sandbox, host, port) as server:
            if ready is not None:
                ready(server)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
