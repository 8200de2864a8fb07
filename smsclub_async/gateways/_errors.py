"""What the gateway clients add to the core exception tree, and how they build errors.

Two classes the core tree has no member for::

    SmsClubError
    ├── UnsupportedError           the gateway's documented API has no such operation
    └── APIError
        └── InsufficientFundsError not enough money or credits (SMSC 3, REX400 -43)

Every other gateway error code maps onto a core class (see the tables in
``_smsc_wire`` and ``_smstele_wire``). Errors reported inside an HTTP 200 answer
carry ``status_code=200``; the gateway's own code is in ``fields["error_code"]``.

No text built here contains a password or API key: callers pass a ``scrub``
function that blanks the client's secrets out of anything the gateway echoed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .._errors import APIError, RateLimitedError, SmsClubError

__all__ = [
    "InsufficientFundsError",
    "UnsupportedError",
    "gateway_error",
    "rebrand_http_error",
]


class InsufficientFundsError(APIError):
    """The account has not enough money or credits for the request: top it up, then resend.

    Raised for SMSC.kz error 3 on a send and REX400 error -43. Nothing was sent.
    """


class UnsupportedError(SmsClubError, NotImplementedError):
    """The gateway's documented API has no such operation (e.g. REX400 has no balance call).

    Raised before any request is made.
    """


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


def rebrand_http_error(
    error: SmsClubError,
    *,
    advice: Mapping[type[APIError], str],
    scrub: Callable[[str], str],
) -> SmsClubError:
    """Give an HTTP-level error from the core pipeline this gateway's advice.

    The core pipeline words its errors for SMS Club ("check the token ..."); the
    same status from another gateway needs other advice. Transport errors and the
    like are returned unchanged (their texts name no gateway).
    """
    if not isinstance(error, APIError) or error.status_code == 200:
        return error
    cls = type(error)
    message = scrub(error.gateway_message) if error.gateway_message else None
    what_to_do = next(
        (text for klass, text in advice.items() if isinstance(error, klass)),
        "unexpected status from the gateway",
    )
    text = f"{error.endpoint}: HTTP {error.status_code}"
    if message:
        text += f": {message}"
    text += f" ({what_to_do})"
    new: APIError
    if isinstance(error, RateLimitedError):
        new = RateLimitedError(
            text,
            status_code=error.status_code,
            endpoint=error.endpoint,
            gateway_message=message,
            retry_after=error.retry_after,
        )
    else:
        new = cls(
            text,
            status_code=error.status_code,
            endpoint=error.endpoint,
            gateway_message=message,
            fields=error.fields,
        )
    new.__cause__ = error.__cause__
    return new
