"""SmsClub: construction, lifecycle, one method per endpoint, bulk fan-out."""

from __future__ import annotations

import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import aclosing
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import httpx

from ._common import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    MessageIds,
    PersonalMessages,
    Phones,
    SendStream,
    check_base_url,
    check_lifetime,
    check_max_parts,
    check_text,
    nonempty,
    too_many_parts,
)
from ._errors import (
    ConfigurationError,
    DecodeError,
    NotFoundError,
    SmsClubError,
    ValidationError,
)
from ._fanout import fan_out
from ._lifecycle import ClientLifecycle
from ._limiter import DEFAULT_RATE_LIMIT, RateLimiter, limiter_for_token, token_fingerprint
from ._outcomes import cancelled_result, interpret_send
from ._phones import (
    Chunk,
    chunk_messages,
    chunk_phones,
    chunk_unique,
)
from ._pipeline import Progress
from ._results import Balance, SenderRegistration, SendResult, StatusReport
from ._retry import DEFAULT_READ_RETRY, DEFAULT_SEND_RETRY, RetryPolicy
from ._status import DeliveryStatus, SenderState
from ._version import __version__
from ._wire import (
    BalanceResponse,
    PersonalizedEntry,
    PersonalizedSendRequest,
    RegisterSenderRequest,
    RegistrationResponse,
    SendersResponse,
    SenderStatusRequest,
    SenderStatusResponse,
    SendRequest,
    StatusRequest,
    StatusResponse,
    WireDecodeError,
    decode,
    encode,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "SendStream",
    "SmsClub",
]

DEFAULT_BASE_URL = "https://im.smsclub.mobi"
TOKEN_ENV = "SMSCLUB_TOKEN"  # noqa: S105 - the name of the variable, not a secret
BASE_URL_ENV = "SMSCLUB_BASE_URL"


