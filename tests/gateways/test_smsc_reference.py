"""Every request and answer shown in shared/reference/smsc-kz-http-api.ru.txt.

Each documented shape is decoded by the client's parsers (with the placeholders
filled in), and the emulator, asked the documented way, answers in that shape.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from smsclub_async import AuthenticationError, NotFoundError
from smsclub_async._decoding import decode as decode_json
from smsclub_async.gateways import SenderState, SmscClient
from smsclub_async.gateways._smsc_wire import (
    AddSenderAnswer,
    ErrorInfo,
    ResultAnswer,
    parse_error,
    parse_senders,
)
from smsclub_async.sandbox.gateways import GatewayTransport, SmscSandbox

from .conftest import SMSC_URL

# ----------------------------------------------------------------- error answers

ERROR_SHAPES = [
    (0, b"ERROR = 2 (authorise error)"),
    (1, b"0,-2"),
    (2, b"<result>\n<error>authorise error</error>\n<error_code>2</error_code>\n</result>"),
    (3, b'{\n"error": "authorise error",\n"error_code": 2\n}'),
]


@pytest.mark.parametrize(("fmt", "body"), ERROR_SHAPES, ids=["fmt0", "fmt1", "fmt2", "fmt3"])
def test_error_answers_decode_in_every_format(fmt: int, body: bytes) -> None:
    """ "ERROR = N (описание)", "0,-N", the XML and the JSON forms all give code N."""
    info = parse_error(body)
    assert info is not None
    assert info.code == 2
    assert info.description == ("" if fmt == 1 else "authorise error")


@pytest.mark.parametrize(("fmt", "body"), ERROR_SHAPES, ids=["fmt0", "fmt1", "fmt2", "fmt3"])
async def test_the_emulator_answers_errors_in_the_documented_shape(
    fmt: int, body: bytes, smsc_sandbox: SmscSandbox, login: str
) -> None:
    """A wrong password, asked in each fmt, is answered exactly in that fmt's shape."""
    async with httpx.AsyncClient(
        transport=GatewayTransport(smsc_sandbox), base_url=SMSC_URL
    ) as http:
        answer = await http.post(
            "/sys/senders.php", data={"get": "1", "login": login, "psw": "wrong", "fmt": str(fmt)}
        )
    assert answer.status_code == 200
    if fmt == 3:
        assert json.loads(answer.content) == json.loads(body)
    else:
        assert answer.content == body


def test_errors_with_an_issued_id_keep_it() -> None:
    """Send errors 3, 6, 7, 8 carry the message id: every format keeps it."""
    assert parse_error(b"ERROR = 3 (no money), ID - 1234") == ErrorInfo(3, "no money", "1234")
    assert parse_error(b"1234,-3") == ErrorInfo(3, "", "1234")
    assert parse_error(
        b"<result><error>no money</error><error_code>3</error_code><id>1234</id></result>"
    ) == ErrorInfo(3, "no money", "1234")
    assert parse_error(b'{"error": "no money", "error_code": 3, "id": 1234}') == ErrorInfo(
        3, "no money", "1234"
    )


@pytest.mark.parametrize(
    "body",
    [b'{"id": 5, "cnt": 1}', b"[]", b'[{"sender": "x", "id": 1}]', b"1234.56", b"OK", b""],
)
def test_success_answers_are_not_errors(body: bytes) -> None:
    """Answers without an error code are not mistaken for one."""
    assert parse_error(body) is None


# ----------------------------------------------------------------- sender listings

SENDERS_ALL0 = {
    0: "name = MyShop, id = 1002\nname = SMSC.KZ, id = 1001",
    1: "MyShop,1002\nSMSC.KZ,1001",
    2: '<list>\n<sender id="1002">MyShop</sender>\n<sender id="1001">SMSC.KZ</sender>\n</list>',
    3: '[{\n"sender": "MyShop",\n"id": 1002\n},\n{\n"sender": "SMSC.KZ",\n"id": 1001\n}]',
}
SENDERS_ALL1 = {
    0: "name = MyShop, status = 1, id = 1002\nname = NewName, status = 0, id = 1003",
    1: "MyShop,1,1002\nNewName,0,1003",
    2: '<list>\n<sender status="1" id="1002">MyShop</sender>\n'
    '<sender status="0" id="1003">NewName</sender>\n</list>',
    3: '[{\n"sender": "MyShop",\n"status": 1,\n"id": 1002\n},\n'
    '{\n"sender": "NewName",\n"status": 0,\n"id": 1003\n}]',
}


@pytest.mark.parametrize("fmt", [0, 1, 2, 3])
def test_sender_lists_decode_in_every_format(fmt: int) -> None:
    """all=0: names and ids; all=1: with status (0 moderation, 1 allowed)."""
    plain = parse_senders(SENDERS_ALL0[fmt].encode(), fmt)
    assert [(s.name, s.id, s.state) for s in plain] == [
        ("MyShop", "1002", SenderState.APPROVED),
        ("SMSC.KZ", "1001", SenderState.APPROVED),
    ]
    full = parse_senders(SENDERS_ALL1[fmt].encode(), fmt)
    assert [(s.name, s.status, s.state) for s in full] == [
        ("MyShop", 1, SenderState.APPROVED),
        ("NewName", 0, SenderState.MODERATION),
    ]


OPERATOR_FIELDS = [
    *("mega_step", "mega_int", "bee_step", "motiv", "motiv_step", "motiv_int", "sber_step"),
    *("sber_int", "winmob_step", "volnamob_step", "mts_step", "mts_int", "tele2_step", "tele2"),
    *("tele2_int", "ua_reg", "ua_int", "by_reg", "by_int"),
]


