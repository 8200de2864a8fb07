"""Just enough HTTP/1.1 for the loopback server: parse a request, write a response."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from ._wire import error_response, reason_phrase

__all__ = [
    "HttpError",
    "ParsedRequest",
    "read_request",
    "read_request_line",
    "render_error",
    "render_head",
]

_MAX_HEADERS = 100
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
_EMPTY_LINES = (b"\r\n", b"\n")


class HttpError(Exception):
    """A request the server cannot parse; answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """One parsed request."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    query: str = ""  # raw, still percent-encoded (the gateway emulators read it)


async def read_request_line(reader: asyncio.StreamReader) -> bytes:
    """The next request line, skipping blank lines between requests; b"" at EOF."""
    line = await reader.readline()
    while line in _EMPTY_LINES:
        line = await reader.readline()
    return line


async def read_request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request_line: bytes,
    max_body: int,
) -> ParsedRequest:
    """Parse the rest of a request whose request line was already read.

    Raises:
        HttpError: The request is malformed or too large.
        asyncio.IncompleteReadError: The client closed mid-request.
    """
    parts = request_line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or parts[2] not in _VERSIONS:
        raise HttpError(400, "Malformed request line.")
    method, target, version = parts
    headers = await _read_headers(reader)
    fields = {name.lower(): value for name, value in headers}
    if fields.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader, max_body)
    else:
        body = await _read_sized(reader, fields.get("content-length"), max_body)
    tokens = {token.strip().lower() for token in fields.get("connection", "").split(",")}
    keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
    url = urlsplit(target)
    path = unquote(url.path) or "/"
    return ParsedRequest(method.upper(), path, headers, body, keep_alive, url.query)


async def _read_headers(reader: asyncio.StreamReader) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(line, None)
        if line in _EMPTY_LINES:
            return headers
        if len(headers) >= _MAX_HEADERS:
            raise HttpError(431, "Too many request header fields.")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, "Malformed header field.")
        headers.append((name, value.strip()))


async def _read_sized(reader: asyncio.StreamReader, length: str | None, max_body: int) -> bytes:
    if length is None:
        return b""
    if not length.isdigit():
        raise HttpError(400, "Invalid Content-Length.")
    size = int(length)
    if size > max_body:
        raise HttpError(413, "Request body is too large.")
    return await reader.readexactly(size)


async def _read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readline()).split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpError(400, "Invalid chunk size.") from None
        if size == 0:
            break
        total += size
        if total > max_body:
            raise HttpError(413, "Request body is too large.")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while (await reader.readline()) not in (*_EMPTY_LINES, b""):
        pass  # trailer fields: the sandbox reads none
    return b"".join(chunks)


def render_head(
    status: int, headers: tuple[tuple[str, str], ...], length: int, keep_alive: bool
) -> bytes:
    """The status line and header block of a response."""
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"content-length: {length}")
    lines.append(f"date: {formatdate(usegmt=True)}")
    lines.append("server: smsclub-sandbox")
    lines.append(f"connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def render_error(error: HttpError) -> bytes:
    """A complete Yii2-style error response that closes the connection."""
    answer = error_response(error.status, error.message)
    return render_head(answer.status, answer.headers, len(answer.body), False) + answer.body
