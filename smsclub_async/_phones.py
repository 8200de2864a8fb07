"""Recipients: normalise, validate, de-duplicate and chunk (pure, no I/O)."""

from __future__ import annotations

import re
from array import array
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import aclosing
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Generic, TypeVar

__all__ = [
    "MAX_PER_REQUEST",
    "Chunk",
    "PhoneSet",
    "aiter_any",
    "check_source",
    "chunk_messages",
    "chunk_phones",
    "chunk_unique",
    "invalid_phone_reason",
    "is_utf8_encodable",
    "normalize_phone",
]

MAX_PER_REQUEST = 100
"""Numbers (v1), entries (v2) or ids (status) the gateway takes in one request."""

_SEPARATORS = re.compile(r"[\s\-().]+")
_DIGITS = re.compile(r"[0-9]{10,15}")

T = TypeVar("T")


def normalize_phone(raw: object) -> str | None:
    """Strip spaces, dashes, dots, brackets and a leading ``+``; ``None`` if not 10-15 digits.

    Example:
        >>> normalize_phone("+38 (098) 936-11-31")
        '380989361131'
        >>> normalize_phone("12345") is None
        True
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    if 10 <= len(raw) <= 15 and raw.isascii() and raw.isdigit():
        return raw  # the common case, without the regexes
    phone = _SEPARATORS.sub("", raw)
    phone = phone.removeprefix("+")
    # `fullmatch` on an ASCII class: other Unicode digits (e.g. Arabic-Indic) are refused.
    return phone if _DIGITS.fullmatch(phone) else None


def is_utf8_encodable(text: str) -> bool:
    """Whether a text can be sent as UTF-8 (lone surrogates cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_phone_reason(raw: object) -> str:
    """The reason put in ``failed`` for a number that never left the client."""
    return f"Incorrect phone number ({raw}): not 10-15 digits after removing separators"


_SMALL_MAX = 1 << 16
_SHARDS = 256
_SHARD_SLOTS = 1024
_MIX = 0x9E3779B97F4A7C15
_ZERO = (0,)


def _phone_key(phone: str) -> int:
    # At most 15 digits is below 2**50; the length keeps leading zeros apart and makes
    # a key never 0 (the empty slot).
    return int(phone) | len(phone) << 50


class PhoneSet:
    """An exact set of normalised phone numbers, cheap in time and in memory.

    The first 65,536 numbers go into a built-in ``set`` of integers (C speed, about 64
    bytes a number). Past that, so that ten million numbers never take a gigabyte,
    they move to 256 open-addressed ``array`` tables of 64-bit integers: 16-32 bytes
    a number (8-byte slots at load 1/4-1/2). Each table doubles on its own, so
    growing never holds a second copy of the whole set.
    """

    __slots__ = ("_counts", "_small", "_spill_at", "_tables")

    def __init__(self, *, spill_at: int = _SMALL_MAX) -> None:
        self._spill_at = spill_at  # lower in tests, to exercise the tables
        self._small: set[int] | None = set()
        self._tables: list[array[int]] = []
        self._counts: list[int] = []

    def __len__(self) -> int:
        return len(self._small) if self._small is not None else sum(self._counts)

    def add(self, phone: str) -> bool:
        """Add a normalised phone; return ``False`` if it was already there."""
        key = int(phone) | len(phone) << 50  # _phone_key, inlined: this is the hot path
        small = self._small
        if small is not None:
            if key in small:
                return False
            small.add(key)
            if len(small) > self._spill_at:
                self._spill(small)
            return True
        mixed = key * _MIX
        shard = mixed >> 56 & (_SHARDS - 1)
        table = self._tables[shard]
        mask = len(table) - 1
        slot = mixed >> 13 & mask
        while found := table[slot]:
            if found == key:
                return False
            slot = slot + 1 & mask
        table[slot] = key
        counts = self._counts
        counts[shard] += 1
        if counts[shard] * 2 > mask:
            self._grow(shard)
        return True

    def __contains__(self, phone: object) -> bool:
        if not isinstance(phone, str) or not (phone.isascii() and phone.isdigit()):
            return False
        key = _phone_key(phone)
        if self._small is not None:
            return key in self._small
        mixed = key * _MIX
        shard = mixed >> 56 & (_SHARDS - 1)
        table = self._tables[shard]
        mask = len(table) - 1
        slot = mixed >> 13 & mask
        while table[slot] != 0:
            if table[slot] == key:
                return True
            slot = slot + 1 & mask
        return False

    def _spill(self, small: set[int]) -> None:
        self._tables = [array("Q", _ZERO) * _SHARD_SLOTS for _ in range(_SHARDS)]
        self._counts = [0] * _SHARDS
        self._small = None
        counts = self._counts
        for key in small:
            shard = key * _MIX >> 56 & (_SHARDS - 1)
            self._place(self._tables[shard], key)
            counts[shard] += 1
            if counts[shard] * 2 > len(self._tables[shard]) - 1:
                self._grow(shard)  # never let a table fill up, however the keys fall

    def _grow(self, shard: int) -> None:
        old = self._tables[shard]
        table = array("Q", _ZERO) * (2 * len(old))
        for key in old:
            if key:
                self._place(table, key)
        self._tables[shard] = table

    @staticmethod
    def _place(table: array[int], key: int) -> None:
        """Put a key known to be absent into its slot."""
        mask = len(table) - 1
        slot = key * _MIX >> 13 & mask
        while table[slot]:
            slot = slot + 1 & mask
        table[slot] = key


@dataclass(slots=True)
class Chunk:
    """One request's worth of recipients plus what was refused while filling it.

    Attributes:
        phones: normalised numbers, at most :data:`MAX_PER_REQUEST`, no repeats.
        messages: for personalised sends, the message of each phone (same order).
        rejected: input -> reason, for numbers refused before any request.
        index: the position of the chunk in the job (0-based).
    """

    phones: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    index: int = 0


async def aiter_any(items: Iterable[T] | AsyncIterable[T]) -> AsyncGenerator[T, None]:
    """Iterate a sync or async iterable asynchronously, closing an async source at the end."""
    if isinstance(items, AsyncIterable):
        iterator = aiter(items)
        try:
            async for item in iterator:
                yield item
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for item in items:
            yield item


class _Source(Generic[T]):
    """A sync or async iterable, read in lists of at most ``n`` items at a time.

    A sync source gives up to ``n`` in one go, so per-item work runs in a plain loop
    (an async step per number cost more than validating it). An async source gives
    one item at a time: its next item may be slow to come, and one already here must
    not wait for it. Nothing is read beyond what is asked for, so a caller that stops
    leaves the source exactly after what it used.
    """

    __slots__ = ("_async", "_sync")

    def __init__(self, items: Iterable[T] | AsyncIterable[T]) -> None:
        self._async: AsyncIterator[T] | None = None
        self._sync: Iterator[T] | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)

    async def take(self, n: int) -> list[T]:
        """Up to ``n`` items (one, from an async source); empty once exhausted."""
        if self._sync is not None:
            return list(islice(self._sync, n))
        assert self._async is not None
        try:
            return [await anext(self._async)]
        except StopAsyncIteration:
            return []

    async def aclose(self) -> None:
        """Close an async source (a sync one is left as it is)."""
        aclose = getattr(self._async, "aclose", None)
        if aclose is not None:
            await aclose()


