"""Turn how a send request ended into a per-recipient result (pure, no I/O).

The rules that keep callers from sending twice live here:

* ``failed`` only when the gateway certainly did not send (it said so per number, or
  the request was refused before processing);
* ``unknown`` whenever the request may have been processed and we could not learn
  the ids: a 5xx or dropped answer after writing, a garbled 200, a 453 answering our
  own retry (the earlier attempt went out, its ids are lost), a cancellation in flight.
"""

from __future__ import annotations

from typing import TypeVar

from ._errors import DecodeError, SmsClubError
from ._phones import Chunk, normalize_phone
from ._pipeline import Exchange
from ._results import SendResult
from ._wire import SendResponse, WireDecodeError, _SendBody, decode

__all__ = [
    "DUPLICATE_OF_OUR_RETRY",
    "NOT_MENTIONED",
    "REQUEST_FIELDS",
    "blame",
    "cancelled_result",
    "interpret_send",
    "match_phone",
]

REQUEST_FIELDS = frozenset({"src_addr", "message", "phone", "lifetime", "data_message"})

DUPLICATE_OF_OUR_RETRY = (
    "probably sent: an earlier attempt may have been processed but its answer was lost,"
    " and the gateway answered the retry with 453 (duplicate); the message id is unknown"
)
DUPLICATE_OF_CALLER = (
    "not sent: the same message went to these numbers less than 2 minutes ago (HTTP 453 duplicate)"
)
NOT_MENTIONED = "the gateway's answer did not mention this number"


def _unknown_reason(error: SmsClubError | None) -> str:
    cause = f" ({error})" if error is not None else ""
    return f"maybe sent: the request may have been processed but no answer arrived{cause}"


def _failed_reason(error: SmsClubError | None) -> str:
    return f"not sent: {error}" if error is not None else "not sent"


def _fill(result: SendResult, phones: list[str], *, maybe: bool, reason: str) -> None:
    target = result.unknown if maybe else result.failed
    for phone in phones:
        target[phone] = reason


R = TypeVar("R", bound=SendResult)


def blame(result: R, chunk: Chunk, error: SmsClubError) -> R:
    """Reword an interrupted chunk's reasons after the error that ended it."""
    for phone in chunk.phones:
        if phone in result.failed:
            result.failed[phone] = f"not sent: {error}"
        elif phone in result.unknown:
            result.unknown[phone] = f"maybe sent: {error}"
    result.error = error
    return result


def cancelled_result(chunk: Chunk, *, maybe_processed: bool) -> SendResult:
    """The result of a chunk whose request was cancelled."""
    result = SendResult(failed=dict(chunk.rejected))
    if maybe_processed:
        _fill(result, chunk.phones, maybe=True, reason="maybe sent: cancelled while in flight")
    else:
        _fill(result, chunk.phones, maybe=False, reason="not sent: cancelled before sending")
    return result


def match_phone(
    returned: str, pending: dict[str, None], by_tail: dict[str, list[str]]
) -> str | None:
    """The pending phone a number echoed by the gateway stands for, or None.

    ``by_tail`` maps the last nine digits to every phone of the request.
    """
    if returned in pending:
        return returned
    normal = normalize_phone(returned)
    if normal is not None and normal in pending:
        return normal
    # The gateway may echo a number in another format (e.g. without a country code):
    # accept a match on the last nine digits only if no other number of the request
    # shares them (claimed or not: "0989361131" is not 370989361131's once
    # 380989361131 has been claimed).
    if normal is not None:
        candidates = by_tail.get(normal[-9:], [])
        if len(candidates) == 1 and candidates[0] in pending:
            return candidates[0]
    return None


def interpret_send(chunk: Chunk, exchange: Exchange, *, endpoint: str) -> SendResult:
    """Account for every phone of a chunk given how its request ended."""
    result = SendResult(failed=dict(chunk.rejected), requests=exchange.attempts)
    phones = chunk.phones
    if exchange.duplicate:
        if exchange.maybe_processed:
            _fill(result, phones, maybe=True, reason=DUPLICATE_OF_OUR_RETRY)
        else:
            _fill(result, phones, maybe=False, reason=DUPLICATE_OF_CALLER)
        return result
    if exchange.error is not None:
        result.error = exchange.error
        if exchange.maybe_processed:
            _fill(result, phones, maybe=True, reason=_unknown_reason(exchange.error))
        else:
            _fill(result, phones, maybe=False, reason=_failed_reason(exchange.error))
            if exchange.error is not None and exchange.status_code == 400:
                result.errors["request"] = str(exchange.error)
        return result

    assert exchange.body is not None
    try:
        answer = decode(SendResponse, exchange.body).success_request
    except WireDecodeError as exc:
        # A 200 means the gateway processed the request: the messages may be out.
        error = DecodeError(
            f"{endpoint}: the answer could not be read ({exc}); the messages may have been sent",
            endpoint=endpoint,
            body=exchange.body,
        )
        error.__cause__ = exc
        result.error = error
        _fill(result, phones, maybe=True, reason=_unknown_reason(error))
        return result

    pending = _account(result, phones, answer)
    if pending:
        if result.errors and not answer.info:
            # A request-level error and nothing accepted: the request was refused whole.
            reason = "not sent: " + "; ".join(f"{k}: {v}" for k, v in result.errors.items())
            _fill(result, list(pending), maybe=False, reason=reason)
        else:
            _fill(result, list(pending), maybe=True, reason=NOT_MENTIONED)
    return result


def _account(result: SendResult, phones: list[str], answer: _SendBody) -> dict[str, None]:
    """Fill ``sent`` and per-number ``failed`` from an answer; return the unmentioned."""
    sent = result.sent
    info = answer.info
    if not answer.add_info and len(info) == len(phones) and set(info.values()) == set(phones):
        # The usual answer, every number echoed once exactly as sent: C-speed checks.
        sent.update(info)  # type: ignore[arg-type]  # every value is one of our str phones
        return {}
    pending = dict.fromkeys(phones)
    echoed_otherwise: list[tuple[str, str]] = []
    for message_id, returned in answer.info.items():
        # The common case first: the gateway echoes each number exactly as sent.
        if returned in pending:
            sent[message_id] = returned
            del pending[returned]
        else:
            echoed_otherwise.append((message_id, str(returned)))

    by_tail: dict[str, list[str]] = {}
    if echoed_otherwise or any(
        k not in pending and k not in REQUEST_FIELDS for k in answer.add_info
    ):
        # Only when the gateway echoed a number in another format; exact echoes have
        # already claimed their numbers.
        for phone in phones:
            by_tail.setdefault(phone[-9:], []).append(phone)
    for message_id, returned_phone in echoed_otherwise:
        matched = match_phone(returned_phone, pending, by_tail)
        sent[message_id] = matched or returned_phone
        if matched is not None:
            del pending[matched]

    for key, message in answer.add_info.items():
        text = message if isinstance(message, str) else str(message)
        matched = match_phone(key, pending, by_tail) if key not in REQUEST_FIELDS else None
        if matched is not None:
            result.failed[matched] = text
            del pending[matched]
        else:
            result.errors[key] = text
    return pending
