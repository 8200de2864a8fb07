"""What every journal shares: the records, the protocol, the pure helpers."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol, overload, runtime_checkable

from .._errors import ConfigurationError, SmsClubError
from .._results import SendResult

DEFAULT_RETENTION = timedelta(days=7)
"""How long a key's entries are kept after its last write."""

DEFAULT_LEASE = timedelta(seconds=30)
"""How long an owner counts as alive after its last claim or heartbeat."""

DEFAULT_POLL = 0.5
"""Seconds between looks at numbers another live call of the same key is sending."""

INTERRUPTED = "started before an interruption; may have been sent"
"""The ``unknown`` reason of a number started by a call that died before its answer."""

NOT_ACCOUNTED = "maybe sent: the result of its request did not mention this number"

_log = logging.getLogger("smsclub_async.journal")

State = Literal["sent", "failed", "unknown"]


class JournalError(SmsClubError):
    """The journal could not be read or written (the database or Redis failed).

    When it happens before a request (the start mark), nothing was sent: the chunk's
    numbers are in ``failed``. After the answer (the done mark), the numbers stay
    *started* in the journal, and a later call reports them ``unknown``.
    """


class JournalConflictError(JournalError, ConfigurationError):
    """The key is already in the journal for another send (another text, sender...).

    Nothing was sent. Use a new key for a new send.
    """


class Outcome(NamedTuple):
    """What happened to one number of a request, as recorded.

    Attributes:
        phone: the normalised number.
        state: ``"sent"``, ``"failed"`` or ``"unknown"``.
        detail: the message id when sent, else the reason.
    """

    phone: str
    state: State
    detail: str


@dataclass(slots=True)
class Claim:
    """What a claim found, number by number (each number in exactly one field).

    Attributes:
        fresh: numbers now marked started by this owner: send them.
        earlier: outcomes recorded before (``sent`` and ``unknown``; ``failed`` ones
            are claimed again, so they are in ``fresh``).
        held: numbers started by a live owner (possibly this one): wait for them.
        interrupted: numbers started by an owner that died: ``unknown``.
        attempt: the journal's handle of this claim, for :meth:`Journal.record`.
    """

    fresh: list[str] = field(default_factory=list)
    earlier: SendResult = field(default_factory=SendResult)
    held: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    attempt: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySummary:
    """One key's entries, counted (for ``smsclub journal show``).

    Attributes:
        key: the key.
        fingerprint: what the key was begun for (a hash of the send's parameters).
        created: when the key was begun (UTC).
        updated: its last write (UTC); it expires ``retention`` after that.
        started: numbers started and not (yet) done.
        sent, failed, unknown: numbers done, by outcome.
    """

    key: str
    fingerprint: str | None
    created: datetime
    updated: datetime
    started: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def recipients(self) -> int:
        """Numbers journaled under the key."""
        return self.started + self.sent + self.failed + self.unknown

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in ISO 8601)."""
        return {
            "key": self.key,
            "fingerprint": self.fingerprint,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "started": self.started,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
        }


@runtime_checkable
class Journal(Protocol):
    """What :func:`journaled` (and so the clients) need from a journal.

    Every method may raise :class:`JournalError`. ``claim`` is one atomic, durable
    write: when it returns, the start marks survive a crash. ``record`` may be
    queued (see there); :meth:`finish` makes a call's records durable.
    """

    async def begin(self, key: str, fingerprint: str) -> None:
        """Register ``key`` for a send; raise :class:`JournalConflictError` if the key
        is already there with another fingerprint."""
        ...

    def claim(
        self,
        key: str,
        phones: Sequence[str],
        *,
        owner: str,
        lease: float,
        distinct: bool = False,
    ) -> Awaitable[Claim]:
        """Mark the numbers nobody started as started by ``owner``; report the rest.

        Also makes ``owner`` alive for ``lease`` seconds. The start marks are durable
        when the claim returns: a request may leave only then.

        ``distinct``: ``owner`` never claims a number twice, not even in one claim
        (its send deduplicates), so a journal may skip what only a repeat would need
        (an index of its numbers). A journal may ignore it.
        """
        ...

    def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> Awaitable[None]:
        """Record the outcomes of numbers ``owner`` started.

        ``attempt`` is the :attr:`Claim.attempt` of their claim, when known.
        ``outcomes`` should cover every number of that claim: a journal may record
        the claim as a whole, the numbers left out as ``unknown``.

        A journal may only queue the outcomes here and write them with its next
        write (a claim, usually the next one), a moment later, or at the latest in
        :meth:`finish`: a crash meanwhile leaves the numbers *started*, so reported
        ``unknown`` and never sent again. Nothing is lost that was promised.
        """
        ...

    async def finish(self, key: str, owner: str) -> None:
        """The call ``owner`` is over for ``key``: write its queued outcomes and let
        other calls take the key over at once."""
        ...

    async def release(
        self, key: str, phones: Sequence[str], *, owner: str, attempt: str | None = None
    ) -> None:
        """Drop ``owner``'s start marks of numbers whose request never left.

        ``attempt`` is the :attr:`Claim.attempt` of their claim, when known.
        """
        ...

    async def heartbeat(self, owner: str, lease: float) -> None:
        """Keep ``owner`` alive for ``lease`` more seconds."""
        ...

    async def load(self, key: str) -> SendResult:
        """Everything recorded under ``key``: started numbers in ``unknown``."""
        ...

    async def started(self, key: str) -> dict[str, str]:
        """The numbers started and not done under ``key``: phone -> owner."""
        ...

    async def summary(self) -> list[KeySummary]:
        """Every key, counted, most recently written first."""
        ...

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        """Drop keys not written for ``older_than`` (the retention by default).

        Returns:
            How many keys were dropped.
        """
        ...

    async def aclose(self) -> None:
        """Release the journal's resources (safe to call twice)."""
        ...


