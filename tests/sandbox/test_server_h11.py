"""The loopback server on h11: idle timeouts, limits, 100-continue, chunked bodies, faults.

Timeouts here are short (tenths of a second of loop time) so that nothing
sleeps for long; the defaults are checked as values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from smsclub_async.sandbox import (
    Faults,
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxServer,
    ServerLimits,
    serve,
)
from smsclub_async.sandbox._http11 import DEFAULT_IDLE_TIMEOUT
from smsclub_async.sandbox.gateways import SmscSandbox

from .sandbox_helpers import send_body

pytestmark = pytest.mark.loopback

SHORT = ServerLimits(idle_timeout=0.2)


@asynccontextmanager
async def connect(
    server: SandboxServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A raw TCP connection to the server, closed afterwards."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes (fails if it never does)."""
    return await asyncio.wait_for(reader.read(), 5)


def status_of(raw: bytes) -> int:
    """The status code of the first response in ``raw``."""
    return int(raw.split(b" ", 2)[1])


def balance_request(extra: str = "", body: bytes = b"", *, length: bool = True) -> bytes:
    """A POST /sms/balance with a bearer token."""
    framing = f"Content-Length: {len(body)}\r\n" if length else ""
    head = (
        f"POST /sms/balance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n{framing}{extra}\r\n"
    )
    return head.encode() + body


@pytest.fixture
def sandbox(clock: ManualClock) -> Sandbox:
    """A sandbox without the rate limit."""
    return Sandbox(SandboxConfig(rate_limit=None), clock=clock)


# ----------------------------------------------------------------- idle timeouts


def test_the_default_idle_timeout_is_30_seconds() -> None:
    """A silent connection is closed after 30 s unless configured otherwise."""
    assert DEFAULT_IDLE_TIMEOUT == 30.0
    assert ServerLimits().idle_timeout == 30.0


@pytest.mark.parametrize(
    "value", [{"idle_timeout": 0}, {"max_header_bytes": 0}, {"max_headers": 0}, {"max_body": -1}]
)
def test_limits_are_validated(value: dict[str, float]) -> None:
    """Nonsense limits are refused when made."""
    with pytest.raises(ValueError, match="must"):
        ServerLimits(**value)  # type: ignore[arg-type]


async def test_a_silent_connection_is_closed(sandbox: Sandbox) -> None:
    """A connection that never sends a byte is closed after the idle timeout, unanswered."""
    async with serve(sandbox, limits=SHORT) as server, connect(server) as (reader, _):
        assert await read_all(reader) == b""


async def test_a_kept_alive_connection_is_closed_when_it_goes_silent(sandbox: Sandbox) -> None:
    """After an answer, the wait for the next request is bounded too."""
    async with serve(sandbox, limits=SHORT) as server, connect(server) as (reader, writer):
        writer.write(balance_request())
        raw = await read_all(reader)
    assert status_of(raw) == 200
    assert b"connection: keep-alive" in raw


async def test_250_silent_connections_are_all_released(sandbox: Sandbox) -> None:
    """Issue 13: 250 idle connections are not held forever."""
    async with serve(sandbox, limits=SHORT) as server:
        connections = [await asyncio.open_connection(server.host, server.port) for _ in range(250)]
        ends = await asyncio.gather(*(read_all(reader) for reader, _ in connections))
        assert ends == [b""] * 250
        for _ in range(100):
            if not server._connections:
                break
            await asyncio.sleep(0.01)
        assert not server._connections
        for _, writer in connections:
            writer.close()


async def test_silence_in_the_middle_of_a_request_is_408(sandbox: Sandbox) -> None:
    """A body that stops coming: 408, then the connection closes; nothing is processed."""
    async with serve(sandbox, limits=SHORT) as server, connect(server) as (reader, writer):
        writer.write(balance_request(body=b"{}")[:-1])
        raw = await read_all(reader)
    assert status_of(raw) == 408
    assert sandbox.stats().count == 0


# ----------------------------------------------------------------- limits


async def test_a_header_block_over_the_limit_is_431(sandbox: Sandbox) -> None:
    """More header bytes than max_header_bytes: 431 in Yii2's shape, then close."""
    limits = ServerLimits(max_header_bytes=1024)
    async with serve(sandbox, limits=limits) as server, connect(server) as (reader, writer):
        writer.write(balance_request(f"X-Padding: {'a' * 2000}\r\n"))
        raw = await read_all(reader)
    assert status_of(raw) == 431
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["status"] == 431


async def test_the_default_header_limit_is_16_kib(sandbox: Sandbox) -> None:
    """A 15 KiB header passes, a 17 KiB one is 431."""
    async with serve(sandbox) as server:
        for size, expected in ((15 * 1024, 200), (17 * 1024, 431)):
            async with connect(server) as (reader, writer):
                writer.write(balance_request(f"X-Padding: {'a' * size}\r\nConnection: close\r\n"))
                assert status_of(await read_all(reader)) == expected


