"""Exact sliding-window counts over arrival times (pure).

A window of width ``w`` holds the arrivals ``t`` with ``start <= t < start + w``;
two arrivals exactly ``w`` apart never share one. Every comparison is written
as ``later - earlier < width`` so that the rate limiter, the statistics and the
tests agree to the last floating-point bit.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["densest_containing", "densest_window"]


def densest_window(times: Sequence[float], width: float = 1.0) -> int:
    """Return the most arrivals that fit in any one window of ``width`` seconds.

    Args:
        times: Arrival times in seconds, in any order.
        width: The window width in seconds.

    Returns:
        The maximum count over all windows; 0 for no arrivals.

    Example:
        >>> densest_window([0.0, 0.5, 0.99, 1.0, 1.5])
        3
    """
    ordered = sorted(times)
    best = 0
    first = 0
    for last, later in enumerate(ordered):
        while later - ordered[first] >= width:
            first += 1
        best = max(best, last - first + 1)
    return best


def densest_containing(ordered: Sequence[float], index: int, width: float = 1.0) -> int:
    """Return the most arrivals in any window that contains ``ordered[index]``.

    Args:
        ordered: Arrival times sorted ascending.
        index: The position of the arrival that every window must contain.
        width: The window width in seconds.

    Returns:
        The maximum count, at least 1.
    """
    pivot = ordered[index]
    first = index
    while first > 0 and pivot - ordered[first - 1] < width:
        first -= 1
    best = 0
    last = index
    # Slide the window start from the earliest arrival that can share a window
    # with the pivot up to the pivot itself, extending the end as far as it goes.
    for start in range(first, index + 1):
        while last + 1 < len(ordered) and ordered[last + 1] - ordered[start] < width:
            last += 1
        best = max(best, last - start + 1)
    return best
