"""The three gateways, their own types and defaults, and :class:`SmsGateway`.

Each gateway is a module of declarations and pure functions on one engine:
:mod:`smsclub_async.gateways.smsclub` (SMS Club), :mod:`~.smsc` (SMSC.kz) and
:mod:`~.smstele` (SMStele/REX400). Their clients share the lifecycle, the request
pipeline and its retry rules, the limiter protocol, chunking and merging, the
error tree and the result types; this namespace holds what only some of them have.

Example:
    >>> from smsclub_async.gateways import SmscClient, SmsGateway
    >>> async def main() -> None:
    ...     gateway: SmsGateway = SmscClient(login="me", password="...")
    ...     async with gateway:
    ...         result = await gateway.send(["77011234567"], "Hi", sender="MyShop")
"""

from .._common import DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT
from .._limiter import Priority, limiter_for_token
from .._phones import normalize_phone
from .._pipeline import Stats
from .._results import SenderRegistration
from .._status import SenderState
from ._keys import MessageRefs, message_key, split_key
from ._limits import BothLimiter, ConcurrencyLimiter, concurrency_limiter_for
from ._protocol import SmsGateway
from ._results import (
    HlrResult,
    SmscCost,
    SmscSender,
    SmscSendResult,
    SmsteleRecipient,
    SmsteleSendResult,
)
from .smsc import (
    DEFAULT_SMSC_BASE_URL,
    SMSC_DUPLICATE_WINDOW,
    SMSC_MAX_IN_FLIGHT,
    SMSC_READ_RETRY,
    SMSC_SEND_RETRY,
    SmscClient,
)
from .smsclub import (
    DEFAULT_BASE_URL,
    SMSCLUB_DUPLICATE_WINDOW,
    SMSCLUB_READ_RETRY,
    SMSCLUB_SEND_RETRY,
    SmsClub,
)
from .smstele import (
    DEFAULT_SMSTELE_BASE_URL,
    SMSTELE_MAX_IN_FLIGHT,
    SMSTELE_READ_RETRY,
    SMSTELE_SEND_RETRY,
    SmsteleClient,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_SMSC_BASE_URL",
    "DEFAULT_SMSTELE_BASE_URL",
    "DEFAULT_TIMEOUT",
    "SMSCLUB_DUPLICATE_WINDOW",
    "SMSCLUB_READ_RETRY",
    "SMSCLUB_SEND_RETRY",
    "SMSC_DUPLICATE_WINDOW",
    "SMSC_MAX_IN_FLIGHT",
    "SMSC_READ_RETRY",
    "SMSC_SEND_RETRY",
    "SMSTELE_MAX_IN_FLIGHT",
    "SMSTELE_READ_RETRY",
    "SMSTELE_SEND_RETRY",
    "BothLimiter",
    "ConcurrencyLimiter",
    "HlrResult",
    "MessageRefs",
    "Priority",
    "SenderRegistration",
    "SenderState",
    "SmsClub",
    "SmsGateway",
    "SmscClient",
    "SmscCost",
    "SmscSendResult",
    "SmscSender",
    "SmsteleClient",
    "SmsteleRecipient",
    "SmsteleSendResult",
    "Stats",
    "concurrency_limiter_for",
    "limiter_for_token",
    "message_key",
    "normalize_phone",
    "split_key",
]

for _name in __all__:
    _obj = globals()[_name]
    if (
        callable(_obj)
        and getattr(_obj, "__module__", "").startswith("smsclub_async.")
        and _name != "SmsClub"
    ):
        _obj.__module__ = __name__
