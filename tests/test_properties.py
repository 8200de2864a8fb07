"""Chunking and merging hold for any input (hypothesis), against a faulty fake gateway."""

from __future__ import annotations

import itertools
import json
import random

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsclub_async import RetryPolicy, SmsClub, SmsClubError
from smsclub_async import _phones as phones_module
from smsclub_async._phones import PhoneSet
from smsclub_async.gateways import normalize_phone

from .conftest import EchoGateway, run_on_fake_clock

valid_phone = st.from_regex(r"380[0-9]{9}", fullmatch=True)
formatted_phone = valid_phone.map(lambda p: f"+{p[:2]} ({p[2:5]}) {p[5:8]}-{p[8:10]}-{p[10:]}")
invalid_phone = st.one_of(st.text(max_size=8), st.from_regex(r"[0-9]{1,9}", fullmatch=True))
phones_strategy = st.lists(
    st.one_of(valid_phone, formatted_phone, invalid_phone), min_size=1, max_size=450
)


class FakeGateway:
    """A gateway that issues unique ids, blacklists some numbers and fails at random.

    Faults happen before or after processing; the record says what really went out.
    """

    def __init__(self, seed: int, blacklist: frozenset[str]) -> None:
        self.rng = random.Random(seed)
        self.blacklist = blacklist
        self.ids = itertools.count(1000)
        self.delivered: dict[str, list[str]] = {}  # phone -> ids
        self.recent: set[tuple[str, ...]] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        phones = body["phone"]
        assert 1 <= len(phones) <= 100
        assert len(set(phones)) == len(phones), "a request repeated a number"
        roll = self.rng.random()
        if roll < 0.1:
            return httpx.Response(503)  # before processing
        if roll < 0.15:
            raise httpx.ConnectError("refused")
        key = tuple(sorted(phones))
        if key in self.recent:
            return httpx.Response(453, json={"message": "Duplicate"})
        self.recent.add(key)
        info, add_info = {}, {}
        for phone in phones:
            if phone in self.blacklist:
                add_info[phone] = "This number is in the black list"
            else:
                message_id = str(next(self.ids))
                info[message_id] = phone
                self.delivered.setdefault(phone, []).append(message_id)
        if roll < 0.25:
            return httpx.Response(502)  # after processing: the answer is lost
        if roll < 0.3:
            raise httpx.ReadTimeout("answer lost")
        return httpx.Response(200, json={"success_request": {"info": info, "add_info": add_info}})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phones=phones_strategy, seed=st.integers(0, 2**32), data=st.data())
def test_every_phone_is_accounted_for_exactly_once(
    phones: list[str], seed: int, data: st.DataObject
) -> None:
    """Each distinct input ends in exactly one of sent/failed/unknown, and nothing is
    sent twice; every delivery is in sent with its id, or in unknown."""
    normalised = {normalize_phone(p) for p in phones} - {None}
    blacklist = frozenset(
        data.draw(st.sets(st.sampled_from(sorted(normalised)))) if normalised else set()
    )
    gateway = FakeGateway(seed, blacklist)

    async def run() -> tuple[object, BaseException | None]:
        async with SmsClub(
            token=f"prop-{seed}",
            transport=httpx.MockTransport(gateway),
            rate_limit=10_000,
            send_retry=RetryPolicy(attempts=4, wait=False),
        ) as sms:
            try:
                return await sms.send(phones, "hello", sender="VashZakaz"), None
            except SmsClubError as exc:
                return exc.partial, exc

    result, _ = run_on_fake_clock(run())
    sent_phones = list(result.sent.values())  # type: ignore[attr-defined]
    failed = set(result.failed)  # type: ignore[attr-defined]
    unknown = set(result.unknown)  # type: ignore[attr-defined]
    assert len(sent_phones) == len(set(sent_phones)), "a phone has two ids"
    assert not set(sent_phones) & failed
    assert not set(sent_phones) & unknown
    assert not failed & unknown
    expected = {normalize_phone(p) or p for p in phones}
    assert set(sent_phones) | failed | unknown == expected
    for phone, ids in gateway.delivered.items():
        assert len(ids) == 1, f"{phone} was delivered twice"
        assert result.sent.get(ids[0]) == phone or phone in unknown  # type: ignore[attr-defined]
    for phone in failed:
        assert phone not in gateway.delivered, "failed must mean not sent"


