"""SmsteleClient: the wire (respx) and end to end against the REX400 emulator."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from smsclub_async import (
    AuthenticationError,
    ConfigurationError,
    DeliveryStatus,
    ServerError,
    TransportError,
)
from smsclub_async.errors import UnsupportedError
from smsclub_async.gateways import SmsteleClient, SmsteleSendResult
from smsclub_async.sandbox import ManualClock
from smsclub_async.sandbox.gateways import GatewayApp, GatewayTransport, SmsteleSandbox

from .conftest import REX_LOGIN, REX_PASSWORD, REX_READ, REX_SEND, REX_URL, rex_client

ANSWER = {
    "id": "order-7",
    "cnt": "1",
    "messages": [
        {
            "id": "order-7",
            "phone": "79160001234",
            "status": "-99",
            "error": "-99",
            "cnt": "1",
            "operator": "mMTS",
            "region": "77",
            "mnc": "01",
        }
    ],
}


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    """A respx router standing in for rexsmsc.rex400.ru:8882."""
    with respx.mock(base_url=REX_URL, assert_all_called=False) as router:
        yield router


def form(request: httpx.Request, encoding: str = "utf-8") -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode("ascii"), encoding=encoding))


def client(**kwargs: object) -> SmsteleClient:
    kwargs.setdefault("retry", REX_READ)
    kwargs.setdefault("send_retry", REX_SEND)
    return SmsteleClient(REX_LOGIN, REX_PASSWORD, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the wire


async def test_credentials_go_in_the_url_query_as_every_example_does(
    gateway: respx.MockRouter,
) -> None:
    """POST /cgibin/sendsms?login=..&psw=.. (the reference's every example), the rest in
    the form body; the password in no error text, repr or endpoint name."""
    route = gateway.post("/cgibin/sendsms").respond(json=ANSWER)
    async with client() as rex:
        result = await rex.send("79160001234", "Test message 1", message_id="order-7")
        assert REX_PASSWORD not in repr(rex)
    request = route.calls.last.request
    query = dict(urllib.parse.parse_qsl(request.url.query.decode()))
    assert query == {"login": REX_LOGIN, "psw": REX_PASSWORD}
    sent = form(request)
    assert "psw" not in sent
    assert "login" not in sent
    assert sent["phones"] == "79160001234"
    assert sent["mes"] == "Test message 1"
    assert sent["id"] == "order-7"
    assert sent["charset"] == "utf-8"
    assert result.sent == {"order-7:79160001234": "79160001234"}
    assert result.details["order-7:79160001234"].operator == "mMTS"


async def test_windows_1251_encodes_the_text_so(gateway: respx.MockRouter) -> None:
    """charset=windows-1251: the body is percent-encoded in cp1251, and says so."""
    route = gateway.post("/cgibin/sendsms").respond(json=ANSWER)
    async with client() as rex:
        await rex.send("79160001234", "Привет", charset="windows-1251", message_id="order-7")
    body = route.calls.last.request.content
    assert urllib.parse.quote_plus("Привет".encode("cp1251")).encode() in body
    assert form(route.calls.last.request, "cp1251")["mes"] == "Привет"
    assert form(route.calls.last.request, "cp1251")["charset"] == "windows-1251"


async def test_a_text_the_charset_cannot_encode_is_refused_first(
    gateway: respx.MockRouter,
) -> None:
    """koi8-r has no emoji: ValueError before any request."""
    async with client() as rex:
        with pytest.raises(ValueError, match="cannot encode"):
            await rex.send("79160001234", "hi 🙂", charset="koi8-r")
    assert not gateway.calls


async def test_options_on_the_wire(gateway: respx.MockRouter) -> None:
    """sender, translit, flash, lifetime (as ``validity``), deferred (aware -> Moscow time),
    an id made up."""
    route = gateway.post("/cgi-bin/sendsms").respond(json=ANSWER)
    async with client(cgi_path="/cgi-bin") as rex:
        await rex.send(
            "79160001234",
            "x",
            sender="REX400.RU",
            translit=True,
            flash=True,
            lifetime=3600,
            deferred=datetime(2017, 12, 10, 6, 0, tzinfo=UTC),
        )
    sent = form(route.calls.last.request)
    assert sent["sender"] == "REX400.RU"
    assert (sent["translit"], sent["flash"], sent["validity"]) == ("1", "1", "3600")
    assert sent["deferred"] == "2017-12-10 09:00:00"
    assert sent["id"].startswith("sc-")


async def test_hlr_sends_no_text(gateway: respx.MockRouter) -> None:
    """hlr=1 and no mes; the details carry the operator data."""
    route = gateway.post("/cgibin/sendsms").respond(json=ANSWER)
    async with client() as rex:
        result = await rex.hlr(["79160001234"], message_id="order-7")
    sent = form(route.calls.last.request)
    assert sent["hlr"] == "1"
    assert "mes" not in sent
    assert result.details["order-7:79160001234"].mnc == "01"


async def test_http_errors_are_worded_for_smstele(gateway: respx.MockRouter) -> None:
    """A 503 on status is retried (idempotent) and then names SMStele."""
    gateway.post("/cgibin/status").respond(503)
    async with client() as rex:
        with pytest.raises(ServerError, match="SMStele is temporarily unavailable"):
            await rex.status("order-7")
        assert rex.stats.requests == 4


async def test_a_5xx_on_a_send_is_never_retried(gateway: respx.MockRouter) -> None:
    """No duplicate protection: a 5xx may mean sent, so one attempt, recipients unknown."""
    route = gateway.post("/cgibin/sendsms").respond(502)
    async with client() as rex:
        with pytest.raises(ServerError) as caught:
            await rex.send(["79160001234", "79260004567"], "Hi", message_id="order-8")
    assert route.call_count == 1
    partial = caught.value.partial
    assert isinstance(partial, SmsteleSendResult)
    assert set(partial.unknown) == {"79160001234", "79260004567"}
    assert "status('order-8')" in partial.unknown["79160001234"]
    assert partial.message_ids == ["order-8"]


async def test_a_refused_connection_is_retried(gateway: respx.MockRouter) -> None:
    """A connect error happened before anything was sent: safe to retry."""
    route = gateway.post("/cgibin/sendsms")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=ANSWER)]
    async with client() as rex:
        result = await rex.send("79160001234", "Hi", message_id="order-7")
    assert result.ok
    assert route.call_count == 2


async def test_the_password_is_scrubbed_from_errors(gateway: respx.MockRouter) -> None:
    """An error description that echoes the password does not carry it into the exception."""
    gateway.post("/cgibin/status").respond(
        json={"error": "-23", "description": f"Invalid login or password: '{REX_PASSWORD}'"}
    )
    async with client() as rex:
        with pytest.raises(AuthenticationError) as caught:
            await rex.status("x")
        assert REX_PASSWORD not in repr(rex)
    assert REX_PASSWORD not in str(caught.value)
    assert REX_PASSWORD not in str(caught.value.gateway_message)


def test_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials from $SMSTELE_LOGIN/$SMSTELE_PASSWORD; none at all is a clear error."""
    monkeypatch.setenv("SMSTELE_LOGIN", "envuser")
    monkeypatch.setenv("SMSTELE_PASSWORD", "envpass")
    rex = SmsteleClient()
    assert "login=envuser&psw=envpass" in rex._query
    assert rex.base_url == "https://rexsmsc.rex400.ru:8882"
    monkeypatch.delenv("SMSTELE_PASSWORD")
    with pytest.raises(ConfigurationError, match="SMSTELE_PASSWORD"):
        SmsteleClient()
    with pytest.raises(ConfigurationError, match="cgi_path"):
        SmsteleClient("a", "b", cgi_path="/bin")  # type: ignore[arg-type]


async def test_balance_and_senders_are_not_offered(gateway: respx.MockRouter) -> None:
    """The document has no such requests: UnsupportedError, nothing sent."""
    async with client() as rex:
        with pytest.raises(UnsupportedError):
            await rex.balance()
        with pytest.raises(UnsupportedError):
            await rex.senders()
    assert not gateway.calls


# ----------------------------------------------------------------- end to end


async def test_send_and_status_by_key_id_pair_and_phone(
    rex: SmsteleClient, clock: ManualClock
) -> None:
    """Status by key, by bare id (every recipient), by (id, phone), and by phone alone."""
    result = await rex.send(["79160001234", "79260004569"], "Hi", message_id="batch-1")
    assert set(result.sent) == {"batch-1:79160001234", "batch-1:79260004569"}
    by_key = await rex.status(result.sent)
    assert set(by_key.values()) == {DeliveryStatus.ENROUTE}
    clock.advance(1.0)
    by_id = await rex.status("batch-1")
    assert by_id.counts() == {DeliveryStatus.DELIVRD: 1, DeliveryStatus.UNDELIV: 1}
    assert by_id.raw == {"batch-1:79160001234": "DELIVRD", "batch-1:79260004569": "UNDELIV"}
    by_pair = await rex.status([("batch-1", "79160001234"), ("batch-1", "79990000000")])
    assert list(by_pair) == ["batch-1:79160001234"]
    assert by_pair.missing == ["batch-1:79990000000"]
    by_phone = await rex.status_for_phone("+7 916 000-12-34")
    assert set(by_phone) == {"batch-1:79160001234"}
    assert (await rex.status("nothing-here")).missing == ["nothing-here"]


async def test_deferred_messages_are_scheduled_then_sent(
    rex: SmsteleClient, rex_sandbox: SmsteleSandbox, clock: ManualClock
) -> None:
    """A deferred message is SCHEDULED (PENDING) until its time."""
    later = datetime.fromtimestamp(rex_sandbox._epoch + clock() + 120, UTC)
    result = await rex.send("79160001234", "Later", deferred=later)
    assert set((await rex.status(result.sent)).values()) == {DeliveryStatus.PENDING}
    clock.advance(200.0)
    assert set((await rex.status(result.sent)).values()) == {DeliveryStatus.DELIVRD}


async def test_unroutable_numbers_are_unknown_with_details(
    rex: SmsteleClient, rex_sandbox: SmsteleSandbox
) -> None:
    """Example 2 end to end: the two numbers without an operator are unknown, not failed."""
    phones = ["79160001234", "79072233645", "79676771707", "79260004567"]
    result = await rex.send(phones, "Test message 1", message_id="custom-message-id-test-22")
    assert sorted(result.sent.values()) == ["79160001234", "79260004567"]
    assert set(result.unknown) == {"79072233645", "79676771707"}
    assert not result.failed
    assert len(result.details) == 4
    assert result.parts == 2
    assert rex_sandbox.deliveries() == {"79160001234": 1, "79260004567": 1}


async def test_a_lost_answer_is_unknown_sent_once_and_traceable(
    rex_sandbox: SmsteleSandbox, clock: ManualClock
) -> None:
    """Processed, answer dropped: no retry (no duplicate rule), unknown, and the id finds it."""
    rex_sandbox.faults.script(["drop_after"])
    async with rex_client(rex_sandbox) as rex:
        with pytest.raises(TransportError) as caught:
            await rex.send("79160001234", "Hi")
        partial = caught.value.partial
        assert set(partial.unknown) == {"79160001234"}
        assert rex_sandbox.deliveries() == {"79160001234": 1}
        [made_up_id] = partial.message_ids
        clock.advance(1.0)
        found = await rex.status(made_up_id)
    assert found == {f"{made_up_id}:79160001234": DeliveryStatus.DELIVRD}


async def test_a_dropped_connection_is_unknown_even_if_nothing_went_out(
    rex_sandbox: SmsteleSandbox,
) -> None:
    """Dropped after the request was handed over: the client cannot tell, so no retry."""
    rex_sandbox.faults.script(["drop_before"])
    async with rex_client(rex_sandbox) as rex:
        with pytest.raises(TransportError) as caught:
            await rex.send("79160001234", "Hi")
    assert set(caught.value.partial.unknown) == {"79160001234"}
    assert not rex_sandbox.deliveries()
    assert len(rex_sandbox.requests) == 1


async def test_cyrillic_in_every_charset_arrives_intact(rex_sandbox: SmsteleSandbox) -> None:
    """The emulator decodes by the charset parameter: the text arrives as written."""
    async with rex_client(rex_sandbox) as rex:
        for charset in ("utf-8", "windows-1251", "koi8-r"):
            await rex.send("79160001234", f"Привет {charset}", charset=charset)
    assert [m.text for m in rex_sandbox.messages()] == [
        "Привет utf-8",
        "Привет windows-1251",
        "Привет koi8-r",
    ]
    assert [m.charset for m in rex_sandbox.messages()] == ["utf-8", "windows-1251", "koi8-r"]


async def test_hlr_end_to_end(rex: SmsteleClient, rex_sandbox: SmsteleSandbox) -> None:
    """hlr=1: operator data per number, no SMS delivered."""
    result = await rex.hlr(["79160001234", "79260004567"])
    assert {d.operator for d in result.details.values()} == {"mMTS", "mMEGAFON"}
    assert not rex_sandbox.deliveries()


async def test_bulk_send_is_chunked(rex_sandbox: SmsteleSandbox) -> None:
    """250 numbers, 100 per request, one id for the whole call."""
    phones = [f"7916{n:07d}" for n in range(250)]
    async with rex_client(rex_sandbox) as rex:
        result = await rex.send(phones, "Hi", message_id="bulk")
    assert len(result.sent) == 250
    assert result.message_ids == ["bulk"]
    assert len(rex_sandbox.requests) == 3
    assert rex_sandbox.credits(REX_LOGIN) == 1000 - 250


async def test_the_transport_and_client_close_cleanly(rex_sandbox: SmsteleSandbox) -> None:
    """A borrowed client stays open; ours is closed."""
    async with httpx.AsyncClient(transport=GatewayTransport(rex_sandbox)) as http:
        async with SmsteleClient(REX_LOGIN, REX_PASSWORD, http_client=http) as rex:
            await rex.send("79160001234", "Hi")
        assert not http.is_closed


async def test_the_asgi_app_serves_the_rex_emulator(rex_sandbox: SmsteleSandbox) -> None:
    """GatewayApp through httpx's ASGITransport: query and body both reach the emulator."""
    transport = httpx.ASGITransport(app=GatewayApp(rex_sandbox))
    async with SmsteleClient(REX_LOGIN, REX_PASSWORD, transport=transport) as rex:
        result = await rex.send("79160001234", "via ASGI", message_id="asgi-1")
        report = await rex.status("asgi-1")
    assert result.ok
    assert list(report) == ["asgi-1:79160001234"]


async def test_send_iter_yields_one_result_per_request(rex_sandbox: SmsteleSandbox) -> None:
    """send_iter streams chunk results; merged they account for every phone."""
    phones = [f"7916{n:07d}" for n in range(5)]
    async with rex_client(rex_sandbox, chunk_size=2) as rex:
        parts = [part async for part in rex.send_iter(phones, "Hi", message_id="it")]
    assert len(parts) == 3
    assert sorted(SmsteleSendResult.merged(parts).sent.values()) == phones
