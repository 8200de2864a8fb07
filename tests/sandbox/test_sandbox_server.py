"""The real HTTP/1.1 server on loopback: keep-alive, concurrency, framing, arrival times."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from smsclub_async.sandbox import (
    Faults,
    ManualClock,
    Sandbox,
    SandboxConfig,
    SandboxServer,
    serve,
)

from .sandbox_helpers import send_body

pytestmark = pytest.mark.loopback

Response = tuple[int, dict[str, str], bytes]


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


async def read_response(reader: asyncio.StreamReader) -> Response:
    """Read one Content-Length framed response."""
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


def request_bytes(
    path: str = "/sms/balance",
    body: bytes = b"",
    *,
    method: str = "POST",
    extra: str = "",
    version: str = "HTTP/1.1",
) -> bytes:
    """A raw request with a bearer token."""
    head = (
        f"{method} {path} {version}\r\nHost: localhost\r\nAuthorization: Bearer t\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


@pytest.fixture
async def server(clock: ManualClock) -> AsyncIterator[SandboxServer]:
    """A loopback server over a sandbox without the rate limit."""
    async with serve(Sandbox(SandboxConfig(rate_limit=None), clock=clock)) as running:
        yield running


async def test_url_host_and_port(server: SandboxServer) -> None:
    """serve() listens on loopback on a free port and says where."""
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


async def test_keep_alive_many_sequential_requests_on_one_connection(
    server: SandboxServer,
) -> None:
    """One connection serves many requests in turn."""
    async with connect(server) as (reader, writer):
        for i in range(100):
            body = json.dumps(send_body("380989361131", message=f"m{i}")).encode()
            writer.write(request_bytes("/sms/send", body))
            status, headers, answer = await read_response(reader)
            assert (status, headers["connection"]) == (200, "keep-alive")
            assert json.loads(answer) == {
                "success_request": {"info": {str(100 + i): "380989361131"}}
            }
    assert len(server.sandbox.messages()) == 100


async def test_pipelined_requests_are_answered_in_order(server: SandboxServer) -> None:
    """Requests written back to back before reading are answered in order."""
    async with connect(server) as (reader, writer):
        writer.write(request_bytes() + request_bytes("/sms/originator") + request_bytes())
        answers = [json.loads((await read_response(reader))[2]) for _ in range(3)]
    assert [list(a["success_request"]["info"]) for a in answers] == [
        ["money", "currency"],
        ["VashZakaz", "test1", "test2"],
        ["money", "currency"],
    ]


async def test_httpx_keep_alive_and_concurrency(server: SandboxServer) -> None:
    """An httpx pool of 10 connections serves 200 concurrent requests."""
    limits = httpx.Limits(max_connections=10)
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": "Bearer t"}, limits=limits
    ) as client:
        responses = await asyncio.gather(*(client.post("/sms/balance") for _ in range(200)))
    assert {r.status_code for r in responses} == {200}
    assert server.sandbox.stats("t").count == 200


async def test_a_slow_connection_does_not_block_others(server: SandboxServer) -> None:
    """Half a request on one connection; others are served meanwhile."""
    async with connect(server) as (slow_reader, slow_writer):
        whole = request_bytes()
        slow_writer.write(whole[:20])
        await slow_writer.drain()
        for _ in range(3):
            async with connect(server) as (reader, writer):
                writer.write(request_bytes())
                assert (await read_response(reader))[0] == 200
        slow_writer.write(whole[20:])
        assert (await read_response(slow_reader))[0] == 200


async def test_connection_close_is_honoured(server: SandboxServer) -> None:
    """Connection: close gets an answer marked close, then end of stream."""
    async with connect(server) as (reader, writer):
        writer.write(request_bytes(extra="Connection: close\r\n"))
        status, headers, _ = await read_response(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await reader.read() == b""


async def test_http_1_0_closes_even_when_keep_alive_is_asked(server: SandboxServer) -> None:
    """HTTP/1.0 is answered and closed; h11 keeps no HTTP/1.0 connection alive."""
    for extra in ("Connection: keep-alive\r\n", ""):
        async with connect(server) as (reader, writer):
            writer.write(request_bytes(version="HTTP/1.0", extra=extra))
            assert (await read_response(reader))[1]["connection"] == "close"
            assert await reader.read() == b""


async def test_chunked_request_body(server: SandboxServer) -> None:
    """A chunked body is decoded."""
    body = json.dumps(send_body("380989361131")).encode()
    head = (
        b"POST /sms/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    async with connect(server) as (reader, writer):
        writer.write(head + chunks + b"0\r\n\r\n")
        status, _, answer = await read_response(reader)
    assert status == 200
    assert json.loads(answer) == {"success_request": {"info": {"100": "380989361131"}}}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 400),
        (b"POST /sms/send HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST /sms/send HTTP/1.1\r\nbad header line\r\n\r\n", 400),
        (b"POST /sms/send HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"POST /sms/send HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400),  # no Host
        (b"POST /sms/send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ],
)
async def test_malformed_requests_are_answered_and_closed(
    server: SandboxServer, raw: bytes, status: int
) -> None:
    """Unparseable requests get a Yii2-shaped error and the connection closes."""
    async with connect(server) as (reader, writer):
        writer.write(raw)
        got, headers, body = await read_response(reader)
        assert (got, headers["connection"]) == (status, "close")
        assert json.loads(body)["status"] == status
        assert await reader.read() == b""
    assert server.sandbox.stats().count == 0


async def test_head_gets_no_body(server: SandboxServer) -> None:
    """HEAD is answered with headers only (a 405 for the gateway's endpoints)."""
    async with connect(server) as (reader, writer):
        writer.write(request_bytes(method="HEAD", extra="Connection: close\r\n"))
        head = await reader.read()
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert head.endswith(b"\r\n\r\n")


async def test_client_closing_mid_request_is_harmless(server: SandboxServer) -> None:
    """A client that goes away mid-request leaves the server serving."""
    async with connect(server) as (_, writer):
        writer.write(b"POST /sms/send HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
        await writer.drain()
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/_sandbox/stats")
    assert response.status_code == 200
    assert server.sandbox.stats().count == 0


async def test_arrival_is_timed_when_the_request_line_is_read() -> None:
    """The arrival time is taken at the request line, not when the body completes."""
    clock = ManualClock(0.0)
    line_read = asyncio.Event()

    def watched_clock() -> float:
        line_read.set()
        return clock()

    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=watched_clock)
    async with serve(sandbox) as server, connect(server) as (reader, writer):
        whole = request_bytes()
        line_end = whole.index(b"\r\n") + 2
        writer.write(whole[:line_end])
        await asyncio.wait_for(line_read.wait(), 5)
        clock.advance(7.0)
        writer.write(whole[line_end:])
        assert (await read_response(reader))[0] == 200
    assert [arrival.at for arrival in sandbox.stats().arrivals] == [0.0]


async def test_tenth_quick_request_is_rate_limited_with_the_real_clock() -> None:
    """Ten requests within a second over a real socket: the tenth gets 429."""
    async with (
        serve(Sandbox()) as server,
        httpx.AsyncClient(base_url=server.url, headers={"Authorization": "Bearer t"}) as client,
    ):
        statuses = [(await client.post("/sms/balance")).status_code for _ in range(10)]
    assert statuses == [200] * 9 + [429]
    assert server.sandbox.stats("t").densest_window() == 10


async def test_introspection_endpoints_need_no_token(server: SandboxServer) -> None:
    """GET /_sandbox/messages and /_sandbox/stats answer without a token."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        await client.post(
            "/sms/send",
            json=send_body("380989361131"),
            headers={"Authorization": "Bearer secret-token-42"},
        )
        await client.post("/sms/balance")
        messages = (await client.get("/_sandbox/messages")).json()["messages"]
        stats = (await client.get("/_sandbox/stats")).json()
        missing = await client.get("/_sandbox/nothing")
    assert [(m["id"], m["phone"], m["status"], m["cost"]) for m in messages] == [
        ("100", "380989361131", "ENROUTE", "0.5000")
    ]
    assert stats["total"]["arrivals"] == 2
    assert stats["total"]["statuses"] == {"200": 1, "401": 1}
    assert set(stats["accounts"]) == {"", messages[0]["account"]}
    assert "secret-token-42" not in json.dumps(stats)  # only token hashes appear
    assert missing.status_code == 404


async def test_shutdown_with_open_and_busy_connections(clock: ManualClock) -> None:
    """Leaving serve() closes idle and mid-request connections; aclose() twice is safe."""
    sandbox = Sandbox(SandboxConfig(rate_limit=None), clock=clock, faults=Faults(latency=(30, 30)))
    async with serve(sandbox) as server:
        idle = await asyncio.open_connection(server.host, server.port)
        busy = await asyncio.open_connection(server.host, server.port)
        busy[1].write(request_bytes("/sms/send", json.dumps(send_body("380989361131")).encode()))
        await busy[1].drain()
        for _ in range(500):  # until the send is accepted and its answer delayed
            if sandbox.messages():
                break
            await asyncio.sleep(0.01)
    await server.aclose()
    for reader, writer in (idle, busy):
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
