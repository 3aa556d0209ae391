"""Room: api (HTTP edge) — change events in (PagerDuty's Change Events API, `POST /v2/change/enqueue`)
and out (`GET /api/v1/changes`); an incident shows its service's (warroom/records/changes.py).

Answered as PagerDuty answers, so its clients and CI plugins work unchanged: 202
`{"status": "success", "message": "Change event processed"}`, 400 with `errors` for an invalid
event, the integration key in the body as `routing_key` (or a bearer key), an integration key
bound to the pagerduty format (as for /v2/enqueue). A change opens no incident and pages nobody.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.body import BadJson, JsonRoute, read_json
from api.deps import RateLimitDep, Reader, RecordsDep
from api.routes.alerts import pagerduty_sender, pd_responses
from api.schemas import UNAUTHORIZED
from api.sources import PayloadError
from api.sources.pagerduty import PagerDutyInvalid, parse_change
from warroom.records import changes as change_records

router = APIRouter(route_class=JsonRoute)


class ChangeAccepted(BaseModel):
    """What PagerDuty answers for an accepted change event (HTTP 202)."""

    status: str = "success"
    message: str = "Change event processed"


@router.post("/v2/change/enqueue", status_code=202, response_model=ChangeAccepted, responses=pd_responses,
             summary="PagerDuty Change Events API (drop-in for events.pagerduty.com/v2/change/enqueue)")
async def change_enqueue(request: Request, db: RecordsDep, rate: RateLimitDep) -> JSONResponse:
    try:
        body = read_json(await request.body())
    except BadJson as err:
        return JSONResponse(PagerDutyInvalid(errors=[str(err)]).model_dump(), status_code=err.status)
    principal = await pagerduty_sender(request, body, db)
    if isinstance(principal, HTTPException):
        return JSONResponse(PagerDutyInvalid(status="unauthorized" if principal.status_code == 401 else "forbidden",
                                             message=principal.detail, errors=[principal.detail]).model_dump(),
                            status_code=principal.status_code, headers=principal.headers)
    try:
        change = parse_change(body)
    except PayloadError as err:
        return JSONResponse(PagerDutyInvalid(errors=getattr(err, "errors", None) or [str(err)]).model_dump(),
                            status_code=400)
    try:
        rate.check(principal)
    except HTTPException as err:
        return JSONResponse(PagerDutyInvalid(status="throttled", message="Rate limit exceeded",
                                             errors=[err.detail]).model_dump(), status_code=429, headers=err.headers)
    await run_in_threadpool(lambda: change_records.record_change(
        db, service=change.service, summary=change.summary, source=change.source, at=change.at,
        details=change.details, links=change.links, integration=principal.name))
    return JSONResponse(ChangeAccepted().model_dump(), status_code=202)


@router.get("/api/v1/changes", responses=UNAUTHORIZED, summary="Change events, newest first")
def list_changes(db: RecordsDep, _: Reader,
                 service: Annotated[str | None, Query(description="only this service's")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    return {"changes": [c.public() for c in change_records.changes(db, service=service, limit=limit)]}
