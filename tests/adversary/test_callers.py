"""Unusual callers, for the three gateways: what issue 13 found on the caller's side.

* a recipient generator that raises after 1,500 numbers, and an item whose ``str()``
  raises: requests already on the wire finish and are accounted, the error carries
  ``partial`` with everything, and numbers never attempted are reported somewhere;
* ``aclose()`` while a bulk send runs, 40 times over real sockets: no socket left
  unclosed (``ResourceWarning``);
* an async recipient source that yields one number and then waits: the number goes
  out after a short linger, not when the source ends;
* a 401 in the middle of a bulk send: every recipient in some bucket;
* ``wait_for_final(["100\\n"])`` normalises ids as ``status()`` does;
* bad arguments (``token=b"..."``, ``token=123``, ``lifetime="5"``, ``10**30``,
  ``10**5000``, a ``base_url`` with userinfo): ``ValueError``/``ConfigurationError``
  before any request.

Every check is against the emulator's record.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from smsclub_async import ConfigurationError, RetryPolicy, SendResult, SmsClub, SmsClubError
from smsclub_async.errors import SourceError
from smsclub_async.gateways import SmscClient, SmsteleClient
from smsclub_async.sandbox import Faults, serve

from ..conftest import run_on_fake_clock
from ..reliability.campaign import check_invariants
from ..reliability.gateways import GATEWAY_NAMES, GATEWAYS, PASSWORD, Gateway, record_of

SEND_RETRY = RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.1)

#: The buckets a result may report a recipient in; ``not_sent``/``not_attempted``:
#: whatever the engine names the bucket of numbers read but never attempted.
EXTRA_BUCKETS = ("not_sent", "not_attempted", "unattempted", "skipped")


def accounted(result: SendResult) -> set[str]:
    """Every recipient the result reports, in any bucket."""
    found = {*result.sent.values(), *result.failed, *result.unknown}
    for name in EXTRA_BUCKETS:
        found |= set(getattr(result, name, None) or ())
    return found


def account() -> str:
    return f"callers-{uuid.uuid4().hex}"


def slow_emulator(gateway: Gateway, seed: int = 3) -> Any:
    """An emulator whose answers take 50-200 ms of the (patched) clock."""
    loop = asyncio.get_running_loop()
    return gateway.emulator(faults=Faults(seed=seed, latency=(0.05, 0.2)), clock=loop.time)


# ----------------------------------------------------------------- item 3: caller errors


class CursorLost(Exception):
    """The caller's own failure (a database cursor that died)."""


class Unprintable:
    """A recipient whose ``str()`` raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text for this row")

    __repr__ = object.__repr__


def numbers_then(gateway: Gateway, count: int, end: str) -> Iterator[Any]:
    """``count`` numbers, then a failure: raise, or an item whose str() raises."""
    for i in range(count):
        yield gateway.number(i)
    if end == "raise":
        raise CursorLost("the database went away")
    yield Unprintable()
    for i in range(count, count + 200):
        yield gateway.number(i)


@pytest.mark.parametrize("end", ["raise", "unprintable"])
@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_caller_error_mid_stream_keeps_every_id_and_every_number(name: str, end: str) -> None:
    """1,500 numbers and then the caller's source fails: the error carries ``partial``,
    which holds every id the emulator issued (requests on the wire finished) and every
    number read, in some bucket. Not a ValueError once messages went out. An item
    whose ``str()`` raises is no phone number: it is refused in ``failed`` like any
    other, and the send goes on."""
    gateway = GATEWAYS[name]
    login = account()

    async def scenario() -> None:
        emulator = slow_emulator(gateway)
        async with gateway.client(
            login, emulator=emulator, max_concurrency=4, send_retry=SEND_RETRY
        ) as sms:
            if end == "unprintable":
                partial = await sms.send(
                    numbers_then(gateway, 1500, end), "x", sender=gateway.sender
                )
                assert [r for r in partial.failed if "Unprintable" in r], partial.failed
                read = {gateway.number(i) for i in range(1700)}
                assert read <= accounted(partial)
                return
            with pytest.raises((CursorLost, SmsClubError, RuntimeError, ValueError)) as caught:
                await sms.send(numbers_then(gateway, 1500, end), "x", sender=gateway.sender)
            assert isinstance(caught.value, SourceError)
            assert isinstance(caught.value.__cause__, CursorLost)
        record = record_of(emulator, login)
        assert record.deliveries, "nothing was sent: the test proves nothing"
        partial = getattr(caught.value, "partial", None)
        assert isinstance(partial, SendResult), f"no partial on {caught.value!r}"
        read = {gateway.number(i) for i in range(1500)}
        assert check_invariants(read, partial, record, login, complete=False) == []
        # The emulator has no fault: every request that left finished, with its ids.
        lost = set(record.issued.items()) - set(partial.sent.items())
        assert not lost, f"{len(lost)} of {len(record.issued)} issued ids not in partial.sent"
        assert read <= accounted(partial), f"{len(read - accounted(partial))} numbers unreported"
        assert not isinstance(caught.value, ValueError) or isinstance(caught.value, SmsClubError), (
            "a bare ValueError after messages went out"
        )

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- item 6: 401 mid-bulk


class RefuseAfter(httpx.AsyncBaseTransport):
    """The emulator's transport, but from the ``n``-th request on the account is refused."""

    def __init__(self, inner: httpx.AsyncBaseTransport, gateway: Gateway, n: int) -> None:
        self.inner, self.gateway, self.n, self.count = inner, gateway, n, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        if self.count < self.n:
            return await self.inner.handle_async_request(request)
        await asyncio.sleep(0.01)
        if self.gateway.name == "smsclub":
            body = {
                "name": "Unauthorized",
                "message": "Your request was made with invalid credentials.",
                "code": 0,
                "status": 401,
            }
            return httpx.Response(401, json=body)
        if self.gateway.name == "smsc":
            return httpx.Response(200, json={"error": "authorise error", "error_code": 2})
        return httpx.Response(
            200, json={"error": "-23", "description": "Invalid login or password"}
        )


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_refused_login_mid_bulk_leaves_no_recipient_unreported(name: str) -> None:
    """2,000 recipients; the account is refused from the 6th request on: the error's
    ``partial`` reports every one of the 2,000 (never attempted ones too), and the
    record's deliveries are all in sent."""
    gateway = GATEWAYS[name]
    login = account()
    phones = [gateway.number(i) for i in range(2000)]

    async def scenario() -> None:
        emulator = slow_emulator(gateway)
        transport = RefuseAfter(gateway.in_process(emulator), gateway, 6)
        async with gateway.client(
            login, transport=transport, max_concurrency=2, send_retry=SEND_RETRY
        ) as sms:
            try:
                result = await sms.send(phones, "x", sender=gateway.sender)
            except SmsClubError as exc:
                result = exc.partial
        record = record_of(emulator, login)
        assert record.deliveries, "nothing was sent: the test proves nothing"
        assert check_invariants(set(phones), result, record, login, complete=False) == []
        missing = set(phones) - accounted(result)
        assert not missing, f"{len(missing)} of 2,000 recipients in no bucket"

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- item 10: aclose mid-send


