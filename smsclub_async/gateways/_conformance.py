"""Static proof that every client satisfies :class:`SmsGateway` (checked by mypy, never run).

``mypy --strict smsclub_async`` fails here if a client's signatures drift from
the protocol; ``tests/gateways/test_gateway_protocol.py`` checks the same at run
time with ``isinstance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._protocol import SmsGateway
    from .smsc import SmscClient
    from .smsclub import SmsClub
    from .smstele import SmsteleClient

    def _conforms(
        sms_club: SmsClub, smsc: SmscClient, smstele: SmsteleClient
    ) -> tuple[SmsGateway, SmsGateway, SmsGateway]:
        return sms_club, smsc, smstele
