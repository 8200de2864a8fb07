"""Pure pieces: the in-flight limiter, message keys, form bodies, lenient JSON, status maps."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from smsclub_async import DeliveryStatus, LocalLimiter
from smsclub_async._decoding import close_brackets
from smsclub_async._decoding import decode as decode_json
from smsclub_async.gateways import (
    BothLimiter,
    ConcurrencyLimiter,
    concurrency_limiter_for,
    message_key,
    split_key,
)
from smsclub_async.gateways._keys import form_body, pair_chunks, parse_ref
from smsclub_async.gateways._smsc_wire import STATUSES, delivery_status
from smsclub_async.gateways._smstele_wire import STAT_STRINGS
from smsclub_async.gateways._smstele_wire import delivery_status as rex_status

MessageRef = str | int | tuple[str | int, str]

# ----------------------------------------------------------------- ConcurrencyLimiter


async def test_the_limiter_caps_requests_in_flight() -> None:
    """Never more than ``limit`` hold a permit; all finish."""
    limiter = ConcurrencyLimiter(3)
    peak = 0

    async def work() -> None:
        nonlocal peak
        permit = await limiter.acquire()
        peak = max(peak, limiter.in_flight)
        await asyncio.sleep(0.001)
        permit.done()

    await asyncio.gather(*(work() for _ in range(20)))
    assert peak == 3
    assert limiter.in_flight == 0


async def test_waiters_are_served_in_order() -> None:
    """First come, first served."""
    limiter = ConcurrencyLimiter(1)
    first = await limiter.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        permit = await limiter.acquire()
        order.append(n)
        permit.done()

    tasks = [asyncio.ensure_future(wait(n)) for n in range(5)]
    await asyncio.sleep(0)
    first.done()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    """Cancelled while waiting, or just after the slot was handed over: the slot survives."""
    limiter = ConcurrencyLimiter(1)
    held = await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    handed = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    held.done()  # the slot goes to `handed`...
    handed.cancel()  # ...which is cancelled before it runs: the slot must come back
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert limiter.in_flight == 0
    permit = await asyncio.wait_for(limiter.acquire(), 1.0)
    permit.done()
    permit.done()  # twice is harmless
    assert limiter.in_flight == 0


def test_the_limiter_is_shared_across_event_loops() -> None:
    """Two threads, two loops, one limiter of 1: never both inside."""
    limiter = ConcurrencyLimiter(1)
    inside = 0
    peak = 0
    lock = threading.Lock()

    async def work() -> None:
        nonlocal inside, peak
        for _ in range(20):
            permit = await limiter.acquire()
            with lock:
                inside += 1
                peak = max(peak, inside)
            await asyncio.sleep(0.0005)
            with lock:
                inside -= 1
            permit.done()

    threads = [threading.Thread(target=asyncio.run, args=(work(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert peak == 1
    assert limiter.in_flight == 0


async def test_both_limiter_takes_every_permit_and_gives_them_back() -> None:
    """BothLimiter: a request needs a slot of each; done() frees both."""
    slots = ConcurrencyLimiter(1)
    pace = LocalLimiter(1000)
    both = BothLimiter(slots, pace)
    permit = await both.acquire()
    assert slots.in_flight == 1
    blocked = asyncio.ensure_future(both.acquire())
    await asyncio.sleep(0)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    permit.sent()
    permit.done()
    assert slots.in_flight == 0
    assert "ConcurrencyLimiter" in repr(both)


def test_limiters_are_shared_per_account() -> None:
    """The registry hands every client of an account the same limiter."""
    assert concurrency_limiter_for("smsc|a", 14) is concurrency_limiter_for("smsc|a", 14)
    assert concurrency_limiter_for("smsc|a", 14) is not concurrency_limiter_for("smsc|b", 14)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5])
def test_a_bad_limit_is_refused(limit: object) -> None:
    """The limit is a positive whole number."""
    with pytest.raises(ValueError, match="limit"):
        ConcurrencyLimiter(limit)  # type: ignore[arg-type]


# ----------------------------------------------------------------- keys and forms


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("42:77011234567", ("42", "77011234567")),
        ("a:b:77011234567", ("a:b", "77011234567")),
        ("order:7", ("order:7", None)),
        ("12345", ("12345", None)),
        (":77011234567", (":77011234567", None)),
    ],
)
def test_message_keys_split_at_the_last_colon_before_a_phone(
    key: str, expected: tuple[str, str | None]
) -> None:
    """ "<id>:<phone>" splits; anything else is a bare id."""
    assert split_key(key) == expected
    if expected[1] is not None:
        assert message_key(*expected) == key  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, None, 1.5, True, ("1",), ("1", "nope")])
def test_bad_references_are_refused(bad: object) -> None:
    """Empty, too long, wrong types, malformed pairs: ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        parse_ref(bad)


