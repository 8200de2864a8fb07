"""Tables for the pure helpers: phones, Retry-After, status-to-exception, results."""

from __future__ import annotations

import asyncio
import builtins
import email.utils
import json
from collections.abc import AsyncIterator

import pytest

import smsclub_async
import smsclub_async.errors
import smsclub_async.gateways
from smsclub_async import (
    APIError,
    AuthenticationError,
    DuplicateError,
    RateLimitedError,
    RetryPolicy,
    SendResult,
    ServerError,
    ValidationError,
)
from smsclub_async._accounting import NOT_MENTIONED
from smsclub_async._errors import error_for_status
from smsclub_async._fanout import fan_out
from smsclub_async._phones import Chunk, chunk_phones, invalid_phone_reason
from smsclub_async._pipeline import Outcome
from smsclub_async._retry import parse_retry_after
from smsclub_async.gateways import normalize_phone
from smsclub_async.gateways.smsclub import ADVICE, account_send

from .conftest import fake_clock


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("380989361131", "380989361131"),
        ("+380989361131", "380989361131"),
        ("+38 (098) 936-11-31", "380989361131"),
        ("38.098.936.11.31", "380989361131"),
        ("0980000001", "0980000001"),  # 10 digits, as in the v2 example
        ("123456789", None),  # 9 digits
        ("1234567890123456", None),  # 16 digits
        ("38098936113a", None),
        ("++380989361131", None),
        ("٣٨٠٩٨٩٣٦١١٣١", None),  # Arabic-Indic digits are not ASCII
        ("", None),
        (380989361131, "380989361131"),
        (None, None),
        (True, None),
    ],
)
def test_normalize_phone(raw: object, expected: str | None) -> None:
    """Separators and one leading + go; 10-15 ASCII digits remain or None."""
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, APIError),
        (429, RateLimitedError),
        (453, DuplicateError),
        (500, ServerError),
        (504, ServerError),
    ],
)
def test_error_for_status(status: int, cls: type[APIError]) -> None:
    """One pure function maps a status to the class that names its meaning."""
    error = error_for_status(status, endpoint="/sms/send", gateway_message="msg", advice=ADVICE)
    assert type(error) is cls
    assert "/sms/send" in str(error)
    assert "msg" in str(error)
    assert f"HTTP {status}" in str(error)


def test_retry_after_parsing() -> None:
    """Seconds, fractional seconds, HTTP dates; garbage and negatives are None."""
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after("inf") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after(email.utils.formatdate(0, usegmt=True), now=10) == 0


