"""SmsteleClient: the SMStele REX400 HTTP API (``cgibin/sendsms``, ``cgibin/status``).

Every example of the document puts ``login`` and ``psw`` in the URL's query string
and the rest in a POST body (it also says every parameter may come by GET or POST):
this client does the same. The password then travels in the URL, so every text the
client builds from an answer or an error is scrubbed of it (it never names the URL).

The gateway documents no duplicate protection ("the id need not be unique") and
no rate limits. So:

* a send is retried only while no attempt may have been processed (a refused
  connection, a 429, the gateway's own "system error" refusals); once one may
  have gone out the recipients are reported ``unknown``, never sent twice;
* every send carries an id (yours, or one made up here), so even a send whose
  answer was lost can be looked up with :meth:`SmsteleClient.status`;
* requests in flight per login are capped at :data:`SMSTELE_MAX_IN_FLIGHT`, a
  polite default (the document gives no number).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, NoReturn

import httpx

from .._accounting import NOT_MENTIONED, PhoneIndex, account_failure, fill, unreadable
from .._client import GatewayClient, SendPlan
from .._common import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_TIMEOUT,
    Phones,
    SendStream,
    check_base_url,
    check_chunk_size,
    check_lifetime,
    check_max_parts,
    check_phones,
    check_secret,
    check_text,
    default_sender,
)
from .._decipher import Decipher, Refusal, http_refusal
from .._decoding import WireDecodeError, decode, to_code, to_count
from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    RateLimitedError,
    ServerError,
    UnsupportedError,
    ValidationError,
)
from .._limiter import RateLimiter
from .._phones import Chunk, chunk_phones, normalize_phone
from .._pipeline import Outcome, Priority
from .._results import Balance, StatusReport
from .._retry import RetryPolicy
from .._version import __version__
from . import _smstele_wire as wire
from ._keys import MessageRefs, form_body, message_key, pair_chunks, parse_ref
from ._limits import default_limiter
from ._results import SmsteleRecipient, SmsteleSendResult

__all__ = [
    "DEFAULT_SMSTELE_BASE_URL",
    "SMSTELE_MAX_IN_FLIGHT",
    "SMSTELE_READ_RETRY",
    "SMSTELE_SEND_RETRY",
    "SmsteleClient",
]

DEFAULT_SMSTELE_BASE_URL = "https://rexsmsc.rex400.ru:8882"
"""HTTPS on the gateway's port 8882 (plain HTTP is port 8881)."""
SMSTELE_MAX_IN_FLIGHT = 10
SMSTELE_READ_RETRY = RetryPolicy(deadline=60.0)
SMSTELE_SEND_RETRY = RetryPolicy(attempts=4, duplicate_window=0.0, window_safety=0.0)
"""No duplicate window: a send that may have been processed is never retried."""

LOGIN_ENV = "SMSTELE_LOGIN"
PASSWORD_ENV = "SMSTELE_PASSWORD"  # noqa: S105 - the name of the variable, not a secret
BASE_URL_ENV = "SMSTELE_BASE_URL"
SENDER_ENV = "SMSTELE_SENDER"

Charset = Literal["utf-8", "windows-1251", "koi8-r"]
_CHARSETS: tuple[str, ...] = ("utf-8", "windows-1251", "koi8-r")
# Timestamps in the gateway's answers carry "+03" (Moscow time).
_GATEWAY_ZONE = timezone(timedelta(hours=3))
_FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
    "User-Agent": f"smsclub-async/{__version__}",
}
ADVICE: dict[type[APIError], str] = {
    ValidationError: "check the request parameters",
    AuthenticationError: "check the SMStele login and password",
    RateLimitedError: "slow down",
    ServerError: "SMStele is temporarily unavailable; try again later",
    APIError: "unexpected HTTP status from SMStele",
}
DUPLICATE_OF_CALLER = "not sent: the gateway refused it as a duplicate"


