"""Room: api (HTTP edge) — the app's assembly: state, lifespan, middleware, error answers, routers.

The lifespan is the API's composition root: from the Settings it is given it builds the records
engine (SQLAlchemy) and the Temporal client, unless create_app was handed them (tests). Routes
reach both only through api/deps.py; nothing durable runs in this process (that is Temporal's job).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.client import Client
from temporalio.service import RPCError

from api.body import MAX_BYTES
from api.console import STATIC_DIR
from api.deps import ADMIN, READ, KeyCache, allow
from api.intake import Intake
from api.limits import BodySizeLimit
from api.ratelimit import AlertRateLimit
from api.routes import (
    ack,
    alerts,
    audit,
    calendars,
    changes,
    console,
    console_heartbeats,
    console_incident,
    console_maintenance,
    console_reports,
    handovers,
    health,
    heartbeats,
    incidents,
    integrations,
    keys,
    maintenance,
    metrics,
    oncall,
    reports,
    runbooks,
    slack,
)
from warroom import records, tracing
from warroom.windows import Holds
from warroom.logs import RequestContext
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from workflows.converter import DATA_CONVERTER

MAX_BODY = MAX_BYTES


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    own_records = app.state.engine is None
    if own_records:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app.state.engine = records.make_engine(settings.db_url())
        records.create_schema(app.state.engine)
    if app.state.temporal is None:
        app.state.temporal = await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                                  data_converter=DATA_CONVERTER,
                                                  interceptors=tracing.interceptors(settings.otel_tracing,
                                                                                    "warroom-api"))
    yield
    if own_records:
        app.state.engine.dispose()


async def temporal_unavailable(request: Request, err: RPCError) -> JSONResponse:
    """Temporal failed to answer (deadline, unavailable, overloaded): the caller may retry later.
    NOT_FOUND never gets here, warroom.client turns it into an unknown incident."""
    return JSONResponse({"detail": f"Temporal did not answer ({err.status.name if err.status else 'error'}: "
                                   f"{err.message}); try again shortly"},
                        status_code=503, headers={"Retry-After": "1"})


async def records_unavailable(request: Request, err: Exception) -> JSONResponse:
    """The records database did not answer (refused, dropped, locked, the pool timed out): the
    caller may retry; never a 500 for an outage of the records."""
    return JSONResponse({"detail": f"the records database did not answer ({type(err).__name__}); "
                                   "try again shortly"}, status_code=503, headers={"Retry-After": "1"})


def _plain(value: Any) -> Any:
    """A value of a validation error as JSON can carry it: what JSON cannot (NaN, infinities,
    bytes that are not UTF-8, objects) as its text, so the 422 itself never fails."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 (each problem's loc, msg, type and the input it refused), written so that
    any input can be echoed: FastAPI's own handler fails (500) on a float JSON cannot carry."""
    problems = [{k: _plain(v) for k, v in e.items() if k in ("type", "loc", "msg", "input", "ctx")}
                for e in err.errors()]
    return JSONResponse({"detail": problems}, status_code=422)


def create_app(settings: Settings | None = None, *, client: Client | None = None,
               engine: Engine | None = None) -> FastAPI:
    """The API. `client` (Temporal) and `engine` (the records) are built by the lifespan unless given."""
    settings = settings or Settings()
    # /docs and /redoc from files shipped in the fastapi-offline package (no CDN: they render on
    # a machine without internet), its assets under /static-offline-docs.
    # Traces: FastAPI's own OpenTelemetry spans (a server span per request, named by its route),
    # only with WARROOM_OTEL_TRACING; metrics are Prometheus' (/metrics), logs warroom.logs'.
    if settings.otel_tracing:
        tracing.setup("warroom-api")
    app = FastAPIOffline(title="warroom", version="0.1.0", lifespan=lifespan,
                         description="Incident response as durable workflows.",
                         telemetry={"tracing": settings.otel_tracing, "operation_spans": False,
                                    "metrics": False, "logs": False})
    # Built here rather than in the lifespan: tests drive the app through httpx's ASGI
    # transport, which never runs a lifespan. None of it does I/O except the runbooks, whose
    # files the worker loads too: an invalid one stops the API at start, naming it.
    app.state.settings, app.state.temporal, app.state.engine = settings, client, engine
    app.state.intake = Intake(settings)
    app.state.keys = KeyCache()  # API keys verified lately (api/deps.py)
    app.state.rate_limit = AlertRateLimit.from_settings(settings)  # per key, in this process
    app.state.runbooks = RunbookLibrary(settings.runbooks_dir)
    app.state.oncall_dir = settings.oncall_dir  # the on-call files the worker pages from
    app.state.intake.holds = Holds(lambda: app.state.engine)  # maintenance windows (api/routes/maintenance.py)
    app.include_router(runbooks.router, dependencies=[Depends(allow(*READ))])
    # Prometheus scrapes with a viewer key (`authorization: {credentials: <key>}` in its config).
    app.include_router(metrics.router, dependencies=[Depends(allow(*READ))])
    app.include_router(reports.router, dependencies=[Depends(allow(*READ))])
    app.include_router(handovers.router)  # notes by responders, hand-overs read by viewers: own checks
    app.include_router(oncall.router, dependencies=[Depends(allow(*ADMIN))])
    app.include_router(calendars.router)  # feeds open with a feed token: their own checks
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY)
    # observability (docs/production.md#observability): log context, request metrics
    app.add_middleware(RequestContext)
    app.state.http_metrics = metrics.HttpMetrics()
    app.add_middleware(metrics.RequestMetrics, metrics=app.state.http_metrics)
    app.add_exception_handler(RPCError, temporal_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    for outage in (OperationalError, PoolTimeout):
        app.add_exception_handler(outage, records_unavailable)
    # In this order: it decides which of two matching paths answers (generic before {source}).
    for area in (health, alerts, changes, incidents, keys, integrations, audit, ack, slack, maintenance, heartbeats):
        app.include_router(area.router)
    # The web console (pages, not API operations: out of the OpenAPI document).
    for pages in (console, console_incident, console_reports, console_maintenance, console_heartbeats):
        app.include_router(pages.router)
    return app
