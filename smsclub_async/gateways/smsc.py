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
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from .._common import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    PersonalMessages,
    Phones,
    SendStream,
    check_max_parts,
    check_text,
    nonempty,
)
from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SmsClubError,
    ValidationError,
)
from .._fanout import fan_out
from .._limiter import RateLimiter, token_fingerprint
from .._outcomes import DUPLICATE_OF_OUR_RETRY, NOT_MENTIONED, match_phone
from .._phones import Chunk, chunk_messages, chunk_phones
from .._results import Balance, SendResult, StatusReport
from .._retry import RetryPolicy
from .._wire import WireDecodeError
from . import _smsc_wire as wire
from ._base import GatewayClient, check_base_url
from ._exchange import Judge, Outcome, Refusal
from ._json import decode_json
from ._keys import MessageRefs, message_key, pair_chunks
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

_CURRENCIES = {"kz": "KZT", "ru": "RUB", "ua": "UAH", "tj": "TJS"}
_RESERVED = frozenset(
    {"login", "psw", "apikey", "fmt", "charset", "phones", "mes", "list", "cost", "op", "hlr"}
)
_HTTP_ADVICE: dict[type[APIError], str] = {
    ValidationError: "check the request parameters",
    AuthenticationError: "check the SMSC login and password or API key",
    RateLimitedError: "slow down; SMSC allows fewer than 15 requests in flight per login",
    ServerError: "SMSC is temporarily unavailable; try again later",
    APIError: "unexpected HTTP status from SMSC",
}
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
    if isinstance(lifetime, bool) or not isinstance(lifetime, int):
        raise TypeError(f"lifetime must be a whole number of minutes, got {lifetime!r}")
    if not 1 <= lifetime <= _MAX_LIFETIME:
        raise ValueError(
            f"lifetime must be 1 to {_MAX_LIFETIME} minutes (24 hours), got {lifetime}"
        )
    return f"{lifetime // 60:02d}:{lifetime % 60:02d}"


def _list_param(chunk: Chunk) -> str:
    # "phone:message" per line; a line break inside a message is sent as "\n".
    return "\n".join(
        f"{phone}:{text.replace(chr(13), '').replace(chr(10), chr(92) + 'n')}"
        for phone, text in zip(chunk.phones, chunk.messages, strict=True)
    )


def _cancelled(chunk: Chunk, maybe_processed: bool) -> SendResult:
    result = SmscSendResult(failed=dict(chunk.rejected))
    for phone in chunk.phones:
        if maybe_processed:
            result.unknown[phone] = "maybe sent: cancelled while in flight"
        else:
            result.failed[phone] = "not sent: cancelled before sending"
    return result


def _rejected_only(chunk: Chunk) -> SendResult:
    return SmscSendResult(failed=dict(chunk.rejected))


def _refused(chunk: Chunk, outcome: Outcome, result: SmscSendResult) -> SmscSendResult:
    """A send that ended in an error: ``unknown`` if it may have gone out, else ``failed``."""
    refusal = outcome.refusal
    issued = ""
    if refusal is not None and refusal.message_id:
        result.message_ids.append(refusal.message_id)
        issued = f" (the gateway issued id {refusal.message_id})"
    duplicate = refusal is not None and refusal.duplicate
    if outcome.maybe_processed:
        # Whatever refused the retry says nothing about the attempt that may have gone out.
        reason = (
            DUPLICATE_OF_OUR_RETRY.replace("453", "error 9")
            if duplicate
            else f"maybe sent: an attempt may have been processed, and then: {outcome.error}"
        )
        result.unknown.update(dict.fromkeys(chunk.phones, reason))
    else:
        reason = (
            "not sent: SMSC refused it as a repeat of an identical request made less than"
            " a minute ago (error 9)"
            if duplicate
            else f"not sent: {outcome.error}{issued}"
        )
        result.failed.update(dict.fromkeys(chunk.phones, reason))
    if not duplicate:  # as SmsClub's 453: a duplicate is reported per phone, not raised
        result.error = outcome.error
    return result


def _per_phone(
    chunk: Chunk, message_id: str, entries: list[wire.PhoneAnswer], result: SmscSendResult
) -> None:
    """Read the ``op=1`` report: numbers with an error code were refused, the rest sent."""
    pending = dict.fromkeys(chunk.phones)
    by_tail: dict[str, list[str]] = {}
    for phone in chunk.phones:
        by_tail.setdefault(phone[-9:], []).append(phone)
    for entry in entries:
        matched = match_phone(str(entry.phone), pending, by_tail)
        if matched is None:
            continue
        del pending[matched]
        code = str(entry.error if entry.error is not None else "").strip()
        if code and code.lstrip("-") != "0":
            number = int(code.lstrip("-")) if code.lstrip("-").isdigit() else 0
            meaning = wire.ERRORS["send"].get(number)
            what = meaning.meaning if meaning else "undocumented error code"
            result.failed[matched] = f"not sent: SMSC error {code} ({what})"
        else:
            result.sent[message_key(message_id, matched)] = matched
    result.unknown.update(dict.fromkeys(pending, NOT_MENTIONED))