async def test_too_many_header_fields_is_431(sandbox: Sandbox) -> None:
    """More fields than max_headers: 431."""
    fields = "".join(f"X-{n}: y\r\n" for n in range(101))
    async with serve(sandbox) as server, connect(server) as (reader, writer):
        writer.write(balance_request(fields))
        assert status_of(await read_all(reader)) == 431


async def test_a_configured_body_limit_is_413(sandbox: Sandbox) -> None:
    """ServerLimits(max_body=...) overrides the sandbox's own limit."""
    limits = ServerLimits(max_body=10)
    async with serve(sandbox, limits=limits) as server, connect(server) as (reader, writer):
        writer.write(balance_request(body=b"{" + b" " * 20 + b"}"))
        assert status_of(await read_all(reader)) == 413
    assert sandbox.stats().count == 0


async def test_a_chunked_body_over_the_limit_is_413(sandbox: Sandbox) -> None:
    """Chunked bodies are counted as they come."""
    chunks = b"".join(b"8\r\n        \r\n" for _ in range(4)) + b"0\r\n\r\n"
    limits = ServerLimits(max_body=16)
    async with serve(sandbox, limits=limits) as server, connect(server) as (reader, writer):
        writer.write(balance_request("Transfer-Encoding: chunked\r\n", chunks, length=False))
        assert status_of(await read_all(reader)) == 413


# ----------------------------------------------------------------- Expect: 100-continue


async def test_expect_100_continue_is_answered_before_the_body(sandbox: Sandbox) -> None:
    """The server says 100 Continue, then reads the body and answers."""
    body = json.dumps(send_body("380989361131")).encode()
    head = (
        "POST /sms/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    async with serve(sandbox) as server, connect(server) as (reader, writer):
        writer.write(head)
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 ")
        assert sandbox.messages() == []  # nothing before the body
        writer.write(body)
        raw = await read_all(reader)
    assert status_of(raw) == 200
    assert [m.phone for m in sandbox.messages()] == ["380989361131"]


async def test_a_body_too_large_is_refused_without_100_continue(sandbox: Sandbox) -> None:
    """Expect: 100-continue with a Content-Length over the limit: 413 at once."""
    limits = ServerLimits(max_body=10)
    async with serve(sandbox, limits=limits) as server, connect(server) as (reader, writer):
        writer.write(balance_request("Expect: 100-continue\r\n", b"x" * 50)[:-50])
        raw = await read_all(reader)
    assert status_of(raw) == 413
    assert b"100 Continue" not in raw


# ----------------------------------------------------------------- emulators and faults


async def test_a_chunked_multipart_body_reaches_the_smsc_emulator(clock: ManualClock) -> None:
    """Chunked framing and a multipart body, to a gateway emulator, fmt=1."""
    smsc = SmscSandbox(clock=clock)
    boundary = "b0undary"
    fields = {"login": "demo", "psw": "demo", "phones": "77011234567", "mes": "Hi", "fmt": "1"}
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        ).encode()
        + f"--{boundary}--\r\n".encode()
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:40], body[40:])) + b"0\r\n\r\n"
    head = (
        "POST /sys/send.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nConnection: close\r\n\r\n"
    ).encode()
    async with serve(smsc) as server, connect(server) as (reader, writer):
        writer.write(head + chunks)
        raw = await read_all(reader)
    assert raw.partition(b"\r\n\r\n")[2] == b"1,1"
    assert smsc.deliveries() == {"77011234567": 1}


@pytest.mark.parametrize(("fault", "processed"), [("drop_before", False), ("drop_after", True)])
async def test_a_dropped_connection_before_or_after_processing(
    clock: ManualClock, fault: str, processed: bool
) -> None:
    """A dropped connection closes without a byte; "after" kept the message."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock)
    sandbox.faults.script([fault])  # type: ignore[list-item]
    body = json.dumps(send_body("380989361131")).encode()
    request = (
        "POST /sms/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    async with serve(sandbox) as server, connect(server) as (reader, writer):
        writer.write(request)
        assert await read_all(reader) == b""
    assert bool(sandbox.messages()) is processed


async def test_a_truncated_answer_promises_more_than_it_sends(clock: ManualClock) -> None:
    """Truncation: the full Content-Length, half the body, then the connection closes."""
    sandbox = Sandbox(
        SandboxConfig(rate_limit=None), clock=clock, faults=Faults(truncated=1.0, scope="all")
    )
    async with serve(sandbox) as server, connect(server) as (reader, writer):
        writer.write(balance_request())
        raw = await read_all(reader)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.startswith(b"content-length")).split(
            b":"
        )[1]
    )
    assert 0 < len(body) < length
    assert b"connection: close" in head
