"""aiohttp: one SmsClub per application, in a cleanup context.

``app.cleanup_ctx`` runs the code before ``yield`` at startup (on the server's event
loop) and the code after it at cleanup, so the client opens with the application
and is closed when it stops. Handlers take it from ``request.app[SMS]``.

Run it against the in-process sandbox (no token, no network)::

    SMSCLUB_SANDBOX=1 python examples/aiohttp_app.py

or against the real gateway::

    SMSCLUB_TOKEN=... SMSCLUB_SENDER=YourName python examples/aiohttp_app.py

Then::

    curl -X POST 127.0.0.1:8080/notifications -H 'content-type: application/json' \\
         -d '{"phones": ["380989361131"], "message": "Your order is ready"}'
    curl '127.0.0.1:8080/messages/status?id=100'
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
from aiohttp import web

from smsclub_async import SendResult, SmsClub, SmsClubError
from smsclub_async.sandbox import Sandbox, SandboxTransport

SANDBOX_ENV = "SMSCLUB_SANDBOX"
SENDER_ENV = "SMSCLUB_SENDER"
DEFAULT_SENDER = "VashZakaz"  # approved in the sandbox; use your own name for real

SMS = web.AppKey("sms", SmsClub)
"""Where the application keeps its client (a typed key: no string-key warning)."""
SENDER = web.AppKey("sender", str)

routes = web.RouteTableDef()


def create_app(
    *,
    token: str | None = None,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sender: str | None = None,
) -> web.Application:
    """Build the application; its SmsClub lives from startup to cleanup.

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

    async def sms_client(app: web.Application) -> AsyncIterator[None]:
        async with SmsClub(token=token, base_url=base_url, transport=transport) as sms:
            app[SMS] = sms
            yield

    app = web.Application()
    app[SENDER] = sender or os.environ.get(SENDER_ENV) or DEFAULT_SENDER
    app.cleanup_ctx.append(sms_client)
    app.add_routes(routes)
    return app


def outcome(result: SendResult) -> dict[str, dict[str, str]]:
    """Every recipient is in exactly one of the three maps."""
    return {"sent": result.sent, "failed": result.failed, "unknown": result.unknown}


@routes.post("/notifications")
async def notify(request: web.Request) -> web.Response:
    """Send one text to the given numbers and say what happened to each."""
    body = await request.json()
    phones, message = body.get("phones"), body.get("message")
    if not isinstance(phones, list) or not isinstance(message, str):
        raise web.HTTPUnprocessableEntity(text="give phones (a list) and message (a string)")
    sms = request.app[SMS]
    sender = body.get("sender") or request.app[SENDER]
    try:
        result = await sms.send(phones, message, sender=sender)
    except ValueError as exc:  # refused before any request: no valid number, bad text
        raise web.HTTPUnprocessableEntity(text=str(exc)) from exc
    except SmsClubError as exc:
        if exc.partial is not None and exc.partial.sent:
            # Some messages went out before the error: say which, so nobody resends them.
            return web.json_response(outcome(exc.partial))
        return web.json_response({"detail": str(exc)}, status=502)
    return web.json_response(outcome(result))


@routes.get("/messages/status")
async def message_status(request: web.Request) -> web.Response:
    """The delivery status of one or more messages (``?id=100&id=101``)."""
    ids = request.query.getall("id", [])
    if not ids:
        raise web.HTTPUnprocessableEntity(text="give at least one ?id=")
    try:
        report = await request.app[SMS].status(ids)
    except ValueError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc)) from exc
    except SmsClubError as exc:
        return web.json_response({"detail": str(exc)}, status=502)
    return web.json_response(
        {
            "statuses": {message_id: status.value for message_id, status in report.items()},
            "final": report.all_final,
            "missing": report.missing,
        }
    )


HOST = "127.0.0.1"
"""Loopback only: the endpoints send SMS on your account and have no authentication."""
PORT = 8080

if __name__ == "__main__":
    web.run_app(create_app(), host=HOST, port=PORT)
