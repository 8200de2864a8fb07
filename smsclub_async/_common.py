"""Pieces every gateway client shares: defaults, input checks, client state, streams."""

from __future__ import annotations

import enum
import os
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
    "check_chunk_size",
    "check_lifetime",
    "check_max_parts",
    "check_messages",
    "check_phones",
    "check_secret",
    "check_text",
    "default_sender",
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


MAX_LIFETIME = 7 * 24 * 60
"""The longest ``lifetime`` accepted, in minutes (a week: no gateway keeps a message longer)."""


def check_lifetime(lifetime: int | None, *, maximum: int = MAX_LIFETIME) -> int | None:
    """``lifetime`` in minutes, or ValueError before any request."""
    if lifetime is None:
        return None
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        raise ValueError(
            f"lifetime must be a positive whole number of minutes, got {lifetime!r:.40}"
        )
    if lifetime > maximum:
        shown = lifetime if lifetime < 10**12 else f"a number of {len(str(lifetime)):,} digits"
        raise ValueError(f"lifetime must be at most {maximum} minutes, got {shown}")
    return lifetime


def check_secret(value: object, what: str, *, missing: str, header: bool = False) -> str:
    """A token or password: a non-empty string (never echoed).

    ``header``: it goes into an HTTP header, so it must be printable ASCII without
    spaces (a form-encoded password may hold anything).
    """
    from ._errors import ConfigurationError  # noqa: PLC0415 - avoids an import cycle

    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigurationError(missing)
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{what} must be a str, got {type(value).__name__} (decode bytes first)"
        )
    if not header:
        return value
    value = value.strip()
    if not value.isascii() or not value.isprintable() or " " in value:
        # Never echo it: a malformed secret is still a secret.
        raise ConfigurationError(
            f"the {what} must be printable ASCII without spaces; check what was pasted"
        )
    return value


def default_sender(sender: object, env: str) -> str | None:
    """The client's default sender: ``sender``, else the environment variable ``env``."""
    if sender is None:
        sender = os.environ.get(env) or None
    return None if sender is None else check_text(sender, "sender")


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


def check_phones(phones: Phones) -> Phones:
    """Refuse no recipients at all before any request (a stream is checked as it runs)."""
    if isinstance(phones, Iterable) and not isinstance(phones, str | bytes):
        return nonempty(phones, "phones")
    if isinstance(phones, str) and not phones.strip():
        raise ValueError("phones must name at least one recipient")
    return phones


def check_messages(messages: PersonalMessages, max_parts: int | None) -> PersonalMessages:
    """Refuse, before any request, no pairs at all, and a bad text of a mapping (already
    in memory); a stream's bad text fails only its own phone, later."""
    if isinstance(messages, Mapping):
        if not messages:
            raise ValueError("messages must hold at least one (phone, text) pair")
        for text in messages.values():
            check_text(text, "every message")
            check_max_parts(text, max_parts)
        return messages
    if isinstance(messages, Iterable) and not isinstance(messages, str | bytes):
        return nonempty(messages, "messages")
    return messages  # chunk_messages refuses anything else at once


def nonempty(items: Iterable[Any], what: str) -> Iterable[Any]:
    """Refuse an empty collection up front (iterators are checked as they run out)."""
    if isinstance(items, list | tuple | set | frozenset | dict) and not items:
        raise ValueError(f"{what} must hold at least one recipient")
    return items


def check_base_url(url: object) -> str:
    """The base URL without a trailing slash; refuses one httpx could not use.

    Raises:
        ConfigurationError: not http(s), no host, a bad port, a query string (which
            would swallow the endpoint paths appended to it), or a user name or
            password in it (httpx would send them as Basic auth instead of ours,
            and they would show in reprs).
    """
    from ._errors import ConfigurationError  # noqa: PLC0415 - avoids an import cycle

    if not isinstance(url, str):
        raise ConfigurationError(f"base_url must be a str, got {type(url).__name__}")
    url = url.rstrip("/")
    problem = None
    if "@" in url.partition("://")[2].partition("/")[0]:
        # Never echo it: it holds a password. (httpx would also send it as Basic auth.)
        raise ConfigurationError(
            "base_url must not hold a user name or password; pass credentials as the"
            " client's own arguments"
        )
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
    return url


def check_chunk_size(chunk_size: object) -> int:
    """Recipients per request for the form gateways: 1 to 1,000."""
    from ._errors import ConfigurationError  # noqa: PLC0415 - avoids an import cycle

    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or not 1 <= chunk_size <= 1000
    ):
        raise ConfigurationError(f"chunk_size must be between 1 and 1000, got {chunk_size!r}")
    return chunk_size
