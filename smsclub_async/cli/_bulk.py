"""Running a bulk send or a status watch: progress, Ctrl-C, nothing lost.

A bulk send consumes the client's result stream chunk by chunk, feeding a progress
bar and an optional ids file (written and flushed as each chunk finishes, so even a
killed process leaves its ids behind). Ctrl-C cancels the running task: the stream
cancels its requests in flight and keeps what finished in ``unclaimed``, which is
merged here, so every message id the gateway issued ends up in the outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from .._errors import SmsClubError
from .._results import SendResult, StatusReport
from .._tracking import StatusChange
from ._gateways import GatewayClient, ResultStream

__all__ = [
    "BulkOutcome",
    "IdsFile",
    "WatchOutcome",
    "is_plain_id",
    "make_progress",
    "run_bulk",
    "watch_statuses",
]


class _RateColumn(ProgressColumn):
    """Items per second, from rich's own speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("   -/s", style="progress.data.speed")
        return Text(f"{speed:6,.0f}/s", style="progress.data.speed")


def make_progress(console: Console, *, rate: bool = True) -> Progress:
    """A progress bar: done/total, rate (if asked), elapsed, time left."""
    columns: list[ProgressColumn] = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if rate:
        columns.append(_RateColumn())
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=console)


MAX_ID_LENGTH = 64
"""The longest message id written as a row (``status`` refuses longer ones too)."""


def is_plain_id(message_id: str) -> bool:
    """Whether an id can be a CSV cell as it is: printable, no space, comma or quote.

    Every gateway issues digits; anything else comes from a broken or hostile one.
    """
    return (
        0 < len(message_id) <= MAX_ID_LENGTH
        and message_id.isprintable()
        and not any(char in message_id for char in ' ,"#')
    )


class IdsFile:
    """``--save-ids FILE``: ``message_id,phone`` rows, flushed chunk by chunk.

    Opened for appending, so a second run adds to the first run's ids; the header
    row is written only into an empty file.

    An id that is not plain (:func:`is_plain_id`: a newline, a comma, a control
    character...) would forge or break rows, so it is never written as a row: it goes
    on a ``#`` comment line, escaped (``# unusable message id '100\\x0a7,380...'
    for 380501234567``), which ``smsclub status --file`` skips and a person can read.
    """

    HEADER = "message_id,phone\n"

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._written: set[str] = set()
        self.refused: list[str] = []
        """The ids written as comments instead of rows."""
        if handle.tell() == 0:
            handle.write(self.HEADER)
            handle.flush()

    def write(self, result: SendResult) -> None:
        """Append the ids of ``result`` not written yet."""
        rows = [(mid, phone) for mid, phone in result.sent.items() if mid not in self._written]
        for message_id, phone in rows:
            self._written.add(message_id)
            if is_plain_id(message_id):
                self._handle.write(f"{message_id},{phone}\n")
            else:
                self.refused.append(message_id)
                self._handle.write(
                    f"# unusable message id {_escaped(message_id)} for {_escaped(phone)}\n"
                )
        if rows:
            self._handle.flush()


def _escaped(text: str) -> str:
    """A one-line, printable, quoted form of ``text`` (``'100\\x0a7'``)."""
    quoted = ascii(text)
    return quoted.replace("\\n", "\\x0a").replace("\\r", "\\x0d").replace("\\t", "\\x09")


CANCELLED_BEFORE_SENDING = "not sent: cancelled before sending"
"""The client's reason for a recipient whose chunk was cancelled before its request."""


@dataclass(slots=True)
class BulkOutcome:
    """Everything a bulk send achieved.

    Attributes:
        result: every recipient's outcome so far, every issued id included.
        phones: the recipients asked for (normalised), to tell who was never tried.
        interrupted: Ctrl-C stopped it.
        error: the error that ended the whole stream (e.g. a rejected token).
        elapsed: seconds spent sending.
    """

    result: SendResult = field(default_factory=SendResult)
    phones: list[str] = field(default_factory=list)
    interrupted: bool = False
    error: SmsClubError | None = None
    elapsed: float = 0.0

    @property
    def not_sent(self) -> list[str]:
        """Recipients no request was made for (after Ctrl-C or a fatal error).

        After Ctrl-C this includes the chunks cancelled before their request left:
        each of these recipients certainly got nothing and can be sent to again.
        """
        result = self.result
        if not (self.interrupted or self.error):
            return []
        done = set(result.sent.values()) | result.failed.keys() | result.unknown.keys()
        return [phone for phone in self.phones if phone not in done]


