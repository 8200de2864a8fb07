"""Result types of the gateway clients: the core ones plus each gateway's extras."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .._results import SendResult
from .._status import DeliveryStatus, SenderState

__all__ = [
    "HlrResult",
    "SmscCost",
    "SmscSendResult",
    "SmscSender",
    "SmsteleRecipient",
    "SmsteleSendResult",
]


@dataclass(slots=True, eq=True, repr=False)
class SmscSendResult(SendResult):
    """A :class:`SendResult` with what SMSC.kz adds: cost, parts and the balance after.

    The keys of ``sent`` are ``"<id>:<phone>"``: SMSC issues one id per request
    and tells recipients apart by phone. Pass them (or ``result.ids``) to
    :meth:`SmscClient.status`.

    Attributes:
        cost: what the accepted messages cost, summed over the requests.
        parts: SMS parts the gateway counted (``cnt``), summed.
        balance: the account balance after the last request, when reported.
        message_ids: the ids the gateway issued, one per request, in order (ids
            issued with a refusal included).
    """

    cost: Decimal = Decimal(0)
    parts: int = 0
    balance: Decimal | None = field(default=None, compare=False)
    message_ids: list[str] = field(default_factory=list)

    def merge(self, other: SendResult) -> None:
        """Add another (chunk) result into this one, in place."""
        SendResult.merge(self, other)
        if isinstance(other, SmscSendResult):
            self.message_ids.extend(i for i in other.message_ids if i not in self.message_ids)
            self.cost += other.cost
            self.parts += other.parts
            if other.balance is not None:
                self.balance = other.balance

    def __repr__(self) -> str:
        base = SendResult.__repr__(self).removeprefix("SendResult(").removesuffix(")")
        return f"SmscSendResult({base}, parts={self.parts}, cost={self.cost})"


@dataclass(frozen=True, slots=True)
class SmscCost:
    """The price of a message, asked without sending it (``cost=1``).

    Attributes:
        cost: what sending it would cost, in the account currency.
        parts: SMS parts it would take, over all recipients.
    """

    cost: Decimal
    parts: int


@dataclass(frozen=True, slots=True)
class SmscSender:
    """A sender name of an SMSC.kz account (``senders.php``).

    Attributes:
        name: the sender name.
        id: the gateway's id of the name.
        status: the gateway's status code (0 awaiting moderation, 1 allowed,
            2 switched off), or ``None`` when not asked for.
        state: the status as a :class:`SenderState`.
        operators: operator field -> status code, for ``operators=1`` listings.
    """

    name: str
    id: str
    status: int | None = None
    state: SenderState = SenderState.UNKNOWN
    operators: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Whether messages can be sent from this name now."""
        return self.state.usable


@dataclass(frozen=True, slots=True)
class HlrResult:
    """The answer to an HLR lookup of one number (no SMS is delivered).

    Attributes:
        phone: the number looked up.
        message_id: the key of the lookup (``"<id>:<phone>"``).
        status: the lookup's state (DELIVRD: the subscriber is reachable).
        raw: the gateway's status code.
        error: the gateway's error code for an unreachable number ("0" when none).
        imsi, msc, mcc, mnc: the network data the operator returned.
        country, operator: the home network (SMSC ``cn`` and ``net``).
        roaming_country, roaming_operator: the visited network, when roaming.
    """

    phone: str
    message_id: str
    status: DeliveryStatus
    raw: str
    error: str = "0"
    imsi: str = ""
    msc: str = ""
    mcc: str = ""
    mnc: str = ""
    country: str = ""
    operator: str = ""
    roaming_country: str = ""
    roaming_operator: str = ""


@dataclass(frozen=True, slots=True)
class SmsteleRecipient:
    """One recipient of a REX400 send or HLR request, as the gateway reported it.

    Attributes:
        phone: the number.
        message_id: the request's id (client-assigned or issued by the gateway).
        status: the gateway's per-recipient status code (``"-99"`` in every
            documented example).
        error: the gateway's per-recipient error code (``"-99"`` likewise; a
            documented negative code means this recipient was refused).
        parts: SMS parts for this recipient (``cnt``).
        operator: the operator code, e.g. ``"mMTS"``; empty when the gateway did
            not recognise the number.
        region: the region code, e.g. ``"77"``.
        mnc: the mobile network code, e.g. ``"01"``.
    """

    phone: str
    message_id: str
    status: str = ""
    error: str = ""
    parts: int = 0
    operator: str = ""
    region: str = ""
    mnc: str = ""

    @property
    def key(self) -> str:
        """The message key ``"<id>:<phone>"``."""
        return f"{self.message_id}:{self.phone}"


@dataclass(slots=True, eq=True, repr=False)
class SmsteleSendResult(SendResult):
    """A :class:`SendResult` with REX400's per-recipient details.

    The keys of ``sent`` are ``"<id>:<phone>"`` (every recipient of a request
    shares its id); pass them to :meth:`SmsteleClient.status`.

    Attributes:
        details: message key -> what the gateway said about that recipient
            (status, error, operator, region, mnc), for every recipient its answer
            listed (refused ones included).
        message_ids: the ids of the requests, in order (one per request).
        parts: SMS parts the gateway counted (top-level ``cnt``), summed.
    """

    details: dict[str, SmsteleRecipient] = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)
    parts: int = 0

    def merge(self, other: SendResult) -> None:
        """Add another (chunk) result into this one, in place."""
        SendResult.merge(self, other)
        if isinstance(other, SmsteleSendResult):
            self.details.update(other.details)
            self.message_ids.extend(i for i in other.message_ids if i not in self.message_ids)
            self.parts += other.parts

    def __repr__(self) -> str:
        base = SendResult.__repr__(self).removeprefix("SendResult(").removesuffix(")")
        return f"SmsteleSendResult({base}, ids={self.message_ids!r})"
