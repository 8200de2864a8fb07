"""What arrived at the sandbox, and the numbers a test asserts on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._faults import FaultKind
from ._window import densest_window

__all__ = ["Arrival", "SandboxStats"]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request as it arrived at a gateway endpoint.

    Attributes:
        at: The sandbox clock when the request arrived (its request line was read).
        account: A short hash of the bearer token ("" when there was none).
        path: The URL path.
        status: The status sent back, or ``None`` when the connection was dropped.
        fault: The injected fault, if any.
    """

    at: float
    account: str
    path: str
    status: int | None
    fault: FaultKind | None = None


@dataclass(frozen=True, slots=True)
class SandboxStats:
    """Arrivals of one token (or of all), with the counts tests ask about.

    Attributes:
        arrivals: Every arrival, in the order it was handled.
        rate_period: The width, in seconds, of the rate-limit window.
    """

    arrivals: tuple[Arrival, ...]
    rate_period: float = 1.0

    @property
    def count(self) -> int:
        """How many requests arrived."""
        return len(self.arrivals)

    @property
    def rate_limited(self) -> int:
        """How many were answered 429."""
        return self.statuses[429]

    @property
    def dropped(self) -> int:
        """How many got no answer (the connection was dropped)."""
        return sum(1 for arrival in self.arrivals if arrival.status is None)

    @property
    def statuses(self) -> Counter[int]:
        """Status code -> how many responses had it (dropped ones not counted)."""
        return Counter(a.status for a in self.arrivals if a.status is not None)

    @property
    def faults(self) -> Counter[str]:
        """Fault kind -> how many requests it was injected into."""
        return Counter(a.fault for a in self.arrivals if a.fault is not None)

    @property
    def paths(self) -> Counter[str]:
        """Path -> how many requests arrived there."""
        return Counter(a.path for a in self.arrivals)

    def densest_window(self, width: float | None = None) -> int:
        """The most arrivals in any window of ``width`` seconds (the rate period by default)."""
        width = self.rate_period if width is None else width
        return densest_window([arrival.at for arrival in self.arrivals], width)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "arrivals": self.count,
            "rate_limited": self.rate_limited,
            "dropped": self.dropped,
            "densest_window": self.densest_window(),
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "faults": dict(sorted(self.faults.items())),
            "paths": dict(sorted(self.paths.items())),
        }