async def run_bulk(
    start: Callable[[], ResultStream],
    *,
    phones: list[str],
    total: int | None = None,
    progress: Progress | None = None,
    description: str = "sending",
    on_result: Callable[[SendResult], None] | None = None,
) -> BulkOutcome:
    """Consume a send stream to the end, or until Ctrl-C (cancellation) stops it.

    Never raises for what happens to the messages: a cancellation and an error that
    ends the stream are recorded in the outcome with everything achieved before.

    Args:
        start: opens the stream (e.g. ``lambda: client.send_iter(...)``).
        phones: the distinct valid recipients asked for.
        total: what the progress bar counts to, if not ``len(phones)`` (input the
            client refuses itself comes back in the results too).
        progress: a running progress bar to advance, recipient by recipient.
        description: the progress bar's label.
        on_result: called with each chunk's result as it arrives (to save ids).
    """
    outcome = BulkOutcome(phones=phones)
    loop = asyncio.get_running_loop()
    began = loop.time()
    task: TaskID | None = None
    if progress is not None:
        task = progress.add_task(description, total=len(phones) if total is None else total)

    def take(part: SendResult) -> None:
        outcome.result.merge(part)
        if on_result is not None:
            on_result(part)
        if progress is not None and task is not None:
            progress.advance(task, part.recipients)

    stream = start()
    try:
        async for part in stream:
            take(part)
    except asyncio.CancelledError:
        outcome.interrupted = True
        _uncancel()
    except SmsClubError as exc:
        outcome.error = exc
    finally:
        await _close(stream)
        for part in stream.unclaimed:
            take(part)
        stream.unclaimed.clear()
        outcome.elapsed = loop.time() - began
    if outcome.interrupted:
        _unfail_cancelled(outcome.result)
    return outcome


def _unfail_cancelled(result: SendResult) -> None:
    """Take the chunks cancelled before sending out of ``failed``.

    Their recipients got nothing, like those never tried: after Ctrl-C both are one
    "not sent" bucket (:attr:`BulkOutcome.not_sent`), not two.
    """
    for phone in [p for p, reason in result.failed.items() if reason == CANCELLED_BEFORE_SENDING]:
        del result.failed[phone]


async def _close(stream: ResultStream) -> None:
    try:
        await stream.aclose()
    except asyncio.CancelledError:
        # A second Ctrl-C while closing: the stream already kept what finished.
        _uncancel()


def _uncancel() -> None:
    """Take back a cancellation we handled (so later waits are not cancelled)."""
    current = asyncio.current_task()
    if current is not None:
        current.uncancel()


@dataclass(slots=True)
class WatchOutcome:
    """What a status watch learned.

    Attributes:
        report: the last known status of every id.
        ids: the ids watched.
        interrupted: Ctrl-C stopped it.
        error: a request that failed for good.
    """

    report: StatusReport
    ids: list[str]
    interrupted: bool = False
    error: SmsClubError | None = None

    @property
    def pending(self) -> list[str]:
        """Ids without a final status (not reported, or still on their way)."""
        return [i for i in self.ids if i not in self.report or not self.report[i].is_final]


async def watch_statuses(
    client: GatewayClient,
    ids: Iterable[str],
    *,
    timeout: float | None,  # noqa: ASYNC109 - a polling deadline, passed to track()
    interval: float,
    max_interval: float,
    progress: Progress | None = None,
    on_change: Callable[[StatusChange], None] | None = None,
) -> WatchOutcome:
    """Poll until every status is final (``track``), reporting each change."""
    id_list = list(ids)
    outcome = WatchOutcome(StatusReport(), id_list)
    task = None if progress is None else progress.add_task("delivering", total=len(id_list))
    final = 0
    try:
        async for change in client.track(
            id_list,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            report=outcome.report,
        ):
            if on_change is not None:
                on_change(change)
            if progress is not None and task is not None and change.is_final:
                final += 1
                progress.update(task, completed=final)
    except asyncio.CancelledError:
        outcome.interrupted = True
        _uncancel()
    except SmsClubError as exc:
        outcome.error = exc
    return outcome
