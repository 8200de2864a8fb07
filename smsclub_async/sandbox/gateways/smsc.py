"""An emulator of the SMSC.kz HTTP API (``/sys/send.php``, ``status.php``, ``balance.php``,
``senders.php``), in process, for tests and demos.

What it does as the gateway documents it:

* login/password (``login``, ``psw``) or API key (``apikey``, or an empty
  ``login`` with the key in ``psw``), from the query string or the POST body;
* error answers in the four formats (``fmt`` 0-3) with the documented codes;
  sender-name listings in all four formats, with ``all=1`` and ``operators=1``;
* sends with ``phones`` or a personalised ``list``, ``sender``, ``translit``,
  ``time`` (deferred), ``valid``, ``flash``, ``id``, ``hlr=1``, ``cost`` 0-3 and
  ``op=1`` per-number reports; billing per SMS part; error 3 (no money), 5 (bad
  date), 6 (forbidden text or sender), 7 (bad numbers), 8 (undeliverable);
* the duplicate rule: an identical send within a minute is refused with error
  9, as are a sixth identical price request, a sixth identical status request
  and a fourth identical sender-list request within a minute, and the fifteenth
  request in flight under one login;
* error 4: five failed logins within 30 minutes block the client for 30
  minutes; :meth:`SmscSandbox.block` blocks it by hand;
* the status lifecycle -1 (waiting for its time) -> 0 (with the operator) ->
  final (1 delivered, or 20/22/... as :attr:`SmscConfig.final_status` says),
  -3 for an unknown (id, phone) pair; HLR lookups answer with network data.

Success answers of ``send``, ``status`` and ``balance`` come in ``fmt=3`` (JSON),
the format the client asks for; errors and sender listings follow ``fmt``.
"""

from __future__ import annotations

import calendar
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec

from ..._segments import segments
from .._faults import Faults
from .._wire import SandboxResponse
from ._common import JSON, XML, FormRequest, apply_faults, digits, seen_in_window, split_list
from ._common import text_response as _text

__all__ = ["SMSC_ERROR_TEXTS", "SmscConfig", "SmscMessage", "SmscSandbox"]

SEND = "/sys/send.php"
STATUS = "/sys/status.php"
BALANCE = "/sys/balance.php"
SENDERS = "/sys/senders.php"
_PATHS = frozenset({SEND, STATUS, BALANCE, SENDERS})

#: The gateway's short English error texts (``ERROR = 4 (ip is blocked)`` is quoted
#: in SMSC's FAQ; the others follow the same style).
SMSC_ERROR_TEXTS: Mapping[int, str] = MappingProxyType(
    {
        1: "parameters error",
        2: "authorise error",
        3: "no money",
        4: "ip is blocked",
        5: "wrong date format",
        6: "message is denied",
        7: "invalid phone",
        8: "can't deliver",
        9: "duplicate request, wait a minute",
        10: "code already sent, retry in 8 hours",
        11: "invalid code",
    }
)
_SENDER_ERROR_TEXTS = {3: "sender not found", 5: "sender save error"}
_STATUS_ERROR_TEXTS = {3: "message not found"}

_MINUTE = 60.0
_AUTH_WINDOW = 30 * 60.0


def _last_digit_status(phone: str) -> int:
    """Final status: 20 (cannot be delivered) for numbers ending in 9, else 1 (delivered)."""
    return 20 if phone.endswith("9") else 1