def _closing_runs(name: str, transport: str, runs: int) -> None:
    gateway = GATEWAYS[name]

    async def one(run: int) -> None:
        login = account()
        emulator = gateway.emulator(faults=Faults(seed=run, latency=(0.0, 0.02)))
        async with serve(emulator) as server:
            sms = gateway.client(
                login,
                base_url=server.url,
                transport=transport,  # type: ignore[arg-type]
                max_concurrency=4,
                send_retry=SEND_RETRY,
            )
            phones = [gateway.number(i) for i in range(400)]
            task = asyncio.create_task(sms.send(phones, "close me", sender=gateway.sender))
            await asyncio.sleep(0.01 + 0.002 * (run % 10))
            await sms.aclose()
            try:
                result = await task
            except SmsClubError as exc:
                result = exc.partial
            assert isinstance(result, SendResult)
            record = record_of(emulator, login)
            assert check_invariants(set(phones), result, record, login, complete=False) == []

    async def all_runs() -> list[str]:
        caught: list[str] = []
        for run in range(runs):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always", ResourceWarning)
                await one(run)
                await asyncio.sleep(0)
                gc.collect()
            caught += [f"run {run}: {w.message}" for w in seen if w.category is ResourceWarning]
        return caught

    loop = asyncio.new_event_loop()
    try:
        leaks = loop.run_until_complete(all_runs())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    assert leaks == [], f"{len(leaks)} unclosed sockets over {runs} runs: {leaks[:3]}"




@pytest.mark.parametrize(
    ("name", "transport", "runs"),
    [
        pytest.param("smsclub", "httpx", 40),
        pytest.param("smsc", "httpx", 10),
        pytest.param("smstele", "httpx", 10),
        ("smsclub", "aiohttp", 10),
    ],
)
def test_aclose_during_a_bulk_send_leaves_no_socket_open(
    name: str, transport: str, runs: int
) -> None:
    """The client is closed while its bulk send runs (a shutdown): over ``runs`` runs
    with real sockets, no ResourceWarning, and the send's result keeps every id."""
    _closing_runs(name, transport, runs)


# ----------------------------------------------------------------- item 11: a slow source

LINGER = 5.0  # seconds of the patched clock a lone number may wait for company


