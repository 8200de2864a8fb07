"""What an endpoint handler gets besides the request parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._accounts import Account
from ._config import SandboxConfig

__all__ = ["Context"]


@dataclass(frozen=True, slots=True)
class Context:
    """One request's view of the sandbox.

    Attributes:
        config: The sandbox configuration.
        account: The authenticated token's account.
        now: The request's arrival time on the sandbox clock.
        issue_id: Returns the next message id (ids are global, like the gateway's).
    """

    config: SandboxConfig
    account: Account
    now: float
    issue_id: Callable[[], str]
