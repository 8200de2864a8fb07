"""What SmscClient puts on the wire (respx), and where its secrets never appear."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from smsclub_async import AuthenticationError, ConfigurationError, ServerError, TransportError
from smsclub_async.gateways import SmscClient

from .conftest import SMSC_READ, SMSC_SEND, SMSC_URL

PASSWORD = "pa ss&w0rd=+/"
API_KEY = "k3y&secret"


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    """A respx router standing in for smsc.kz."""
    with respx.mock(base_url=SMSC_URL, assert_all_called=False) as router:
        yield router


def client(login: str, **kwargs: object) -> SmscClient:
    kwargs.setdefault("retry", SMSC_READ)
    kwargs.setdefault("send_retry", SMSC_SEND)
    return SmscClient(login, PASSWORD, **kwargs)  # type: ignore[arg-type]


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode("ascii"), keep_blank_values=True))


async def test_send_puts_everything_in_the_post_body(gateway: respx.MockRouter, login: str) -> None:
    """POST /sys/send.php, form-encoded: login/psw in the body, fmt=3, charset=utf-8, no query."""
    route = gateway.post("/sys/send.php").respond(json={"id": 7, "cnt": 2})
    async with client(login) as smsc:
        result = await smsc.send(
            ["+7 701 123-45-67", "77011234568"], "Привет & co", sender="MyShop"
        )
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.query == b""
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    sent = form(request)
    assert sent["login"] == login
    assert sent["psw"] == PASSWORD
    assert sent["fmt"] == "3"
    assert sent["charset"] == "utf-8"
    assert sent["phones"] == "77011234567,77011234568"
    assert sent["mes"] == "Привет & co"
    assert sent["sender"] == "MyShop"
    assert sent["cost"] == "3"
    assert sent["op"] == "1"
    assert result.sent == {"7:77011234567": "77011234567", "7:77011234568": "77011234568"}
    assert result.message_ids == ["7"]
    assert result.parts == 2


async def test_api_key_replaces_login_and_password(gateway: respx.MockRouter) -> None:
    """With api_key only ``apikey`` travels (in the body)."""
    route = gateway.post("/sys/balance.php").respond(json={"balance": "1.00"})
    async with SmscClient(api_key=API_KEY, retry=SMSC_READ) as smsc:
        assert repr(smsc).count("api_key=sha256:") == 1
        await smsc.balance()
    sent = form(route.calls.last.request)
    assert sent["apikey"] == API_KEY
    assert "login" not in sent
    assert "psw" not in sent


async def test_send_options_on_the_wire(gateway: respx.MockRouter, login: str) -> None:
    """translit, time (aware datetime -> 0<unix>, timedelta -> +<minutes>), valid, flash, id."""
    route = gateway.post("/sys/send.php").respond(json={"id": "order-1", "cnt": 1})
    async with client(login) as smsc:
        await smsc.send(
            "77011234567",
            "x",
            translit=True,
            deferred=datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
            lifetime=90,
            flash=True,
            message_id="order-1",
            extra={"tinyurl": 1},
        )
        await smsc.send("77011234567", "y", deferred=timedelta(seconds=61))
    first, second = (form(call.request) for call in route.calls)
    assert first["translit"] == "1"
    assert first["time"] == "0" + str(int(datetime(2030, 1, 2, 3, 4, tzinfo=UTC).timestamp()))
    assert first["valid"] == "01:30"
    assert first["flash"] == "1"
    assert first["id"] == "order-1"
    assert first["tinyurl"] == "1"
    assert second["time"] == "+2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lifetime": 0}, "lifetime"),
        ({"lifetime": 1441}, "lifetime"),
        ({"extra": {"psw": "x"}}, "extra parameter"),
        ({"deferred": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"max_parts": 1, "message": "ж" * 71}, "parts"),
    ],
)
async def test_bad_send_options_are_refused_before_any_request(
    gateway: respx.MockRouter, login: str, kwargs: dict[str, object], message: str
) -> None:
    """Bad input raises ValueError and sends nothing."""
    text = str(kwargs.pop("message", "x"))
    async with client(login) as smsc:
        with pytest.raises(ValueError, match=message):
            await smsc.send("77011234567", text, **kwargs)  # type: ignore[arg-type]
    assert not gateway.calls


async def test_personalised_send_uses_the_list_parameter(
    gateway: respx.MockRouter, login: str
) -> None:
    """list=phone:text lines; a line break inside a text goes as the two characters \\n."""
    route = gateway.post("/sys/send.php").respond(json={"id": 9, "cnt": 2})
    async with client(login) as smsc:
        result = await smsc.send_personalized({"77011234567": "a\nb", "77011234568": "c:d"})
    sent = form(route.calls.last.request)
    assert sent["list"] == "77011234567:a\\nb\n77011234568:c:d"
    assert "phones" not in sent
    assert "mes" not in sent
    assert set(result.sent) == {"9:77011234567", "9:77011234568"}


async def test_status_sends_id_and_phone_lists(gateway: respx.MockRouter, login: str) -> None:
    """Pairs go as id=1,2&phone=a,b; the answers come back keyed "<id>:<phone>"."""
    route = gateway.post("/sys/status.php").respond(
        json=[
            {"id": 1, "phone": "77011234567", "status": 1, "err": 0},
            {"id": 2, "phone": "77011234568", "status": 0, "err": 0},
        ]
    )
    async with client(login) as smsc:
        report = await smsc.status(["1:77011234567", ("2", "+77011234568")])
    sent = form(route.calls.last.request)
    assert (sent["id"], sent["phone"], sent["fmt"]) == ("1,2", "77011234567,77011234568", "3")
    assert report.raw == {"1:77011234567": "1", "2:77011234568": "0"}


async def test_a_single_pair_answer_without_id_is_matched(
    gateway: respx.MockRouter, login: str
) -> None:
    """One pair: the documented answer is an object without id and phone."""
    gateway.post("/sys/status.php").respond(
        json={"status": 1, "last_date": "28.12.2011 19:20:22", "last_timestamp": 1, "err": 0}
    )
    async with client(login) as smsc:
        report = await smsc.status("1:77011234567")
    assert report.raw == {"1:77011234567": "1"}


async def test_status_needs_the_phone(login: str) -> None:
    """A bare id cannot name an SMSC message: ValueError before any request."""
    async with client(login) as smsc:
        with pytest.raises(ValueError, match="id and phone"):
            await smsc.status("12345")


async def test_balance_reads_money_and_currency(gateway: respx.MockRouter, login: str) -> None:
    """cur=1 asks for the currency; without one the host's (.kz -> KZT) is used."""
    route = gateway.post("/sys/balance.php")
    route.side_effect = [
        httpx.Response(200, json={"balance": "123.4500", "currency": "RUR"}),
        httpx.Response(200, json={"balance": "5"}),
    ]
    async with client(login) as smsc:
        first = await smsc.balance()
        second = await smsc.balance()
    assert str(first) == "123.45 RUR"
    assert str(second) == "5.00 KZT"
    assert form(route.calls.last.request)["cur"] == "1"


