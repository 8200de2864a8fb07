"""journaled(): a chunk sender whose every number goes through a journal."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from .._phones import Chunk
from .._results import SendResult
from ..telemetry import mask_numbers
from ._model import (
    DEFAULT_LEASE,
    DEFAULT_POLL,
    INTERRUPTED,
    Claim,
    Journal,
    JournalError,
    ResultOutcomes,
    _log,
    _seconds,
    new_owner,
)

SendChunk = Callable[[Chunk], Awaitable[SendResult]]

_background: set[asyncio.Task[Any]] = set()


class _Lease:
    """One owner's heartbeat, running while it has chunks in flight."""

    __slots__ = ("_in_flight", "_task", "journal", "lease", "owner")

    def __init__(self, journal: Journal, owner: str, lease: float) -> None:
        self.journal = journal
        self.owner = owner
        self.lease = lease
        self._in_flight = 0
        self._task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        self._in_flight += 1
        if self._task is None:
            self._task = asyncio.ensure_future(self._beat())

    def exit(self) -> None:
        self._in_flight -= 1
        if not self._in_flight and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self.journal.heartbeat(self.owner, self.lease)
            except JournalError:
                _log.warning("could not renew the journal lease of %s", self.owner, exc_info=True)


def _sub_chunk(chunk: Chunk, phones: list[str], *, rejected: bool) -> Chunk:
    messages: list[str] = []
    if chunk.messages:
        text = dict(zip(chunk.phones, chunk.messages, strict=False))
        messages = [text[p] for p in phones]
    return Chunk(
        phones=phones,
        messages=messages,
        rejected=dict(chunk.rejected) if rejected else {},
        index=chunk.index,
    )


