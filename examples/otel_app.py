"""OpenTelemetry: a FastAPI app whose SMS calls show up as spans and metrics.

``smsclub_async.telemetry.instrument()`` turns the library's signals on; the
application owns the SDK: here a tracer provider and a meter provider that print to
the console. In production, swap the console exporters for OTLP ones (or pass no
providers at all: ``instrument()`` then uses the global ones your OpenTelemetry
setup installed).

Run it against the in-process sandbox (needs ``pip install 'smsclub-async[otel,fastapi]'
opentelemetry-sdk``)::

    SMSCLUB_SANDBOX=1 uvicorn --app-dir examples otel_app:app

Then::

    curl -X POST localhost:8000/notifications -H 'content-type: application/json' \\
         -d '{"phones": ["380989361131"], "message": "Your order is ready"}'

and read the spans on the server's console: ``smsclub send`` with its ``POST
/sms/send`` attempt (counts, timings and outcomes; never a number or a text). The
metrics (``smsclub.requests``, ``smsclub.recipients``, ...) print at shutdown.
"""

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

import httpx
from fastapi import FastAPI, Request
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from pydantic import BaseModel, Field

from smsclub_async import SmsClub, telemetry
from smsclub_async.sandbox import Sandbox, SandboxTransport


def console_providers(out: IO[str]) -> tuple[TracerProvider, MeterProvider]:
    """A tracer and a meter provider that print what they export to ``out``."""
    resource = Resource.create({"service.name": "notifications"})
    tracer_provider = TracerProvider(resource=resource)
    # SimpleSpanProcessor prints each span as it ends; use BatchSpanProcessor for real.
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=out), export_interval_millis=60_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return tracer_provider, meter_provider


def create_app(
    *,
    token: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    out: IO[str] | None = None,
) -> FastAPI:
    """The application: telemetry on for its lifetime, one SmsClub in the lifespan."""
    if transport is None and os.environ.get("SMSCLUB_SANDBOX") == "1":
        transport = SandboxTransport(Sandbox())
        token = token or "sandbox"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracer_provider, meter_provider = console_providers(out or sys.stdout)
        telemetry.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            async with SmsClub(token=token, transport=transport, sender="VashZakaz") as sms:
                app.state.sms = sms
                yield
        finally:
            telemetry.uninstrument()
            tracer_provider.shutdown()
            meter_provider.shutdown()  # exports the metrics one last time

    app = FastAPI(title="Notifications with OpenTelemetry", lifespan=lifespan)

    @app.post("/notifications")
    async def notify(body: Notification, request: Request) -> dict[str, int]:
        sms: SmsClub = request.app.state.sms
        result = await sms.send(body.phones, body.message)
        return {"sent": len(result.sent), "failed": len(result.failed)}

    return app


class Notification(BaseModel):
    phones: list[str] = Field(min_length=1, max_length=1000)
    message: str = Field(min_length=1, max_length=1000)


app = create_app()
"""For ``uvicorn otel_app:app``."""
