"""Bad input and bad answers: a clear error or a correct result, never a crash or a hang.

"Clear" means an ``SmsClubError`` (the gateway or the transport failed) or a
``ValueError`` that is not a ``UnicodeError`` (the caller's input is wrong). Anything
else -- ``TypeError``, ``KeyError``, ``UnicodeEncodeError``, ``decimal.InvalidOperation``
-- is a crash. Every call runs under a deadline on a patched clock, so a hang fails.

Two sources of trouble:

* the caller's input (hypothesis): phones, messages (empty, huge, control characters,
  RTL, emoji), senders, lifetimes, id lists, against the in-process sandbox;
* the gateway's answer (hypothesis): random bytes, random JSON, and the documented
  shapes with random leaves, for every endpoint, through ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from smsclub_async import Balance, RetryPolicy, SendResult, SmsClub, SmsClubError, StatusReport
from smsclub_async.gateways import SenderRegistration, normalize_phone
from smsclub_async.sandbox import Sandbox, SandboxConfig, SandboxTransport

from ..conftest import run_on_fake_clock

FUZZ = settings(
    max_examples=60,
    deadline=None,
    # No "explain" phase: writing its patch file imports a module that warns, and
    # warnings are errors here (it would turn a failure into an INTERNALERROR).
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DEADLINE = 120.0  # seconds of the patched clock: longer than any retry schedule here
SENDER = "VashZakaz"
NO_WAIT = RetryPolicy(attempts=3, wait=False)

Call = Callable[[SmsClub], Awaitable[Any]]


class Crash(AssertionError):
    """The library let an unrelated exception out, or hung."""


def run_call(call: Call, transport: httpx.AsyncBaseTransport, **client: Any) -> Any:
    """Run ``call`` on a fresh client; return its result or the exception it raised."""

    async def scenario() -> Any:
        client.setdefault("retry", NO_WAIT)
        client.setdefault("send_retry", NO_WAIT)
        async with SmsClub(
            token="fuzz-token", transport=transport, rate_limit=10**6, **client
        ) as sms:
            try:
                async with asyncio.timeout(DEADLINE):
                    return await call(sms)
            except TimeoutError as exc:  # the builtin: asyncio.timeout expired
                raise Crash(f"hung for {DEADLINE} s") from exc
            except Exception as exc:
                return exc

    return run_on_fake_clock(scenario())


def assert_clear(outcome: Any) -> None:
    """An exception, if any, is the library's own or a ValueError about the input."""
    if not isinstance(outcome, BaseException):
        return
    clear = isinstance(outcome, SmsClubError) or (
        isinstance(outcome, ValueError) and not isinstance(outcome, UnicodeError)
    )
    if not clear:
        raise Crash(f"unrelated {type(outcome).__name__}: {outcome}") from outcome
    assert str(outcome).strip(), f"{type(outcome).__name__} without a message"


def sandbox_transport() -> SandboxTransport:
    """The in-process sandbox: the gateway's real validation, no rate limit."""
    return SandboxTransport(Sandbox(SandboxConfig(rate_limit=None, balance=Decimal(10**6))))


def assert_accounts_for(phones: list[Any], result: SendResult) -> None:
    """Every distinct valid number in exactly one bucket; invalid inputs in failed."""
    sent = list(result.sent.values())
    buckets = [*sent, *result.failed, *result.unknown]
    for raw in phones:
        phone = normalize_phone(raw)
        if phone is not None:
            assert buckets.count(phone) == 1, (phone, result)


# ----------------------------------------------------------------- the caller's input

valid_phone = st.from_regex(r"380[0-9]{9}", fullmatch=True)
phone_item = st.one_of(
    valid_phone,
    valid_phone.map(lambda p: f"+{p[:2]} ({p[2:5]}) {p[5:8]}-{p[8:10]}-{p[10:]}"),
    st.text(max_size=20),
    st.integers(min_value=-(10**16), max_value=10**16),
    st.none(),
    st.floats(),
    st.binary(max_size=12),
)
# st.text() never draws lone surrogates; they have their own tests below.
messages = st.one_of(
    st.text(max_size=400),
    st.just(""),
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=50),
    st.text(st.sampled_from("שלום مرحبا\u202e\u202d\u200f\u200e"), min_size=1, max_size=80),
    st.text(st.sampled_from("😀👍🏽🇺🇦👨‍👩‍👧\u200d\ufe0f"), min_size=1, max_size=80),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(1_000, 400_000)),
)


