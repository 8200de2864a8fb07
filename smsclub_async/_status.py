"""Delivery statuses of every supported gateway, mapped onto one enum."""

from __future__ import annotations

import enum

__all__ = ["DeliveryStatus", "SenderState"]


class DeliveryStatus(enum.StrEnum):
    """The delivery state of one message.

    The SMS Club gateway reports the English codes (``ENROUTE``, ``DELIVRD``, ...);
    its official PHP SDK and older answers use Russian display strings
    ("Доставлено", ...). Both decode to the same member with :meth:`parse`, and a
    string nobody documented decodes to :attr:`UNKNOWN` instead of failing.

    Example:
        >>> DeliveryStatus.parse("Доставлено")
        <DeliveryStatus.DELIVRD: 'DELIVRD'>
        >>> DeliveryStatus.parse("ENROUTE").is_final
        False
    """

    PENDING = "PENDING"
    """Accepted, waiting to be sent to the operator ("Ожидает отправки")."""
    ENROUTE = "ENROUTE"
    """Sent to the operator, not delivered yet ("Отправлено")."""
    DELIVRD = "DELIVRD"
    """Delivered to the handset ("Доставлено")."""
    EXPIRED = "EXPIRED"
    """Its lifetime ran out before delivery ("Просрочено")."""
    UNDELIV = "UNDELIV"
    """Cannot be delivered ("Недоставляемое")."""
    REJECTD = "REJECTD"
    """Rejected by the system: blacklist or other filters ("Отклонено")."""
    UNKNOWN = "UNKNOWN"
    """A status string this library does not know; see the raw value."""

    @property
    def is_final(self) -> bool:
        """Whether the status can no longer change."""
        return self in _FINAL

    @classmethod
    def parse(cls, raw: object) -> DeliveryStatus:
        """Decode a gateway status (English code or Russian display string).

        Unknown or malformed values give :attr:`UNKNOWN`; this never raises.
        """
        if not isinstance(raw, str):
            return cls.UNKNOWN
        return _BY_TEXT.get(raw.strip().casefold(), cls.UNKNOWN)


_FINAL = frozenset(
    {
        DeliveryStatus.DELIVRD,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.UNDELIV,
        DeliveryStatus.REJECTD,
    }
)

_BY_TEXT: dict[str, DeliveryStatus] = {
    **{member.value.casefold(): member for member in DeliveryStatus},
    "отправлено": DeliveryStatus.ENROUTE,
    "доставлено": DeliveryStatus.DELIVRD,
    "просрочено": DeliveryStatus.EXPIRED,
    "недоставляемое": DeliveryStatus.UNDELIV,
    "отклонено": DeliveryStatus.REJECTD,
    "ожидает отправки": DeliveryStatus.PENDING,
    # SMPP-style long forms some gateways use for the same states.
    "delivered": DeliveryStatus.DELIVRD,
    "undeliverable": DeliveryStatus.UNDELIV,
    "rejected": DeliveryStatus.REJECTD,
    "accepted": DeliveryStatus.ENROUTE,
}


class SenderState(enum.StrEnum):
    """The moderation state of a sender name (values are the gateway's English strings).

    Example:
        >>> SenderState.parse("На модерации")
        <SenderState.MODERATION: 'Being moderated'>
    """

    APPROVED = "Approved"
    MODERATION = "Being moderated"
    REJECTED = "Rejected"
    OPERATOR_MODERATION = "Awaiting moderation by operator"
    NEEDS_INFORMATION = "Waiting for Additional. Information"
    UNKNOWN = "Unknown"

    @property
    def usable(self) -> bool:
        """Whether messages can be sent from this name now."""
        return self is SenderState.APPROVED

    @classmethod
    def parse(cls, raw: object) -> SenderState:
        """Decode the English or Russian state; unknown strings give :attr:`UNKNOWN`."""
        if not isinstance(raw, str):
            return cls.UNKNOWN
        return _SENDER_BY_TEXT.get(" ".join(raw.split()).casefold(), cls.UNKNOWN)


_SENDER_BY_TEXT: dict[str, SenderState] = {
    **{member.value.casefold(): member for member in SenderState},
    "разрешено": SenderState.APPROVED,
    "на модерации": SenderState.MODERATION,
    "отклонено": SenderState.REJECTED,
    "на модерации у оператора": SenderState.OPERATOR_MODERATION,
    "ожидаем доп. информацию": SenderState.NEEDS_INFORMATION,
    # The English document breaks this one over two lines in one place.
    "waiting for additional information": SenderState.NEEDS_INFORMATION,
}