@given(
    st.lists(st.from_regex(r"[0-9]{10,15}", fullmatch=True), max_size=3000),
    st.sampled_from([0, 10, 1 << 16]),
)
def test_phone_set_is_an_exact_set(numbers: list[str], spill_at: int) -> None:
    """PhoneSet agrees with a Python set, leading zeros and lengths included.

    ``spill_at`` moves it from the built-in set to its compact tables early, so the
    tables (and their growth) are exercised with small inputs.
    """
    phone_set = PhoneSet(spill_at=spill_at)
    reference: set[str] = set()
    for number in numbers:
        assert phone_set.add(number) == (number not in reference)
        reference.add(number)
    assert len(phone_set) == len(reference)
    assert all(n in phone_set for n in reference)
    assert (
        "0" + numbers[0] not in phone_set
        if numbers and len(numbers[0]) < 15 and ("0" + numbers[0]) not in reference
        else True
    )


def test_phone_set_buckets_stay_exact() -> None:
    """Past the built-in set, 300,000 numbers (leading zeros, three lengths) stay exact."""
    rng = random.Random(7)
    phone_set = PhoneSet(spill_at=1000)
    reference: set[str] = set()
    for _ in range(300_000):
        digits = rng.randrange(10**9, 10**12)
        number = str(digits).zfill(rng.choice((10, 12, 13)))
        assert phone_set.add(number) == (number not in reference)
        reference.add(number)
    assert len(phone_set) == len(reference)
    assert all(number in phone_set for number in reference)
    assert "1" * 15 not in phone_set


def test_phone_set_ignores_a_key_seen_across_two_packed_keys() -> None:
    """A key's bytes may appear straddling two stored keys; that is not a match."""
    phone_set = PhoneSet(spill_at=0)
    first, second = "100000000001", "100000000002"
    assert phone_set.add(first)
    assert phone_set.add(second)
    # Forge a bucket whose bytes contain a third key only across a boundary.
    third = "380989361131"
    key = phones_module._phone_key(third)
    bucket = phone_set._buckets[
        key * phones_module._MIX >> 40 & ((1 << phones_module._SHARD_BITS) - 1)
    ]
    packed = key.to_bytes(8, "little")
    bucket += b"\x00" * 4 + packed + b"\x00" * 4  # two fake keys straddling it
    assert third not in phone_set
    assert phone_set.add(third)
    assert third in phone_set
    assert not phone_set.add(third)


def test_phone_set_stays_exact_when_numbers_share_one_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a single bucket (as if every number hashed alike): slower, still exact."""
    monkeypatch.setattr(phones_module, "_SHARD_BITS", 0)
    rng = random.Random(11)
    numbers = [str(rng.randrange(10**11, 10**12)) for _ in range(3000)]
    phone_set = PhoneSet(spill_at=100)
    for number in numbers:
        phone_set.add(number)
    assert len(phone_set._buckets) == 1
    assert len(phone_set) == len(set(numbers))
    assert all(number in phone_set for number in numbers)
    assert not any(phone_set.add(number) for number in numbers)


@given(st.text())
def test_normalize_phone_never_crashes_and_returns_digits(raw: str) -> None:
    """Any text: None or 10-15 ASCII digits."""
    phone = normalize_phone(raw)
    assert phone is None or (phone.isascii() and phone.isdigit() and 10 <= len(phone) <= 15)


def test_streaming_holds_no_more_than_the_requests_in_flight() -> None:
    """send_iter reads a generator lazily: never more than limit chunks ahead."""
    read = 0
    gateway = EchoGateway()

    def numbers() -> object:
        nonlocal read
        for i in range(5000):
            read += 1
            yield f"38098{i:07d}"

    async def run() -> list[int]:
        seen_at_yield = []
        async with SmsClub(
            token="stream-token",
            transport=httpx.MockTransport(gateway),
            rate_limit=10_000,
            max_concurrency=4,
        ) as sms:
            async for part in sms.send_iter(numbers(), "x", sender="X"):  # type: ignore[arg-type]
                seen_at_yield.append(read)
                assert len(part.sent) == 100
        return seen_at_yield

    reads = run_on_fake_clock(run())
    assert len(reads) == 50
    assert gateway.most_in_flight <= 4
    # When the k-th result is handed over, at most (k + 4) chunks have been read.
    assert all(r <= (k + 1 + 4) * 100 for k, r in enumerate(reads))


def test_deduplicate_false_sends_repeats_as_given() -> None:
    """deduplicate=False trusts the caller: a repeated number goes out in its own chunk."""
    seen: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        phones = json.loads(request.content)["phone"]
        seen.append(phones)
        info = {f"{len(seen)}-{i}": p for i, p in enumerate(phones)}
        return httpx.Response(200, json={"success_request": {"info": info}})

    async def run() -> None:
        async with SmsClub(
            token="dedup-token", transport=httpx.MockTransport(handler), rate_limit=10_000
        ) as sms:
            await sms.send(["380980000001"] * 2, "x", sender="X", deduplicate=False)
            await sms.send(["380980000002"] * 2, "x", sender="X")

    run_on_fake_clock(run())
    assert seen == [["380980000001", "380980000001"], ["380980000002"]]
