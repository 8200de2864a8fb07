"""The gateway's endpoints: path -> handler and the methods it accepts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._context import Context
from ._originators import register, sender_status
from ._queries import balance, originators, status
from ._send import send, send_personalised
from ._wire import SandboxResponse

__all__ = ["ROUTES", "Route"]

_POST = frozenset({"POST"})
# The docs call these without a body; a GET is what such a call often becomes.
_GET_OR_POST = frozenset({"GET", "POST"})


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint."""

    handler: Callable[[Context, Mapping[str, Any]], SandboxResponse]
    methods: frozenset[str]


ROUTES: Mapping[str, Route] = {
    "/sms/send": Route(send, _POST),
    "/v2/sms/send": Route(send_personalised, _POST),
    "/sms/status": Route(status, _POST),
    "/sms/balance": Route(balance, _GET_OR_POST),
    "/sms/originator": Route(originators, _GET_OR_POST),
    "/originators/registration-originators": Route(register, _POST),
    "/originators/stat-originators": Route(sender_status, _GET_OR_POST),
}
