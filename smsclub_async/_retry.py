"""Retry policies: what is retried, how long to wait, when to stop (pure)."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

__all__ = [
    "DEFAULT_READ_RETRY",
    "DEFAULT_SEND_RETRY",
    "DUPLICATE_WINDOW",
    "RetryPolicy",
    "parse_retry_after",
]

DUPLICATE_WINDOW = 120.0
"""Seconds in which the gateway answers 453 to the same message to the same numbers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How one kind of operation is retried.

    Args:
        attempts: attempts in all, the first included (1 disables retries).
        backoff: the first exponential backoff, in seconds (doubled each retry).
        max_backoff: the largest backoff.
        jitter: the fraction of each backoff drawn at random (0 to 1).
        max_retry_after: the largest Retry-After the client honours; a longer one
            ends the retries.
        duplicate_window: for sends, the gateway's duplicate window. A send that may
            already have gone out (5xx, read timeout, dropped connection) is retried
            only while the retry reaches the gateway within this window of the first
            such attempt, so a message that did go out is answered 453, not sent twice.
        window_safety: seconds kept free at the end of ``duplicate_window`` for the
            request's own transit and clock differences.
        deadline: seconds from the start of a call after which no retry begins (an
            attempt in flight is bounded by the client's timeouts); ``None``: none.
        wait: ``False`` removes every sleep (for tests); the rules stay the same.

    Example:
        >>> RetryPolicy(attempts=1)  # never retry
        RetryPolicy(attempts=1, backoff=0.5, max_backoff=10.0, jitter=0.5, ...)
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 10.0
    jitter: float = 0.5
    max_retry_after: float = 30.0
    duplicate_window: float = DUPLICATE_WINDOW
    window_safety: float = 20.0
    deadline: float | None = None
    wait: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ValueError(f"attempts must be a whole number, got {self.attempts!r}")  # noqa: TRY004
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.deadline is not None and not self.deadline > 0:
            raise ValueError("deadline must be a positive number of seconds, or None")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("backoff, max_backoff and max_retry_after must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(attempts={self.attempts}, backoff={self.backoff},"
            f" max_backoff={self.max_backoff}, jitter={self.jitter}, ...)"
        )

    def backoff_for(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry).

        Retry-After wins when given (it is the server's word); otherwise exponential
        backoff with jitter.
        """
        if not self.wait:
            return 0.0
        if retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.max_backoff, self.backoff * 2 ** (retry_number - 1))
        return float(base * (1 - self.jitter * random.random()))  # noqa: S311 - jitter, not crypto

    def next_wait(
        self,
        *,
        attempt: int,
        retry_after: float | None,
        maybe_since: float | None,
        now: float,
        deadline: float | None = None,
    ) -> float | None:
        """The stop rule: seconds to wait before the next attempt, or ``None`` to stop.

        Pure, the one rule every retry of every gateway follows.

        Args:
            attempt: attempts made so far (1 after the first).
            retry_after: seconds the gateway asked to wait, if it did.
            maybe_since: for a send, when an attempt first may have been processed
                (same clock as ``now``); ``None`` for reads and for sends that
                certainly were not.
            now: the current time.
            deadline: no attempt may begin at or after this moment.

        A send that may already have been processed is retried only while the retry
        reaches the gateway inside ``send_budget`` of that attempt (``>=``: with no
        budget, nothing that may have been processed is ever repeated).
        """
        if attempt >= self.attempts:
            return None
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        pause = self.backoff_for(attempt, retry_after)
        if maybe_since is not None and now + pause - maybe_since >= self.send_budget:
            return None
        if deadline is not None and now + pause >= deadline:
            return None
        return pause

    @property
    def send_budget(self) -> float:
        """Seconds after a possibly-processed send during which a retry is still safe."""
        return max(0.0, self.duplicate_window - self.window_safety)


DEFAULT_READ_RETRY = RetryPolicy()
DEFAULT_SEND_RETRY = RetryPolicy(attempts=5)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a Retry-After header: seconds, milliseconds (``retry-after-ms``) or an HTTP date.

    Returns ``None`` for a missing or unreadable value.

    Example:
        >>> parse_retry_after("2")
        2.0
        >>> parse_retry_after("soon") is None
        True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if 0 <= seconds < float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