@FUZZ
@given(
    phones=st.one_of(
        phone_item.filter(lambda p: isinstance(p, str)),
        st.lists(phone_item, max_size=230),
        st.lists(phone_item, max_size=30).map(tuple),
        st.lists(phone_item, max_size=30).map(lambda items: (i for i in items)),
    ),
    message=messages,
    sender=st.one_of(st.just(SENDER), st.text(max_size=20)),
    lifetime=st.one_of(
        st.none(),
        st.integers(min_value=-5, max_value=10**25),
        st.booleans(),
        st.floats(),
        st.text(max_size=5),
    ),
)
def test_send_with_any_input_ends_clearly(
    phones: Any, message: str, sender: str, lifetime: Any
) -> None:
    """send(): a result that accounts for every number, or a clear error."""
    listed = list(phones) if not isinstance(phones, str | tuple | list) else phones
    source = (p for p in listed) if not isinstance(phones, str | tuple | list) else phones
    outcome = run_call(
        lambda sms: sms.send(source, message, sender=sender, lifetime=lifetime),
        sandbox_transport(),
    )
    assert_clear(outcome)
    if isinstance(outcome, SmsClubError) and isinstance(outcome.partial, SendResult):
        outcome = outcome.partial
    if isinstance(outcome, SendResult):
        assert_accounts_for([listed] if isinstance(listed, str) else list(listed), outcome)


@FUZZ
@given(
    pairs=st.lists(st.tuples(phone_item, messages), max_size=150),
    as_mapping=st.booleans(),
    sender=st.one_of(st.just(SENDER), st.text(max_size=20)),
)
def test_send_personalized_with_any_input_ends_clearly(
    pairs: list[tuple[Any, str]], as_mapping: bool, sender: str
) -> None:
    """send_personalized(): a result or a clear error, from a mapping or from pairs."""
    source: Any = dict(pairs) if as_mapping else iter(pairs)
    outcome = run_call(
        lambda sms: sms.send_personalized(source, sender=sender), sandbox_transport()
    )
    assert_clear(outcome)


ids = st.one_of(
    st.text(max_size=70),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.none(),
    st.floats(),
    st.binary(max_size=8),
    st.booleans(),
)


@FUZZ
@given(
    message_ids=st.one_of(
        st.text(max_size=70),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.lists(ids, max_size=250),
        st.sets(st.text(max_size=8)),
    )
)
def test_status_with_any_ids_ends_clearly(message_ids: Any) -> None:
    """status(): a report or a clear error, whatever the ids."""
    outcome = run_call(lambda sms: sms.status(message_ids), sandbox_transport())
    assert_clear(outcome)
    if isinstance(outcome, StatusReport):
        assert all(isinstance(k, str) for k in outcome)


@FUZZ
@given(
    sender=st.one_of(st.none(), st.text(max_size=30)),
    fields=st.fixed_dictionaries(
        {
            "company": st.text(max_size=30),
            "subject": st.text(max_size=30),
            "description": st.text(max_size=30),
            "site": st.text(max_size=30),
            "okpo": st.one_of(st.none(), st.text(max_size=12)),
            "inn": st.one_of(st.none(), st.text(max_size=12)),
        }
    ),
    company_type=st.one_of(st.sampled_from(["tov", "fop"]), st.text(max_size=4)),
)
def test_sender_endpoints_with_any_input_end_clearly(
    sender: str | None, fields: dict[str, Any], company_type: str
) -> None:
    """sender_status() and register_sender(): a result or a clear error."""
    assert_clear(run_call(lambda sms: sms.sender_status(sender), sandbox_transport()))
    outcome = run_call(
        lambda sms: sms.register_sender(sender=sender or "", company_type=company_type, **fields),
        sandbox_transport(),
    )
    assert_clear(outcome)


# ----------------------------------------------------------------- known bad input: bugs

LONE_SURROGATE = "Order \ud83d shipped"  # half of an emoji: not encodable as UTF-8


def _no_request_was_made(call: Call) -> tuple[Any, Sandbox]:
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    outcome = run_call(call, SandboxTransport(sandbox))
    return outcome, sandbox