def _default_operators() -> Mapping[str, tuple[str, str, str, str]]:
    # prefix -> (mcc, mnc, country, operator)
    return MappingProxyType(
        {
            "7700": ("401", "07", "Kazakhstan", "Altel"),
            "7701": ("401", "02", "Kazakhstan", "Kcell"),
            "7702": ("401", "02", "Kazakhstan", "Kcell"),
            "7705": ("401", "01", "Kazakhstan", "Beeline KZ"),
            "7707": ("401", "77", "Kazakhstan", "Tele2 KZ"),
            "7747": ("401", "77", "Kazakhstan", "Tele2 KZ"),
            "7777": ("401", "01", "Kazakhstan", "Beeline KZ"),
            "79": ("250", "01", "Russia", "MTS"),
            "380": ("255", "01", "Ukraine", "Vodafone UA"),
        }
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SmscConfig:
    """The emulator's accounts, prices, timings and limits.

    Attributes:
        accounts: login -> password; ``None`` accepts any login with a non-empty
            password.
        api_keys: API key -> the login it stands for.
        balance: each account's starting balance.
        currency: reported by ``balance.php?cur=1``.
        price_per_part: what one SMS part costs (HLR lookups cost ``hlr_price``).
        hlr_price: what one HLR lookup costs.
        senders: each account's sender names -> status (0 awaiting moderation,
            1 allowed, 2 switched off).
        forbidden_words: a text containing one is refused (error 6).
        undeliverable_prefixes: numbers starting so cannot be reached (error 8).
        operators: number prefix -> (mcc, mnc, country, operator) for HLR answers.
        delivery_delay: seconds a message stays with the operator (status 0).
        final_status: phone -> final status code (1 delivered, 3 expired, 20...).
        duplicate_window: seconds in which an identical request counts as a repeat.
        max_in_flight: requests one login may have in flight; one more gets error 9.
        identical_limits: endpoint kind -> identical requests allowed per minute
            (``cost``, ``status``, ``senders``); the next gets error 9.
        first_id: the first message id issued.
    """

    accounts: Mapping[str, str] | None = field(
        default_factory=lambda: MappingProxyType({"demo": "demo"})
    )
    api_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    balance: Decimal = Decimal("1000.00")
    currency: str = "KZT"
    price_per_part: Decimal = Decimal("10.00")
    hlr_price: Decimal = Decimal("1.00")
    senders: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"SMSC.KZ": 1, "MyShop": 1, "NewName": 0})
    )
    forbidden_words: frozenset[str] = frozenset({"casino"})
    undeliverable_prefixes: tuple[str, ...] = ("7000",)
    operators: Mapping[str, tuple[str, str, str, str]] = field(default_factory=_default_operators)
    delivery_delay: float = 0.5
    final_status: Callable[[str], int] = _last_digit_status
    duplicate_window: float = _MINUTE
    max_in_flight: int = 14
    identical_limits: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"cost": 5, "status": 5, "senders": 3})
    )
    first_id: int = 1


@dataclass(slots=True)
class SmscMessage:
    """One accepted message (or HLR lookup) to one number.

    Attributes:
        id: the request's id (shared by its recipients).
        phone: the number.
        text: the text as delivered.
        sender: the sender name, or ``""`` for the account's default.
        parts: SMS parts billed.
        cost: what it cost.
        accepted_at: the emulator clock when it was accepted.
        send_at: when it leaves for the operator (later for a deferred send).
        hlr: an HLR lookup rather than an SMS.
        flash: a flash SMS.
    """

    id: str
    phone: str
    text: str
    sender: str
    parts: int
    cost: Decimal
    accepted_at: float
    send_at: float
    hlr: bool = False
    flash: bool = False


@dataclass(slots=True)
class _Account:
    balance: Decimal
    senders: dict[str, tuple[int, int]]  # name -> (status, id)
    messages: dict[tuple[str, str], SmscMessage] = field(default_factory=dict)
    recent: dict[str, list[float]] = field(default_factory=dict)  # identical request -> times
    in_flight: int = 0


