"""The exception tree of smsclub-async.

Every exception the library raises on purpose derives from :class:`SmsClubError`::

    SmsClubError
    ├── ClientClosedError          the client was used after aclose()
    ├── EventLoopError             the client was used from an event loop it is not bound to
    ├── ConfigurationError         no token, a bad base URL, a bad option
    ├── TransportError             the request could not be completed (wraps httpx errors)
    │   └── RequestTimeoutError    connect, read, write or pool timeout (was TimeoutError)
    ├── DecodeError                a response body the library cannot read
    ├── SourceError                the caller's recipients iterator raised mid-send
    ├── LimiterError               the rate limiter could not grant a slot (e.g. Redis down)
    └── APIError                   the gateway answered with an error status
        ├── ValidationError        400 (or field errors in add_info): input failed validation
        ├── NotFoundError          the gateway has no such object (a sender name)
        ├── AuthenticationError    401/403: bad or missing token
        ├── RateLimitedError       429: too many requests (``retry_after`` in seconds, if given)
        ├── DuplicateError         453: the same message to the same numbers within 2 minutes
        ├── InsufficientFundsError the account's balance does not cover the send
        ├── UnsupportedError       the gateway does not offer this operation
        └── ServerError            5xx: the gateway is unavailable

Errors raised by a bulk operation carry ``partial``: the result of everything that
was achieved before the error, with every message id the gateway issued.

No message text ever includes a secret: the clients scrub their token or password
out of anything a gateway echoes before it goes into an error.
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
    "InsufficientFundsError",
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
    "error_for_status",
    "gateway_error",
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


class RequestTimeoutError(TransportError):
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


class SourceError(SmsClubError):
    """The caller's own recipients iterator raised after requests had been made.

    The requests already on the wire finished and are accounted for in ``partial``;
    the iterator's exception is the ``__cause__``. Resend only the recipients that
    are in no bucket of ``partial``.
    """


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


class InsufficientFundsError(APIError):
    """The account has not enough money or credits for the request: top it up, then resend.

    Raised for SMSC.kz error 3 on a send and REX400 error -43. Nothing was sent.
    """


class UnsupportedError(SmsClubError, NotImplementedError):
    """The gateway's documented API has no such operation (e.g. REX400 has no balance call).

    Raised before any request is made.
    """


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
    advice: Mapping[type[APIError], str],
) -> APIError:
    """Build the exception for an error response (a pure function, no I/O).

    Args:
        status_code: the HTTP status of the response.
        endpoint: the gateway path the request went to.
        gateway_message: the message the gateway put in the body, if any.
        retry_after: the parsed Retry-After header, for 429.
        advice: what to do, by exception class (the gateway's own table; a class it
            does not name falls back on its ``APIError`` entry).
    """
    cls = error_class_for_status(status_code)
    what_to_do = advice.get(cls) or advice.get(APIError) or "unexpected status from the gateway"
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


def gateway_error(
    cls: type[APIError],
    *,
    gateway: str,
    endpoint: str,
    code: int | str,
    meaning: str,
    advice: str,
    gateway_message: str | None,
    retry_after: float | None = None,
    fields: Mapping[str, str] | None = None,
) -> APIError:
    """Build the exception for an error code the gateway put inside a 200 answer (pure).

    Args:
        cls: the core class that names the error's meaning.
        gateway: the gateway's name for the message, e.g. ``"SMSC"``.
        endpoint: the path the request went to.
        code: the gateway's error code.
        meaning: the documented meaning of the code, in English.
        advice: what the caller can do about it.
        gateway_message: the gateway's own description (already scrubbed of secrets).
        retry_after: for :class:`RateLimitedError`, the seconds to wait.
        fields: more field -> message pairs (``error_code`` is always added).
    """
    text = f"{endpoint}: {gateway} error {code} ({meaning})"
    if gateway_message and gateway_message.strip().casefold() != meaning.casefold():
        text += f": {gateway_message.strip()}"
    text += f"; {advice}"
    error: APIError
    if issubclass(cls, RateLimitedError):
        error = cls(
            text,
            status_code=200,
            endpoint=endpoint,
            gateway_message=gateway_message,
            retry_after=retry_after,
        )
    else:
        error = cls(text, status_code=200, endpoint=endpoint, gateway_message=gateway_message)
    error.fields = {"error_code": str(code), **(fields or {})}
    return error