def interpret_send(
    chunk: Chunk,
    outcome: Outcome,
    *,
    endpoint: str,
    decode_error: Callable[[str, bytes, str], DecodeError],
) -> SmscSendResult:
    """Account for every phone of a chunk given how its ``send.php`` request ended (pure)."""
    result = SmscSendResult(failed=dict(chunk.rejected), requests=outcome.attempts)
    if outcome.error is not None:
        return _refused(chunk, outcome, result)
    assert outcome.body is not None
    try:
        answer = decode_json(wire.SendAnswer, outcome.body)
    except WireDecodeError as exc:
        problem: str | None = str(exc)
    else:
        problem = None if answer.id is not None else "the answer carries no message id"
    if problem is not None:
        # An accepted answer we cannot read: the messages may be out.
        error = decode_error(endpoint, outcome.body, f"{problem}; the messages may have been sent")
        result.error = error
        reason = f"maybe sent: the answer could not be read ({error})"
        result.unknown.update(dict.fromkeys(chunk.phones, reason))
        return result

    message_id = str(answer.id)
    result.message_ids.append(message_id)
    result.parts = int(wire.to_decimal(answer.cnt) or 0)
    result.cost = wire.to_decimal(answer.cost) or Decimal(0)
    result.balance = wire.to_decimal(answer.balance)
    entries = wire.phone_answers(answer)
    if entries:
        _per_phone(chunk, message_id, entries, result)
    else:
        # No per-number report: the request was accepted for every number it named.
        for phone in chunk.phones:
            result.sent[message_key(message_id, phone)] = phone
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
    _http_advice = _HTTP_ADVICE
    _poll_interval = 15.0  # at most 5 identical status requests a minute

    def __init__(
        self,
        login: str | None = None,
        password: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        max_in_flight: int = SMSC_MAX_IN_FLIGHT,
        rate_limit: int | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy = SMSC_READ_RETRY,
        send_retry: RetryPolicy = SMSC_SEND_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        chunk_size: int = 100,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        if login is None and password is None and api_key is None:
            login = os.environ.get(LOGIN_ENV)
            password = os.environ.get(PASSWORD_ENV)
            api_key = os.environ.get(API_KEY_ENV)
        if api_key:
            if login or password:
                raise ConfigurationError("pass either api_key or login and password, not both")
            self._credentials = {"apikey": api_key}
            identity = f"api_key=sha256:{token_fingerprint(api_key)}"
            account = f"apikey:{token_fingerprint(api_key)}"
        elif login and password:
            self._credentials = {"login": login, "psw": password}
            identity = f"login={login!r}"
            account = f"login:{login}"
        else:
            raise ConfigurationError(
                "no SMSC credentials: pass login= and password= (or api_key=), or set"
                f" {LOGIN_ENV} and {PASSWORD_ENV} (or {API_KEY_ENV})"
            )
        url = check_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_SMSC_BASE_URL)
        host = urllib.parse.urlsplit(url).hostname or ""
        self._currency = _CURRENCIES.get(host.rsplit(".", 1)[-1], "")
        super().__init__(
            base_url=url,
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
            max_concurrency=max_concurrency,
            chunk_size=chunk_size,
            event_hooks=event_hooks,
        )

    def _auth(self) -> dict[str, str]:
        return dict(self._credentials)

    def _judge(self, kind: wire.Kind, endpoint: str) -> Judge:
        def judge(body: bytes, number: int) -> Refusal | None:
            info = wire.parse_error(body)
            if info is None:
                return None
            return wire.refusal_for(kind, info, number, endpoint=endpoint, scrub=self._scrub)

        return judge

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
        if sender is not None:
            params["sender"] = check_text(sender, "sender")
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
    ) -> SmscSendResult:
        """Send one message to any number of recipients (``send.php``).

        Numbers are normalised, de-duplicated, sent ``chunk_size`` per request
        (concurrently, under the limiter) and the answers merged.

        Args:
            phones: one number, or any iterable or async iterable of numbers.
            message: the text (``mes``).
            sender: a registered sender name; the account's default without it.
            translit: 1 (or True) to transliterate Cyrillic, 2 for the "mpaHc" style.
            deferred: when to send: an aware ``datetime``, a ``timedelta`` from now,
                or SMSC's own ``time`` string.
            lifetime: minutes the message may wait for delivery (1 to 1440; ``valid``).
            flash: a flash SMS (shown at once, not stored).
            message_id: your own id for the request (``id``); else SMSC assigns one.
            max_parts: refuse the message before any request if it needs more parts.
            extra: other documented ``send.php`` parameters, passed as they are.

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
        return self._phones_stream(phones, params)

    def _phones_stream(self, phones: Phones, params: dict[str, str]) -> SendStream:
        if isinstance(phones, Iterable) and not isinstance(phones, str):
            phones = nonempty(phones, "phones")
        elif isinstance(phones, str) and not phones.strip():
            raise ValueError("phones must name at least one recipient")

        def payload(chunk: Chunk) -> bytes:
            return self._payload({**params, "phones": ",".join(chunk.phones)})

        return self._send_stream(chunk_phones(phones, size=self.chunk_size), payload)

    def _send_stream(
        self, chunks: AsyncIterator[Chunk], payload: Callable[[Chunk], bytes]
    ) -> SendStream:
        return self._stream(
            chunks,
            endpoint=wire.SEND,
            payload=payload,
            judge=self._judge("send", wire.SEND),
            interpret=lambda chunk, outcome: interpret_send(
                chunk, outcome, endpoint=wire.SEND, decode_error=self._decode_error
            ),
            cancelled=_cancelled,
            rejected_only=_rejected_only,
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
    ) -> SmscSendResult:
        """Send each recipient its own text in one request per chunk (the ``list`` parameter).

        The other arguments (``sender``, ``translit``, ``deferred``, ``lifetime``,
        ``flash``, ``message_id``, ``max_parts``), the result and the errors are as
        for :meth:`send`.

        Args:
            messages: a mapping phone -> text, or (phone, text) pairs, sync or async;
                the first text of a phone wins.
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
    ) -> SendStream:
        """Like :meth:`send_personalized`, yielding one result per finished request."""
        params = self._send_params(
            sender=sender,
            translit=translit,
            deferred=deferred,
            lifetime=lifetime,
            flash=flash,
            message_id=message_id,
            extra=None,
        )
        if isinstance(messages, Mapping):
            if not messages:
                raise ValueError("messages must hold at least one (phone, text) pair")
            for text in messages.values():
                check_text(text, "every message")
                check_max_parts(text, max_parts)
        elif isinstance(messages, Iterable):
            messages = nonempty(messages, "messages")

        def payload(chunk: Chunk) -> bytes:
            for text in chunk.messages:
                check_max_parts(text, max_parts)
            return self._payload({**params, "list": _list_param(chunk)})

        return self._send_stream(chunk_messages(messages, size=self.chunk_size), payload)

    async def hlr(self, phones: Phones) -> SmscSendResult:
        """Start an HLR lookup of each number (``hlr=1``): no SMS reaches the phone.

        The lookups are billed like sends and follow the same retry rules. Read
        their answers with :meth:`hlr_results` once they are final.
        """
        params = {"fmt": "3", "charset": "utf-8", "cost": "3", "op": "1", "hlr": "1"}
        return await self._collect(self._phones_stream(phones, params), SmscSendResult)

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
        judge = self._judge("cost", wire.SEND)

        async def price(chunk: Chunk) -> SmscCost | SmsClubError:
            if not chunk.phones:
                return SmscCost(Decimal(0), 0)
            try:
                body = await self._call(
                    wire.SEND, {**params, "phones": ",".join(chunk.phones)}, judge
                )
                answer = decode_json(wire.CostAnswer, body)
            except WireDecodeError as exc:
                return self._decode_error(wire.SEND, body, str(exc))
            except SmsClubError as exc:
                return exc
            amount = wire.to_decimal(answer.cost)
            if amount is None:
                return self._decode_error(wire.SEND, body, f"cost is not a number: {answer.cost!r}")
            return SmscCost(amount, int(wire.to_decimal(answer.cnt) or 0))

        total, parts, any_phone = Decimal(0), 0, False
        async for part in fan_out(
            chunk_phones(phones, size=self.chunk_size), price, limit=self.max_concurrency
        ):
            if isinstance(part, SmsClubError):
                raise part
            total += part.cost
            parts += part.parts
            any_phone = True
        if not any_phone:
            raise ValueError("phones must name at least one recipient")
        return SmscCost(total, parts)

    async def status(self, message_ids: MessageRefs) -> StatusReport:
        """Delivery status of messages named by key (``"<id>:<phone>"``) or (id, phone) pair.

        Args:
            message_ids: keys as issued (``result.sent`` works) or pairs, sync or async.

        Returns:
            A :class:`StatusReport`: key -> :class:`DeliveryStatus`, with ``raw`` the
            SMSC status code as text and ``missing`` the pairs SMSC does not know
            (status -3).

        Raises:
            ValueError: no keys, or a bare id without its phone.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """
        report = StatusReport()
        try:
            async for answers, pairs in self._status_answers(message_ids, all_fields=False):
                report.merge(_report(pairs, answers))
        except SmsClubError as exc:
            exc.partial = report
            raise
        return report

    async def hlr_results(self, message_ids: MessageRefs) -> dict[str, HlrResult]:
        """The answers of HLR lookups started with :meth:`hlr`, by key (``all=1`` status)."""
        results: dict[str, HlrResult] = {}
        async for answers, pairs in self._status_answers(message_ids, all_fields=True):
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
        self, refs: MessageRefs, *, all_fields: bool
    ) -> AsyncIterator[tuple[list[wire.StatusAnswer] | None, list[tuple[str, str]]]]:
        self._open()
        judge = self._judge("status", wire.STATUS)

        async def fetch(
            chunk: list[tuple[str, str | None]],
        ) -> tuple[list[wire.StatusAnswer] | None, list[tuple[str, str]]] | SmsClubError:
            pairs = [(message_id, phone) for message_id, phone in chunk if phone is not None]
            params = {
                "fmt": "3",
                "charset": "utf-8",
                "all": "1" if all_fields else "0",
                "id": ",".join(message_id for message_id, _ in pairs),
                "phone": ",".join(phone for _, phone in pairs),
            }
            try:
                body = await self._call(wire.STATUS, params, judge)
                return wire.decode_status_answers(body), pairs
            except NotFoundError:
                return None, pairs  # error 3: SMSC knows none of them
            except WireDecodeError as exc:
                return self._decode_error(wire.STATUS, body, str(exc))
            except SmsClubError as exc:
                return exc

        got_any = False
        async for part in fan_out(
            _with_phones(refs, self.chunk_size), fetch, limit=self.max_concurrency
        ):
            if isinstance(part, SmsClubError):
                raise part
            got_any = True
            yield part
        if not got_any:
            raise ValueError("message_ids must hold at least one message key")

    async def balance(self) -> Balance:
        """The account balance (``balance.php`` with ``cur=1``)."""
        body = await self._call(
            wire.BALANCE, {"fmt": "3", "cur": "1"}, self._judge("balance", wire.BALANCE)
        )
        try:
            answer = decode_json(wire.BalanceAnswer, body)
        except WireDecodeError as exc:
            raise self._decode_error(wire.BALANCE, body, str(exc)) from exc
        money = wire.to_decimal(answer.balance)
        if money is None:
            raise self._decode_error(
                wire.BALANCE, body, f"balance is not a number: {answer.balance!r}"
            )
        cents = money.quantize(Decimal("0.01"))
        return Balance(
            money=cents if cents == money else money, currency=answer.currency or self._currency
        )

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
        body = await self._call(wire.SENDERS, params, self._judge("senders", wire.SENDERS))
        try:
            return wire.parse_senders(body, 3)
        except WireDecodeError as exc:
            raise self._decode_error(wire.SENDERS, body, str(exc)) from exc

    async def add_sender(self, sender: str, *, comment: str | None = None) -> str:
        """Apply for a new sender name; returns its id (it starts awaiting moderation)."""
        params = {
            "add": "1",
            "sender": check_text(sender, "sender"),
            "fmt": "3",
            "charset": "utf-8",
        }
        if comment:
            params["cmt"] = comment
        body = await self._call(wire.SENDERS, params, self._judge("senders", wire.SENDERS))
        try:
            return str(decode_json(wire.AddSenderAnswer, body).sender)
        except WireDecodeError as exc:
            raise self._decode_error(wire.SENDERS, body, str(exc)) from exc

    async def delete_sender(self, sender: str) -> None:
        """Delete a sender name. Raises NotFoundError (error 3) for a name SMSC does not have."""
        params = {
            "del": "1",
            "sender": check_text(sender, "sender"),
            "fmt": "3",
            "charset": "utf-8",
        }
        body = await self._call(wire.SENDERS, params, self._judge("senders", wire.SENDERS))
        try:
            decode_json(wire.ResultAnswer, body)
        except WireDecodeError as exc:
            raise self._decode_error(wire.SENDERS, body, str(exc)) from exc


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