def test_operator_listing_decodes_with_string_ids() -> None:
    """operators=1, fmt=3: every operator's status, and "id" as a string this time."""
    row = {"sender": "MyShop", **dict.fromkeys(OPERATOR_FIELDS, "2"), "id": "1002"}
    [sender] = parse_senders(json.dumps([row]).encode(), 3)
    assert sender.name == "MyShop"
    assert sender.id == "1002"
    assert sender.operators == dict.fromkeys(OPERATOR_FIELDS, "2")


async def _get(sandbox: SmscSandbox, login: str, password: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=GatewayTransport(sandbox), base_url=SMSC_URL) as http:
        return await http.post("/sys/senders.php", data={"login": login, "psw": password, **params})


@pytest.mark.parametrize("fmt", [0, 1, 2, 3])
@pytest.mark.parametrize("all_names", ["0", "1"])
async def test_the_emulator_lists_senders_in_the_documented_shape(
    fmt: int, all_names: str, smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """get=1 with each fmt and all: the shape of the document, parsed back to the same names."""
    answer = await _get(smsc_sandbox, login, password, get="1", fmt=str(fmt), all=all_names)
    text = answer.text
    if fmt == 0:
        pattern = (
            r"name = \S+, status = \d, id = \d+" if all_names == "1" else r"name = \S+, id = \d+"
        )
        assert all(re.fullmatch(pattern, line) for line in text.splitlines())
    elif fmt == 1:
        pattern = r"[^,]+,\d,\d+" if all_names == "1" else r"[^,]+,\d+"
        assert all(re.fullmatch(pattern, line) for line in text.splitlines())
    elif fmt == 2:
        assert text.startswith("<list>")
        assert text.endswith("</list>")
        assert ("status=" in text) is (all_names == "1")
    else:
        rows = json.loads(text)
        keys = {"sender", "status", "id"} if all_names == "1" else {"sender", "id"}
        assert all(set(row) == keys for row in rows)
    names = {s.name for s in parse_senders(answer.content, fmt)}
    expected = {"SMSC.KZ", "MyShop", "NewName"} if all_names == "1" else {"SMSC.KZ", "MyShop"}
    assert names == expected


@pytest.mark.parametrize("fmt", [0, 2, 3])
async def test_the_emulator_lists_operator_statuses(
    fmt: int, smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """operators=1 (fmt 0, 2, 3 are documented): every operator field, then the id."""
    answer = await _get(smsc_sandbox, login, password, get="1", fmt=str(fmt), operators="1")
    if fmt == 3:
        row = json.loads(answer.text)[0]
        assert list(row) == ["sender", *OPERATOR_FIELDS, "id"]
        assert isinstance(row["id"], str)
    elif fmt == 2:
        assert all(f'{field}="' in answer.text for field in OPERATOR_FIELDS)
    else:
        first = answer.text.splitlines()[0]
        assert first.startswith("name = ")
        assert first.split(", ")[-1].startswith("id = ")
    assert {s.name for s in parse_senders(answer.content, fmt)} >= {"MyShop"}


# ----------------------------------------------------------------- adding, deleting

ADD_SHAPES = {
    0: "ID = {id}",
    1: "{id}",
    2: "<sender>\n<id>{id}</id>\n</sender>",
    3: '{{"sender":{id}}}',
}
OK_SHAPES = {0: "OK", 1: "OK", 2: "<result>OK</result>", 3: '{"result":"OK"}'}


@pytest.mark.parametrize("fmt", [0, 1, 2, 3])
async def test_adding_and_deleting_a_sender_answer_in_the_documented_shape(
    fmt: int, smsc_sandbox: SmscSandbox, login: str, password: str
) -> None:
    """add=1 answers the new id ("ID = <id>", "<id>", XML, {"sender": <id>}); del=1 "OK"."""
    added = await _get(smsc_sandbox, login, password, add="1", sender=f"New{fmt}", fmt=str(fmt))
    sender_id = re.search(r"\d+", added.text)
    assert sender_id is not None
    assert added.text == ADD_SHAPES[fmt].format(id=sender_id[0])
    deleted = await _get(
        smsc_sandbox, login, password, sender=f"New{fmt}", fmt=str(fmt), **{"del": "1"}
    )
    assert deleted.text == OK_SHAPES[fmt]


def test_add_and_ok_answers_decode() -> None:
    """{"sender": <id>} and {"result": "OK"} decode."""
    assert decode_json(AddSenderAnswer, b'{\n"sender": 1234\n}').sender == 1234
    assert decode_json(ResultAnswer, b'{\n"result": "OK"\n}').result == "OK"


async def test_client_sender_calls_end_to_end(smsc: SmscClient) -> None:
    """senders(), sender_list(), add_sender() and delete_sender() on the emulator."""
    assert await smsc.senders() == ["SMSC.KZ", "MyShop"]
    sender_id = await smsc.add_sender("Fresh")
    listed = {s.name: s for s in await smsc.sender_list()}
    assert listed["Fresh"].id == sender_id
    assert listed["Fresh"].state is SenderState.MODERATION
    assert not listed["Fresh"].usable
    await smsc.delete_sender("Fresh")
    with pytest.raises(NotFoundError, match="sender name not found"):
        await smsc.delete_sender("Fresh")


async def test_wrong_password_raises_authentication_error(
    smsc_sandbox: SmscSandbox, login: str
) -> None:
    """Error 2 means a bad login/password or an IP outside the allowed list."""
    async with SmscClient(login, "wrong", transport=GatewayTransport(smsc_sandbox)) as smsc:
        with pytest.raises(AuthenticationError, match="allowed list") as caught:
            await smsc.senders()
    assert caught.value.fields["error_code"] == "2"
    assert caught.value.status_code == 200
    assert caught.value.endpoint == "/sys/senders.php"
