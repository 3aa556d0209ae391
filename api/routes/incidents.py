"""Room: api (HTTP edge) — incidents: declared by hand, listed from the records, shown live
from Temporal, and acted on by engineers (each action an update of the incident's workflow,
through warroom.client). Who acted is decided by api.deps.actor_of from the key, never taken
from the body as it is: a body's `by` only says whom an admin acts for.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from temporalio.client import Client

from api.body import JsonRoute
from api.deps import (
    Declarer,
    IncidentId,
    IntakeDep,
    RateLimitDep,
    Reader,
    RecordsDep,
    Responder,
    TemporalDep,
    actor_of,
    records_or,
)
from api.ratelimit import RATE_LIMITED
from api.schemas import (
    REFUSED,
    TEMPORAL,
    UNAUTHORIZED,
    UNKNOWN,
    Accepted,
    AckBody,
    CommanderBody,
    EscalateBody,
    GenericAlert,
    IncidentList,
    IncidentSummary,
    Phase,
    Priority,
    PriorityBody,
    ReopenBody,
    ResolveBody,
    ReviewBody,
    Status,
    StepBody,
    UpdateBody,
)
from warroom import client as temporal
from warroom import records
from warroom.records import changes as change_records
from warroom.records.keys import ApiKey

router = APIRouter(route_class=JsonRoute)


@router.post("/api/v1/incidents", status_code=201, response_model=Accepted,
             responses={**UNAUTHORIZED, **RATE_LIMITED, **TEMPORAL},
             summary="Declare an incident by hand")
async def declare(alert: GenericAlert, client: TemporalDep, intake: IntakeDep, rate: RateLimitDep,
                  principal: Declarer) -> Accepted:
    # api.deps.declarer checked an integration key as every alert path does (format binding,
    # signature); its alerts count against its rate here as there.
    if alert.status != "trigger":
        raise HTTPException(422, "declaring an incident takes status 'trigger'")
    if principal.role == "integration":
        rate.check(principal)
    return await intake.alert(client, alert, "manual", declared_by=actor_of(principal))


# ---------------------------------------------------------------------- managers see

@router.get("/api/v1/incidents", response_model=IncidentList, responses=UNAUTHORIZED,
            summary="Incidents as recorded, newest first, filtered and paginated")
def list_incidents(db: RecordsDep, _: Reader,
                   status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
                   priority: Annotated[list[Priority] | None, Query()] = None,
                   service: Annotated[list[str] | None, Query()] = None,
                   phase: Annotated[list[Phase] | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> IncidentList:
    rows, total = records.list_incidents(db, status=status, priority=priority, service=service, phase=phase,
                                         limit=limit, offset=offset)
    return IncidentList(total=total, limit=limit, offset=offset,
                        incidents=[IncidentSummary.model_validate(r) for r in rows])


@router.get("/api/v1/incidents/{incident_id}", summary="An incident's state and timeline, and its service's "
            "recent changes", responses=UNKNOWN)
async def get_incident(incident_id: IncidentId, client: TemporalDep, db: RecordsDep, _: Reader) -> dict[str, Any]:
    try:
        found = temporal.to_jsonable(await temporal.state(client, incident_id))
    except temporal.UnknownIncident:
        # Not live in Temporal: an earlier incident of a key that fired again, or one whose history
        # retention dropped. Its record is the answer.
        found = await run_in_threadpool(records.recorded_incident, db, incident_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"unknown incident {incident_id!r}")
    # the deploys and config pushes that may explain it (POST /v2/change/enqueue); the state
    # stands without them while the records do not answer (docs/records.md)
    changes = await records_or(None, change_records.changes_for_incident, db, found)
    found["changes"] = changes or []
    if changes is None:
        found["changes_unavailable"] = "the records database did not answer: recent changes are not shown"
    return found


# ---------------------------------------------------------------------- engineers act

def command(body: BaseModel, principal: ApiKey, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """The update's payload: the body, with `by` the actor actor_of names for this key."""
    out = dict(body.model_dump() if payload is None else payload)
    out["by"] = actor_of(principal, acting_for=getattr(body, "by", None))
    return out


async def act(client: Client, incident_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        state = await temporal.act(client, incident_id, action, payload)
    except temporal.UnknownIncident:
        raise HTTPException(404, f"unknown incident {incident_id!r}") from None
    except temporal.ActionRefused as err:
        raise HTTPException(409, str(err)) from None
    return temporal.to_jsonable(state)


@router.post("/api/v1/incidents/{incident_id}/acknowledge", responses=REFUSED, summary="Acknowledge")
async def acknowledge(incident_id: IncidentId, body: AckBody, client: TemporalDep,
                      principal: Responder) -> dict[str, Any]:
    payload = command(body, principal)
    if body.by and payload["by"] != body.by.strip():  # an admin acting for someone: they take command
        payload["for_person"] = body.by.strip()
    return await act(client, incident_id, "acknowledge", payload)


@router.post("/api/v1/incidents/{incident_id}/commander", responses=REFUSED, summary="Assign the commander")
async def commander(incident_id: IncidentId, body: CommanderBody, client: TemporalDep,
                    principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "assign_commander", command(body, principal))


@router.post("/api/v1/incidents/{incident_id}/updates", responses=REFUSED, summary="Post a status update")
async def post_update(incident_id: IncidentId, body: UpdateBody, client: TemporalDep,
                      principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "post_update", command(body, principal))


@router.post("/api/v1/incidents/{incident_id}/escalate", responses=REFUSED, summary="Escalate now")
async def escalate(incident_id: IncidentId, body: EscalateBody, client: TemporalDep,
                   principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "escalate", command(body, principal))


@router.post("/api/v1/incidents/{incident_id}/priority", responses=REFUSED, summary="Change the priority")
async def priority(incident_id: IncidentId, body: PriorityBody, client: TemporalDep,
                   principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "change_priority", command(body, principal))


@router.post("/api/v1/incidents/{incident_id}/steps/{step}/complete", responses=REFUSED,
             summary="Complete a waiting runbook step")
async def complete_step(incident_id: IncidentId, step: str, body: StepBody, client: TemporalDep,
                        principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "complete_step",
                     command(body, principal, {**body.model_dump(), "step": step}))


@router.post("/api/v1/incidents/{incident_id}/resolve", responses=REFUSED, summary="Resolve (verify runs first)")
async def resolve(incident_id: IncidentId, body: ResolveBody, client: TemporalDep,
                  principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "resolve", command(body, principal))


@router.post("/api/v1/incidents/{incident_id}/review", responses=REFUSED, summary="Submit the review")
async def review(incident_id: IncidentId, body: ReviewBody, client: TemporalDep,
                 principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "submit_review", command(body, principal, body.command()))


@router.post("/api/v1/incidents/{incident_id}/reopen", responses=REFUSED, summary="Reopen a resolved incident")
async def reopen(incident_id: IncidentId, body: ReopenBody, client: TemporalDep,
                 principal: Responder) -> dict[str, Any]:
    return await act(client, incident_id, "reopen", command(body, principal))
