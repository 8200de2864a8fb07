"""Requests and responses as the sandbox core sees them, and the gateway's bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import msgspec

from . import _texts as texts

__all__ = [
    "JSON_CONTENT_TYPE",
    "Disposition",
    "SandboxRequest",
    "SandboxResponse",
    "encode_json",
    "error_response",
    "json_response",
    "parse_params",
    "reason_phrase",
    "success_response",
]

#: What the gateway (Yii2) sends with every JSON body.
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

#: How an adapter delivers a response: answer it, close the connection without
#: answering, or send the headers and half the body and then close.
Disposition = Literal["respond", "drop", "truncate"]

# Yii2's names for the statuses it raises; 453 is the gateway's own.
_NAMES: Mapping[int, str] = {453: "Duplicate"}

_encoder = msgspec.json.Encoder()
_INT64_MAX = 2**63 - 1


def reason_phrase(status: int) -> str:
    """Return the reason phrase for ``status`` ("Duplicate" for the gateway's 453)."""
    if status in _NAMES:
        return _NAMES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """One HTTP request, as any adapter hands it to :meth:`Sandbox.handle`.

    Attributes:
        method: The HTTP method, upper case.
        path: The URL path without the query string, e.g. ``"/sms/send"``.
        headers: Header names in lower case -> value (the last one wins).
        body: The raw request body.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def build(
        cls, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> SandboxRequest:
        """Make a request from raw header pairs, lower-casing their names."""
        return cls(method.upper(), path, {name.lower(): value for name, value in headers}, body)


@dataclass(frozen=True, slots=True)
class SandboxResponse:
    """What the core decided to answer, and how the adapter must deliver it.

    Attributes:
        status: The HTTP status code.
        headers: Response headers, without Content-Length (adapters add it).
        body: The response body.
        disposition: ``"respond"``, ``"drop"`` (close without answering) or
            ``"truncate"`` (announce the full length, send half, close).
        delay: Seconds the adapter waits before delivering (latency faults).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    disposition: Disposition = "respond"
    delay: float = 0.0


def encode_json(value: Any) -> bytes:
    """Encode ``value`` as compact JSON."""
    return _encoder.encode(value)


def json_response(
    payload: Any, status: int = 200, extra_headers: tuple[tuple[str, str], ...] = ()
) -> SandboxResponse:
    """Make a JSON response."""
    headers = (("content-type", JSON_CONTENT_TYPE), *extra_headers)
    return SandboxResponse(status, headers, encode_json(payload))


def error_response(
    status: int, message: str, extra_headers: tuple[tuple[str, str], ...] = ()
) -> SandboxResponse:
    """Make an error response in the shape a Yii2 application gives it.

    Example:
        >>> error_response(453, "Duplication").body
        b'{"name":"Duplicate","message":"Duplication","code":0,"status":453}'
    """
    body = {"name": reason_phrase(status), "message": message, "code": 0, "status": status}
    return json_response(body, status, extra_headers)


def success_response(
    info: Any = None, add_info: Any = None, *, always_info: bool = False
) -> SandboxResponse:
    """Make the gateway's 200 answer, leaving out an empty ``info``/``add_info``.

    Args:
        info: What succeeded.
        add_info: What failed, and why.
        always_info: Keep ``info`` even when empty (for list and balance answers).
    """
    answer: dict[str, Any] = {}
    if info or (always_info and info is not None):
        answer["info"] = info
    if add_info:
        answer["add_info"] = add_info
    return json_response({"success_request": answer})


def parse_params(body: bytes) -> Mapping[str, Any] | SandboxResponse:
    """The JSON object in ``body``, or the 400 answer for a body that is not one.

    An empty body, or PHP's empty array ``[]``, is no parameters (``{}``).
    """
    if not body.strip():
        return {}
    try:
        params = msgspec.json.decode(body)
    except msgspec.DecodeError:
        # msgspec refuses integers past Python's digit limit; PHP's json_decode
        # reads them as floats (INF), which then fail validation as not integers.
        try:
            params = json.loads(body, parse_int=_php_int)
        except (ValueError, RecursionError):
            return error_response(400, texts.INVALID_JSON)
    if params == []:
        return {}
    if not isinstance(params, dict):
        return error_response(400, texts.NOT_AN_OBJECT)
    return params


def _php_int(digits: str) -> int | float:
    """A JSON integer as PHP reads it: a float when it does not fit in 64 bits."""
    if len(digits.lstrip("-")) > len(str(_INT64_MAX)):
        return float(digits)
    number = int(digits)
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else float(number)
