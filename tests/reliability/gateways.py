"""The three gateways of the reliability suite: an emulator, a client on it, the record.

Each :class:`Gateway` knows how to make its emulator (SMS Club's :class:`Sandbox`,
:class:`SmscSandbox`, :class:`SmsteleSandbox`, all with the same seeded
:class:`Faults`), a client of it (in process, or over a loopback socket with the
default httpx transport or httpx-aiohttp), numbers it routes, numbers it refuses
one by one, and how to read what it recorded: every message it accepted, under the
key the client must report it by.

The truth of every check is that record, never what the client believes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import httpx

from smsclub_async import RetryPolicy, SmsClub
from smsclub_async.gateways import SmscClient, SmsteleClient
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, SandboxTransport
from smsclub_async.sandbox.gateways import (
    GatewayTransport,
    SmscConfig,
    SmscSandbox,
    SmsteleConfig,
    SmsteleSandbox,
)

__all__ = [
    "GATEWAYS",
    "GATEWAY_NAMES",
    "PASSWORD",
    "Gateway",
    "Record",
    "TransportKind",
    "aiohttp_transport",
    "record_of",
]

#: The password of every SMSC/SMStele account in the suite (SMS Club's secret is the
#: token itself, the account name).
PASSWORD = "pw-SECRET-0f3a9c1d"

TransportKind = Literal["httpx", "aiohttp"]


@dataclass(frozen=True, slots=True)
class Record:
    """What an emulator (or a hostile server) recorded for one account.

    Attributes:
        issued: the key the client must report (SMS Club's id; ``"<id>:<phone>"``
            for SMSC and SMStele) -> the phone it was accepted for.
        deliveries: phone -> how many messages were accepted for it.
        messages: every (key, phone) accepted, in order; ``None``: ``issued``'s
            items. A gateway that repeats ids has fewer ``issued`` keys than messages.
    """

    issued: dict[str, str]
    deliveries: Counter[str]
    messages: list[tuple[str, str]] | None = None

    def pairs(self) -> list[tuple[str, str]]:
        """Every (key, phone) the gateway accepted."""
        return list(self.issued.items()) if self.messages is None else list(self.messages)


def record_of(emulator: Any, account: str) -> Record:
    """The record of ``account`` on any of the three emulators."""
    if isinstance(emulator, Sandbox):
        messages = emulator.messages(account)
        return Record({m.id: m.phone for m in messages}, emulator.deliveries(account))
    if isinstance(emulator, SmscSandbox | SmsteleSandbox):
        accepted = [m for m in emulator.messages(account) if not m.hlr]
        issued = {f"{m.id}:{m.phone}": m.phone for m in accepted}
        return Record(issued, emulator.deliveries(account))
    record = getattr(emulator, "record", None)
    if callable(record):
        found: Record = record(account)
        return found
    raise TypeError(f"no record for {emulator!r}")


def aiohttp_transport() -> httpx.AsyncBaseTransport:
    """httpx-aiohttp's transport (the ``[aiohttp]`` extra)."""
    import httpx_aiohttp  # noqa: PLC0415 - optional extra

    transport: httpx.AsyncBaseTransport = httpx_aiohttp.AiohttpTransport()
    return transport