async def test_an_http_5xx_is_retried_and_worded_for_smsc(
    gateway: respx.MockRouter, login: str
) -> None:
    """HTTP-level errors go through the core retries; the advice names SMSC, not SMS Club."""
    gateway.post("/sys/balance.php").respond(503, text="busy")
    async with client(login) as smsc:
        with pytest.raises(ServerError) as caught:
            await smsc.balance()
        assert smsc.stats.requests == 4
    assert "SMSC is temporarily unavailable" in str(caught.value)
    assert "SMS Club" not in str(caught.value)


async def test_secrets_never_appear_in_reprs_errors_or_logs(
    gateway: respx.MockRouter, login: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer that echoes the password is scrubbed; reprs and logs carry no secret."""
    encoded = urllib.parse.quote_plus(PASSWORD)
    gateway.post("/sys/balance.php").respond(
        json={"error": f"authorise error for psw={encoded} ({PASSWORD})", "error_code": 2}
    )
    gateway.post("/sys/senders.php").mock(side_effect=httpx.ConnectError("refused"))
    caplog.set_level(logging.DEBUG, logger="smsclub_async")
    async with client(login) as smsc:
        with pytest.raises(AuthenticationError) as caught:
            await smsc.balance()
        with pytest.raises(TransportError) as transport:
            await smsc.senders()
        texts = [repr(smsc), str(caught.value), repr(caught.value), str(transport.value)]
        texts.append(str(caught.value.gateway_message))
    texts.extend(record.getMessage() for record in caplog.records)
    for text in texts:
        assert PASSWORD not in text
        assert encoded not in text
    assert "***" in str(caught.value)
    for call in gateway.calls:
        assert PASSWORD not in str(call.request.url)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$SMSC_LOGIN/$SMSC_PASSWORD (or $SMSC_API_KEY) and $SMSC_BASE_URL are used by default."""
    monkeypatch.setenv("SMSC_LOGIN", "envuser")
    monkeypatch.setenv("SMSC_PASSWORD", "envpass")
    monkeypatch.setenv("SMSC_BASE_URL", "https://smsc.ru/")
    smsc = SmscClient()
    assert smsc.base_url == "https://smsc.ru"
    assert smsc._credentials == {"login": "envuser", "psw": "envpass"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no SMSC credentials"),
        ({"login": "a"}, "no SMSC credentials"),
        ({"login": "a", "password": "b", "api_key": "c"}, "either api_key"),
        ({"login": "a", "password": "b", "base_url": "smsc.kz"}, "base_url"),
        ({"login": "a", "password": "b", "chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_configuration_is_refused(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, str], message: str
) -> None:
    """ConfigurationError with what is missing."""
    for name in ("SMSC_LOGIN", "SMSC_PASSWORD", "SMSC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=message):
        SmscClient(**kwargs)  # type: ignore[arg-type]
