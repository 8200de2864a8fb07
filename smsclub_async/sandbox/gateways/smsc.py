"""An emulator of the SMSC.kz HTTP API (``/sys/send.php``, ``status.php``, ``balance.php``,
``senders.php``), in process, for tests and demos.

What it does as the gateway documents it:

* login/password (``login``, ``psw``: the password or the lower-case MD5 of
  it) or API key (``apikey``, or an empty ``login`` with the key in ``psw``),
  from the query string, an urlencoded or a ``multipart/form-data`` body;
* ``charset`` (``windows-1251``, the documented default, ``utf-8``,
  ``koi8-r``): how the request's texts are read and the answer is written;
* every answer, success and error alike, in the format ``fmt`` asks for (0,
  the documented default, 1, 2 or 3; see :mod:`._smsc_answers` for the shapes
  the reference leaves to the official libraries);
* sender names: list (``get``, with ``all=1`` and ``operators=1``), add
  (error 9 past five a minute), change (``chg=1&id=<id>&sender=<new name>``,
  back to moderation), send a confirmation code to a numeric name
  (``send_code=1&sender=<phone>``; error 10 within 8 hours of the last one)
  and confirm it (``check_code=1&sender=<phone>&code=<code>``; error 11 if
  wrong), delete (``del=1`` with ``sender`` or ``id``). The reference lists the
  answers of each; the parameter names of change and confirm are not in it and
  follow SMSC's HTTP API pages;
* sends with ``phones`` or a personalised ``list``, ``sender``, ``translit``,
  ``time`` (deferred), ``valid``, ``flash``, ``id`` (``id=0``, which the official
  libraries send by default, means none), ``hlr=1``, ``cost`` 0-3 and
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
  -3 for an unknown (id, phone) pair; HLR lookups answer with network data;
  the list form ``id=1,2,&phone=p1,p2,`` (a trailing comma keeps even one pair
  a list) answers a list; ``all=1`` and ``all=2`` add the documented fields.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from ... import segments
from .._faults import Faults
from .._wire import SandboxResponse
from . import _smsc_answers as answers
from ._common import FormRequest, apply_faults, digits, seen_in_window, split_list

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
_SENDER_ERROR_TEXTS = {
    3: "sender not found",
    5: "sender save error",
    7: "invalid phone",
    8: "can't deliver code",
    9: "duplicate request, wait a minute",
}
_STATUS_ERROR_TEXTS = {3: "message not found"}

_MINUTE = 60.0
_AUTH_WINDOW = 30 * 60.0
_CODE_WINDOW = 8 * 3600.0  # error 10: "retry in 8 hours"

#: ``charset`` values the gateway documents (windows-1251 is its default).
CHARSETS: Mapping[str, str] = MappingProxyType(
    {
        "windows-1251": "windows-1251",
        "cp1251": "windows-1251",
        "utf-8": "utf-8",
        "utf8": "utf-8",
        "koi8-r": "koi8-r",
    }
)


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
        default_charset: how a request without ``charset`` is read and answered
            (the documented default is windows-1251).
        add_limit: sender names one account may add per minute; the next gets error 9.
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
    default_charset: str = "windows-1251"
    add_limit: int = 5


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
    codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # phone -> (code, sent at)


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

    def senders(self, login: str) -> dict[str, int]:
        """An account's sender names -> status (0 awaiting moderation, 1 allowed, 2 off)."""
        return {name: status for name, (status, _) in self._account(login).senders.items()}

    def confirmation_code(self, login: str, phone: str) -> str | None:
        """The code ``send_code=1`` sent to ``phone`` (what its owner would read), if any."""
        sent = self._account(login).codes.get(digits(phone) or phone)
        return None if sent is None else sent[0]

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
        # The charset names how the parameters' bytes are read: read the names
        # first (ASCII in every charset), then everything in that charset.
        named = request.params("latin-1").get("charset", "").strip().lower()
        charset = CHARSETS.get(named, self.config.default_charset)
        params = request.params(charset)
        fmt = params.get("fmt", "0").strip()
        if fmt not in ("0", "1", "2", "3"):
            fmt = "0"
        applies = self.faults.scope == "all" or request.path == SEND
        response, _ = apply_faults(
            self.faults, applies, lambda: self._answer(request, params, fmt, charset, now)
        )
        return response

    def _answer(
        self, request: FormRequest, params: dict[str, str], fmt: str, charset: str, now: float
    ) -> SandboxResponse:
        try:
            answer = self._dispatch(request, params, fmt, now)
        except _Refused as refused:
            texts = {STATUS: _STATUS_ERROR_TEXTS, SENDERS: _SENDER_ERROR_TEXTS}.get(
                request.path, {}
            )
            text = refused.text or texts.get(refused.code) or SMSC_ERROR_TEXTS.get(refused.code, "")
            answer = answers.error_answer(refused.code, text, fmt, refused.message_id)
        return _encoded(answer, charset)

    def _dispatch(
        self, request: FormRequest, params: dict[str, str], fmt: str, now: float
    ) -> answers.Answer:
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
            return self._status(account, params, fmt, now)
        if request.path == BALANCE:
            return self._balance(account, params, fmt)
        return self._senders(login, account, params, fmt, now)

    def _authenticate(self, params: Mapping[str, str], now: float) -> str:
        login = params.get("login", "")
        secret = params.get("psw", "")
        key = params.get("apikey", "") or (secret if not login else "")
        if key:
            if key in self.config.api_keys:
                return self.config.api_keys[key]
        elif login and secret:
            accounts = self.config.accounts
            if accounts is None or _password_matches(accounts.get(login), secret):
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
        # The official libraries send id=0 on every send that names none (their
        # default argument): 0 is "no id", or all such sends would share one.
        if given and given != "0":
            return given
        message_id = str(self._next_id)
        self._next_id += 1
        return message_id

    # ----------------------------------------------------------------- send.php

    def _send(
        self, account: _Account, params: Mapping[str, str], fmt: str, now: float
    ) -> answers.Answer:
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
            return answers.cost_answer(fmt, cost=f"{total:.2f}", count=total_parts)
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
        return answers.send_answer(
            fmt,
            message_id=message_id,
            count=total_parts,
            cost=f"{total:.2f}" if mode in ("2", "3") else None,
            balance=f"{account.balance:.2f}" if mode == "3" else None,
            phones=report if params.get("op") == "1" else None,
        )

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

    def _status(
        self, account: _Account, params: Mapping[str, str], fmt: str, now: float
    ) -> answers.Answer:
        ids = split_list(params.get("id", ""))
        phones = split_list(params.get("phone", ""))
        if not ids or len(ids) != len(phones):
            raise _Refused(1)
        # "To keep the format of a list request for one message, put a comma
        # after its id": a comma anywhere in ``id`` asks for a list.
        many = len(ids) > 1 or "," in params.get("id", "") or ";" in params.get("id", "")
        limit = self.config.identical_limits.get("status")
        if limit is not None and self._identical(account, "status", params, now) > limit:
            raise _Refused(9)
        level = {"1": 1, "2": 2}.get(params.get("all", "0").strip(), 0)
        entries = []
        for message_id, raw_phone in zip(ids, phones, strict=True):
            phone = digits(raw_phone) or raw_phone
            message = account.messages.get((message_id, phone))
            if message is None:
                if not many:
                    raise _Refused(3)
                entries.append(
                    answers.StatusEntry(id=message_id, phone=phone, status=-3, found=False)
                )
                continue
            entries.append(self._status_entry(message, now, level))
        return answers.status_answer(fmt, entries, many=many)

    def _status_entry(self, message: SmscMessage, now: float, level: int) -> answers.StatusEntry:
        code = self._status_code(message, now)
        changed = message.send_at + (self.config.delivery_delay if code not in (-1, 0) else 0)
        stamp = int(self._epoch + (changed if code != -1 else message.accepted_at))
        mcc, mnc, country, operator = self._network(message.phone)
        network = None
        if message.hlr:
            final = code not in (-1, 0)
            reachable = code == 1
            network = (
                f"{mcc}{mnc}{message.phone[-9:]}" if reachable else "",
                f"{message.phone[:4]}0000001" if reachable else "",
                mcc if final else "",
                mnc if final else "",
                country if final else "",
                operator if final else "",
                "",
                "",
            )
        return answers.StatusEntry(
            id=message.id,
            phone=message.phone,
            status=code,
            last_timestamp=stamp,
            err=0 if code in (-1, 0, 1) else code,
            level=level,
            send_timestamp=int(self._epoch + message.accepted_at),
            cost=f"{message.cost:.2f}",
            # The official PHP library tells an HLR answer by "HLR" in this field.
            sender_id="HLR" if message.hlr else message.sender,
            message=message.text,
            type=3 if message.hlr else 0,
            country=country,
            operator=operator,
            network=network,
        )

    # ----------------------------------------------------------------- balance.php

    def _balance(self, account: _Account, params: Mapping[str, str], fmt: str) -> answers.Answer:
        currency = self.config.currency if params.get("cur") == "1" else None
        return answers.balance_answer(fmt, f"{account.balance:.2f}", currency)

    # ----------------------------------------------------------------- senders.php

    def _senders(
        self, login: str, account: _Account, params: Mapping[str, str], fmt: str, now: float
    ) -> answers.Answer:
        name = params.get("sender", "").strip()
        if params.get("get") == "1":
            limit = self.config.identical_limits.get("senders")
            if limit is not None and self._identical(account, "senders", params, now) > limit:
                raise _Refused(9)
            return answers.senders_answer(
                account.senders,
                fmt,
                all_names=params.get("all") == "1",
                operators=params.get("operators") == "1",
            )
        for command, act in (
            ("add", self._add_sender),
            ("chg", self._change_sender),
            ("send_code", self._send_code),
            ("check_code", self._check_code),
        ):
            if params.get(command) == "1":
                act(login, account, name, params, now)
                return (
                    answers.sender_added_answer(fmt, self._next_sender_id)
                    if command == "add"
                    else answers.ok_answer(fmt)
                )
        if params.get("del") == "1":
            if not name and params.get("id"):
                name = self._sender_by_id(account, params["id"]) or ""
            if name not in account.senders:
                raise _Refused(3)
            del account.senders[name]
            return answers.ok_answer(fmt)
        raise _Refused(1)

    def _add_sender(
        self, login: str, account: _Account, name: str, params: Mapping[str, str], now: float
    ) -> None:
        # Error 9: "more than five requests to create a new name within a minute".
        adds = account.recent.setdefault("add", [])
        if seen_in_window(adds, now, _MINUTE) >= self.config.add_limit:
            raise _Refused(9)
        adds.append(now)
        if not name:
            raise _Refused(1)
        if name in account.senders:
            raise _Refused(5)
        self._next_sender_id += 1
        account.senders[name] = (0, self._next_sender_id)

    def _change_sender(
        self, login: str, account: _Account, name: str, params: Mapping[str, str], now: float
    ) -> None:
        # The sender is named by its id; ``sender`` is its new name, which
        # goes back to moderation (status 0).
        old = self._sender_by_id(account, params.get("id", ""))
        if old is None or not name:
            raise _Refused(1 if not name or not params.get("id") else 3)
        if name != old and name in account.senders:
            raise _Refused(5)
        _, sender_id = account.senders.pop(old)
        account.senders[name] = (0, sender_id)

    def _send_code(
        self, login: str, account: _Account, name: str, params: Mapping[str, str], now: float
    ) -> None:
        phone = digits(name)
        if phone is None:
            raise _Refused(7)
        if phone.startswith(self.config.undeliverable_prefixes):
            raise _Refused(8)
        sent = account.codes.get(phone)
        if sent is not None and now - sent[1] < _CODE_WINDOW:
            raise _Refused(10)
        account.codes[phone] = (_code_for(login, phone), now)

    def _check_code(
        self, login: str, account: _Account, name: str, params: Mapping[str, str], now: float
    ) -> None:
        phone = digits(name)
        if phone is None:
            raise _Refused(7)
        sent = account.codes.get(phone)
        if sent is None or params.get("code", "").strip() != sent[0]:
            raise _Refused(11)
        del account.codes[phone]
        _, sender_id = account.senders.get(phone, (0, 0))
        if not sender_id:
            self._next_sender_id += 1
            sender_id = self._next_sender_id
        account.senders[phone] = (1, sender_id)  # a confirmed number is usable at once

    @staticmethod
    def _sender_by_id(account: _Account, sender_id: str) -> str | None:
        for name, (_, known) in account.senders.items():
            if str(known) == sender_id.strip():
                return name
        return None


