"""Shared fixtures: fresh tokens, no-wait retry policies, a respx router for the gateway.

Hypothesis reports a failing example by importing ``hypothesis.extra._patching``,
which imports libcst, which triggers a DeprecationWarning in mypy_extensions; with
warnings as errors that turns any hypothesis failure into a pytest INTERNALERROR that
hides the failure. Importing it once here, with that warning silenced, keeps failures
readable.
"""

from __future__ import annotations

import contextlib
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

import asyncio
import functools
import json
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import looptime
import pytest
import respx

from smsclub_async import RetryPolicy

T = TypeVar("T")

BASE_URL = "https://im.smsclub.mobi"

NO_WAIT = RetryPolicy(wait=False)
NO_WAIT_SEND = RetryPolicy(attempts=5, wait=False)


@pytest.fixture
def token() -> str:
    """A token no other test uses, so the process-wide limiter starts empty."""
    return f"test-token-{uuid.uuid4().hex}"


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    """A respx router standing in for im.smsclub.mobi; unmatched requests fail the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


def run_on_fake_clock(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on an event loop whose clock jumps ahead when all tasks sleep.

    Backoffs, Retry-After and rate-limit waits then take no real time. (looptime's
    pytest plugin is disabled in pyproject.toml: it leaves an event loop unclosed.)
    """
    loop = looptime.new_event_loop(start=0)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def fake_clock(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Decorator: run an async test on :func:`run_on_fake_clock`."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run_on_fake_clock(test(*args, **kwargs))

    return wrapper


class EchoGateway:
    """A mock send endpoint that issues each number as its own id after ``delay``
    seconds, and records the most requests it had in flight at once."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        phones = json.loads(request.content)["phone"]
        return httpx.Response(200, json={"success_request": {"info": {p: p for p in phones}}})
