"""Every request and response example of the SMS Club documents, in both languages.

Bodies are copied verbatim from ../shared/reference/ (smsclub-json-api.en.txt,
smsclub-json-api.ru.md, smsclub-api-overview.en.txt), malformations included: the
overview's list-shaped balance and the trailing commas must still decode.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from smsclub_async import DeliveryStatus
from smsclub_async._decoding import decode, encode, loads_lenient
from smsclub_async.gateways import SenderState
from smsclub_async.gateways._smsclub_wire import (
    BalanceResponse,
    PersonalizedSendRequest,
    RegisterSenderRequest,
    RegistrationResponse,
    SendersResponse,
    SenderStatusRequest,
    SenderStatusResponse,
    SendRequest,
    SendResponse,
    StatusRequest,
    StatusResponse,
)

# --------------------------------------------------------------------- requests

SEND_REQUESTS = [
    # en + ru: single send
    """{
   "phone": ["380989361131"],
   "src_addr": "VashZakaz",
   "message": "test text"
}""",
    # en + ru: partial-success request
    """{
   "phone": ["380989361131","380989361130"],
   "src_addr": "VashZakaz",
   "message": "test api"
}""",
    # overview
    """{
    "phone" : ["380989361131"],
    "message" : "test text",
    "src_addr" : "VashZakaz"
}""",
]

V2_REQUEST = """{
   "src_addr" : "VashZakaz",
   "lifetime" : "60",
   "data_message" : [
       {
           "phone" : "0980000001",
           "message" : "test 1"
       },
       {
           "phone" : "0980000002",
           "message" : "test 2"
       }
   ]
}"""

STATUS_REQUESTS = ['{ \n   "id_sms": ["106"] \n}', '{\n    "id_sms" : ["107"],\n}']

REGISTRATION_REQUEST = """{
    "sender_id" : "test_an",
    "company_type" : "fop",
    "company" : "Sms-api",
    "inn" : "133323",
    "okpo" : "",
    "subject" : "Информирование постоянных клиентов об акциях, событиях, новых поступлениях, скидках.",
    "description" : "Магазин бытовой техники",
    "site" : "https://google.com",
}"""

SENDER_STATUS_REQUEST = '{ \n   "sender_id" : "test_an"\n}'


def roundtrip(kind: type[msgspec.Struct], text: str) -> None:
    """Decode a documented request (lenient, as a server would), re-encode, compare."""
    documented = loads_lenient(text.encode())
    # The v2 example sends lifetime as a string; the client always sends an int.
    if documented.get("lifetime") is not None:
        documented["lifetime"] = int(documented["lifetime"])
    struct = msgspec.convert(documented, kind)
    assert msgspec.json.decode(encode(struct)) == documented


@pytest.mark.parametrize("text", SEND_REQUESTS)
def test_send_request_examples_roundtrip(text: str) -> None:
    """Our SendRequest encodes exactly the documented body."""
    roundtrip(SendRequest, text)


def test_v2_request_example_roundtrips_with_lifetime_as_string_or_int() -> None:
    """lifetime "60" (v2 example) and 60 (v1 table) are the same request."""
    roundtrip(PersonalizedSendRequest, V2_REQUEST)


@pytest.mark.parametrize("text", STATUS_REQUESTS)
def test_status_request_examples_roundtrip(text: str) -> None:
    """Including the overview's trailing comma."""
    roundtrip(StatusRequest, text)


def test_registration_request_example_roundtrips() -> None:
    """The fop example with an empty okpo, Cyrillic subject and a trailing comma."""
    roundtrip(RegisterSenderRequest, REGISTRATION_REQUEST)


def test_sender_status_request_example_roundtrips() -> None:
    """One sender name."""
    roundtrip(SenderStatusRequest, SENDER_STATUS_REQUEST)


# -------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("text", "info", "add_info"),
    [
        (
            '{ \n   "success_request": { \n      "info": { \n         "106": "380989361131" \n'
            "       } \n   } \n} ",
            {"106": "380989361131"},
            {},
        ),
        (
            '{ \n   "success_request": { \n      "info": { \n         "107": "380989361131" \n'
            '      }, \n      "add_info": { \n         "380989361130": "This number is in the'
            ' black list" \n      } \n   } \n}',
            {"107": "380989361131"},
            {"380989361130": "This number is in the black list"},
        ),
        (  # ru: the same in Russian
            '{\n  "success_request": {\n    "info": {\n      "107": "380989361131"\n    },\n'
            '    "add_info": {\n      "380989361130": "Данный номер находится в черном списке"\n'
            "    }\n  }\n}",
            {"107": "380989361131"},
            {"380989361130": "Данный номер находится в черном списке"},
        ),
        (
            '{ \n   "success_request": { \n      "add_info": { \n         "src_addr": "Sender'
            ' name is incorrect" \n      } \n   } \n} ',
            {},
            {"src_addr": "Sender name is incorrect"},
        ),
        (  # ru
            '{\n  "success_request": {\n    "add_info": {\n      "src_addr": "Некорректное'
            ' Альфа Имя"\n    }\n  }\n}',
            {},
            {"src_addr": "Некорректное Альфа Имя"},
        ),
        (  # v2, with the document's trailing comma
            '{ \n   "success_request": { \n      "info": { \n         "106": "0980000001",\n'
            '         "107": "0980000002",\n       } \n   } \n} ',
            {"106": "0980000001", "107": "0980000002"},
            {},
        ),
    ],
)
def test_send_response_examples(text: str, info: dict[str, str], add_info: dict[str, str]) -> None:
    """info id -> phone and add_info key -> error, from every send example."""
    body = decode(SendResponse, text.encode()).success_request
    assert body.info == info
    assert body.add_info == add_info


