"""The in-memory journal: one process, what a key without a journal uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from .._results import SendResult
from ._model import (
    _STARTED,
    _TOUCH_EVERY,
    DEFAULT_RETENTION,
    Claim,
    KeySummary,
    Outcome,
    _conflict,
    _load_entry,
    _seconds,
    _sort_entry,
    _summary,
)


@dataclass(slots=True)
class _MemoryKey:
    fingerprint: str | None
    created: float
    updated: float
    entries: dict[str, tuple[str, str | None]] = field(default_factory=dict)


class MemoryJournal:
    """A journal in this process's memory: protects one process from a repeated call.

    What a client uses when ``key=`` is given without a journal. Forgotten when the
    process ends: it does not survive a crash and is not shared between processes
    (use :class:`SqliteJournal` or :class:`RedisJournal` for that). It holds every
    journaled number in memory (about 150 bytes each) until its key expires: keys
    past the retention are dropped when a send begins (at most once a minute) and by
    :meth:`purge`.

    Every method finishes without awaiting anything, so each is atomic on its loop.

    Args:
        retention: how long a key is kept after its last write.
        clock: seconds since the epoch (tests patch it).
    """

    def __init__(
        self, *, retention: timedelta = DEFAULT_RETENTION, clock: Callable[[], float] = time.time
    ) -> None:
        self.retention = retention
        self._retention_s = _seconds(retention)
        self._clock = clock
        self._keys: dict[str, _MemoryKey] = {}
        self._owners: dict[str, float] = {}
        self._purged_at = float("-inf")

    def __repr__(self) -> str:
        return f"MemoryJournal(keys={len(self._keys)})"

    def _key(self, key: str, now: float) -> _MemoryKey:
        entry = self._keys.get(key)
        if entry is not None and entry.updated < now - self._retention_s:
            entry = None
        if entry is None:
            entry = self._keys[key] = _MemoryKey(None, now, now)
        return entry

    async def begin(self, key: str, fingerprint: str) -> None:
        now = self._clock()
        if now - self._purged_at >= _TOUCH_EVERY:  # expired keys go, once a minute at most
            self._purged_at = now
            await self.purge()
        entry = self._key(key, now)
        if entry.fingerprint is None:
            entry.fingerprint = fingerprint
        elif entry.fingerprint != fingerprint:
            raise _conflict(key)

    async def claim(
        self,
        key: str,
        phones: Sequence[str],
        *,
        owner: str,
        lease: float,
        distinct: bool = False,
    ) -> Claim:
        now = self._clock()
        self._owners[owner] = now + lease
        entry = self._key(key, now)
        claim = Claim()
        owners: dict[str, float] = self._owners
        for phone in dict.fromkeys(phones):
            row = entry.entries.get(phone)
            if row is None or row[0] == "failed":
                claim.fresh.append(phone)
                entry.entries[phone] = (_STARTED, owner)
            else:
                _sort_entry(claim, phone, state=row[0], detail=row[1], owners=owners, now=now)
        if claim.fresh:
            entry.updated = now
        return claim

    async def record(
        self, key: str, outcomes: Sequence[Outcome], *, owner: str, attempt: str | None = None
    ) -> None:
        now = self._clock()
        entry = self._key(key, now)
        for outcome in outcomes:
            if entry.entries.get(outcome.phone) == (_STARTED, owner):
                entry.entries[outcome.phone] = (outcome.state, outcome.detail)
        entry.updated = now

    async def finish(self, key: str, owner: str) -> None:
        """Records are written at once here: nothing to do."""

    async def release(
        self, key: str, phones: Sequence[str], *, owner: str, attempt: str | None = None
    ) -> None:
        entry = self._keys.get(key)
        if entry is None:
            return
        for phone in phones:
            if entry.entries.get(phone) == (_STARTED, owner):
                del entry.entries[phone]

    async def heartbeat(self, owner: str, lease: float) -> None:
        self._owners[owner] = self._clock() + lease

    async def load(self, key: str) -> SendResult:
        result = SendResult()
        entry = self._keys.get(key)
        if entry is not None:
            for phone, (state, detail) in entry.entries.items():
                _load_entry(result, phone, state, detail)
        return result

    async def started(self, key: str) -> dict[str, str]:
        entry = self._keys.get(key)
        if entry is None:
            return {}
        return {p: o or "" for p, (state, o) in entry.entries.items() if state == _STARTED}

    async def summary(self) -> list[KeySummary]:
        out = []
        for key, entry in self._keys.items():
            counts: dict[str, int] = {}
            for state, _ in entry.entries.values():
                counts[state] = counts.get(state, 0) + 1
            out.append(_summary(key, entry.fingerprint, entry.created, entry.updated, counts))
        return sorted(out, key=lambda s: s.updated, reverse=True)

    async def purge(self, *, older_than: timedelta | None = None) -> int:
        age = self._retention_s if older_than is None else older_than.total_seconds()
        before = self._clock() - age
        old = [key for key, entry in self._keys.items() if entry.updated < before]
        for key in old:
            del self._keys[key]
        for owner in [o for o, until in self._owners.items() if until < before]:
            del self._owners[owner]
        return len(old)

    async def aclose(self) -> None:
        """Nothing to release."""
