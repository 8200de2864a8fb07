"""The REX400 (SMStele) emulator against its reference, driven with plain httpx.

Every curl example of ``smstele-rex400-http-api.ru.md`` (credentials in the URL
query, parameters in a ``-d`` body), the same requests with a multipart body
(curl ``-F``), all in the query (GET), and all in the body; ``charset``; both
path spellings; status by ``id``, ``phone`` and both.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, serve
from smsclub_async.sandbox.gateways import GatewayApp, GatewayTransport, SmsteleSandbox

LOGIN = "test:http"
PASSWORD = "~test123"
URL = "http://rexsmsc.rex400.ru:8881"
FORMS = ("query", "urlencoded", "multipart", "body-credentials")
SEND_FIELDS = ("id", "phone", "status", "error", "cnt", "operator", "region", "mnc")
STATUS_FIELDS = (
    "id",
    "phone",
    "sender",
    "status",
    "err",
    "stat",
    "type",
    "send_timestamp",
    "last_timestamp",
    "operator",
    "region",
    "mnc",
)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock(1000.0)


@pytest.fixture
def rex(clock: ManualClock) -> SmsteleSandbox:
    """The emulator with the reference's test account (``test:http`` / ``~test123``)."""
    return SmsteleSandbox(clock=clock)


@pytest.fixture
async def http(rex: SmsteleSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Plain httpx, in process, on the emulator."""
    async with httpx.AsyncClient(transport=GatewayTransport(rex), base_url=URL) as client:
        yield client


async def call(
    http: httpx.AsyncClient,
    command: str,
    params: Mapping[str, str],
    *,
    form: str = "urlencoded",
    credentials: Mapping[str, str] | None = None,
    prefix: str = "/cgibin",
) -> httpx.Response:
    """A request as the reference's curl examples make it: credentials in the URL.

    ``form``: ``urlencoded`` (curl -d), ``multipart`` (curl -F) or ``query`` (GET,
    everything in the URL) with the credentials in the URL; ``body-credentials``
    puts the credentials in the urlencoded body too.
    """
    credentials = {"login": LOGIN, "psw": PASSWORD} if credentials is None else credentials
    encoding = params.get("charset", "windows-1251")
    if encoding not in ("windows-1251", "utf-8", "koi8-r"):
        encoding = "ascii"  # a charset the gateway refuses, with an ASCII text
    path = f"{prefix}/{command}"

    def encode(values: Mapping[str, str]) -> str:
        return urllib.parse.urlencode(values, encoding=encoding)

    if form == "query":
        return await http.get(f"{path}?{encode({**credentials, **params})}")
    if form == "body-credentials":
        body = encode({**credentials, **params}).encode("ascii")
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return await http.post(path, content=body, headers=headers)
    url = f"{path}?{encode(credentials)}"
    if form == "multipart":
        files = {name: (None, value.encode(encoding)) for name, value in params.items()}
        return await http.post(url, files=files or {"": (None, b"")})
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await http.post(url, content=encode(params).encode("ascii"), headers=headers)


# ----------------------------------------------------------------- the error examples


@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
@pytest.mark.parametrize(
    ("params", "credentials", "error", "description"),
    [
        (  # request 1: no psw=
            {"mes": "Test message 1", "id": "custom-message-id-test-11"},
            {"login": LOGIN},
            "-22",
            "No password",
        ),
        (  # request 2: an id too long
            {
                "charset": "windows-1251",
                "mes": "Test message 1",
                "id": "custom-message-id-test-11-too-long-1234567890abcdefghijklmnopqrstuvwxyz",
            },
            None,
            "-35",
            "Invalid attribute: "
            "'id=custom-message-id-test-11-too-long-1234567890abcdefghijklmnopqrstuvwxyz'",
        ),
        (  # request 3: phones empty
            {"phones": "", "mes": "Test message 1", "id": "custom-message-id-test-11"},
            None,
            "-25",
            "Invalid attribute: 'phones='",
        ),
        (  # request 4: phones missing
            {"mes": "Test message 1", "id": "custom-message-id-test-11"},
            None,
            "-24",
            "Missing attribute: 'phones'",
        ),
    ],
    ids=["request1", "request2", "request3", "request4"],
)
async def test_the_reference_error_examples(
    http: httpx.AsyncClient,
    form: str,
    params: dict[str, str],
    credentials: dict[str, str] | None,
    error: str,
    description: str,
) -> None:
    """Requests 1-4 of the reference, as curl -d and as curl -F: answers 1-4 exactly."""
    answer = await call(http, "sendsms", params, form=form, credentials=credentials)
    assert answer.json() == {"error": error, "description": description}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"phones": "79160001234", "mes": "Hi", "charset": "ucs-9"}, "-33"),
        ({"phones": "79160001234"}, "-27"),
        ({"phones": "12", "mes": "Hi"}, "-26"),
        ({"phones": "79160001234", "mes": "Hi", "deferred": "tomorrow"}, "-29"),
        ({"phones": "79160001234", "mes": "Hi", "validity": "soon"}, "-28"),
        ({"phones": "79160001234", "mes": "Hi", "sender": "Nobody"}, "-32"),
        ({"phones": "79160001234", "mes": "Hi", "sender": "Bad/Name!"}, "-31"),
    ],
)
async def test_the_error_table_codes(
    http: httpx.AsyncClient, params: dict[str, str], error: str
) -> None:
    """The table's codes for the checks the emulator makes, in the documented answer shape."""
    answer = await call(http, "sendsms", params)
    body = answer.json()
    assert list(body) == ["error", "description"]
    assert body["error"] == error


@pytest.mark.parametrize(
    ("credentials", "error"),
    [({"psw": PASSWORD}, "-21"), ({"login": LOGIN, "psw": "wrong"}, "-23"), ({}, "-22")],
)
@pytest.mark.parametrize("form", FORMS)
async def test_credentials_are_checked_wherever_they_come(
    http: httpx.AsyncClient, credentials: dict[str, str], error: str, form: str
) -> None:
    """No login (-21), a wrong password (-23), none at all (-22), from the URL or the body."""
    answer = await call(
        http, "sendsms", {"phones": "79160001234", "mes": "Hi"}, form=form, credentials=credentials
    )
    assert answer.json()["error"] == error


# ----------------------------------------------------------------- the success examples


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("prefix", ["/cgibin", "/cgi-bin"])
async def test_example_1_in_every_form(
    http: httpx.AsyncClient, rex: SmsteleSandbox, form: str, prefix: str
) -> None:
    """Example 1: one number, the documented answer field for field."""
    params = {"phones": "79160001234", "mes": "Test message 1", "id": "custom-message-id-test-21"}
    answer = await call(http, "sendsms", params, form=form, prefix=prefix)
    assert answer.json() == {
        "id": "custom-message-id-test-21",
        "cnt": "1",
        "messages": [
            {
                "id": "custom-message-id-test-21",
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
    assert rex.deliveries() == {"79160001234": 1}


@pytest.mark.parametrize("form", FORMS)
async def test_example_2_in_every_form(
    http: httpx.AsyncClient, rex: SmsteleSandbox, form: str
) -> None:
    """Example 2: four numbers, two unrouted: listed with empty operator, cnt "2"."""
    params = {
        "phones": "79160001234,79072233645,79676771707,79260004567",
        "mes": "Test message 1",
        "id": "custom-message-id-test-22",
    }
    body = (await call(http, "sendsms", params, form=form)).json()
    assert (body["id"], body["cnt"]) == ("custom-message-id-test-22", "2")
    assert [tuple(m) for m in body["messages"]] == [SEND_FIELDS] * 4
    assert [(m["phone"], m["operator"]) for m in body["messages"]] == [
        ("79160001234", "mMTS"),
        ("79072233645", ""),
        ("79676771707", ""),
        ("79260004567", "mMEGAFON"),
    ]
    assert set(rex.deliveries()) == {"79160001234", "79260004567"}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "by", [("id",), ("phone",), ("id", "phone")], ids=["id", "phone", "id+phone"]
)
async def test_status_by_id_phone_or_both(
    http: httpx.AsyncClient, clock: ManualClock, form: str, by: tuple[str, ...]
) -> None:
    """The status example: ``results`` with the documented fields, by id | phone | phone+id."""
    params = {
        "phones": "79160001234,79260004567",
        "mes": "Test message 1",
        "id": "custom-message-id-test-22",
    }
    await call(http, "sendsms", params)
    clock.advance(5.0)
    query = {"id": "custom-message-id-test-22", "phone": "79260004567"}
    body = (await call(http, "status", {k: query[k] for k in by}, form=form)).json()
    results = body["results"]
    assert all(tuple(entry) == STATUS_FIELDS for entry in results)
    expected = ["79160001234", "79260004567"] if by == ("id",) else ["79260004567"]
    assert [entry["phone"] for entry in results] == expected
    assert {entry["stat"] for entry in results} == {"DELIVRD"}
    assert results[0]["sender"] == "REX400.RU"
    assert results[0]["send_timestamp"].endswith("+03")


async def test_status_without_id_or_phone_is_refused(http: httpx.AsyncClient) -> None:
    """Neither id nor phone: -34 (missing message id)."""
    assert (await call(http, "status", {})).json()["error"] == "-34"


@pytest.mark.parametrize("charset", ["windows-1251", "utf-8", "koi8-r"])
@pytest.mark.parametrize("form", FORMS)
async def test_charset_decides_how_the_text_is_read(
    http: httpx.AsyncClient, rex: SmsteleSandbox, charset: str, form: str
) -> None:
    """A Cyrillic text in each documented charset, in every request form."""
    params = {"phones": "79160001234", "mes": "Проверка связи", "charset": charset}
    await call(http, "sendsms", params, form=form)
    assert [m.text for m in rex.messages()] == ["Проверка связи"]


async def test_an_hlr_request_needs_no_text(http: httpx.AsyncClient, rex: SmsteleSandbox) -> None:
    """hlr=1 with phones and no mes is a complete request; mes, if any, is ignored."""
    body = (await call(http, "sendsms", {"phones": "79160001234", "hlr": "1"})).json()
    assert body["cnt"] == "1"
    assert [m.hlr for m in rex.messages()] == [True]


async def test_the_asgi_app_reads_a_multipart_body(rex: SmsteleSandbox) -> None:
    """GatewayApp (ASGI) reads multipart with the credentials in the URL too."""
    transport = httpx.ASGITransport(app=GatewayApp(rex))
    async with httpx.AsyncClient(transport=transport, base_url=URL) as http:
        answer = await call(
            http, "sendsms", {"phones": "79160001234", "mes": "Hi"}, form="multipart"
        )
    assert answer.json()["cnt"] == "1"


@pytest.mark.parametrize("form", FORMS)
async def test_over_loopback_every_form_sends(rex: SmsteleSandbox, form: str) -> None:
    """Over a real socket: the curl-style requests of the reference."""
    async with serve(rex) as server, httpx.AsyncClient(base_url=server.url) as http:
        params = {"phones": "79160001234", "mes": "Тест", "charset": "koi8-r"}
        answer = await call(http, "sendsms", params, form=form, prefix="/cgi-bin")
        assert answer.json()["cnt"] == "1"
    assert [m.text for m in rex.messages()] == ["Тест"]
