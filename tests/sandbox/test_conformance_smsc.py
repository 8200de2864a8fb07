"""The SMSC.kz emulator against its reference, driven with plain httpx (not our client).

Every command in every ``fmt`` (0 the documented default, 1 what SMSC's official
libraries ask for, 2 XML, 3 JSON), every request form (query string, urlencoded
body, multipart body), ``charset``, the status list form and ``all=`` levels,
both credential kinds (password and its lower-case MD5). The shapes the
reference spells out (errors, sender names) are checked literally; those it
leaves to the official libraries (send, status, balance) are checked field by
field as ``smsc_api.php`` / ``smsc_api.py`` index them.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal

import httpx
import pytest

from smsclub_async.sandbox import ManualClock, serve
from smsclub_async.sandbox.gateways import GatewayApp, GatewayTransport, SmscConfig, SmscSandbox

LOGIN = "demo"
PASSWORD = "s3cret"
URL = "https://smsc.kz"
PHONE = "77011234567"
FORMS = ("query", "urlencoded", "multipart")
FMTS = ("0", "1", "2", "3")


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test advances it."""
    return ManualClock(1000.0)


@pytest.fixture
def smsc(clock: ManualClock) -> SmscSandbox:
    """An SMSC emulator with one account (``demo``/``s3cret``), no duplicate limits."""
    config = SmscConfig(
        accounts={LOGIN: PASSWORD}, identical_limits={}, duplicate_window=0.0, add_limit=100
    )
    return SmscSandbox(config, clock=clock)


