"""The exception tree of smsclub-async.

Every exception the library raises on purpose derives from :class:`SmsClubError`::

    SmsClubError
    ├── ClientClosedError          the client was used after aclose()
    ├── EventLoopError             the client was used from an event loop it is not bound to
    ├── ConfigurationError         no token, a bad base URL, a bad option
    ├── TransportError             the request could not be completed (wraps httpx errors)
    │   └── TimeoutError           connect, read, write or pool timeout
    ├── DecodeError                a response body the library cannot read
    ├── LimiterError               the rate limiter could not grant a slot (e.g. Redis down)
    └── APIError                   the gateway answered with an error status
        ├── ValidationError        400 (or field errors in add_info): input failed validation
        ├── NotFoundError          the gateway has no such object (a sender name)
        ├── AuthenticationError    401/403: bad or missing token
        ├── RateLimitedError       429: too many requests (``retry_after`` in seconds, if given)
        ├── DuplicateError         453: the same message to the same numbers within 2 minutes
        └── ServerError            5xx: the gateway is unavailable

Errors raised by a bulk operation carry ``partial``: the result of everything that
was achieved before the error, with every message id the gateway issued.

No message text in this module ever includes the API token: the token lives only in
the ``Authorization`` header and is never formatted into a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "DecodeError",
    "DuplicateError",
    "EventLoopError",
    "LimiterError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "SmsClubError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
    "error_for_status",
]


class SmsClubError(Exception):
    """Base class of every error raised by smsclub-async.

    Attributes:
        partial: for bulk operations, the result of what was achieved before the
            error (every issued message id included); ``None`` otherwise.
    """

    partial: Any

    def __init__(self, message: str, *, partial: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.partial = partial

    def __str__(self) -> str:
        return self.message


class ClientClosedError(SmsClubError):
    """The client was used after ``aclose()`` (or after its ``async with`` block)."""


class EventLoopError(SmsClubError, RuntimeError):
    """The client was used from an event loop other than the one it first ran on.

    An ``httpx.AsyncClient`` keeps connections bound to the loop that opened them;
    create one client per event loop (e.g. inside each Celery task), not one global.
    """


class ConfigurationError(SmsClubError, ValueError):
    """The client was configured wrongly (missing token, bad base URL, bad option)."""


class TransportError(SmsClubError):
    """The request did not complete: connection refused or dropped, protocol error.

    Attributes:
        endpoint: the gateway path, e.g. ``/sms/send``.
    """

    def __init__(self, message: str, *, endpoint: str = "", partial: Any = None) -> None:
        super().__init__(message, partial=partial)
        self.endpoint = endpoint


class TimeoutError(TransportError):
    """A connect, read, write or pool timeout."""


class DecodeError(SmsClubError):
    """The gateway's response could not be decoded into the documented shape.

    Attributes:
        endpoint: the gateway path.
        body: the first bytes of the body that could not be read.
    """

    def __init__(
        self, message: str, *, endpoint: str = "", body: bytes = b"", partial: Any = None
    ) -> None:
        super().__init__(message, partial=partial)
        self.endpoint = endpoint
        self.body = body[:500]


class LimiterError(SmsClubError):
    """The rate limiter could not grant a slot, so no request was sent."""


class APIError(SmsClubError):
    """The gateway answered with an error HTTP status.

    Attributes:
        status_code: the HTTP status.
        gateway_message: the gateway's own message, when the body carried one.
        endpoint: the gateway path, e.g. ``/sms/send``.
        fields: field -> message, when the gateway named the fields at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        endpoint: str,
        gateway_message: str | None = None,
        fields: dict[str, str] | None = None,
        partial: Any = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.status_code = status_code
        self.endpoint = endpoint
        self.gateway_message = gateway_message
        self.fields = dict(fields or {})

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, endpoint={self.endpoint!r},"
            f" gateway_message={self.gateway_message!r})"
        )


class ValidationError(APIError):
    """400, or 200 with field errors in ``add_info``: the gateway rejected the input."""


class NotFoundError(APIError, LookupError):
    """The gateway has no such object (e.g. a sender name: "Error. Data not found")."""


class AuthenticationError(APIError):
    """401/403: the token is missing, wrong or revoked. Get one in the JSON Profile section."""


class RateLimitedError(APIError):
    """429: more requests than the gateway allows (9 per second by default).

    Attributes:
        retry_after: seconds the gateway asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        endpoint: str,
        gateway_message: str | None = None,
        retry_after: float | None = None,
        partial: Any = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            endpoint=endpoint,
            gateway_message=gateway_message,
            partial=partial,
        )
        self.retry_after = retry_after


class DuplicateError(APIError):
    """453: the same message to the same numbers was accepted less than 2 minutes ago."""


class ServerError(APIError):
    """5xx: the gateway is temporarily unavailable."""


_WHAT_TO_DO: dict[type[APIError], str] = {
    ValidationError: "check the request parameters",
    AuthenticationError: "check the token (JSON Profile section of the SMS Club account)",
    RateLimitedError: "slow down; the gateway allows 9 requests per second per token",
    DuplicateError: "the same message went to these numbers less than 2 minutes ago",
    ServerError: "the gateway is temporarily unavailable; try again later",
    APIError: "unexpected status from the gateway",
}


def error_class_for_status(status_code: int) -> type[APIError]:
    """Map an HTTP error status to the exception class that names its meaning."""
    if status_code == 400:
        return ValidationError
    if status_code in (401, 403):
        return AuthenticationError
    if status_code == 429:
        return RateLimitedError
    if status_code == 453:
        return DuplicateError
    if status_code >= 500:
        return ServerError
    return APIError


def error_for_status(
    status_code: int,
    *,
    endpoint: str,
    gateway_message: str | None = None,
    retry_after: float | None = None,
    advice: Mapping[type[APIError], str] | None = None,
) -> APIError:
    """Build the exception for an error response (a pure function, no I/O).

    Args:
        status_code: the HTTP status of the response.
        endpoint: the gateway path the request went to.
        gateway_message: the message the gateway put in the body, if any.
        retry_after: the parsed Retry-After header, for 429.
        advice: what to do, by exception class, for gateways other than SMS Club.
    """
    cls = error_class_for_status(status_code)
    what_to_do = (advice or _WHAT_TO_DO).get(cls, _WHAT_TO_DO[APIError])
    text = f"{endpoint}: HTTP {status_code}"
    if gateway_message:
        text += f": {gateway_message}"
    text += f" ({what_to_do})"
    if cls is RateLimitedError:
        return RateLimitedError(
            text,
            status_code=status_code,
            endpoint=endpoint,
            gateway_message=gateway_message,
            retry_after=retry_after,
        )
    return cls(text, status_code=status_code, endpoint=endpoint, gateway_message=gateway_message)
