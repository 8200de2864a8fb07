"""HTTP/1.1 for the loopback server, on h11 (the sans-I/O parser httpx's stack uses).

h11 does the framing (Content-Length, chunked bodies, keep-alive, pipelining,
``Expect: 100-continue``); this module adds what a server around it needs:

* the arrival time, stamped when the request line has been read (before the
  headers and the body): the sandbox's rate check judges arrivals, and a slow
  body must not move one;
* limits with their proper answers: header block over ``max_header_bytes`` or
  more than ``max_headers`` fields -> 431, a body over ``max_body`` -> 413
  (before a ``100 Continue`` is sent, so the client need not send it);
* an idle timeout: a connection silent for ``idle_timeout`` seconds, between
  requests or in the middle of one, is closed (default 30 s);
* answers written whole, cut short (a "truncated" fault: the full
  Content-Length, half the body, then the connection closes) or not at all
  (a dropped connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import h11

from ._wire import SandboxResponse, error_response, reason_phrase

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_HEADERS",
    "DEFAULT_MAX_HEADER_BYTES",
    "HttpConnection",
    "ParsedRequest",
    "ServerLimits",
]

#: Seconds a connection may stay silent before the server closes it.
DEFAULT_IDLE_TIMEOUT = 30.0
#: The largest request line plus header block, in bytes (431 beyond).
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
#: The most header fields in one request (431 beyond).
DEFAULT_MAX_HEADERS = 100

_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLimits:
    """What the loopback server tolerates from a client.

    Attributes:
        idle_timeout: seconds a connection may stay silent (waiting for a
            request, or mid-request) before it is closed; ``None`` never.
        max_header_bytes: the largest request line and header block (431).
        max_headers: the most header fields (431).
        max_body: the largest body (413); ``None`` takes the sandbox's
            ``config.max_body`` (1 MiB for the gateway emulators).
    """

    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    max_body: int | None = None

    def __post_init__(self) -> None:
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive or None, got {self.idle_timeout}")
        for name in ("max_header_bytes", "max_headers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_body is not None and self.max_body < 0:
            raise ValueError("max_body must not be negative")


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """One request, read whole."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    query: str = ""  # raw, still percent-encoded (the gateway emulators read it)