@pytest.fixture
async def http(smsc: SmscSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Plain httpx, in process, on the emulator."""
    async with httpx.AsyncClient(transport=GatewayTransport(smsc), base_url=URL) as client:
        yield client


async def call(
    http: httpx.AsyncClient,
    command: str,
    params: Mapping[str, str],
    *,
    form: str = "query",
    credentials: Mapping[str, str] | None = None,
) -> httpx.Response:
    """``/sys/<command>.php`` with the credentials, by GET (query) or POST (a body).

    Texts are encoded in the request's ``charset`` (the gateway's default,
    windows-1251, when it names none), as the official libraries do.
    """
    every = {**(credentials or {"login": LOGIN, "psw": PASSWORD}), **params}
    encoding = every.get("charset", "windows-1251")
    path = f"/sys/{command}.php"
    if form == "multipart":
        # files= makes httpx post multipart/form-data, as PHP's curl does with an array
        fields = {name: (None, value.encode(encoding)) for name, value in every.items()}
        return await http.post(path, files=fields)
    encoded = urllib.parse.urlencode(every, encoding=encoding)
    if form == "query":
        return await http.get(f"{path}?{encoded}")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await http.post(path, content=encoded.encode("ascii"), headers=headers)


async def send(http: httpx.AsyncClient, phone: str = PHONE, **extra: str) -> str:
    """Send "Hi" to ``phone``; the new message id (fmt=3)."""
    answer = await call(http, "send", {"phones": phone, "mes": "Hi", "fmt": "3", **extra})
    return str(answer.json()["id"])


def xml(answer: httpx.Response) -> ET.Element:
    """The XML document of an answer (the test fails if it is not one)."""
    assert answer.headers["content-type"].startswith("text/xml")
    return ET.fromstring(answer.text)  # decoded by the charset the content type names


# ----------------------------------------------------------------- errors, every format


ERROR_SHAPES: dict[str, Callable[[httpx.Response], None]] = {
    "0": lambda a: _match(a, r"ERROR = 2 \(authorise error\)"),
    "1": lambda a: _match(a, r"0,-2"),
    "2": lambda a: _xml_fields(a, "result", {"error": "authorise error", "error_code": "2"}),
    "3": lambda a: _equal(a.json(), {"error": "authorise error", "error_code": 2}),
}


def _match(answer: httpx.Response, pattern: str) -> None:
    assert re.fullmatch(pattern, answer.text, re.DOTALL), answer.text


def _equal(actual: object, expected: object) -> None:
    assert actual == expected


def _xml_fields(answer: httpx.Response, root: str, fields: Mapping[str, str]) -> None:
    document = xml(answer)
    assert document.tag == root
    assert {child.tag: child.text for child in document} == fields


@pytest.mark.parametrize("command", ["send", "status", "balance", "senders"])
@pytest.mark.parametrize("fmt", FMTS)
async def test_a_wrong_password_is_refused_in_the_shape_of_each_fmt(
    http: httpx.AsyncClient, command: str, fmt: str
) -> None:
    """Every command, every fmt: error 2 in the documented shape of that fmt."""
    params = {"fmt": fmt, "phones": PHONE, "mes": "Hi", "id": "1", "phone": PHONE, "get": "1"}
    answer = await call(http, command, params, credentials={"login": LOGIN, "psw": "wrong"})
    assert answer.status_code == 200
    ERROR_SHAPES[fmt](answer)


async def test_fmt_defaults_to_0_the_documented_plain_text(http: httpx.AsyncClient) -> None:
    """Without fmt an answer is the documented default, ``ERROR = N (...)`` / ``OK - ...``."""
    refused = await call(http, "balance", {}, credentials={"login": LOGIN, "psw": "no"})
    assert refused.text == "ERROR = 2 (authorise error)"
    sent = await call(http, "send", {"phones": PHONE, "mes": "Hi"})
    assert re.fullmatch(r"OK - 1 SMS, ID - \d+", sent.text)


@pytest.mark.parametrize(
    ("fmt", "shape"),
    [
        ("0", r"ERROR = 7 \(invalid phone\), ID - 42"),
        ("1", r"42,-7"),
        (
            "2",
            r"<result>\n<error>invalid phone</error>\n<error_code>7</error_code>\n"
            r"<id>42</id>\n</result>",
        ),
        ("3", r'\{"error":"invalid phone","error_code":7,"id":42\}'),
    ],
)
async def test_a_refused_send_names_its_id_in_each_fmt(
    http: httpx.AsyncClient, fmt: str, shape: str
) -> None:
    """A send refused after its id was given carries the id (fmt=1: ``<id>,-<code>``)."""
    answer = await call(http, "send", {"phones": "12", "mes": "Hi", "id": "42", "fmt": fmt})
    _match(answer, shape)


# ----------------------------------------------------------------- send.php, every format


SEND_SHAPES: dict[tuple[str, str], str] = {
    # (cost, fmt) -> the answer, with ID for the message id
    ("0", "0"): r"OK - 1 SMS, ID - <id>",
    ("0", "1"): r"<id>,1",
    ("2", "0"): r"OK - 1 SMS, ID - <id>, COST - 10.00",
    ("2", "1"): r"<id>,1,10.00",
    ("3", "0"): r"OK - 1 SMS, ID - <id>, COST - 10.00, BALANCE - 990.00",
    ("3", "1"): r"<id>,1,10.00,990.00",
    ("1", "0"): r"10.00 \(1 SMS\)",
    ("1", "1"): r"10.00,1",
}


@pytest.mark.parametrize("cost", ["0", "1", "2", "3"])
@pytest.mark.parametrize("fmt", FMTS)
async def test_send_answers_in_each_fmt_and_cost_mode(
    http: httpx.AsyncClient, smsc: SmscSandbox, cost: str, fmt: str
) -> None:
    """send.php: cost 0 (id, count), 1 (price only), 2 (+cost), 3 (+balance), in every fmt."""
    answer = await call(
        http, "send", {"phones": PHONE, "mes": "Hi", "cost": cost, "fmt": fmt, "id": "77"}
    )
    assert answer.status_code == 200
    expected_json: dict[str, object] = {"id": 77, "cnt": 1}
    if cost == "1":
        expected_json = {"cost": "10.00", "cnt": 1}
        assert smsc.messages() == []
    else:
        assert [m.id for m in smsc.messages()] == ["77"]
    if cost in ("2", "3"):
        expected_json["cost"] = "10.00"
    if cost == "3":
        expected_json["balance"] = "990.00"
    if fmt == "3":
        assert answer.json() == expected_json
    elif fmt == "2":
        document = xml(answer)
        assert document.tag == "result"
        assert {c.tag: c.text for c in document} == {k: str(v) for k, v in expected_json.items()}
    else:
        _match(answer, SEND_SHAPES[(cost, fmt)].replace("<id>", "77"))


@pytest.mark.parametrize("fmt", FMTS)
async def test_send_with_op_lists_every_number(http: httpx.AsyncClient, fmt: str) -> None:
    """op=1: each number's phone, mccmnc, cost, status and error after the totals."""
    answer = await call(
        http, "send", {"phones": f"{PHONE},12", "mes": "Hi", "op": "1", "fmt": fmt, "cost": "3"}
    )
    if fmt == "3":
        rows = answer.json()["phones"]
        assert [(r["phone"], r["error"]) for r in rows] == [("12", "7"), (PHONE, "0")]
    elif fmt == "2":
        phones = xml(answer).find("phones")
        assert phones is not None
        assert [p.findtext("phone") for p in phones] == ["12", PHONE]
    elif fmt == "1":
        head, *rows = answer.text.split("\n")
        assert head.split(",")[1:] == ["1", "10.00", "990.00"]
        assert [row.split(",")[0] for row in rows] == ["12", PHONE]
        assert rows[1].split(",") == [PHONE, "40102", "10.00", "0", "0"]
    else:
        head, *rows = answer.text.split("\n")
        assert head.startswith("OK - 1 SMS, ID - ")
        assert rows[1] == f"phone = {PHONE}, mccmnc = 40102, cost = 10.00, status = 0, error = 0"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("command", ["send", "status", "balance", "senders"])
