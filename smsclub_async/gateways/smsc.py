"""SmscClient: the SMSC.kz HTTP API (also smsc.ru, smsc.ua) on the shared core.

Every request is a form-encoded POST (``fmt=3`` JSON answers, ``charset=utf-8``)
with the login and password (or API key) in the body, through the core pipeline:
the shared limiter, httpx, the retry rules, chunking and merging.

The gateway's limits set the defaults:

* fewer than 15 requests in flight per login (the fifteenth gets error 9), so
  every client of a login in the process shares one :class:`ConcurrencyLimiter`
  of :data:`SMSC_MAX_IN_FLIGHT`;
* an identical send within a minute is refused with error 9, so a send that may
  already have gone out is retried only within that minute (less a margin):
  the gateway then refuses the repeat instead of sending it twice, and the
  recipients are reported ``unknown``, never ``failed``;
* error 4 (address blocked) and error 9 of reads are retried after a minute.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from .._accounting import PhoneIndex, account_failure, fill, unreadable
from .._client import GatewayClient, SendPlan
from .._common import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    PersonalMessages,
    Phones,
    SendStream,
    check_base_url,
    check_chunk_size,
    check_lifetime,
    check_max_parts,
    check_messages,
    check_phones,
    check_secret,
    check_text,
    default_sender,
    too_many_parts,
)
from .._decipher import Decipher, Refusal, http_refusal
from .._decoding import WireDecodeError, decode, to_code, to_count, to_decimal, to_money
from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from .._limiter import RateLimiter, token_fingerprint
from .._phones import Chunk, chunk_messages, chunk_phones
from .._pipeline import Outcome, Priority
from .._results import Balance, StatusReport
from .._retry import RetryPolicy
from .._version import __version__
from . import _smsc_wire as wire
from ._keys import MessageRefs, form_body, message_key, pair_chunks, parse_ref
from ._limits import default_limiter
from ._results import HlrResult, SmscCost, SmscSender, SmscSendResult

__all__ = [
    "DEFAULT_SMSC_BASE_URL",
    "SMSC_DUPLICATE_WINDOW",
    "SMSC_MAX_IN_FLIGHT",
    "SMSC_READ_RETRY",
    "SMSC_SEND_RETRY",
    "SmscClient",
]

DEFAULT_SMSC_BASE_URL = "https://smsc.kz"
SMSC_MAX_IN_FLIGHT = 14
"""Requests in flight per login: SMSC refuses the fifteenth concurrent one (error 9)."""
SMSC_DUPLICATE_WINDOW = 60.0
"""Seconds in which SMSC refuses a repeat of an identical send request (error 9)."""

SMSC_READ_RETRY = RetryPolicy(max_retry_after=wire.BLOCK_WAIT)
"""Reads: 4 attempts; a block (error 4) or a per-minute limit (error 9) is waited out once."""
SMSC_SEND_RETRY = RetryPolicy(
    attempts=5,
    max_retry_after=wire.BLOCK_WAIT,
    duplicate_window=SMSC_DUPLICATE_WINDOW,
    window_safety=15.0,
)
"""Sends: a send that may have gone out is retried only within 45 s (the 60 s window less 15)."""

LOGIN_ENV = "SMSC_LOGIN"
PASSWORD_ENV = "SMSC_PASSWORD"  # noqa: S105 - the name of the variable, not a secret
API_KEY_ENV = "SMSC_API_KEY"
BASE_URL_ENV = "SMSC_BASE_URL"
SENDER_ENV = "SMSC_SENDER"

_CURRENCIES = {"kz": "KZT", "ru": "RUB", "ua": "UAH", "tj": "TJS"}
_RESERVED = frozenset(
    {"login", "psw", "apikey", "fmt", "charset", "phones", "mes", "list", "cost", "op", "hlr"}
)
_FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
    "User-Agent": f"smsclub-async/{__version__}",
}
ADVICE: dict[type[APIError], str] = {
    ValidationError: "check the request parameters",
    AuthenticationError: "check the SMSC login and password or API key",
    RateLimitedError: "slow down; SMSC allows fewer than 15 requests in flight per login",
    ServerError: "SMSC is temporarily unavailable; try again later",
    APIError: "unexpected HTTP status from SMSC",
}
DUPLICATE_OF_CALLER = (
    "not sent: SMSC refused it as a repeat of an identical request made less than"
    " a minute ago (error 9)"
)
_MAX_LIFETIME = 24 * 60


def _deferred_param(when: datetime | timedelta | str) -> str:
    """SMSC's ``time``: ``0<unix time>`` for a moment, ``+<minutes>`` for a delay."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError(
                "deferred must be a timezone-aware datetime (SMSC reads a naive time in"
                " its own zone); e.g. datetime(..., tzinfo=UTC)"
            )
        return f"0{int(when.timestamp())}"
    if isinstance(when, timedelta):
        minutes = -(-int(when.total_seconds()) // 60)
        if minutes < 1:
            raise ValueError(f"deferred must be at least a minute ahead, got {when}")
        return f"+{minutes}"
    return check_text(when, "deferred")


def _lifetime_param(lifetime: int) -> str:
    minutes = check_lifetime(lifetime, maximum=_MAX_LIFETIME)  # SMSC keeps a message 24 h
    assert minutes is not None
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _list_param(chunk: Chunk) -> str:
    # "phone:message" per line; a line break inside a message is sent as "\n".
    return "\n".join(
        f"{phone}:{text.replace(chr(13), '').replace(chr(10), chr(92) + 'n')}"
        for phone, text in zip(chunk.phones, chunk.messages, strict=True)
    )


def decipher(kind: wire.Kind, endpoint: str, scrub: Callable[[str], str]) -> Decipher:
    """The reading of every SMSC answer: an HTTP status, or an error code in a 200.

    The codes mean different things per endpoint (``kind``); the refusal's
    ``refusals`` count doubles the wait after a repeated block (error 4).
    """

    def read(status: int, headers: httpx.Headers, body: bytes, refusals: int) -> Refusal | None:
        info = wire.parse_error(body)
        if 200 <= status < 300:
            if info is None:
                return None
            return wire.refusal_for(kind, info, refusals + 1, endpoint=endpoint, scrub=scrub)
        message = scrub(info.description) if info is not None else None
        return http_refusal(
            status, headers, endpoint=endpoint, gateway_message=message or None, advice=ADVICE
        )

    return read


def account_send(chunk: Chunk, outcome: Outcome) -> SmscSendResult:
    """Account for every phone of a chunk given how its ``send.php`` request ended (pure)."""
    result = SmscSendResult(failed=dict(chunk.rejected), requests=outcome.attempts)
    if outcome.body is None:
        if outcome.refusal is not None and outcome.refusal.message_id:
            result.message_ids.append(outcome.refusal.message_id)
        account_failure(result, chunk, outcome, duplicate_of_caller=DUPLICATE_OF_CALLER)
        return result
    try:
        answer = decode(wire.SendAnswer, outcome.body)
    except WireDecodeError as exc:
        problem: str | None = str(exc)
    else:
        problem = None if answer.id is not None else "the answer carries no message id"
    if problem is not None:
        return unreadable(result, chunk, endpoint=wire.SEND, body=outcome.body, problem=problem)

    message_id = str(answer.id)
    result.message_ids.append(message_id)
    result.parts = to_count(answer.cnt) or 0
    result.cost = to_decimal(answer.cost) or Decimal(0)
    result.balance = to_decimal(answer.balance)
    entries = wire.phone_answers(answer)
    if not entries:
        # No per-number report: the request was accepted for every number it named.
        for phone in chunk.phones:
            result.sent[message_key(message_id, phone)] = phone
        return result
    # The op=1 report: numbers with an error code were refused, the rest sent.
    index = PhoneIndex(chunk.phones)
    for entry in entries:
        matched = index.claim(entry.phone)
        if matched is None:
            continue
        raw = "" if entry.error is None else str(entry.error).strip()
        code = to_code(raw) if raw else 0
        key = message_key(message_id, matched)
        if code is None:
            # An unreadable code ("²", "--5") after an accepted request: maybe sent.
            result.unknown[matched] = (
                f"maybe sent: SMSC accepted the request but reported an unreadable code"
                f" {raw[:20]!r} for this number; look it up with status({key!r})"
            )
        elif code:
            meaning = wire.ERRORS["send"].get(abs(code))
            what = meaning.meaning if meaning else "undocumented error code"
            result.failed[matched] = f"not sent: SMSC error {code} ({what})"
        else:
            result.sent[key] = matched
    fill(
        result,
        list(index.pending),
        maybe=True,
        reason="the gateway's answer did not mention this number",
    )
    return result


class SmscClient(GatewayClient):
    """An asyncio client of the SMSC.kz HTTP API (``smsc.ru``/``smsc.ua`` with ``base_url``).

    Message keys: SMSC issues one id per request and tells its recipients apart
    by phone, so the keys of ``result.sent`` are ``"<id>:<phone>"``; pass them (or
    ``(id, phone)`` pairs) to :meth:`status`.

    Args:
        login: the account login; defaults to ``$SMSC_LOGIN``.
        password: the account password; defaults to ``$SMSC_PASSWORD``.
        api_key: an API key instead of login and password; defaults to
            ``$SMSC_API_KEY``.
        base_url: ``$SMSC_BASE_URL`` or ``https://smsc.kz``.
        http_client: an ``httpx.AsyncClient`` to borrow (never closed by this client).
        transport: an httpx transport for the owned client (e.g. the sandbox's).
        timeout: httpx timeouts for the owned client.
        max_in_flight: requests in flight per login, shared by every client of
            the login in the process (SMSC refuses the fifteenth).
        rate_limit: also cap requests per second (SMSC documents none).
        limiter: a limiter to use instead of the shared one.
        retry: the retry policy of reads (status, balance, senders, cost).
        send_retry: the retry policy of sends and HLR requests.
        max_concurrency: requests of one bulk call in flight at once.
        chunk_size: recipients (or status pairs) per request.
        event_hooks: httpx event hooks for the owned client.

    Example:
        >>> async def main() -> None:
        ...     async with SmscClient(login="me", password="...") as smsc:
        ...         result = await smsc.send(["77011234567"], "Hi", sender="MyShop")
        ...         report = await smsc.status(result.sent)
    """

    _gateway = "SMSC"
    _poll_interval = 15.0  # at most 5 identical status requests a minute

    def __init__(
        self,
        login: str | None = None,
        password: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        sender: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        max_in_flight: int = SMSC_MAX_IN_FLIGHT,
        rate_limit: int | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | int = SMSC_READ_RETRY,
        send_retry: RetryPolicy | int = SMSC_SEND_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        chunk_size: int = 100,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        journal: Any = None,
    ) -> None:
        if login is None and password is None and api_key is None:
            login = os.environ.get(LOGIN_ENV)
            password = os.environ.get(PASSWORD_ENV)
            api_key = os.environ.get(API_KEY_ENV)
        missing = (
            "no SMSC credentials: pass login= and password= (or api_key=), or set"
            f" {LOGIN_ENV} and {PASSWORD_ENV} (or {API_KEY_ENV})"
        )
        if api_key:
            if login or password:
                raise ConfigurationError("pass either api_key or login and password, not both")
            api_key = check_secret(api_key, "api_key", missing=missing)
            self._credentials = {"apikey": api_key}
            identity = f"api_key=sha256:{token_fingerprint(api_key)}"
            account = f"apikey:{token_fingerprint(api_key)}"
        elif login and password:
            login = check_secret(login, "login", missing=missing)
            password = check_secret(password, "password", missing=missing)
            self._credentials = {"login": login, "psw": password}
            identity = f"login={login!r}"
            account = f"login:{login}"
        else:
            raise ConfigurationError(missing)
        self.chunk_size = check_chunk_size(chunk_size)
        url = check_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_SMSC_BASE_URL)
        host = urllib.parse.urlsplit(url).hostname or ""
        self._currency = _CURRENCIES.get(host.rsplit(".", 1)[-1], "")
        self.sender = default_sender(sender, SENDER_ENV)
        """The sender name of sends that name none (``SMSC_SENDER`` by default)."""
        super().__init__(
            base_url=url,
            headers=_FORM_HEADERS,
            identity=identity,
            secrets=[v for k, v in self._credentials.items() if k != "login"],
            limiter=limiter
            or default_limiter(
                f"smsc|{host}|{account}", max_in_flight=max_in_flight, rate_limit=rate_limit
            ),
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            send_retry=send_retry,
            default_retry=SMSC_READ_RETRY,
            default_send_retry=SMSC_SEND_RETRY,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
            journal=journal,
        )
        self._read: dict[wire.Kind, Decipher] = {
            "send": decipher("send", wire.SEND, self._scrub),
            "cost": decipher("cost", wire.SEND, self._scrub),
            "status": decipher("status", wire.STATUS, self._scrub),
            "balance": decipher("balance", wire.BALANCE, self._scrub),
            "senders": decipher("senders", wire.SENDERS, self._scrub),
        }

    def _body(self, params: Mapping[str, str]) -> bytes:
        return form_body({**self._credentials, **params})

    async def _ask(self, kind: wire.Kind, endpoint: str, params: Mapping[str, str]) -> bytes:
        """An idempotent request: the body of its accepted answer, or the error raised."""
        return await self._call(endpoint, self._body(params), self._read[kind])

    def _decoded(self, kind: type[Any], endpoint: str, body: bytes) -> Any:
        try:
            return decode(kind, body)
        except WireDecodeError as exc:
            raise self._decode_error(endpoint, body, str(exc)) from exc

    # ----------------------------------------------------------------- sending

    def _send_params(
        self,
        *,
        sender: str | None,
        translit: bool | int,
        deferred: datetime | timedelta | str | None,
        lifetime: int | None,
        flash: bool,
        message_id: str | int | None,
        extra: Mapping[str, str | int] | None,
    ) -> dict[str, str]:
        params = {"fmt": "3", "charset": "utf-8", "cost": "3", "op": "1"}
        chosen = sender if sender is not None else self.sender
        if chosen is not None:
            params["sender"] = check_text(chosen, "sender")
        if translit:
            params["translit"] = str(int(translit))
        if deferred is not None:
            params["time"] = _deferred_param(deferred)
        if lifetime is not None:
            params["valid"] = _lifetime_param(lifetime)
        if flash:
            params["flash"] = "1"
        if message_id is not None:
            params["id"] = check_text(str(message_id), "message_id")
        for name, value in (extra or {}).items():
            if name in _RESERVED:
                raise ValueError(f"extra parameter {name!r} is set by the client itself")
            params[name] = str(value)
        return params

    async def send(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        translit: bool | int = False,
        deferred: datetime | timedelta | str | None = None,
        lifetime: int | None = None,
        flash: bool = False,
        message_id: str | int | None = None,
        max_parts: int | None = None,
        extra: Mapping[str, str | int] | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SmscSendResult:
        """Send one message to any number of recipients (``send.php``).

        Numbers are normalised, de-duplicated, sent ``chunk_size`` per request
        (concurrently, under the limiter) and the answers merged.

        Args:
            phones: one number, or any iterable or async iterable of numbers.
            message: the text (``mes``).
            sender: a registered sender name; the client's default (``SMSC_SENDER``)
                without it, else the account's.
            translit: 1 (or True) to transliterate Cyrillic, 2 for the "mpaHc" style.
            deferred: when to send: an aware ``datetime``, a ``timedelta`` from now,
                or SMSC's own ``time`` string.
            lifetime: minutes the message may wait for delivery (1 to 1440; ``valid``).
            flash: a flash SMS (shown at once, not stored).
            message_id: your own id for the request (``id``); else SMSC assigns one.
            max_parts: refuse the message before any request if it needs more parts.
            extra: other documented ``send.php`` parameters, passed as they are.
            key: an idempotency key (see :meth:`SmsClub.send`).
            priority: the limiter lane (see :meth:`SmsClub.send`).
            deadline: no request leaves after it (see :meth:`SmsClub.send`).

        Returns:
            Every recipient in ``sent`` (``"<id>:<phone>"`` -> phone), ``failed``
            (certainly not sent) or ``unknown`` (maybe sent: do not resend blindly),
            with the cost, parts and balance SMSC reported.

        Raises:
            ValueError: bad input, raised before any request.
            SmsClubError: a request failed for good; ``partial`` holds the merged
                result of every chunk, every issued id included.
        """
        stream = self.send_iter(
            phones,
            message,
            sender=sender,
            translit=translit,
            deferred=deferred,
            lifetime=lifetime,
            flash=flash,
            message_id=message_id,
            max_parts=max_parts,
            extra=extra,
            key=key,
            priority=priority,
            deadline=deadline,
        )
        return await self._collect(stream, SmscSendResult)

    def send_iter(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        translit: bool | int = False,
        deferred: datetime | timedelta | str | None = None,
        lifetime: int | None = None,
        flash: bool = False,
        message_id: str | int | None = None,
        max_parts: int | None = None,
        extra: Mapping[str, str | int] | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendStream:
        """Like :meth:`send`, yielding one :class:`SmscSendResult` per finished request."""
        check_text(message, "message")
        check_max_parts(message, max_parts)
        params = self._send_params(
            sender=sender,
            translit=translit,
            deferred=deferred,
            lifetime=lifetime,
            flash=flash,
            message_id=message_id,
            extra=extra,
        )
        params["mes"] = message
        return self._phones_stream(phones, params, key, priority, deadline)

    def _phones_stream(
        self,
        phones: Phones,
        params: dict[str, str],
        key: str | None,
        priority: Priority | None,
        deadline: float | timedelta | datetime | None,
    ) -> SendStream:
        phones = check_phones(phones)

        def build(chunk: Chunk) -> bytes:
            return self._body({**params, "phones": ",".join(chunk.phones)})

        return self._send_stream(
            chunk_phones(phones, size=self.chunk_size),
            self._plan(build, params),
            key=key,
            priority=priority,
            deadline=deadline,
            recipients=phones,
            chunk_size=self.chunk_size,
        )

    def _plan(self, build: Callable[[Chunk], bytes], params: Mapping[str, str]) -> SendPlan:
        return SendPlan(
            endpoint=wire.SEND,
            build=build,
            decipher=self._read["send"],
            account=account_send,
            result_type=SmscSendResult,
            fingerprint="|".join(f"{k}={v}" for k, v in sorted(params.items())),
            distinct=True,  # both chunkers deduplicate
        )

    async def send_personalized(
        self,
        messages: PersonalMessages,
        *,
        sender: str | None = None,
        translit: bool | int = False,
        deferred: datetime | timedelta | str | None = None,
        lifetime: int | None = None,
        flash: bool = False,
        message_id: str | int | None = None,
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SmscSendResult:
        """Send each recipient its own text in one request per chunk (the ``list`` parameter).

        The other arguments (``sender``, ``translit``, ``deferred``, ``lifetime``,
        ``flash``, ``message_id``, ``max_parts``, ``key``, ``priority``,
        ``deadline``), the result and the errors are as for :meth:`send`.

        Args:
            messages: a mapping phone -> text, or (phone, text) pairs, sync or async;
                the first text of a phone wins. A text that is empty or longer than
                ``max_parts`` puts its phone in ``failed``; the others are sent.
        """
        stream = self.send_personalized_iter(
            messages,
            sender=sender,
            translit=translit,
            deferred=deferred,
            lifetime=lifetime,
            flash=flash,
            message_id=message_id,
            max_parts=max_parts,
            key=key,
            priority=priority,
            deadline=deadline,
        )
        return await self._collect(stream, SmscSendResult)

    def send_personalized_iter(
        self,
        messages: PersonalMessages,
        *,
        sender: str | None = None,
        translit: bool | int = False,
        deferred: datetime | timedelta | str | None = None,
        lifetime: int | None = None,
        flash: bool = False,
        message_id: str | int | None = None,
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendStream:
        """Like :meth:`send_personalized`, yielding one result per finished request."""
        check_max_parts("x", max_parts)
        params = self._send_params(
            sender=sender,
            translit=translit,
            deferred=deferred,
            lifetime=lifetime,
            flash=flash,
            message_id=message_id,
            extra=None,
        )
        messages = check_messages(messages, max_parts)

        def build(chunk: Chunk) -> bytes:
            return self._body({**params, "list": _list_param(chunk)})

        chunks = chunk_messages(
            messages, size=self.chunk_size, check=lambda text: too_many_parts(text, max_parts)
        )
        return self._send_stream(
            chunks,
            self._plan(build, params),
            key=key,
            priority=priority,
            deadline=deadline,
            recipients=messages,
            chunk_size=self.chunk_size,
        )

    async def hlr(self, phones: Phones) -> SmscSendResult:
        """Start an HLR lookup of each number (``hlr=1``): no SMS reaches the phone.

        The lookups are billed like sends and follow the same retry rules. Read
        their answers with :meth:`hlr_results` once they are final.
        """
        params = {"fmt": "3", "charset": "utf-8", "cost": "3", "op": "1", "hlr": "1"}
        return await self._collect(
            self._phones_stream(phones, params, None, None, None), SmscSendResult
        )

    # ----------------------------------------------------------------- reading

    async def cost(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        translit: bool | int = False,
    ) -> SmscCost:
        """What sending ``message`` to ``phones`` would cost, without sending (``cost=1``).

        SMSC refuses more than five identical price requests a minute (error 9).
        """
        check_text(message, "message")
        params = self._send_params(
            sender=sender,
            translit=translit,
            deferred=None,
            lifetime=None,
            flash=False,
            message_id=None,
            extra=None,
        )
        params.update({"mes": message, "cost": "1"})
        del params["op"]

        async def price(chunk: Chunk) -> SmscCost:
            if not chunk.phones:
                return SmscCost(Decimal(0), 0)
            body = await self._ask("cost", wire.SEND, {**params, "phones": ",".join(chunk.phones)})
            answer = self._decoded(wire.CostAnswer, wire.SEND, body)
            amount = to_decimal(answer.cost)
            if amount is None:
                raise self._decode_error(
                    wire.SEND, body, f"cost is not a number: {answer.cost!r:.60}"
                )
            return SmscCost(amount, to_count(answer.cnt) or 0)

        total, parts, any_phone = Decimal(0), 0, False
        async for part in self._reads(chunk_phones(phones, size=self.chunk_size), price):
            total += part.cost
            parts += part.parts
            any_phone = True
        if not any_phone:
            raise ValueError("phones must name at least one recipient")
        return SmscCost(total, parts)

    def _canonical_id(self, raw: object) -> str:
        message_id, phone = parse_ref(raw)
        return message_id if phone is None else message_key(message_id, phone)

    async def status(self, message_ids: MessageRefs) -> StatusReport:
        """Delivery status of messages named by key (``"<id>:<phone>"``) or (id, phone) pair.

        Args:
            message_ids: keys as issued (``result.sent`` works) or pairs, sync or async.
                None at all is an empty report.

        Returns:
            A :class:`StatusReport`: key -> :class:`DeliveryStatus`, with ``raw`` the
            SMSC status code as text and ``missing`` the pairs SMSC does not know
            (status -3).

        Raises:
            ValueError: a bare id without its phone.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """

        async def fetch(chunk: list[tuple[str, str | None]]) -> StatusReport:
            answers, pairs = await self._status_answers(chunk, all_fields=False)
            return _report(pairs, answers)

        return await self._report(_with_phones(message_ids, self.chunk_size), fetch)

    async def hlr_results(self, message_ids: MessageRefs) -> dict[str, HlrResult]:
        """The answers of HLR lookups started with :meth:`hlr`, by key (``all=1`` status)."""

        async def fetch(
            chunk: list[tuple[str, str | None]],
        ) -> tuple[list[wire.StatusAnswer] | None, list[tuple[str, str]]]:
            return await self._status_answers(chunk, all_fields=True)

        results: dict[str, HlrResult] = {}
        async for answers, pairs in self._reads(_with_phones(message_ids, self.chunk_size), fetch):
            for key, answer in _pair_answers(pairs, answers).items():
                raw = str(answer.status)
                results[key] = HlrResult(
                    phone=key.rpartition(":")[2],
                    message_id=key,
                    status=wire.delivery_status(raw),
                    raw=raw,
                    error=_text(answer.err) or "0",
                    imsi=_text(answer.imsi),
                    msc=_text(answer.msc),
                    mcc=_text(answer.mcc),
                    mnc=_text(answer.mnc),
                    country=_text(answer.cn),
                    operator=_text(answer.net),
                    roaming_country=_text(answer.rcn),
                    roaming_operator=_text(answer.rnet),
                )
        return results

    async def _status_answers(
        self, chunk: list[tuple[str, str | None]], *, all_fields: bool
    ) -> tuple[list[wire.StatusAnswer] | None, list[tuple[str, str]]]:
        pairs = [(message_id, phone) for message_id, phone in chunk if phone is not None]
        params = {
            "fmt": "3",
            "charset": "utf-8",
            "all": "1" if all_fields else "0",
            "id": ",".join(message_id for message_id, _ in pairs),
            "phone": ",".join(phone for _, phone in pairs),
        }
        try:
            body = await self._ask("status", wire.STATUS, params)
        except NotFoundError:
            return None, pairs  # error 3: SMSC knows none of them
        try:
            return wire.decode_status_answers(body), pairs
        except WireDecodeError as exc:
            raise self._decode_error(wire.STATUS, body, str(exc)) from exc

    async def balance(self) -> Balance:
        """The account balance (``balance.php`` with ``cur=1``)."""
        body = await self._ask("balance", wire.BALANCE, {"fmt": "3", "cur": "1"})
        answer = self._decoded(wire.BalanceAnswer, wire.BALANCE, body)
        money = to_money(answer.balance)
        if money is None:
            raise self._decode_error(
                wire.BALANCE, body, f"balance is not a number: {answer.balance!r:.60}"
            )
        return Balance(money=money, currency=answer.currency or self._currency)

    async def senders(self) -> list[str]:
        """The sender names registered and allowed for use (``senders.php?get=1``)."""
        return [sender.name for sender in await self._sender_list(all_names=False) if sender.name]

    async def sender_list(self) -> list[SmscSender]:
        """Every sender name with its moderation status (``get=1&all=1``)."""
        return await self._sender_list(all_names=True)

    async def _sender_list(self, *, all_names: bool) -> list[SmscSender]:
        params = {"get": "1", "fmt": "3", "charset": "utf-8"}
        if all_names:
            params["all"] = "1"
        body = await self._ask("senders", wire.SENDERS, params)
        try:
            return wire.parse_senders(body, 3)
        except WireDecodeError as exc:
            raise self._decode_error(wire.SENDERS, body, str(exc)) from exc

    async def add_sender(self, sender: str, *, comment: str | None = None) -> str:
        """Apply for a new sender name; returns its id (it starts awaiting moderation)."""
        params = {"add": "1", "sender": check_text(sender, "sender")}
        if comment:
            params["cmt"] = comment
        answer = await self._sender_op(params, wire.AddSenderAnswer)
        return str(answer.sender)

    async def change_sender(
        self, sender_id: str | int, *, sender: str, comment: str | None = None
    ) -> None:
        """Rename a sender name, by its id (``chg=1``); it goes back to moderation."""
        params = {
            "chg": "1",
            "id": check_text(str(sender_id), "sender_id"),
            "sender": check_text(sender, "sender"),
        }
        if comment:
            params["cmt"] = comment
        await self._sender_op(params, wire.ResultAnswer)

    async def send_sender_code(self, sender: str) -> None:
        """Send a confirmation code to a phone number used as a sender name (``send_code=1``).

        Raises:
            APIError: error 8 (the code cannot be delivered) or 10 (a code went to
                this number less than 8 hours ago).
        """
        params = {"send_code": "1", "sender": check_text(sender, "sender")}
        await self._sender_op(params, wire.ResultAnswer)

    async def confirm_sender(self, sender: str, code: str | int) -> None:
        """Confirm a phone-number sender name with the code it received (``check_code=1``).

        Raises:
            ValidationError: error 11, the code is wrong.
        """
        params = {
            "check_code": "1",
            "sender": check_text(sender, "sender"),
            "code": check_text(str(code), "code"),
        }
        await self._sender_op(params, wire.ResultAnswer)

    async def delete_sender(self, sender: str) -> None:
        """Delete a sender name. Raises NotFoundError (error 3) for a name SMSC does not have."""
        await self._sender_op(
            {"del": "1", "sender": check_text(sender, "sender")}, wire.ResultAnswer
        )

    async def _sender_op(self, params: dict[str, str], answer: type[Any]) -> Any:
        body = await self._ask("senders", wire.SENDERS, {**params, "fmt": "3", "charset": "utf-8"})
        return self._decoded(answer, wire.SENDERS, body)


async def _with_phones(refs: MessageRefs, size: int) -> AsyncIterator[list[tuple[str, str | None]]]:
    async for chunk in pair_chunks(refs, size=size):
        for message_id, phone in chunk:
            if phone is None:
                raise ValueError(
                    f"SMSC names a message by id and phone: pass {message_id!r} as"
                    " '<id>:<phone>' (a key of result.sent) or as an (id, phone) pair"
                )
        yield chunk


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _pair_answers(
    pairs: list[tuple[str, str]], answers: list[wire.StatusAnswer] | None
) -> dict[str, wire.StatusAnswer]:
    """Match answers to the pairs asked for: by their id and phone, else by position.

    The documents show a single pair's answer without ``id`` and ``phone`` and a
    list's entries with them; an answer without them is matched by its position
    when the counts agree.
    """
    if not answers:
        return {}
    wanted = {(message_id, phone): message_key(message_id, phone) for message_id, phone in pairs}
    by_id_tail = {(message_id, phone[-9:]): key for (message_id, phone), key in wanted.items()}
    matched: dict[str, wire.StatusAnswer] = {}
    loose: list[wire.StatusAnswer] = []
    for answer in answers:
        if answer.id is None or answer.phone is None:
            loose.append(answer)
            continue
        phone = "".join(ch for ch in str(answer.phone) if ch.isdigit())
        key = by_id_tail.get((str(answer.id), phone[-9:]))
        if key is not None:
            matched[key] = answer
    if loose and len(answers) == len(pairs):
        for (message_id, phone), answer in zip(pairs, answers, strict=True):
            matched.setdefault(message_key(message_id, phone), answer)
    return matched


def _report(pairs: list[tuple[str, str]], answers: list[wire.StatusAnswer] | None) -> StatusReport:
    matched = _pair_answers(pairs, answers)
    raw = {key: str(answer.status).strip() for key, answer in matched.items()}
    known = {key: code for key, code in raw.items() if code != str(wire.FOUND_NOT)}
    missing = [message_key(i, p) for i, p in pairs if message_key(i, p) not in known]
    return StatusReport(
        ((key, wire.delivery_status(code)) for key, code in known.items()),
        raw=raw,
        missing=missing,
    )
