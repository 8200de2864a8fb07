"""Delivery tracking: poll statuses until they are final, with a growing interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

from ._results import StatusReport
from ._status import DeliveryStatus

__all__ = ["StatusChange", "track_statuses"]

Fetch = Callable[[list[str]], Awaitable[StatusReport]]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One message moved to a new status.

    Attributes:
        message_id: the id the gateway issued.
        status: the new status.
        previous: the status before, or ``None`` on the first report.
        raw: the gateway's own string.
    """

    message_id: str
    status: DeliveryStatus
    previous: DeliveryStatus | None
    raw: str

    @property
    def is_final(self) -> bool:
        """Whether this status can no longer change."""
        return self.status.is_final


async def track_statuses(
    fetch: Fetch,
    message_ids: Iterable[str | int],
    *,
    interval: float,
    max_interval: float,
    timeout: float | None,  # noqa: ASYNC109 - a polling deadline, not a call timeout
    report: StatusReport,
) -> AsyncIterator[StatusChange]:
    """Poll ``fetch`` for the ids not yet final, yielding each change as it is seen.

    The interval between polls grows by half each round up to ``max_interval`` (most
    messages settle in seconds, a few take hours). Every request goes through the
    client's limiter, so polling never exceeds the rate limit. ``report`` is updated
    in place so a caller keeps what is known when the timeout or a cancel ends it.
    """
    if interval <= 0 or max_interval < interval:
        raise ValueError("interval must be positive and max_interval at least interval")
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must not be negative")
    pending = list(dict.fromkeys(str(i) for i in message_ids))
    if not pending:
        return  # nothing was sent, nothing to ask
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    wait = interval
    while pending:
        fresh = await fetch(pending)
        for message_id, status in fresh.items():
            previous = report.get(message_id)
            report[message_id] = status
            report.raw[message_id] = fresh.raw.get(message_id, status.value)
            if status is not previous:
                yield StatusChange(message_id, status, previous, report.raw[message_id])
        pending = [i for i in pending if not (i in report and report[i].is_final)]
        report.missing = [i for i in pending if i not in report]
        if not pending:
            return
        if deadline is not None:
            left = deadline - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(wait, left))
        else:
            await asyncio.sleep(wait)
        wait = min(max_interval, wait * 1.5)
