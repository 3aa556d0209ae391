"""Room: api (HTTP edge) — alerts in: every sender's webhook, parsed by api/sources/ and handed
to alert intake (api/intake.py), which starts, joins, resolves or acknowledges incidents. A
source's resolve or acknowledgement is recorded as the sending key (api.deps.actor_of).

PagerDuty senders expect PagerDuty's own answers (202 with the dedup_key, 400 for an invalid
event, the key in the body as `routing_key`), so its two paths answer as PagerDuty does.

Every path counts the key's alerts (api/ratelimit.py) once the request is valid and before it
reaches intake: over the key's rate, 429 with Retry-After, and nothing reaches Temporal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from temporalio.client import Client

from api.body import BadJson, JsonRoute, read_json
from api.deps import (
    ALERTS,
    CustomSender,
    IntakeDep,
    RateLimitDep,
    RecordsDep,
    Sender,
    TemporalDep,
    actor_of,
    check_role,
    check_sender,
    unauthorized,
)
from api import heartbeats
from api.intake import Intake
from api.ratelimit import RATE_LIMITED, RETRY_AFTER, AlertRateLimit
from api.schemas import BAD_BODY, TEMPORAL, UNAUTHORIZED, Accepted, GenericAlert, Problem, Responses
from api.sources import Parsed, PayloadError
from api.sources.pagerduty import PagerDutyAccepted, PagerDutyInvalid
from api.sources.registry import PARSERS
from warroom.records import keys as auth

router = APIRouter(route_class=JsonRoute)


def parse_body(parser: Any, raw: bytes) -> Parsed:
    try:
        body = read_json(raw)
    except BadJson as err:
        raise HTTPException(err.status, str(err)) from None
    try:
        return parser(body)
    except PayloadError as err:
        raise HTTPException(422, str(err)) from None


@router.post("/api/v1/alerts/generic", status_code=202, response_model=Accepted,
             responses={**UNAUTHORIZED, **RATE_LIMITED, **TEMPORAL},
             summary="warroom's own alert JSON: trigger or resolve")
async def generic_alert(alert: GenericAlert, client: TemporalDep, intake: IntakeDep, rate: RateLimitDep,
                        principal: Sender) -> Accepted:
    rate.check(principal)
    return await intake.alert(client, alert, "generic", actor=actor_of(principal))


# ---------------------------------------------------------------------- PagerDuty, answered as PagerDuty does

pd_responses: Responses = {
    400: {"model": PagerDutyInvalid, "description": "invalid event (or body not JSON), with what is wrong"},
    401: {"model": PagerDutyInvalid, "description": "routing_key (or bearer key) missing, unknown or revoked"},
    403: {"model": PagerDutyInvalid, "description": "the key may not send PagerDuty events"},
    429: {"model": PagerDutyInvalid, "headers": RETRY_AFTER,
          "description": "the integration key is over its event rate: nothing was accepted; "
                         "send again after Retry-After seconds"}}


async def pagerduty_sender(request: Request, body: Any, db: Engine) -> auth.ApiKey | HTTPException:
    """PagerDuty clients put the integration key in the body (`routing_key`); a bearer key works too."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if header and scheme.lower() == "bearer":
        key = credentials.strip()
    elif isinstance(body, dict) and isinstance(body.get("routing_key"), str) and body["routing_key"]:
        key = body["routing_key"]
    else:
        return unauthorized("routing_key: missing; it is the integration key (warroom integrations create)")
    principal = await request.app.state.keys.identify(db, key)
    if principal is None:
        return unauthorized("routing_key: unknown or revoked integration key" if not header
                            else "unknown or revoked API key")
    try:
        check_role(principal, ALERTS)
        await check_sender(request, principal, "pagerduty")
    except HTTPException as err:
        return err
    return principal


