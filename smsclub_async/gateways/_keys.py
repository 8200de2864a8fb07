"""Message keys, form bodies and id chunks shared by the gateway clients (pure).

SMSC.kz and REX400 issue one id per *request* and tell recipients apart by
(id, phone), so a message is named here by the key ``"<id>:<phone>"``: the keys
of :attr:`SendResult.sent` are such keys and :meth:`status` takes them back.
The phone never contains ``:``, so an id that does is still split correctly
(at the last colon).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping

from .._phones import MAX_PER_REQUEST, check_message_id, chunk_unique, normalize_phone

__all__ = [
    "MessageRefs",
    "form_body",
    "message_key",
    "pair_chunks",
    "split_key",
]

Ref = str | int | tuple[str | int, str]
MessageRefs = Ref | Iterable[Ref] | AsyncIterable[Ref]
"""Message keys (``"<id>:<phone>"``), bare ids, or ``(id, phone)`` pairs; sync or async."""


def message_key(message_id: str | int, phone: str) -> str:
    """The key of one recipient's message.

    Example:
        >>> message_key(42, "77011234567")
        '42:77011234567'
    """
    return f"{message_id}:{phone}"


def split_key(key: str) -> tuple[str, str | None]:
    """Split a message key into (id, phone); a bare id gives (id, None).

    Example:
        >>> split_key("42:77011234567")
        ('42', '77011234567')
        >>> split_key("order:7")
        ('order:7', None)
    """
    head, colon, tail = key.rpartition(":")
    if colon and head and normalize_phone(tail) == tail:
        return head, tail
    return key, None


def parse_ref(ref: object) -> tuple[str, str | None]:
    """One message reference as (id, phone or None); raises ValueError for bad input."""
    if isinstance(ref, tuple):
        if len(ref) != 2:
            raise ValueError(f"a message reference pair is (id, phone), got {ref!r}")
        message_id, raw_phone = ref
        phone = normalize_phone(raw_phone)
        if phone is None:
            raise ValueError(f"not a phone number in {ref!r}")
        return check_message_id(message_id), phone
    if isinstance(ref, str):
        message_id, phone = split_key(ref.strip())
        return check_message_id(message_id), phone
    return check_message_id(ref), None


def pair_chunks(
    refs: MessageRefs, *, size: int = MAX_PER_REQUEST
) -> AsyncIterator[list[tuple[str, str | None]]]:
    """De-duplicated (id, phone) references in chunks of at most ``size``."""
    source = [refs] if isinstance(refs, str | int | tuple) else refs
    return chunk_unique(source, parse_ref, size=size, what="message_ids")


def form_body(params: Mapping[str, str], *, encoding: str = "utf-8") -> bytes:
    """An ``application/x-www-form-urlencoded`` body, percent-encoding in ``encoding``.

    Raises:
        ValueError: a value has characters ``encoding`` cannot represent.
    """
    try:
        return urllib.parse.urlencode(dict(params), encoding=encoding).encode("ascii")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise ValueError(
            f"the text has characters that {encoding} cannot encode ({bad!r}); use utf-8"
        ) from exc