_HELD_ELSEWHERE = "maybe sent: another call with the same key was sending it"


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _keep(journal_write: Awaitable[None]) -> asyncio.Future[None]:
    """Run a journal write to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(journal_write)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def journaled(
    send_chunk: SendChunk,
    *,
    journal: Journal,
    key: str,
    owner: str | None = None,
    lease: timedelta | float = DEFAULT_LEASE,
    poll: float = DEFAULT_POLL,
    distinct: bool = False,
) -> JournaledSend:
    """Wrap a chunk sender so that every number goes through ``journal`` under ``key``.

    For each chunk: claim its numbers (start marks on disk before anything is sent),
    send only the freshly claimed ones (a sub-chunk, with their personalised
    messages), record their outcomes as soon as the answer is back, and return the
    chunk's combined result: earlier outcomes, :data:`INTERRUPTED` numbers in
    ``unknown``, numbers another live call was sending (waited for, ``poll`` seconds
    between looks), and what was sent now. Numbers refused before any request pass
    through as ``failed``. Like ``send_chunk``, the wrapper never raises: a journal
    failure before the request leaves the chunk's numbers ``failed`` (nothing was
    sent) with ``error`` set to the :class:`JournalError`.

    Call :meth:`Journal.begin` for ``key`` first, and :meth:`JournaledSend.aclose`
    when the call is over (the client does both): it writes the call's queued
    outcomes and lets another call take the key over at once.

    Args:
        send_chunk: sends one chunk and never raises.
        journal: where the marks go.
        key: the send's key.
        owner: the name of this call's claims (:func:`new_owner` by default).
        lease: how long this call stays alive without a heartbeat.
        poll: seconds between looks at numbers another live call is sending.
        distinct: no number is in two of the call's chunks (its numbers were
            deduplicated): the journal may then skip indexing them (see
            :meth:`Journal.claim`). Leave ``False`` when unsure: repeats are then
            sent once.
    """
    return JournaledSend(
        send_chunk,
        journal=journal,
        key=key,
        owner=owner,
        lease=lease,
        poll=poll,
        distinct=distinct,
    )


class JournaledSend:
    """A chunk sender whose every number goes through a journal (see :func:`journaled`).

    Call it with a chunk; :meth:`aclose` when the call is over.
    """

    def __init__(
        self,
        send_chunk: SendChunk,
        *,
        journal: Journal,
        key: str,
        owner: str | None = None,
        lease: timedelta | float = DEFAULT_LEASE,
        poll: float = DEFAULT_POLL,
        distinct: bool = False,
    ) -> None:
        self.journal = journal
        self.key = key
        self.owner = owner or new_owner()
        self._send_chunk = send_chunk
        self._lease_s = _seconds(lease)
        self._poll = poll
        # Only to a journal that takes it: one written before the keyword still works.
        self._distinct = distinct and _takes_distinct(journal)
        self._heart = _Lease(journal, self.owner, self._lease_s)
        self._ahead: dict[int, asyncio.Future[Claim]] = {}  # id(chunk) -> its claim

    def __repr__(self) -> str:
        return f"JournaledSend(key={self.key!r}, owner={self.owner!r}, journal={self.journal!r})"

    def claim_ahead(self, chunks: AsyncIterator[Chunk], *, window: int) -> ClaimingAhead:
        """Read ``chunks`` up to ``window`` at a time and claim each group at once.

        For a source that never waits (a list): one journal write, one hop to the
        journal's thread, for a group of requests instead of one each. The numbers
        of a group are *started* a little earlier than their request leaves (a crash
        meanwhile reports them ``unknown``, like those waiting for the rate limit).
        """
        return ClaimingAhead(self, chunks, window=window)

    def _numbers(self, chunk: Chunk) -> list[str]:
        """A chunk's numbers, each once (a distinct send's chunks repeat none)."""
        return chunk.phones if self._distinct else list(dict.fromkeys(chunk.phones))

    def _claim_group(self, chunks: list[Chunk]) -> None:
        chunks = [chunk for chunk in chunks if chunk.phones]
        claim_many = getattr(self.journal, "claim_many", None)
        if not chunks:
            return
        if claim_many is None:  # a claim each (RedisJournal batches them itself)
            for chunk in chunks:
                phones = self._numbers(chunk)
                self._ahead[id(chunk)] = _start_claim(
                    self.journal, self.key, phones, self.owner, self._lease_s, self._distinct
                )
            return
        # One job for the group (SqliteJournal.claim_many); a future per chunk.
        lists = [self._numbers(chunk) for chunk in chunks]
        group: asyncio.Future[list[Claim]] = claim_many(
            self.key, lists, owner=self.owner, lease=self._lease_s, distinct=self._distinct
        )
        loop = asyncio.get_running_loop()
        parts = [loop.create_future() for _ in chunks]
        group.add_done_callback(lambda done: _hand_out(done, parts))
        for chunk, part in zip(chunks, parts, strict=True):
            self._ahead[id(chunk)] = part

    async def aclose(self) -> None:
        """Give back the claims of chunks never sent, write this call's queued outcomes
        and free the key (:meth:`Journal.finish`).

        Never raises: the results were returned already. If the journal cannot write
        them, the error is logged and their numbers stay *started* in the journal
        (reported ``unknown`` by a later call, never resent). A cancellation
        meanwhile does not stop the writes.
        """
        unsent, self._ahead = list(self._ahead.values()), {}
        finishing = _keep(self._finish(unsent))
        try:
            await asyncio.shield(finishing)
        except JournalError as exc:
            _log.error(
                "journal key %r: could not write the last outcomes: %s", mask_numbers(self.key), exc
            )

    async def _finish(self, unsent: list[asyncio.Future[Claim]]) -> None:
        for claiming in unsent:
            await _give_back(claiming, self.journal, self.key, self.owner)
        await self.journal.finish(self.key, self.owner)

    async def __call__(self, chunk: Chunk) -> SendResult:
        if not chunk.phones:
            return await self._send_chunk(chunk)
        combined = SendResult()
        fresh_results: list[SendResult] = []
        pending = self._numbers(chunk)
        first = True
        self._heart.enter()
        try:
            while pending:
                try:
                    claiming = self._ahead.pop(id(chunk), None) if first else None
                    if claiming is None:
                        claiming = _start_claim(
                            self.journal,
                            self.key,
                            pending,
                            self.owner,
                            self._lease_s,
                            self._distinct,
                        )
                    claim = await _settle_claim(claiming, self.journal, self.key, self.owner)
                except JournalError as exc:
                    combined.failed.update(
                        dict.fromkeys(pending, f"not sent: the journal failed: {exc}")
                    )
                    combined.error = exc
                    break
                except asyncio.CancelledError:
                    combined.failed.update(
                        dict.fromkeys(pending, "not sent: cancelled before sending")
                    )
                    break
                combined.merge(claim.earlier)
                combined.unknown.update(dict.fromkeys(claim.interrupted, INTERRUPTED))
                if claim.fresh:
                    if first and len(claim.fresh) == len(chunk.phones):
                        sub = chunk  # the common case: all of it is new
                    else:
                        sub = _sub_chunk(chunk, claim.fresh, rejected=first)
                    first = False
                    result = await self._send_chunk(sub)
                    fresh_results.append(result)
                    await _record(self.journal, self.key, claim, result, self.owner)
                pending = claim.held
                if pending and _cancelling():
                    # send_chunk turns a cancellation into a result: stop waiting too.
                    combined.unknown.update(dict.fromkeys(pending, _HELD_ELSEWHERE))
                    break
                if pending:
                    try:
                        await asyncio.sleep(self._poll)
                    except asyncio.CancelledError:
                        combined.unknown.update(dict.fromkeys(pending, _HELD_ELSEWHERE))
                        break
        finally:
            self._heart.exit()
        if first and chunk.rejected:
            combined.failed.update(chunk.rejected)
        return _combine(combined, fresh_results)


class ClaimingAhead(AsyncIterator[Chunk]):
    """Chunks read ahead in groups, each group's claims started together.

    Made by :meth:`JournaledSend.claim_ahead`. ``leftover()`` hands back the chunks
    read but never asked for (the send stopped first): they were never sent, and
    :meth:`JournaledSend.aclose` gives their claims back.
    """

    __slots__ = ("_buffer", "_chunks", "_send", "_window")

    def __init__(self, send: JournaledSend, chunks: AsyncIterator[Chunk], *, window: int) -> None:
        self._send = send
        self._chunks = chunks
        self._window = window
        self._buffer: deque[Chunk] = deque()

    async def __anext__(self) -> Chunk:
        if not self._buffer:
            group = [await anext(self._chunks)]
            while len(group) < self._window:
                try:
                    group.append(await anext(self._chunks))
                except StopAsyncIteration:
                    break
            self._send._claim_group(group)
            self._buffer.extend(group)
        return self._buffer.popleft()

    def leftover(self) -> list[Chunk]:
        """The chunks read and not yet asked for (emptied)."""
        out = list(self._buffer)
        self._buffer.clear()
        return out


def _combine(earlier: SendResult, fresh: list[SendResult]) -> SendResult:
    """A chunk's result: what the journal knew, then what was sent now (its type kept)."""
    if not fresh:
        return earlier
    if len(fresh) == 1 and not earlier.recipients and earlier.error is None:
        return fresh[0]  # nothing from before: the sender's result as it is
    total = type(fresh[0])()
    total.merge(earlier)
    for result in fresh:
        total.merge(result)
    return total


