"""Refusals inside HTTP 200 answers: one more retry layer on top of the core pipeline.

SMSC.kz and REX400 answer most errors with HTTP 200 and an error object in the
body, which the core pipeline (it classifies HTTP statuses) takes for success.
:func:`exchange` runs :meth:`Pipeline.exchange`, asks the gateway's ``judge``
whether the 200 body is a refusal, and retries the refusals the gateway asks to
come back from (SMSC codes 4 and 9, REX400 -1 and -2) under the same rules the
pipeline applies to HTTP 429:

* the attempts of both layers count against one ``policy.attempts``;
* a ``retry_after`` longer than ``policy.max_retry_after`` ends the retries;
* a send is retried after an attempt that may have been processed only while the
  retry reaches the gateway inside ``policy.send_budget`` (the gateway's
  duplicate window less a safety margin). The comparison is ``>=``, so a gateway
  with no duplicate protection (REX400, budget 0) is never retried once an
  attempt may have gone out.

One :class:`Progress` is shared by every call, so "may have been processed" and
the attempt count survive from one layer to the other.

A send with no duplicate window (budget 0) gets one attempt per pipeline call,
and HTTP-level retries are decided here: the pipeline compares the time since
the first maybe-processed attempt with ``>`` against the budget, which under a
clock that does not move (a test loop, waits off) lets a retry through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import APIError, RateLimitedError, SmsClubError, TransportError
from .._pipeline import Pipeline, Progress
from .._retry import RetryPolicy

__all__ = ["Judge", "Outcome", "Refusal", "exchange"]

logger = logging.getLogger("smsclub_async")


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 200 answer that carries an error.

    Attributes:
        error: the exception that names the error's meaning.
        retry: the gateway rejected the request before processing it and asks the
            client to come back (rate limits, temporary system errors).
        retry_after: seconds to wait before coming back, when the docs say.
        duplicate: the gateway refused the request as a repeat of an identical one.
        message_id: an id the gateway issued together with the refusal.
    """

    error: APIError
    retry: bool = False
    retry_after: float | None = None
    duplicate: bool = False
    message_id: str | None = None


Judge = Callable[[bytes, int], Refusal | None]
"""(body of a 200 answer, refusals so far + 1) -> the refusal it carries, or None."""


@dataclass(slots=True)
class Outcome:
    """How a request ended after every retry of both layers.

    Attributes:
        body: the body of the final accepted answer, or ``None``.
        error: what ended it otherwise (an HTTP, transport or refusal error).
        refusal: set when a refusal inside a 200 answer ended it.
        maybe_processed: an attempt may have been processed without its answer
            reaching us.
        attempts: HTTP attempts made.
    """

    body: bytes | None = None
    error: SmsClubError | None = None
    refusal: Refusal | None = None
    maybe_processed: bool = False
    attempts: int = 0


async def exchange(
    pipeline: Pipeline,
    endpoint: str,
    payload: bytes,
    *,
    policy: RetryPolicy,
    is_send: bool,
    judge: Judge,
    progress: Progress,
) -> Outcome:
    """Make a request, retrying HTTP failures (pipeline) and refusals (here). Never raises."""
    clock = asyncio.get_running_loop().time
    refusals = 0
    one_at_a_time = is_send and policy.send_budget <= 0
    while True:
        remaining = 1 if one_at_a_time else max(1, policy.attempts - progress.attempts)
        answer = await pipeline.exchange(
            endpoint,
            payload,
            policy=dataclasses.replace(policy, attempts=remaining),
            is_send=is_send,
            progress=progress,
        )
        if answer.error is not None:
            wait = _safe_retry_wait(answer.error, policy, progress) if one_at_a_time else None
            if wait is None:
                return Outcome(
                    error=answer.error,
                    maybe_processed=answer.maybe_processed,
                    attempts=progress.attempts,
                )
            pipeline.stats.retries += 1
            logger.info("retrying %s in %.2fs (%s)", endpoint, wait, answer.error)
            await asyncio.sleep(wait)
            continue
        assert answer.body is not None
        refusal = judge(answer.body, refusals + 1)
        if refusal is None:
            return Outcome(
                body=answer.body,
                maybe_processed=answer.maybe_processed,
                attempts=progress.attempts,
            )
        refusals += 1
        if isinstance(refusal.error, RateLimitedError):
            pipeline.stats.rate_limited += 1
        wait = policy.backoff_for(refusals, refusal.retry_after)
        if not _may_retry(refusal, policy, progress, is_send=is_send, wait=wait, now=clock()):
            return Outcome(
                error=refusal.error,
                refusal=refusal,
                maybe_processed=progress.maybe_since is not None,
                attempts=progress.attempts,
            )
        pipeline.stats.retries += 1
        logger.info(
            "retrying %s in %.2fs (attempt %d refused: %s)",
            endpoint,
            wait,
            progress.attempts,
            refusal.error,
        )
        await asyncio.sleep(wait)


def _safe_retry_wait(error: SmsClubError, policy: RetryPolicy, progress: Progress) -> float | None:
    """The wait before repeating a send that certainly was not processed, or None."""
    if progress.maybe_since is not None or progress.attempts >= policy.attempts:
        return None
    if isinstance(error, RateLimitedError):
        if error.retry_after is not None and error.retry_after > policy.max_retry_after:
            return None
        return policy.backoff_for(progress.attempts, error.retry_after)
    if isinstance(error, TransportError):
        return policy.backoff_for(progress.attempts)
    return None


def _may_retry(
    refusal: Refusal,
    policy: RetryPolicy,
    progress: Progress,
    *,
    is_send: bool,
    wait: float,
    now: float,
) -> bool:
    if not refusal.retry or progress.attempts >= policy.attempts:
        return False
    if refusal.retry_after is not None and refusal.retry_after > policy.max_retry_after:
        return False
    if is_send and progress.maybe_since is not None:
        return now + wait - progress.maybe_since < policy.send_budget
    return True
