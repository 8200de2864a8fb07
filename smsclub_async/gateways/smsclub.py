"""SmsClub: the SMS Club JSON API, as declarations and pure functions on the engine.

The gateway's limits set the defaults: 9 requests per second per token (one limiter
per token in the process), 100 recipients per request, and a 2-minute window in
which an identical send is answered 453 instead of being sent again (so a send that
may already have gone out is retried only inside it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from .._accounting import PhoneIndex, account_failure, fill, unreadable
from .._client import GatewayClient, SendPlan
from .._common import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    MessageIds,
    PersonalMessages,
    Phones,
    SendStream,
    check_base_url,
    check_lifetime,
    check_max_parts,
    check_messages,
    check_phones,
    check_secret,
    check_text,
    default_sender,
    too_many_parts,
)
from .._decipher import Refusal, http_refusal
from .._decoding import WireDecodeError, decode, encode, to_money
from .._errors import (
    APIError,
    AuthenticationError,
    DuplicateError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from .._limiter import DEFAULT_RATE_LIMIT, RateLimiter, limiter_for_token, token_fingerprint
from .._phones import (
    MAX_PER_REQUEST,
    Chunk,
    check_message_id,
    chunk_messages,
    chunk_phones,
    chunk_unique,
)
from .._pipeline import Outcome, Priority
from .._results import Balance, SenderRegistration, SendResult, StatusReport
from .._retry import RetryPolicy
from .._status import DeliveryStatus, SenderState
from .._version import __version__
from ._smsclub_wire import (
    BalanceResponse,
    PersonalizedEntry,
    PersonalizedSendRequest,
    RegisterSenderRequest,
    RegistrationResponse,
    SendersResponse,
    SenderStatusRequest,
    SenderStatusResponse,
    SendRequest,
    SendResponse,
    StatusRequest,
    StatusResponse,
    decode_error_fields,
    decode_error_message,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "SMSCLUB_DUPLICATE_WINDOW",
    "SMSCLUB_READ_RETRY",
    "SMSCLUB_SEND_RETRY",
    "SmsClub",
]

DEFAULT_BASE_URL = "https://im.smsclub.mobi"
TOKEN_ENV = "SMSCLUB_TOKEN"  # noqa: S105 - the name of the variable, not a secret
BASE_URL_ENV = "SMSCLUB_BASE_URL"
SENDER_ENV = "SMSCLUB_SENDER"

SMSCLUB_DUPLICATE_WINDOW = 120.0
"""Seconds in which the gateway answers 453 to the same message to the same numbers."""
SMSCLUB_READ_RETRY = RetryPolicy(deadline=60.0)
"""Reads: 4 attempts, none begun more than a minute after the call started."""
SMSCLUB_SEND_RETRY = RetryPolicy(attempts=5, duplicate_window=SMSCLUB_DUPLICATE_WINDOW)
"""Sends: a send that may have gone out is retried only within 100 s (the 120 s window less 20)."""

SEND = "/sms/send"
SEND_PERSONALIZED = "/v2/sms/send"
STATUS = "/sms/status"
BALANCE = "/sms/balance"
SENDERS = "/sms/originator"
SENDER_STATUS = "/originators/stat-originators"
REGISTER_SENDER = "/originators/registration-originators"

ADVICE: dict[type[APIError], str] = {
    ValidationError: "check the request parameters",
    AuthenticationError: "check the token (JSON Profile section of the SMS Club account)",
    RateLimitedError: "slow down; the gateway allows 9 requests per second per token",
    DuplicateError: "the same message went to these numbers less than 2 minutes ago",
    ServerError: "the gateway is temporarily unavailable; try again later",
    APIError: "unexpected status from the gateway",
}
DUPLICATE_OF_CALLER = (
    "not sent: the same message went to these numbers less than 2 minutes ago (HTTP 453 duplicate)"
)
# Keys of add_info that name a request field, not a phone.
REQUEST_FIELDS = frozenset({"src_addr", "message", "phone", "lifetime", "data_message"})


# ----------------------------------------------------------------- pure functions


def decipher(
    endpoint: str, scrub: Callable[[str], str]
) -> Callable[[int, httpx.Headers, bytes, int], Refusal | None]:
    """The reading of every SMS Club answer: refusals come only as HTTP statuses."""

    def read(status: int, headers: httpx.Headers, body: bytes, refusals: int) -> Refusal | None:
        if 200 <= status < 300:
            return None
        message = decode_error_message(body)
        fields = {k: scrub(v) for k, v in decode_error_fields(body).items()}
        return http_refusal(
            status,
            headers,
            endpoint=endpoint,
            gateway_message=scrub(message) if message is not None else None,
            advice=ADVICE,
            fields=fields,
        )

    return read


def account_send(chunk: Chunk, outcome: Outcome, *, endpoint: str) -> SendResult:
    """Every phone of a chunk in exactly one bucket, given how its request ended (pure)."""
    result = SendResult(failed=dict(chunk.rejected), requests=outcome.attempts)
    if outcome.body is None:
        account_failure(result, chunk, outcome, duplicate_of_caller=DUPLICATE_OF_CALLER)
        if outcome.status_code == 400 and outcome.error is not None:
            result.errors.update(
                getattr(outcome.error, "fields", {}) or {"request": str(outcome.error)}
            )
        return result
    try:
        answer = decode(SendResponse, outcome.body).success_request
    except WireDecodeError as exc:
        # A 200 means the gateway processed the request: the messages may be out.
        return unreadable(result, chunk, endpoint=endpoint, body=outcome.body, problem=str(exc))
    info = answer.info if isinstance(answer.info, dict) else {}
    add_info = answer.add_info if isinstance(answer.add_info, dict) else {}
    if not add_info and len(info) == len(chunk.phones):
        try:
            echoed_exactly = set(info.values()) == set(chunk.phones)
        except TypeError:  # an unhashable value (a list, an object): read entry by entry
            echoed_exactly = False
        if echoed_exactly:
            # The usual answer, every number echoed once exactly as sent: C-speed checks.
            result.sent.update(info)
            return result
    index = PhoneIndex(chunk.phones)
    idless: list[str] = []
    for message_id, returned in info.items():
        if not isinstance(returned, str | int) or isinstance(returned, bool):
            idless.append(str(message_id))
            continue
        matched = index.claim(returned)
        result.sent[str(message_id)] = matched or str(returned)
    for key, message in add_info.items():
        text = message if isinstance(message, str) else str(message)
        matched = index.claim(key) if key not in REQUEST_FIELDS else None
        if matched is not None:
            result.failed[matched] = text
        else:
            result.errors[str(key)] = text
    pending = list(index.pending)
    if pending:
        if result.errors and not info:
            # A request-level error and nothing accepted: the request was refused whole.
            reason = "not sent: " + "; ".join(f"{k}: {v}" for k, v in result.errors.items())
            fill(result, pending, maybe=False, reason=reason)
        elif idless:
            reason = (
                "maybe sent: the gateway issued id(s) "
                + ", ".join(idless[:5])
                + " without a readable number"
            )
            fill(result, pending, maybe=True, reason=reason)
        else:
            fill(
                result,
                pending,
                maybe=True,
                reason="the gateway's answer did not mention this number",
            )
    return result


def status_report(ids: list[str], body: bytes) -> StatusReport:
    """The statuses of one status request, read entry by entry (pure)."""
    answer = decode(StatusResponse, body).success_request
    info = answer.info if isinstance(answer.info, dict) else {}
    raw = {str(k): str(v) for k, v in info.items() if isinstance(v, str | int)}
    statuses = [(k, DeliveryStatus.parse(v)) for k, v in raw.items()]
    missing = [i for i in ids if i not in raw]
    return StatusReport(statuses, raw=raw, missing=missing)


# ----------------------------------------------------------------- the client


class SmsClub(GatewayClient):
    """An asyncio client of the SMS Club JSON API.

    Args:
        token: the API token (JSON Profile section of the account); defaults to the
            ``SMSCLUB_TOKEN`` environment variable.
        base_url: defaults to ``SMSCLUB_BASE_URL`` or ``https://im.smsclub.mobi``.
        sender: the sender name used when a send names none; defaults to
            ``SMSCLUB_SENDER``.
        http_client: an ``httpx.AsyncClient`` to borrow (never closed by this client).
            Without it the client creates and owns one.
        transport: an httpx transport for the owned client (e.g. the sandbox's).
        timeout: httpx timeouts for the owned client (seconds or ``httpx.Timeout``);
            an attempt as a whole never lasts longer than its phases added up.
        rate_limit: requests per second for this token (the gateway allows 9). Every
            client of a token in the process shares one limiter: the strictest rate
            asked for wins.
        limiter: a limiter to use instead of the process-wide one for the token, e.g.
            :class:`smsclub_async.redis.RedisLimiter` when processes share a token.
        retry: the retry policy of idempotent calls (status, balance, senders, ...),
            or a number of attempts.
        send_retry: the retry policy of sends (see :class:`RetryPolicy`), or a number
            of attempts.
        max_concurrency: requests of one bulk call in flight at once.
        event_hooks: httpx event hooks for the owned client (``request``/``response``).
        journal: where sends with a ``key=`` are recorded (e.g.
            :class:`smsclub_async.journal.SqliteJournal`); without it, in memory.

    Example:
        >>> async def main() -> None:
        ...     async with SmsClub(token="...") as sms:
        ...         result = await sms.send("380989361131", "Hi", sender="VashZakaz")
        ...         print(result.sent)
    """

    _gateway = "SMS Club"

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        sender: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | int = SMSCLUB_READ_RETRY,
        send_retry: RetryPolicy | int = SMSCLUB_SEND_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        journal: Any = None,
    ) -> None:
        token = check_secret(
            token if token is not None else os.environ.get(TOKEN_ENV),
            "token",
            header=True,
            missing=f"no API token: pass token=... or set {TOKEN_ENV} (get one in the JSON"
            " Profile section of your SMS Club account)",
        )
        url = check_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
        self.sender = default_sender(sender, SENDER_ENV)
        """The sender name of sends that name none (``SMSCLUB_SENDER`` by default)."""
        super().__init__(
            base_url=url,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"smsclub-async/{__version__}",
            },
            identity=f"token=sha256:{token_fingerprint(token)}",
            secrets=[token],
            limiter=limiter or limiter_for_token(token, rate_limit),
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            send_retry=send_retry,
            default_retry=SMSCLUB_READ_RETRY,
            default_send_retry=SMSCLUB_SEND_RETRY,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
            journal=journal,
        )
        self._read = {
            endpoint: decipher(endpoint, self._scrub)
            for endpoint in (
                SEND,
                SEND_PERSONALIZED,
                STATUS,
                BALANCE,
                SENDERS,
                SENDER_STATUS,
                REGISTER_SENDER,
            )
        }

    def _sender(self, sender: str | None) -> str:
        chosen = sender if sender is not None else self.sender
        if chosen is None:
            raise ValueError(
                f"sender is required by SMS Club: pass sender=..., or set {SENDER_ENV} or"
                " SmsClub(sender=...)"
            )
        return check_text(chosen, "sender")

    # ----------------------------------------------------------------- sending

    async def send(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        lifetime: int | None = None,
        integration_id: int | None = None,
        max_parts: int | None = None,
        deduplicate: bool = True,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendResult:
        """Send one message to any number of recipients.

        Numbers are normalised (spaces, dashes, brackets, a leading ``+`` removed),
        de-duplicated in order, split into requests of 100 that run concurrently
        under the rate limit, and the answers merged into one result.

        Args:
            phones: one number, or any iterable or async iterable of numbers.
            message: the text (UTF-8; long texts are sent as several parts).
            sender: an approved sender name (``src_addr``); the client's default
                (``SMSCLUB_SENDER``) without it.
            lifetime: minutes the message may wait for delivery.
            integration_id: the referral-programme id, if any.
            max_parts: refuse the message before any request if it needs more parts.
            deduplicate: send once per distinct number (about 64 bytes for each
                of the first 65,536 distinct recipients, 14 for each after);
                turn off for lists already unique.
            key: an idempotency key: a call with a key already in the client's
                journal sends only the recipients never started and returns the
                combined result (see ``docs/journal.md``).
            priority: the limiter lane: ``"high"`` takes the next free slot ahead of
                bulk traffic. By default a call that fits in one request (a one-time
                code) is ``"high"``, a larger one ``"normal"``.
            deadline: seconds (or a ``timedelta``, or an aware ``datetime``) after
                which no request of this call leaves: recipients not yet sent are
                reported ``failed`` ("not sent: deadline passed").

        Returns:
            Every recipient in ``sent`` (id -> phone), ``failed`` or ``unknown``.

        Raises:
            ValueError: empty message or sender, no recipients, bad lifetime or too
                many parts; raised before any request.
            SmsClubError: a request failed for good (after retries). Its ``partial``
                holds the merged result of every chunk, every issued id included.
                On cancellation, ``asyncio.CancelledError`` is re-raised with the
                same ``partial`` attribute.
        """
        stream = self.send_iter(
            phones,
            message,
            sender=sender,
            lifetime=lifetime,
            integration_id=integration_id,
            max_parts=max_parts,
            deduplicate=deduplicate,
            key=key,
            priority=priority,
            deadline=deadline,
        )
        return await self._collect(stream, SendResult)

    async def send_personalized(
        self,
        messages: PersonalMessages,
        *,
        sender: str | None = None,
        lifetime: int | None = None,
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendResult:
        """Send each recipient its own text (``/v2/sms/send``), 100 per request.

        Args:
            messages: a mapping phone -> text, or (phone, text) pairs, sync or async.
                One message per phone per call: a later pair for the same phone is
                ignored. A text that is empty or longer than ``max_parts`` puts its
                phone in ``failed``; the others are sent.
            sender: an approved sender name.
            lifetime: minutes the messages may wait for delivery.
            max_parts: refuse any text longer than this many parts.
            key: an idempotency key, as for :meth:`send`.
            priority: the limiter lane, as for :meth:`send`.
            deadline: as for :meth:`send`.

        Returns and raises as :meth:`send`.
        """
        stream = self.send_personalized_iter(
            messages,
            sender=sender,
            lifetime=lifetime,
            max_parts=max_parts,
            key=key,
            priority=priority,
            deadline=deadline,
        )
        return await self._collect(stream, SendResult)

    def send_iter(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        lifetime: int | None = None,
        integration_id: int | None = None,
        max_parts: int | None = None,
        deduplicate: bool = True,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendStream:
        """Like :meth:`send`, but yield one :class:`SendResult` per finished request.

        Reads the recipients lazily and holds only the requests in flight; the one
        thing that grows is the de-duplication set, about 18 MB for a million
        distinct numbers (``deduplicate=False`` makes memory flat for lists already unique).
        A chunk that failed for good is yielded with ``error`` set and its phones in
        ``failed`` or ``unknown``; an authentication error ends the stream by raising.

        Example:
            >>> async def main(sms: SmsClub, phones: list[str]) -> None:
            ...     async for part in sms.send_iter(phones, "Hi", sender="VashZakaz"):
            ...         print(len(part.sent), "sent", len(part.failed), "failed", part.error)
        """
        check_text(message, "message")
        src = self._sender(sender)
        check_lifetime(lifetime)
        check_max_parts(message, max_parts)
        if integration_id is not None and (
            isinstance(integration_id, bool)
            or not isinstance(integration_id, int)
            or not 0 <= integration_id < 2**63
        ):
            raise ValueError(f"integration_id must be a whole number, got {integration_id!r}")
        phones = check_phones(phones)

        def build(chunk: Chunk) -> bytes:
            return encode(
                SendRequest(
                    phone=chunk.phones,
                    src_addr=src,
                    message=message,
                    lifetime=lifetime,
                    integration_id=integration_id,
                )
            )

        plan = SendPlan(
            endpoint=SEND,
            build=build,
            decipher=self._read[SEND],
            account=lambda chunk, outcome: account_send(chunk, outcome, endpoint=SEND),
            result_type=SendResult,
            fingerprint=f"{src}|{lifetime}|{integration_id}|{message}",
            distinct=deduplicate,
        )
        return self._send_stream(
            chunk_phones(phones, deduplicate=deduplicate),
            plan,
            key=key,
            priority=priority,
            deadline=deadline,
            recipients=phones,
            chunk_size=MAX_PER_REQUEST,
        )

    def send_personalized_iter(
        self,
        messages: PersonalMessages,
        *,
        sender: str | None = None,
        lifetime: int | None = None,
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendStream:
        """Like :meth:`send_personalized`, yielding one result per finished request."""
        src = self._sender(sender)
        check_lifetime(lifetime)
        check_max_parts("x", max_parts)
        messages = check_messages(messages, max_parts)

        def build(chunk: Chunk) -> bytes:
            entries = [
                PersonalizedEntry(phone=p, message=m)
                for p, m in zip(chunk.phones, chunk.messages, strict=True)
            ]
            return encode(
                PersonalizedSendRequest(src_addr=src, data_message=entries, lifetime=lifetime)
            )

        plan = SendPlan(
            endpoint=SEND_PERSONALIZED,
            build=build,
            decipher=self._read[SEND_PERSONALIZED],
            account=lambda chunk, outcome: account_send(chunk, outcome, endpoint=SEND_PERSONALIZED),
            result_type=SendResult,
            fingerprint=f"{src}|{lifetime}",
            distinct=True,  # chunk_messages keeps the first pair of a phone
        )
        chunks = chunk_messages(messages, check=lambda text: too_many_parts(text, max_parts))
        return self._send_stream(
            chunks,
            plan,
            key=key,
            priority=priority,
            deadline=deadline,
            recipients=messages,
            chunk_size=MAX_PER_REQUEST,
        )

    # ----------------------------------------------------------------- reading

    def _canonical_id(self, raw: object) -> str:
        return check_message_id(raw)

    async def status(self, message_ids: MessageIds) -> StatusReport:
        """Delivery status of any number of messages, 100 ids per request.

        Args:
            message_ids: ids as issued (``result.sent`` works: its keys are the ids),
                strings or numbers, sync or async. None at all is an empty report.

        Returns:
            A :class:`StatusReport`: a dict id -> :class:`DeliveryStatus` with
            ``raw`` (the gateway's strings) and ``missing`` (ids it did not report).

        Raises:
            ValueError: an id that is empty or not a string or number.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """
        source = [message_ids] if isinstance(message_ids, str | int) else message_ids
        chunks = chunk_unique(source, check_message_id, what="message_ids")

        async def fetch(ids: list[str]) -> StatusReport:
            body = await self._call(STATUS, encode(StatusRequest(id_sms=ids)), self._read[STATUS])
            try:
                return status_report(ids, body)
            except WireDecodeError as exc:
                raise self._decode_error(STATUS, body, str(exc)) from exc

        return await self._report(chunks, fetch)

    async def balance(self) -> Balance:
        """The account balance, e.g. ``Balance(money=Decimal('8111.17'), currency='UAH')``."""
        body = await self._call(BALANCE, None, self._read[BALANCE])
        try:
            info = decode(BalanceResponse, body).success_request.info
        except WireDecodeError as exc:
            raise self._decode_error(BALANCE, body, str(exc)) from exc
        money = to_money(info.money)
        if money is None:
            raise self._decode_error(BALANCE, body, f"money is not a number: {info.money!r:.60}")
        return Balance(money=money, currency=info.currency)

    async def senders(self) -> list[str]:
        """The sender names this account may send from (``/sms/originator``)."""
        body = await self._call(SENDERS, None, self._read[SENDERS])
        try:
            info = decode(SendersResponse, body).success_request.info
        except WireDecodeError as exc:
            raise self._decode_error(SENDERS, body, str(exc)) from exc
        return list(info) if isinstance(info, list) else list(info.values())

    async def sender_status(self, sender: str | None = None) -> dict[str, SenderState]:
        """Moderation state of one sender name, or of all names when ``sender`` is None.

        Raises:
            NotFoundError: the gateway has no such name ("Error. Data not found").
        """
        payload = None
        if sender is not None:
            payload = encode(SenderStatusRequest(sender_id=check_text(sender, "sender")))
        body = await self._call(SENDER_STATUS, payload, self._read[SENDER_STATUS])
        try:
            answer = decode(SenderStatusResponse, body).success_request
        except WireDecodeError as exc:
            raise self._decode_error(SENDER_STATUS, body, str(exc)) from exc
        states = {name: SenderState.parse(state) for name, state in answer.info.items()}
        if sender is not None and sender not in states and answer.add_info:
            message = self._scrub(str(next(iter(answer.add_info.values()))))
            raise NotFoundError(
                f"{SENDER_STATUS}: sender name {sender!r}: {message}",
                status_code=200,
                endpoint=SENDER_STATUS,
                gateway_message=message,
                fields={k: self._scrub(str(v)) for k, v in answer.add_info.items()},
            )
        return states

    async def register_sender(
        self,
        *,
        sender: str,
        company_type: Literal["tov", "fop"],
        company: str,
        subject: str,
        description: str,
        site: str,
        okpo: str | None = None,
        inn: str | None = None,
    ) -> SenderRegistration:
        """Apply for a new sender name; it starts in moderation.

        Args:
            sender: the name wanted (``sender_id``).
            company_type: ``"tov"`` (a company: give ``okpo``) or ``"fop"`` (a sole
                trader: give ``inn``).
            company: the legal name.
            subject: the purpose of the messages (see the gateway's suggested list).
            description: what the company does.
            site: the website or a social-network page.
            okpo: the company's EDRPOU code, for ``"tov"``.
            inn: the taxpayer number, for ``"fop"``.

        Raises:
            ValueError: a missing field, or the wrong id for the company type.
            ValidationError: the gateway refused a field (``fields`` says which).
        """
        for value, name in (
            (sender, "sender"),
            (company, "company"),
            (subject, "subject"),
            (description, "description"),
            (site, "site"),
        ):
            check_text(value, name)
        if company_type == "tov":
            check_text(okpo, "okpo (required for company_type='tov')")
        elif company_type == "fop":
            check_text(inn, "inn (required for company_type='fop')")
        else:
            raise ValueError(f"company_type must be 'tov' or 'fop', got {company_type!r}")
        request = RegisterSenderRequest(
            sender_id=sender,
            company_type=company_type,
            company=company,
            okpo=(okpo or "") if company_type == "tov" else "",
            inn=(inn or "") if company_type == "fop" else "",
            subject=subject,
            description=description,
            site=site,
        )
        body = await self._call(REGISTER_SENDER, encode(request), self._read[REGISTER_SENDER])
        try:
            answer = decode(RegistrationResponse, body).success_request
        except WireDecodeError as exc:
            raise self._decode_error(REGISTER_SENDER, body, str(exc)) from exc
        if answer.info is None:
            fields = {k: self._scrub(str(v)) for k, v in answer.add_info.items()}
            detail = "; ".join(f"{k}: {v}" for k, v in fields.items()) or "no details"
            raise ValidationError(
                f"{REGISTER_SENDER}: the application was refused: {detail}",
                status_code=200,
                endpoint=REGISTER_SENDER,
                gateway_message=detail,
                fields=fields,
            )
        return SenderRegistration(sender=answer.info.originator, status=answer.info.status)