class SmsClub(ClientLifecycle):
    """An asyncio client of the SMS Club JSON API.

    Args:
        token: the API token (JSON Profile section of the account); defaults to the
            ``SMSCLUB_TOKEN`` environment variable.
        base_url: defaults to ``SMSCLUB_BASE_URL`` or ``https://im.smsclub.mobi``.
        http_client: an ``httpx.AsyncClient`` to borrow (never closed by this client).
            Without it the client creates and owns one.
        transport: an httpx transport for the owned client (e.g. the sandbox's).
        timeout: httpx timeouts for the owned client.
        rate_limit: requests per second for this token (the gateway allows 9).
        limiter: a limiter to use instead of the process-wide one for the token, e.g.
            :class:`smsclub_async.redis.RedisLimiter` when processes share a token.
        retry: the retry policy of idempotent calls (status, balance, senders, ...).
        send_retry: the retry policy of sends (see :class:`RetryPolicy`).
        max_concurrency: requests of one bulk call in flight at once.
        event_hooks: httpx event hooks for the owned client (``request``/``response``).

    Example:
        >>> async def main() -> None:
        ...     async with SmsClub(token="...") as sms:
        ...         result = await sms.send("380989361131", "Hi", sender="VashZakaz")
        ...         print(result.sent)
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy = DEFAULT_READ_RETRY,
        send_retry: RetryPolicy = DEFAULT_SEND_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        if not token or not token.strip():
            raise ConfigurationError(
                f"no API token: pass token=... or set {TOKEN_ENV} (get one in the JSON Profile"
                " section of your SMS Club account)"
            )
        token = token.strip()
        if not token.isascii() or not token.isprintable() or " " in token:
            # Never echo it: a malformed token is still a secret.
            raise ConfigurationError(
                "the API token must be printable ASCII without spaces; check what was pasted"
            )
        url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        check_base_url(url)
        self._fingerprint = token_fingerprint(token)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"smsclub-async/{__version__}",
        }
        super().__init__(
            base_url=url,
            limiter=limiter or limiter_for_token(token, rate_limit),
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            send_retry=send_retry,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
        )

    def _request_headers(self) -> dict[str, str]:
        return self._headers

    def _identity(self) -> str:
        return f"token=sha256:{self._fingerprint}"

    # ----------------------------------------------------------------- sending

    async def send(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str,
        lifetime: int | None = None,
        integration_id: int | None = None,
        max_parts: int | None = None,
        deduplicate: bool = True,
    ) -> SendResult:
        """Send one message to any number of recipients.

        Numbers are normalised (spaces, dashes, brackets, a leading ``+`` removed),
        de-duplicated in order, split into requests of 100 that run concurrently
        under the rate limit, and the answers merged into one result.

        Args:
            phones: one number, or any iterable or async iterable of numbers.
            message: the text (UTF-8; long texts are sent as several parts).
            sender: an approved sender name (``src_addr``).
            lifetime: minutes the message may wait for delivery.
            integration_id: the referral-programme id, if any.
            max_parts: refuse the message before any request if it needs more parts.
            deduplicate: send once per distinct number (about 64 bytes for each
                of the first 65,536 distinct recipients, 14 for each after);
                turn off for lists already unique.

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
        )
        return await self._collect(stream, SendResult)

    async def send_personalized(
        self,
        messages: PersonalMessages,
        *,
        sender: str,
        lifetime: int | None = None,
        max_parts: int | None = None,
    ) -> SendResult:
        """Send each recipient its own text (``/v2/sms/send``), 100 per request.

        Args:
            messages: a mapping phone -> text, or (phone, text) pairs, sync or async.
                One message per phone per call: a later pair for the same phone is
                ignored.
            sender: an approved sender name.
            lifetime: minutes the messages may wait for delivery.
            max_parts: refuse any text longer than this many parts.

        Returns and raises as :meth:`send`.
        """
        stream = self.send_personalized_iter(
            messages, sender=sender, lifetime=lifetime, max_parts=max_parts
        )
        return await self._collect(stream, SendResult)

    def send_iter(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str,
        lifetime: int | None = None,
        integration_id: int | None = None,
        max_parts: int | None = None,
        deduplicate: bool = True,
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
            ...         print(len(part.sent), "sent")
        """
        check_text(message, "message")
        check_text(sender, "sender")
        check_lifetime(lifetime)
        check_max_parts(message, max_parts)
        if integration_id is not None and (
            isinstance(integration_id, bool) or not isinstance(integration_id, int)
        ):
            raise ValueError(f"integration_id must be a whole number, got {integration_id!r}")
        if isinstance(phones, Iterable) and not isinstance(phones, str | bytes):
            phones = nonempty(phones, "phones")
        elif isinstance(phones, str) and not phones.strip():
            raise ValueError("phones must name at least one recipient")

        def payload(chunk: Chunk) -> bytes:
            return encode(
                SendRequest(
                    phone=chunk.phones,
                    src_addr=sender,
                    message=message,
                    lifetime=lifetime,
                    integration_id=integration_id,
                )
            )

        return self._stream(chunk_phones(phones, deduplicate=deduplicate), payload, "/sms/send")

    def send_personalized_iter(
        self,
        messages: PersonalMessages,
        *,
        sender: str,
        lifetime: int | None = None,
        max_parts: int | None = None,
    ) -> SendStream:
        """Like :meth:`send_personalized`, yielding one result per finished request."""
        check_text(sender, "sender")
        check_lifetime(lifetime)
        check_max_parts("x", max_parts)
        if isinstance(messages, Mapping):
            if not messages:
                raise ValueError("messages must hold at least one (phone, text) pair")
            for text in messages.values():
                check_text(text, "every message")
                check_max_parts(text, max_parts)
        elif isinstance(messages, Iterable) and not isinstance(messages, str | bytes):
            messages = nonempty(messages, "messages")
        # chunk_messages refuses anything else at once, before any request.

        def payload(chunk: Chunk) -> bytes:
            entries = [
                PersonalizedEntry(phone=p, message=m)
                for p, m in zip(chunk.phones, chunk.messages, strict=True)
            ]
            return encode(
                PersonalizedSendRequest(src_addr=sender, data_message=entries, lifetime=lifetime)
            )

        chunks = chunk_messages(messages, check=lambda text: too_many_parts(text, max_parts))
        return self._stream(chunks, payload, "/v2/sms/send")

    def _stream(
        self, chunks: AsyncIterator[Chunk], payload: Callable[[Chunk], bytes], endpoint: str
    ) -> SendStream:
        async def attempt(chunk: Chunk, progress: Progress) -> SendResult:
            exchange = await self._open().exchange(
                endpoint, payload(chunk), policy=self.send_retry, is_send=True, progress=progress
            )
            return interpret_send(chunk, exchange, endpoint=endpoint)

        return self._run_chunks(
            chunks,
            attempt,
            rejected_only=lambda chunk: SendResult(failed=dict(chunk.rejected)),
            interrupted=lambda chunk, maybe: cancelled_result(chunk, maybe_processed=maybe),
        )

    # ----------------------------------------------------------------- reading

    async def status(self, message_ids: MessageIds) -> StatusReport:
        """Delivery status of any number of messages, 100 ids per request.

        Args:
            message_ids: ids as issued (``result.sent`` works: its keys are the ids),
                strings or numbers, sync or async.

        Returns:
            A :class:`StatusReport`: a dict id -> :class:`DeliveryStatus` with
            ``raw`` (the gateway's strings) and ``missing`` (ids it did not report).

        Raises:
            ValueError: no ids, or an id that is empty or not a string or number.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """
        chunks = _id_chunks(message_ids)  # refuses a non-iterable before any request
        report = StatusReport()
        try:
            async with aclosing(self._status_parts(chunks)) as parts:
                async for part in parts:
                    report.merge(part)
        except SmsClubError as exc:
            exc.partial = report
            raise
        return report

    async def _status_parts(
        self, chunks: AsyncGenerator[list[str], None]
    ) -> AsyncGenerator[StatusReport, None]:
        self._open()

        async def fetch(ids: list[str]) -> StatusReport | SmsClubError:
            try:
                body = await self._open().call(
                    "/sms/status", encode(StatusRequest(id_sms=ids)), policy=self.retry
                )
                return _status_report(ids, body)
            except SmsClubError as exc:
                return exc

        got_any = False
        parts = fan_out(chunks, fetch, limit=self.max_concurrency)
        async with aclosing(parts):
            async for part in parts:
                if isinstance(part, SmsClubError):
                    raise part
                got_any = True
                yield part
        if not got_any:
            raise ValueError("message_ids must hold at least one id")

    async def balance(self) -> Balance:
        """The account balance, e.g. ``Balance(money=Decimal('8111.17'), currency='UAH')``."""
        body = await self._open().call("/sms/balance", None, policy=self.retry)
        info = _decode(BalanceResponse, body, "/sms/balance").success_request.info
        try:
            money = Decimal(str(info.money))
        except InvalidOperation as exc:
            raise DecodeError(
                f"/sms/balance: money is not a number: {info.money!r}", endpoint="/sms/balance"
            ) from exc
        if not money.is_finite():
            raise DecodeError(f"/sms/balance: money is {money}", endpoint="/sms/balance")
        # "8111.1700" -> 8111.17, but never drop a digit that carries value.
        try:
            cents = money.quantize(Decimal("0.01"))
        except InvalidOperation:  # more digits than the decimal context holds
            cents = money
        return Balance(money=cents if cents == money else money, currency=info.currency)

    async def senders(self) -> list[str]:
        """The sender names this account may send from (``/sms/originator``)."""
        body = await self._open().call("/sms/originator", None, policy=self.retry)
        info = _decode(SendersResponse, body, "/sms/originator").success_request.info
        return list(info) if isinstance(info, list) else list(info.values())

    async def sender_status(self, sender: str | None = None) -> dict[str, SenderState]:
        """Moderation state of one sender name, or of all names when ``sender`` is None.

        Raises:
            NotFoundError: the gateway has no such name ("Error. Data not found").
        """
        endpoint = "/originators/stat-originators"
        payload = None
        if sender is not None:
            payload = encode(SenderStatusRequest(sender_id=check_text(sender, "sender")))
        body = await self._open().call(endpoint, payload, policy=self.retry)
        answer = _decode(SenderStatusResponse, body, endpoint).success_request
        states = {name: SenderState.parse(state) for name, state in answer.info.items()}
        if sender is not None and sender not in states and answer.add_info:
            message = str(next(iter(answer.add_info.values())))
            raise NotFoundError(
                f"{endpoint}: sender name {sender!r}: {message}",
                status_code=200,
                endpoint=endpoint,
                gateway_message=message,
                fields={k: str(v) for k, v in answer.add_info.items()},
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
        endpoint = "/originators/registration-originators"
        body = await self._open().call(endpoint, encode(request), policy=self.retry)
        answer = _decode(RegistrationResponse, body, endpoint).success_request
        if answer.info is None:
            fields = {k: str(v) for k, v in answer.add_info.items()}
            detail = "; ".join(f"{k}: {v}" for k, v in fields.items()) or "no details"
            raise ValidationError(
                f"{endpoint}: the application was refused: {detail}",
                status_code=200,
                endpoint=endpoint,
                gateway_message=detail,
                fields=fields,
            )
        return SenderRegistration(sender=answer.info.originator, status=answer.info.status)


def _decode(kind: type[Any], body: bytes, endpoint: str) -> Any:
    try:
        return decode(kind, body)
    except WireDecodeError as exc:
        raise DecodeError(
            f"{endpoint}: unexpected answer from the gateway: {exc}", endpoint=endpoint, body=body
        ) from exc


def _status_report(ids: list[str], body: bytes) -> StatusReport:
    answer = _decode(StatusResponse, body, "/sms/status").success_request
    raw = {str(k): str(v) for k, v in answer.info.items()}
    statuses = [(k, DeliveryStatus.parse(v)) for k, v in raw.items()]
    missing = [i for i in ids if i not in raw]
    return StatusReport(statuses, raw=raw, missing=missing)


def _normalize_id(raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ValueError(f"a message id must be a string or a whole number, got {raw!r}")  # noqa: TRY004 - one error type for all bad input
    text = str(raw).strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise ValueError(f"not a message id: {raw!r}")
    return text


def _id_chunks(message_ids: MessageIds) -> AsyncGenerator[list[str], None]:
    source = [message_ids] if isinstance(message_ids, str | int) else message_ids
    return chunk_unique(source, _normalize_id, what="message_ids")