class _Refused(Exception):  # noqa: N818 - control flow: answer with status, then close
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HttpConnection:
    """One client connection: read requests, write answers, close.

    Args:
        reader: the connection's stream reader.
        writer: the connection's stream writer.
        limits: the limits and the idle timeout.
        max_body: the body limit in force (``limits.max_body`` or the sandbox's).
        clock: the sandbox clock, read when a request line arrives.
    """

    __slots__ = ("_clock", "_conn", "_limits", "_max_body", "_reader", "_writer")

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limits: ServerLimits,
        max_body: int,
        clock: Callable[[], float],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._limits = limits
        self._max_body = max_body
        self._clock = clock
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)

    async def next_request(self) -> tuple[ParsedRequest, float] | None:
        """The next request and its arrival time; ``None`` once the connection is over.

        A request the server refuses (malformed, too large) is answered here,
        and the connection is over.
        """
        try:
            return await self._read_request()
        except h11.RemoteProtocolError as error:
            status = error.error_status_hint
            message = (
                "Request line or header fields too large."
                if status == 431
                else f"Malformed request: {error}"
            )
            await self._refuse(status, message)
        except _Refused as refused:
            await self._refuse(refused.status, refused.message)
        return None

    async def _receive(self) -> bytes | None:
        """The next bytes (``b""`` at EOF), or ``None`` when the connection stayed silent."""
        try:
            if self._limits.idle_timeout is None:
                return await self._reader.read(_READ_SIZE)
            return await asyncio.wait_for(self._reader.read(_READ_SIZE), self._limits.idle_timeout)
        except TimeoutError:
            return None

    async def _read_request(self) -> tuple[ParsedRequest, float] | None:
        conn = self._conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        arrived: float | None = None
        seen = b""  # this request's first bytes, until its request line is complete
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if arrived is None and b"\n" in conn.trailing_data[0].lstrip(b"\r\n"):
                    arrived = self._clock()  # a pipelined request already buffered
                data = await self._receive()
                if data is None:
                    return None  # idle too long: close without a word
                if arrived is None:
                    seen = (seen + data)[: self._limits.max_header_bytes]
                    if b"\n" in seen.lstrip(b"\r\n"):
                        # The request line is in: this is when the request arrived.
                        arrived = self._clock()
                conn.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                if arrived is None:
                    arrived = self._clock()
                return await self._complete(event), arrived
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}", 400)

    async def _complete(self, request: h11.Request) -> ParsedRequest:
        """Read the body of ``request`` (within the limits) and return the whole request."""
        if request.http_version not in (b"1.0", b"1.1"):
            raise _Refused(400, "Unsupported HTTP version.")
        if len(request.headers) > self._limits.max_headers:
            raise _Refused(431, "Too many request header fields.")
        # h11 bounds only a block that is still incomplete; one that arrived
        # whole is measured here (the request line and "name: value\r\n" each).
        head = len(request.method) + len(request.target) + 11
        head += sum(len(name) + len(value) + 4 for name, value in request.headers)
        if head > self._limits.max_header_bytes:
            raise _Refused(431, "Request line or header fields too large.")
        length = next((v for k, v in request.headers if k == b"content-length"), None)
        if length is not None and int(length) > self._max_body:
            raise _Refused(413, "Request body is too large.")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                if self._conn.they_are_waiting_for_100_continue:
                    self._send(h11.InformationalResponse(status_code=100, headers=[]))
                    await self._writer.drain()
                data = await self._receive()
                if data is None:
                    raise _Refused(408, "Request timed out.")
                self._conn.receive_data(data)
                continue
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self._max_body:
                    raise _Refused(413, "Request body is too large.")
                chunks.append(bytes(event.data))
                continue
            if isinstance(event, h11.EndOfMessage):
                break
            if isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the client closed mid-request")
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}", 400)
        url = urlsplit(request.target.decode("latin-1"))
        return ParsedRequest(
            request.method.decode("ascii").upper(),
            unquote(url.path) or "/",
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw_items()],
            b"".join(chunks),
            url.query,
        )

    def _send(self, event: h11.Event) -> None:
        data = self._conn.send(event)
        if data:
            self._writer.write(data)

    async def respond(self, request: ParsedRequest, answer: SandboxResponse) -> bool:
        """Write ``answer`` (whole, or cut short for a truncation fault); keep the connection?"""
        truncate = answer.disposition == "truncate"
        close = truncate or self._conn.their_state is h11.MUST_CLOSE
        headers = [
            *answer.headers,
            ("content-length", str(len(answer.body))),
            ("date", formatdate(usegmt=True)),
            ("server", "smsclub-sandbox"),
        ]
        headers.append(("connection", "close" if close else "keep-alive"))
        self._send(
            h11.Response(
                status_code=answer.status,
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                reason=reason_phrase(answer.status).encode("latin-1"),
            )
        )
        if request.method != "HEAD":
            body = answer.body[: len(answer.body) // 2] if truncate else answer.body
            if body:
                self._send(h11.Data(data=body))
        if truncate:
            await self._writer.drain()
            return False  # the rest of the body never comes: close
        self._send(h11.EndOfMessage())
        await self._writer.drain()
        return self._conn.our_state is h11.DONE and self._conn.their_state is h11.DONE

    async def _refuse(self, status: int, message: str) -> None:
        """Answer a refused request (Yii2's error shape) and leave the connection to close."""
        if self._conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        answer = error_response(status, message)
        headers = [
            *answer.headers,
            ("content-length", str(len(answer.body))),
            ("date", formatdate(usegmt=True)),
            ("server", "smsclub-sandbox"),
            ("connection", "close"),
        ]
        self._writer.write(_raw_head(answer.status, headers) + answer.body)
        await self._writer.drain()


def _raw_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """A status line and header block, written around h11 (whose state may be ERROR)."""
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
