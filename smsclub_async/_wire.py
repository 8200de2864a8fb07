"""The SMS Club JSON API on the wire: msgspec Structs and decoders.

Wire names (``src_addr``, ``id_sms``, ``data_message``) appear only in this module.
Decoders are built once at import (cheap: no I/O, a few microseconds).

Where the documents disagree, both shapes are accepted:

* ``lifetime`` is an ``int`` in the v1 table but the string ``"60"`` in the v2
  example; message ids are JSON object keys (strings) but may come back as numbers in
  ``id_sms`` echoes. Requests always go out as ints and strings respectively.
* The balance example in ``smsclub-api-overview.en.txt`` shows ``info`` as
  ``["money": "8121.1800", "currency": "UAH"]`` (not valid JSON) while the JSON API
  document shows an object. :func:`loads_lenient` repairs that shape and the
  trailing commas that appear in several examples before decoding.
* Error bodies of non-200 answers come as ``{"name", "message", "code", "status"}``
  (the gateway is a Yii2 application); only ``message`` is relied on.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

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
    "WireDecodeError",
    "decode",
    "decode_error_message",
    "encode",
    "loads_lenient",
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
    info: dict[str, Scalar] = msgspec.field(default_factory=dict)
    add_info: dict[str, Any] = msgspec.field(default_factory=dict)


class SendResponse(_Response, frozen=True, kw_only=True):
    """Answer of both send endpoints: ``info`` id -> phone, ``add_info`` key -> error."""

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


class WireDecodeError(ValueError):
    """A body that is not the documented shape; ``path`` says where it went wrong."""


_encoder = msgspec.json.Encoder()
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}

T = TypeVar("T")


def encode(request: msgspec.Struct) -> bytes:
    """Serialise a request Struct to JSON bytes."""
    return _encoder.encode(request)


def _decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = msgspec.json.Decoder(kind)
        _decoders[kind] = decoder
    return decoder


# `"info": ["money": "1.0", "currency": "UAH"]` -> an object (overview document).
_LIST_OF_PAIRS = re.compile(rb'\[(\s*"[^"\\]*"\s*:[^\[\]{}]*)\]')
_TRAILING_COMMA = re.compile(rb",(\s*[}\]])")


def _repair(body: bytes) -> bytes:
    body = _LIST_OF_PAIRS.sub(rb"{\1}", body)
    return _TRAILING_COMMA.sub(rb"\1", body)


def loads_lenient(body: bytes) -> Any:
    """Parse JSON, repairing the two malformations seen in the gateway's documents."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return msgspec.json.decode(_repair(body))


def decode(kind: type[T], body: bytes) -> T:
    """Decode a response body into ``kind``, tolerating documented malformations.

    Raises:
        WireDecodeError: the body is not JSON or not the expected shape (the message
            keeps msgspec's JSON path, e.g. ``$.success_request.info``).
    """
    decoder = _decoder(kind)
    try:
        return decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        first = exc
    repaired = _repair(body)
    if repaired != body:
        try:
            return decoder.decode(repaired)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
    raise WireDecodeError(str(first)) from first


def decode_error_message(body: bytes) -> str | None:
    """The gateway's message in an error body, or ``None`` if it carries none."""
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