async def test_every_command_reads_every_request_form(
    http: httpx.AsyncClient, smsc: SmscSandbox, form: str, command: str
) -> None:
    """Query string, urlencoded body and multipart body are one request to the gateway."""
    message_id = await send(http)
    params = {
        "send": {"phones": "77011234568", "mes": "Hi"},
        "status": {"id": message_id, "phone": PHONE},
        "balance": {},
        "senders": {"get": "1"},
    }[command]
    answer = await call(http, command, {**params, "fmt": "3"}, form=form)
    body = answer.json()
    assert "error" not in (body if isinstance(body, dict) else {}), body
    if command == "send":
        assert smsc.deliveries()["77011234568"] == 1


@pytest.mark.parametrize("form", FORMS)
async def test_md5_of_the_password_is_accepted_in_every_form(
    http: httpx.AsyncClient, form: str
) -> None:
    """psw may be the lower-case MD5 of the password, as documented."""
    digest = hashlib.md5(PASSWORD.encode()).hexdigest()
    credentials = {"login": LOGIN, "psw": digest}
    answer = await call(http, "balance", {"fmt": "1"}, form=form, credentials=credentials)
    assert answer.text == "1000.00"
    upper = {"login": LOGIN, "psw": digest.upper()}
    refused = await call(http, "balance", {"fmt": "1"}, form=form, credentials=upper)
    assert refused.text == "0,-2"


async def test_id_0_is_no_id_so_two_sends_keep_two_messages(
    http: httpx.AsyncClient, smsc: SmscSandbox
) -> None:
    """id=0 (what official libraries send by default) is not an id: each send gets its own."""
    first = await call(http, "send", {"phones": PHONE, "mes": "one", "id": "0", "fmt": "1"})
    second = await call(http, "send", {"phones": PHONE, "mes": "two", "id": "0", "fmt": "1"})
    first_id, second_id = first.text.split(",")[0], second.text.split(",")[0]
    assert first_id != second_id
    assert "0" not in (first_id, second_id)
    assert [m.text for m in smsc.messages()] == ["one", "two"]


# ----------------------------------------------------------------- charset


@pytest.mark.parametrize("charset", ["utf-8", "windows-1251", "koi8-r", None])
@pytest.mark.parametrize("form", FORMS)
async def test_charset_decides_how_the_text_is_read_and_the_answer_written(
    http: httpx.AsyncClient, smsc: SmscSandbox, charset: str | None, form: str
) -> None:
    """A Cyrillic text in utf-8, windows-1251 or koi8-r (the default: windows-1251)."""
    encoding = charset or "windows-1251"
    text = "Привет, мир"
    named = {"charset": charset} if charset else {}
    sent = await call(http, "send", {"phones": PHONE, "mes": text, "fmt": "3", **named}, form=form)
    message_id = str(sent.json()["id"])
    assert [m.text for m in smsc.messages()] == [text]
    params = {"id": message_id, "phone": PHONE, "all": "1", "fmt": "1", **named}
    status = await call(http, "status", params, form=form)
    assert status.headers["content-type"].endswith(f"charset={encoding}")
    assert status.content.decode(encoding).endswith(f",{text}")


