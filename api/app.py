"""The HTTP API (FastAPI): alerts in, engineers act, managers see.

Room: api. Parses HTTP, talks to the engine through warroom.engine, never runs durable
work itself (that is Temporal's job). The Temporal client and the records engine are built
in the lifespan from Settings, not at import time (tests hand in their own).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from warroom import signatures
from api.limits import BodySizeLimit
from api.metrics import router as metrics_router
from api.oncall import router as oncall_router
from api.reports import router as reports_router
from api.runbooks import router as runbooks_router
from api.sources import Parsed, PayloadError, SourceEvent
from api.sources.custom import CustomMapping, MappingError, compile_mapping
from api.sources.registry import PARSERS
from api.sources.pagerduty import PagerDutyAccepted, PagerDutyInvalid
from api.schemas import (
    Accepted,
    AckBody,
    CommanderBody,
    EscalateBody,
    GenericAlert,
    IncidentList,
    IncidentRef,
    IncidentSummary,
    IntegrationCreate,
    KeyCreate,
    KeyCreated,
    KeyView,
    Phase,
    Priority,
    PriorityBody,
    Problem,
    ReopenBody,
    ResolveBody,
    ReviewBody,
    Status,
    StepBody,
    UpdateBody,
)
from warroom import records
from warroom.records import keys as auth
from warroom import client as temporal
from warroom.classify import fallback_dedup_key, incident_workflow_id
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from workflows.contracts import AlertInfo
from workflows.policy import default_policy

MAX_BODY = 1024 * 1024


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

# ---------------------------------------------------------------------- keys and roles

bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                    description="A warroom API key: `Authorization: Bearer <key>` (`warroom keys create`).")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
# Who may call what (docs/integrations.md). Admin may call everything.
READ = ("viewer", "responder", "admin")
ACT = ("responder", "admin")
ALERTS = ("integration", "admin")
DECLARE = ("integration", "responder", "admin")
ADMIN = ("admin",)
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, unknown or revoked API key (or a bad signature)"},
    403: {"model": Problem, "description": "the key's role may not call this endpoint"}}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED, 400: {"model": Problem, "description": "the body is not JSON"},
    422: {"model": Problem, "description": "the body is not valid for this source, naming the field"}}
TEMPORAL: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "Temporal did not answer (unreachable, deadline, overloaded): retry"}}
UNKNOWN = {**UNAUTHORIZED, **TEMPORAL, 404: {"model": Problem, "description": "unknown incident"}}
REFUSED = {**UNKNOWN, 409: {"model": Problem, "description": "the engine refused the action, with its reason"}}


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def identify(engine: Engine, credentials: HTTPAuthorizationCredentials | None) -> auth.ApiKey:
    if credentials is None:
        raise unauthorized("missing API key: send Authorization: Bearer <key>")
    principal = auth.authenticate(engine, credentials.credentials)
    if principal is None:
        raise unauthorized("unknown or revoked API key")
    return principal


def check_role(principal: auth.ApiKey, roles: tuple[str, ...]) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"the key {principal.name!r} has role {principal.role}; this endpoint needs "
                                 f"{' or '.join(r for r in roles if r != 'admin')} (or admin)")


def allow(*roles: str) -> Any:
    """A dependency admitting keys of these roles (sync: FastAPI runs the lookup in its threadpool)."""

    def dependency(credentials: BearerDep, engine: EngineDep) -> auth.ApiKey:
        principal = identify(engine, credentials)
        check_role(principal, roles)
        return principal

    return dependency


Reader = Annotated[auth.ApiKey, Depends(allow(*READ))]
Responder = Annotated[auth.ApiKey, Depends(allow(*ACT))]
Declarer = Annotated[auth.ApiKey, Depends(allow(*DECLARE))]
Admin = Annotated[auth.ApiKey, Depends(allow(*ADMIN))]


async def check_sender(request: Request, principal: auth.ApiKey, fmt: str) -> None:
    """An integration key bound to a format posts only there; a signed one must sign the body."""
    if principal.role != "integration":
        return
    if principal.format and principal.format != fmt:
        where = (f"/api/v1/alerts/custom/{principal.name}" if principal.format == "custom"
                 else f"/api/v1/alerts/{principal.format}")
        raise HTTPException(403, f"integration {principal.name!r} sends {principal.format} alerts: post to {where}")
    if principal.signing_secret:
        body, now = await request.body(), time.time()
        try:
            if principal.format == "grafana":
                signatures.verify_grafana(principal.signing_secret, body, request.headers, now=now)
            else:
                signatures.verify_warroom(principal.signing_secret, body, request.headers, now=now)
        except signatures.SignatureError as err:
            raise unauthorized(f"signature: {err}") from None


async def alert_sender(request: Request, credentials: BearerDep, engine: EngineDep) -> auth.ApiKey:
    """The key posting to /api/v1/alerts/{source} (the format is the path's source)."""
    principal = await run_in_threadpool(identify, engine, credentials)
    check_role(principal, ALERTS)
    source = request.path_params.get("source", "generic")
    if source in PARSERS or source == "generic":
        await check_sender(request, principal, source)
    return principal


async def custom_sender(integration: str, request: Request, credentials: BearerDep,
                        engine: EngineDep) -> auth.ApiKey:
    """The key posting to /api/v1/alerts/custom/{integration}: that integration's own key, or an admin."""
    principal = await run_in_threadpool(identify, engine, credentials)
    check_role(principal, ALERTS)
    if principal.role == "integration" and principal.name != integration:
        raise HTTPException(403, f"this key belongs to integration {principal.name!r}, not {integration!r}")
    await check_sender(request, principal, "custom")
    return principal


Sender = Annotated[auth.ApiKey, Depends(alert_sender)]
CustomSender = Annotated[auth.ApiKey, Depends(custom_sender)]


def create_app(settings: Settings | None = None, *, client: Client | None = None,
               engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        if own_engine:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            app.state.engine = records.make_engine(settings.db_url())
            records.create_schema(app.state.engine)
        if client is None:
            app.state.client = await Client.connect(settings.temporal_address, namespace=settings.namespace)
        yield
        if own_engine:
            app.state.engine.dispose()

    app = FastAPI(title="warroom", version="0.1.0", lifespan=lifespan,
                  description="Incident response as durable workflows.")
    app.state.settings, app.state.client, app.state.engine = settings, client, engine
    app.state.oncall_dir = settings.oncall_dir  # the on-call files the worker pages from (api/oncall.py)
    # The same files the worker loads; an invalid one stops the API at start, naming it.
    app.state.runbooks = RunbookLibrary(settings.runbooks_dir)
    app.include_router(runbooks_router, dependencies=[Depends(allow(*READ))])
    # Prometheus scrapes with a viewer key (`authorization: {credentials: <key>}` in its config).
    app.include_router(metrics_router, dependencies=[Depends(allow(*READ))])
    app.include_router(reports_router, dependencies=[Depends(allow(*READ))])
    app.include_router(oncall_router, dependencies=[Depends(allow(*ADMIN))])
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

    @app.exception_handler(RPCError)
    async def temporal_unavailable(request: Request, err: RPCError) -> JSONResponse:
        """Temporal failed to answer (deadline, unavailable, overloaded): the caller may retry later.
        NOT_FOUND never gets here, warroom.engine turns it into an unknown incident."""
        return JSONResponse({"detail": f"Temporal did not answer ({err.status.name if err.status else 'error'}: "
                                       f"{err.message}); try again shortly"},
                            status_code=503, headers={"Retry-After": "1"})

    # ------------------------------------------------------------------ alerts in

    custom_mappings: dict[str, CustomMapping] = {}  # compiled once per integration key

    def parse_body(parser: Any, raw: bytes) -> Parsed:
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise HTTPException(400, f"body is not valid JSON: {err}") from None
        try:
            return parser(body)
        except PayloadError as err:
            raise HTTPException(422, str(err)) from None

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

    # Alerts for one dedup key are started/joined one at a time by this process. A storm of
    # repeats would otherwise send a query per alert to one workflow at once, and Temporal
    # refuses queries beyond its small per-workflow buffer (RESOURCE_EXHAUSTED) after the
    # alert's signal was already accepted: the sender would see an error for a counted alert.
    joining: dict[str, tuple[asyncio.Lock, int]] = {}

    async def trigger(alert: AlertInfo, client: Client, settings: Settings) -> temporal.Triggered:
        alert.dedup_key = alert.dedup_key or fallback_dedup_key(alert)
        lock, users = joining.get(alert.dedup_key) or (asyncio.Lock(), 0)
        joining[alert.dedup_key] = (lock, users + 1)
        try:
            async with lock:
                return await temporal.trigger(client, alert, task_queue=settings.task_queue, policy=default_policy(),
                                         tier1_services=settings.tier1_services)
        finally:
            lock, users = joining[alert.dedup_key]
            if users == 1:
                del joining[alert.dedup_key]
            else:
                joining[alert.dedup_key] = (lock, users - 1)

    async def deliver(parsed: Parsed, client: Client, settings: Settings, source: str) -> Accepted:
        """Start/join, resolve or acknowledge the incident of each parsed event."""
        refs: list[IncidentRef] = []
        for ev in parsed.events:
            ev.alert.source = ev.alert.source if ev.alert.source not in ("", "generic") else source
            if ev.action == "trigger":
                t = await trigger(ev.alert, client, settings)
                # a joined incident answers with its own status and priority
                status = t.joined.status if t.joined else "triggered"
                refs.append(IncidentRef(id=t.incident_id, priority=t.priority, status=status,
                                        deduplicated=t.deduplicated))
                continue
            wf_id = incident_workflow_id(ev.alert.dedup_key)
            try:
                if ev.action == "resolve":
                    await temporal.source_resolved(client, wf_id, source=source, summary=ev.alert.title)
                    if "resolve received" not in parsed.notes:
                        parsed.notes.append("resolve received")
                    state = await temporal.current(client, wf_id)
                else:
                    state = await temporal.current(client, wf_id)
                    try:
                        state = await temporal.act(client, state.incident_id, "acknowledge",
                                              {"by": source, "note": "acknowledged by the source"})
                    except temporal.ActionRefused:
                        pass  # already acknowledged or resolved: the source's ack changes nothing
            except temporal.UnknownIncident:
                continue  # nothing open for that key: like PagerDuty, accept and do nothing
            refs.append(IncidentRef(id=state.incident_id, priority=state.priority, status=state.status,
                                    deduplicated=True))
        message = "; ".join(parsed.notes)
        return Accepted(incidents=refs, message=message or ("" if refs else "no incident matched"))

    @app.post("/api/v1/alerts/generic", status_code=202, response_model=Accepted,
              responses={**UNAUTHORIZED, **TEMPORAL},
              summary="warroom's own alert JSON: trigger or resolve")
    async def generic_alert(alert: GenericAlert, client: ClientDep, settings: SettingsDep, _: Sender) -> Accepted:
        return await intake(alert, client, settings, "generic")

    # PagerDuty senders expect PagerDuty's answers (202 success + dedup_key, 400 invalid event).
    pd_responses: dict[int | str, dict[str, Any]] = {
        400: {"model": PagerDutyInvalid, "description": "invalid event (or body not JSON), with what is wrong"},
        401: {"model": PagerDutyInvalid, "description": "routing_key (or bearer key) missing, unknown or revoked"},
        403: {"model": PagerDutyInvalid, "description": "the key may not send PagerDuty events"}}

    async def pagerduty_sender(request: Request, body: Any,
                               engine: Engine) -> auth.ApiKey | HTTPException:
        """PagerDuty clients put the integration key in the body (`routing_key`); a bearer key works too."""
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if header and scheme.lower() == "bearer":
            key = credentials.strip()
        elif isinstance(body, dict) and isinstance(body.get("routing_key"), str) and body["routing_key"]:
            key = body["routing_key"]
        else:
            return unauthorized("routing_key: missing; it is the integration key (warroom integrations create)")
        principal = await run_in_threadpool(auth.authenticate, engine, key)
        if principal is None:
            return unauthorized("routing_key: unknown or revoked integration key" if not header
                                else "unknown or revoked API key")
        try:
            check_role(principal, ALERTS)
            await check_sender(request, principal, "pagerduty")
        except HTTPException as err:
            return err
        return principal

    async def pagerduty_event(request: Request, client: Client, settings: Settings, engine: Engine) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return JSONResponse(PagerDutyInvalid(errors=[f"body is not valid JSON: {err}"]).model_dump(),
                                status_code=400)
        principal = await pagerduty_sender(request, body, engine)
        if isinstance(principal, HTTPException):
            return JSONResponse(PagerDutyInvalid(status="unauthorized" if principal.status_code == 401 else "forbidden",
                                                 message=principal.detail, errors=[principal.detail]).model_dump(),
                                status_code=principal.status_code, headers=principal.headers)
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
    async def pagerduty_enqueue(request: Request, client: ClientDep, settings: SettingsDep,
                                engine: EngineDep) -> JSONResponse:
        return await pagerduty_event(request, client, settings, engine)

    @app.post("/api/v1/alerts/pagerduty", status_code=202, response_model=PagerDutyAccepted,
              responses=pd_responses, summary="PagerDuty Events API v2, answered as PagerDuty does")
    async def pagerduty_alert(request: Request, client: ClientDep, settings: SettingsDep,
                              engine: EngineDep) -> JSONResponse:
        return await pagerduty_event(request, client, settings, engine)

    @app.post("/api/v1/alerts/{source}", status_code=202, response_model=Accepted,
              responses={**BAD_BODY, **TEMPORAL, 404: {"model": Problem, "description": "unknown source"}},
              summary="A monitoring system's webhook: alertmanager, grafana, pagerduty, datadog")
    async def source_alert(source: str, request: Request, client: ClientDep, settings: SettingsDep,
                           _: Sender) -> Accepted:
        parser = PARSERS.get(source)
        if parser is None:
            raise HTTPException(404, f"unknown source {source!r}; one of generic, {', '.join(sorted(PARSERS))}, "
                                     "or custom/<integration>")
        return await deliver(parse_body(parser, await request.body()), client, settings, source)

    @app.post("/api/v1/alerts/custom/{integration}", status_code=202, response_model=Accepted,
              responses={**BAD_BODY, **TEMPORAL,
                         404: {"model": Problem, "description": "unknown custom integration"}},
              summary="Any JSON, turned into alerts by the integration's mapping")
    async def custom_alert(integration: str, request: Request, client: ClientDep, settings: SettingsDep,
                           engine: EngineDep, principal: CustomSender) -> Accepted:
        integ = principal if principal.name == integration else await run_in_threadpool(
            auth.find, engine, integration, role="integration")
        if integ is None or integ.format != "custom" or integ.mapping is None:
            raise HTTPException(404, f"unknown custom integration {integration!r} (warroom integrations list)")
        mapping = custom_mappings.get(integ.id)
        if mapping is None:
            mapping = custom_mappings[integ.id] = compile_mapping(integ.mapping)
        parsed = parse_body(mapping.parse, await request.body())
        return await deliver(parsed, client, settings, f"custom:{integration}")

    @app.post("/api/v1/incidents", status_code=201, response_model=Accepted,
              responses={**UNAUTHORIZED, **TEMPORAL},
              summary="Declare an incident by hand")
    async def declare(alert: GenericAlert, client: ClientDep, settings: SettingsDep, _: Declarer) -> Accepted:
        if alert.status != "trigger":
            raise HTTPException(422, "declaring an incident takes status 'trigger'")
        return await intake(alert, client, settings, "manual")

    # ------------------------------------------------------------------ managers see

    @app.get("/api/v1/incidents", response_model=IncidentList, responses=UNAUTHORIZED,
             summary="Incidents as recorded, newest first, filtered and paginated")
    def list_incidents(engine: EngineDep, _: Reader,
                       status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
                       priority: Annotated[list[Priority] | None, Query()] = None,
                       service: Annotated[list[str] | None, Query()] = None,
                       phase: Annotated[list[Phase] | None, Query()] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       offset: Annotated[int, Query(ge=0)] = 0) -> IncidentList:
        rows, total = records.list_incidents(engine, status=status, priority=priority, service=service, phase=phase,
                                        limit=limit, offset=offset)
        return IncidentList(total=total, limit=limit, offset=offset,
                            incidents=[IncidentSummary.model_validate(r) for r in rows])

    @app.get("/api/v1/incidents/{incident_id}", summary="An incident's state and timeline", responses=UNKNOWN)
    async def get_incident(incident_id: str, client: ClientDep, engine: EngineDep, _: Reader) -> dict[str, Any]:
        try:
            return temporal.to_jsonable(await temporal.state(client, incident_id))
        except temporal.UnknownIncident:
            pass
        # Not live in Temporal: an earlier incident of a key that fired again, or one whose history
        # retention dropped. Its record is the answer.
        recorded = await run_in_threadpool(records.recorded_incident, engine, incident_id)
        if recorded is None:
            raise HTTPException(status_code=404, detail=f"unknown incident {incident_id!r}")
        return recorded

    # ------------------------------------------------------------------ engineers act

    async def act(client: Client, incident_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            state = await temporal.act(client, incident_id, action, payload)
        except temporal.UnknownIncident:
            raise HTTPException(404, f"unknown incident {incident_id!r}") from None
        except temporal.ActionRefused as err:
            raise HTTPException(409, str(err)) from None
        return temporal.to_jsonable(state)

    @app.post("/api/v1/incidents/{incident_id}/acknowledge", responses=REFUSED, summary="Acknowledge")
    async def acknowledge(incident_id: str, body: AckBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "acknowledge", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/commander", responses=REFUSED, summary="Assign the commander")
    async def commander(incident_id: str, body: CommanderBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "assign_commander", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/updates", responses=REFUSED, summary="Post a status update")
    async def post_update(incident_id: str, body: UpdateBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "post_update", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/escalate", responses=REFUSED, summary="Escalate now")
    async def escalate(incident_id: str, body: EscalateBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "escalate", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/priority", responses=REFUSED, summary="Change the priority")
    async def priority(incident_id: str, body: PriorityBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "change_priority", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/steps/{step}/complete", responses=REFUSED,
              summary="Complete a waiting runbook step")
    async def complete_step(incident_id: str, step: str, body: StepBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "complete_step", {**body.model_dump(), "step": step})

    @app.post("/api/v1/incidents/{incident_id}/resolve", responses=REFUSED, summary="Resolve (verify runs first)")
    async def resolve(incident_id: str, body: ResolveBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "resolve", body.model_dump())

    @app.post("/api/v1/incidents/{incident_id}/review", responses=REFUSED, summary="Submit the review")
    async def review(incident_id: str, body: ReviewBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "submit_review", body.command())

    @app.post("/api/v1/incidents/{incident_id}/reopen", responses=REFUSED, summary="Reopen a resolved incident")
    async def reopen(incident_id: str, body: ReopenBody, client: ClientDep, _: Responder) -> dict[str, Any]:
        return await act(client, incident_id, "reopen", body.model_dump())

    # ------------------------------------------------------------------ keys and integrations (admin)

    ADMIN_ERRORS = {**UNAUTHORIZED, 404: {"model": Problem, "description": "no such active key"},
                    409: {"model": Problem, "description": "the name is taken by an active key"},
                    422: {"model": Problem, "description": "invalid key or integration, naming the field"}}

    def create(engine: Engine, **kwargs: Any) -> KeyCreated:
        try:
            view, key = auth.create_key(engine, **kwargs)
        except auth.KeyProblem as err:
            raise HTTPException(409 if "already used" in str(err) else 422, str(err)) from None
        return KeyCreated(**view.public(), key=key)

    @app.get("/api/v1/keys", response_model=list[KeyView], responses=UNAUTHORIZED, summary="API keys (admin)")
    def list_keys(engine: EngineDep, _: Admin) -> list[KeyView]:
        return [KeyView(**k.public()) for k in auth.list_keys(engine)]

    @app.post("/api/v1/keys", status_code=201, response_model=KeyCreated, responses=ADMIN_ERRORS,
              summary="Create an API key (admin); the key is in this answer only")
    def create_key(body: KeyCreate, engine: EngineDep, _: Admin) -> KeyCreated:
        if body.role == "integration":
            raise HTTPException(422, "role integration: create it with POST /api/v1/integrations")
        return create(engine, name=body.name, role=body.role)

    @app.delete("/api/v1/keys/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
                summary="Revoke an API key by name or id (admin); it stops working at once")
    def revoke_key(name: str, engine: EngineDep, _: Admin) -> KeyView:
        try:
            return KeyView(**auth.revoke(engine, name).public())
        except auth.KeyProblem as err:
            raise HTTPException(404, str(err)) from None

    @app.get("/api/v1/integrations", response_model=list[KeyView], responses=UNAUTHORIZED,
             summary="Integrations: the keys alerting systems send with (admin)")
    def list_integrations(engine: EngineDep, _: Admin) -> list[KeyView]:
        return [KeyView(**k.public()) for k in auth.list_keys(engine, role="integration")]

    @app.post("/api/v1/integrations", status_code=201, response_model=KeyCreated, responses=ADMIN_ERRORS,
              summary="Create an integration and its key (admin); the key is in this answer only")
    def create_integration(body: IntegrationCreate, engine: EngineDep, _: Admin) -> KeyCreated:
        if body.mapping is not None:
            try:
                compile_mapping(body.mapping)
            except MappingError as err:
                raise HTTPException(422, str(err)) from None
        return create(engine, name=body.name, role="integration", format=body.format,
                      signing_secret=body.signing_secret, mapping=body.mapping)

    @app.get("/api/v1/integrations/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
             summary="One integration (admin)")
    def show_integration(name: str, engine: EngineDep, _: Admin) -> KeyView:
        found = auth.find(engine, name, role="integration")
        if found is None:
            raise HTTPException(404, f"no integration named {name!r}")
        return KeyView(**found.public())

    @app.delete("/api/v1/integrations/{name}", response_model=KeyView, responses=ADMIN_ERRORS,
                summary="Delete an integration (admin): its key is revoked at once")
    def delete_integration(name: str, engine: EngineDep, _: Admin) -> KeyView:
        try:
            return KeyView(**auth.revoke(engine, name, role="integration").public())
        except auth.KeyProblem as err:
            raise HTTPException(404, str(err)) from None

    return app