# ----------------------------------------------------------------- pure helpers


def _password_matches(password: str | None, given: str) -> bool:
    """The password itself, or (as documented) the lower-case MD5 of it."""
    if password is None:
        return False
    return given == password or given == hashlib.md5(password.encode()).hexdigest()  # noqa: S324


def _code_for(login: str, phone: str) -> str:
    """The 6-digit confirmation code sent to ``phone`` (stable, for tests)."""
    digest = hashlib.sha256(f"{login}:{phone}".encode()).hexdigest()
    return f"{int(digest[:8], 16) % 900000 + 100000}"


def _encoded(answer: answers.Answer, charset: str) -> SandboxResponse:
    """A 200 answer written in the request's charset, which the content type names."""
    body = answer.text.encode(charset, errors="replace")
    return SandboxResponse(
        200, (("content-type", f"{answer.media_type}; charset={charset}"),), body
    )


def render_error(code: int, text: str, fmt: str, message_id: str | None = None) -> SandboxResponse:
    """An error answer in the documented shape of ``fmt`` (0, 1, 2 or 3), in UTF-8.

    Example:
        >>> render_error(2, "authorise error", "1").body
        b'0,-2'
    """
    return _encoded(answers.error_answer(code, text, fmt, message_id), "utf-8")


def render_senders(
    senders: Mapping[str, tuple[int, int]], fmt: str, *, all_names: bool, operators: bool
) -> SandboxResponse:
    """A sender-name listing in the documented shape of ``fmt``, ``all`` and ``operators``."""
    listing = answers.senders_answer(senders, fmt, all_names=all_names, operators=operators)
    return _encoded(listing, "utf-8")


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