def test_backoff_grows_caps_and_can_be_turned_off() -> None:
    """Exponential with jitter, capped; Retry-After wins; wait=False is zero."""
    policy = RetryPolicy(backoff=1, max_backoff=5, jitter=0)
    assert [policy.backoff_for(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert policy.backoff_for(1, retry_after=9) == 9
    jittered = RetryPolicy(backoff=1, jitter=0.5)
    assert all(0.5 <= jittered.backoff_for(1) <= 1 for _ in range(50))
    assert RetryPolicy(wait=False).backoff_for(3, retry_after=9) == 0
    assert RetryPolicy().send_budget == 100
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_results_merge_joins_and_keeps_field_errors_once() -> None:
    """info and add_info join; a field error repeated by every chunk is kept once."""
    a = SendResult(sent={"1": "p1"}, failed={"p2": "black list"}, errors={"src_addr": "bad"})
    b = SendResult(sent={"2": "p3"}, unknown={"p4": "lost"}, errors={"src_addr": "bad"})
    total = SendResult.merged([a, b])
    assert total.sent == {"1": "p1", "2": "p3"}
    assert total.failed == {"p2": "black list"}
    assert total.unknown == {"p4": "lost"}
    assert total.errors == {"src_addr": "bad"}
    assert total.recipients == 4
    assert not total.ok
    rows = total.to_rows()
    assert {r["outcome"] for r in rows} == {"sent", "failed", "unknown"}
    assert "sent=2" in repr(total)
    assert "<table>" in total._repr_html_()


def test_exported_names_are_sorted_and_real() -> None:
    """__all__ (kept sorted by ruff's RUF022) lists every public name, each once."""
    names = smsclub_async.__all__
    assert len(set(names)) == len(names)
    assert all(hasattr(smsclub_async, name) for name in names)
    public = {n for n in vars(smsclub_async) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if type(getattr(smsclub_async, n)).__name__ == "module"}
    assert public - modules <= set(names)


def test_the_public_surface_is_small_and_names_its_public_home() -> None:
    """At most 30 top-level names, none shadowing a builtin, each reporting its public module."""
    assert len(smsclub_async.__all__) <= 30
    assert not set(smsclub_async.__all__) & set(dir(builtins))
    for namespace in (smsclub_async, smsclub_async.gateways, smsclub_async.errors):
        for name in namespace.__all__:
            module = getattr(getattr(namespace, name), "__module__", None)
            if module is not None and module.startswith("smsclub_async"):
                assert not any(part.startswith("_") for part in module.split(".")), (name, module)


def test_moved_names_still_import_with_a_deprecation_warning() -> None:
    """Names that left the top level in 0.2 resolve to their new home, with a warning."""
    with pytest.warns(DeprecationWarning, match="RequestTimeoutError"):
        old = smsclub_async.TimeoutError  # type: ignore[attr-defined]
    assert old is smsclub_async.RequestTimeoutError
    with pytest.raises(AttributeError):
        _ = smsclub_async.NoSuchName  # type: ignore[attr-defined]


def _answered(
    phones: list[str], info: dict[str, object], add_info: dict[str, str] | None = None
) -> SendResult:
    body = json.dumps({"success_request": {"info": info, "add_info": add_info or {}}}).encode()
    chunk = Chunk(phones=phones)
    exchange = Outcome(body=body, error=None, maybe_processed=False, attempts=1)
    return account_send(chunk, exchange, endpoint="/sms/send")


def test_exact_echoes_are_matched_as_sent() -> None:
    """The usual answer: every number echoed as sent, ids issued in order."""
    phones = [f"38098000{i:04d}" for i in range(100)]
    result = _answered(phones, {str(1000 + i): p for i, p in enumerate(phones)})
    assert result.sent == {str(1000 + i): p for i, p in enumerate(phones)}
    assert not result.failed
    assert not result.unknown


def test_echoes_in_another_format_are_matched_by_their_tail() -> None:
    """A number echoed without its country code, or as a JSON number, is still ours."""
    result = _answered(
        ["380989361131", "380989361132", "380989361133"],
        {"1": "0989361131", "2": 380989361132, "3": "380989361133"},
    )
    assert result.sent == {"1": "380989361131", "2": "380989361132", "3": "380989361133"}
    assert not result.unknown


def test_a_second_echo_of_a_claimed_number_does_not_claim_a_look_alike() -> None:
    """Two ids for one number: the look-alike (same last nine digits) stays unknown."""
    result = _answered(
        ["380989361131", "370989361131"],  # same last nine digits, other country
        {"1": "380989361131", "2": "380989361131"},
    )
    assert result.sent == {"1": "380989361131", "2": "380989361131"}
    assert result.unknown == {"370989361131": NOT_MENTIONED}


def test_a_reformatted_echo_two_numbers_could_be_is_matched_to_neither() -> None:
    """Even once the exact echo has claimed one of them, the other is not assumed."""
    result = _answered(
        ["380989361131", "370989361131"],
        {"1": "0989361131", "2": "380989361131"},
    )
    assert result.sent == {"1": "0989361131", "2": "380989361131"}
    assert result.unknown == {"370989361131": NOT_MENTIONED}


async def _slow_numbers(first: int, then_wait: asyncio.Event) -> AsyncIterator[str]:
    for i in range(first):
        yield f"38098{i:07d}"
    await then_wait.wait()
    yield "380990000000"


@fake_clock
async def test_an_async_source_is_not_held_back_for_a_batch() -> None:
    """A chunk goes out once its 100th number arrives, though the source then stalls."""
    stalled = asyncio.Event()
    chunks = chunk_phones(_slow_numbers(250, stalled))
    first = await anext(chunks)
    second = await anext(chunks)
    assert [len(first.phones), len(second.phones)] == [100, 100]
    pending = asyncio.ensure_future(anext(chunks))
    await asyncio.sleep(1)
    # 50 numbers so far and the source stalls: they go out after a short linger
    # instead of waiting (maybe forever) for the next one (issue 13, item 11).
    assert pending.done()
    assert len(pending.result().phones) == 50
    stalled.set()
    assert (await anext(chunks)).phones == ["380990000000"]
    await chunks.aclose()


@fake_clock
async def test_fan_out_yields_in_completion_order() -> None:
    """Results come as workers finish, not as they started."""

    async def items() -> AsyncIterator[float]:
        for delay in (0.3, 0.1, 0.2):
            yield delay

    async def worker(delay: float) -> float:
        await asyncio.sleep(delay)
        return delay

    assert [r async for r in fan_out(items(), worker, limit=3)] == [0.1, 0.2, 0.3]


@fake_clock
async def test_stopping_after_a_chunk_leaves_the_source_just_past_it() -> None:
    """Numbers are read in batches, but never beyond what the chunk has room for."""
    numbers = iter(
        [*(f"38098{i:07d}" for i in range(150)), "bad", *(f"38099{i:07d}" for i in range(150))]
    )
    chunks = chunk_phones(numbers)
    first = await anext(chunks)
    second = await anext(chunks)
    await chunks.aclose()
    assert first.phones[-1] == "380980000099"
    assert second.rejected == {"bad": invalid_phone_reason("bad")}
    assert len(second.phones) == 100
    assert second.phones[-1] == "380990000049"
    assert next(numbers) == "380990000050"
