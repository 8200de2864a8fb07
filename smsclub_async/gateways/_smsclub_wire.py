"""The SMS Club JSON API on the wire: msgspec Structs and decoders.

Wire names (``src_addr``, ``id_sms``, ``data_message``) appear only in this module.
Decoders are built once at import (cheap: no I/O, a few microseconds).

Where the documents disagree, both shapes are accepted:

* ``lifetime`` is an ``int`` in the v1 table but the string ``"60"`` in the v2
  example; message ids are JSON object keys (strings) but may come back as numbers in
  ``id_sms`` echoes. Requests always go out as ints and strings respectively.
* The balance example in ``smsclub-api-overview.en.txt`` shows ``info`` as
  ``["money": "8121.1800", "currency": "UAH"]`` (not valid JSON) while the JSON API
  document shows an object. :func:`~smsclub_async._decoding.decode` repairs that shape and the
  trailing commas that appear in several examples before decoding.
* Error bodies of non-200 answers come as ``{"name", "message", "code", "status"}``
  (the gateway is a Yii2 application); only ``message`` is relied on.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .._decoding import WireDecodeError, decode

__all__ = [
    "BalanceInfo",
    "BalanceResponse",
    "ErrorBody",
    "PersonalizedEntry",
    "PersonalizedSendRequest",
    "RegisterSenderRequest",
    "RegistrationInfo",
    "RegistrationResponse",
    "SendRequest",
    "SendResponse",
    "SenderStatusRequest",
    "SenderStatusResponse",
    "SendersResponse",
    "StatusRequest",
    "StatusResponse",
    "decode_error_fields",
    "decode_error_message",
]

Scalar = str | int | float


class _Request(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    pass


class SendRequest(_Request, frozen=True, kw_only=True):
    """Body of ``POST /sms/send``."""

    phone: list[str]
    src_addr: str
    message: str
    lifetime: int | None = None
    integration_id: int | None = None


class PersonalizedEntry(_Request, frozen=True, kw_only=True):
    """One ``data_message`` entry of ``POST /v2/sms/send``."""

    phone: str
    message: str


class PersonalizedSendRequest(_Request, frozen=True, kw_only=True):
    """Body of ``POST /v2/sms/send``."""

    src_addr: str
    data_message: list[PersonalizedEntry]
    lifetime: int | None = None


class StatusRequest(_Request, frozen=True, kw_only=True):
    """Body of ``POST /sms/status``."""

    id_sms: list[str]


class RegisterSenderRequest(_Request, frozen=True, kw_only=True):
    """Body of ``POST /originators/registration-originators``."""

    sender_id: str
    company_type: str
    company: str
    # Always sent, the unused one empty, as in the documented example.
    okpo: str
    inn: str
    subject: str
    description: str
    site: str


class SenderStatusRequest(_Request, frozen=True, kw_only=True):
    """Body of ``POST /originators/stat-originators`` for one name."""

    sender_id: str


class _Response(msgspec.Struct, frozen=True, kw_only=True):
    pass


class _SendBody(_Response, frozen=True, kw_only=True):
    # Read entry by entry by the accounting: a PHP empty array ([]), a null, or one
    # odd value must not make the ids beside it unreadable.
    info: Any = msgspec.field(default_factory=dict)
    add_info: Any = msgspec.field(default_factory=dict)


class SendResponse(_Response, frozen=True, kw_only=True):
    """Answer of both send endpoints: ``info`` id -> phone, ``add_info`` key -> error.

    Both are kept loose (``Any``): the accounting reads every entry it can.
    """

    success_request: _SendBody = msgspec.field(default_factory=_SendBody)


class _StatusBody(_Response, frozen=True, kw_only=True):
    info: dict[str, Any] = msgspec.field(default_factory=dict)
    add_info: dict[str, Any] = msgspec.field(default_factory=dict)


class StatusResponse(_Response, frozen=True, kw_only=True):
    """Answer of ``/sms/status``: ``info`` id -> status string."""

    success_request: _StatusBody = msgspec.field(default_factory=_StatusBody)


class BalanceInfo(_Response, frozen=True, kw_only=True):
    """``info`` of ``/sms/balance``."""

    money: Scalar
    currency: str


class _BalanceBody(_Response, frozen=True, kw_only=True):
    info: BalanceInfo


class BalanceResponse(_Response, frozen=True, kw_only=True):
    """Answer of ``/sms/balance``."""

    success_request: _BalanceBody


class _SendersBody(_Response, frozen=True, kw_only=True):
    info: list[str] | dict[str, str] = msgspec.field(default_factory=list)


class SendersResponse(_Response, frozen=True, kw_only=True):
    """Answer of ``/sms/originator``: a list of active sender names."""

    success_request: _SendersBody = msgspec.field(default_factory=_SendersBody)


class RegistrationInfo(_Response, frozen=True, kw_only=True):
    """``info`` of a successful sender registration."""

    originator: str
    status: str


class _RegistrationBody(_Response, frozen=True, kw_only=True):
    info: RegistrationInfo | None = None
    add_info: dict[str, Any] = msgspec.field(default_factory=dict)


class RegistrationResponse(_Response, frozen=True, kw_only=True):
    """Answer of ``/originators/registration-originators``."""

    success_request: _RegistrationBody = msgspec.field(default_factory=_RegistrationBody)


class _SenderStatusBody(_Response, frozen=True, kw_only=True):
    info: dict[str, str] = msgspec.field(default_factory=dict)
    add_info: dict[str, Any] = msgspec.field(default_factory=dict)


class SenderStatusResponse(_Response, frozen=True, kw_only=True):
    """Answer of ``/originators/stat-originators``: name -> state."""

    success_request: _SenderStatusBody = msgspec.field(default_factory=_SenderStatusBody)


class ErrorBody(_Response, frozen=True, kw_only=True):
    """The body of an error status, as the gateway (Yii2) writes it."""

    name: str | None = None
    message: Any = None
    code: Any = None
    status: Any = None


class _ErrorAnswer(_Response, frozen=True, kw_only=True):
    success_request: Any = None


def decode_error_fields(body: bytes) -> dict[str, str]:
    """Field -> message of an error answer shaped like a send answer.

    A 400 may come as ``{"success_request": {"add_info": {"src_addr": "..."}}}``
    (the gateway's validation of a send) rather than Yii2's error body.
    """
    try:
        answer = decode(_ErrorAnswer, body).success_request
    except WireDecodeError:
        return {}
    add_info = answer.get("add_info") if isinstance(answer, dict) else None
    if not isinstance(add_info, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in add_info.items()}


def decode_error_message(body: bytes) -> str | None:
    """The gateway's message in an error body, or ``None`` if it carries none."""
    fields = decode_error_fields(body)
    if fields:
        return "; ".join(f"{k}: {v}" for k, v in fields.items())
    try:
        parsed = decode(ErrorBody, body)
    except WireDecodeError:
        return None
    message = parsed.message
    if isinstance(message, str) and message.strip():
        return message.strip()
    if isinstance(message, dict | list) and message:
        return msgspec.json.encode(message).decode()
    return parsed.name