def check_source(items: object, what: str) -> None:
    """Refuse, before any request, a source that is not a phone/id or an iterable of them."""
    if isinstance(items, bytes | bytearray | memoryview | float | bool) or items is None:
        raise ValueError(
            f"{what} must be a string, a whole number or an iterable of them, got {items!r}"
        )
    if not isinstance(items, str | int | Iterable | AsyncIterable):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError throughout the API
            f"{what} must be a string, a whole number or an iterable of them,"
            f" got {type(items).__name__}"
        )


K = TypeVar("K", bound=Hashable)


def chunk_unique(
    items: Iterable[Any] | AsyncIterable[Any],
    normalize: Callable[[Any], K],
    *,
    size: int = MAX_PER_REQUEST,
    what: str,
) -> AsyncGenerator[list[K], None]:
    """``normalize`` each item, drop repeats, and yield lists of at most ``size``.

    For message ids and (id, phone) references; ``normalize`` raises ValueError for
    an item it refuses. Callers wrap a single id in a list first.

    Raises:
        ValueError: at once, if ``items`` is not an iterable (None, a float, bytes).
    """
    check_source(items, what)
    return _chunk_unique(items, normalize, size)


async def _chunk_unique(
    items: Iterable[Any] | AsyncIterable[Any], normalize: Callable[[Any], K], size: int
) -> AsyncGenerator[list[K], None]:
    seen: set[K] = set()
    chunk: list[K] = []
    async with aclosing(aiter_any(items)) as source:
        async for raw in source:
            key = normalize(raw)
            if key in seen:
                continue
            seen.add(key)
            chunk.append(key)
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _reject_key(raw: object) -> str:
    return raw if isinstance(raw, str) else repr(raw)