def _takes_distinct(journal: Journal) -> bool:
    try:
        parameters = inspect.signature(journal.claim).parameters
    except (TypeError, ValueError):
        return False
    return "distinct" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _hand_out(group: asyncio.Future[list[Claim]], parts: list[asyncio.Future[Claim]]) -> None:
    """Each chunk's claim from its group's."""
    for n, part in enumerate(parts):
        if part.done():
            continue
        if group.cancelled():
            part.cancel()
        elif (error := group.exception()) is not None:
            part.set_exception(error)
        else:
            part.set_result(group.result()[n])


def _start_claim(  # noqa: PLR0917 - the call's claim, passed on
    journal: Journal, key: str, phones: list[str], owner: str, lease: float, distinct: bool
) -> asyncio.Future[Claim]:
    claim = (
        journal.claim(key, phones, owner=owner, lease=lease, distinct=True)
        if distinct
        else journal.claim(key, phones, owner=owner, lease=lease)
    )
    return asyncio.ensure_future(claim)


async def _settle_claim(
    claiming: asyncio.Future[Claim], journal: Journal, key: str, owner: str
) -> Claim:
    """Wait for a claim; if cancelled meanwhile, give back what it took (nothing was sent)."""
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        _keep(_give_back(claiming, journal, key, owner))
        raise


async def _give_back(
    claiming: asyncio.Future[Claim], journal: Journal, key: str, owner: str
) -> None:
    """Release a claim whose numbers were never sent."""
    with contextlib.suppress(BaseException):
        claim = await claiming
        if claim.fresh:
            await journal.release(key, claim.fresh, owner=owner, attempt=claim.attempt)


async def _record(journal: Journal, key: str, claim: Claim, result: SendResult, owner: str) -> None:
    """Record the outcomes; a cancellation meanwhile does not stop the write."""
    phones = claim.fresh
    outcomes = ResultOutcomes(phones, result)
    writing = _keep(journal.record(key, outcomes, owner=owner, attempt=claim.attempt))
    try:
        await asyncio.shield(writing)
    except asyncio.CancelledError:
        pass  # the write goes on; the result is returned either way
    except JournalError as exc:
        # The numbers stay "started": a later call reports them unknown, never resends.
        # Ids of SMSC and REX400 are "<id>:<phone>", and a key may hold a number:
        # masked, as every signal of the library is (telemetry.mask_numbers).
        _log.error(
            "journal key %r: could not record the outcome of %d numbers (ids %s): %s",
            mask_numbers(key),
            len(phones),
            mask_numbers(", ".join(result.sent)),
            exc,
        )
