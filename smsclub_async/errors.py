"""Every exception smsclub-async raises, in one place (the tree is in ``_errors``).

The most common ones are also importable from :mod:`smsclub_async` itself.

Example:
    >>> from smsclub_async.errors import SmsClubError, UnsupportedError
"""

from ._errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DecodeError,
    DuplicateError,
    EventLoopError,
    InsufficientFundsError,
    LimiterError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SmsClubError,
    SourceError,
    TransportError,
    UnsupportedError,
    ValidationError,
)
from .journal import JournalConflictError, JournalError

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "DecodeError",
    "DuplicateError",
    "EventLoopError",
    "InsufficientFundsError",
    "JournalConflictError",
    "JournalError",
    "LimiterError",
    "NotFoundError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "SmsClubError",
    "SourceError",
    "TransportError",
    "UnsupportedError",
    "ValidationError",
]

for _name in ("EventLoopError", "SourceError", "UnsupportedError"):
    globals()[_name].__module__ = __name__
