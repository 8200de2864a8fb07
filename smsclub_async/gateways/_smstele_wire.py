"""The SMStele (REX400) HTTP API on the wire: answer shapes, error codes, statuses (pure).

Source: ``shared/reference/smstele-rex400-http-api.ru.md``. Where it is ambiguous
or disagrees with itself, both readings are handled:

* Paths: the text and the success examples say ``/cgibin/sendsms``, the error
  examples ``/cgi-bin/sendsms``. The client uses ``/cgibin/`` (configurable with
  ``cgi_path``); the sandbox answers on both.
* Hosts: ``rexsmst.rax400.ru``, ``rexmsc.rex400.ru`` and ``rexsmsc.rex400.ru``
  all appear; the default is ``rexsmsc.rex400.ru`` (every success example).
* Error -24 is ``IP_NOT_ALLOWED`` in the table, but example 4 answers a missing
  ``phones`` with ``-24 "Missing attribute: 'phones'"``. The description decides:
  "Missing attribute" is a :class:`ValidationError`, anything else an
  :class:`AuthenticationError` (see :func:`error_for`).
* Numbers are JSON strings in every example (``"cnt": "1"``, ``"error": "-22"``);
  JSON numbers are accepted too.
* Example 2 sends to 4 numbers, "2 of them bad", yet every entry carries
  ``status`` and ``error`` ``"-99"``; only the top-level ``cnt`` (2) and the empty
  ``operator`` of the bad ones tell them apart. ``-99`` is read as "no error
  code"; see ``smstele.account_send`` for how such a recipient is reported.
* The status example's body ends ``]`` without the closing ``}``; the decoder
  closes brackets a body leaves open. Example 1's request id
  (``custom-messageid-test-21``) differs from its answer's
  (``custom-message-id-test-21``): a typo, the answer's id is the one used.
* The table's heading says its codes mean "the request was rejected", so the
  two server-side ones (-1 system error, -2 out of memory) are retried like a
  503 answered before processing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from .._decipher import Refusal
from .._decoding import decode as decode_json
from .._decoding import to_code
from .._errors import (
    APIError,
    AuthenticationError,
    InsufficientFundsError,
    ServerError,
    ValidationError,
    gateway_error,
)
from .._status import DeliveryStatus

__all__ = [
    "ERRORS",
    "NO_CODE",
    "RETRY_CODES",
    "STAT_STRINGS",
    "CodeMeaning",
    "ErrorAnswer",
    "RecipientAnswer",
    "SendAnswer",
    "StatusAnswer",
    "StatusEntry",
    "delivery_status",
    "error_for",
    "meaning_of",
    "parse_error",
    "refusal_for",
]

Number = str | int

NO_CODE = "-99"
"""The per-recipient ``status``/``error`` of every documented example: no code."""


class _Answer(msgspec.Struct, frozen=True, kw_only=True):
    pass


class ErrorAnswer(_Answer, frozen=True, kw_only=True):
    """``{"error": "<negative code>", "description": "..."}``."""

    error: Number
    description: str = ""


class RecipientAnswer(_Answer, frozen=True, kw_only=True):
    """One entry of ``messages`` in a send answer."""

    id: Number | None = None
    phone: Number = ""
    status: Number = ""
    error: Number = ""
    cnt: Number = ""
    operator: str = ""
    region: Number = ""
    mnc: Number = ""


class SendAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``cgibin/sendsms``: the request id, parts counted, and each recipient."""

    id: Number | None = None
    cnt: Number = ""
    # Read entry by entry (recipients()): an odd entry costs that entry, not the others.
    messages: Any = msgspec.field(default_factory=list)

    def recipients(self) -> list[RecipientAnswer]:
        """The entries that can be read, without the empty ``{}`` the document's
        template ends with (an unreadable one is left out: its phone is unmentioned)."""
        entries = self.messages if isinstance(self.messages, list) else []
        readable = []
        for raw in entries:
            try:
                entry = msgspec.convert(raw, RecipientAnswer, strict=False)
            except msgspec.ValidationError:
                continue
            if str(entry.phone).strip():
                readable.append(entry)
        return readable


