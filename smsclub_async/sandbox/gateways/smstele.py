"""An emulator of the SMStele REX400 HTTP API (``cgibin/sendsms``, ``cgibin/status``).

It answers as ``shared/reference/smstele-rex400-http-api.ru.md`` shows:

* on ``/cgibin/`` and ``/cgi-bin/`` (the document uses both), by GET or POST,
  parameters (credentials included: every example puts ``login`` and ``psw``
  in the URL) from the query string and the body, urlencoded (curl ``-d``) or
  ``multipart/form-data`` (curl ``-F``); ``charset`` decides how the text is
  decoded: ``windows-1251`` by default, ``utf-8``, ``koi8-r``;
* the documented errors in the documented order and words: ``-22 No password``
  before anything else is checked, then ``-35 Invalid attribute: 'id=...'``,
  ``-24 Missing attribute: 'phones'`` (as example 4 has it, though the table
  names -24 IP_NOT_ALLOWED, which answers a login from :attr:`blocked_logins`),
  ``-25 Invalid attribute: 'phones='``, and the rest of the table's codes;
* the success shape of examples 1 and 2: every recipient listed with ``status``
  and ``error`` ``"-99"``; numbers the operator table does not route get empty
  ``operator``/``region``/``mnc``, are not sent, and are left out of the
  top-level ``cnt`` and of later status answers;
* credits per SMS part (-43 when short), the ``stat`` lifecycle SCHEDULED (a
  deferred message before its time) -> ENROUTE -> DELIVRD / UNDELIV, status by
  ``id``, ``phone`` or both.

No duplicate rule: the document has none, so a repeated request sends again
(which is why the client never repeats a send that may have gone out).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import msgspec

from ... import segments
from .._faults import Faults
from .._wire import SandboxResponse
from ._common import JSON, FormRequest, apply_faults, digits, split_list, text_response

__all__ = ["SMSTELE_ERROR_TEXTS", "SmsteleConfig", "SmsteleMessage", "SmsteleSandbox"]

_SEND_PATHS = frozenset({"/cgibin/sendsms", "/cgi-bin/sendsms"})
_STATUS_PATHS = frozenset({"/cgibin/status", "/cgi-bin/status"})
_CHARSETS = ("windows-1251", "utf-8", "koi8-r")
_ZONE = timezone(timedelta(hours=3))

#: Error code -> the description the emulator gives (the document quotes -22, and
#: the "Invalid/Missing attribute" forms of -24, -25 and -35).
SMSTELE_ERROR_TEXTS: Mapping[int, str] = MappingProxyType(
    {
        -1: "System error",
        -2: "Not enough memory",
        -6: "Not yet implemented",
        -21: "No login",
        -22: "No password",
        -23: "Invalid login or password",
        -24: "IP address not allowed",
        -27: "Missing attribute: 'mes'",
        -34: "Missing attribute: 'id'",
        -41: "Too long text",
        -42: "Too many segments",
        -43: "Not enough credits",
    }
)


def _last_digit_stat(phone: str) -> str:
    return "UNDELIV" if phone.endswith("9") else "DELIVRD"


def _default_operators() -> Mapping[str, tuple[str, str, str]]:
    # prefix -> (operator, region, mnc), as examples 1 and 2 show them.
    return MappingProxyType(
        {
            "7916": ("mMTS", "77", "01"),
            "7985": ("mMTS", "77", "01"),
            "7926": ("mMEGAFON", "77", "02"),
            "7925": ("mMEGAFON", "77", "02"),
            "7903": ("mBEELINE", "77", "99"),
        }
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsteleConfig:
    """The emulator's accounts, routing, limits and timings.

    Attributes:
        accounts: login -> password (the document's examples use ``test:http`` /
            ``~test123``); ``None`` accepts any login with a password.
        blocked_logins: logins whose requests get -24 (IP address not allowed).
        credits: each account's starting credits (one per SMS part or lookup).
        senders: the sender names every account may use (-32 for others).
        default_sender: the sender of a message sent without one (the status
            example shows ``REX400.RU`` for example 2, which named none).
        operators: number prefix -> (operator, region, mnc); other numbers are
            listed without an operator and not sent.
        max_id_length: longer ids get -35.
        max_text_length: longer texts get -41.
        max_segments: texts needing more SMS parts get -42.
        delivery_delay: seconds a message stays ENROUTE.
        final_status: phone -> final ``stat`` (DELIVRD, UNDELIV, EXPIRED, REJECTD).
        first_id: the first id issued to a request without one.
    """

    accounts: Mapping[str, str] | None = field(
        default_factory=lambda: MappingProxyType({"test:http": "~test123"})
    )
    blocked_logins: frozenset[str] = frozenset()
    credits: int = 1000
    senders: frozenset[str] = frozenset({"REX400.RU", "MyShop"})
    default_sender: str = "REX400.RU"
    operators: Mapping[str, tuple[str, str, str]] = field(default_factory=_default_operators)
    max_id_length: int = 64
    max_text_length: int = 2000
    max_segments: int = 10
    delivery_delay: float = 0.5
    final_status: Callable[[str], str] = _last_digit_stat
    first_id: int = 1


@dataclass(slots=True)
class SmsteleMessage:
    """One accepted message (or HLR lookup) to one number."""

    id: str
    phone: str
    text: str
    sender: str
    parts: int
    operator: tuple[str, str, str]
    accepted_at: float
    send_at: float
    hlr: bool = False
    flash: bool = False
    translit: bool = False
    charset: str = "windows-1251"


@dataclass(slots=True)
class _Account:
    credits: int
    messages: list[SmsteleMessage] = field(default_factory=list)


class _Refused(Exception):  # noqa: N818 - control flow inside the emulator
    def __init__(self, code: int, text: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.text = text or SMSTELE_ERROR_TEXTS.get(code, "Error")


def _invalid(name: str, value: str) -> str:
    return f"Invalid attribute: '{name}={value}'"


class SmsteleSandbox:
    """A local REX400 gateway: the documented HTTP API's behaviour and state.

    Args:
        config: accounts, routing, limits and timings; ``SmsteleConfig()`` if omitted.
        clock: seconds, for the status lifecycle (``ManualClock`` for tests).
        faults: fault injection for ``sendsms`` (``scope="all"``: every path).
    """

    def __init__(
        self,
        config: SmsteleConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
    ) -> None:
        self.config = SmsteleConfig() if config is None else config
        self.clock = clock
        self.faults = Faults() if faults is None else faults
        self._epoch = time.time() - clock()
        self._accounts: dict[str, _Account] = {}
        self._next_id = self.config.first_id
        self._script: list[int | None] = []
        self.requests: list[FormRequest] = []
        """Every request that reached the emulator, in order (for wire checks)."""

    def __repr__(self) -> str:
        return f"SmsteleSandbox(accounts={len(self._accounts)}, requests={len(self.requests)})"

    # ----------------------------------------------------------------- controls

    def script(self, codes: list[int | None]) -> None:
        """Answer the next requests with these error codes (``None``: answer normally)."""
        self._script = list(codes)

    def set_credits(self, login: str, credits: int) -> None:
        """Set an account's credits."""
        self._account(login).credits = credits

    def credits(self, login: str) -> int:
        """An account's credits."""
        return self._account(login).credits

    def messages(self, login: str | None = None) -> list[SmsteleMessage]:
        """Every accepted message of ``login`` (or of all), in the order accepted."""
        if login is not None:
            return list(self._accounts[login].messages) if login in self._accounts else []
        return [m for account in self._accounts.values() for m in account.messages]

    def deliveries(self, login: str | None = None) -> Counter[str]:
        """Phone -> how many SMS were accepted for it (more than 1 is a double send)."""
        return Counter(m.phone for m in self.messages(login) if not m.hlr)

    # ----------------------------------------------------------------- the gateway

    def finished(self, request: FormRequest) -> None:
        """Nothing to release: the document sets no limit on requests in flight."""

    def handle(self, request: FormRequest, now: float) -> SandboxResponse:
        """Answer one request that arrived at ``now``."""
        self.requests.append(request)
        if request.path not in _SEND_PATHS | _STATUS_PATHS:
            return SandboxResponse(404, (("content-type", "text/html"),), b"Not Found")
        applies = self.faults.scope == "all" or request.path in _SEND_PATHS
        response, _ = apply_faults(self.faults, applies, lambda: self._answer(request, now))
        return response

    def _answer(self, request: FormRequest, now: float) -> SandboxResponse:
        try:
            return self._dispatch(request, now)
        except _Refused as refused:
            body = {"error": str(refused.code), "description": refused.text}
            return text_response(msgspec.json.encode(body), JSON)

    def _dispatch(self, request: FormRequest, now: float) -> SandboxResponse:
        if self._script:
            code = self._script.pop(0)
            if code is not None:
                raise _Refused(code)
        charset = request.params("latin-1").get("charset", "windows-1251").strip().lower()
        if charset not in _CHARSETS:
            raise _Refused(-33, _invalid("charset", charset))
        params = request.params(charset)
        login = self._authenticate(params)
        if request.path in _SEND_PATHS:
            return self._send(self._account(login), params, charset, now)
        return self._status(self._account(login), params, now)

    def _authenticate(self, params: Mapping[str, str]) -> str:
        login = params.get("login", "")
        if "psw" not in params or not params["psw"]:
            raise _Refused(-22)
        if not login:
            raise _Refused(-21)
        accounts = self.config.accounts
        if accounts is not None and accounts.get(login) != params["psw"]:
            raise _Refused(-23)
        if login in self.config.blocked_logins:
            raise _Refused(-24)
        return login

    def _account(self, login: str) -> _Account:
        account = self._accounts.get(login)
        if account is None:
            account = _Account(credits=self.config.credits)
            self._accounts[login] = account
        return account

    # ----------------------------------------------------------------- sendsms

    def _send(
        self, account: _Account, params: Mapping[str, str], charset: str, now: float
    ) -> SandboxResponse:
        config = self.config
        message_id = params.get("id", "")
        if "id" in params and (not message_id.strip() or len(message_id) > config.max_id_length):
            raise _Refused(-35, _invalid("id", message_id))
        if "phones" not in params:
            # Example 4: a missing "phones" is -24, though the table names -24 IP_NOT_ALLOWED.
            raise _Refused(-24, "Missing attribute: 'phones'")
        phones = split_list(params["phones"])
        if not phones:
            raise _Refused(-25, _invalid("phones", params["phones"]))
        numbers = [digits(phone) for phone in phones]
        if any(number is None for number in numbers):
            raise _Refused(-26, _invalid("phones", params["phones"]))
        hlr = params.get("hlr", "0") == "1"
        text = "" if hlr else params.get("mes", "")
        if not hlr and not text.strip():
            raise _Refused(-27)
        send_at = self._options(params, now)
        sender = params.get("sender", "") or config.default_sender
        if "sender" in params:
            if not re.fullmatch(r"[A-Za-z0-9 ._\-]{1,11}", sender):
                raise _Refused(-31, _invalid("sender", sender))
            if sender not in config.senders:
                raise _Refused(-32, f"Sender not allowed: '{sender}'")
        if len(text) > config.max_text_length:
            raise _Refused(-41)
        parts = 1 if hlr else segments(text).parts
        if parts > config.max_segments:
            raise _Refused(-42)
        routed = [(n, self._route(n)) for n in numbers if n is not None]
        needed = parts * sum(1 for _, route in routed if route is not None)
        if needed > account.credits:
            raise _Refused(-43)
        if not message_id:
            message_id = str(self._next_id)
            self._next_id += 1
        account.credits -= needed
        entries = []
        for number, route in routed:
            operator, region, mnc = route or ("", "", "")
            if route is not None:
                account.messages.append(
                    SmsteleMessage(
                        id=message_id,
                        phone=number,
                        text=text,
                        sender=sender,
                        parts=parts,
                        operator=route,
                        accepted_at=now,
                        send_at=send_at,
                        hlr=hlr,
                        flash=params.get("flash") == "1",
                        translit=params.get("translit") == "1",
                        charset=charset,
                    )
                )
            entries.append(
                {
                    "id": message_id,
                    "phone": number,
                    "status": "-99",
                    "error": "-99",
                    "cnt": str(parts),
                    "operator": operator,
                    "region": region,
                    "mnc": mnc,
                }
            )
        body = {"id": message_id, "cnt": str(needed), "messages": entries}
        return text_response(msgspec.json.encode(body), JSON)

    def _options(self, params: Mapping[str, str], now: float) -> float:
        """Check validity, deferred and priority; return when the message leaves."""
        for name, code in (("validity", -28), ("priority", -30), ("viber_validity", -28)):
            value = params.get(name)
            if value is not None and not value.strip().isdigit():
                raise _Refused(code, _invalid(name, value))
        deferred = params.get("deferred", "").strip()
        if not deferred:
            return now
        try:
            moment = datetime.strptime(deferred, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_ZONE)
        except ValueError:
            raise _Refused(-29, _invalid("deferred", deferred)) from None
        return max(now, moment.timestamp() - self._epoch)

    def _route(self, phone: str) -> tuple[str, str, str] | None:
        for prefix in sorted(self.config.operators, key=len, reverse=True):
            if phone.startswith(prefix):
                return self.config.operators[prefix]
        return None

    # ----------------------------------------------------------------- status

    def _status(self, account: _Account, params: Mapping[str, str], now: float) -> SandboxResponse:
        message_id = params.get("id", "").strip()
        phone = digits(params.get("phone", "")) if params.get("phone", "").strip() else None
        if not message_id and phone is None:
            if params.get("phone", "").strip():
                raise _Refused(-26, _invalid("phone", params["phone"]))
            raise _Refused(-34)
        results = [
            self._status_entry(message, now)
            for message in account.messages
            if (not message_id or message.id == message_id)
            and (phone is None or message.phone == phone)
        ]
        return text_response(msgspec.json.encode({"results": results}), JSON)

    def _status_entry(self, message: SmsteleMessage, now: float) -> dict[str, Any]:
        if now < message.send_at:
            stat, changed = "SCHEDULED", message.accepted_at
        elif now < message.send_at + self.config.delivery_delay:
            stat, changed = "ENROUTE", message.send_at
        else:
            stat = self.config.final_status(message.phone)
            changed = message.send_at + self.config.delivery_delay
        operator, region, mnc = message.operator
        return {
            "id": message.id,
            "phone": message.phone,
            "sender": message.sender,
            "status": "-99",
            "err": "-99",
            "stat": stat,
            "type": "2" if message.hlr else "1",
            "send_timestamp": self._stamp(message.accepted_at),
            "last_timestamp": self._stamp(changed),
            "operator": operator,
            "region": region,
            "mnc": mnc,
        }

    def _stamp(self, at: float) -> str:
        moment = datetime.fromtimestamp(self._epoch + at, _ZONE)
        return moment.strftime("%Y-%m-%d %H:%M:%S+03")
