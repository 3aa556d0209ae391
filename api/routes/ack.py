"""Room: api (HTTP edge) — acknowledge from the page: the one-tap link a page carries.

`GET /ack/{token}` shows the incident and an Acknowledge button; only the button's form POST
acknowledges, so a chat app's link preview (a GET) never does. The token (warroom/acklink.py,
made by the notify activity at send time) is the capability: no API key, and the actor is the
paged person it names. The action goes through warroom.client like the JSON API's
acknowledge, so the engine's own checks (already acknowledged, closed) apply and are shown in
words. A refused token or action answers a 4xx page and leaves the incident untouched.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.body import JsonRoute
from api.console import templates
from api.deps import TemporalDep, server_key_of
from warroom import acklink
from warroom import client as temporal

router = APIRouter(route_class=JsonRoute, include_in_schema=False)

# Which answer each refused token gets: a link that is not one, one we did not sign, one past
# its time, one for another incident than the page showed.
TOKEN_STATUS = {"malformed": 400, "forged": 403, "expired": 410, "wrong_incident": 409}
# The token sits in the URL: keep it out of caches, Referer headers and search indexes.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _page(request: Request, status: int, **context: Any) -> HTMLResponse:
    context.setdefault("state", None)
    context.setdefault("error", "")
    context.setdefault("done", False)
    return templates.TemplateResponse(request, "ack/ack.html", context, status_code=status, headers=HEADERS)


def _refused(request: Request, err: acklink.AckLinkError) -> HTMLResponse:
    return _page(request, TOKEN_STATUS[err.reason], heading="This link cannot acknowledge", error=str(err),
                 reason=err.reason)


def _finished(state: Any) -> str:
    """Why this incident can no longer be acknowledged from a link ("" when it can)."""
    if state.status in ("resolved", "closed"):
        return f"incident {state.incident_id} is {state.status}: there is nothing left to acknowledge"
    if state.acknowledged_by:
        return f"already acknowledged by {state.acknowledged_by}"
    return ""


@router.get("/ack/{token}", response_class=HTMLResponse)
async def show(token: str, request: Request, client: TemporalDep) -> HTMLResponse:
    try:
        grant = acklink.check(server_key_of(request), token, now=time.time())
    except acklink.AckLinkError as err:
        return _refused(request, err)
    try:
        state = await temporal.state(client, grant.incident_id)
    except temporal.UnknownIncident:
        return _page(request, 404, heading="Incident not found", grant=grant, reason="unknown",
                     error=f"incident {grant.incident_id} is not running any more (or never was)")
    finished = _finished(state)
    return _page(request, 409 if finished else 200, heading=state.title, grant=grant, state=state, token=token,
                 error=finished, reason="finished" if finished else "")


@router.post("/ack/{token}", response_class=HTMLResponse)
async def acknowledge(token: str, request: Request, client: TemporalDep) -> HTMLResponse:
    # The form names the incident the person saw; a token for another one is refused.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    shown = (form.get("incident") or [None])[-1]
    try:
        grant = acklink.check(server_key_of(request), token, now=time.time(), incident_id=shown)
    except acklink.AckLinkError as err:
        return _refused(request, err)
    try:
        state = await temporal.act(client, grant.incident_id, "acknowledge",
                                   {"by": grant.person, "note": "acknowledged from the page's link"})
    except temporal.UnknownIncident:
        return _page(request, 404, heading="Incident not found", grant=grant, reason="unknown",
                     error=f"incident {grant.incident_id} is not running any more (or never was)")
    except temporal.ActionRefused as err:
        return _page(request, 409, heading="Not acknowledged", grant=grant, reason="refused", error=str(err))
    return _page(request, 200, heading="Acknowledged", grant=grant, state=state, done=True)