class _Refused(Exception):  # noqa: N818 - control flow inside the emulator
    def __init__(self, code: int, message_id: str | None = None, text: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message_id = message_id
        self.text = text


class SmscSandbox:
    """A local SMSC.kz gateway: the documented HTTP API's behaviour, state and limits.

    Args:
        config: accounts, prices, timings and limits; ``SmscConfig()`` if omitted.
        clock: seconds, for the lifecycle, duplicates and blocks (``ManualClock``
            lets a test jump ahead).
        faults: fault injection for ``send.php`` (``scope="all"``: every path).

    Example:
        >>> import httpx
        >>> from smsclub_async.sandbox.gateways import GatewayTransport
        >>> sandbox = SmscSandbox()
        >>> client = httpx.AsyncClient(transport=GatewayTransport(sandbox))
    """

    def __init__(
        self,
        config: SmscConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.config = SmscConfig() if config is None else config
        self.clock = clock
        self.faults = Faults() if faults is None else faults
        self._epoch = time.time() - clock()
        self._accounts: dict[str, _Account] = {}
        self._next_id = self.config.first_id
        self._next_sender_id = 1000
        self._blocked_until = float("-inf")
        self._auth_failures: list[float] = []
        self._script: list[int | None] = []
        self._counted: dict[int, str] = {}
        self.requests: list[FormRequest] = []
        """Every request that reached the emulator, in order (for wire checks)."""

    def __repr__(self) -> str:
        return f"SmscSandbox(accounts={len(self._accounts)}, requests={len(self.requests)})"

    # ----------------------------------------------------------------- controls

    def script(self, codes: list[int | None]) -> None:
        """Answer the next requests with these error codes (``None``: answer normally)."""
        self._script = list(codes)

    def block(self, seconds: float) -> None:
        """Block the client (error 4) for ``seconds`` from now."""
        self._blocked_until = self.clock() + seconds

    def set_balance(self, login: str, amount: Decimal | str | int) -> None:
        """Set an account's balance."""
        self._account(login).balance = Decimal(amount)

    def balance(self, login: str) -> Decimal:
        """An account's balance."""
        return self._account(login).balance

    def add_sender(self, login: str, name: str, status: int = 1) -> None:
        """Give an account a sender name with a status (0, 1 or 2)."""
        self._next_sender_id += 1
        self._account(login).senders[name] = (status, self._next_sender_id)

    def messages(self, login: str | None = None) -> list[SmscMessage]:
        """Every accepted message of ``login`` (or of all), in the order accepted."""
        accounts = [self._accounts[login]] if login in self._accounts else []
        if login is None:
            accounts = list(self._accounts.values())
        found = [message for account in accounts for message in account.messages.values()]
        return sorted(found, key=lambda m: (m.accepted_at, m.id, m.phone))

    def deliveries(self, login: str | None = None) -> Counter[str]:
        """Phone -> how many SMS were accepted for it (more than 1 is a double send)."""
        return Counter(m.phone for m in self.messages(login) if not m.hlr)

    # ----------------------------------------------------------------- the gateway

    def finished(self, request: FormRequest) -> None:
        """The adapter is done with ``request``: it no longer counts as in flight."""
        login = self._counted.pop(id(request), None)
        if login is not None and login in self._accounts:
            self._accounts[login].in_flight -= 1

    def handle(self, request: FormRequest, now: float) -> SandboxResponse:
        """Answer one request that arrived at ``now``."""
        self.requests.append(request)
        if request.path not in _PATHS:
            return SandboxResponse(404, (("content-type", "text/html"),), b"Not Found")
        params = request.params()
        fmt = params.get("fmt", "0").strip()
        applies = self.faults.scope == "all" or request.path == SEND
        response, _ = apply_faults(
            self.faults, applies, lambda: self._answer(request, params, fmt, now)
        )
        return response

    def _answer(
        self, request: FormRequest, params: dict[str, str], fmt: str, now: float
    ) -> SandboxResponse:
        try:
            return self._dispatch(request, params, fmt, now)
        except _Refused as refused:
            texts = {STATUS: _STATUS_ERROR_TEXTS, SENDERS: _SENDER_ERROR_TEXTS}.get(
                request.path, {}
            )
            text = refused.text or texts.get(refused.code) or SMSC_ERROR_TEXTS.get(refused.code, "")
            return render_error(refused.code, text, fmt, refused.message_id)

    def _dispatch(
        self, request: FormRequest, params: dict[str, str], fmt: str, now: float
    ) -> SandboxResponse:
        if self._script:
            code = self._script.pop(0)
            if code is not None:
                raise _Refused(code)
        if now < self._blocked_until:
            raise _Refused(4)
        login = self._authenticate(params, now)
        account = self._account(login)
        if account.in_flight >= self.config.max_in_flight:
            raise _Refused(9)
        account.in_flight += 1
        self._counted[id(request)] = login
        if request.path == SEND:
            return self._send(account, params, fmt, now)
        if request.path == STATUS:
            return self._status(account, params, now)
        if request.path == BALANCE:
            return self._balance(account, params)
        return self._senders(account, params, fmt, now)

    def _authenticate(self, params: Mapping[str, str], now: float) -> str:
        login = params.get("login", "")
        secret = params.get("psw", "")
        key = params.get("apikey", "") or (secret if not login else "")
        if key:
            if key in self.config.api_keys:
                return self.config.api_keys[key]
        elif login and secret:
            accounts = self.config.accounts
            if accounts is None or accounts.get(login) == secret:
                return login
        if seen_in_window(self._auth_failures, now, _AUTH_WINDOW) >= 4:
            self._auth_failures.clear()
            self._blocked_until = now + _AUTH_WINDOW
        else:
            self._auth_failures.append(now)
        raise _Refused(2)

    def _account(self, login: str) -> _Account:
        account = self._accounts.get(login)
        if account is None:
            senders = {}
            for name, status in self.config.senders.items():
                self._next_sender_id += 1
                senders[name] = (status, self._next_sender_id)
            account = _Account(balance=self.config.balance, senders=senders)
            self._accounts[login] = account
        return account

    def _identical(
        self, account: _Account, kind: str, params: Mapping[str, str], now: float
    ) -> int:
        """Record an identical request of ``kind``; return how many there were this window."""
        key = (
            kind
            + "?"
            + "&".join(
                f"{k}={v}" for k, v in sorted(params.items()) if k not in ("login", "psw", "apikey")
            )
        )
        log = account.recent.setdefault(key, [])
        count = seen_in_window(log, now, self.config.duplicate_window)
        log.append(now)
        return count + 1

    def _issue_id(self, params: Mapping[str, str]) -> str:
        given = params.get("id", "").strip()
        if given:
            return given
        message_id = str(self._next_id)
        self._next_id += 1
        return message_id

    # ----------------------------------------------------------------- send.php

    def _send(
        self, account: _Account, params: Mapping[str, str], fmt: str, now: float
    ) -> SandboxResponse:
        mode = params.get("cost", "0").strip() or "0"
        hlr = params.get("hlr") == "1"
        if mode == "1":
            limit = self.config.identical_limits.get("cost")
            if limit is not None and self._identical(account, "cost", params, now) > limit:
                raise _Refused(9)
        recipients = self._recipients(params, hlr)
        sender = params.get("sender", "").strip()
        if sender and account.senders.get(sender, (None,))[0] != 1:
            raise _Refused(6, self._issue_id(params))
        send_at = _deferred(params.get("time", ""), now, self._epoch)
        if params.get("valid") and not re.fullmatch(r"\d{1,2}(:\d{2})?", params["valid"]):
            raise _Refused(1)
        good: list[tuple[str, str, int]] = []  # (phone, text, parts)
        report: list[dict[str, str]] = []
        for raw, text in recipients:
            phone = digits(raw)
            if not hlr and any(word in text.casefold() for word in self.config.forbidden_words):
                raise _Refused(6, self._issue_id(params))
            error = "7" if phone is None else "0"
            if phone is not None and phone.startswith(self.config.undeliverable_prefixes):
                error = "8"
            if error != "0":
                report.append(
                    {"phone": raw, "mccmnc": "0", "cost": "0", "status": "", "error": error}
                )
                continue
            assert phone is not None
            parts = 1 if hlr else segments(text).parts
            good.append((phone, text, parts))
        if not good:
            code = 7 if any(r["error"] == "7" for r in report) else 8
            raise _Refused(code, self._issue_id(params))
        price = [
            self.config.hlr_price if hlr else self.config.price_per_part * p for _, _, p in good
        ]
        total = sum(price, Decimal(0))
        total_parts = sum(p for _, _, p in good)
        if mode == "1":
            body = {"cost": f"{total:.2f}", "cnt": total_parts}
            return _text(msgspec.json.encode(body), JSON)
        if self._identical(account, "send", params, now) > 1:
            raise _Refused(9)
        message_id = self._issue_id(params)
        if total > account.balance:
            raise _Refused(3, message_id)
        account.balance -= total
        for (phone, text, parts), cost in zip(good, price, strict=True):
            account.messages[(message_id, phone)] = SmscMessage(
                id=message_id,
                phone=phone,
                text=text,
                sender=sender,
                parts=parts,
                cost=cost,
                accepted_at=now,
                send_at=send_at,
                hlr=hlr,
                flash=params.get("flash") == "1",
            )
            report.append(
                {
                    "phone": phone,
                    "mccmnc": "".join(self._network(phone)[:2]),
                    "cost": f"{cost:.2f}",
                    "status": "0",
                    "error": "0",
                }
            )
        answer: dict[str, Any] = {"id": _number(message_id), "cnt": total_parts}
        if mode in ("2", "3"):
            answer["cost"] = f"{total:.2f}"
        if mode == "3":
            answer["balance"] = f"{account.balance:.2f}"
        if params.get("op") == "1":
            answer["phones"] = report
        return _text(msgspec.json.encode(answer), JSON)

    def _recipients(self, params: Mapping[str, str], hlr: bool) -> list[tuple[str, str]]:
        listing = params.get("list", "")
        if listing.strip():
            pairs = []
            for line in listing.splitlines():
                phone, colon, text = line.partition(":")
                if not colon or not text.strip():
                    raise _Refused(1)
                pairs.append((phone.strip(), text.replace("\\n", "\n")))
            return pairs
        phones = split_list(params.get("phones", ""))
        text = params.get("mes", "")
        if not phones or (not hlr and not text.strip()):
            raise _Refused(1)
        return [(phone, text) for phone in phones]

    def _network(self, phone: str) -> tuple[str, str, str, str]:
        for prefix in sorted(self.config.operators, key=len, reverse=True):
            if phone.startswith(prefix):
                return self.config.operators[prefix]
        return ("", "", "", "")

    # ----------------------------------------------------------------- status.php

    def _status_code(self, message: SmscMessage, now: float) -> int:
        if now < message.send_at:
            return -1
        if now < message.send_at + self.config.delivery_delay:
            return 0
        return self.config.final_status(message.phone)

    def _status(self, account: _Account, params: Mapping[str, str], now: float) -> SandboxResponse:
        ids = split_list(params.get("id", ""))
        phones = split_list(params.get("phone", ""))
        if not ids or len(ids) != len(phones):
            raise _Refused(1)
        limit = self.config.identical_limits.get("status")
        if limit is not None and self._identical(account, "status", params, now) > limit:
            raise _Refused(9)
        full = params.get("all", "0") in ("1", "2")
        answers = []
        for message_id, raw_phone in zip(ids, phones, strict=True):
            phone = digits(raw_phone) or raw_phone
            message = account.messages.get((message_id, phone))
            if message is None:
                if len(ids) == 1:
                    raise _Refused(3)
                answers.append({"id": _number(message_id), "phone": phone, "status": -3, "err": 0})
                continue
            answers.append(self._status_entry(message, now, full, many=len(ids) > 1))
        body = answers if len(ids) > 1 else answers[0]
        return _text(msgspec.json.encode(body), JSON)

    def _status_entry(
        self, message: SmscMessage, now: float, full: bool, *, many: bool
    ) -> dict[str, Any]:
        code = self._status_code(message, now)
        changed = message.send_at + (self.config.delivery_delay if code not in (-1, 0) else 0)
        stamp = int(self._epoch + (changed if code != -1 else message.accepted_at))
        entry: dict[str, Any] = {
            "status": code,
            "last_date": time.strftime("%d.%m.%Y %H:%M:%S", time.gmtime(stamp)),
            "last_timestamp": stamp,
            "err": 0 if code in (-1, 0, 1) else code,
        }
        if many:
            entry = {"id": _number(message.id), "phone": message.phone, **entry}
        if full:
            entry.update(
                {
                    "send_timestamp": int(self._epoch + message.accepted_at),
                    "phone": message.phone,
                    "cost": f"{message.cost:.2f}",
                    "sender_id": message.sender,
                    "message": message.text,
                    "type": 3 if message.hlr else 0,
                }
            )
            if message.hlr and code not in (-1, 0):
                mcc, mnc, country, operator = self._network(message.phone)
                reachable = code == 1
                entry.update(
                    {
                        "imsi": f"{mcc}{mnc}{message.phone[-9:]}" if reachable else "",
                        "msc": f"{message.phone[:4]}0000001" if reachable else "",
                        "mcc": mcc,
                        "mnc": mnc,
                        "cn": country,
                        "net": operator,
                        "rcn": "",
                        "rnet": "",
                    }
                )
        return entry

    # ----------------------------------------------------------------- balance.php

    def _balance(self, account: _Account, params: Mapping[str, str]) -> SandboxResponse:
        body: dict[str, str] = {"balance": f"{account.balance:.2f}"}
        if params.get("cur") == "1":
            body["currency"] = self.config.currency
        return _text(msgspec.json.encode(body), JSON)

    # ----------------------------------------------------------------- senders.php

    def _senders(
        self, account: _Account, params: Mapping[str, str], fmt: str, now: float
    ) -> SandboxResponse:
        name = params.get("sender", "").strip()
        if params.get("get") == "1":
            limit = self.config.identical_limits.get("senders")
            if limit is not None and self._identical(account, "senders", params, now) > limit:
                raise _Refused(9)
            return render_senders(
                account.senders,
                fmt,
                all_names=params.get("all") == "1",
                operators=params.get("operators") == "1",
            )
        if params.get("add") == "1":
            if not name:
                raise _Refused(1)
            if name in account.senders:
                raise _Refused(5)
            self._next_sender_id += 1
            account.senders[name] = (0, self._next_sender_id)
            sender_id = self._next_sender_id
            return _render(
                fmt,
                json={"sender": sender_id},
                xml=f"<sender>\n<id>{sender_id}</id>\n</sender>",
                plain=f"ID = {sender_id}",
                csv=str(sender_id),
            )
        if params.get("del") == "1":
            if name not in account.senders:
                raise _Refused(3)
            del account.senders[name]
            return _render(
                fmt, json={"result": "OK"}, xml="<result>OK</result>", plain="OK", csv="OK"
            )
        raise _Refused(1)


# ----------------------------------------------------------------- rendering (pure)


def _number(message_id: str) -> int | str:
    return int(message_id) if message_id.isdigit() else message_id


def _render(fmt: str, *, json: Any, xml: str, plain: str, csv: str) -> SandboxResponse:
    if fmt == "3":
        return _text(msgspec.json.encode(json), JSON)
    if fmt == "2":
        return _text(xml, XML)
    return _text(csv if fmt == "1" else plain)


def render_error(code: int, text: str, fmt: str, message_id: str | None = None) -> SandboxResponse:
    """An error answer in the documented shape of ``fmt`` (0, 1, 2 or 3).

    Example:
        >>> render_error(2, "authorise error", "1").body
        b'0,-2'
    """
    if fmt == "3":
        body: dict[str, Any] = {"error": text, "error_code": code}
        if message_id is not None:
            body["id"] = _number(message_id)
        return _text(msgspec.json.encode(body), JSON)
    if fmt == "2":
        extra = f"\n<id>{message_id}</id>" if message_id is not None else ""
        xml = f"<result>\n<error>{text}</error>\n<error_code>{code}</error_code>{extra}\n</result>"
        return _text(xml, XML)
    if fmt == "1":
        return _text(f"{message_id or 0},-{code}")
    suffix = f", ID - {message_id}" if message_id is not None else ""
    return _text(f"ERROR = {code} ({text}){suffix}")


_OPERATOR_FIELDS = (
    "mega_step",
    "mega_int",
    "bee_step",
    "motiv",
    "motiv_step",
    "motiv_int",
    "sber_step",
    "sber_int",
    "winmob_step",
    "volnamob_step",
    "mts_step",
    "mts_int",
    "tele2_step",
    "tele2",
    "tele2_int",
    "ua_reg",
    "ua_int",
    "by_reg",
    "by_int",
)


def render_senders(
    senders: Mapping[str, tuple[int, int]], fmt: str, *, all_names: bool, operators: bool
) -> SandboxResponse:
    """A sender-name listing in the documented shape of ``fmt``, ``all`` and ``operators``.

    Without ``all``, only the names allowed for use (status 1) are listed. With
    ``operators``, each operator's registration status is "2" (allowed by the
    operator) for allowed names and "0" (awaiting registration) for the rest.
    """
    rows = [
        (name, status, sender_id)
        for name, (status, sender_id) in senders.items()
        if all_names or operators or status == 1
    ]
    if operators:
        per = {name: "2" if status == 1 else "0" for name, status, _ in rows}
        json_rows = [
            {"sender": n, **dict.fromkeys(_OPERATOR_FIELDS, per[n]), "id": str(i)}
            for n, _, i in rows
        ]
        attrs = {n: " ".join(f'{f}="{per[n]}"' for f in _OPERATOR_FIELDS) for n, _, _ in rows}
        pairs = {n: ", ".join(f"{f} = {per[n]}" for f in _OPERATOR_FIELDS) for n, _, _ in rows}
        return _render(
            fmt,
            json=json_rows,
            xml="<list>\n"
            + "".join(f'<sender {attrs[n]} id="{i}">{n}</sender>\n' for n, _, i in rows)
            + "</list>",
            plain="\n".join(f"name = {n}, {pairs[n]}, id = {i}" for n, _, i in rows),
            csv="\n".join(f"{n},{i}" for n, _, i in rows),
        )
    if all_names:
        return _render(
            fmt,
            json=[{"sender": n, "status": s, "id": i} for n, s, i in rows],
            xml="<list>\n"
            + "".join(f'<sender status="{s}" id="{i}">{n}</sender>\n' for n, s, i in rows)
            + "</list>",
            plain="\n".join(f"name = {n}, status = {s}, id = {i}" for n, s, i in rows),
            csv="\n".join(f"{n},{s},{i}" for n, s, i in rows),
        )
    return _render(
        fmt,
        json=[{"sender": n, "id": i} for n, _, i in rows],
        xml="<list>\n"
        + "".join(f'<sender id="{i}">{n}</sender>\n' for n, _, i in rows)
        + "</list>",
        plain="\n".join(f"name = {n}, id = {i}" for n, _, i in rows),
        csv="\n".join(f"{n},{i}" for n, _, i in rows),
    )


_DDMMYYHHMM = re.compile(r"(\d{2})\.?(\d{2})\.?(\d{2})\s*(\d{2}):?(\d{2})")


def _deferred(value: str, now: float, epoch: float) -> float:
    """When a message with ``time=value`` leaves, on the emulator clock (error 5 if unreadable).

    Formats: ``0<unix time>``, ``+<minutes>``, ``DDMMYYhhmm`` / ``DD.MM.YY hh:mm``
    (UTC here; the gateway reads them in the account's zone), and the hour range
    ``h1-h2`` (sent at once).
    """
    value = value.strip()
    if not value:
        return now
    if value.startswith("0") and value[1:].isdigit() and len(value) > 6:
        return max(now, float(value[1:]) - epoch)
    if value.startswith("+") and value[1:].isdigit():
        return now + 60.0 * int(value[1:])
    if re.fullmatch(r"\d{1,2}-\d{1,2}", value):
        return now
    match = _DDMMYYHHMM.fullmatch(value)
    if match:
        day, month, year, hour, minute = (int(g) for g in match.groups())
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60):
            raise _Refused(5)
        moment = calendar.timegm((2000 + year, month, day, hour, minute, 0))
        return max(now, moment - epoch)
    raise _Refused(5)
