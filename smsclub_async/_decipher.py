"""Deciphering an answer: the shape every gateway's ``decipher`` returns (pure).

A gateway's ``decipher(status, headers, body, refusals)`` reads one answer and says
whether it accepted the request (``None``: the body goes to the gateway's
accounting) or refused it (a :class:`Refusal`), whether the refusal came as an HTTP
status or inside a 200. :func:`http_refusal` is the HTTP half every gateway shares:
the status names the exception class, the gateway's table says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from ._errors import APIError, DuplicateError, error_for_status
from ._retry import parse_retry_after

__all__ = ["Decipher", "Refusal", "http_refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer that did not accept the request, as the gateway's ``decipher`` reads it.

    Attributes:
        error: the exception that names the refusal's meaning.
        retry: coming back may succeed (rate limits, temporary errors, 5xx).
        processed: the request may have been processed all the same (a 5xx).
        retry_after: seconds to wait before coming back, when the gateway said.
        duplicate: the gateway refused the request as a repeat of an identical one.
        message_id: an id the gateway issued together with the refusal.
    """

    error: APIError
    retry: bool = False
    processed: bool = False
    retry_after: float | None = None
    duplicate: bool = False
    message_id: str | None = None


Decipher = Callable[[int, httpx.Headers, bytes, int], Refusal | None]
"""(status, headers, body, refusals so far) -> the refusal the answer carries, or None."""


def http_refusal(
    status: int,
    headers: httpx.Headers,
    *,
    endpoint: str,
    gateway_message: str | None,
    advice: Mapping[type[APIError], str],
    fields: Mapping[str, str] | None = None,
) -> Refusal | None:
    """The refusal an HTTP status carries (``None`` for 2xx).

    429 is refused before processing (retry after ``Retry-After``/``retry-after-ms``);
    5xx may have been processed (retry only inside a send's duplicate window); 453
    is the duplicate rule; any other status is final.
    """
    if 200 <= status < 300:
        return None
    retry_after = None
    if status == 429:
        ms = parse_retry_after(headers.get("retry-after-ms"))
        retry_after = ms / 1000 if ms is not None else parse_retry_after(headers.get("retry-after"))
    error = error_for_status(
        status,
        endpoint=endpoint,
        gateway_message=gateway_message,
        retry_after=retry_after,
        advice=advice,
    )
    if fields:
        error.fields = dict(fields)
    if status == 429:
        return Refusal(error, retry=True, retry_after=retry_after)
    if status >= 500:
        return Refusal(error, retry=True, processed=True)
    if isinstance(error, DuplicateError):
        return Refusal(error, duplicate=True)
    return Refusal(error)
