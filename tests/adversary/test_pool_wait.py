"""Issue 13 item 2: the duplicate-window check must be made at the last moment.

A send whose answer was lost after processing is retried only while the retry reaches
the gateway inside its duplicate window. If the check is made when the limiter grants
a slot, and the request then waits for a pooled connection (a borrowed
``http_client`` busy with the application's own calls), the retry can reach the
gateway after the window: the message goes out twice.

Compressed with the public knobs: a 2 s window (0.5 s kept free), the first attempt
processed and answered 5xx, the retry 0.3 s later, while the application holds the
only connection of the shared client for 3 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest

from smsclub_async import RetryPolicy, SendResult, SmsClubError
from smsclub_async.sandbox import Faults, serve

from ..reliability.gateways import GATEWAYS

pytestmark = pytest.mark.loopback

WINDOW = 2.0
HOLD = 3.0  # seconds the application's own request keeps the only connection


async def _slow_server() -> tuple[asyncio.Server, str]:
    """An application backend that answers after HOLD seconds (same client, other host)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(HOLD)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/report"


# REX400 has no window: its client never retries a send that may have left.
@pytest.mark.parametrize("name", ["smsclub", "smsc"])
async def test_a_retry_waiting_for_a_pooled_connection_never_leaves_after_the_window(
    name: str,
) -> None:
    """The retry waits behind the application's 3 s request on a one-connection
    borrowed client: it must not reach the gateway after the 2 s window (the phone is
    then unknown, delivered once)."""
    gateway = GATEWAYS[name]
    faults = Faults(seed=0)
    faults.script(["error_after"])  # processed, then a 5xx: the answer is lost
    emulator = gateway.emulator(faults=faults)
    # The emulator's window compressed too (SandboxConfig and SmscConfig both name it so).
    emulator.config = dataclasses.replace(emulator.config, duplicate_window=WINDOW)
    policy = RetryPolicy(attempts=3, backoff=0.3, max_backoff=0.3, jitter=0)
    phone = gateway.number(1)
    slow, slow_url = await _slow_server()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    try:
        async with (
            serve(emulator) as server,
            httpx.AsyncClient(limits=limits, timeout=10) as http,
        ):
            sms: Any = gateway.client(
                "pool-wait", base_url=server.url, http_client=http, send_retry=policy
            )
            sms.send_retry = dataclasses.replace(
                sms.send_retry, duplicate_window=WINDOW, window_safety=0.5
            )

            async def hog() -> None:
                # The application's own call, as soon as the first attempt is answered.
                while not emulator.deliveries("pool-wait"):  # noqa: ASYNC110 - polling the record
                    await asyncio.sleep(0.01)
                await http.get(slow_url)

            hogging = asyncio.create_task(hog())
            async with sms:
                try:
                    result = await sms.send([phone], "hello", sender=gateway.sender)
                except SmsClubError as exc:
                    result = exc.partial
            await hogging
    finally:
        slow.close()
        await slow.wait_closed()
    assert isinstance(result, SendResult)
    assert emulator.deliveries("pool-wait")[phone] == 1, "delivered twice"
    assert phone in result.unknown or phone in result.sent.values()
