"""Room: api (HTTP edge) — maintenance windows (docs/maintenance.md): make one, list them, see
one, end one early. Alerts a window matches while it is active start incidents that are
recorded and page nobody (api/intake.py asks warroom.windows.Holds); the window's own workflow
ends it on time.

Responders and admins make and end windows (they act), viewers read them; the window names
who made it (api.deps.actor_of, as every action).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.body import JsonRoute
from api.deps import Reader, RecordsDep, Responder, TemporalDep, actor_of
from api.schemas import TEMPORAL, UNAUTHORIZED, By, Problem
from warroom import windows as mw
from warroom.maintenance import Window, WindowError, plan
from warroom.records import maintenance as stored

router = APIRouter(route_class=JsonRoute)

NOT_FOUND = {404: {"model": Problem, "description": "no window of that id"}}
INVALID = {422: {"model": Problem, "description": "what is wrong with the window, by field"}}


class WindowBody(BaseModel):
    """A maintenance window: what it matches (at least one of service, matchers, integration),
    from when (default now) to when (ends_at, or a duration such as 2h or 1h30m), and why."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field("", max_length=255)
    matchers: list[str] = Field(default_factory=list, max_length=20,
                                description="Alertmanager-style label matchers: name=value, name!=value, "
                                            "name=~regex, name!~regex")
    integration: str = Field("", max_length=200, description="the integration (key name) that sends the alerts")
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime | None = None
    duration: str | None = Field(None, max_length=20, description="instead of ends_at: 30m, 2h, 1h30m, 1d")
    reason: str = Field(min_length=1, max_length=2000)
    by: str | None = By


class EndBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = By
    note: str = Field("", max_length=2000)


def now() -> datetime:
    return datetime.now(UTC)


async def create(request: Request, client: Any, db: Any, principal: Any, body: WindowBody) -> Window:
    """Make a window: checked (422 naming the field), recorded, its workflow started. Shared by
    the JSON API and the console's form."""
    try:
        fields = plan(now=now(), starts_at=body.starts_at, ends_at=body.ends_at, duration=body.duration,
                      reason=body.reason, service=body.service, matchers=body.matchers,
                      integration=body.integration)
    except WindowError as err:
        raise HTTPException(422, str(err)) from None
    w = await mw.open_window(client, db, task_queue=request.app.state.settings.task_queue,
                             created_by=actor_of(principal, acting_for=body.by), **fields)
    request.app.state.intake.holds.forget()  # this process holds alerts by it at once
    return w


async def end(request: Request, client: Any, db: Any, principal: Any, window_id: str, body: EndBody) -> Window:
    w = await found(db, window_id)
    if w.status(now()) == "ended":
        raise HTTPException(409, f"window {window_id} has ended already")
    w = await mw.end_window(client, db, w, by=actor_of(principal, acting_for=body.by), note=body.note)
    request.app.state.intake.holds.forget()
    return w


async def found(db: Any, window_id: str) -> Window:
    w = await run_in_threadpool(stored.window, db, window_id)
    if w is None:
        raise HTTPException(404, f"no maintenance window {window_id!r} (warroom maintenance list)")
    return w


@router.post("/api/v1/maintenance", status_code=201, summary="Make a maintenance window",
             responses={**UNAUTHORIZED, **TEMPORAL, **INVALID})
async def create_window(request: Request, body: WindowBody, client: TemporalDep, db: RecordsDep,
                        principal: Responder) -> dict[str, Any]:
    return (await create(request, client, db, principal, body)).public(now())


@router.get("/api/v1/maintenance", summary="Maintenance windows, latest start first",
            responses=UNAUTHORIZED)
def list_windows(db: RecordsDep, _: Reader,
                 ended: Annotated[bool, Query(description="include the windows that have ended")] = False,
                 ) -> dict[str, Any]:
    t = now()
    return {"windows": [w.public(t) for w in stored.windows(db, include_ended=ended)]}


@router.get("/api/v1/maintenance/{window_id}", summary="One maintenance window",
            responses={**UNAUTHORIZED, **NOT_FOUND})
async def get_window(window_id: str, db: RecordsDep, _: Reader) -> dict[str, Any]:
    return (await found(db, window_id)).public(now())


@router.delete("/api/v1/maintenance/{window_id}", summary="End a maintenance window now",
               responses={**UNAUTHORIZED, **TEMPORAL, **NOT_FOUND,
                          409: {"model": Problem, "description": "the window has ended already"}})
async def end_window(request: Request, window_id: str, client: TemporalDep, db: RecordsDep, principal: Responder,
                     body: EndBody | None = None) -> dict[str, Any]:
    return (await end(request, client, db, principal, window_id, body or EndBody())).public(now())
