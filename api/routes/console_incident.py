"""Room: api (HTTP edge) — the console's incident page, its forms and its HTML report.

The page shows the engine's state (warroom.client, as GET /api/v1/incidents/{id} does; the
record when Temporal no longer has the run), the pages sent from the records, and a form per
engineer action. Each form posts here and runs the same engine call as the JSON API
(temporal.act with the API's own body models); the actor is always api.deps.actor_of(key).
A refusal from the engine is shown inline on the page, in its words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from api.body import JsonRoute
from api.console import session as sessions
from api.deps import RecordsDep, TemporalDep, actor_of
from api.routes.console import (
    PRIORITIES,
    Acting,
    SignedIn,
    as_time,
    next_deadline,
    page,
)
from api.schemas import (
    AckBody,
    CommanderBody,
    EscalateBody,
    PriorityBody,
    ResolveBody,
    ReviewBody,
    StepBody,
    UpdateBody,
)
from warroom import client as temporal
from warroom import records
from warroom.records import changes as change_records
from warroom.records import reports

router = APIRouter(route_class=JsonRoute, include_in_schema=False)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# Form name -> (engine action, the JSON API's body model, the form fields as that body).
FORMS: dict[str, tuple[str, type[BaseModel], Any]] = {
    "acknowledge": ("acknowledge", AckBody, lambda f: {"note": f.get("note", "")}),
    "commander": ("assign_commander", CommanderBody, lambda f: {"commander": f.get("commander", "")}),
    "update": ("post_update", UpdateBody, lambda f: {
        "message": f.get("message", ""),
        **{k: True for k in ("data_loss", "security_risk", "all_users", "business_down") if f.get(k)},
        **({"expected_recovery_minutes": f["expected_recovery_minutes"]} if f.get("expected_recovery_minutes") else {})}),
    "escalate": ("escalate", EscalateBody,
                 lambda f: {"reason": f.get("reason", ""), "to_level": int(f["to_level"]) if f.get("to_level") else None}),
    "priority": ("change_priority", PriorityBody,
                 lambda f: {"priority": f.get("priority", ""), "reason": f.get("reason", "")}),
    "step": ("complete_step", StepBody, lambda f: {"result": f.get("result", "done"), "note": f.get("note", "")}),
    "resolve": ("resolve", ResolveBody,
                lambda f: {"resolution": f.get("resolution", ""), "root_cause": f.get("root_cause", "")}),
    "review": ("submit_review", ReviewBody,
               lambda f: {"root_cause": f.get("root_cause", ""), "contributing_factors": lines(f.get("factors", "")),
                          "lessons": lines(f.get("lessons", "")), "action_items": lines(f.get("action_items", ""))}),
}


async def incident_view(client: Client, db: Any, incident_id: str) -> dict[str, Any] | None:
    """One view model for the page: the live state as JSON (or the record), plus the pages sent."""
    try:
        state: dict[str, Any] | None = temporal.to_jsonable(await temporal.state(client, incident_id))
    except temporal.UnknownIncident:
        state = await run_in_threadpool(records.recorded_incident, db, incident_id)
    if state is None:
        return None
    deadlines = state.get("deadlines") or {k: state.get(k) for k in ("ack_due", "next_update_due", "resolve_due",
                                                                      "review_due")}
    comms, tries, changes = await run_in_threadpool(lambda: (
        records.communications(db, incident_id=incident_id), records.deliveries(db, incident_id=incident_id),
        change_records.changes_for_incident(db, state)))
    by_message: dict[str, list[Any]] = {}
    for d in tries:
        by_message.setdefault(d.communication_key, []).append(d)
    timeline = sorted(state.get("timeline") or [], key=lambda e: e["seq"], reverse=True)
    for e in timeline:
        e["at"] = as_time(e["at"])
    return {
        "state": state,
        "live": not state.get("recorded"),
        "created_at": as_time(state.get("created_at")),
        "deadline": next_deadline(deadlines, as_time(state.get("created_at"))) if state.get("status") != "closed"
        else None,
        "timeline": timeline,
        "priority_history": [e for e in reversed(timeline) if e["type"] in ("triggered", "priority.changed")],
        "steps": state.get("steps") or [],
        "waiting_steps": [s for s in state.get("steps") or [] if s.get("status") == "waiting"],
        "pages": [{"message": c, "deliveries": by_message.get(c.key, [])} for c in comms],
        "war_room": state.get("war_room") or {},
        "changes": changes,
        "suggestion": suggestion(state),
    }


def suggestion(state: dict[str, Any]) -> dict[str, Any] | None:
    """The latest upgrade suggested by an update's words (`upgrade.suggested`), while it still
    applies: the incident open, below P0, and no priority change since. A person confirms it."""
    if state.get("status") not in ("triggered", "acknowledged") or state.get("priority") == "P0":
        return None
    for e in sorted(state.get("timeline") or [], key=lambda e: e["seq"], reverse=True):
        if e["type"] == "priority.changed":
            return None
        if e["type"] == "upgrade.suggested":
            return e
    return None


async def show(request: Request, client: Client, db: Any, who: sessions.Session, incident_id: str, *,
               error: str = "", done: str = "", status_code: int = 200) -> Response:
    view = await incident_view(client, db, incident_id)
    if view is None:
        return page(request, "console/missing.html", who, status_code=404, incident_id=incident_id)
    return page(request, "console/incident.html", who, status_code=status_code, view=view, error=error,
                done=done, priorities=PRIORITIES, incident_id=incident_id)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(incident_id: str, request: Request, client: TemporalDep, db: RecordsDep,
                        who: SignedIn, done: str = "") -> Response:
    return await show(request, client, db, who, incident_id, done=done)


@router.post("/incidents/{incident_id}/{form}")
async def incident_action(incident_id: str, form: str, request: Request, client: TemporalDep, db: RecordsDep,
                          posted: Acting) -> Response:
    who, fields = posted
    if form not in FORMS:
        raise HTTPException(404, f"no console action {form!r}")
    action, model, build = FORMS[form]
    try:
        body = model(by=actor_of(who.principal), **build(fields))
    except (ValidationError, ValueError) as err:
        problems = err.errors() if isinstance(err, ValidationError) else [{"loc": ("to_level",), "msg": str(err)}]
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems)
        return await show(request, client, db, who, incident_id, error=reason, status_code=422)
    payload = body.command() if isinstance(body, ReviewBody) else body.model_dump()
    if form == "step":
        payload["step"] = fields.get("step", "")
    try:
        await temporal.act(client, incident_id, action, payload)
    except temporal.UnknownIncident:
        return await show(request, client, db, who, incident_id, error=f"unknown incident {incident_id}",
                          status_code=404)
    except temporal.ActionRefused as err:
        return await show(request, client, db, who, incident_id, error=str(err), status_code=409)
    return RedirectResponse(f"/incidents/{incident_id}?done={form}", status_code=303)


@router.get("/incidents/{incident_id}/report", response_class=HTMLResponse)
async def incident_report(incident_id: str, db: RecordsDep, who: SignedIn) -> Response:
    """The post-incident report (reports.render_html, as the API's ?format=html) for a signed-in person."""
    report = await run_in_threadpool(reports.incident_report, db, incident_id)
    if report is None:
        raise HTTPException(404, f"no recorded incident {incident_id}")
    return HTMLResponse(reports.render_html(report))