SURROGATE_CALLS: dict[str, Call] = {
    "send message": lambda sms: sms.send(["380501234567"], LONE_SURROGATE, sender=SENDER),
    "send sender": lambda sms: sms.send(["380501234567"], "hi", sender="Vash\udc00"),
    "send_personalized mapping": lambda sms: sms.send_personalized(
        {"380501234567": LONE_SURROGATE}, sender=SENDER
    ),
    "sender_status": lambda sms: sms.sender_status("Vash\udc00"),
    "register_sender": lambda sms: sms.register_sender(
        sender="Shop",
        company_type="fop",
        company=LONE_SURROGATE,
        subject="x",
        description="x",
        site="x",
        inn="1",
    ),
}


@pytest.mark.parametrize("what", list(SURROGATE_CALLS))
def test_a_lone_surrogate_is_a_clear_value_error_before_any_request(what: str) -> None:
    """A string that cannot be UTF-8 encoded is refused with ValueError, and nothing
    goes to the gateway."""
    outcome, sandbox = _no_request_was_made(SURROGATE_CALLS[what])
    assert_clear(outcome)
    assert isinstance(outcome, ValueError)
    assert sandbox.stats().count == 0


@pytest.mark.parametrize(
    ("bad_text", "options"),
    [(LONE_SURROGATE, {}), ("long " * 100, {"max_parts": 1})],
    ids=["lone surrogate", "too many parts"],
)
def test_bad_text_in_a_later_personalized_chunk_loses_no_id(
    bad_text: str, options: dict[str, Any]
) -> None:
    """Pairs from an iterator, the 151st refused: the first 100 were sent; their ids
    must reach the caller (a result, or a clear error whose partial has them), and
    the refused phone is failed, not sent."""
    pairs = [(f"38050{i:07d}", "hello") for i in range(150)] + [("380991111111", bad_text)]
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    outcome = run_call(
        lambda sms: sms.send_personalized(iter(pairs), sender=SENDER, **options),
        SandboxTransport(sandbox),
        max_concurrency=1,
    )
    delivered = {m.id: m.phone for m in sandbox.messages()}
    assert delivered, "nothing was sent: the test proves nothing"
    assert_clear(outcome)
    result = outcome.partial if isinstance(outcome, BaseException) else outcome
    assert isinstance(result, SendResult)
    assert all(result.sent.get(i) == p or p in result.unknown for i, p in delivered.items())
    assert "380991111111" in result.failed
    assert "380991111111" not in delivered.values()


# Regression test (fixed in 9c444ec). Was a bug: integration_id and max_parts are not validated:
# a wrong type escapes as TypeError from the encoder or from a comparison
# (_client.SmsClub.send_iter)
@pytest.mark.parametrize(
    "options",
    [
        {"integration_id": "abc"},
        {"integration_id": object()},
        {"integration_id": 1.5},
        {"max_parts": "3"},
        {"max_parts": 1.5},
    ],
    ids=repr,
)
def test_wrong_option_types_are_a_clear_value_error_before_any_request(
    options: dict[str, Any],
) -> None:
    """Every option of send() is checked up front, like lifetime is."""
    outcome, sandbox = _no_request_was_made(
        lambda sms: sms.send(["380501234567"], "hi", sender=SENDER, **options)
    )
    assert_clear(outcome)
    assert isinstance(outcome, ValueError)
    assert sandbox.stats().count == 0


# Regression test (fixed in 9c444ec). Was a bug: a personalized iterable item that is not a
# (phone, text) pair escapes _phones.chunk_messages as TypeError ('cannot unpack non-iterable
# int object')
@pytest.mark.parametrize("item", [5, None], ids=repr)
def test_a_malformed_personalized_item_is_refused_clearly(item: object) -> None:
    """A bad item is a clear error (or that item failed), and no id is lost."""
    pairs = [("380501234567", "hello"), item]
    sandbox = Sandbox(SandboxConfig(rate_limit=None))
    outcome = run_call(
        lambda sms: sms.send_personalized(iter(pairs), sender=SENDER), SandboxTransport(sandbox)
    )
    assert_clear(outcome)
    if isinstance(outcome, BaseException) and sandbox.messages():
        assert isinstance(outcome.partial, SendResult)  # type: ignore[attr-defined]
        assert "380501234567" in outcome.partial.sent.values()  # type: ignore[attr-defined]


