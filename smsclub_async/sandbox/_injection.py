"""Turning a drawn fault into the response the client gets (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ._faults import FaultKind, Faults
from ._wire import SandboxResponse, error_response

__all__ = ["DROPPED", "after", "before"]

#: The response of a dropped connection: the adapter closes without answering.
DROPPED = SandboxResponse(0, (), b"", "drop")

_HTML = "text/html; charset=UTF-8"
_MESSAGES: Mapping[int, str] = {
    500: "An internal server error occurred.",
    502: "Bad Gateway",
    503: "Service temporarily unavailable.",
    504: "Gateway Timeout",
}


def _server_error(faults: Faults) -> SandboxResponse:
    status = faults.next_status()
    return error_response(status, _MESSAGES.get(status, "Server error."))


def before(kind: FaultKind, faults: Faults) -> SandboxResponse:
    """The response for a fault that stops the request before it is processed."""
    if kind == "drop_before":
        return DROPPED
    return _server_error(faults)


def after(kind: FaultKind, response: SandboxResponse, faults: Faults) -> SandboxResponse:
    """Spoil the real ``response`` of a request that was processed."""
    if kind == "error_after":
        return _server_error(faults)
    if kind == "drop_after":
        return DROPPED
    if kind == "truncated":
        return replace(response, disposition="truncate")
    if kind == "malformed":
        # Half the JSON and a byte that is not UTF-8: no parser accepts it.
        return replace(response, body=response.body[: len(response.body) // 2] + b"\xff")
    if kind == "wrong_content_type":
        headers = tuple(
            (name, _HTML if name == "content-type" else value) for name, value in response.headers
        )
        return replace(response, headers=headers)
    raise ValueError(f"{kind!r} is not a fault applied after processing")
