"""Local emulators of the SMSC.kz and SMStele (REX400) HTTP APIs, for tests and demos.

Each is a state machine with no I/O (:class:`SmscSandbox`, :class:`SmsteleSandbox`)
behind two thin adapters: :class:`GatewayTransport` (an ``httpx`` transport, in
process) and :class:`GatewayApp` (ASGI). They reuse the SMS Club sandbox's
response type, seeded fault injection and manual clock.

Example:
    >>> from smsclub_async.gateways import SmscClient
    >>> from smsclub_async.sandbox.gateways import GatewayTransport, SmscSandbox
    >>> sandbox = SmscSandbox()
    >>> async def main() -> None:
    ...     transport = GatewayTransport(sandbox)
    ...     async with SmscClient("demo", "demo", transport=transport) as smsc:
    ...         result = await smsc.send(["77011234567"], "Hi", sender="MyShop")
"""

from ._common import Emulator, FormRequest, GatewayApp, GatewayTransport
from .smsc import SMSC_ERROR_TEXTS, SmscConfig, SmscMessage, SmscSandbox
from .smstele import SMSTELE_ERROR_TEXTS, SmsteleConfig, SmsteleMessage, SmsteleSandbox

__all__ = [
    "SMSC_ERROR_TEXTS",
    "SMSTELE_ERROR_TEXTS",
    "Emulator",
    "FormRequest",
    "GatewayApp",
    "GatewayTransport",
    "SmscConfig",
    "SmscMessage",
    "SmscSandbox",
    "SmsteleConfig",
    "SmsteleMessage",
    "SmsteleSandbox",
]
