"""Which gateway a command talks to, and how its client is built.

Each gateway is one :class:`GatewaySpec` in :data:`GATEWAYS`: how to connect to it
with a token, how to get an in-process sandbox of it (if it has one), and which
commands it supports. The commands only see :class:`GatewayClient`, the calls every
gateway offers; SMS-Club-only commands (sender names) ask for :class:`SmsClub`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..gateways.smsclub import BASE_URL_ENV, TOKEN_ENV, SmsClub

if TYPE_CHECKING:
    from ..gateways import SmsteleClient
from .._results import Balance, SendResult, StatusReport
from .._tracking import StatusChange
from ._errors import CliError

__all__ = [
    "GATEWAYS",
    "SANDBOX_TOKEN",
    "Feature",
    "GatewayClient",
    "GatewayName",
    "GatewaySpec",
    "PersonalizedClient",
    "ResultStream",
    "Settings",
    "open_client",
    "open_personalized",
    "open_smsclub",
]

SANDBOX_TOKEN = "sandbox"  # noqa: S105 - the embedded sandbox accepts any token
"""The token used with ``--sandbox`` when none is given."""


class GatewayName(enum.StrEnum):
    """The ``--gateway`` choices."""

    SMSCLUB = "smsclub"
    SMSC = "smsc"
    SMSTELE = "smstele"


class Feature(enum.StrEnum):
    """Commands not every gateway has."""

    PERSONALIZED = "send-personalized"
    SENDERS = "senders"
    SENDER_STATUS = "sender-status"
    REGISTER_SENDER = "register-sender"


@dataclass(frozen=True, slots=True)
class Settings:
    """The global options, shared by every command.

    Attributes:
        token: ``--token`` or the gateway's token variable; ``None`` if neither.
        base_url: ``--base-url`` or the gateway's base-URL variable.
        sandbox: answer from an embedded in-process sandbox instead of the network.
        json: print machine-readable JSON on stdout (and the rest on stderr).
        gateway: which gateway to talk to.
    """

    token: str | None = None
    base_url: str | None = None
    sandbox: bool = False
    json: bool = False
    gateway: GatewayName = GatewayName.SMSCLUB


class ResultStream(Protocol):
    """Per-request results of a bulk send (:class:`smsclub_async.SendStream`)."""

    unclaimed: list[SendResult]

    def __aiter__(self) -> AsyncIterator[SendResult]: ...

    async def aclose(self) -> None: ...


class GatewayClient(Protocol):
    """What the command line needs from any gateway's client."""

    def send_iter(
        self,
        phones: Iterable[str],
        message: str,
        *,
        sender: str,
        lifetime: int | None = ...,
        max_parts: int | None = ...,
    ) -> ResultStream: ...

    async def status(self, message_ids: Iterable[str]) -> StatusReport: ...

    def track(
        self,
        message_ids: Iterable[str],
        *,
        timeout: float | None = ...,
        interval: float = ...,
        max_interval: float = ...,
        report: StatusReport | None = ...,
    ) -> AsyncIterator[StatusChange]: ...

    async def balance(self) -> Balance: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PersonalizedClient(GatewayClient, Protocol):
    """A client that can also send each recipient its own text."""

    def send_personalized_iter(
        self,
        messages: Iterable[tuple[str, str]],
        *,
        sender: str,
        lifetime: int | None = ...,
        max_parts: int | None = ...,
    ) -> ResultStream: ...


Connect = Callable[[str, str | None], GatewayClient]
"""(token, base URL or None) -> a client."""
SandboxFactory = Callable[[str], GatewayClient]
"""token -> a client answered by an in-process sandbox."""


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    """How the command line reaches one gateway.

    Attributes:
        name: the ``--gateway`` value.
        token_env: the environment variable read when ``--token`` is not given.
        base_url_env: the environment variable read when ``--base-url`` is not given.
        connect: builds a client for the real gateway; ``None`` while unsupported.
        sandbox: builds a client on an embedded sandbox; ``None`` if there is none.
        features: the commands of :class:`Feature` it supports.
    """

    name: GatewayName
    token_env: str
    base_url_env: str
    connect: Connect | None
    sandbox: SandboxFactory | None
    features: frozenset[Feature]


def _smsclub(token: str, base_url: str | None) -> SmsClub:
    return SmsClub(token, base_url=base_url)


def _smsclub_sandbox(token: str) -> SmsClub:
    from ..sandbox import Sandbox, SandboxTransport  # noqa: PLC0415 - only for --sandbox

    return SmsClub(token, transport=SandboxTransport(Sandbox()))


def _login_password(token: str, gateway: str) -> tuple[str, str]:
    login, colon, password = token.partition(":")
    if not colon or not login or not password:
        raise CliError(f"--gateway {gateway} takes the token as LOGIN:PASSWORD")
    return login, password


def _smsc(token: str, base_url: str | None) -> GatewayClient:
    from ..gateways import SmscClient  # noqa: PLC0415 - only for --gateway smsc

    # SMSC accepts an API key, or a login and password: "LOGIN:PASSWORD".
    if ":" in token:
        login, password = _login_password(token, "smsc")
        return SmscClient(login, password, base_url=base_url)
    return SmscClient(api_key=token, base_url=base_url)


