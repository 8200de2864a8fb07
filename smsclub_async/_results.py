"""Result types returned to callers, and how chunk results merge (pure)."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._status import DeliveryStatus

if TYPE_CHECKING:
    from ._errors import SmsClubError

__all__ = [
    "Balance",
    "SendResult",
    "SenderRegistration",
    "StatusReport",
]

_REPR_LIMIT = 3


def _preview(mapping: dict[str, Any]) -> str:
    items = list(mapping.items())[:_REPR_LIMIT]
    shown = ", ".join(f"{k!r}: {v!r}" for k, v in items)
    more = len(mapping) - len(items)
    return "{" + shown + (f", ... +{more}" if more > 0 else "") + "}"


def _html_table(title: str, header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table><caption>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


@dataclass(slots=True, eq=True)
class SendResult:
    """What happened to every recipient of a send.

    Every distinct valid recipient is in exactly one of ``sent`` (as a value),
    ``failed`` or ``unknown``; numbers refused before any request are in ``failed``.

    Attributes:
        sent: message id -> phone, for every message the gateway accepted.
        failed: phone -> reason, for recipients that certainly got nothing (safe to
            resend once the reason is fixed).
        unknown: phone -> why, for recipients whose outcome could not be learned (the
            message may have gone out; do not resend blindly).
        errors: request-level problems by field (``src_addr``, ``message``, ``phone``),
            as the gateway reported them in ``add_info``, each once.
        error: for one chunk of :meth:`SmsClub.send_iter`, the exception that ended it
            for good (its phones are in ``failed`` or ``unknown``); ``None`` otherwise.
        requests: HTTP requests this result took, retries included.
    """

    sent: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: SmsClubError | None = field(default=None, compare=False)
    requests: int = field(default=0, compare=False)

    @property
    def ok(self) -> bool:
        """True when every recipient was sent and no request-level error was reported."""
        return not (self.failed or self.unknown or self.errors or self.error)

    @property
    def ids(self) -> list[str]:
        """The message ids, in the order the gateway issued them."""
        return list(self.sent)

    @property
    def recipients(self) -> int:
        """How many distinct recipients this result accounts for."""
        return len(self.sent) + len(self.failed) + len(self.unknown)

    def merge(self, other: SendResult) -> None:
        """Add another (chunk) result into this one, in place.

        A gateway that numbers its ids per request may issue one id twice: the
        recipient seen second is never dropped, it goes to ``unknown`` (sent, but
        its message cannot be told apart by that id).
        """
        if self.sent.keys().isdisjoint(other.sent):
            self.sent.update(other.sent)
        else:
            for message_id, phone in other.sent.items():
                earlier = self.sent.setdefault(message_id, phone)
                if earlier != phone:
                    self.unknown[phone] = (
                        f"sent, but the gateway issued id {message_id} for {earlier} too:"
                        " its status cannot be looked up by that id"
                    )
        self.failed.update(other.failed)
        self.unknown.update(other.unknown)
        for key, message in other.errors.items():
            self.errors.setdefault(key, message)
        if self.error is None:
            self.error = other.error
        self.requests += other.requests

    @classmethod
    def merged(cls, results: Iterable[SendResult]) -> SendResult:
        """One result from many (``info`` and ``add_info`` joined, errors once)."""
        total = cls()
        for result in results:
            total.merge(result)
        return total

    def to_rows(self) -> list[dict[str, str | None]]:
        """One dict per recipient (``phone``, ``outcome``, ``message_id``, ``reason``).

        Feed it to ``pandas.DataFrame(result.to_rows())`` or ``csv.DictWriter``.
        """
        rows: list[dict[str, str | None]] = [
            {"phone": phone, "outcome": "sent", "message_id": mid, "reason": None}
            for mid, phone in self.sent.items()
        ]
        rows += [
            {"phone": p, "outcome": "failed", "message_id": None, "reason": r}
            for p, r in self.failed.items()
        ]
        rows += [
            {"phone": p, "outcome": "unknown", "message_id": None, "reason": r}
            for p, r in self.unknown.items()
        ]
        return rows

    def __repr__(self) -> str:
        parts = [
            f"sent={len(self.sent)} {_preview(self.sent)}",
            f"failed={len(self.failed)} {_preview(self.failed)}",
            f"unknown={len(self.unknown)} {_preview(self.unknown)}",
        ]
        if self.errors:
            parts.append(f"errors={self.errors!r}")
        if self.error is not None:
            parts.append(f"error={type(self.error).__name__}")
        return f"SendResult({', '.join(parts)})"

    def _repr_html_(self) -> str:
        summary = (
            f"SendResult: {len(self.sent)} sent, {len(self.failed)} failed,"
            f" {len(self.unknown)} unknown"
        )
        rows = [
            (r["phone"], r["outcome"], r["message_id"] or "", r["reason"] or "")
            for r in self.to_rows()[:50]
        ]
        table = _html_table(summary, ("phone", "outcome", "message id", "reason"), rows)
        if self.recipients > 50:
            table += f"<p>... and {self.recipients - 50} more rows (see to_rows())</p>"
        if self.errors:
            table += _html_table("request errors", ("field", "message"), self.errors.items())
        return table


class StatusReport(dict[str, DeliveryStatus]):
    """Message id -> :class:`DeliveryStatus`, a plain ``dict`` with extras.

    Attributes:
        raw: message id -> the status string exactly as the gateway sent it.
        missing: ids the gateway did not report on (unknown to it, or not yet known).
    """

    raw: dict[str, str]
    missing: list[str]

    def __init__(
        self,
        statuses: Iterable[tuple[str, DeliveryStatus]] = (),
        *,
        raw: dict[str, str] | None = None,
        missing: list[str] | None = None,
    ) -> None:
        super().__init__(statuses)
        self.raw = raw if raw is not None else {k: v.value for k, v in self.items()}
        self.missing = missing if missing is not None else []

    @property
    def all_final(self) -> bool:
        """True when every reported status is final and no id is missing."""
        return not self.missing and all(s.is_final for s in self.values())

    def counts(self) -> dict[DeliveryStatus, int]:
        """How many messages are in each status."""
        out: dict[DeliveryStatus, int] = {}
        for status in self.values():
            out[status] = out.get(status, 0) + 1
        return out

    def merge(self, other: StatusReport) -> None:
        """Add another (chunk) report into this one, in place."""
        self.update(other)
        self.raw.update(other.raw)
        self.missing.extend(m for m in other.missing if m not in self)

    def to_rows(self) -> list[dict[str, str]]:
        """One dict per id: ``message_id``, ``status``, ``raw``."""
        return [
            {"message_id": k, "status": v.value, "raw": self.raw.get(k, v.value)}
            for k, v in self.items()
        ]

    def __repr__(self) -> str:
        counts = ", ".join(f"{s.value}={n}" for s, n in self.counts().items())
        missing = f", missing={len(self.missing)}" if self.missing else ""
        return f"StatusReport({len(self)} ids: {counts or 'none'}{missing})"

    def _repr_html_(self) -> str:
        rows = [(r["message_id"], r["status"], r["raw"]) for r in self.to_rows()[:50]]
        return _html_table(repr(self), ("message id", "status", "raw"), rows)


@dataclass(frozen=True, slots=True)
class Balance:
    """The account balance.

    Attributes:
        money: the amount, exact (``Decimal``).
        currency: the account currency, e.g. ``"UAH"``.
    """

    money: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.money:.2f} {self.currency}"


@dataclass(frozen=True, slots=True)
class SenderRegistration:
    """A sender-name application the gateway accepted.

    Attributes:
        sender: the requested sender name.
        status: its state, normally ``"Being moderated"``.
    """

    sender: str
    status: str