# Regression test (fixed in 9c444ec). Was a bug: phones or message ids that are not a string (or
# number) or an iterable of them -- None, a number, bytes -- give TypeError from
# _phones.aiter_any, or for bytes a request made of the byte values
@pytest.mark.parametrize(
    ("call", "value"),
    [
        ("send", None),
        ("send", 380501234567),
        ("send", 3.8e11),
        ("send", b"380501234567"),
        ("status", None),
        ("status", 1.5),
        ("status", b"100"),
    ],
    ids=repr,
)
def test_recipients_or_ids_of_the_wrong_type_are_a_clear_value_error(
    call: str, value: object
) -> None:
    """send() and status() document ValueError for bad recipients or ids, raised
    before any request. (A single whole number is a phone number like its string: a
    result that sent it is right too.)"""
    outcome, sandbox = _no_request_was_made(
        (lambda sms: sms.send(value, "hi", sender=SENDER))  # type: ignore[arg-type]
        if call == "send"
        else (lambda sms: sms.status(value))  # type: ignore[arg-type]
    )
    assert_clear(outcome)
    if isinstance(value, int) and isinstance(outcome, SendResult):
        assert list(outcome.sent.values()) == [str(value)]
        return
    assert isinstance(outcome, ValueError)
    assert sandbox.stats().count == 0


# Regression test (fixed in 9c444ec). Was a bug: _phones.chunk_messages refuses a blank (or
# unencodable, or too long) message before marking the phone seen, so a later pair for the same
# phone is sent too: the phone ends in both `failed` and `sent` (the docstring says the first
# pair of a phone wins)
@pytest.mark.parametrize(
    ("first", "options"),
    [("  ", {}), (LONE_SURROGATE, {}), ("long " * 100, {"max_parts": 1})],
    ids=["blank", "lone surrogate", "too many parts"],
)
def test_a_phone_whose_first_message_is_refused_is_in_one_bucket_only(
    first: str, options: dict[str, Any]
) -> None:
    """Pairs (p, refused text), (p, "hello"): p is in exactly one of sent/failed/unknown."""
    phone = "380501234567"
    outcome = run_call(
        lambda sms: sms.send_personalized(
            iter([(phone, first), (phone, "hello")]), sender=SENDER, **options
        ),
        sandbox_transport(),
    )
    assert isinstance(outcome, SendResult)
    assert_accounts_for([phone], outcome)


# ----------------------------------------------------------------- the gateway's answer

PHONES = ["380501234567", "380501234568", "380501234569"]

CALLS: dict[str, tuple[str, Call]] = {
    "send": ("/sms/send", lambda sms: sms.send(PHONES, "hello", sender=SENDER)),
    "send_personalized": (
        "/v2/sms/send",
        lambda sms: sms.send_personalized(dict.fromkeys(PHONES, "hi"), sender=SENDER),
    ),
    "status": ("/sms/status", lambda sms: sms.status(["100", "101", 102])),
    "balance": ("/sms/balance", lambda sms: sms.balance()),
    "senders": ("/sms/originator", lambda sms: sms.senders()),
    "sender_status": ("/originators/stat-originators", lambda sms: sms.sender_status(SENDER)),
    "sender_status_all": ("/originators/stat-originators", lambda sms: sms.sender_status()),
    "register_sender": (
        "/originators/registration-originators",
        lambda sms: sms.register_sender(
            sender="Shop",
            company_type="tov",
            company="C",
            subject="S",
            description="D",
            site="https://example.com",
            okpo="12345678",
        ),
    ),
}

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from([*PHONES, "100", "ENROUTE", "DELIVRD", "Approved", "UAH", "phone"]),
)
any_json = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
key = st.one_of(st.text(max_size=12), st.sampled_from([*PHONES, "100", "101", "message", "phone"]))
loose_dict = st.dictionaries(key, any_json, max_size=5)
money = st.one_of(
    st.decimals(allow_nan=False).map(str),
    st.decimals().map(str),  # "NaN", "Infinity", "sNaN" too
    st.floats(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from(["1e30", "8111.1700", "-0", "1e-30", "0x10", " 5 ", ""]),
    any_json,
)


def shaped(endpoint: str) -> st.SearchStrategy[Any]:
    """The documented answer of ``endpoint`` with random leaves, or missing parts."""
    info: st.SearchStrategy[Any]
    if endpoint in ("/sms/send", "/v2/sms/send"):
        info = st.dictionaries(st.one_of(key, st.integers().map(str)), st.one_of(scalar, any_json))
    elif endpoint == "/sms/balance":
        info = st.fixed_dictionaries({"money": money, "currency": st.one_of(st.text(), any_json)})
    elif endpoint == "/sms/originator":
        info = st.one_of(st.lists(st.one_of(st.text(), any_json)), loose_dict)
    elif endpoint == "/originators/registration-originators":
        info = st.one_of(
            st.none(),
            st.fixed_dictionaries({"originator": any_json, "status": any_json}),
        )
    else:
        info = loose_dict
    body = st.fixed_dictionaries({}, optional={"info": info, "add_info": loose_dict})
    return st.one_of(
        st.fixed_dictionaries({"success_request": body}),
        st.fixed_dictionaries({"success_request": any_json}),
        any_json,
    )


Answer = tuple[int, dict[str, str], bytes]


def answers(endpoint: str) -> st.SearchStrategy[Answer]:
    """Whole responses: a status, some headers and a body of any kind."""
    body = st.one_of(
        st.binary(max_size=200),
        shaped(endpoint).map(lambda obj: json.dumps(obj).encode()),
        any_json.map(lambda obj: json.dumps(obj, ensure_ascii=False).encode()),
        shaped(endpoint).map(lambda obj: json.dumps(obj).encode()[:-3]),  # cut short
    )
    status = st.one_of(
        st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 453, 500, 502, 503]),
        st.integers(min_value=200, max_value=599),
    )
    headers = st.fixed_dictionaries(
        {},
        optional={
            "content-type": st.sampled_from(
                ["application/json", "text/html", "application/octet-stream", ""]
            ),
            "content-encoding": st.sampled_from(["gzip", "deflate", "identity", "br", "x"]),
            "retry-after": st.one_of(
                st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
                st.floats(allow_nan=True).map(str),
                st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"]),
            ),
        },
    )
    return st.tuples(status, headers, body)


