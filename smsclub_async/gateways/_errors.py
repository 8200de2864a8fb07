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

from collections.abc import Mapping

from .._errors import APIError, RateLimitedError, SmsClubError

__all__ = [
    "InsufficientFundsError",
    "UnsupportedError",
    "gateway_error",
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
