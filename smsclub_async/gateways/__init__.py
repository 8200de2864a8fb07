"""The other gateways on the same core: SMSC.kz and SMStele (REX400), and SmsGateway.

Both clients reuse everything :class:`~smsclub_async.SmsClub` is built on: the
shared httpx client, the limiter protocol, the retry rules that keep sends safe,
chunking and merging, msgspec decoding, the error tree and the result types.

Example:
    >>> from smsclub_async.gateways import SmscClient, SmsGateway
    >>> async def main() -> None:
    ...     gateway: SmsGateway = SmscClient(login="me", password="...")
    ...     async with gateway:
    ...         result = await gateway.send(["77011234567"], "Hi", sender="MyShop")
"""

from ._errors import InsufficientFundsError, UnsupportedError
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
from .smstele import (
    DEFAULT_SMSTELE_BASE_URL,
    SMSTELE_MAX_IN_FLIGHT,
    SMSTELE_READ_RETRY,
    SMSTELE_SEND_RETRY,
    SmsteleClient,
)

__all__ = [
    "DEFAULT_SMSC_BASE_URL",
    "DEFAULT_SMSTELE_BASE_URL",
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
    "InsufficientFundsError",
    "MessageRefs",
    "SmsGateway",
    "SmscClient",
    "SmscCost",
    "SmscSendResult",
    "SmscSender",
    "SmsteleClient",
    "SmsteleRecipient",
    "SmsteleSendResult",
    "UnsupportedError",
    "concurrency_limiter_for",
    "message_key",
    "split_key",
]
