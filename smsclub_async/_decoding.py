"""Lenient JSON decoding and bounded numbers, for every gateway (pure, no I/O).

The gateways' documents (and, by their examples, the gateways) wobble: trailing
commas, an object written as a list of pairs (the SMS Club overview's balance),
brackets left open (the REX400 status example). :func:`decode` repairs those shapes
only when the strict decoder refuses a body, so a well-formed body costs nothing
extra. Decoders are built once per type.

Numbers from an answer are bounded before they are converted: ``int(Decimal("1e600000"))``
takes seconds and ``"1e999999999"`` exhausts memory, so a value with more than
:data:`MAX_DIGITS` digits or an exponent beyond it is unreadable (``None``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec

__all__ = [
    "MAX_DIGITS",
    "WireDecodeError",
    "close_brackets",
    "decode",
    "encode",
    "loads_lenient",
    "to_code",
    "to_count",
    "to_decimal",
    "to_money",
]

MAX_DIGITS = 40
"""The most digits (and the largest exponent) a number read from an answer may have."""


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
    """Decode a response body into ``kind``, tolerating the documents' malformations.

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
    for candidate in (repaired, close_brackets(repaired)):
        if candidate != body:
            try:
                return decoder.decode(candidate)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass
    raise WireDecodeError(str(first)) from first


_CLOSERS = {ord("{"): ord("}"), ord("["): ord("]")}


def close_brackets(body: bytes) -> bytes:
    """Append the closing brackets of objects and arrays left open (outside strings).

    Example:
        >>> close_brackets(b'{"results": [{"id": "1"}]')
        b'{"results": [{"id": "1"}]}'
    """
    stack: list[int] = []
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == ord("\\"):
                escaped = True
            elif byte == ord('"'):
                in_string = False
        elif byte == ord('"'):
            in_string = True
        elif byte in _CLOSERS:
            stack.append(_CLOSERS[byte])
        elif stack and byte == stack[-1]:
            stack.pop()
    if in_string or not stack:
        return body
    return body.rstrip() + bytes(reversed(stack))


def to_decimal(value: object) -> Decimal | None:
    """An amount as an exact Decimal; ``None`` for a missing, unreadable or absurd one.

    Example:
        >>> to_decimal("8111.17"), to_decimal("1e600000"), to_decimal(None)
        (Decimal('8111.17'), None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if len(text) > 2 * MAX_DIGITS:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_DIGITS or abs(exponent) > MAX_DIGITS:
        return None
    return amount


def to_count(value: object) -> int | None:
    """A whole, non-negative count (SMS parts, recipients); ``None`` if unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**MAX_DIGITS else None
    amount = to_decimal(value)
    if amount is None or amount < 0 or amount != amount.to_integral_value():
        return None
    return int(amount)


_CODE = re.compile(r"[+-]?[0-9]{1,9}")


def to_code(value: object) -> int | None:
    """A gateway's numeric code (``"-22"``, ``7``); ``None`` if it is anything else.

    Only ASCII digits, at most nine: ``"²"`` and ``"--5"`` are no codes.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 10**9 else None
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if _CODE.fullmatch(text) else None


def to_money(value: object) -> Decimal | None:
    """An account balance: exact, trailing zeros to the cent dropped ("8111.1700" is
    8111.17) but never a digit that carries value; ``None`` if unreadable."""
    amount = to_decimal(value)
    if amount is None:
        return None
    try:
        cents = amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than the decimal context holds
        return amount
    return cents if cents == amount else amount
