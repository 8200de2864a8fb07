"""smsclub-async: an asyncio client for the SMS Club gateway.

Rate-limited as the server sees it, retried without double sends, chunked, typed,
with a local sandbox of the gateway for tests and demos.

Example:
    >>> from smsclub_async import SmsClub
    >>> async def main() -> None:
    ...     async with SmsClub(token="...") as sms:
    ...         result = await sms.send(["380989361131"], "Hi", sender="VashZakaz")
"""

from ._client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, SendStream, SmsClub
from ._errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DecodeError,
    DuplicateError,
    EventLoopError,
    LimiterError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SmsClubError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ._limiter import LocalLimiter, Permit, RateLimiter, limiter_for_token
from ._phones import normalize_phone
from ._pipeline import Stats
from ._results import Balance, SenderRegistration, SendResult, StatusReport
from ._retry import RetryPolicy
from ._status import DeliveryStatus, SenderState
from ._tracking import StatusChange
from ._version import __version__
from .gateways import (
    HlrResult,
    InsufficientFundsError,
    SmscClient,
    SmscCost,
    SmscSender,
    SmscSendResult,
    SmsGateway,
    SmsteleClient,
    SmsteleRecipient,
    SmsteleSendResult,
    UnsupportedError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "APIError",
    "AuthenticationError",
    "Balance",
    "ClientClosedError",
    "ConfigurationError",
    "DecodeError",
    "DeliveryStatus",
    "DuplicateError",
    "EventLoopError",
    "HlrResult",
    "InsufficientFundsError",
    "LimiterError",
    "LocalLimiter",
    "NotFoundError",
    "Permit",
    "RateLimitedError",
    "RateLimiter",
    "RetryPolicy",
    "SendResult",
    "SendStream",
    "SenderRegistration",
    "SenderState",
    "ServerError",
    "SmsClub",
    "SmsClubError",
    "SmsGateway",
    "SmscClient",
    "SmscCost",
    "SmscSendResult",
    "SmscSender",
    "SmsteleClient",
    "SmsteleRecipient",
    "SmsteleSendResult",
    "Stats",
    "StatusChange",
    "StatusReport",
    "TimeoutError",
    "TransportError",
    "UnsupportedError",
    "ValidationError",
    "__version__",
    "limiter_for_token",
    "normalize_phone",
]