def _smsc_sandbox(token: str) -> GatewayClient:
    from ..gateways import SmscClient  # noqa: PLC0415 - only for --sandbox
    from ..sandbox.gateways import GatewayTransport, SmscConfig, SmscSandbox  # noqa: PLC0415

    login, _, password = token.partition(":")
    emulator = SmscSandbox(SmscConfig(accounts=None))  # any login with a password
    return SmscClient(
        login or "sandbox", password or "sandbox", transport=GatewayTransport(emulator)
    )


def _smstele(token: str, base_url: str | None) -> GatewayClient:
    from ..gateways import SmsteleClient  # noqa: PLC0415 - only for --gateway smstele

    login, password = _login_password(token, "smstele")
    return _Smstele(SmsteleClient(login, password, base_url=base_url))


def _smstele_sandbox(token: str) -> GatewayClient:
    from ..gateways import SmsteleClient  # noqa: PLC0415 - only for --sandbox
    from ..sandbox.gateways import (  # noqa: PLC0415
        GatewayTransport,
        SmsteleConfig,
        SmsteleSandbox,
    )

    login, _, password = token.partition(":")
    emulator = SmsteleSandbox(SmsteleConfig(accounts=None))  # any login with a password
    return _Smstele(
        SmsteleClient(
            login or "sandbox", password or "sandbox", transport=GatewayTransport(emulator)
        )
    )


class _Smstele:
    """SmsteleClient under the command line's names (REX400 calls lifetime validity)."""

    def __init__(self, client: SmsteleClient) -> None:
        self._client = client
        self.status = client.status
        self.track = client.track
        self.balance = client.balance
        self.aclose = client.aclose

    def send_iter(
        self,
        phones: Iterable[str],
        message: str,
        *,
        sender: str,
        lifetime: int | None = None,
        max_parts: int | None = None,
    ) -> ResultStream:
        return self._client.send_iter(
            phones, message, sender=sender, lifetime=lifetime, max_parts=max_parts
        )


GATEWAYS: dict[GatewayName, GatewaySpec] = {
    GatewayName.SMSCLUB: GatewaySpec(
        name=GatewayName.SMSCLUB,
        token_env=TOKEN_ENV,
        base_url_env=BASE_URL_ENV,
        connect=_smsclub,
        sandbox=_smsclub_sandbox,
        features=frozenset(Feature),
    ),
    GatewayName.SMSC: GatewaySpec(
        name=GatewayName.SMSC,
        token_env="SMSC_API_KEY",  # noqa: S106 - a variable name
        base_url_env="SMSC_BASE_URL",
        connect=_smsc,
        sandbox=_smsc_sandbox,
        features=frozenset({Feature.PERSONALIZED}),
    ),
    GatewayName.SMSTELE: GatewaySpec(
        name=GatewayName.SMSTELE,
        token_env="SMSTELE_TOKEN",  # noqa: S106 - a variable name
        base_url_env="SMSTELE_BASE_URL",
        connect=_smstele,
        sandbox=_smstele_sandbox,
        features=frozenset(),
    ),
}


def _spec(settings: Settings, feature: Feature | None) -> GatewaySpec:
    spec = GATEWAYS[settings.gateway]
    if spec.connect is None:
        raise CliError(
            f"--gateway {spec.name} is not supported by this version of the command line"
            f" yet; use --gateway {GatewayName.SMSCLUB}"
        )
    if feature is not None and feature not in spec.features:
        raise CliError(f"{feature} is not available for --gateway {spec.name}")
    return spec


def _token(settings: Settings, spec: GatewaySpec) -> str | None:
    token = settings.token
    if token is None:
        token = os.environ.get(spec.token_env)
    return token.strip() if token and token.strip() else None


def open_client(settings: Settings, feature: Feature | None = None) -> GatewayClient:
    """Build the client the global options ask for.

    Raises:
        CliError: unsupported gateway or command, no token (outside ``--sandbox``).
    """
    spec = _spec(settings, feature)
    token = _token(settings, spec)
    if settings.sandbox:
        if spec.sandbox is None:
            raise CliError(f"--sandbox is not available for --gateway {spec.name}")
        return spec.sandbox(token or SANDBOX_TOKEN)
    if token is None:
        raise CliError(
            f"no API token: pass --token or set {spec.token_env}"
            " (or try the command with --sandbox first)"
        )
    assert spec.connect is not None
    base_url = settings.base_url or os.environ.get(spec.base_url_env) or None
    return spec.connect(token, base_url)


def open_personalized(settings: Settings) -> PersonalizedClient:
    """A client for ``send-personalized``."""
    client = open_client(settings, Feature.PERSONALIZED)
    if not isinstance(client, PersonalizedClient):
        raise CliError(f"{Feature.PERSONALIZED} is not available for --gateway {settings.gateway}")
    return client


def open_smsclub(settings: Settings, feature: Feature) -> SmsClub:
    """Like :func:`open_client`, for the commands only SMS Club has."""
    client = open_client(settings, feature)
    if not isinstance(client, SmsClub):
        raise CliError(f"{feature} is only available for --gateway {GatewayName.SMSCLUB}")
    return client
