"""Pure helpers that judge a list of admission times (``time.monotonic`` seconds)."""

from __future__ import annotations

from collections.abc import Sequence


def densest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most admissions any closed window ``[t, t + width]`` holds."""
    ordered = sorted(times)
    best = 0
    first = 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] > width:
            first += 1
        best = max(best, last - first + 1)
    return best


def steady_rate(times: Sequence[float], start: float, end: float) -> float:
    """Admissions per second between ``start`` and ``end``: (n - 1) / span."""
    inside = sorted(t for t in times if start <= t <= end)
    if len(inside) < 2 or inside[-1] == inside[0]:
        return 0.0
    return (len(inside) - 1) / (inside[-1] - inside[0])


def tightest_span(times: Sequence[float], count: int) -> float:
    """The shortest time any ``count`` consecutive admissions took (inf if fewer)."""
    ordered = sorted(times)
    return min(
        (ordered[i + count - 1] - ordered[i] for i in range(len(ordered) - count + 1)),
        default=float("inf"),
    )
