"""Construction, ownership of the httpx client, closing, event loops, bad input, secrets."""

from __future__ import annotations

import asyncio
import gc
import traceback

import httpx
import pytest
import respx

from smsclub_async import (
    ClientClosedError,
    ConfigurationError,
    LimiterError,
    LocalLimiter,
    Permit,
    ServerError,
    SmsClub,
    TransportError,
    __version__,
)
from smsclub_async.errors import EventLoopError

from .conftest import NO_WAIT, NO_WAIT_SEND

BALANCE = httpx.Response(
    200, json={"success_request": {"info": {"money": "1.0000", "currency": "UAH"}}}
)


def test_token_and_base_url_fall_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """$SMSCLUB_TOKEN and $SMSCLUB_BASE_URL are used when no argument is given."""
    monkeypatch.setenv("SMSCLUB_TOKEN", "from-env")
    monkeypatch.setenv("SMSCLUB_BASE_URL", "http://127.0.0.1:9/")
    sms = SmsClub()
    assert sms.base_url == "http://127.0.0.1:9"
    assert sms._headers["Authorization"] == "Bearer from-env"


def test_missing_token_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token anywhere: ConfigurationError telling where to get one."""
    monkeypatch.delenv("SMSCLUB_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="SMSCLUB_TOKEN"):
        SmsClub()


@pytest.mark.parametrize("url", ["im.smsclub.mobi", "ftp://x"])
def test_bad_base_url_is_refused(url: str) -> None:
    """base_url must be http(s)."""
    with pytest.raises(ConfigurationError, match="base_url"):
        SmsClub(token="t", base_url=url)


def test_default_base_url_and_timeouts() -> None:
    """Defaults: the documented host; timeouts on."""
    sms = SmsClub(token="t")
    assert sms.base_url == "https://im.smsclub.mobi"
    assert sms._timeout is not None


async def test_owned_client_is_closed_on_exit(gateway: respx.MockRouter, token: str) -> None:
    """The client it creates, it closes."""
    gateway.post("/sms/balance").mock(return_value=BALANCE)
    async with SmsClub(token=token, retry=NO_WAIT) as sms:
        await sms.balance()
        http = sms._http
    assert http is not None
    assert http.is_closed
    assert sms.is_closed


async def test_borrowed_client_is_never_closed(gateway: respx.MockRouter, token: str) -> None:
    """A client passed in stays open for its owner."""
    gateway.post("/sms/balance").mock(return_value=BALANCE)
    async with httpx.AsyncClient() as http:
        async with SmsClub(token=token, http_client=http, retry=NO_WAIT) as sms:
            await sms.balance()
        assert not http.is_closed
        await sms.aclose()  # twice is fine
        assert not http.is_closed


async def test_use_after_close_raises_clearly(gateway: respx.MockRouter, token: str) -> None:
    """After aclose(), every call raises ClientClosedError; aclose() twice is safe."""
    sms = SmsClub(token=token)
    await sms.aclose()
    await sms.aclose()
    with pytest.raises(ClientClosedError, match="closed"):
        await sms.balance()
    with pytest.raises(ClientClosedError):
        await sms.send("380989361131", "x", sender="X")


async def test_long_lived_client_without_async_with(gateway: respx.MockRouter, token: str) -> None:
    """Usable without `async with`: opens on first use, aclose() at shutdown."""
    gateway.post("/sms/balance").mock(return_value=BALANCE)
    sms = SmsClub(token=token, retry=NO_WAIT)
    assert "unopened" in repr(sms)
    await sms.balance()
    assert "opened" in repr(sms)
    await sms.aclose()
    assert "closed" in repr(sms)


def test_use_from_another_event_loop_is_refused(token: str) -> None:
    """The classic shared-client bug gets a clear error instead of a hang."""
    sms = SmsClub(token=token, transport=httpx.MockTransport(lambda r: BALANCE), retry=NO_WAIT)
    asyncio.run(sms.balance())
    with pytest.raises(EventLoopError, match="one client per event loop"):
        asyncio.run(sms.balance())
    asyncio.run(_close_ignoring_loop(sms))


async def _close_ignoring_loop(sms: SmsClub) -> None:
    sms._state = sms._state.CLOSED
    assert sms._http is not None
    sms._http._state = httpx._client.ClientState.CLOSED  # the old loop's sockets are gone


def test_unclosed_client_warns_when_collected(token: str) -> None:
    """Garbage-collecting an opened, unclosed client emits ResourceWarning."""

    async def leak() -> None:
        sms = SmsClub(token=token, transport=httpx.MockTransport(lambda r: BALANCE))
        await sms.balance()

    def leak_and_collect() -> None:
        asyncio.run(leak())
        gc.collect()

    with pytest.warns(ResourceWarning, match="unclosed"):
        leak_and_collect()


def test_nothing_created_before_first_use(token: str) -> None:
    """Constructing a client opens nothing (safe at import time of an app)."""
    sms = SmsClub(token=token)
    assert sms._http is None
    del sms
    gc.collect()  # and no warning either: it was never opened


async def test_nothing_to_ask_is_an_empty_answer(gateway: respx.MockRouter, token: str) -> None:
    """status([]) and wait_for_final({}) (nothing was sent) answer empty, with no request."""
    async with SmsClub(token=token) as sms:
        assert await sms.status([]) == {}
        report = await sms.wait_for_final({})
        assert report == {}
        assert report.missing == []
    assert not gateway.calls


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.send("380989361131", "", sender="X"), "message"),
        (lambda s: s.send("380989361131", "   ", sender="X"), "message"),
        (lambda s: s.send("380989361131", "x", sender=""), "sender"),
        (lambda s: s.send([], "x", sender="X"), "recipient"),
        (lambda s: s.send("", "x", sender="X"), "recipient"),
        (lambda s: s.send("380989361131", "x", sender="X", lifetime=0), "lifetime"),
        (lambda s: s.send("380989361131", "x", sender="X", lifetime=-5), "lifetime"),
        (lambda s: s.send("380989361131", "x", sender="X", lifetime=True), "lifetime"),
        (lambda s: s.send("380989361131", "x" * 161, sender="X", max_parts=1), "2 SMS parts"),
        (lambda s: s.send_personalized({}, sender="X"), "at least one"),
        (lambda s: s.send_personalized({"380989361131": ""}, sender="X"), "message"),
        (lambda s: s.status([None]), "message id"),
        (lambda s: s.sender_status(""), "sender"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    gateway: respx.MockRouter, token: str, call: object, match: str
) -> None:
    """Clear ValueErrors, and the gateway never hears of it."""
    async with SmsClub(token=token) as sms:
        with pytest.raises(ValueError, match=match):
            await call(sms)  # type: ignore[operator]
    assert not gateway.calls


async def test_invalid_numbers_fail_without_a_request(
    gateway: respx.MockRouter, token: str
) -> None:
    """Numbers that are not 10-15 digits go to failed; no request for them."""
    async with SmsClub(token=token) as sms:
        result = await sms.send(["12345", "not a phone"], "x", sender="X")
    assert set(result.failed) == {"12345", "not a phone"}
    assert not gateway.calls


async def test_token_never_appears_in_repr_errors_logs_or_tracebacks(
    gateway: respx.MockRouter, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The token lives in the Authorization header only."""
    caplog.set_level("DEBUG")
    gateway.post("/sms/balance").mock(return_value=httpx.Response(500, text=f"echo {token}"[:0]))
    gateway.post("/sms/send").mock(side_effect=httpx.ConnectError("refused"))
    async with SmsClub(token=token, retry=NO_WAIT, send_retry=NO_WAIT_SEND) as sms:
        texts = [repr(sms), str(sms.limiter), repr(sms.stats)]
        with pytest.raises(ServerError) as read_error:
            await sms.balance()
        with pytest.raises(TransportError) as send_error:
            await sms.send("380989361131", "x", sender="X")
    for caught in (read_error, send_error):
        texts += [str(caught.value), repr(caught.value), repr(caught.value.partial)]
        texts.append("".join(traceback.format_exception(caught.value)))
    texts += [record.getMessage() for record in caplog.records]
    assert all(token not in text for text in texts)


