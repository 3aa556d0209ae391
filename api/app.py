"""The HTTP API (FastAPI): alerts in, engineers act, managers see.

Room: api. Parses HTTP, talks to the engine through warroom.engine, never runs durable
work itself (that is Temporal's job). The Temporal client and the records engine are built
in the lifespan from Settings, not at import time (tests hand in their own).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api.limits import BodySizeLimit
from api.sources import Parsed, PayloadError, SourceEvent
from api.sources.registry import PARSERS
from api.sources.pagerduty import PagerDutyAccepted, PagerDutyInvalid
from api.schemas import (
    Accepted,
    AckBody,
    CommanderBody,
    EscalateBody,
    GenericAlert,
    IncidentRef,
    PriorityBody,
    Problem,
    ReopenBody,
    ResolveBody,
    ReviewBody,
    StepBody,
    UpdateBody,
)
from warroom import db
from warroom import engine as eng
from warroom.classify import incident_workflow_id
from warroom.settings import Settings
from warroom.simulate import to_jsonable
from workflows.contracts import AlertInfo
from workflows.policy import default_policy

MAX_BODY = 1024 * 1024
REFUSED = {404: {"model": Problem, "description": "unknown incident"},
           409: {"model": Problem, "description": "the engine refused the action, with its reason"}}


def get_client(request: Request) -> Client:
    return request.app.state.client


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


# Module level, so FastAPI can resolve them from the string annotations.
ClientDep = Annotated[Client, Depends(get_client)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def create_app(settings: Settings | None = None, *, client: Client | None = None,
               engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        if own_engine:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            app.state.engine = db.make_engine(settings.db_url())
            db.create_schema(app.state.engine)
        if client is None:
            app.state.client = await Client.connect(settings.temporal_address, namespace=settings.namespace)
        yield
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(title="warroom", version="0.1.0", lifespan=lifespan,
                  description="Incident response as durable workflows.")
    app.state.settings, app.state.client, app.state.engine = settings, client, engine
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY)

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

    # ------------------------------------------------------------------ alerts in

    async def intake(alert: GenericAlert, client: Client, settings: Settings, source: str) -> Accepted:
        """warroom's own alert JSON: one event through the same path as every source."""
        if alert.status == "resolve" and not alert.dedup_key:
            raise HTTPException(422, "a resolve needs the dedup_key of the alert it resolves")
        info = AlertInfo(
            title=alert.title.strip(), description=alert.description, service=alert.service,
            severity=alert.severity, priority=alert.priority or "", affected_users=alert.affected_users,
            business_impact=(alert.business_impact or "").upper(), availability=alert.availability,
            labels=alert.labels, dedup_key=alert.dedup_key, source=source, links=alert.links,
        )
        return await deliver(Parsed(events=[SourceEvent(action=alert.status, alert=info)]), client, settings, source)

    async def deliver(parsed: Parsed, client: Client, settings: Settings, source: str) -> Accepted:
        """Start/join, resolve or acknowledge the incident of each parsed event."""
        refs: list[IncidentRef] = []
        for ev in parsed.events:
            ev.alert.source = ev.alert.source if ev.alert.source not in ("", "generic") else source
            if ev.action == "trigger":
                t = await eng.trigger(client, ev.alert, task_queue=settings.task_queue, policy=default_policy(),
                                      tier1_services=settings.tier1_services)
                status, priority = "triggered", t.priority
                if t.deduplicated:  # the incident it joined answers with its own status and priority
                    state = await eng.state(client, t.incident_id)
                    status, priority = state.status, state.priority
                refs.append(IncidentRef(id=t.incident_id, priority=priority, status=status,
                                        deduplicated=t.deduplicated))
                continue
            wf_id = incident_workflow_id(ev.alert.dedup_key)
            try:
                if ev.action == "resolve":
                    await eng.source_resolved(client, wf_id, source=source, summary=ev.alert.title)
                    if "resolve received" not in parsed.notes:
                        parsed.notes.append("resolve received")
                else:
                    try:
                        await eng.act(client, wf_id, "acknowledge", {"by": source, "note": "acknowledged by the source"})
                    except eng.ActionRefused:
                        pass  # already acknowledged or resolved: the source's ack changes nothing
                state = await eng.state(client, wf_id)
            except eng.UnknownIncident:
                continue  # nothing open for that key: like PagerDuty, accept and do nothing
            refs.append(IncidentRef(id=wf_id, priority=state.priority, status=state.status, deduplicated=True))
        message = "; ".join(parsed.notes)
        return Accepted(incidents=refs, message=message or ("" if refs else "no incident matched"))

    @app.post("/api/v1/alerts/generic", status_code=202, response_model=Accepted,
              summary="warroom's own alert JSON: trigger or resolve")
    async def generic_alert(alert: GenericAlert, client: ClientDep, settings: SettingsDep) -> Accepted:
        return await intake(alert, client, settings, "generic")

    # PagerDuty senders expect PagerDuty's answers (202 success + dedup_key, 400 invalid event).
    pd_responses: dict[int | str, dict[str, Any]] = {
        400: {"model": PagerDutyInvalid, "description": "invalid event (or body not JSON), with what is wrong"}}

    async def pagerduty_event(request: Request, client: Client, settings: Settings) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return JSONResponse(PagerDutyInvalid(errors=[f"body is not valid JSON: {err}"]).model_dump(),
                                status_code=400)
        try:
            parsed = PARSERS["pagerduty"](body)
        except PayloadError as err:
            return JSONResponse(PagerDutyInvalid(errors=getattr(err, "errors", None) or [str(err)]).model_dump(),
                                status_code=400)
        await deliver(parsed, client, settings, "pagerduty")
        dedup_key = parsed.events[0].alert.dedup_key if parsed.events else ""
        return JSONResponse(PagerDutyAccepted(dedup_key=dedup_key).model_dump(), status_code=202)

    @app.post("/v2/enqueue", status_code=202, response_model=PagerDutyAccepted, responses=pd_responses,
              summary="PagerDuty Events API v2 (drop-in for events.pagerduty.com/v2/enqueue)")
    async def pagerduty_enqueue(request: Request, client: ClientDep, settings: SettingsDep) -> JSONResponse:
        return await pagerduty_event(request, client, settings)

    @app.post("/api/v1/alerts/pagerduty", status_code=202, response_model=PagerDutyAccepted,
              responses=pd_responses, summary="PagerDuty Events API v2, answered as PagerDuty does")
    async def pagerduty_alert(request: Request, client: ClientDep, settings: SettingsDep) -> JSONResponse:
        return await pagerduty_event(request, client, settings)

    @app.post("/api/v1/alerts/{source}", status_code=202, response_model=Accepted,
              responses={400: {"model": Problem}, 404: {"model": Problem, "description": "unknown source"},
                         422: {"model": Problem, "description": "the body is not valid for this source"}},
              summary="A monitoring system's webhook: alertmanager, grafana, pagerduty, datadog")
    async def source_alert(source: str, request: Request, client: ClientDep, settings: SettingsDep) -> Accepted:
        parser = PARSERS.get(source)
        if parser is None:
            raise HTTPException(404, f"unknown source {source!r}; one of generic, {', '.join(sorted(PARSERS))}")
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise HTTPException(400, f"body is not valid JSON: {err}") from None
        try:
            parsed = parser(body)
        except PayloadError as err:
            raise HTTPException(422, str(err)) from None
        return await deliver(parsed, client, settings, source)

    @app.post("/api/v1/incidents", status_code=201, response_model=Accepted,
              summary="Declare an incident by hand")
    async def declare(alert: GenericAlert, client: ClientDep, settings: SettingsDep) -> Accepted:
        if alert.status != "trigger":
            raise HTTPException(422, "declaring an incident takes status 'trigger'")
        return await intake(alert, client, settings, "manual")

    # ------------------------------------------------------------------ managers see

    @app.get("/api/v1/incidents/{incident_id}", summary="An incident's state and timeline",
             responses={404: {"model": Problem, "description": "unknown incident"}})
    async def get_incident(incident_id: str, client: ClientDep) -> dict[str, Any]:
        try:
            state = await eng.state(client, incident_id)
        except eng.UnknownIncident:
            raise HTTPException(status_code=404, detail=f"unknown incident {incident_id!r}") from None
        return to_jsonable(dataclasses.replace(state))

    # ------------------------------------------------------------------ engineers act

    async def act(client: Client, incident_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            state = await eng.act(client, incident_id, action, payload)
        except eng.UnknownIncident:
            raise HTTPException(404, f"unknown incident {incident_id!r}") from None
        except eng.ActionRefused as err:
            raise HTTPException(409, str(err)) from None
        return to_jsonable(state)

    @app.post("/api/v1/incidents/{incident_id}/acknowledge", responses=REFUSED, summary="Acknowledge")
    async def acknowledge(incident_id: str, body: AckBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "acknowledge", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/commander", responses=REFUSED, summary="Assign the commander")
    async def commander(incident_id: str, body: CommanderBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "assign_commander", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/updates", responses=REFUSED, summary="Post a status update")
    async def post_update(incident_id: str, body: UpdateBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "post_update", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/escalate", responses=REFUSED, summary="Escalate now")
    async def escalate(incident_id: str, body: EscalateBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "escalate", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/priority", responses=REFUSED, summary="Change the priority")
    async def priority(incident_id: str, body: PriorityBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "change_priority", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/steps/{step}/complete", responses=REFUSED,
              summary="Complete a waiting runbook step")
    async def complete_step(incident_id: str, step: str, body: StepBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "complete_step", {**body.model_dump(), "step": step})

    @app.post("/api/v1/incidents/{incident_id}/resolve", responses=REFUSED, summary="Resolve (verify runs first)")
    async def resolve(incident_id: str, body: ResolveBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "resolve", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/review", responses=REFUSED, summary="Submit the review")
    async def review(incident_id: str, body: ReviewBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "submit_review", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/reopen", responses=REFUSED, summary="Reopen a resolved incident")
    async def reopen(incident_id: str, body: ReopenBody, client: ClientDep) -> dict[str, Any]:
        return await act(client, incident_id, "reopen", body.model_dump())

    return app