async def test_a_utf8_text_read_as_the_default_windows_1251_is_garbled(
    http: httpx.AsyncClient, smsc: SmscSandbox
) -> None:
    """Without charset the gateway reads windows-1251: UTF-8 bytes arrive as mojibake."""
    await call(http, "send", {"phones": PHONE, "mes": "Привет", "charset": "utf-8", "fmt": "3"})
    raw = urllib.parse.urlencode(
        {"login": LOGIN, "psw": PASSWORD, "phones": "77011234568", "mes": "Привет"}
    )
    await http.get(f"/sys/send.php?{raw}")
    assert [m.text for m in smsc.messages()] == ["Привет", "Привет".encode().decode("cp1251")]


# ----------------------------------------------------------------- status.php


async def _delivered(http: httpx.AsyncClient, clock: ManualClock, phone: str = PHONE) -> str:
    message_id = await send(http, phone, sender="MyShop")
    clock.advance(10.0)
    return message_id


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("level", ["0", "1", "2"])
async def test_status_in_each_fmt_and_all_level(
    http: httpx.AsyncClient, clock: ManualClock, fmt: str, level: str
) -> None:
    """status.php: the fields of all=0, 1, 2 in every fmt (fmt=1 as the libraries index it)."""
    message_id = await _delivered(http, clock)
    params = {"id": message_id, "phone": PHONE, "all": level, "fmt": fmt, "charset": "utf-8"}
    answer = await call(http, "status", params)
    base = ["status", "last_date", "last_timestamp", "err"]
    full = [
        "send_date",
        "send_timestamp",
        "phone",
        "cost",
        "sender_id",
        "status_name",
        "message",
        "type",
    ]
    names = (
        base
        + (full if level != "0" else [])
        + (["country", "operator", "region"] if level == "2" else [])
    )
    if fmt == "3":
        body = answer.json()
        assert list(body) == names
        assert body["status"] == 1
        if level != "0":
            assert body["status_name"] == "Доставлено"
            assert body["sender_id"] == "MyShop"
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", body["send_date"])
        if level == "2":
            assert (body["country"], body["operator"]) == ("Kazakhstan", "Kcell")
    elif fmt == "2":
        document = xml(answer)
        assert [child.tag for child in document] == names
    elif fmt == "1":
        fields = answer.text.split(",")
        assert fields[0] == "1"
        assert fields[2] == "0"
        if level == "0":
            assert len(fields) == 3
        elif level == "1":
            # status, time, err, send time, phone, cost, sender_id, status_name, message
            assert fields[3:] == [fields[3], PHONE, "10.00", "MyShop", "Доставлено", "Hi"]
        else:
            assert fields[3:] == [
                fields[3],
                PHONE,
                "10.00",
                "Kazakhstan",
                "Kcell",
                "",
                "MyShop",
                "Доставлено",
                "Hi",
            ]
    else:
        date = r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d"
        expected = {
            "0": rf"Status = 1, check_time = {date}",
            "1": rf"Status = 1, check_time = {date}, send_date = {date}, phone = {PHONE},"
            r" cost = 10\.00, sender_id = MyShop, status_name = Доставлено, message = Hi",
            "2": rf"Status = 1, check_time = {date}, send_date = {date}, phone = {PHONE},"
            r" cost = 10\.00, sender_id = MyShop, status_name = Доставлено, country = Kazakhstan,"
            r" operator = Kcell, region = , message = Hi",
        }[level]
        _match(answer, expected)


