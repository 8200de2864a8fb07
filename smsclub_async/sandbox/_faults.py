"""Seeded fault injection: which requests fail, how, and when the state changes.

"before" faults stop a request in front of the gateway: nothing is processed.
"after" faults let the gateway process it (messages accepted, ids issued,
balance charged) and then spoil the answer, which is the case a client must
survive without sending twice:

============================  =====================================================
kind                          what the client gets
============================  =====================================================
``error_before``              a 5xx from ``status_codes``; nothing was processed
``drop_before``               the connection closes with no answer; nothing processed
``error_after``               a 5xx from ``status_codes``; the request was processed
``drop_after``                the connection closes with no answer; it was processed
``malformed``                 the real status with a body that is not JSON
``truncated``                 the real headers, half the body, then the connection closes
``wrong_content_type``        the real body labelled ``text/html``
============================  =====================================================
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Literal, get_args

__all__ = ["AFTER_FAULTS", "BEFORE_FAULTS", "SEND_PATHS", "FaultKind", "Faults"]

FaultKind = Literal[
    "error_before",
    "drop_before",
    "error_after",
    "drop_after",
    "malformed",
    "truncated",
    "wrong_content_type",
]
_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

#: The faults that leave the sandbox's state untouched.
BEFORE_FAULTS: frozenset[FaultKind] = frozenset({"error_before", "drop_before"})
#: The faults applied after the request was processed.
AFTER_FAULTS: frozenset[FaultKind] = frozenset(_KINDS) - BEFORE_FAULTS

#: The endpoints faults apply to unless ``scope="all"``.
SEND_PATHS: frozenset[str] = frozenset({"/sms/send", "/v2/sms/send"})


class Faults:
    """Which requests fail and how: seeded probabilities, or an exact script.

    Each request to an endpoint in scope draws at most one fault kind (the
    probabilities are exclusive and must sum to at most 1) and, independently,
    a latency. A script, when set, overrides the draw for as many requests as
    it has entries.

    Args:
        seed: Seeds the private ``random.Random``, so a run is reproducible.
        error_before: Probability of a 5xx with nothing processed.
        error_after: Probability of a 5xx after the request was processed.
        drop_before: Probability of a dropped connection, nothing processed.
        drop_after: Probability of a dropped connection after processing.
        malformed: Probability of a body that is not JSON (after processing).
        truncated: Probability of a body cut short (after processing).
        wrong_content_type: Probability of a ``text/html`` label (after processing).
        latency: ``(low, high)`` seconds to wait before answering, drawn
            uniformly per request; ``None`` for no wait.
        status_codes: The statuses ``error_*`` faults pick from.
        scope: ``"send"`` for the two send endpoints only, ``"all"`` for every
            gateway endpoint.

    Example:
        >>> faults = Faults(seed=1, error_after=0.2)
        >>> faults.script(["drop_after", None])
        >>> faults.next_fault(), faults.next_fault()
        ('drop_after', None)
    """

    __slots__ = ("_random", "_script", "latency", "probabilities", "scope", "status_codes")

    def __init__(
        self,
        *,
        seed: int | None = 0,
        error_before: float = 0.0,
        error_after: float = 0.0,
        drop_before: float = 0.0,
        drop_after: float = 0.0,
        malformed: float = 0.0,
        truncated: float = 0.0,
        wrong_content_type: float = 0.0,
        latency: tuple[float, float] | None = None,
        status_codes: Sequence[int] = (500, 502, 503),
        scope: Literal["send", "all"] = "send",
    ) -> None:
        self.probabilities: dict[FaultKind, float] = {
            "error_before": error_before,
            "drop_before": drop_before,
            "error_after": error_after,
            "drop_after": drop_after,
            "malformed": malformed,
            "truncated": truncated,
            "wrong_content_type": wrong_content_type,
        }
        for kind, probability in self.probabilities.items():
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"{kind} must be a probability in [0, 1], got {probability}")
        if sum(self.probabilities.values()) > 1.0:
            raise ValueError("the fault probabilities are exclusive and must sum to at most 1")
        if latency is not None and not 0.0 <= latency[0] <= latency[1]:
            raise ValueError(f"latency must be (low, high) with 0 <= low <= high, got {latency}")
        if not status_codes or any(not 500 <= code <= 599 for code in status_codes):
            raise ValueError(f"status_codes must be 5xx codes, got {status_codes!r}")
        if scope not in ("send", "all"):
            raise ValueError(f"scope must be 'send' or 'all', got {scope!r}")
        self.latency = latency
        self.status_codes = tuple(status_codes)
        self.scope = scope
        self._random = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self._script: deque[FaultKind | None] = deque()

    def __repr__(self) -> str:
        active = ", ".join(f"{kind}={p}" for kind, p in self.probabilities.items() if p)
        return f"Faults({active or 'none'}, latency={self.latency}, scripted={len(self._script)})"

    def script(self, faults: Iterable[FaultKind | None]) -> None:
        """Replace the random draw for the next requests in scope, one entry each.

        Args:
            faults: Fault kinds, or ``None`` for a request that goes through;
                once they are used up the probabilities apply again.
        """
        entries = list(faults)
        for entry in entries:
            if entry is not None and entry not in _KINDS:
                raise ValueError(f"unknown fault {entry!r}; expected one of {_KINDS} or None")
        self._script = deque(entries)

    @property
    def scripted(self) -> int:
        """How many scripted entries are still to be used."""
        return len(self._script)

    def applies_to(self, path: str) -> bool:
        """Whether requests to ``path`` can be faulted."""
        return self.scope == "all" or path in SEND_PATHS

    def next_fault(self) -> FaultKind | None:
        """Draw the fault for one request in scope: the script's next entry, or at random."""
        if self._script:
            return self._script.popleft()
        draw = self._random.random()
        for kind, probability in self.probabilities.items():
            if draw < probability:
                return kind
            draw -= probability
        return None

    def next_status(self) -> int:
        """Draw the status of an ``error_*`` fault."""
        return self._random.choice(self.status_codes)

    def next_delay(self) -> float:
        """Draw the latency of one request, in seconds."""
        if self.latency is None:
            return 0.0
        low, high = self.latency
        return self._random.uniform(low, high)
