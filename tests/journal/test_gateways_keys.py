"""``key=`` on the three gateways and both transports, over a loopback socket: a
rerun sends only the numbers never started, two calls at once send each number
once, and every check is against the emulator's own record."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsclub_async import SendResult
from smsclub_async.journal import SqliteJournal
from smsclub_async.sandbox import serve
from tests.reliability.gateways import GATEWAY_NAMES, GATEWAYS, Gateway, TransportKind, record_of

pytestmark = pytest.mark.loopback

CASES = [
    pytest.param(name, transport, id=f"{name}-{transport}")
    for name in GATEWAY_NAMES
    for transport in ("httpx", "aiohttp")
]


def numbers(gateway: Gateway, count: int) -> list[str]:
    return [gateway.number(n) for n in range(count)]


async def send(
    gateway: Gateway,
    url: str,
    account: str,
    transport: TransportKind,
    journal: SqliteJournal,
    phones: Any,
) -> SendResult:
    async with gateway.client(
        account, base_url=url, transport=transport, journal=journal
    ) as client:
        result: SendResult = await client.send(phones, "Sale", sender=gateway.sender, key="k")
        return result


@pytest.mark.parametrize(("name", "transport"), CASES)
async def test_a_rerun_sends_only_what_was_never_sent(
    name: str, transport: TransportKind, tmp_path: Path
) -> None:
    """250 numbers, then the same key with 450 (a generator this time, a new client
    and journal on the file): 450 deliveries in all, each once, and the second result
    holds every id, the first call's too."""
    gateway = GATEWAYS[name]
    emulator = gateway.emulator()
    account = f"keys-{uuid.uuid4().hex[:10]}"
    everyone = numbers(gateway, 450)

    def later() -> Iterator[str]:
        yield from everyone

    async with serve(emulator) as server:
        first = await send(
            gateway,
            server.url,
            account,
            transport,
            SqliteJournal(tmp_path / "j.db"),
            everyone[:250],
        )
        second = await send(
            gateway, server.url, account, transport, SqliteJournal(tmp_path / "j.db"), later()
        )
    record = record_of(emulator, account)
    assert set(record.deliveries.values()) == {1}
    assert sorted(record.deliveries) == sorted(everyone)
    assert sorted(first.sent.values()) == sorted(everyone[:250])
    assert first.sent.items() <= second.sent.items()
    assert second.sent == record.issued


@pytest.mark.parametrize(("name", "transport"), CASES)
async def test_two_calls_with_one_key_at_once_send_each_number_once(
    name: str, transport: TransportKind, tmp_path: Path
) -> None:
    """Two clients, two connections to one journal file, the same key at the same
    moment: each number delivered once, and both results whole."""
    gateway = GATEWAYS[name]
    emulator = gateway.emulator()
    account = f"keys-{uuid.uuid4().hex[:10]}"
    everyone = numbers(gateway, 400)
    async with serve(emulator) as server:
        one, two = await asyncio.gather(
            send(
                gateway, server.url, account, transport, SqliteJournal(tmp_path / "j.db"), everyone
            ),
            send(
                gateway,
                server.url,
                account,
                transport,
                SqliteJournal(tmp_path / "j.db"),
                everyone[::-1],
            ),
        )
    record = record_of(emulator, account)
    assert set(record.deliveries.values()) == {1}
    assert sorted(record.deliveries) == sorted(everyone)
    assert one.sent == two.sent == record.issued