class StatusEntry(_Answer, frozen=True, kw_only=True):
    """One element of ``results`` in a status answer."""

    id: Number | None = None
    phone: Number = ""
    sender: str = ""
    status: Number = ""
    err: Number = ""
    stat: str = ""
    type: Number = ""
    send_timestamp: str = ""
    last_timestamp: str = ""
    operator: str = ""
    region: Number = ""
    mnc: Number = ""


class StatusAnswer(_Answer, frozen=True, kw_only=True):
    """Answer of ``cgibin/status``."""

    results: list[StatusEntry] = msgspec.field(default_factory=list)

    def entries(self) -> list[StatusEntry]:
        """The results, without empty ``{}`` placeholders."""
        return [entry for entry in self.results if str(entry.phone).strip() or entry.id]


def _code(raw: object) -> int | None:
    return to_code(raw)


def parse_error(body: bytes) -> ErrorAnswer | None:
    """The error an answer carries, or ``None`` (a send or status answer, or not JSON).

    Example:
        >>> parse_error(b'{"error": "-22", "description": "No password"}')
        ErrorAnswer(error='-22', description='No password')
    """
    stripped = body.strip()
    if not stripped.startswith(b"{") or b'"error"' not in stripped:
        return None
    try:
        answer = decode_json(ErrorAnswer, stripped)
    except ValueError:
        return None
    code = _code(answer.error)
    # A send answer has "error" only inside "messages"; a top-level one is the refusal.
    return answer if code is not None and code < 0 else None


@dataclass(frozen=True, slots=True)
class CodeMeaning:
    """The documented name of a code, its meaning, the exception class, the advice."""

    name: str
    cls: type[APIError]
    meaning: str
    advice: str


_PARAMS = "check the request parameters"
_AUTH = "check the SMStele login and password"

ERRORS: dict[int, CodeMeaning] = {
    -1: CodeMeaning("REXSMSCE_SYSERR", ServerError, "system error", "try again later"),
    -2: CodeMeaning("REXSMSCE_NOMEMORY", ServerError, "out of memory", "try again later"),
    -6: CodeMeaning(
        "REXSMSCE_NYI", APIError, "not yet implemented", "the gateway does not support this"
    ),
    -21: CodeMeaning("REXSMSCE_MISSING_LOGIN", AuthenticationError, "no login", _AUTH),
    -22: CodeMeaning("REXSMSCE_MISSING_PASSWORD", AuthenticationError, "no password", _AUTH),
    -23: CodeMeaning(
        "REXSMSCE_INVALID_LOGIN_OR_PASS", AuthenticationError, "invalid login or password", _AUTH
    ),
    -24: CodeMeaning(
        "REXSMSCE_IP_NOT_ALLOWED",
        AuthenticationError,
        "requests from this IP address are not allowed",
        "ask SMStele to allow the address",
    ),
    -25: CodeMeaning(
        "REXSMSCE_MISSING_DESTINATION_ADDRESS", ValidationError, "no destination number", _PARAMS
    ),
    -26: CodeMeaning(
        "REXSMSCE_INVALID_DESTINATION_ADDRESS",
        ValidationError,
        "invalid destination number",
        "check the numbers (international format, no +)",
    ),
    -27: CodeMeaning("REXSMSCE_MISSING_TEXT", ValidationError, "no message text", _PARAMS),
    -28: CodeMeaning("REXSMSCE_INVALID_VALIDITY", ValidationError, "invalid validity", _PARAMS),
    -29: CodeMeaning(
        "REXSMSCE_INVALID_DEFERRED",
        ValidationError,
        "invalid deferred time",
        "give it as YYYY-MM-DD HH:MM:SS",
    ),
    -30: CodeMeaning("REXSMSCE_INVALID_PRIORITY", ValidationError, "invalid priority", _PARAMS),
    -31: CodeMeaning("REXSMSCE_INVALID_SENDER", ValidationError, "invalid sender name", _PARAMS),
    -32: CodeMeaning(
        "REXSMSCE_SENDER_NOT_ALLOWED",
        ValidationError,
        "the sender name is not allowed for this account",
        "use a sender name registered for the account",
    ),
    -33: CodeMeaning(
        "REXSMSCE_INVALID_CHARSET",
        ValidationError,
        "invalid charset",
        "use windows-1251, utf-8 or koi8-r",
    ),
    -34: CodeMeaning(
        "REXSMSCE_MISSING_MESSAGE_ID",
        ValidationError,
        "no message id",
        "give an id, a phone, or both",
    ),
    -35: CodeMeaning(
        "REXSMSCE_INVALID_MESSAGE_ID", ValidationError, "invalid message id", "use a shorter id"
    ),
    -41: CodeMeaning(
        "REXSMSCE_TOO_LONG_TEXT", ValidationError, "the text is too long", "shorten the text"
    ),
    -42: CodeMeaning(
        "REXSMSCE_TOO_MANY_SEGMENTS",
        ValidationError,
        "the text needs too many SMS parts",
        "shorten the text",
    ),
    -43: CodeMeaning(
        "REXSMSCE_NOT_ENOUGH_CREDITS",
        InsufficientFundsError,
        "not enough credits",
        "top up the account",
    ),
}