async def test_status_text_with_commas_stays_last_in_fmt_1(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The message text may hold commas; it is the last field, so splitting 9 ways works."""
    sent = await call(http, "send", {"phones": PHONE, "mes": "a, b, c", "fmt": "3"})
    clock.advance(10.0)
    answer = await call(
        http, "status", {"id": str(sent.json()["id"]), "phone": PHONE, "all": "1", "fmt": "1"}
    )
    assert answer.text.split(",", 8)[8] == "a, b, c"


@pytest.mark.parametrize("fmt", FMTS)
async def test_hlr_status_carries_network_fields_and_hlr_marker(
    http: httpx.AsyncClient, clock: ManualClock, fmt: str
) -> None:
    """An HLR lookup's status: imsi ... rnet after err; with all=1 sender_id "HLR" at index 14."""
    sent = await call(http, "send", {"phones": PHONE, "hlr": "1", "fmt": "3"})
    clock.advance(10.0)
    params = {"id": str(sent.json()["id"]), "phone": PHONE, "all": "1", "fmt": fmt}
    answer = await call(http, "status", {**params, "charset": "utf-8"})
    if fmt == "1":
        fields = answer.text.split(",")
        assert fields[14] == "HLR"
        assert fields[5:9] == ["401", "02", "Kazakhstan", "Kcell"]
    elif fmt == "3":
        body = answer.json()
        assert (body["mcc"], body["net"], body["sender_id"]) == ("401", "Kcell", "HLR")
    elif fmt == "2":
        assert xml(answer).findtext("net") == "Kcell"
    else:
        assert "net = Kcell" in answer.text


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("level", ["0", "1"])
async def test_the_list_form_with_trailing_commas_answers_a_list(
    http: httpx.AsyncClient, clock: ManualClock, fmt: str, level: str
) -> None:
    """``id=1,2,&phone=p1,p2,`` answers one entry per pair, an unknown pair with -3."""
    first = await _delivered(http, clock)
    second = await _delivered(http, clock, "77011234569")
    params = {
        "id": f"{first},{second},999,",
        "phone": f"{PHONE},77011234569,{PHONE},",
        "all": level,
        "fmt": fmt,
        "charset": "koi8-r",
    }
    answer = await call(http, "status", params)
    expected = [(first, PHONE, 1), (second, "77011234569", 20), ("999", PHONE, -3)]
    if fmt == "3":
        body = json.loads(answer.content.decode("koi8-r"))
        assert [(str(e["id"]), e["phone"], e["status"]) for e in body] == expected
    elif fmt == "2":
        document = xml(answer)
        assert document.tag == "list"
        got = [
            (e.findtext("id"), e.findtext("phone"), int(e.findtext("status") or 0))
            for e in document
        ]
        assert got == expected
    elif fmt == "1":
        lines = [line.split(",") for line in answer.text.split("\n")]
        if level == "0":
            assert [(f[0], f[1], int(f[2])) for f in lines] == expected
        else:
            # id first, then the all=1 line, which carries the phone at index 4 (+1)
            assert [f[0] for f in lines] == [first, second, "999"]
            assert lines[0][5] == PHONE
    else:
        lines = answer.text.split("\n")
        assert len(lines) == 3
        assert lines[0].startswith(f"id = {first}, ")
        assert "Status = 20" in lines[1]


async def test_one_pair_with_a_trailing_comma_is_still_a_list(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A comma after a single id keeps the list format, as documented."""
    message_id = await _delivered(http, clock)
    single = await call(http, "status", {"id": message_id, "phone": PHONE, "fmt": "3"})
    listed = await call(http, "status", {"id": f"{message_id},", "phone": f"{PHONE},", "fmt": "3"})
    assert isinstance(single.json(), dict)
    assert isinstance(listed.json(), list)
    assert listed.json()[0]["id"] == int(message_id)


# ----------------------------------------------------------------- balance.php


@pytest.mark.parametrize(
    ("fmt", "cur", "expected"),
    [
        ("0", "0", "1000.00"),
        ("0", "1", "1000.00, KZT"),
        ("1", "0", "1000.00"),
        ("1", "1", "1000.00,KZT"),
        ("2", "0", "<result>\n<balance>1000.00</balance>\n</result>"),
        ("2", "1", "<result>\n<balance>1000.00</balance>\n<currency>KZT</currency>\n</result>"),
        ("3", "0", '{"balance":"1000.00"}'),
        ("3", "1", '{"balance":"1000.00","currency":"KZT"}'),
    ],
)
async def test_balance_in_each_fmt(
    http: httpx.AsyncClient, fmt: str, cur: str, expected: str
) -> None:
    """balance.php, with and without cur=1 (fmt=1 is what smsc_api.py reads: one field)."""
    answer = await call(http, "balance", {"fmt": fmt, "cur": cur})
    assert answer.text == expected


# ----------------------------------------------------------------- senders.php


OK_SHAPES = {"0": "OK", "1": "OK", "2": "<result>OK</result>", "3": '{"result":"OK"}'}


@pytest.mark.parametrize("fmt", FMTS)
async def test_sender_add_change_and_delete_answer_as_documented(
    http: httpx.AsyncClient, smsc: SmscSandbox, fmt: str
) -> None:
    """add answers the new id; change and delete answer OK, in every fmt's documented shape."""
    added = await call(http, "senders", {"add": "1", "sender": "Shop2", "fmt": fmt})
    text = added.text
    sender_id = {
        "0": lambda: text.removeprefix("ID = "),
        "1": lambda: text,
        "2": lambda: xml(added).findtext("id") or "",
        "3": lambda: str(added.json()["sender"]),
    }[fmt]()
    assert sender_id.isdigit()
    assert smsc.senders(LOGIN)["Shop2"] == 0
    changed = await call(
        http, "senders", {"chg": "1", "id": sender_id, "sender": "Shop3", "fmt": fmt}
    )
    assert changed.text == OK_SHAPES[fmt]
    assert "Shop2" not in smsc.senders(LOGIN)
    assert smsc.senders(LOGIN)["Shop3"] == 0
    deleted = await call(http, "senders", {"del": "1", "sender": "Shop3", "fmt": fmt})
    assert deleted.text == OK_SHAPES[fmt]
    assert "Shop3" not in smsc.senders(LOGIN)


@pytest.mark.parametrize("fmt", FMTS)
async def test_a_numeric_sender_is_confirmed_by_code(
    http: httpx.AsyncClient, smsc: SmscSandbox, clock: ManualClock, fmt: str
) -> None:
    """send_code sends a code to the number (OK); check_code with it confirms the name (OK)."""
    number = "77011112233"
    sent = await call(http, "senders", {"send_code": "1", "sender": number, "fmt": fmt})
    assert sent.text == OK_SHAPES[fmt]
    again = await call(http, "senders", {"send_code": "1", "sender": number, "fmt": "1"})
    assert again.text == "0,-10"  # code already sent, retry in 8 hours
    wrong = await call(
        http, "senders", {"check_code": "1", "sender": number, "code": "1", "fmt": "1"}
    )
    assert wrong.text == "0,-11"
    code = smsc.confirmation_code(LOGIN, number)
    assert code is not None
    confirmed = await call(
        http, "senders", {"check_code": "1", "sender": number, "code": code, "fmt": fmt}
    )
    assert confirmed.text == OK_SHAPES[fmt]
    assert smsc.senders(LOGIN)[number] == 1
    clock.advance(8 * 3600.0)
    assert (
        await call(http, "senders", {"send_code": "1", "sender": number, "fmt": "1"})
    ).text == "OK"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"add": "1", "sender": "MyShop"}, 5),  # already there: save error
        ({"add": "1"}, 1),
        ({"del": "1", "sender": "Nobody"}, 3),
        ({"chg": "1", "id": "999999", "sender": "X"}, 3),
        ({"chg": "1", "sender": "X"}, 1),
        ({"send_code": "1", "sender": "12"}, 7),
        ({"send_code": "1", "sender": "70001234567"}, 8),
        ({"check_code": "1", "sender": "77011112233", "code": "1"}, 11),
        ({"frobnicate": "1"}, 1),
    ],
)
async def test_sender_errors_carry_the_documented_codes(
    http: httpx.AsyncClient, params: dict[str, str], code: int
) -> None:
    """The error table of senders.php: 1, 3, 5, 7, 8, 11."""
    answer = await call(http, "senders", {**params, "fmt": "3"})
    assert answer.json()["error_code"] == code