async def one_then_wait(phone: str, release: asyncio.Event) -> AsyncIterator[str]:
    """An async source (a queue consumer) that has one number and waits for more."""
    yield phone
    await release.wait()


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_number_from_an_async_source_is_sent_after_a_short_linger(name: str) -> None:
    """The source yields one number and then blocks: within LINGER seconds the
    emulator has delivered it, without the source ending."""
    gateway = GATEWAYS[name]
    login = account()
    phone = gateway.number(7)

    async def scenario() -> None:
        emulator = gateway.emulator(clock=asyncio.get_running_loop().time)
        release = asyncio.Event()
        async with gateway.client(login, emulator=emulator) as sms:
            task = asyncio.create_task(
                sms.send(one_then_wait(phone, release), "x", sender=gateway.sender)
            )
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LINGER
            while loop.time() < deadline and not record_of(emulator, login).deliveries:  # noqa: ASYNC110 - polling the emulator's record
                await asyncio.sleep(0.1)
            delivered = dict(record_of(emulator, login).deliveries)
            release.set()
            result = await task
        assert delivered == {phone: 1}, "the number was not sent while the source waited"
        assert list(result.sent.values()) == [phone]

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- item 14: id normalisation


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_wait_for_final_normalises_ids_like_status(name: str) -> None:
    """An id with a trailing newline (read from a file): status() and
    wait_for_final() both find the message and report it final."""
    gateway = GATEWAYS[name]
    login = account()

    async def scenario() -> None:
        emulator = gateway.emulator(clock=asyncio.get_running_loop().time)
        async with gateway.client(login, emulator=emulator) as sms:
            result = await sms.send([gateway.number(1)], "x", sender=gateway.sender)
            (key,) = result.sent
            ragged = key + "\n"
            # Polled while the message is still on its way (final within a second).
            loop = asyncio.get_running_loop()
            started = loop.time()
            final = await sms.wait_for_final([ragged], timeout=30)
            assert [s.is_final for s in final.values()] == [True], final
            assert final.missing == [], "reported missing though status() finds it"
            assert loop.time() - started < 20, "polled until the timeout"
            report = await sms.status([ragged])
            assert [s.is_final for s in report.values()] == [True], report

    run_on_fake_clock(scenario())


# ----------------------------------------------------------------- item 13: bad arguments


def make(name: str, secret: Any, **options: Any) -> Any:
    """A client of ``name`` whose token (SMS Club) or password is ``secret``."""
    if name == "smsclub":
        return SmsClub(token=secret, **options)
    if name == "smsc":
        return SmscClient("login", secret, **options)
    return SmsteleClient("login", secret, **options)


CLEAR = (ValueError, ConfigurationError)


def recording(sent: list[httpx.Request]) -> Any:
    """A gateway that records each request it gets and answers 500."""

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    return gateway


@pytest.mark.parametrize("secret", [b"SECRET-bytes", 123], ids=repr)
@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_token_or_password_that_is_not_text_is_refused_clearly(name: str, secret: Any) -> None:
    """bytes or a number as the secret: ValueError or ConfigurationError when the
    client is made (or at the latest before any request)."""
    sent: list[httpx.Request] = []

    async def scenario() -> None:
        transport = httpx.MockTransport(recording(sent))
        async with make(name, secret, transport=transport) as sms:
            await sms.send(["380501234567"], "x")

    with pytest.raises(CLEAR):
        run_on_fake_clock(scenario())
    assert sent == []


def _lifetime_cases() -> list[Any]:
    values = {"'5'": "5", "10**30": 10**30, "10**5000": 10**5000}
    return [
        pytest.param(name, value, id=f"{name}-{label}")
        for name in GATEWAY_NAMES
        for label, value in values.items()
    ]


@pytest.mark.parametrize(("name", "value"), _lifetime_cases())
def test_a_bad_lifetime_is_refused_before_any_request(name: str, value: Any) -> None:
    """A lifetime that is text, or absurdly large: ValueError/ConfigurationError,
    and the gateway never sees a request."""
    sent: list[httpx.Request] = []
    gateway = GATEWAYS[name]

    async def scenario() -> Any:
        transport = httpx.MockTransport(recording(sent))
        async with make(name, PASSWORD, transport=transport, send_retry=SEND_RETRY) as sms:
            try:
                return await sms.send(
                    [gateway.number(1)], "x", sender=gateway.sender, lifetime=value
                )
            except Exception as exc:  # classified below
                return exc

    outcome = run_on_fake_clock(scenario())
    assert isinstance(outcome, CLEAR), f"{type(outcome).__name__}: {outcome}"
    assert sent == []


@pytest.mark.parametrize("name", GATEWAY_NAMES)
def test_a_base_url_with_userinfo_is_refused(name: str) -> None:
    """``http://user:password@host``: ConfigurationError when the client is made
    (httpx would replace the Bearer header with Basic auth), the password in no repr."""
    url = "http://someone:URL-SECRET-51c2@127.0.0.1:9"
    with pytest.raises(ConfigurationError) as caught:
        make(name, PASSWORD, base_url=url)
    assert "URL-SECRET-51c2" not in str(caught.value)