_MISSING_ATTRIBUTE = CodeMeaning(
    "REXSMSCE_IP_NOT_ALLOWED",
    ValidationError,
    "a required parameter is missing",
    _PARAMS,
)
_UNDOCUMENTED = CodeMeaning("", APIError, "undocumented error code", "see the SMStele docs")
_ATTRIBUTE = re.compile(r"(?:Invalid|Missing) attribute: '([A-Za-z_]+)")
#: Codes the gateway's trouble, not the request's: retried (the request was rejected).
RETRY_CODES = frozenset({-1, -2})


def meaning_of(code: int, description: str = "") -> CodeMeaning:
    """The documented meaning of an error code (the description settles -24)."""
    if code == -24 and "missing attribute" in description.casefold():
        return _MISSING_ATTRIBUTE
    return ERRORS.get(code, _UNDOCUMENTED)


def error_for(answer: ErrorAnswer, *, endpoint: str, scrub: Callable[[str], str]) -> APIError:
    """The exception for an error answer (pure).

    ``fields`` gets ``error_code``, and the attribute the description names
    ("Invalid attribute: 'phones='" -> ``phones``) with the description.
    """
    code = _code(answer.error)
    assert code is not None
    description = scrub(answer.description.strip())
    meaning = meaning_of(code, description)
    fields = {}
    if match := _ATTRIBUTE.search(description):
        fields[match[1]] = description
    label = f"{code} {meaning.name}".strip()
    return gateway_error(
        meaning.cls,
        gateway="SMStele",
        endpoint=endpoint,
        code=label,
        meaning=meaning.meaning,
        advice=meaning.advice,
        gateway_message=description or None,
        fields={**fields, "error_code": str(code)},
    )


def refusal_for(answer: ErrorAnswer, *, endpoint: str, scrub: Callable[[str], str]) -> Refusal:
    """How the client reacts to an error answer: -1 and -2 are retried, the rest final."""
    code = _code(answer.error)
    return Refusal(
        error_for(answer, endpoint=endpoint, scrub=scrub),
        retry=code in RETRY_CODES,
    )


#: ``stat`` string -> DeliveryStatus. Only DELIVRD appears in the document; the
#: others are the SMPP delivery-receipt states the field is named after.
STAT_STRINGS: dict[str, DeliveryStatus] = {
    "ENROUTE": DeliveryStatus.ENROUTE,
    "ACCEPTD": DeliveryStatus.ENROUTE,  # as the core reads "accepted"
    "SCHEDULED": DeliveryStatus.PENDING,
    "DELIVRD": DeliveryStatus.DELIVRD,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "DELETED": DeliveryStatus.UNDELIV,
    "UNDELIV": DeliveryStatus.UNDELIV,
    "REJECTD": DeliveryStatus.REJECTD,
    "UNKNOWN": DeliveryStatus.UNKNOWN,
}


def delivery_status(stat: str) -> DeliveryStatus:
    """Map a REX400 ``stat`` string onto :class:`DeliveryStatus` (unknown -> UNKNOWN).

    An empty ``stat`` (no receipt yet) is PENDING.

    Example:
        >>> delivery_status("DELIVRD")
        <DeliveryStatus.DELIVRD: 'DELIVRD'>
    """
    text = stat.strip().upper()
    if not text:
        return DeliveryStatus.PENDING
    return STAT_STRINGS.get(text) or DeliveryStatus.parse(stat)