async def test_a_sixth_add_within_a_minute_gets_error_9(clock: ManualClock) -> None:
    """Error 9: more than five requests to create a sender name within a minute."""
    smsc = SmscSandbox(SmscConfig(accounts={LOGIN: PASSWORD}), clock=clock)
    async with httpx.AsyncClient(transport=GatewayTransport(smsc), base_url=URL) as http:
        codes = []
        for n in range(6):
            answer = await call(http, "senders", {"add": "1", "sender": f"N{n}", "fmt": "1"})
            codes.append(answer.text)
        assert codes[-1] == "0,-9"
        assert all(code.isdigit() for code in codes[:-1])
        clock.advance(61.0)
        assert (
            await call(http, "senders", {"add": "1", "sender": "N9", "fmt": "1"})
        ).text.isdigit()


@pytest.mark.parametrize("fmt", FMTS)
async def test_sender_list_in_each_fmt(http: httpx.AsyncClient, fmt: str) -> None:
    """get=1 (all=0): the documented lines, ``name = X, id = N`` / ``X,N`` / XML / JSON."""
    answer = await call(http, "senders", {"get": "1", "fmt": fmt})
    shapes = {
        "0": r"(name = [^,]+, id = \d+\n?)+",
        "1": r"([^,\n]+,\d+\n?)+",
        "2": r'<list>\n(<sender id="\d+">[^<]+</sender>\n)+</list>',
        "3": r'\[(\{"sender":"[^"]+","id":\d+\},?)+\]',
    }
    _match(answer, shapes[fmt])


