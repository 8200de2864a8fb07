"""What the SMSC.kz and REX400 emulators share: the request they see, and the adapters.

Both gateways take form parameters from the query string *and* a POST body, so
the SMS Club sandbox's request type (path and body only) does not fit; the
adapters here keep the query. Everything else is reused from the SMS Club
sandbox: :class:`~smsclub_async.sandbox.SandboxResponse` (status, headers, body,
drop/truncate disposition, latency), the seeded :class:`Faults` and the way a
drawn fault spoils an answer (``_injection``), and :class:`ManualClock`.

:class:`GatewayTransport` serves an ``httpx.AsyncClient`` in process (no socket);
:class:`GatewayApp` is the same emulator as an ASGI application.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from .. import _injection as injection
from .._faults import BEFORE_FAULTS, Faults
from .._wire import SandboxResponse
from ._forms import form_pairs

__all__ = [
    "JSON",
    "TEXT",
    "XML",
    "Emulator",
    "FormRequest",
    "GatewayApp",
    "GatewayTransport",
    "answer_after_delay",
    "apply_faults",
    "digits",
    "seen_in_window",
    "split_list",
    "text_response",
]

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
XML = "text/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class FormRequest:
    """One HTTP request as an emulator sees it.

    Attributes:
        method: the HTTP method, upper case.
        path: the URL path, e.g. ``"/sys/send.php"``.
        query: the raw query string (without ``?``), still percent-encoded.
        headers: header names in lower case -> value.
        body: the raw request body.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def params(self, encoding: str = "utf-8") -> dict[str, str]:
        """Query and body parameters merged (the body wins), decoded with ``encoding``.

        The body may be urlencoded or ``multipart/form-data``.
        """
        return dict(form_pairs(self.query, self.headers, self.body, encoding))

    def names_in_query(self) -> frozenset[str]:
        """The parameter names that came in the URL (to check credentials never do)."""
        return frozenset(name for name, _ in urllib.parse.parse_qsl(self.query, True))


class Emulator(Protocol):
    """What the adapters need from an emulator."""

    clock: Callable[[], float]

    def handle(self, request: FormRequest, now: float) -> SandboxResponse:
        """Answer a request that arrived at ``now``."""
        ...

    def finished(self, request: FormRequest) -> None:
        """The adapter has delivered the answer (or dropped it): the request is over."""
        ...


def text_response(body: str | bytes, content_type: str = TEXT) -> SandboxResponse:
    """A 200 answer with ``body``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return SandboxResponse(200, (("content-type", content_type),), data)


def apply_faults(
    faults: Faults,
    applies: bool,
    respond: Callable[[], SandboxResponse],
) -> tuple[SandboxResponse, str | None]:
    """Draw a fault (if the path is in scope) and answer as the SMS Club sandbox does.

    A "before" fault skips ``respond`` (nothing is processed); an "after" fault
    processes the request and then spoils its answer.
    """
    fault = faults.next_fault() if applies else None
    delay = faults.next_delay() if applies else 0.0
    if fault in BEFORE_FAULTS:
        assert fault is not None
        response = injection.before(fault, faults)
    else:
        response = respond()
        if fault is not None:
            response = injection.after(fault, response, faults)
    if delay:
        response = replace(response, delay=delay)
    return response, fault


async def answer_after_delay(emulator: Emulator, form: FormRequest, now: float) -> SandboxResponse:
    """The emulator's answer, after its latency; the request counts in flight until then."""
    try:
        answer = emulator.handle(form, now)
        if answer.delay:
            await asyncio.sleep(answer.delay)
    finally:
        emulator.finished(form)
    return answer


class GatewayTransport(httpx.AsyncBaseTransport):
    """Serve ``httpx.AsyncClient`` requests from an emulator, in process.

    A dropped connection raises :class:`httpx.RemoteProtocolError`, a latency
    longer than the read timeout :class:`httpx.ReadTimeout` (the request was
    processed, its answer lost), as over a socket.

    Example:
        >>> from smsclub_async.sandbox.gateways import SmscSandbox
        >>> transport = GatewayTransport(SmscSandbox())
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` from the emulator."""
        now = self.emulator.clock()
        body = await request.aread()
        form = FormRequest(
            request.method.upper(),
            request.url.path,
            request.url.query.decode("ascii"),
            {name.lower(): value for name, value in request.headers.items()},
            body,
        )
        try:
            answer = self.emulator.handle(form, now)
            if answer.delay:
                timeout = request.extensions.get("timeout", {}).get("read")
                if timeout is not None and answer.delay > timeout:
                    await asyncio.sleep(timeout)
                    raise httpx.ReadTimeout("Timed out waiting for the sandbox.", request=request)
                await asyncio.sleep(answer.delay)
        finally:
            self.emulator.finished(form)
        if answer.disposition == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = [*answer.headers, ("content-length", str(len(answer.body)))]
        if answer.disposition == "truncate":
            stream = _Truncated(answer.body[: len(answer.body) // 2], request)
            return httpx.Response(answer.status, headers=headers, stream=stream)
        return httpx.Response(answer.status, headers=headers, content=answer.body)


class _Truncated(httpx.AsyncByteStream):
    def __init__(self, sent: bytes, request: httpx.Request) -> None:
        self._sent = sent
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._sent
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=self._request
        )


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class GatewayApp:
    """An emulator as an ASGI 3 application (``http`` and ``lifespan`` scopes).

    A dropped connection raises :class:`ConnectionResetError` from the app, as the
    SMS Club sandbox's app does.
    """

    __slots__ = ("emulator",)

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise ValueError(f"the emulator serves HTTP only, not {scope['type']!r}")
        now = self.emulator.clock()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        form = FormRequest(
            scope["method"].upper(),
            scope["path"],
            scope.get("query_string", b"").decode("ascii"),
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            b"".join(chunks),
        )
        answer = await answer_after_delay(self.emulator, form, now)
        if answer.disposition == "drop":
            raise ConnectionResetError("the emulator dropped the connection (injected fault)")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        body = (
            answer.body[: len(answer.body) // 2]
            if answer.disposition == "truncate"
            else answer.body
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def split_list(value: str) -> list[str]:
    """A comma- or semicolon-separated list, without empty items."""
    return [item.strip() for item in value.replace(";", ",").split(",") if item.strip()]


def digits(phone: str) -> str | None:
    """A phone in international format without ``+``: 10-15 digits, else ``None``."""
    number = phone.strip().removeprefix("+")
    return number if number.isdigit() and 10 <= len(number) <= 15 else None


def seen_in_window(log: list[float], now: float, window: float) -> int:
    """Drop entries older than ``window`` from ``log`` (in place); return how many remain."""
    log[:] = [t for t in log if now - t < window]
    return len(log)
