"""One token's state: balance, sender names, blacklist, messages, recent sends."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal

from ._config import APPROVED
from ._window import densest_containing

__all__ = ["Account", "Message", "Sender", "SentMessage", "account_id", "money"]

_FOUR_PLACES = Decimal("0.0001")
# Arrivals older than this many rate periods can no longer share a window with
# a new one, even one handled slightly out of order by a concurrent server.
_RATE_HISTORY_PERIODS = 60


def account_id(token: str) -> str:
    """A short, stable, non-reversible name for a token, safe to show and log."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def money(amount: Decimal | float | str) -> Decimal:
    """``amount`` as a Decimal with the gateway's four decimal places."""
    if isinstance(amount, float):
        amount = repr(amount)
    return Decimal(amount).quantize(_FOUR_PLACES)


@dataclass(slots=True)
class Sender:
    """A sender name's state; a registered one turns Approved at ``approve_at``."""

    state: str
    approve_at: float | None = None

    def state_at(self, now: float) -> str:
        """The state as of ``now``."""
        if self.approve_at is not None and now >= self.approve_at:
            return APPROVED
        return self.state


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One accepted message, as :meth:`Sandbox.messages` reports it.

    Attributes:
        id: The message id the gateway issued (a string, as on the wire).
        phone: The number, exactly as the request gave it.
        text: The message text.
        sender: The sender name.
        accepted_at: The sandbox clock when it was accepted.
        parts: SMS parts billed.
        status: ENROUTE, DELIVRD, EXPIRED, UNDELIV or REJECTD at the time of asking.
        account: The short hash of the token that sent it.
        lifetime: The requested lifetime in minutes, if any.
        cost: What it was charged.
    """

    id: str
    phone: str
    text: str
    sender: str
    accepted_at: float
    parts: int
    status: str
    account: str
    lifetime: int | None
    cost: Decimal


@dataclass(frozen=True, slots=True)
class Message:
    """An accepted message with its delivery outcome fixed at acceptance."""

    id: str
    phone: str
    text: str
    sender: str
    accepted_at: float
    parts: int
    account: str
    lifetime: int | None
    cost: Decimal
    final_status: str
    final_at: float

    def status_at(self, now: float) -> str:
        """ENROUTE until ``final_at``, then the final status."""
        return "ENROUTE" if now < self.final_at else self.final_status

    def snapshot(self, now: float) -> SentMessage:
        """The public record as of ``now``."""
        return SentMessage(
            id=self.id,
            phone=self.phone,
            text=self.text,
            sender=self.sender,
            accepted_at=self.accepted_at,
            parts=self.parts,
            status=self.status_at(now),
            account=self.account,
            lifetime=self.lifetime,
            cost=self.cost,
        )


@dataclass(slots=True)
class Account:
    """Everything one token owns."""

    id: str
    balance: Decimal
    senders: dict[str, Sender]
    blacklist: set[str]
    messages: dict[str, Message] = field(default_factory=dict)
    recent_sends: dict[Hashable, float] = field(default_factory=dict)
    arrival_times: list[float] = field(default_factory=list)

    def arrive(self, now: float, limit: int | None, period: float) -> bool:
        """Record an arrival; return whether it makes some window exceed ``limit``.

        Every arrival counts, refused ones included: the limit is on what the
        client sends, not on what the gateway accepts.
        """
        times = self.arrival_times
        stale = bisect.bisect_left(times, now - _RATE_HISTORY_PERIODS * period)
        del times[:stale]
        index = bisect.bisect_right(times, now)
        times.insert(index, now)
        return limit is not None and densest_containing(times, index, period) > limit

    def is_duplicate(self, key: Hashable, now: float, window: float) -> bool:
        """Whether an identical send was accepted less than ``window`` seconds ago."""
        accepted_at = self.recent_sends.get(key)
        return accepted_at is not None and now - accepted_at < window

    def remember_send(self, key: Hashable, now: float, window: float) -> None:
        """Record an accepted send for the duplicate check, forgetting expired ones."""
        sends = self.recent_sends
        sends.pop(key, None)
        # Oldest first (insertion order), so expiry stops at the first live one.
        while sends:
            oldest = next(iter(sends))
            if now - sends[oldest] < window:
                break
            del sends[oldest]
        sends[key] = now

    def sender_states(self, now: float) -> dict[str, str]:
        """Sender name -> state as of ``now``."""
        return {name: sender.state_at(now) for name, sender in self.senders.items()}