class _HideQueryPassword(logging.Filter):
    """Blanks ``psw=`` in the URLs httpx logs ("HTTP Request: POST https://...?psw=")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) and "psw=" in str(arg) for arg in record.args
        ):
            record.args = tuple(
                arg.copy_set_param("psw", "***") if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


_HIDE_QUERY_PASSWORD = _HideQueryPassword()


def _deferred_param(when: datetime | str) -> str:
    """``deferred`` as the document shows it, ``2017-12-10 09:00:00`` (Moscow time)."""
    if isinstance(when, datetime):
        if when.tzinfo is not None:
            when = when.astimezone(_GATEWAY_ZONE)
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return check_text(when, "deferred")


def _new_id() -> str:
    return f"sc-{secrets.token_hex(8)}"


def _lookup_hint(reference: str) -> str:
    return f"; look it up with status({reference!r})"


def decipher(endpoint: str, scrub: Callable[[str], str]) -> Decipher:
    """The reading of every REX400 answer: an HTTP status, or a negative code in a 200."""

    def read(status: int, headers: httpx.Headers, body: bytes, refusals: int) -> Refusal | None:
        answer = wire.parse_error(body)
        if 200 <= status < 300:
            if answer is None:
                return None
            return wire.refusal_for(answer, endpoint=endpoint, scrub=scrub)
        message = scrub(answer.description.strip()) if answer is not None else None
        return http_refusal(
            status, headers, endpoint=endpoint, gateway_message=message or None, advice=ADVICE
        )

    return read


def account_send(
    chunk: Chunk, outcome: Outcome, *, message_id: str, endpoint: str
) -> SmsteleSendResult:
    """Account for every phone of a chunk given how its ``sendsms`` request ended (pure).

    Recipients are ``failed`` only on a documented error code of their own or a
    refusal of a request that cannot have been processed. A recipient the answer
    lists with no error code but without an operator, while the top-level ``cnt``
    falls short of the recipients' parts, is ``unknown``: the document's example 2
    shows such numbers as "bad" without any code that says they were refused.
    """
    result = SmsteleSendResult(failed=dict(chunk.rejected), requests=outcome.attempts)
    if outcome.body is None:
        account_failure(
            result,
            chunk,
            outcome,
            duplicate_of_caller=DUPLICATE_OF_CALLER,
            hint=_lookup_hint(message_id),
        )
        if outcome.maybe_processed:
            result.message_ids.append(message_id)
        return result
    try:
        answer = decode(wire.SendAnswer, outcome.body)
    except WireDecodeError as exc:
        result.message_ids.append(message_id)
        return unreadable(
            result,
            chunk,
            endpoint=endpoint,
            body=outcome.body,
            problem=str(exc),
            hint=_lookup_hint(message_id),
        )

    issued = str(answer.id).strip() if answer.id is not None and str(answer.id).strip() else ""
    issued = issued or message_id
    result.message_ids.append(issued)
    entries = answer.recipients()
    counted = to_count(answer.cnt)
    result.parts = counted or 0
    listed_parts = sum(max(to_count(entry.cnt) or 1, 1) for entry in entries)
    shortfall = counted is not None and counted < listed_parts

    index = PhoneIndex(chunk.phones)
    for entry in entries:
        matched = index.claim(entry.phone)
        if matched is None:
            continue
        entry_id = str(entry.id).strip() if entry.id is not None else ""
        key = message_key(entry_id or issued, matched)
        result.details[key] = SmsteleRecipient(
            phone=matched,
            message_id=entry_id or issued,
            status=str(entry.status).strip(),
            error=str(entry.error).strip(),
            parts=to_count(entry.cnt) or 0,
            operator=entry.operator.strip(),
            region=str(entry.region).strip(),
            mnc=str(entry.mnc).strip(),
        )
        raw = str(entry.error).strip()
        code = to_code(raw) if raw else None
        if raw and code is None:
            # An unreadable code ("²", "--5") after an accepted request: maybe sent.
            result.unknown[matched] = (
                f"maybe sent: SMStele accepted the request but reported an unreadable code"
                f" {raw[:20]!r} for this number" + _lookup_hint(key)
            )
        elif code is not None and code < 0 and str(code) != wire.NO_CODE:
            meaning = wire.meaning_of(code)
            result.failed[matched] = (
                f"not sent: SMStele error {code} {meaning.name} ({meaning.meaning})"
            )
        elif shortfall and not entry.operator.strip():
            result.unknown[matched] = (
                f"probably not sent: the gateway counted {counted} of {listed_parts} parts and"
                " named no operator for this number (it refuses numbers it cannot route"
                " without an error code)" + _lookup_hint(key)
            )
        else:
            # An odd per-number code ("²", "--5") is no refusal: the request was accepted.
            result.sent[key] = matched
    fill(result, list(index.pending), maybe=True, reason=NOT_MENTIONED + _lookup_hint(issued))
    return result


class SmsteleClient(GatewayClient):
    """An asyncio client of the SMStele REX400 HTTP API.

    Message keys: every recipient of a request shares the request's id, so the
    keys of ``result.sent`` are ``"<id>:<phone>"``; :meth:`status` takes keys,
    bare ids (every recipient of that id) or ``(id, phone)`` pairs.

    Args:
        login: the account login; defaults to ``$SMSTELE_LOGIN``.
        password: the account password; defaults to ``$SMSTELE_PASSWORD``.
        base_url: ``$SMSTELE_BASE_URL`` or ``https://rexsmsc.rex400.ru:8882``
            (use port 8881 for plain HTTP).
        cgi_path: the script directory: ``/cgibin`` as the document's text says,
            or ``/cgi-bin`` as its error examples show.
        sender: the sender name of sends that name none; defaults to
            ``SMSTELE_SENDER`` (else the account's own).
        http_client: an ``httpx.AsyncClient`` to borrow (never closed by this client).
        transport: an httpx transport for the owned client (e.g. the sandbox's).
        timeout: httpx timeouts for the owned client.
        max_in_flight: requests in flight per login, shared in the process.
        rate_limit: also cap requests per second (the document gives none).
        limiter: a limiter to use instead of the shared one.
        retry: the retry policy of status requests.
        send_retry: the retry policy of sends (no retry once one may have gone out).
        max_concurrency: requests of one bulk call in flight at once.
        chunk_size: recipients per request.
        event_hooks: httpx event hooks for the owned client.
        journal: where sends with a ``key=`` are recorded (see :class:`SmsClub`).

    Example:
        >>> async def main() -> None:
        ...     async with SmsteleClient(login="me:http", password="...") as rex:
        ...         result = await rex.send(["79160001234"], "Hi", sender="REX400.RU")
        ...         print(result.details)
    """

    _gateway = "SMStele"

    def __init__(
        self,
        login: str | None = None,
        password: str | None = None,
        *,
        base_url: str | None = None,
        sender: str | None = None,
        cgi_path: Literal["/cgibin", "/cgi-bin"] = "/cgibin",
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        max_in_flight: int = SMSTELE_MAX_IN_FLIGHT,
        rate_limit: int | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | int = SMSTELE_READ_RETRY,
        send_retry: RetryPolicy | int = SMSTELE_SEND_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        chunk_size: int = 100,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        journal: Any = None,
    ) -> None:
        missing = (
            f"no SMStele credentials: pass login= and password=, or set {LOGIN_ENV}"
            f" and {PASSWORD_ENV}"
        )
        login = check_secret(
            login if login is not None else os.environ.get(LOGIN_ENV), "login", missing=missing
        )
        password = check_secret(
            password if password is not None else os.environ.get(PASSWORD_ENV),
            "password",
            missing=missing,
        )
        if cgi_path not in ("/cgibin", "/cgi-bin"):
            raise ConfigurationError(f"cgi_path must be '/cgibin' or '/cgi-bin', got {cgi_path!r}")
        self.chunk_size = check_chunk_size(chunk_size)
        url = check_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_SMSTELE_BASE_URL)
        self.sender = default_sender(sender, SENDER_ENV)
        """The sender name of sends that name none (``SMSTELE_SENDER`` by default)."""
        # The credentials go in the query string, as every example of the document
        # puts them (the path is what error texts name, never this query).
        query = "?" + form_body({"login": login, "psw": password}).decode("ascii")
        # httpx logs every request's URL at INFO: never with the password in it.
        logging.getLogger("httpx").addFilter(_HIDE_QUERY_PASSWORD)
        self.send_path = f"{cgi_path}/sendsms"
        self.status_path = f"{cgi_path}/status"
        super().__init__(
            base_url=url,
            headers=_FORM_HEADERS,
            identity=f"login={login!r}",
            secrets=[password],
            limiter=limiter
            or default_limiter(
                f"smstele|{url}|{login}", max_in_flight=max_in_flight, rate_limit=rate_limit
            ),
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            send_retry=send_retry,
            default_retry=SMSTELE_READ_RETRY,
            default_send_retry=SMSTELE_SEND_RETRY,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
            journal=journal,
            query=query,
        )
        self._read = {
            path: decipher(path, self._scrub) for path in (self.send_path, self.status_path)
        }

    # ----------------------------------------------------------------- sending

    async def send(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        message_id: str | None = None,
        translit: bool = False,
        deferred: datetime | str | None = None,
        flash: bool = False,
        lifetime: int | None = None,
        charset: Charset = "utf-8",
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SmsteleSendResult:
        """Send one message to any number of recipients (``cgibin/sendsms``).

        Args:
            phones: one number, or any iterable or async iterable of numbers.
            message: the text (``mes``); long texts are split into parts.
            sender: a registered sender name; the client's default
                (``SMSTELE_SENDER``) without it, else the account's.
            message_id: the request's id (``id``); without it one is made up here, so
                a request whose answer is lost can still be looked up.
            translit: transliterate the text.
            deferred: when to deliver: a ``datetime`` (an aware one is converted to
                the gateway's Moscow time) or the gateway's own string.
            flash: a flash SMS.
            lifetime: the message's lifetime (``validity``; was ``validity=``),
                passed as given: the document names no unit.
            charset: how the text is encoded on the wire (``windows-1251`` is the
                gateway's default; this client defaults to ``utf-8``).
            max_parts: refuse the message before any request if it needs more parts.
            key: an idempotency key (see :meth:`SmsClub.send`).
            priority: the limiter lane (see :meth:`SmsClub.send`).
            deadline: no request leaves after it (see :meth:`SmsClub.send`).

        Returns:
            Every recipient in ``sent`` (``"<id>:<phone>"`` -> phone), ``failed`` or
            ``unknown``, with ``details`` holding each recipient's status, error,
            operator, region and mnc.

        Raises:
            ValueError: bad input (or a text ``charset`` cannot encode), before any request.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """
        stream = self.send_iter(
            phones,
            message,
            sender=sender,
            message_id=message_id,
            translit=translit,
            deferred=deferred,
            flash=flash,
            lifetime=lifetime,
            charset=charset,
            max_parts=max_parts,
            key=key,
            priority=priority,
            deadline=deadline,
        )
        return await self._collect(stream, SmsteleSendResult)

    def send_iter(
        self,
        phones: Phones,
        message: str,
        *,
        sender: str | None = None,
        message_id: str | None = None,
        translit: bool = False,
        deferred: datetime | str | None = None,
        flash: bool = False,
        lifetime: int | None = None,
        charset: Charset = "utf-8",
        max_parts: int | None = None,
        key: str | None = None,
        priority: Priority | None = None,
        deadline: float | timedelta | datetime | None = None,
    ) -> SendStream:
        """Like :meth:`send`, yielding one :class:`SmsteleSendResult` per finished request."""
        check_text(message, "message")
        check_max_parts(message, max_parts)
        params = self._common_params(
            sender=sender,
            translit=translit,
            deferred=deferred,
            flash=flash,
            lifetime=lifetime,
            charset=charset,
        )
        params["mes"] = message
        return self._phones_stream(phones, params, message_id, charset, key, priority, deadline)

    async def hlr(self, phones: Phones, *, message_id: str | None = None) -> SmsteleSendResult:
        """HLR lookups (``hlr=1``): each number's operator, region and mnc, no SMS sent.

        The answer's ``details`` hold what the operator's database returned.
        """
        stream = self._phones_stream(
            phones, {"hlr": "1", "charset": "utf-8"}, message_id, "utf-8", None, None, None
        )
        return await self._collect(stream, SmsteleSendResult)

    def _common_params(
        self,
        *,
        sender: str | None,
        translit: bool,
        deferred: datetime | str | None,
        flash: bool,
        lifetime: int | None,
        charset: str,
    ) -> dict[str, str]:
        if charset not in _CHARSETS:
            raise ValueError(f"charset must be one of {_CHARSETS}, got {charset!r}")
        params = {"charset": charset}
        chosen = sender if sender is not None else self.sender
        if chosen is not None:
            params["sender"] = check_text(chosen, "sender")
        if translit:
            params["translit"] = "1"
        if deferred is not None:
            params["deferred"] = _deferred_param(deferred)
        if flash:
            params["flash"] = "1"
        if lifetime is not None:
            params["validity"] = str(check_lifetime(lifetime))
        return params

    def _phones_stream(  # noqa: PLR0917
        self,
        phones: Phones,
        params: dict[str, str],
        message_id: str | None,
        charset: str,
        key: str | None,
        priority: Priority | None,
        deadline: float | timedelta | datetime | None,
    ) -> SendStream:
        request_id = check_text(message_id, "message_id") if message_id is not None else _new_id()
        params = {**params, "id": request_id}
        form_body(params, encoding=charset)  # a text the charset cannot encode fails here
        phones = check_phones(phones)

        def build(chunk: Chunk) -> bytes:
            return form_body({**params, "phones": ",".join(chunk.phones)}, encoding=charset)

        fingerprint = "|".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "id")
        plan = SendPlan(
            endpoint=self.send_path,
            build=build,
            decipher=self._read[self.send_path],
            account=lambda chunk, outcome: account_send(
                chunk, outcome, message_id=request_id, endpoint=self.send_path
            ),
            result_type=SmsteleSendResult,
            fingerprint=fingerprint,
            hint=lambda chunk: _lookup_hint(request_id),
            distinct=True,  # chunk_phones deduplicates
        )
        return self._send_stream(
            chunk_phones(phones, size=self.chunk_size),
            plan,
            key=key,
            priority=priority,
            deadline=deadline,
            recipients=phones,
            chunk_size=self.chunk_size,
        )

    # ----------------------------------------------------------------- reading

    def _canonical_id(self, raw: object) -> str:
        message_id, phone = parse_ref(raw)
        return message_id if phone is None else message_key(message_id, phone)

    async def status(self, message_ids: MessageRefs) -> StatusReport:
        """Delivery status by key (``"<id>:<phone>"``), bare id, or ``(id, phone)`` pair.

        A bare id reports every recipient of that request. ``raw`` holds the
        gateway's ``stat`` string; ``missing`` the keys (or ids) it did not report.
        None at all is an empty report.

        Raises:
            ValueError: a malformed id.
            SmsClubError: a request failed for good; ``partial`` holds the rest.
        """

        async def fetch(request: tuple[str, list[str | None]]) -> StatusReport:
            message_id, phones = request
            body = await self._call(
                self.status_path,
                form_body({"id": message_id}),
                self._read[self.status_path],
            )
            try:
                entries = decode(wire.StatusAnswer, body).entries()
            except WireDecodeError as exc:
                raise self._decode_error(self.status_path, body, str(exc)) from exc
            return _status_report(entries, message_id, phones)

        return await self._report(_by_id(message_ids, self.chunk_size), fetch)

    async def status_for_phone(self, phone: str) -> StatusReport:
        """Every message to one number the gateway reports (status by ``phone`` only)."""
        number = normalize_phone(phone)
        if number is None:
            raise ValueError(f"not a phone number: {phone!r}")
        body = await self._call(
            self.status_path, form_body({"phone": number}), self._read[self.status_path]
        )
        try:
            entries = decode(wire.StatusAnswer, body).entries()
        except WireDecodeError as exc:
            raise self._decode_error(self.status_path, body, str(exc)) from exc
        return _status_report(entries, None, [])

    async def balance(self) -> Balance:
        """Not available: the REX400 HTTP API documents no balance request.

        Raises:
            UnsupportedError: always, before any request (a send with too little
                credit is refused with InsufficientFundsError, code -43).
        """
        _unsupported("balance")

    async def senders(self) -> list[str]:
        """Not available: the REX400 HTTP API documents no sender-name listing.

        Raises:
            UnsupportedError: always, before any request.
        """
        _unsupported("senders")


def _unsupported(what: str) -> NoReturn:
    raise UnsupportedError(
        f"SMStele (REX400) documents no {what} request over HTTP; check it in the"
        " account's web interface"
    )


async def _by_id(refs: MessageRefs, size: int) -> AsyncIterator[tuple[str, list[str | None]]]:
    """Group references by id (one status request per id and chunk), in order."""
    async for chunk in pair_chunks(refs, size=size):
        grouped: dict[str, list[str | None]] = {}
        for message_id, phone in chunk:
            grouped.setdefault(message_id, []).append(phone)
        for item in grouped.items():
            yield item


def _status_report(
    entries: list[wire.StatusEntry], message_id: str | None, phones: list[str | None]
) -> StatusReport:
    """Key the entries by ``"<id>:<phone>"``; keep the ones asked for (all for a bare id)."""
    wanted = {p for p in phones if p is not None}
    everything = message_id is None or None in phones
    statuses: dict[str, wire.StatusEntry] = {}
    for entry in entries:
        phone = normalize_phone(str(entry.phone)) or str(entry.phone).strip()
        entry_id = str(entry.id).strip() if entry.id is not None else ""
        key = message_key(entry_id or message_id or "", phone)
        if everything or phone in wanted or any(phone[-9:] == w[-9:] for w in wanted):
            statuses[key] = entry
    raw = {key: entry.stat.strip() for key, entry in statuses.items()}
    report = StatusReport(
        ((key, wire.delivery_status(entry.stat)) for key, entry in statuses.items()), raw=raw
    )
    reported_phones = {key.rpartition(":")[2][-9:] for key in statuses}
    if message_id is not None:
        report.missing = [
            message_key(message_id, p) for p in sorted(wanted) if p[-9:] not in reported_phones
        ]
        if None in phones and not statuses:
            report.missing.append(message_id)
    return report
