"""What the gateway clients share with :class:`~smsclub_async.SmsClub`: lifecycle, the
request path and bulk fan-out.

The structure mirrors ``_client.py``: an unopened / opened / closed state
machine, an owned or borrowed ``httpx.AsyncClient`` (a borrowed one is never
closed), one event loop per client, and every request through the core
:class:`Pipeline` (limiter -> httpx -> status classification -> retries), with
:func:`._exchange.exchange` adding the refusals these gateways put in 200 answers.

Credentials travel only in the form-encoded POST body (never the URL, a header
or a log line), and :meth:`GatewayClient._scrub` blanks them out of anything the
gateway echoes back before it reaches an exception text.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import httpx

from .._common import SendStream
from .._common import check_base_url as check_usable_url
from .._errors import (
    APIError,
    ConfigurationError,
    DecodeError,
)
from .._lifecycle import ClientLifecycle
from .._limiter import RateLimiter
from .._phones import Chunk
from .._pipeline import Progress
from .._results import SendResult
from .._retry import RetryPolicy
from .._version import __version__
from ._exchange import Judge, Outcome, exchange
from ._keys import form_body

__all__ = ["GatewayClient", "check_base_url"]

R = TypeVar("R", bound=SendResult)

_FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
    "User-Agent": f"smsclub-async/{__version__}",
}


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash; ConfigurationError if httpx could not use it."""
    url = url.rstrip("/")
    check_usable_url(url)
    return url


class GatewayClient(ClientLifecycle):
    """The request path of a form-encoded gateway client (not public)."""

    _gateway: ClassVar[str] = "gateway"
    _http_advice: ClassVar[Mapping[type[APIError], str] | None] = {}

    def __init__(
        self,
        *,
        base_url: str,
        identity: str,
        secrets: Sequence[str],
        limiter: RateLimiter,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None,
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy,
        send_retry: RetryPolicy,
        max_concurrency: int,
        chunk_size: int,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None,
    ) -> None:
        if not 1 <= chunk_size <= 1000:
            raise ConfigurationError("chunk_size must be between 1 and 1000")
        super().__init__(
            base_url=base_url,
            limiter=limiter,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            retry=retry,
            send_retry=send_retry,
            max_concurrency=max_concurrency,
            event_hooks=event_hooks,
        )
        self._identity_text = identity
        # Longest first, so a secret that contains another is blanked whole.
        variants = {s for secret in secrets if secret for s in _encoded_forms(secret)}
        self._secrets = tuple(sorted(variants, key=len, reverse=True))
        self.chunk_size = chunk_size

    def _request_headers(self) -> dict[str, str]:
        return dict(_FORM_HEADERS)

    def _identity(self) -> str:
        return self._identity_text

    # ----------------------------------------------------------------- secrets

    def _auth(self) -> dict[str, str]:
        """The credential parameters of every request (overridden)."""
        raise NotImplementedError

    def _scrub(self, text: str) -> str:
        """``text`` with every credential of this client replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _scrub_bytes(self, body: bytes) -> bytes:
        for secret in self._secrets:
            body = body.replace(secret.encode("utf-8", "replace"), b"***")
        return body

    def _decode_error(self, endpoint: str, body: bytes, problem: str) -> DecodeError:
        return DecodeError(
            f"{endpoint}: unexpected answer from the gateway: {self._scrub(problem)}",
            endpoint=endpoint,
            body=self._scrub_bytes(body),
        )

    # ----------------------------------------------------------------- requests

    def _payload(self, params: Mapping[str, str], encoding: str = "utf-8") -> bytes:
        return form_body({**self._auth(), **params}, encoding=encoding)

    async def _exchange(
        self,
        endpoint: str,
        payload: bytes,
        *,
        policy: RetryPolicy,
        is_send: bool,
        judge: Judge,
        progress: Progress,
    ) -> Outcome:
        return await exchange(
            self._open(),
            endpoint,
            payload,
            policy=policy,
            is_send=is_send,
            judge=judge,
            progress=progress,
        )

    async def _call(
        self, endpoint: str, params: Mapping[str, str], judge: Judge, *, encoding: str = "utf-8"
    ) -> bytes:
        """An idempotent request: the body of its accepted answer, or the error raised."""
        outcome = await self._exchange(
            endpoint,
            self._payload(params, encoding),
            policy=self.retry,
            is_send=False,
            judge=judge,
            progress=Progress(),
        )
        if outcome.error is not None:
            raise outcome.error
        assert outcome.body is not None
        return outcome.body

    def _stream(
        self,
        chunks: AsyncIterator[Chunk],
        *,
        endpoint: str,
        payload: Callable[[Chunk], bytes],
        judge: Judge,
        interpret: Callable[[Chunk, Outcome], SendResult],
        cancelled: Callable[[Chunk, bool], SendResult],
        rejected_only: Callable[[Chunk], SendResult],
    ) -> SendStream:
        """Send chunk after chunk, a bounded number in flight, one result per request."""

        async def attempt(chunk: Chunk, progress: Progress) -> SendResult:
            outcome = await self._exchange(
                endpoint,
                payload(chunk),
                policy=self.send_retry,
                is_send=True,
                judge=judge,
                progress=progress,
            )
            return interpret(chunk, outcome)

        return self._run_chunks(chunks, attempt, rejected_only=rejected_only, interrupted=cancelled)


def _encoded_forms(secret: str) -> tuple[str, ...]:
    """A secret as it may come back: verbatim or percent-encoded from our form body."""
    return (
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
    )
