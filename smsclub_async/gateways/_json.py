"""Lenient JSON decoding for the gateways' answers (pure).

On top of the core decoder's repairs (trailing commas, the SMS Club overview's
list of pairs) this closes brackets a body leaves open: the REX400 document's
status example ends ``]`` without the object's closing ``}``. A well-formed body
never takes the repair path (it costs nothing then).
"""

from __future__ import annotations

from typing import TypeVar

from .._wire import WireDecodeError, decode

__all__ = ["close_brackets", "decode_json"]

T = TypeVar("T")

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


def decode_json(kind: type[T], body: bytes) -> T:
    """Decode ``body`` into ``kind``, repairing the malformations seen in the documents.

    Raises:
        WireDecodeError: not JSON, or not the expected shape (with msgspec's path).
    """
    try:
        return decode(kind, body)
    except WireDecodeError as exc:
        first = exc
    closed = close_brackets(body)
    if closed != body:
        try:
            return decode(kind, closed)
        except WireDecodeError:
            pass
    raise first
