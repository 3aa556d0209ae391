"""Room: api (HTTP edge) — the console's heartbeats page: every monitor with its state, last
ping, when the next is due and, when down, the incident its miss opened. Server-rendered from
the records (what GET /api/v1/heartbeats answers), for every signed-in reader.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.body import JsonRoute
from api.deps import RecordsDep
from api.routes.console import SignedIn, page, span
from warroom.records import heartbeats as monitors

router = APIRouter(route_class=JsonRoute, include_in_schema=False)


def rows(db: Any, now: datetime) -> list[dict[str, Any]]:
    out = []
    for m in monitors.list_monitors(db):
        due = (m.last_ping_at + timedelta(seconds=m.interval_seconds)
               if m.state == "up" and m.last_ping_at else None)
        out.append({"name": m.name, "state": m.state, "interval": monitors.human(m.interval_seconds),
                    "priority": m.priority, "service": m.service, "integration": m.integration or "",
                    "last_ping_at": m.last_ping_at, "last_source": m.last_source,
                    "last_ping": f"{span((now - m.last_ping_at).total_seconds())} ago" if m.last_ping_at else "never",
                    "due": due, "incident_id": m.incident_id if m.state == "down" else "",
                    "down_for": span((now - m.down_since).total_seconds()) if m.state == "down" and m.down_since
                    else ""})
    order = {"down": 0, "up": 1, "new": 2}
    return sorted(out, key=lambda r: (order.get(r["state"], 3), r["name"]))


@router.get("/heartbeats", response_class=HTMLResponse)
async def heartbeats_page(request: Request, db: RecordsDep, who: SignedIn) -> Response:
    now = datetime.now(UTC)
    return page(request, "console/heartbeats.html", who, rows=await run_in_threadpool(rows, db, now))
