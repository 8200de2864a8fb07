"""``/_sandbox/messages`` and ``/_sandbox/stats``: the sandbox's own read-only endpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict

from ._accounts import SentMessage
from ._stats import Arrival, SandboxStats
from ._wire import SandboxResponse, error_response, json_response

__all__ = ["INTROSPECTION_PREFIX", "introspect"]

#: Paths under this prefix answer about the sandbox itself, with no token.
INTROSPECTION_PREFIX = "/_sandbox/"


def introspect(
    path: str,
    messages: Callable[[], Sequence[SentMessage]],
    arrivals: Sequence[Arrival],
    period: float,
) -> SandboxResponse:
    """Answer an introspection ``path``: every message, or statistics per token hash."""
    if path == f"{INTROSPECTION_PREFIX}messages":
        return json_response({"messages": [asdict(message) for message in messages()]})
    if path == f"{INTROSPECTION_PREFIX}stats":
        by_account: dict[str, list[Arrival]] = {}
        for arrival in arrivals:
            by_account.setdefault(arrival.account, []).append(arrival)
        accounts = {
            key: SandboxStats(tuple(group), period).as_json() for key, group in by_account.items()
        }
        total = SandboxStats(tuple(arrivals), period).as_json()
        return json_response({"total": total, "accounts": accounts})
    return error_response(404, "Page not found.")
