"""The SMSC.kz HTTP API on the wire: answer shapes, error codes, statuses (pure, no I/O).

Wire names (``psw``, ``mes``, ``cnt``, ``error_code``) appear only in this module
and the client's parameter builders. Sources: the error-code and sender-list
pages in ``shared/reference/smsc-kz-http-api.ru.txt``, and SMSC's send, status,
balance and HLR pages for the shapes that file does not cover (the same API
serves smsc.ru, smsc.ua and smsc.kz).

Where the documents are ambiguous or disagree, both readings are accepted:

* The client always asks for ``fmt=3`` (JSON), but an error can come in any of
  the four documented formats (``ERROR = N (text)``, ``0,-N``, XML, JSON), e.g.
  from a proxy that drops the parameter; :func:`parse_error` reads them all.
* Numbers come as JSON numbers in some examples and as strings in others
  (``"id": <id>`` vs ``"id": "<id>"`` in the ``operators=1`` listing); every
  numeric field accepts both.
* Error code meanings depend on the endpoint (3 is "sender not found" on
  ``senders.php``, "not enough money" on ``send.php``, "message not found" on
  ``status.php``), so the tables are per endpoint.
* The error-code page says error 9 is both "too many identical requests in a
  minute" and "fifteen or more concurrent requests": the two need different
  waits, so 9 is retried with the policy's short backoff (concurrency clears
  fast) and, on a send, a lasting 9 is read as the duplicate rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from .._decipher import Refusal
from .._decoding import decode as decode_json
from .._decoding import to_code, to_decimal
from .._errors import (
    APIError,
    AuthenticationError,
    InsufficientFundsError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
    gateway_error,
)
from .._status import DeliveryStatus, SenderState
from ._results import SmscSender

__all__ = [
    "BALANCE",
    "BLOCK_WAIT",
    "ERRORS",
    "FOUND_NOT",
    "SEND",
    "SENDERS",
    "STATUS",
    "STATUSES",
    "AddSenderAnswer",
    "BalanceAnswer",
    "CodeMeaning",
    "CostAnswer",
    "ErrorInfo",
    "Kind",
    "PhoneAnswer",
    "ResultAnswer",
    "SendAnswer",
    "StatusAnswer",
    "decode_status_answers",
    "delivery_status",
    "error_for",
    "parse_error",
    "parse_senders",
    "phone_answers",
    "refusal_for",
    "to_decimal",
]

SEND = "/sys/send.php"
STATUS = "/sys/status.php"
BALANCE = "/sys/balance.php"
SENDERS = "/sys/senders.php"

Kind = Literal["send", "cost", "status", "balance", "senders"]
"""Which table of error codes applies: ``cost`` is ``send.php`` asked for a price."""

BLOCK_WAIT = 60.0
"""Seconds to wait after error 4 before coming back (doubled each time it repeats).

SMSC blocks an address for 1 minute after repeated identical requests, 10
minutes after 100 erroneous sends in a row, 30 minutes after 5 failed logins.
"""

FOUND_NOT = -3
"""The status code of an (id, phone) pair the gateway does not know."""

Number = int | float | str


# ----------------------------------------------------------------- answers


class _Answer(msgspec.Struct, frozen=True, kw_only=True):
    pass


class PhoneAnswer(_Answer, frozen=True, kw_only=True):
    """One number of a send answer with ``op=1``."""

    phone: Number = ""
    mccmnc: Number | None = None
    cost: Number | None = None
    status: Number | None = None
    error: Number | None = None


class SendAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``send.php``: the request's id and SMS count (plus cost, balance).

    ``phones`` (with ``op=1``) is kept loose: :func:`phone_answers` reads the
    entries it understands, so an unexpected shape of this optional extra never
    turns an accepted send into an unreadable answer.
    """

    id: Number | None = None
    cnt: Number = 0
    cost: Number | None = None
    balance: Number | None = None
    phones: Any = None


def phone_answers(answer: SendAnswer) -> list[PhoneAnswer] | None:
    """The per-number entries of an ``op=1`` answer; ``None`` when absent or unreadable."""
    if not isinstance(answer.phones, list):
        return None
    try:
        return msgspec.convert(answer.phones, list[PhoneAnswer], strict=False)
    except msgspec.ValidationError:
        return None


class CostAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``send.php`` with ``cost=1``: the price without sending."""

    cost: Number
    cnt: Number = 0


class StatusAnswer(_Answer, frozen=True, kw_only=True):
    """One status of ``status.php`` (an object, or an element of a list)."""

    status: Number
    id: Number | None = None
    phone: Number | None = None
    err: Number | None = None
    last_timestamp: Number | None = None
    last_date: str | None = None
    # HLR lookups (``all=1``).
    imsi: Number | None = None
    msc: Number | None = None
    mcc: Number | None = None
    mnc: Number | None = None
    cn: str | None = None
    net: str | None = None
    rcn: str | None = None
    rnet: str | None = None


class BalanceAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``balance.php`` (``currency`` with ``cur=1``)."""

    balance: Number
    currency: str | None = None


class AddSenderAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``senders.php`` with ``add=1``: the new name's id."""

    sender: Number


class ResultAnswer(_Answer, frozen=True, kw_only=True):
    """``{"result": "OK"}``: a sender name changed, deleted or confirmed."""

    result: str


def decode_status_answers(body: bytes) -> list[StatusAnswer]:
    """One status object (a single pair) or a list of them (several pairs)."""
    decoded = decode_json(list[StatusAnswer] | StatusAnswer, body)  # type: ignore[arg-type]
    return decoded if isinstance(decoded, list) else [decoded]


# ----------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error answer, whatever its format.

    Attributes:
        code: the error number ``N``.
        description: the gateway's text ("описание"), possibly empty.
        message_id: the id issued with errors 3, 6, 7 and 8 of a send, if any.
    """

    code: int
    description: str = ""
    message_id: str | None = None


_FMT0 = re.compile(r"\s*ERROR\s*=\s*(\d+)\s*(?:\((.*)\))?\s*(?:,\s*ID\s*-\s*(\S+))?\s*", re.S)
_FMT1 = re.compile(r"\s*([^,\s]*)\s*,\s*-(\d+)\s*")
_FMT2 = re.compile(rb"<result>(.*?)</result>", re.S)
_XML_TAG = r"<{0}>\s*(.*?)\s*</{0}>"


def parse_error(body: bytes) -> ErrorInfo | None:
    """The error an answer carries, in any documented format; ``None`` if it is no error.

    Example:
        >>> parse_error(b'{"error": "duplicate request", "error_code": 9}')
        ErrorInfo(code=9, description='duplicate request', message_id=None)
        >>> parse_error(b"0,-2")
        ErrorInfo(code=2, description='', message_id=None)
    """
    stripped = body.strip()
    if stripped.startswith(b"{"):
        try:
            parsed = msgspec.json.decode(stripped)
        except msgspec.DecodeError:
            return None
        return _json_error(parsed)
    if stripped.startswith(b"<"):
        return _xml_error(stripped)
    text = stripped.decode("utf-8", "replace")
    if match := _FMT0.fullmatch(text):
        return ErrorInfo(int(match[1]), (match[2] or "").strip(), _real_id(match[3]))
    if match := _FMT1.fullmatch(text):
        return ErrorInfo(int(match[2]), "", _real_id(match[1]))
    return None


def _real_id(raw: object) -> str | None:
    text = str(raw).strip() if raw is not None else ""
    return text if text and text != "0" else None


def _json_error(parsed: Any) -> ErrorInfo | None:
    if not isinstance(parsed, dict) or ("error_code" not in parsed and "error" not in parsed):
        return None
    code = to_code(parsed.get("error_code")) or 0  # unreadable: "undocumented error"
    description = parsed.get("error")
    return ErrorInfo(
        abs(code),
        description if isinstance(description, str) else "",
        _real_id(parsed.get("id")),
    )


def _xml_error(body: bytes) -> ErrorInfo | None:
    match = _FMT2.search(body)
    if match is None:
        return None
    inner = match[1].decode("utf-8", "replace")
    code = re.search(_XML_TAG.format("error_code"), inner, re.S)
    if code is None or to_code(code[1]) is None:
        return None
    description = re.search(_XML_TAG.format("error"), inner, re.S)
    message_id = re.search(_XML_TAG.format("id"), inner, re.S)
    return ErrorInfo(
        abs(to_code(code[1]) or 0),
        description[1] if description else "",
        _real_id(message_id[1]) if message_id else None,
    )


@dataclass(frozen=True, slots=True)
class CodeMeaning:
    """What an error code means on one endpoint, and what to do about it."""

    cls: type[APIError]
    meaning: str
    advice: str


_CHECK = "check the request parameters"
_COMMON: dict[int, CodeMeaning] = {
    1: CodeMeaning(ValidationError, "error in the parameters", _CHECK),
    2: CodeMeaning(
        AuthenticationError,
        "invalid login or password, or a request from an IP address not on the"
        " account's allowed list",
        "check the login and password (or API key) and the allowed IP addresses",
    ),
    4: CodeMeaning(
        RateLimitedError,
        "the IP address is temporarily blocked",
        "wait: SMSC blocks an address for 1 minute after repeated identical requests,"
        " 10 minutes after 100 erroneous sends, 30 minutes after 5 failed logins",
    ),
    9: CodeMeaning(
        RateLimitedError,
        "too many identical requests within a minute, or 15 or more concurrent"
        " requests under one login",
        "wait a minute before repeating an identical request and keep fewer than 15"
        " requests in flight",
    ),
}

ERRORS: dict[Kind, dict[int, CodeMeaning]] = {
    "send": {
        **_COMMON,
        3: CodeMeaning(
            InsufficientFundsError, "not enough money on the account", "top up the account"
        ),
        5: CodeMeaning(ValidationError, "invalid date format", "check the deferred time"),
        6: CodeMeaning(
            ValidationError,
            "the message is forbidden (by its text or sender name)",
            "change the text, or use a registered sender name",
        ),
        7: CodeMeaning(ValidationError, "invalid phone number format", "check the numbers"),
        8: CodeMeaning(
            ValidationError,
            "the message cannot be delivered to this number",
            "the number is unreachable for SMSC; do not resend as is",
        ),
        9: CodeMeaning(
            RateLimitedError,
            "more than one identical send request, or more than five identical cost"
            " requests, within a minute; or 15 or more concurrent requests",
            "the same message went to these numbers less than a minute ago; wait a minute"
            " before repeating it, and keep fewer than 15 requests in flight",
        ),
    },
    "status": {
        **_COMMON,
        3: CodeMeaning(NotFoundError, "message not found", "check the id and phone pairs"),
        5: CodeMeaning(APIError, "error deleting the message", "try again later"),
        9: CodeMeaning(
            RateLimitedError,
            "more than five status requests for the same message within a minute",
            "poll each message at most every 15 seconds",
        ),
    },
    "balance": dict(_COMMON),
    # shared/reference/smsc-kz-http-api.ru.txt, "Ответ сервера и коды ошибок".
    "senders": {
        **_COMMON,
        3: CodeMeaning(NotFoundError, "sender name not found", "check the sender name"),
        5: CodeMeaning(APIError, "error saving or deleting the sender name", "try again later"),
        7: CodeMeaning(ValidationError, "invalid phone number format", "check the number"),
        8: CodeMeaning(
            ValidationError,
            "the confirmation code cannot be delivered to this number",
            "use another number",
        ),
        9: CodeMeaning(
            RateLimitedError,
            "more than three identical sender-list requests, or five new-sender requests,"
            " within a minute; or 15 or more concurrent requests",
            "wait a minute before asking again",
        ),
        10: CodeMeaning(
            RateLimitedError,
            "a code was already sent to this number; a new one can be sent in 8 hours",
            "wait 8 hours, or confirm with the code already sent",
        ),
        11: CodeMeaning(ValidationError, "invalid confirmation code", "check the code"),
    },
}

ERRORS["cost"] = ERRORS["send"]

_UNDOCUMENTED = CodeMeaning(APIError, "undocumented error code", "see the SMSC documentation")
_CODE_TEN_WAIT = 8 * 3600.0


def error_for(
    kind: Kind,
    info: ErrorInfo,
    *,
    endpoint: str,
    scrub: Callable[[str], str],
    retry_after: float | None = None,
) -> APIError:
    """The exception for an error answer of endpoint ``kind`` (pure)."""
    meaning = ERRORS[kind].get(info.code, _UNDOCUMENTED)
    fields = {"message_id": info.message_id} if info.message_id else None
    if kind == "senders" and info.code == 10:
        retry_after = _CODE_TEN_WAIT
    return gateway_error(
        meaning.cls,
        gateway="SMSC",
        endpoint=endpoint,
        code=info.code,
        meaning=meaning.meaning,
        advice=meaning.advice,
        gateway_message=scrub(info.description) if info.description else None,
        retry_after=retry_after,
        fields=fields,
    )


def refusal_for(
    kind: Kind,
    info: ErrorInfo,
    number: int,
    *,
    endpoint: str,
    scrub: Callable[[str], str],
) -> Refusal:
    """How the client reacts to an error answer: which exception, retry or not, how long.

    Error 4, and error 9 of anything but a send, wait :data:`BLOCK_WAIT` seconds,
    doubled for each repeat: identical reads are counted per minute, and repeating
    them sooner only extends a block. Error 9 of a send waits the retry policy's
    short backoff: it clears a burst of concurrent requests, while a caller's
    repeat of a message sent less than a minute ago stays refused (waiting out the
    minute would send it twice). Every other code is final.
    """
    long_wait = info.code == 4 or (info.code == 9 and kind != "send")
    retry_after = BLOCK_WAIT * 2 ** (number - 1) if long_wait else None
    error = error_for(kind, info, endpoint=endpoint, scrub=scrub, retry_after=retry_after)
    return Refusal(
        error,
        retry=info.code in (4, 9),
        retry_after=retry_after,
        duplicate=kind == "send" and info.code == 9,
        message_id=info.message_id,
    )


# ----------------------------------------------------------------- statuses

#: status code -> (DeliveryStatus, the documented name).
STATUSES: dict[int, tuple[DeliveryStatus, str]] = {
    -3: (DeliveryStatus.UNKNOWN, "message not found"),
    -2: (DeliveryStatus.PENDING, "stopped (its mailing is paused)"),
    -1: (DeliveryStatus.PENDING, "waiting to be sent"),
    0: (DeliveryStatus.ENROUTE, "passed to the operator"),
    1: (DeliveryStatus.DELIVRD, "delivered"),
    2: (DeliveryStatus.DELIVRD, "read"),
    3: (DeliveryStatus.EXPIRED, "expired"),
    4: (DeliveryStatus.DELIVRD, "delivered, and its link was clicked"),
    20: (DeliveryStatus.UNDELIV, "cannot be delivered"),
    22: (DeliveryStatus.UNDELIV, "invalid number"),
    23: (DeliveryStatus.REJECTD, "prohibited"),
    24: (DeliveryStatus.REJECTD, "not enough money"),
    25: (DeliveryStatus.UNDELIV, "unavailable number"),
}


def delivery_status(raw: object) -> DeliveryStatus:
    """Map an SMSC status code (number or numeric string) onto :class:`DeliveryStatus`.

    Codes from 20 up that are not documented are failures the gateway added later:
    they map to UNDELIV (final) rather than UNKNOWN, so polling ends.

    Example:
        >>> delivery_status("1"), delivery_status(0), delivery_status("x")
        (<DeliveryStatus.DELIVRD: 'DELIVRD'>, <DeliveryStatus.ENROUTE: 'ENROUTE'>, \
<DeliveryStatus.UNKNOWN: 'UNKNOWN'>)
    """
    code = to_code(raw if isinstance(raw, int | str) else str(raw))
    if code is None:
        return DeliveryStatus.UNKNOWN
    known = STATUSES.get(code)
    if known is not None:
        return known[0]
    return DeliveryStatus.UNDELIV if code >= 20 else DeliveryStatus.UNKNOWN


# ----------------------------------------------------------------- sender names

_SENDER_STATES = {0: SenderState.MODERATION, 1: SenderState.APPROVED, 2: SenderState.REJECTED}
_FMT0_PAIR = re.compile(r"\s*([A-Za-z_0-9]+)\s*=\s*(.*?)\s*")
_FMT2_SENDER = re.compile(r"<sender\b([^>]*)>(.*?)</sender>", re.S)
_XML_ATTR = re.compile(r'([A-Za-z_0-9]+)="([^"]*)"')
_LIST_FIELDS = frozenset({"sender", "name", "id", "status"})


def parse_senders(body: bytes, fmt: int = 3) -> list[SmscSender]:
    """Decode a sender-name listing in any of the four documented formats.

    Raises:
        WireDecodeError: the body is not the documented shape of ``fmt``.
    """
    if fmt == 3:
        rows: list[dict[str, Any]] = decode_json(list[dict[str, Any]], body)
    elif fmt == 2:
        text = body.decode("utf-8", "replace")
        rows = [
            {**dict(_XML_ATTR.findall(attrs)), "sender": name.strip()}
            for attrs, name in _FMT2_SENDER.findall(text)
        ]
    else:
        rows = [_text_row(line, fmt) for line in body.decode("utf-8", "replace").splitlines()]
        rows = [row for row in rows if row]
    return [_sender(row) for row in rows]


def _text_row(line: str, fmt: int) -> dict[str, Any]:
    if not line.strip():
        return {}
    if fmt == 0:
        pairs = (_FMT0_PAIR.fullmatch(part) for part in line.split(","))
        return {m[1]: m[2] for m in pairs if m is not None}
    values = [value.strip() for value in line.split(",")]
    if len(values) == 3:
        return {"sender": values[0], "status": values[1], "id": values[2]}
    return {"sender": values[0], "id": values[-1]}


def _sender(row: dict[str, Any]) -> SmscSender:
    name = str(row.get("sender", row.get("name", ""))).strip()
    raw_status = row.get("status")
    status = None if raw_status is None else to_code(str(raw_status))
    operators = {str(k): str(v) for k, v in row.items() if k not in _LIST_FIELDS}
    if status is not None:
        state = _SENDER_STATES.get(status, SenderState.UNKNOWN)
    elif "status" not in row and not operators:
        # all=0 lists only names that are "registered and allowed for use".
        state = SenderState.APPROVED
    else:
        state = SenderState.UNKNOWN
    return SmscSender(
        name=name,
        id=str(row.get("id", "")).strip(),
        status=status,
        state=state,
        operators=operators,
    )