def fingerprint(**parts: object) -> str:
    """A stable hash of a send's parameters, for :meth:`Journal.begin`.

    Example:
        >>> fingerprint(text="Hi", sender="Shop") == fingerprint(sender="Shop", text="Hi")
        True
    """
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


_HOST = socket.gethostname()


def new_owner() -> str:
    """A fresh owner name: ``host:pid:random`` (the host and pid tell liveness)."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _process_gone(owner: str) -> bool:
    """Whether ``owner`` ran on this host in a process that no longer exists."""
    host = owner.rpartition(":")[0]  # host:pid:random
    host, _, pid_text = host.rpartition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but not ours to signal
        return False
    return False


def _alive(owner: str, alive_until: float | None, now: float) -> bool:
    return alive_until is not None and alive_until > now and not _process_gone(owner)


def outcomes_of(phones: Iterable[str], result: SendResult) -> list[Outcome]:
    """Each of ``phones``' outcome in ``result`` (a number it does not mention: unknown)."""
    ids = {phone: message_id for message_id, phone in result.sent.items()}
    out: list[Outcome] = []
    for phone in phones:
        if phone in ids:
            out.append(Outcome(phone, "sent", ids[phone]))
        elif phone in result.failed:
            out.append(Outcome(phone, "failed", result.failed[phone]))
        elif phone in result.unknown:
            out.append(Outcome(phone, "unknown", result.unknown[phone]))
        else:
            out.append(Outcome(phone, "unknown", NOT_ACCOUNTED))
    return out


class ResultOutcomes(Sequence[Outcome]):
    """The outcomes of a claim's numbers in a send's result, worked out when read.

    What :func:`journaled` hands to :meth:`Journal.record`: a journal that can store
    the result as it is (its three dicts) skips building an :class:`Outcome` per
    number; any other reads it as the sequence of :func:`outcomes_of`.

    Attributes:
        phones: the claim's numbers.
        result: the result of the request that carried them.
    """

    __slots__ = ("_outcomes", "phones", "result")

    def __init__(self, phones: list[str], result: SendResult) -> None:
        self.phones = phones
        self.result = result
        self._outcomes: list[Outcome] | None = None

    def _all(self) -> list[Outcome]:
        if self._outcomes is None:
            self._outcomes = outcomes_of(self.phones, self.result)
        return self._outcomes

    def __len__(self) -> int:
        return len(self.phones)

    @overload
    def __getitem__(self, index: int) -> Outcome: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Outcome]: ...
    def __getitem__(self, index: int | slice) -> Outcome | Sequence[Outcome]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self._all())

    def message_ids(self) -> list[str | None]:
        """The message id of each number, in the numbers' order (``None``: not sent)."""
        sent = self.result.sent
        if list(sent.values()) == self.phones:  # the usual answer: ids in that order
            return list(sent)
        id_of = {phone: message_id for message_id, phone in sent.items()}
        return [id_of.get(phone) for phone in self.phones]

    def __repr__(self) -> str:
        return f"ResultOutcomes({len(self.phones)} numbers, {self.result!r})"


def _seconds(value: timedelta | float) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ConfigurationError(f"a journal duration must be positive, got {value!r}")
    return seconds


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


# Entries, as the SQLite and memory journals keep them: (state, owner-or-id, reason).
_STARTED = "started"


def _sort_entry(
    claim: Claim,
    phone: str,
    *,
    state: str,
    detail: str | None,
    owners: Mapping[str, float | None],
    now: float,
) -> None:
    """Put a number that is not fresh in its field of ``claim``."""
    if state == "sent":
        claim.earlier.sent[detail or ""] = phone
    elif state == "unknown":
        claim.earlier.unknown[phone] = detail or ""
    elif _alive(detail or "", owners.get(detail or ""), now):  # started: detail = owner
        claim.held.append(phone)
    else:
        claim.interrupted.append(phone)


def _mark(outcome: Outcome) -> str:
    return _MARK_OF[outcome.state] + outcome.detail


def _conflict(key: str) -> JournalConflictError:
    return JournalConflictError(
        f"the journal key {key!r} was used for another send (another text, sender,"
        " recipients' messages or options); nothing was sent. Use a new key for a new send"
    )


def _load_entry(result: SendResult, phone: str, state: str, detail: str | None) -> None:
    if state == "sent":
        result.sent[detail or ""] = phone
    elif state == "failed":
        result.failed[phone] = detail or ""
    elif state == "unknown":
        result.unknown[phone] = detail or ""
    else:
        result.unknown[phone] = INTERRUPTED


def _summary(
    key: str, fp: str | None, created: float, updated: float, counts: dict[str, int]
) -> KeySummary:
    return KeySummary(
        key=key,
        fingerprint=fp,
        created=_when(created),
        updated=_when(updated),
        started=counts.get(_STARTED, 0),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        unknown=counts.get("unknown", 0),
    )


_TOUCH_EVERY = 60.0
"""Seconds between writes of a key's ``updated`` time by one journal."""
_STATE_OF = {"S": "sent", "f": "failed", "u": "unknown"}
_MARK_OF = {"sent": "S", "failed": "f", "unknown": "u"}
