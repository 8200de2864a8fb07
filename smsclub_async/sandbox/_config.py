"""The sandbox's defaults and the documented vocabularies of the gateway."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

__all__ = [
    "APPROVED",
    "BEING_MODERATED",
    "DELIVERY_STATUSES",
    "FINAL_STATUSES",
    "SENDER_STATES",
    "LastDigitStatus",
    "SandboxConfig",
]

APPROVED = "Approved"
BEING_MODERATED = "Being moderated"

#: Sender name states, exactly as the gateway spells them in English.
SENDER_STATES: tuple[str, ...] = (
    APPROVED,
    BEING_MODERATED,
    "Rejected",
    "Awaiting moderation by operator",
    "Waiting for Additional. Information",
)

#: Every message status the gateway reports; ENROUTE is the only non-final one.
DELIVERY_STATUSES: tuple[str, ...] = ("ENROUTE", "DELIVRD", "EXPIRED", "UNDELIV", "REJECTD")
FINAL_STATUSES: frozenset[str] = frozenset(DELIVERY_STATUSES[1:])


@dataclass(frozen=True, slots=True)
class LastDigitStatus:
    """Pick a message's final status from the last digit of its phone number.

    Args:
        by_digit: Last digit -> final status; the digits not listed get ``default``.
        default: The final status of every other number.

    Example:
        >>> LastDigitStatus({"9": "UNDELIV"})("380501234569")
        'UNDELIV'
    """

    by_digit: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"9": "UNDELIV"}))
    default: str = "DELIVRD"

    def __post_init__(self) -> None:
        for status in (*self.by_digit.values(), self.default):
            if status not in FINAL_STATUSES:
                raise ValueError(f"{status!r} is not a final status: {sorted(FINAL_STATUSES)}")

    def __call__(self, phone: str) -> str:
        """Return the final status for ``phone``."""
        return self.by_digit.get(phone[-1:], self.default)


def _default_senders() -> Mapping[str, str]:
    return MappingProxyType(
        {"VashZakaz": APPROVED, "test1": APPROVED, "test2": APPROVED, "test_an": BEING_MODERATED}
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """What every account starts with, and the gateway's timings and limits.

    Attributes:
        balance: Each new account's balance.
        price_per_part: What one SMS part costs; a message costs this times its parts.
        currency: Reported by ``/sms/balance``.
        senders: Each new account's sender names and their states.
        blacklist: Each new account's blacklisted phone numbers.
        delivery_delay: Seconds a message stays ENROUTE before its final status.
        final_status: Phone number -> final status (DELIVRD, UNDELIV, EXPIRED, REJECTD).
        duplicate_window: Seconds within which an identical send is refused with 453.
        rate_limit: Most requests per token in any window of ``rate_period``
            seconds; ``None`` turns the limit off.
        rate_period: The rate-limit window width in seconds.
        moderation_delay: Seconds until a registered sender name is Approved;
            ``None`` leaves it "Being moderated" for ever.
        first_id: The first message id issued.
        max_body: The largest request body accepted, in bytes.
    """

    balance: Decimal = Decimal("1000.0000")
    price_per_part: Decimal = Decimal("0.5000")
    currency: str = "UAH"
    senders: Mapping[str, str] = field(default_factory=_default_senders)
    blacklist: frozenset[str] = frozenset()
    delivery_delay: float = 0.5
    final_status: Callable[[str], str] = field(default_factory=LastDigitStatus)
    duplicate_window: float = 120.0
    rate_limit: int | None = 9
    rate_period: float = 1.0
    moderation_delay: float | None = 60.0
    first_id: int = 100
    max_body: int = 1_048_576

    def __post_init__(self) -> None:
        for name, state in self.senders.items():
            if state not in SENDER_STATES:
                raise ValueError(f"sender {name!r} has unknown state {state!r}: {SENDER_STATES}")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1, or None to turn it off")
        if self.rate_period <= 0:
            raise ValueError("rate_period must be positive")
        for name in ("delivery_delay", "duplicate_window"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.moderation_delay is not None and self.moderation_delay < 0:
            raise ValueError("moderation_delay must not be negative")
        if self.first_id < 0:
            raise ValueError("first_id must not be negative")
