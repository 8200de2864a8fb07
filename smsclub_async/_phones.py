"""Recipients: normalise, validate, de-duplicate and chunk (pure, no I/O)."""

from __future__ import annotations

import asyncio
import contextlib
import re
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
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Generic, TypeVar

__all__ = [
    "MAX_PER_REQUEST",
    "Chunk",
    "PhoneSet",
    "SourceFailure",
    "check_message_id",
    "check_source",
    "chunk_messages",
    "chunk_phones",
    "chunk_unique",
    "invalid_phone_reason",
    "is_utf8_encodable",
    "normalize_phone",
]

LINGER = 0.05
"""Seconds a partial chunk from an async source waits for its next number."""

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


MAX_ID_LENGTH = 64


def check_message_id(raw: object) -> str:
    """A message id as every client names it: stripped text; ValueError if not an id.

    Example:
        >>> check_message_id(" 100 "), check_message_id(100)
        ('100', '100')
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"a message id must be a string or a whole number, got {raw!r:.60}")  # noqa: TRY004 - one error type for all bad input
    text = str(raw).strip() if isinstance(raw, str) or abs(raw) < 10**MAX_ID_LENGTH else ""
    if not text or len(text) > MAX_ID_LENGTH or not text.isprintable():
        raise ValueError(f"not a message id: {raw!r:.80}")
    return text


def is_utf8_encodable(text: str) -> bool:
    """Whether a text can be sent as UTF-8 (lone surrogates cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def invalid_phone_reason(raw: object) -> str:
    """The reason put in ``failed`` for a number that never left the client."""
    shown = raw if isinstance(raw, str) else _safe_repr(raw)
    return f"Incorrect phone number ({shown:.80}): not 10-15 digits after removing separators"


def _safe_repr(raw: object) -> str:
    """``repr(raw)``, or a stand-in when the caller's object cannot even say that."""
    try:
        return repr(raw)
    except Exception:
        return f"<a {type(raw).__name__} whose repr() failed>"


_SMALL_MAX = 1 << 16
_SHARD_BITS = 15
_MIX = 0x9E3779B97F4A7C15


def _phone_key(phone: str) -> int:
    # At most 15 digits is below 2**50; the length keeps leading zeros apart.
    return int(phone) | len(phone) << 50


class PhoneSet:
    """An exact set of normalised phone numbers, cheap in time and in memory.

    The first 65,536 numbers go into a built-in ``set`` of integers (C speed, about 64
    bytes a number). Past that, so that ten million numbers never take a gigabyte,
    further numbers go to 32,768 ``bytearray`` buckets of packed 8-byte keys, about
    14 bytes a number, searched at C speed (``bytes in``). Nothing is moved when the
    first set fills up, and no bucket is ever copied whole to grow.
    """

    __slots__ = ("_buckets", "_small", "_spill_at", "_spilled")

    def __init__(self, *, spill_at: int = _SMALL_MAX) -> None:
        self._spill_at = spill_at  # lower in tests, to exercise the buckets
        self._small: set[int] = set()
        self._buckets: list[bytearray] = []
        self._spilled = 0

    def __len__(self) -> int:
        return len(self._small) + self._spilled

    def add(self, phone: str) -> bool:
        """Add a normalised phone; return ``False`` if it was already there."""
        key = int(phone) | len(phone) << 50  # _phone_key, inlined: this is the hot path
        small = self._small
        if key in small:
            return False
        if not self._buckets:
            small.add(key)
            if len(small) >= self._spill_at:
                self._buckets = [bytearray() for _ in range(1 << _SHARD_BITS)]
            return True
        packed = key.to_bytes(8, "little")
        bucket = self._buckets[key * _MIX >> 40 & ((1 << _SHARD_BITS) - 1)]
        if packed in bucket and _holds(bucket, packed):
            return False
        bucket += packed
        self._spilled += 1
        return True

    def __contains__(self, phone: object) -> bool:
        if not isinstance(phone, str) or not (phone.isascii() and phone.isdigit()):
            return False
        key = _phone_key(phone)
        if key in self._small:
            return True
        if not self._buckets:
            return False
        bucket = self._buckets[key * _MIX >> 40 & ((1 << _SHARD_BITS) - 1)]
        return _holds(bucket, key.to_bytes(8, "little"))


def _holds(bucket: bytearray, packed: bytes) -> bool:
    """Whether ``packed`` is one of the bucket's 8-byte keys (not a match across two)."""
    at = bucket.find(packed)
    while at != -1:
        if not at & 7:
            return True
        at = bucket.find(packed, at + 1)
    return False


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


class SourceFailure(Exception):  # noqa: N818 - a wrapper, never seen by callers
    """The caller's recipients source raised while ``chunk`` was being filled.

    The original exception is the ``__cause__``; ``chunk`` holds what was read.
    """

    def __init__(self, chunk: Chunk) -> None:
        super().__init__("the recipients' source raised")
        self.chunk = chunk


class _Source(Generic[T]):
    """A sync or async iterable, read in lists of at most ``n`` items at a time.

    A sync source gives up to ``n`` in one go, so per-item work runs in a plain loop
    (an async step per number cost more than validating it). An async source gives
    one item at a time: its next item may be slow to come, and one already here must
    not wait for it. Nothing is read beyond what is asked for, so a caller that stops
    leaves the source exactly after what it used.
    """

    __slots__ = ("_async", "_failure", "_next", "_sync", "stalled")

    def __init__(self, items: Iterable[T] | AsyncIterable[T]) -> None:
        self._async: AsyncIterator[T] | None = None
        self._sync: Iterator[T] | None = None
        self._next: asyncio.Future[T] | None = None
        self._failure: Exception | None = None
        self.stalled = False
        """The last :meth:`take` returned early: the next item kept the others waiting."""
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)

    async def take(self, n: int, *, holding: bool = False) -> list[T]:
        """Up to ``n`` items; empty once exhausted.

        From an async source, items already read never wait more than
        :data:`LINGER` seconds for the next one (``holding``: the caller already
        holds some): ``stalled`` then says the source is slow, so that a partial
        chunk goes out instead of waiting for a number that may be minutes away.
        """
        if self._failure is not None:
            raise self._failure
        items: list[T] = []
        try:
            if self._sync is not None:
                # extend() keeps what the iterator gave before it raised.
                items.extend(islice(self._sync, n))
            else:
                await self._take_async(n, items, holding=holding)
        except Exception as exc:
            if not items:
                raise
            # Hand over what was read; the failure comes with the next call.
            self._failure = exc
        return items

    async def _take_async(self, n: int, items: list[T], *, holding: bool) -> None:
        assert self._async is not None
        self.stalled = False
        while len(items) < n:
            if self._next is None:
                if not (items or holding):
                    try:
                        items.append(await anext(self._async))
                    except StopAsyncIteration:
                        break
                    continue
                self._next = asyncio.ensure_future(anext(self._async))
            if not self._next.done():
                await asyncio.wait((self._next,), timeout=LINGER)
                if not self._next.done():
                    self.stalled = True
                    break
            upcoming, self._next = self._next, None
            try:
                items.append(upcoming.result())
            except StopAsyncIteration:
                break

    async def aclose(self) -> None:
        """Close an async source (a sync one is left as it is)."""
        if self._next is not None:
            self._next.cancel()
            with contextlib.suppress(BaseException):
                await self._next
            self._next = None
        aclose = getattr(self._async, "aclose", None)
        if aclose is not None:
            await aclose()


async def _take(reader: _Source[T], n: int, chunk: Chunk) -> list[T]:
    try:
        return await reader.take(n, holding=bool(chunk.phones))
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as exc:
        raise SourceFailure(chunk) from exc


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
    reader = _Source(items)
    try:
        while batch := await reader.take(size - len(chunk), holding=bool(chunk)):
            for raw in batch:
                key = normalize(raw)
                if key not in seen:
                    seen.add(key)
                    chunk.append(key)
            if len(chunk) == size or (reader.stalled and chunk):
                yield chunk
                chunk = []
    finally:
        await reader.aclose()
    if chunk:
        yield chunk


def _reject_key(raw: object) -> str:
    return raw if isinstance(raw, str) else _safe_repr(raw)


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
        while batch := await _take(reader, size - len(chunk.phones), chunk):
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
            if len(chunk.phones) == size or (reader.stalled and chunk.phones):
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
        while batch := await _take(reader, size - len(chunk.phones), chunk):
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
            if len(chunk.phones) == size or (reader.stalled and chunk.phones):
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