async def test_user_agent_and_event_hooks(gateway: respx.MockRouter, token: str) -> None:
    """httpx event hooks pass through to the owned client, for users' own metrics."""
    route = gateway.post("/sms/balance").mock(return_value=BALANCE)
    seen: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with SmsClub(token=token, event_hooks={"request": [on_request]}) as sms:
        await sms.balance()
    assert seen == ["/sms/balance"]
    assert route.calls.last.request.headers["user-agent"] == f"smsclub-async/{__version__}"


async def test_cancelled_send_reraises_with_every_issued_id(token: str) -> None:
    """Cancel a bulk send midway: CancelledError carries partial with the ids so far."""
    release = asyncio.Event()
    served = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        if served > 2:
            await release.wait()  # the rest hang until cancelled
        phones = __import__("json").loads(request.content)["phone"]
        info = {f"{served}-{i}": p for i, p in enumerate(phones)}
        return httpx.Response(200, json={"success_request": {"info": info}})

    transport = httpx.MockTransport(handler)
    phones = [f"38098{i:07d}" for i in range(1000)]
    async with SmsClub(token=token, transport=transport, rate_limit=1000, max_concurrency=3) as sms:
        task = asyncio.create_task(sms.send(phones, "x", sender="X"))
        while served < 5:  # two chunks answered, three hanging  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
    partial = caught.value.partial  # type: ignore[attr-defined]
    assert len(partial.sent) == 200
    assert len(partial.unknown) == 300  # in flight when cancelled: maybe sent
    assert not set(partial.sent.values()) & set(partial.unknown)


