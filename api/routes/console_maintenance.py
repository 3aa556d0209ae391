"""Room: api (HTTP edge) — the console's Maintenance page: the windows (scheduled, active, lately
ended) and, for responders, a form to make one and a button to end one early.

Server-rendered like every console page; the form posts to routes that call the same functions
as the JSON API (api/routes/maintenance.py: create, end), as the key's person. A refused window
(422 naming the field) is shown on the page with the form as it was filled in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.body import JsonRoute
from api.console import session as sessions
from api.deps import RecordsDep, TemporalDep
from api.routes.console import Acting, SignedIn, page
from api.routes.maintenance import EndBody, WindowBody, create, end, now
from warroom.records import maintenance as stored

router = APIRouter(route_class=JsonRoute, include_in_schema=False)
RECENT = 20  # ended windows shown


async def show(request: Request, db: Any, who: sessions.Session, *, error: str = "", done: str = "",
               form: dict[str, str] | None = None, status_code: int = 200) -> Response:
    t = now()
    found = await run_in_threadpool(stored.windows, db, include_ended=True, limit=200)
    current = [w.public(t) for w in found if w.status(t) != "ended"]
    ended = [w.public(t) for w in found if w.status(t) == "ended"][:RECENT]
    return page(request, "console/maintenance.html", who, status_code=status_code, current=current, ended=ended,
                error=error, done=done, form=form or {})


@router.get("/maintenance", response_class=HTMLResponse)
async def maintenance_page(request: Request, db: RecordsDep, who: SignedIn, done: str = "") -> Response:
    return await show(request, db, who, done=done)


def body_of(f: dict[str, str]) -> WindowBody:
    """The form as the API's body: matchers one per line; an empty time is no time."""
    times = {k: f[k].strip() for k in ("starts_at", "ends_at", "duration") if f.get(k, "").strip()}
    return WindowBody(service=f.get("service", "").strip(), integration=f.get("integration", "").strip(),
                      matchers=[m.strip() for m in f.get("matchers", "").splitlines() if m.strip()],
                      reason=f.get("reason", ""), **times)  # type: ignore[arg-type]


@router.post("/maintenance")
async def make_window(request: Request, client: TemporalDep, db: RecordsDep, posted: Acting) -> Response:
    who, fields = posted
    try:
        body = body_of(fields)
        w = await create(request, client, db, who.principal, body)
    except ValidationError as err:
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        return await show(request, db, who, error=reason, form=fields, status_code=422)
    except HTTPException as err:
        if err.status_code >= 500:
            raise
        return await show(request, db, who, error=str(err.detail), form=fields, status_code=err.status_code)
    return RedirectResponse(f"/maintenance?done=made+{w.id}", status_code=303)


@router.post("/maintenance/{window_id}/end")
async def end_window(window_id: str, request: Request, client: TemporalDep, db: RecordsDep,
                     posted: Acting) -> Response:
    who, fields = posted
    try:
        w = await end(request, client, db, who.principal, window_id, EndBody(note=fields.get("note", "")[:2000]))
    except HTTPException as err:
        if err.status_code >= 500:
            raise
        return await show(request, db, who, error=str(err.detail), status_code=err.status_code)
    return RedirectResponse(f"/maintenance?done=ended+{w.id}", status_code=303)