@dataclass(frozen=True, slots=True, kw_only=True)
class Gateway:
    """One gateway as the suite drives it.

    Attributes:
        name: the test id.
        prefix: valid numbers are ``prefix`` + digits, ``length`` in all.
        length: digits of a number.
        refused_prefix: numbers the gateway refuses one by one (SMS Club: a
            blacklist; SMSC: an undeliverable prefix, error 8; SMStele: no route).
        duplicate_window: the gateway refuses a repeat of an identical send for a
            while (SMS Club 453, SMSC error 9), so a maybe-processed send may be
            retried; REX400 has no such rule, so its client never retries one.
        sender: a sender name the emulator accepts.
    """

    name: str
    prefix: str
    length: int
    refused_prefix: str
    duplicate_window: bool
    sender: str

    def __repr__(self) -> str:
        return self.name

    # ----------------------------------------------------------------- numbers

    def number(self, n: int) -> str:
        """The ``n``-th valid number of this gateway."""
        return f"{self.prefix}{n:0{self.length - len(self.prefix)}d}"

    def refused_number(self, n: int) -> str:
        """The ``n``-th number this gateway refuses per number."""
        return f"{self.refused_prefix}{n:0{self.length - len(self.refused_prefix)}d}"

    # ----------------------------------------------------------------- emulator

    def emulator(
        self,
        *,
        faults: Faults | None = None,
        clock: Callable[[], float] | None = None,
        rate_limit: int | None = None,
        blacklist: list[str] | None = None,
    ) -> Any:
        """A fresh emulator with a large balance, any account accepted."""
        options: dict[str, Any] = {"faults": faults or Faults()}
        if clock is not None:
            options["clock"] = clock
        if self.name == "smsclub":
            sandbox = Sandbox(
                SandboxConfig(
                    balance=Decimal(10**9), rate_limit=rate_limit, duplicate_window=120.0
                ),
                **options,
            )
            if blacklist:
                sandbox.add_blacklist(*blacklist)
            return sandbox
        if self.name == "smsc":
            config = SmscConfig(
                accounts=None,
                balance=Decimal(10**9),
                max_in_flight=10**6,
                senders={self.sender: 1},
            )
            return SmscSandbox(config, **options)
        config_t = SmsteleConfig(
            accounts=None,
            credits=10**9,
            operators={self.prefix: ("mMTS", "77", "01")},
            senders=frozenset({self.sender}),
        )
        return SmsteleSandbox(config_t, **options)

    # ----------------------------------------------------------------- client

    @staticmethod
    def in_process(emulator: Any) -> httpx.AsyncBaseTransport:
        """The emulator's in-process httpx transport (no socket)."""
        if isinstance(emulator, Sandbox):
            return SandboxTransport(emulator)
        return GatewayTransport(emulator)

    def client(
        self,
        account: str,
        *,
        base_url: str | None = None,
        emulator: Any = None,
        transport: TransportKind | httpx.AsyncBaseTransport | None = None,
        send_retry: RetryPolicy | None = None,
        **options: Any,
    ) -> Any:
        """A client of ``account``: on ``emulator`` in process, or at ``base_url``.

        ``transport`` is "httpx" (the default transport), "aiohttp", or a transport.
        ``send_retry`` is applied over the client's own duplicate-window rules (its
        default policy's ``duplicate_window`` and ``window_safety``), so a test's
        attempts and waits never change what the gateway's window allows.
        """
        if transport == "aiohttp":
            transport = aiohttp_transport()
        elif transport == "httpx":
            transport = None
        if emulator is not None:
            transport = self.in_process(emulator)
        if base_url is not None:
            options["base_url"] = base_url
        if transport is not None:
            options["transport"] = transport
        options.setdefault("rate_limit", 1000)
        if self.name == "smsclub":
            client: Any = SmsClub(token=account, **options)
        elif self.name == "smsc":
            client = SmscClient(account, PASSWORD, **options)
        else:
            client = SmsteleClient(account, PASSWORD, **options)
        if send_retry is not None:
            default = client.send_retry
            client.send_retry = dataclasses.replace(
                send_retry,
                duplicate_window=default.duplicate_window,
                window_safety=default.window_safety,
            )
        return client


SMSCLUB = Gateway(
    name="smsclub",
    prefix="380",
    length=12,
    refused_prefix="380",  # blacklisted in the sandbox by make_recipients
    duplicate_window=True,
    sender="VashZakaz",
)
SMSC = Gateway(
    name="smsc",
    prefix="7701",
    length=11,
    refused_prefix="7000",  # SmscConfig.undeliverable_prefixes: error 8 per number
    duplicate_window=True,
    sender="MyShop",
)
SMSTELE = Gateway(
    name="smstele",
    prefix="7916",
    length=11,
    refused_prefix="7999",  # no operator routes it: listed, not sent
    duplicate_window=False,
    sender="MyShop",
)

GATEWAYS: dict[str, Gateway] = {g.name: g for g in (SMSCLUB, SMSC, SMSTELE)}
GATEWAY_NAMES = list(GATEWAYS)
