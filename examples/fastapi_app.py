"""FastAPI: one SmsClub per application, opened in the lifespan, closed on shutdown.

The client is created when the application starts (on the server's event loop, the
one it will be used on), handed to endpoints by a dependency, and closed when the
application shuts down. Endpoints never create clients: one client means one
connection pool and one rate limiter for the whole application.

Run it against the in-process sandbox (no token, no network)::

    SMSCLUB_SANDBOX=1 uvicorn --app-dir examples fastapi_app:app

against a sandbox on loopback (``smsclub sandbox --port 8765`` in another shell)::

    export SMSCLUB_BASE_URL=http://127.0.0.1:8765 SMSCLUB_TOKEN=any
    uvicorn --app-dir examples fastapi_app:app

or against the real gateway::

    SMSCLUB_TOKEN=... SMSCLUB_SENDER=YourName uvicorn --app-dir examples fastapi_app:app

Then::

    curl -X POST localhost:8000/notifications -H 'content-type: application/json' \\
         -d '{"phones": ["380989361131"], "message": "Your order is ready"}'
    curl 'localhost:8000/messages/status?id=100'

Tests build the application with :func:`create_app` and a sandbox transport.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from smsclub_async import RateLimitedError, SendResult, SmsClub, SmsClubError
from smsclub_async.sandbox import Sandbox, SandboxTransport

SANDBOX_ENV = "SMSCLUB_SANDBOX"
"""Set to 1 to answer from an in-process sandbox instead of the gateway."""
SENDER_ENV = "SMSCLUB_SENDER"
DEFAULT_SENDER = "VashZakaz"  # approved in the sandbox; use your own name for real


# ------------------------------------------------------------------ the client's lifetime


def create_app(
    *,
    token: str | None = None,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sender: str | None = None,
) -> FastAPI:
    """Build the application; its SmsClub lives exactly as long as the lifespan.

    Args:
        token: the API token; defaults to ``$SMSCLUB_TOKEN`` (any token in the sandbox).
        base_url: the gateway URL; defaults to ``$SMSCLUB_BASE_URL`` or the real one.
        transport: an httpx transport, e.g. ``SandboxTransport(Sandbox())`` in tests.
            Without one, ``SMSCLUB_SANDBOX=1`` selects an in-process sandbox.
        sender: the default sender name; defaults to ``$SMSCLUB_SENDER``.
    """
    if transport is None and os.environ.get(SANDBOX_ENV) == "1":
        transport = SandboxTransport(Sandbox())
        token = token or os.environ.get("SMSCLUB_TOKEN") or "sandbox"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # `async with` closes the client on shutdown, and also if startup fails later.
        async with SmsClub(token=token, base_url=base_url, transport=transport) as sms:
            app.state.sms = sms
            yield

    app = FastAPI(title="Notifications", lifespan=lifespan)
    app.state.default_sender = sender or os.environ.get(SENDER_ENV) or DEFAULT_SENDER
    app.include_router(router)
    app.add_exception_handler(SmsClubError, gateway_error)
    return app


def get_sms(request: Request) -> SmsClub:
    """The dependency: the application's one client (override it in tests if you like)."""
    sms: SmsClub = request.app.state.sms
    return sms


Sms = Annotated[SmsClub, Depends(get_sms)]


async def gateway_error(request: Request, exc: Exception) -> JSONResponse:
    """A request to the gateway failed for good (after the client's own retries)."""
    headers = {}
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        headers["Retry-After"] = str(round(exc.retry_after))
    # 502: the upstream failed. The message names the endpoint, never the token.
    return JSONResponse({"detail": str(exc)}, status_code=502, headers=headers)


# ------------------------------------------------------------------ the endpoints

router = APIRouter()


class Notification(BaseModel):
    phones: list[str] = Field(min_length=1, max_length=1000)
    message: str = Field(min_length=1, max_length=1000)
    sender: str | None = None


class SendOutcome(BaseModel):
    """Every recipient is in exactly one of the three maps."""

    sent: dict[str, str] = Field(description="message id -> phone")
    failed: dict[str, str] = Field(description="phone -> reason; safe to resend once fixed")
    unknown: dict[str, str] = Field(description="phone -> why; may have gone out, do not resend")

    @classmethod
    def of(cls, result: SendResult) -> "SendOutcome":
        return cls(sent=result.sent, failed=result.failed, unknown=result.unknown)


class Statuses(BaseModel):
    statuses: dict[str, str] = Field(description="message id -> DELIVRD, ENROUTE, ...")
    final: bool = Field(description="every status is final and no id is missing")
    missing: list[str] = Field(description="ids the gateway did not report")


@router.post("/notifications")
async def notify(body: Notification, sms: Sms, request: Request) -> SendOutcome:
    """Send one text to the given numbers and say what happened to each."""
    sender = body.sender or request.app.state.default_sender
    try:
        result = await sms.send(body.phones, body.message, sender=sender)
    except ValueError as exc:  # refused before any request: no valid number, bad text
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except SmsClubError as exc:
        if exc.partial is None or not exc.partial.sent:
            raise
        # Some messages went out before the error: say which, so nobody resends them.
        return SendOutcome.of(exc.partial)
    return SendOutcome.of(result)


@router.get("/messages/status")
async def message_status(sms: Sms, ids: Annotated[list[str], Query(alias="id")]) -> Statuses:
    """The delivery status of one or more messages (``?id=100&id=101``)."""
    try:
        report = await sms.status(ids)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    return Statuses(
        statuses={message_id: status.value for message_id, status in report.items()},
        final=report.all_final,
        missing=report.missing,
    )


app = create_app()
"""For ``uvicorn fastapi_app:app``; building it needs no token (the lifespan does)."""