def chunk_phones(
    phones: str | Iterable[str] | AsyncIterable[str],
    *,
    size: int = MAX_PER_REQUEST,
    deduplicate: bool = True,
) -> AsyncGenerator[Chunk, None]:
    """Normalise, validate and de-duplicate numbers, yielding chunks of at most ``size``.

    Holds at most one chunk plus the de-duplication set, however long the input.
    A chunk with no phones is yielded only to report rejected input.

    Raises:
        ValueError: at once (before any request), if ``phones`` is not a number or an
            iterable of numbers.
    """
    check_source(phones, "phones")
    return _chunk_phones(phones, size=size, deduplicate=deduplicate)


async def _chunk_phones(
    phones: str | Iterable[str] | AsyncIterable[str],
    *,
    size: int,
    deduplicate: bool,
) -> AsyncGenerator[Chunk, None]:
    source: Iterable[str] | AsyncIterable[str] = (
        [phones] if isinstance(phones, str | int) else phones
    )
    add = PhoneSet().add if deduplicate else None
    chunk = Chunk()
    reader = _Source(source)
    try:
        # Ask for no more than the chunk has room for: when it fills and is yielded,
        # nothing more has been read from the caller's source.
        while batch := await reader.take(size - len(chunk.phones)):
            for raw in batch:
                # normalize_phone's fast path, inlined: most numbers arrive clean.
                if type(raw) is str and 10 <= len(raw) <= 15 and raw.isdigit() and raw.isascii():
                    phone = raw
                else:
                    normal = normalize_phone(raw)
                    if normal is None:
                        chunk.rejected[_reject_key(raw)] = invalid_phone_reason(raw)
                        continue
                    phone = normal
                if add is not None and not add(phone):
                    continue
                chunk.phones.append(phone)
            if len(chunk.phones) == size:
                yield chunk
                chunk = Chunk(index=chunk.index + 1)
    finally:
        await reader.aclose()
    if chunk.phones or chunk.rejected:
        yield chunk


def chunk_messages(
    messages: Mapping[str, str] | Iterable[tuple[str, str]] | AsyncIterable[tuple[str, str]],
    *,
    size: int = MAX_PER_REQUEST,
    check: Callable[[str], str | None] | None = None,
) -> AsyncGenerator[Chunk, None]:
    """Like :func:`chunk_phones` for (phone, message) pairs; the first pair of a phone wins.

    ``check(text)`` may return a reason to refuse a message (e.g. too many parts).

    Raises:
        ValueError: at once, if ``messages`` is not a mapping or an iterable.
    """
    if isinstance(messages, str | bytes | bytearray) or not isinstance(
        messages, Mapping | Iterable | AsyncIterable
    ):
        raise ValueError(  # noqa: TRY004 - bad input is a ValueError throughout the API
            "messages must be a mapping phone -> text or an iterable of (phone, text)"
            f" pairs, got {type(messages).__name__}"
        )
    return _chunk_messages(messages, size=size, check=check)


async def _chunk_messages(
    messages: Mapping[str, str] | Iterable[tuple[str, str]] | AsyncIterable[tuple[str, str]],
    *,
    size: int,
    check: Callable[[str], str | None] | None,
) -> AsyncGenerator[Chunk, None]:
    source: Iterable[tuple[str, str]] | AsyncIterable[tuple[str, str]] = (
        messages.items() if isinstance(messages, Mapping) else messages
    )
    seen = PhoneSet()
    chunk = Chunk()
    reader = _Source(source)
    try:
        while batch := await reader.take(size - len(chunk.phones)):
            for pair in batch:
                if not isinstance(pair, tuple | list) or len(pair) != 2:
                    chunk.rejected[_reject_key(pair)] = f"not a (phone, message) pair: {pair!r:.80}"
                    continue
                raw, text = pair
                phone = normalize_phone(raw)
                if phone is None:
                    chunk.rejected[_reject_key(raw)] = invalid_phone_reason(raw)
                    continue
                if not seen.add(phone):
                    continue  # the first pair of a phone wins, even when it is refused
                reason = _message_refusal(text, check)
                if reason is not None:
                    chunk.rejected[phone] = reason
                    continue
                chunk.phones.append(phone)
                chunk.messages.append(text)
            if len(chunk.phones) == size:
                yield chunk
                chunk = Chunk(index=chunk.index + 1)
    finally:
        await reader.aclose()
    if chunk.phones or chunk.rejected:
        yield chunk


def _message_refusal(text: object, check: Callable[[str], str | None] | None) -> str | None:
    """Why a personalised message cannot be sent, or None."""
    if not isinstance(text, str) or not text.strip():
        return "Message cannot be blank."
    if not is_utf8_encodable(text):
        return "Message contains a lone surrogate (not valid UTF-8)"
    return check(text) if check is not None else None
