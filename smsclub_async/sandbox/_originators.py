"""``/originators/registration-originators`` and ``/originators/stat-originators``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import _texts as texts
from ._accounts import Sender
from ._config import APPROVED, BEING_MODERATED
from ._context import Context
from ._fields import is_blank, string_field
from ._wire import SandboxResponse, success_response

__all__ = ["register", "sender_status"]

_MAX_SENDER_LENGTH = 11
# Alphanumeric sender names: Latin letters, digits, space and . _ -
_SENDER_NAME = re.compile(r"[A-Za-z0-9 ._-]+")
_COMPANY_TYPES = ("tov", "fop")
_TEXT_FIELDS = (
    ("subject", "Subject"),
    ("description", "Description"),
    ("site", "Site"),
)


def register(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """Apply for a sender name; it is "Being moderated" until moderation ends.

    A name that is not yet Approved may be applied for again (that restarts
    moderation, and lets the documented example run against the defaults);
    an Approved one is taken.
    """
    errors: dict[str, str] = {}
    name = string_field(params, "sender_id", "Sender Name", errors)
    if name is not None:
        _check_name(ctx, name, errors)
    company_type = string_field(params, "company_type", "Company Type", errors)
    if company_type is not None and company_type not in _COMPANY_TYPES:
        errors["company_type"] = "Company Type is invalid."
    # Its label makes the documented "Legal name of the company cannot be blank."
    string_field(params, "company", "Legal name of the company", errors)
    if company_type == "tov":
        string_field(params, "okpo", "OKPO", errors)
    elif company_type == "fop":
        string_field(params, "inn", "INN", errors)
    for field_name, label in _TEXT_FIELDS:
        string_field(params, field_name, label, errors)
    if errors:
        return success_response(add_info=errors)
    assert name is not None
    delay = ctx.config.moderation_delay
    approve_at = None if delay is None else ctx.now + delay
    ctx.account.senders[name] = Sender(BEING_MODERATED, approve_at)
    return success_response({"originator": name, "status": BEING_MODERATED})


def _check_name(ctx: Context, name: str, errors: dict[str, str]) -> None:
    if len(name) > _MAX_SENDER_LENGTH:
        errors["sender_id"] = f"Sender Name should contain at most {_MAX_SENDER_LENGTH} characters."
    elif _SENDER_NAME.fullmatch(name) is None:
        errors["sender_id"] = "Sender Name is invalid."
    else:
        sender = ctx.account.senders.get(name)
        if sender is not None and sender.state_at(ctx.now) == APPROVED:
            errors["sender_id"] = f'Sender Name "{name}" has already been taken.'


def sender_status(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """The state of one sender name, or of all of them when none is given."""
    states = ctx.account.sender_states(ctx.now)
    name = params.get("sender_id")
    if is_blank(name):
        return success_response(states, always_info=True)
    if not isinstance(name, str):
        return success_response(add_info={"sender_id": texts.must_be_string("Sender Name")})
    if name not in states:
        return success_response(add_info={name: texts.DATA_NOT_FOUND})
    return success_response({name: states[name]})