@FUZZ
@pytest.mark.parametrize("name", list(CALLS))
@given(data=st.data())
def test_any_gateway_answer_ends_clearly(name: str, data: st.DataObject) -> None:
    """Whatever each endpoint answers (three answers drawn, in case of retries): a
    correct result or a clear error, within the deadline."""
    endpoint, call = CALLS[name]
    replies = data.draw(st.lists(answers(endpoint), min_size=3, max_size=3))
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        status, headers, body = replies[min(len(seen), len(replies)) - 1]
        # A stream, so that a bad content-encoding fails when the client reads it.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    outcome = run_call(call, httpx.MockTransport(gateway))
    assert set(seen) <= {endpoint}
    assert_clear(outcome)
    if isinstance(outcome, SmsClubError) and isinstance(outcome.partial, SendResult):
        outcome = outcome.partial
    if isinstance(outcome, SendResult):
        phones = list(outcome.sent.values()) + list(outcome.failed) + list(outcome.unknown)
        for phone in PHONES:  # each of ours once (an answer may add numbers it invented)
            assert (
                (phone in outcome.sent.values())
                + (phone in outcome.failed)
                + (phone in outcome.unknown)
            ) == 1, (phone, outcome)
        assert all(isinstance(p, str) for p in phones)
    elif isinstance(outcome, Balance):
        assert isinstance(outcome.money, Decimal)
        assert outcome.money.is_finite()
    elif isinstance(outcome, SenderRegistration):
        assert isinstance(outcome.sender, str)


# Regression test (fixed in 9c444ec). Was a bug: balance() quantizes the money to cents in the
# default decimal context (28 digits): a value of 10**27 or more raises decimal.InvalidOperation
# (_client.SmsClub.balance)
@pytest.mark.parametrize("value", ["1e30", 12345678901234567890123456789, 1e300], ids=repr)
def test_a_huge_balance_is_a_result_or_a_decode_error(value: object) -> None:
    """An absurd balance is reported exactly or refused with DecodeError."""
    body = {"success_request": {"info": {"money": value, "currency": "UAH"}}}
    outcome = run_call(
        lambda sms: sms.balance(),
        httpx.MockTransport(lambda request: httpx.Response(200, json=body)),
    )
    assert_clear(outcome)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:99999",
        "http://[::1",
        "http://exa mple.invalid",
        "ftp://im.smsclub.mobi",
        "https://",
    ],
)
async def test_a_bad_base_url_is_a_clear_error(base_url: str) -> None:
    """A malformed base URL fails with ConfigurationError when the client is made, or
    with the library's TransportError on the first call -- nothing else."""
    outcome: BaseException | None = None
    try:
        async with SmsClub(
            token="fuzz-token", base_url=base_url, retry=RetryPolicy(attempts=1)
        ) as sms:
            await sms.balance()
    except Exception as exc:  # classified below
        outcome = exc
    assert isinstance(outcome, SmsClubError), f"{type(outcome).__name__}: {outcome}"
