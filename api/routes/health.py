"""Room: api (HTTP edge) — liveness and readiness: is the process up, are Temporal and the
records database reachable. No key needed (load balancers and orchestrators call them).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.body import JsonRoute
from api.deps import RecordsDep, TemporalDep

router = APIRouter(route_class=JsonRoute)


@router.get("/healthz", summary="The API process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Temporal and the database are reachable",
            responses={503: {"description": "a dependency is unreachable"}})
async def readyz(client: TemporalDep, db: RecordsDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:  # readiness reports, it never raises
        checks["temporal"] = f"unreachable: {type(err).__name__}"
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"unreachable: {type(err).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