async def test_references_are_deduplicated_and_chunked() -> None:
    """Keys, pairs and bare ids, sync or async, in chunks, each once."""

    async def refs() -> AsyncIterator[MessageRef]:
        refs: list[MessageRef] = [
            "1:77011234567",
            ("1", "+7 701 123 45 67"),
            5,
            "5",
            ("2", "77011234568"),
        ]
        for ref in refs:
            yield ref

    chunks = [chunk async for chunk in pair_chunks(refs(), size=2)]
    assert chunks == [[("1", "77011234567"), ("5", None)], [("2", "77011234568")]]


def test_form_bodies_percent_encode_in_the_charset() -> None:
    """UTF-8 by default; cp1251 on request; an unencodable text is a ValueError."""
    assert form_body({"mes": "ж & ="}) == b"mes=%D0%B6+%26+%3D"
    assert form_body({"mes": "ж"}, encoding="cp1251") == b"mes=%E6"
    with pytest.raises(ValueError, match="cannot encode"):
        form_body({"mes": "🙂"}, encoding="koi8-r")


# ----------------------------------------------------------------- lenient JSON


def test_missing_closing_brackets_are_added() -> None:
    """Brackets inside strings are ignored; balanced bodies are left alone."""
    assert close_brackets(b'{"a": ["x]"') == b'{"a": ["x]"]}'
    assert close_brackets(b'{"a": 1}') == b'{"a": 1}'
    assert close_brackets(b'{"a": "unterminated') == b'{"a": "unterminated'
    assert decode_json(dict, b'{"a": [1, 2,]') == {"a": [1, 2]}


# ----------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (-3, DeliveryStatus.UNKNOWN),
        (-2, DeliveryStatus.PENDING),
        (-1, DeliveryStatus.PENDING),
        (0, DeliveryStatus.ENROUTE),
        (1, DeliveryStatus.DELIVRD),
        (2, DeliveryStatus.DELIVRD),
        (3, DeliveryStatus.EXPIRED),
        (4, DeliveryStatus.DELIVRD),
        (20, DeliveryStatus.UNDELIV),
        (21, DeliveryStatus.UNDELIV),
        (22, DeliveryStatus.UNDELIV),
        (23, DeliveryStatus.REJECTD),
        (24, DeliveryStatus.REJECTD),
        (25, DeliveryStatus.UNDELIV),
        (7, DeliveryStatus.UNKNOWN),
    ],
)
def test_smsc_status_codes_map_onto_delivery_status(code: int, status: DeliveryStatus) -> None:
    """-3..4 and 20-25 (an undocumented 2x is a failure; other unknowns are UNKNOWN)."""
    assert delivery_status(code) is status
    assert delivery_status(str(code)) is status


def test_every_documented_smsc_status_is_mapped() -> None:
    """The documented codes: -3, -2, -1, 0-4, 20, 22-25."""
    assert sorted(STATUSES) == [-3, -2, -1, 0, 1, 2, 3, 4, 20, 22, 23, 24, 25]


@pytest.mark.parametrize(
    ("stat", "status"),
    [
        ("DELIVRD", DeliveryStatus.DELIVRD),
        ("delivrd", DeliveryStatus.DELIVRD),
        ("ENROUTE", DeliveryStatus.ENROUTE),
        ("ACCEPTD", DeliveryStatus.ENROUTE),
        ("SCHEDULED", DeliveryStatus.PENDING),
        ("EXPIRED", DeliveryStatus.EXPIRED),
        ("DELETED", DeliveryStatus.UNDELIV),
        ("UNDELIV", DeliveryStatus.UNDELIV),
        ("REJECTD", DeliveryStatus.REJECTD),
        ("UNKNOWN", DeliveryStatus.UNKNOWN),
        ("", DeliveryStatus.PENDING),
        ("Доставлено", DeliveryStatus.DELIVRD),
        ("WHATEVER", DeliveryStatus.UNKNOWN),
    ],
)
def test_rex400_stat_strings_map_onto_delivery_status(stat: str, status: DeliveryStatus) -> None:
    """SMPP receipt states, case-insensitive; the core's words as a fallback."""
    assert rex_status(stat) is status
    assert set(STAT_STRINGS) <= {
        "ENROUTE",
        "ACCEPTD",
        "SCHEDULED",
        "DELIVRD",
        "EXPIRED",
        "DELETED",
        "UNDELIV",
        "REJECTD",
        "UNKNOWN",
    }
