"""Where each recipient of a chunk ends up, whatever the gateway (pure, no I/O).

The rules that keep callers from sending twice live here, once for every gateway:

* ``failed`` only when the gateway certainly did not send (it said so per number, or
  the request was refused, or never left, before processing);
* ``unknown`` whenever the request may have been processed and we could not learn
  the ids: a 5xx or dropped answer after writing, a garbled 200, a duplicate refusal
  answering our own retry (the earlier attempt went out, its ids are lost), a
  cancellation in flight.

Each gateway's accounting reads the accepted answers (its own format) and hands
every other outcome to :func:`account_failure`.
"""

from __future__ import annotations

from typing import TypeVar

from ._errors import DecodeError, SmsClubError
from ._phones import Chunk, normalize_phone
from ._pipeline import Outcome
from ._results import SendResult

__all__ = [
    "DEADLINE_PASSED",
    "DUPLICATE_OF_OUR_RETRY",
    "NOT_MENTIONED",
    "PhoneIndex",
    "account_failure",
    "interrupted",
    "not_attempted",
    "unreadable",
]

R = TypeVar("R", bound=SendResult)

DUPLICATE_OF_OUR_RETRY = (
    "probably sent: an earlier attempt may have been processed but its answer was lost,"
    " and the gateway refused the retry as a duplicate; the message id is unknown"
)
NOT_MENTIONED = "the gateway's answer did not mention this number"
DEADLINE_PASSED = "not sent: deadline passed before the request could leave"


def fill(result: SendResult, phones: list[str], *, maybe: bool, reason: str) -> None:
    """Put every phone in ``unknown`` (``maybe``) or ``failed`` with one reason."""
    target = result.unknown if maybe else result.failed
    for phone in phones:
        target[phone] = reason


def account_failure(
    result: R,
    chunk: Chunk,
    outcome: Outcome,
    *,
    duplicate_of_caller: str,
    hint: str = "",
) -> R:
    """Account for a chunk whose request was not accepted (``outcome.body`` is None).

    Args:
        result: the chunk's result so far (its rejected numbers already in it).
        chunk: the chunk.
        outcome: how its request ended.
        duplicate_of_caller: the reason for a duplicate refusal of the first attempt
            (the caller sent the same message moments ago): the gateway's words.
        hint: appended to ``unknown`` reasons (e.g. how to look the message up).
    """
    phones = chunk.phones
    error = outcome.error
    refusal = outcome.refusal
    if refusal is not None and refusal.message_id:
        issued = f" (the gateway issued id {refusal.message_id})"
    else:
        issued = ""
    if outcome.late:
        fill(result, phones, maybe=outcome.maybe_processed, reason=DEADLINE_PASSED)
        return result
    if outcome.duplicate:
        if outcome.maybe_processed:
            reason = f"{DUPLICATE_OF_OUR_RETRY} ({error})" if error else DUPLICATE_OF_OUR_RETRY
            fill(result, phones, maybe=True, reason=reason + hint)
        else:
            fill(result, phones, maybe=False, reason=duplicate_of_caller)
        return result
    if outcome.maybe_processed:
        reason = f"maybe sent: the request may have been processed but no answer arrived ({error})"
        fill(result, phones, maybe=True, reason=reason + hint)
    else:
        fill(result, phones, maybe=False, reason=f"not sent: {error}{issued}")
    result.error = error
    return result


def unreadable(
    result: R, chunk: Chunk, *, endpoint: str, body: bytes, problem: str, hint: str = ""
) -> R:
    """An accepted answer that cannot be read: the messages may be out."""
    error = DecodeError(
        f"{endpoint}: the answer could not be read ({problem}); the messages may have been sent",
        endpoint=endpoint,
        body=body,
    )
    fill(result, chunk.phones, maybe=True, reason=f"maybe sent: {error}{hint}")
    result.error = error
    return result


def interrupted(
    result: R, chunk: Chunk, *, maybe_processed: bool, error: SmsClubError | None, hint: str = ""
) -> R:
    """A chunk whose request was cancelled, or ended by an error of our own side."""
    if error is None:
        if maybe_processed:
            fill(
                result,
                chunk.phones,
                maybe=True,
                reason="maybe sent: cancelled while in flight" + hint,
            )
        else:
            fill(result, chunk.phones, maybe=False, reason="not sent: cancelled before sending")
        return result
    if maybe_processed:
        fill(result, chunk.phones, maybe=True, reason=f"maybe sent: {error}" + hint)
    else:
        fill(result, chunk.phones, maybe=False, reason=f"not sent: {error}")
    result.error = error
    return result


def not_attempted(result: R, chunk: Chunk, why: str) -> R:
    """A chunk read but never sent because the send stopped first."""
    fill(result, chunk.phones, maybe=False, reason=f"not sent: {why}")
    return result


class PhoneIndex:
    """The phones of one request, to match the numbers a gateway echoes back.

    A gateway may echo a number in another format (without a country code, with a
    plus): a match on the last nine digits is accepted only if no other number of
    the request shares them (claimed or not: "0989361131" is not 370989361131's
    once 380989361131 has been claimed).
    """

    __slots__ = ("_by_tail", "_phones", "pending")

    def __init__(self, phones: list[str]) -> None:
        self._phones = phones
        self.pending: dict[str, None] = dict.fromkeys(phones)
        self._by_tail: dict[str, list[str]] | None = None

    def claim(self, returned: object) -> str | None:
        """The pending phone ``returned`` stands for, removed from ``pending``; or None."""
        text = returned if isinstance(returned, str) else str(returned)
        phone = self._match(text)
        if phone is not None:
            del self.pending[phone]
        return phone

    def _match(self, returned: str) -> str | None:
        pending = self.pending
        if returned in pending:
            return returned
        normal = normalize_phone(returned)
        if normal is None:
            return None
        if normal in pending:
            return normal
        if self._by_tail is None:
            self._by_tail = {}
            for phone in self._phones:
                self._by_tail.setdefault(phone[-9:], []).append(phone)
        candidates = self._by_tail.get(normal[-9:], [])
        if len(candidates) == 1 and candidates[0] in pending:
            return candidates[0]
        return None
