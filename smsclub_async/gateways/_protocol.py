"""SmsGateway: what every gateway client offers, so an application can switch with one line.

:class:`~smsclub_async.SmsClub`, :class:`SmscClient` and :class:`SmsteleClient`
all satisfy it. Code written against it runs on any of them (and a test of that
code can run against each one's sandbox); the gateway-specific extras (SMSC's
``cost`` and ``hlr``, REX400's per-recipient ``details``) stay on the concrete
classes.

Message ids are whatever the gateway's ``send`` puts in ``SendResult.sent`` (SMS
Club's ids, ``"<id>:<phone>"`` keys for SMSC and REX400): pass them back to
``status`` unchanged.

Example:
    >>> async def notify(gateway: SmsGateway, phones: list[str]) -> StatusReport:
    ...     async with gateway:
    ...         result = await gateway.send(phones, "Your order is ready", sender="MyShop")
    ...         return await gateway.status(result.sent)
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from .._common import SendStream
from .._pipeline import Priority
from .._results import Balance, SendResult, StatusReport

__all__ = ["SmsGateway"]


@runtime_checkable
class SmsGateway(Protocol):
    """The operations every gateway client has (a ``typing.Protocol``, runtime-checkable).

    ``isinstance(client, SmsGateway)`` checks that the methods exist; mypy checks
    their signatures. Parameters before ``/`` are positional, so each client may
    name them its own way; the keywords are the vocabulary the three share.
    """

    async def send(
        self,
        phones: str | Iterable[str] | AsyncIterable[str],
        message: str,
        /,
        *,
        sender: str | None = ...,
        lifetime: int | None = ...,
        max_parts: int | None = ...,
        key: str | None = ...,
        priority: Priority | None = ...,
        deadline: float | timedelta | datetime | None = ...,
    ) -> SendResult:
        """Send ``message`` to every number; every recipient ends in sent, failed or unknown."""
        ...

    def send_iter(
        self,
        phones: str | Iterable[str] | AsyncIterable[str],
        message: str,
        /,
        *,
        sender: str | None = ...,
        lifetime: int | None = ...,
        max_parts: int | None = ...,
        key: str | None = ...,
        priority: Priority | None = ...,
        deadline: float | timedelta | datetime | None = ...,
    ) -> SendStream:
        """Like ``send``, one result per finished request."""
        ...

    async def status(
        self, message_ids: str | int | Iterable[str | int] | AsyncIterable[str | int], /
    ) -> StatusReport:
        """Delivery statuses of messages, by the ids ``send`` put in ``SendResult.sent``."""
        ...

    async def wait_for_final(
        self,
        message_ids: Iterable[str | int],
        /,
        *,
        timeout: float | None = ...,  # noqa: ASYNC109 - a polling deadline
    ) -> StatusReport:
        """Poll until every message has a final status, or ``timeout`` seconds pass."""
        ...

    async def balance(self) -> Balance:
        """The account balance (a gateway without the request raises ``UnsupportedError``)."""
        ...

    async def senders(self) -> list[str]:
        """The sender names the account may use (``UnsupportedError`` if not offered)."""
        ...

    async def aclose(self) -> None:
        """Close the client (safe to call twice)."""
        ...

    async def __aenter__(self) -> Self:
        """Open the client."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        ...
