"""Room: api (HTTP edge) — heartbeat monitors: made and deleted by admins, read by anyone who
reads incidents, pinged by integrations (`POST /api/v1/heartbeats/{name}`, the ingest door for
cron jobs and pipelines; Alertmanager's Watchdog pings through api/heartbeats.py).

The bodies live here rather than in api/schemas.py: they are this area's alone.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.body import JsonRoute
from api import heartbeats as door
from api.deps import ALERTS, Admin, BearerDep, RateLimitDep, Reader, RecordsDep, TemporalDep, actor_of, \
    check_role, identify_key
from api.ratelimit import RATE_LIMITED
from api.schemas import TEMPORAL, UNAUTHORIZED, Problem, Responses
from warroom import heartbeats as beats
from warroom.records import heartbeats as monitors

router = APIRouter(route_class=JsonRoute, tags=["heartbeats"])
log = logging.getLogger("warroom.heartbeats")

NOT_FOUND: Responses = {404: {"model": Problem, "description": "no heartbeat of that name"}}


class HeartbeatCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="letters, digits, . _ -; the ping URL is /api/v1/heartbeats/{name}")
    interval: str | int = Field(description="a ping is expected this often: '5m', '1h', '90s' or seconds")
    priority: str = Field("P2", description="priority of the incident a missed ping opens (P0-P4)")
    service: str = Field("", description="service of that incident (its service levels and on-call policy)")
    title: str = Field("", description="title of that incident (default: 'Heartbeat <name> missed')")
    integration: str | None = Field(None, description="the integration whose Alertmanager Watchdog pings it; "
                                                      "then only that integration (or an admin) may ping it")


class HeartbeatView(BaseModel):
    id: str
    name: str
    interval_seconds: int
    interval: str
    priority: str
    service: str
    title: str
    integration: str | None
    state: str = Field(description="new (never pinged), up, down (a ping was missed: incident_id is open)")
    last_ping_at: str | None
    last_source: str
    incident_id: str | None
    down_since: str | None
    created_at: str | None
    deleted_at: str | None = None
    due_at: str | None = Field(None, description="when the next ping is due (live, from the monitor's workflow)")
    pings: int | None = Field(None, description="pings received by the running workflow")
    misses: int | None = Field(None, description="pings missed (outages) since the workflow started")


class HeartbeatList(BaseModel):
    heartbeats: list[HeartbeatView]


class PingAccepted(BaseModel):
    heartbeat: str
    accepted: bool = True
    state: str = Field("up", description="what the ping makes it: up")
    was: str = Field(description="its state before: new, up, or down (the ping resolves its incident)")


def _view(m: monitors.Monitor, live: beats.HeartbeatState | None = None) -> HeartbeatView:
    out: dict[str, Any] = m.public()
    if live is not None:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None
        out.update(state=live.state, due_at=iso(live.due_at), pings=live.pings, misses=live.misses,
                   last_ping_at=iso(live.last_ping_at) or out["last_ping_at"],
                   incident_id=live.incident_id or out["incident_id"], down_since=iso(live.down_since))
    return HeartbeatView(**out)


@router.get("/api/v1/heartbeats", response_model=HeartbeatList, responses=UNAUTHORIZED,
            summary="Heartbeat monitors with their state and last ping (from the records)")
def list_heartbeats(db: RecordsDep, _: Reader) -> HeartbeatList:
    return HeartbeatList(heartbeats=[_view(m) for m in monitors.list_monitors(db)])


@router.post("/api/v1/heartbeats", status_code=201, response_model=HeartbeatView,
             responses={**UNAUTHORIZED, 409: {"model": Problem, "description": "the name is taken"},
                        422: {"model": Problem, "description": "invalid monitor, naming the field"}},
             summary="Create a heartbeat monitor (admin); it starts watching at its first ping")
async def create_heartbeat(body: HeartbeatCreate, request: Request, db: RecordsDep, _: Admin) -> HeartbeatView:
    try:
        m = await run_in_threadpool(lambda: monitors.create_monitor(
            db, name=body.name, interval=body.interval, priority=body.priority, service=body.service,
            title=body.title, integration=body.integration))
    except monitors.HeartbeatProblem as err:
        raise HTTPException(409 if "already" in str(err) else 422, str(err)) from None
    door.of(request).forget()
    return _view(m)


@router.get("/api/v1/heartbeats/{name}", response_model=HeartbeatView,
            responses={**UNAUTHORIZED, **NOT_FOUND, **TEMPORAL},
            summary="One heartbeat monitor, with its live state (next ping due) when its workflow runs")
async def show_heartbeat(name: str, db: RecordsDep, client: TemporalDep, _: Reader) -> HeartbeatView:
    m = await run_in_threadpool(monitors.find, db, name)
    if m is None:
        raise HTTPException(404, f"no heartbeat named {name!r} (GET /api/v1/heartbeats lists them)")
    return _view(m, await beats.live_state(client, name))


@router.delete("/api/v1/heartbeats/{name}", response_model=HeartbeatView,
               responses={**UNAUTHORIZED, **NOT_FOUND, **TEMPORAL},
               summary="Delete a heartbeat monitor (admin): its workflow ends, no miss fires after this")
async def delete_heartbeat(name: str, request: Request, db: RecordsDep, client: TemporalDep,
                           principal: Admin) -> HeartbeatView:
    try:
        m = await run_in_threadpool(monitors.delete_monitor, db, name)
    except monitors.HeartbeatProblem as err:
        raise HTTPException(404, str(err)) from None
    door.of(request).forget()
    try:
        await beats.retire(client, name, reason=f"heartbeat deleted by {actor_of(principal)}")
    except RPCError as err:  # deleted all the same: a miss checks the record first and opens nothing
        log.warning("heartbeat %s deleted; its workflow not ended now (%s)", name, err)
    return _view(m)


@router.post("/api/v1/heartbeats/{name}", status_code=202, response_model=PingAccepted,
             responses={**UNAUTHORIZED, **NOT_FOUND, **RATE_LIMITED, **TEMPORAL},
             summary="Ping a heartbeat (integration): answered once the ping is durable; any body is ignored")
async def ping_heartbeat(name: str, request: Request, db: RecordsDep, client: TemporalDep, rate: RateLimitDep,
                         credentials: BearerDep) -> PingAccepted:
    principal = await identify_key(request, db, credentials)
    check_role(principal, ALERTS)
    m = await door.of(request).find(db, name, fresh=True)
    if m is None:
        raise HTTPException(404, f"no heartbeat named {name!r} (an admin makes it: warroom heartbeats create)")
    await door.may_ping(request, principal, m)
    rate.check(principal)
    await door.deliver_ping(request, client, db, m, actor_of(principal))
    return PingAccepted(heartbeat=m.name, was=m.state)
