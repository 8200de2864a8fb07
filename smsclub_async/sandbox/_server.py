"""A real HTTP/1.1 server on loopback (asyncio streams, h11 for the protocol).

It serves the SMS Club :class:`Sandbox` or one of the gateway emulators
(:mod:`smsclub_async.sandbox.gateways`), which see the query string too. The
arrival is stamped when a request line is read; faults act before and after
processing as in process (a dropped connection, a body cut short); a silent
connection is closed after :attr:`ServerLimits.idle_timeout` (30 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from ._http11 import HttpConnection, ParsedRequest, ServerLimits
from ._state import Sandbox
from ._wire import SandboxRequest, SandboxResponse
from .gateways._common import Emulator, FormRequest, answer_after_delay

__all__ = ["SandboxServer", "ServerLimits", "run", "serve"]

_log = logging.getLogger("smsclub_async.sandbox")

_EMULATOR_MAX_BODY = 1 << 20


class SandboxServer:
    """A sandbox listening on a socket; get one from :func:`serve`.

    Attributes:
        sandbox: The sandbox (or gateway emulator) that answers.
        limits: Header and body limits and the idle timeout.
        host: The address listened on.
        port: The port listened on (the real one when 0 was asked for).
    """

    __slots__ = ("_connections", "_max_body", "_server", "host", "limits", "port", "sandbox")

    def __init__(
        self, sandbox: Sandbox | Emulator, host: str, limits: ServerLimits | None = None
    ) -> None:
        self.sandbox = sandbox
        self.limits = ServerLimits() if limits is None else limits
        default_body = (
            sandbox.config.max_body if isinstance(sandbox, Sandbox) else _EMULATOR_MAX_BODY
        )
        self._max_body = default_body if self.limits.max_body is None else self.limits.max_body
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
        connection = HttpConnection(reader, writer, self.limits, self._max_body, self.sandbox.clock)
        try:
            while await self._serve_request(connection):
                pass
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            _log.debug("connection ended: %r", error)
        finally:
            await _close(writer)

    async def _serve_request(self, connection: HttpConnection) -> bool:
        """Serve one request; return whether the connection stays open."""
        received = await connection.next_request()
        if received is None:
            return False
        request, now = received  # ``now``: when the request line was read
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
        return await connection.respond(request, answer)


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
    sandbox: Sandbox | Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    limits: ServerLimits | None = None,
) -> AsyncIterator[SandboxServer]:
    """Run ``sandbox`` as a real HTTP/1.1 server for the duration of a block.

    Args:
        sandbox: The sandbox that answers, or a gateway emulator (``SmscSandbox``,
            ``SmsteleSandbox``).
        host: The address to listen on; loopback by default.
        port: The port; 0 picks a free one (see ``server.port``).
        limits: Header and body limits and the idle timeout (``ServerLimits()``:
            16 KiB of headers, the sandbox's body limit, 30 s of silence).

    Yields:
        The running server, with ``url``, ``host`` and ``port``.

    Example:
        >>> async def main() -> None:
        ...     async with serve(Sandbox()) as server:
        ...         async with httpx.AsyncClient(base_url=server.url) as client:
        ...             await client.post("/sms/balance", headers={"Authorization": "Bearer t"})
    """
    server = SandboxServer(sandbox, host, limits)
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
    limits: ServerLimits | None = None,
) -> None:
    """Serve ``sandbox`` until interrupted (Ctrl+C); blocks, for a CLI command.

    Args:
        sandbox: The sandbox (or gateway emulator) that answers.
        host: The address to listen on.
        port: The port to listen on.
        ready: Called with the running server once it listens (to print its URL).
        limits: Header and body limits and the idle timeout.
    """

    async def main() -> None:
        async with serve(sandbox, host, port, limits=limits) as server:
            if ready is not None:
                ready(server)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
