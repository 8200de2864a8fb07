"""Pieces every gateway client shares: defaults, input checks, client state, streams."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Self

import httpx

from ._phones import is_utf8_encodable
from ._results import SendResult

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "POOL_LIMITS",
    "ClientState",
    "MessageIds",
    "PersonalMessages",
    "Phones",
    "SendStream",
    "check_base_url",
    "check_lifetime",
    "check_max_parts",
    "check_text",
    "nonempty",
    "too_many_parts",
]

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""Per-request timeouts: 5 s to connect, 15 s for each read, write and pool wait."""
DEFAULT_MAX_CONCURRENCY = 10
"""Requests of one bulk call in flight at once; the limiter sets the pace anyway."""
# httpx assigns pooled connections in time quadratic in their number: keep it small.
POOL_LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=10)


Phones = str | Iterable[str] | AsyncIterable[str]
PersonalMessages = Mapping[str, str] | Iterable[tuple[str, str]] | AsyncIterable[tuple[str, str]]
MessageIds = str | int | Iterable[str | int] | AsyncIterable[str | int]


class ClientState(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


def check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if not is_utf8_encodable(value):
        raise ValueError(f"{what} contains a lone surrogate, which cannot be sent as UTF-8")
    return value


def check_lifetime(lifetime: int | None) -> int | None:
    if lifetime is None:
        return None
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        raise ValueError(f"lifetime must be a positive number of minutes, got {lifetime!r}")
    return lifetime


def too_many_parts(message: str, max_parts: int | None) -> str | None:
    """Why a message is refused for its length, or None."""
    if max_parts is None:
        return None
    from ._segments import segments  # noqa: PLC0415 - keeps import time low

    info = segments(message)
    if info.parts > max_parts:
        return (
            f"the message is {info.parts} SMS parts ({info.encoding}, {info.units} units),"
            f" more than max_parts={max_parts}"
        )
    return None


def check_max_parts(message: str, max_parts: int | None) -> None:
    if max_parts is not None and (
        isinstance(max_parts, bool) or not isinstance(max_parts, int) or max_parts < 1
    ):
        raise ValueError(f"max_parts must be at least 1, got {max_parts!r}")
    reason = too_many_parts(message, max_parts)
    if reason is not None:
        raise ValueError(reason)


class SendStream:
    """The chunk-by-chunk results of a bulk send, as an async iterator.

    Returned by :meth:`SmsClub.send_iter`. Iterate it with ``async for``; each item is
    the :class:`SendResult` of one request of at most 100 recipients, in the order
    requests finish. Memory stays flat but for the de-duplication set (about
    18 MB for a million distinct numbers).

    If iteration stops early (``break``, an exception, cancellation), requests still
    in flight are cancelled, and the results of those that had already finished are
    kept in :attr:`unclaimed`, so no issued message id is lost. Use
    ``async with sms.send_iter(...) as stream:`` to close it deterministically.
    """

    def __init__(self, results: AsyncIterator[SendResult], unclaimed: list[SendResult]) -> None:
        self._results = results
        self.unclaimed = unclaimed
        """Results that finished but were never yielded (after an early stop)."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SendResult:
        return await anext(self._results)

    async def aclose(self) -> None:
        """Stop: cancel requests in flight; what finished goes to :attr:`unclaimed`."""
        aclose = getattr(self._results, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def nonempty(items: Iterable[Any], what: str) -> Iterable[Any]:
    """Refuse an empty collection up front (iterators are checked as they run out)."""
    if isinstance(items, list | tuple | set | frozenset | dict) and not items:
        raise ValueError(f"{what} must hold at least one recipient")
    return items


def check_base_url(url: str) -> None:
    """Refuse a base URL httpx could not use, before any request.

    Raises:
        ConfigurationError: not http(s), no host, a bad port, or a query string
            (which would swallow the endpoint paths appended to it).
    """
    from ._errors import ConfigurationError  # noqa: PLC0415 - avoids an import cycle

    problem = None
    try:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https"):
            problem = "it must start with https:// or http://"
        elif not parsed.host:
            problem = "it has no host"
        elif parsed.query or parsed.fragment:
            problem = "it must not have a query string or fragment"
        elif parsed.port is not None and not 0 < parsed.port < 65536:
            problem = f"port {parsed.port} is out of range"
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        problem = f"it cannot be parsed ({exc})"
    if problem is not None:
        raise ConfigurationError(f"base_url {url!r} is not usable: {problem}")
