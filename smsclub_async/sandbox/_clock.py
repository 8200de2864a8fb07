"""A clock a test moves by hand."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that only moves when told to; pass it as ``Sandbox(clock=...)``.

    Args:
        start: The initial reading, in seconds.

    Example:
        >>> clock = ManualClock()
        >>> clock.advance(121.0)
        121.0
        >>> clock()
        121.0
    """

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        """Return the current reading."""
        return self.now

    def __repr__(self) -> str:
        return f"ManualClock({self.now})"

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new reading."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.now += seconds
        return self.now
