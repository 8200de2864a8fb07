"""``/sms/status``, ``/sms/balance`` and ``/sms/originator``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _texts as texts
from ._accounts import money
from ._config import APPROVED
from ._context import Context
from ._fields import MAX_ITEMS, as_key, is_blank
from ._wire import SandboxResponse, success_response

__all__ = ["IDS_ARRAY", "balance", "originators", "status"]

#: Made up after the documented phones message: the docs give no text for it.
IDS_ARRAY = "Incorrect id_sms array or id_sms quantity greater than 100"


def status(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """``POST /sms/status``: the status of up to 100 of this account's messages.

    Ids the account never issued (or another account's) go to ``add_info``
    with the gateway's "Error. Data not found", so a caller can tell them apart
    from messages still ENROUTE.
    """
    value = params.get("id_sms")
    if is_blank(value):
        return success_response(add_info={"id_sms": texts.blank("Id Sms")})
    ids = [as_key(item) for item in value] if isinstance(value, list) else []
    if not ids or len(ids) > MAX_ITEMS or None in ids:
        return success_response(add_info={"id_sms": IDS_ARRAY})
    info: dict[str, str] = {}
    add_info: dict[str, str] = {}
    for message_id in ids:
        assert message_id is not None
        message = ctx.account.messages.get(message_id)
        if message is None:
            add_info[message_id] = texts.DATA_NOT_FOUND
        else:
            info[message_id] = message.status_at(ctx.now)
    return success_response(info, add_info)


def balance(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """``POST /sms/balance``: money as a string with four decimals, and the currency."""
    del params
    amount = f"{money(ctx.account.balance):f}"
    return success_response({"money": amount, "currency": ctx.config.currency})


def originators(ctx: Context, params: Mapping[str, Any]) -> SandboxResponse:
    """``POST /sms/originator``: the Approved sender names, as a list (empty included)."""
    del params
    names = [
        name for name, state in ctx.account.sender_states(ctx.now).items() if state == APPROVED
    ]
    return success_response(names, always_info=True)
