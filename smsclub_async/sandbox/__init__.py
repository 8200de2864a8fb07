"""A faithful local emulator of the SMS Club JSON API, for tests and demos.

The core, :class:`Sandbox`, is a state machine with no I/O: accounts per
token (balance, sender names, blacklist, messages), the documented request
validation and English texts, the 453 duplicate rule, the delivery lifecycle,
a strict sliding-window rate limit, seeded fault injection, and a record of
every arrival. Three thin adapters carry bytes to it:

* :class:`SandboxTransport` - an ``httpx`` transport, in process, no socket;
* :class:`SandboxApp` - an ASGI application;
* :func:`serve` / :func:`run` - a real HTTP/1.1 server on loopback.

Example:
    >>> import httpx
    >>> from smsclub_async.sandbox import Sandbox, SandboxTransport
    >>> sandbox = Sandbox(tokens=["secret"])
    >>> async def main() -> None:
    ...     async with httpx.AsyncClient(
    ...         transport=SandboxTransport(sandbox), base_url="https://im.smsclub.mobi"
    ...     ) as client:
    ...         await client.post("/sms/balance", headers={"Authorization": "Bearer secret"})
    >>> sandbox.deliveries()
    Counter()
"""

from ._accounts import SentMessage
from ._asgi import SandboxApp
from ._clock import ManualClock
from ._config import DELIVERY_STATUSES, SENDER_STATES, LastDigitStatus, SandboxConfig
from ._faults import FaultKind, Faults
from ._server import SandboxServer, ServerLimits, run, serve
from ._state import Sandbox
from ._stats import Arrival, SandboxStats
from ._transport import SandboxTransport
from ._window import densest_window
from ._wire import SandboxRequest, SandboxResponse

__all__ = [
    "DELIVERY_STATUSES",
    "SENDER_STATES",
    "Arrival",
    "FaultKind",
    "Faults",
    "LastDigitStatus",
    "ManualClock",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxServer",
    "SandboxStats",
    "SandboxTransport",
    "SentMessage",
    "ServerLimits",
    "densest_window",
    "run",
    "serve",
]