async def test_lone_surrogates_and_long_personal_texts_are_refused_per_phone(
    gateway: respx.MockRouter, token: str
) -> None:
    """A text that cannot be UTF-8, or is over max_parts, fails its phone; others go."""
    route = gateway.post("/v2/sms/send").mock(
        return_value=httpx.Response(200, json={"success_request": {"info": {"9": "380989361133"}}})
    )
    pairs = [
        ("380989361131", "bad \ud800"),
        ("380989361132", "x" * 400),
        ("380989361133", "fine"),
    ]
    async with SmsClub(token=token, send_retry=NO_WAIT_SEND) as sms:
        result = await sms.send_personalized(iter(pairs), sender="X", max_parts=2)
        with pytest.raises(ValueError, match="surrogate"):
            await sms.send("380989361131", "bad \ud800", sender="X")
    assert result.sent == {"9": "380989361133"}
    assert "surrogate" in result.failed["380989361131"]
    assert "max_parts=2" in result.failed["380989361132"]
    assert route.call_count == 1


async def test_a_failing_limiter_fails_its_chunk_and_keeps_the_others(token: str) -> None:
    """LimiterError (e.g. Redis down) ends one chunk as failed; ids of the rest are kept."""

    class FlakyLimiter:
        def __init__(self) -> None:
            self.calls = 0
            self.inner = LocalLimiter(1000)

        async def acquire(self) -> Permit:
            self.calls += 1
            if self.calls == 2:
                raise LimiterError("redis://127.0.0.1:1 did not answer; no request was sent")
            return await self.inner.acquire()

    def answer(request: httpx.Request) -> httpx.Response:
        phones = __import__("json").loads(request.content)["phone"]
        return httpx.Response(200, json={"success_request": {"info": {p: p for p in phones}}})

    phones = [f"38098{i:07d}" for i in range(300)]
    async with SmsClub(
        token=token,
        transport=httpx.MockTransport(answer),
        limiter=FlakyLimiter(),
        max_concurrency=1,
        send_retry=NO_WAIT_SEND,
    ) as sms:
        with pytest.raises(LimiterError) as caught:
            await sms.send(phones, "x", sender="X")
    partial = caught.value.partial
    assert len(partial.sent) == 200
    assert len(partial.failed) == 100
    assert all("no request was sent" in r for r in partial.failed.values())