@pytest.mark.parametrize(
    "text",
    [
        '{ \n   "success_request": { \n      "info": { \n         "106": "ENROUTE" \n      } \n'
        "   }\n}",
        '{\n "success_request": {\n    "info": {\n        "107": "ENROUTE"\n    }\n }\n}',
    ],
)
def test_status_response_examples(text: str) -> None:
    """ENROUTE is not final."""
    info = decode(StatusResponse, text.encode()).success_request.info
    (status,) = info.values()
    assert DeliveryStatus.parse(status) is DeliveryStatus.ENROUTE
    assert not DeliveryStatus.parse(status).is_final


def test_senders_response_example() -> None:
    """The originator list."""
    text = '{ \n   "success_request": { \n      "info": [ \n         "test1", \n         "test2" \n      ] \n   } \n} '
    assert decode(SendersResponse, text.encode()).success_request.info == ["test1", "test2"]


@pytest.mark.parametrize(
    ("text", "money"),
    [
        (
            '{ \n   "success_request": { \n      "info": { \n         "money": "8111.1700", \n'
            '         "currency": "UAH" \n      } \n   } \n}',
            "8111.1700",
        ),
        (  # overview: `info` written as a list of pairs, which is not JSON
            '{\n "success_request": {\n    "info": [\n        "money": "8121.1800",\n'
            '        "currency": "UAH"\n        ]\n    }\n}',
            "8121.1800",
        ),
    ],
)
def test_balance_response_examples(text: str, money: str) -> None:
    """Both balance shapes the documents show decode to money and currency."""
    info = decode(BalanceResponse, text.encode()).success_request.info
    assert Decimal(str(info.money)) == Decimal(money)
    assert info.currency == "UAH"


def test_registration_response_examples() -> None:
    """Success (info) and field error (add_info)."""
    good = (
        '{\n    "success_request":{\n   \t "info":{\n   \t\t "originator" : "test_an",\n'
        '   \t\t "status" : "Being moderated"\n   \t }\n    }\n}'
    )
    bad = (
        '{\n    "success_request":{\n   \t "add_info":{\n   \t\t "company": "Legal name of'
        ' the company cannot be blank."\n   \t }\n    }\n}'
    )
    info = decode(RegistrationResponse, good.encode()).success_request.info
    assert info is not None
    assert (info.originator, info.status) == ("test_an", "Being moderated")
    add = decode(RegistrationResponse, bad.encode()).success_request
    assert add.info is None
    assert add.add_info == {"company": "Legal name of the company cannot be blank."}


def test_sender_status_response_examples() -> None:
    """One name, not found, and all names with every documented state."""
    one = '{\n    "success_request": {\n   \t "info": {\n   \t\t "test_an" : "Being moderated"\n   \t }\n    }\n}'
    missing = '{\n    "success_request": {\n   \t "add_info": {\n   \t\t "test_nssnn" : "Error. Data not found"\n   \t }\n    }\n}'
    every = (
        '{\n    "success_request":{\n   \t "info":{\n   \t\t "test_an" : "Being moderated",\n'
        '   \t\t "test_name" : "Approved",\n   \t\t "Test Alpha" : "Waiting for Additional.'
        ' Information",\n   \t\t "Shop Zakaz" : "Approved"\n   \t }\n    }\n}'
    )
    assert decode(SenderStatusResponse, one.encode()).success_request.info == {
        "test_an": "Being moderated"
    }
    assert decode(SenderStatusResponse, missing.encode()).success_request.add_info == {
        "test_nssnn": "Error. Data not found"
    }
    states = {
        k: SenderState.parse(v)
        for k, v in decode(SenderStatusResponse, every.encode()).success_request.info.items()
    }
    assert states == {
        "test_an": SenderState.MODERATION,
        "test_name": SenderState.APPROVED,
        "Test Alpha": SenderState.NEEDS_INFORMATION,
        "Shop Zakaz": SenderState.APPROVED,
    }


@pytest.mark.parametrize(
    ("english", "russian"),
    [
        ("Approved", "Разрешено"),
        ("Being moderated", "На модерации"),
        ("Rejected", "Отклонено"),
        ("Awaiting moderation by operator", "На модерации у оператора"),
        ("Waiting for Additional. Information", "Ожидаем Доп. Информацию"),
    ],
)
def test_sender_states_in_both_languages(english: str, russian: str) -> None:
    """The documents' state table, English and Russian, decode to one member."""
    assert SenderState.parse(english) is SenderState.parse(russian) is not SenderState.UNKNOWN


@pytest.mark.parametrize(
    ("raw", "status", "final"),
    [
        ("ENROUTE", DeliveryStatus.ENROUTE, False),
        ("DELIVRD", DeliveryStatus.DELIVRD, True),
        ("EXPIRED", DeliveryStatus.EXPIRED, True),
        ("UNDELIV", DeliveryStatus.UNDELIV, True),
        ("REJECTD", DeliveryStatus.REJECTD, True),
        ("Отправлено", DeliveryStatus.ENROUTE, False),
        ("Доставлено", DeliveryStatus.DELIVRD, True),
        ("Просрочено", DeliveryStatus.EXPIRED, True),
        ("Недоставляемое", DeliveryStatus.UNDELIV, True),
        ("Отклонено", DeliveryStatus.REJECTD, True),
        ("Ожидает отправки", DeliveryStatus.PENDING, False),
        ("something new", DeliveryStatus.UNKNOWN, False),
        (None, DeliveryStatus.UNKNOWN, False),
        (17, DeliveryStatus.UNKNOWN, False),
    ],
)
def test_delivery_statuses(raw: object, status: DeliveryStatus, final: bool) -> None:
    """English codes and the PHP SDK's Russian strings; unknown never crashes."""
    assert DeliveryStatus.parse(raw) is status
    assert status.is_final is final
