"""smsclub-async: an asyncio client for the SMS Club gateway (and SMSC.kz, SMStele/REX400).

Rate-limited as the server sees it, retried without double sends, chunked, typed,
with a local sandbox of each gateway for tests and demos.

Gateway-specific types live in :mod:`smsclub_async.gateways`, every exception in
:mod:`smsclub_async.errors`, the send journal in :mod:`smsclub_async.journal`.

Example:
    >>> from smsclub_async import SmsClub
    >>> async def main() -> None:
    ...     async with SmsClub(token="...") as sms:
    ...         result = await sms.send(["380989361131"], "Hi", sender="VashZakaz")
"""

from __future__ import annotations

import importlib as _importlib
import warnings as _warnings
from typing import Any as _Any

from ._common import SendStream
from ._errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DecodeError,
    DuplicateError,
    InsufficientFundsError,
    LimiterError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SmsClubError,
    TransportError,
    ValidationError,
)
from ._limiter import LocalLimiter, Permit, RateLimiter
from ._results import Balance, SendResult, StatusReport
from ._retry import RetryPolicy
from ._segments import segments
from ._status import DeliveryStatus
from ._tracking import StatusChange
from ._version import __version__ as __version__
from .gateways import SmscClient, SmsGateway, SmsteleClient
from .gateways.smsclub import SmsClub

__all__ = [
    "APIError",
    "AuthenticationError",
    "Balance",
    "ClientClosedError",
    "ConfigurationError",
    "DecodeError",
    "DeliveryStatus",
    "DuplicateError",
    "InsufficientFundsError",
    "LimiterError",
    "LocalLimiter",
    "NotFoundError",
    "Permit",
    "RateLimitedError",
    "RateLimiter",
    "RequestTimeoutError",
    "RetryPolicy",
    "SendResult",
    "SendStream",
    "ServerError",
    "SmsClub",
    "SmsClubError",
    "SmsGateway",
    "SmscClient",
    "SmsteleClient",
    "StatusChange",
    "StatusReport",
    "TransportError",
    "ValidationError",
    "segments",
]

# Public names report their public home (as httpx does), so reprs, tracebacks and
# the API reference name the module a user imports from.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("smsclub_async.") and _name not in (
        "SmscClient",
        "SmsteleClient",
        "SmsGateway",
    ):
        _obj.__module__ = __name__

# Names that moved in 0.2: still importable from here, with a DeprecationWarning.
_MOVED = {
    "TimeoutError": ("smsclub_async.errors", "RequestTimeoutError"),
    "EventLoopError": ("smsclub_async.errors", "EventLoopError"),
    "UnsupportedError": ("smsclub_async.errors", "UnsupportedError"),
    "DEFAULT_BASE_URL": ("smsclub_async.gateways", "DEFAULT_BASE_URL"),
    "DEFAULT_TIMEOUT": ("smsclub_async.gateways", "DEFAULT_TIMEOUT"),
    "HlrResult": ("smsclub_async.gateways", "HlrResult"),
    "SmscCost": ("smsclub_async.gateways", "SmscCost"),
    "SmscSender": ("smsclub_async.gateways", "SmscSender"),
    "SmscSendResult": ("smsclub_async.gateways", "SmscSendResult"),
    "SmsteleRecipient": ("smsclub_async.gateways", "SmsteleRecipient"),
    "SmsteleSendResult": ("smsclub_async.gateways", "SmsteleSendResult"),
    "SenderRegistration": ("smsclub_async.gateways", "SenderRegistration"),
    "SenderState": ("smsclub_async.gateways", "SenderState"),
    "Stats": ("smsclub_async.gateways", "Stats"),
    "limiter_for_token": ("smsclub_async.gateways", "limiter_for_token"),
    "normalize_phone": ("smsclub_async.gateways", "normalize_phone"),
}


def __getattr__(name: str) -> _Any:
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'smsclub_async' has no attribute {name!r}")
    module, new_name = moved
    _warnings.warn(
        f"smsclub_async.{name} moved: import {new_name} from {module}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_importlib.import_module(module), new_name)
