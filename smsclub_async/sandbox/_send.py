"""``/sms/send`` and ``/v2/sms/send``: validation, duplicates, billing, acceptance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import segments
from . import _texts as texts
from ._accounts import Message
from ._context import Context
from ._fields import (
    MAX_ITEMS,
    as_key,
    check_integer,
    check_sender,
    is_blank,
    is_valid_phone,
)
from ._wire import SandboxResponse, error_response, success_response

__all__ = ["send", "send_personalised"]

_SECONDS_PER_MINUTE = 60


def send(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """``POST /sms/send``: one text to up to 100 numbers."""
    errors: dict[str, str] = {}
    sender = check_sender(ctx, params, errors)
    text = params.get("message")
    if is_blank(text):
        errors["message"] = texts.MESSAGE_BLANK
    elif not isinstance(text, str):
        errors["message"] = texts.must_be_string("Message")
    phones = _phones(params.get("phone"), errors)
    lifetime = _common_options(params, errors)
    if errors:
        return success_response(add_info=errors)
    assert sender is not None
    assert isinstance(text, str)
    assert phones is not None
    key = ("v1", sender, text, tuple(sorted(set(phones))))
    return _accept_all(ctx, key, sender, [(phone, text) for phone in phones], lifetime)


def send_personalised(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """``POST /v2/sms/send``: up to 100 (phone, message) pairs."""
    errors: dict[str, str] = {}
    sender = check_sender(ctx, params, errors)
    pairs = _pairs(params.get("data_message"), errors)
    lifetime = _common_options(params, errors)
    if errors:
        return success_response(add_info=errors)
    assert sender is not None
    assert pairs is not None
    texts_only = ((phone, text if isinstance(text, str) else repr(text)) for phone, text in pairs)
    key = ("v2", sender, tuple(sorted(texts_only)))
    return _accept_all(ctx, key, sender, pairs, lifetime)


def _phones(value: Any, errors: dict[str, str]) -> list[str] | None:
    if is_blank(value):
        errors["phone"] = texts.PHONE_BLANK
        return None
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        errors["phone"] = texts.PHONES_ARRAY
        return None
    phones = [as_key(item) for item in value]
    if any(phone is None for phone in phones):
        errors["phone"] = texts.PHONES_ARRAY
        return None
    return [phone for phone in phones if phone is not None]


def _pairs(value: Any, errors: dict[str, str]) -> list[tuple[str, Any]] | None:
    # The message stays Any here: a blank or non-string one is a per-number
    # error, not a request error, because the number is known.
    if is_blank(value):
        errors["data_message"] = texts.blank("Data Message")
        return None
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        errors["data_message"] = texts.PHONES_ARRAY
        return None
    pairs: list[tuple[str, Any]] = []
    for item in value:
        phone = as_key(item.get("phone")) if isinstance(item, dict) else None
        if phone is None:
            errors["data_message"] = texts.PHONES_ARRAY
            return None
        pairs.append((phone, item.get("message")))
    return pairs


def _common_options(params: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    # v1 documents lifetime as an int, v2's example sends the string "60":
    # the docs disagree, so both accept either.
    lifetime = check_integer(params, "lifetime", "Lifetime", errors, minimum=1)
    check_integer(params, "integration_id", "Integration Id", errors)
    return lifetime


def _accept_all(
    ctx: Context,
    key: tuple[Any, ...],
    sender: str,
    pairs: list[tuple[str, Any]],
    lifetime: int | None,
) -> SandboxResponse:
    account = ctx.account
    window = ctx.config.duplicate_window
    if account.is_duplicate(key, ctx.now, window):
        return error_response(453, texts.DUPLICATE)
    info: dict[str, str] = {}
    add_info: dict[str, str] = {}
    for phone, text in pairs:
        outcome = _accept_one(ctx, sender, phone, text, lifetime)
        if outcome.accepted:
            info[outcome.detail] = phone
        else:
            add_info[phone] = outcome.detail
    if info:
        account.remember_send(key, ctx.now, window)
    return success_response(info, add_info)


class _Outcome(NamedTuple):
    accepted: bool
    detail: str  # the new message id, or why the number was refused


def _accept_one(ctx: Context, sender: str, phone: str, text: Any, lifetime: int | None) -> _Outcome:
    """Accept one message, or say why not."""
    account = ctx.account
    if not is_valid_phone(phone):
        return _Outcome(False, texts.incorrect_phone(phone))
    if is_blank(text):
        return _Outcome(False, texts.MESSAGE_BLANK)
    if not isinstance(text, str):
        return _Outcome(False, texts.must_be_string("Message"))
    if phone in account.blacklist:
        return _Outcome(False, texts.BLACKLISTED)
    parts = segments(text).parts
    cost = ctx.config.price_per_part * parts
    if account.balance < cost:
        return _Outcome(False, texts.NOT_ENOUGH_MONEY)
    account.balance -= cost
    message_id = ctx.issue_id()
    final_at = ctx.now + ctx.config.delivery_delay
    if lifetime is not None and lifetime * _SECONDS_PER_MINUTE < ctx.config.delivery_delay:
        final_status = "EXPIRED"
        final_at = ctx.now + lifetime * _SECONDS_PER_MINUTE
    else:
        final_status = ctx.config.final_status(phone)
    account.messages[message_id] = Message(
        id=message_id,
        phone=phone,
        text=text,
        sender=sender,
        accepted_at=ctx.now,
        parts=parts,
        account=account.id,
        lifetime=lifetime,
        cost=cost,
        final_status=final_status,
        final_at=final_at,
    )
    return _Outcome(True, message_id)
