"""Checks of single request fields, shared by the endpoints (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import _texts as texts
from ._config import APPROVED
from ._context import Context

__all__ = [
    "MAX_ITEMS",
    "as_key",
    "check_integer",
    "check_sender",
    "is_blank",
    "is_valid_phone",
    "string_field",
]

#: The most phones, personalised messages or ids one request may carry.
MAX_ITEMS = 100

# The gateway checks shape only; it does not normalise (so "0980000001" passes).
_PHONE = re.compile(r"[0-9]{10,15}")
_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 18  # every 18-digit number fits in a signed 64-bit integer


def is_blank(value: Any) -> bool:
    """Yii2's notion of empty: missing/null, "" or an empty array."""
    return value is None or value in ("", [], {})


def is_valid_phone(phone: str) -> bool:
    """Whether ``phone`` is 10 to 15 ASCII digits."""
    return _PHONE.fullmatch(phone) is not None


def as_key(value: Any) -> str | None:
    """A phone number or message id as the string the gateway keys it by.

    JSON strings are taken as they are and integers in decimal; anything else
    (floats, booleans, objects) is not a valid item.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def string_field(
    params: Mapping[str, Any], name: str, label: str, errors: dict[str, str]
) -> str | None:
    """A required string field, or ``None`` with its error recorded."""
    value = params.get(name)
    if is_blank(value):
        errors[name] = texts.blank(label)
        return None
    if not isinstance(value, str):
        errors[name] = texts.must_be_string(label)
        return None
    return value


def check_integer(
    params: Mapping[str, Any], name: str, label: str, errors: dict[str, str], minimum: int = 0
) -> int | None:
    """An optional integer field (a JSON number or a string of digits)."""
    value = params.get(name)
    if is_blank(value):
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= _MAX_DIGITS:
        # Longer digit strings overflow PHP's integer (and Python's int() refuses
        # past 4,300 digits): the gateway answers them as not an integer.
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        errors[name] = texts.must_be_integer(label)
        return None
    if number < minimum:
        errors[name] = f"{label} must be no less than {minimum}."
        return None
    return number


def check_sender(ctx: Context, params: Mapping[str, Any], errors: dict[str, str]) -> str | None:
    """The ``src_addr`` of a send: present, one of the account's, and Approved."""
    value = params.get("src_addr")
    if is_blank(value):
        errors["src_addr"] = texts.SENDER_BLANK
        return None
    sender = ctx.account.senders.get(value) if isinstance(value, str) else None
    if sender is None:
        errors["src_addr"] = texts.SENDER_INCORRECT
        return None
    state = sender.state_at(ctx.now)
    if state != APPROVED:
        errors["src_addr"] = texts.sender_unavailable(state)
        return None
    assert isinstance(value, str)
    return value