# ----------------------------------------------------------------- ASGI and loopback


async def test_the_asgi_app_answers_fmt_1_to_a_multipart_post(smsc: SmscSandbox) -> None:
    """GatewayApp (ASGI) reads multipart too."""
    transport = httpx.ASGITransport(app=GatewayApp(smsc))
    async with httpx.AsyncClient(transport=transport, base_url=URL) as http:
        answer = await call(
            http, "send", {"phones": PHONE, "mes": "Hi", "fmt": "1"}, form="multipart"
        )
    assert re.fullmatch(r"\d+,1", answer.text)


@pytest.mark.parametrize("form", FORMS)
async def test_over_loopback_an_official_library_session_works(
    smsc: SmscSandbox, clock: ManualClock, form: str
) -> None:
    """What smsc_api.php does, over a real socket: fmt=1, windows-1251, id=0, send then status."""
    async with serve(smsc) as server, httpx.AsyncClient(base_url=server.url) as http:
        common = {"fmt": "1", "charset": "windows-1251"}
        sent = await call(
            http,
            "send",
            {**common, "phones": PHONE, "mes": "Тест", "id": "0", "cost": "3"},
            form=form,
        )
        message_id, count, cost, balance = sent.text.split(",")
        assert (count, cost, balance) == ("1", "10.00", "990.00")
        clock.advance(10.0)
        status = await call(
            http, "status", {**common, "id": message_id, "phone": PHONE, "all": "1"}, form=form
        )
        fields = status.content.decode("windows-1251").split(",", 8)
        assert fields[0] == "1"
        assert fields[8] == "Тест"
        balance_answer = await call(http, "balance", common, form=form)
        assert Decimal(balance_answer.text) == Decimal("990.00")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "credentials",
    [{"apikey": "key-1"}, {"login": "", "psw": "key-1"}],
    ids=["apikey", "empty-login-key-in-psw"],
)
async def test_an_api_key_is_accepted_in_every_form(
    clock: ManualClock, form: str, credentials: dict[str, str]
) -> None:
    """The API key instead of login and password, both documented spellings."""
    smsc = SmscSandbox(
        SmscConfig(accounts={LOGIN: PASSWORD}, api_keys={"key-1": LOGIN}), clock=clock
    )
    async with httpx.AsyncClient(transport=GatewayTransport(smsc), base_url=URL) as http:
        answer = await call(http, "balance", {"fmt": "1"}, form=form, credentials=credentials)
        wrong = {name: "nope" if value else value for name, value in credentials.items()}
        refused = await call(http, "balance", {"fmt": "1"}, form=form, credentials=wrong)
    assert (answer.text, refused.text) == ("1000.00", "0,-2")