async def pagerduty_event(request: Request, client: Client, intake: Intake, db: Engine,
                          rate: AlertRateLimit) -> JSONResponse:
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
        parsed = PARSERS["pagerduty"](body)
    except PayloadError as err:
        return JSONResponse(PagerDutyInvalid(errors=getattr(err, "errors", None) or [str(err)]).model_dump(),
                            status_code=400)
    try:
        rate.check(principal, len(parsed.events))
    except HTTPException as err:
        return JSONResponse(PagerDutyInvalid(status="throttled", message="Rate limit exceeded",
                                             errors=[err.detail]).model_dump(),
                            status_code=429, headers=err.headers)
    await intake.deliver(client, parsed, "pagerduty", actor=actor_of(principal))
    dedup_key = parsed.events[0].alert.dedup_key if parsed.events else ""
    return JSONResponse(PagerDutyAccepted(dedup_key=dedup_key).model_dump(), status_code=202)


@router.post("/v2/enqueue", status_code=202, response_model=PagerDutyAccepted, responses=pd_responses,
             summary="PagerDuty Events API v2 (drop-in for events.pagerduty.com/v2/enqueue)")
async def pagerduty_enqueue(request: Request, client: TemporalDep, intake: IntakeDep,
                            db: RecordsDep, rate: RateLimitDep) -> JSONResponse:
    return await pagerduty_event(request, client, intake, db, rate)


@router.post("/api/v1/alerts/pagerduty", status_code=202, response_model=PagerDutyAccepted,
             responses=pd_responses, summary="PagerDuty Events API v2, answered as PagerDuty does")
async def pagerduty_alert(request: Request, client: TemporalDep, intake: IntakeDep,
                          db: RecordsDep, rate: RateLimitDep) -> JSONResponse:
    return await pagerduty_event(request, client, intake, db, rate)


# ---------------------------------------------------------------------- every other source

@router.post("/api/v1/alerts/{source}", status_code=202, response_model=Accepted,
             responses={**BAD_BODY, **RATE_LIMITED, **TEMPORAL,
                        404: {"model": Problem, "description": "unknown source"}},
             summary="A monitoring system's webhook: alertmanager, grafana, pagerduty, datadog")
async def source_alert(source: str, request: Request, client: TemporalDep, intake: IntakeDep,
                       rate: RateLimitDep, principal: Sender) -> Accepted:
    parser = PARSERS.get(source)
    if parser is None:
        raise HTTPException(404, f"unknown source {source!r}; one of generic, {', '.join(sorted(PARSERS))}, "
                                 "or custom/<integration>")
    parsed = parse_body(parser, await request.body())
    rate.check(principal, len(parsed.events))
    if source == "alertmanager":  # its Watchdog pings the heartbeats bound to the key (docs/heartbeats.md)
        parsed = await heartbeats.watchdog(request, client, request.app.state.engine, principal, parsed)
    return await intake.deliver(client, parsed, source, actor=actor_of(principal))


@router.post("/api/v1/alerts/custom/{integration}", status_code=202, response_model=Accepted,
             responses={**BAD_BODY, **RATE_LIMITED, **TEMPORAL,
                        404: {"model": Problem, "description": "unknown custom integration"}},
             summary="Any JSON, turned into alerts by the integration's mapping")
async def custom_alert(integration: str, request: Request, client: TemporalDep, intake: IntakeDep,
                       db: RecordsDep, rate: RateLimitDep, principal: CustomSender) -> Accepted:
    integ = principal if principal.name == integration else await run_in_threadpool(
        auth.find, db, integration, role="integration")
    if integ is None or integ.format != "custom" or integ.mapping is None:
        raise HTTPException(404, f"unknown custom integration {integration!r} (warroom integrations list)")
    parsed = parse_body(intake.mapping(integ.id, integ.mapping).parse, await request.body())
    rate.check(principal, len(parsed.events))
    return await intake.deliver(client, parsed, f"custom:{integration}", actor=actor_of(principal))
