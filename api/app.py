"""The HTTP API (FastAPI). For now: health and readiness, and an incident's state.

Room: api. Parses HTTP, talks to the engine through warroom.engine, never runs durable
work itself (that is Temporal's job). The Temporal client and the records engine are built
in the lifespan from Settings, not at import time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client

from warroom import db
from warroom import engine as eng
from warroom.settings import Settings
from warroom.simulate import to_jsonable


def get_client(request: Request) -> Client:
    return request.app.state.client


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


# Module level, so FastAPI can resolve them from the string annotations.
ClientDep = Annotated[Client, Depends(get_client)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def create_app(settings: Settings | None = None, *, client: Client | None = None,
               engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or db.make_engine(settings.db_url())
        if own_engine:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            db.create_schema(app.state.engine)
        app.state.client = client or await Client.connect(settings.temporal_address, namespace=settings.namespace)
        yield
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(title="warroom", version="0.1.0", lifespan=lifespan,
                  description="Incident response as durable workflows.")

    @app.get("/healthz", summary="The API process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Temporal and the database are reachable",
             responses={503: {"description": "a dependency is unreachable"}})
    async def readyz(client: ClientDep, engine: EngineDep) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await client.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as err:  # readiness reports, it never raises
            checks["temporal"] = f"unreachable: {type(err).__name__}"
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as err:
            checks["database"] = f"unreachable: {type(err).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                            status_code=200 if ok else 503)

    @app.get("/api/v1/incidents/{incident_id}", summary="An incident's state and timeline",
             responses={404: {"description": "unknown incident"}})
    async def get_incident(incident_id: str, client: ClientDep) -> dict[str, Any]:
        try:
            state = await eng.state(client, incident_id)
        except eng.UnknownIncident:
            raise HTTPException(status_code=404, detail=f"unknown incident {incident_id!r}") from None
        return to_jsonable(dataclasses.replace(state))

    return app
