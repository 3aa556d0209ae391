"""Room: api (HTTP edge) — post-incident reports, communications and SLA figures.

Reads the records database (RecordsDep) through warroom.records.reports. Roles are added
where the router is included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from api.body import JsonRoute
from api.deps import IncidentId, RecordsDep, SettingsDep
from warroom import records
from warroom.records import reports
from warroom.records import statistics as stats
from warroom.timeparse import parse_time

router = APIRouter(route_class=JsonRoute, tags=["reports"])


@router.get("/api/v1/incidents/{incident_id}/report", response_class=Response,
            responses={200: {"content": {"text/markdown": {}, "text/html": {}}}, 404: {}})
def incident_report(db: RecordsDep, incident_id: IncidentId,
                    format: Annotated[Literal["md", "markdown", "html"], Query()] = "md") -> Response:
    report = reports.incident_report(db, incident_id)
    if report is None:
        raise HTTPException(status_code=404, detail=f"no recorded incident {incident_id}")
    if format == "html":
        return HTMLResponse(reports.render_html(report))
    return Response(reports.render_markdown(report), media_type="text/markdown; charset=utf-8")


@router.get("/api/v1/incidents/{incident_id}/communications", responses={404: {}})
def incident_communications(db: RecordsDep, incident_id: IncidentId) -> dict[str, Any]:
    """Every message of the incident (pages, stakeholder updates, reminders, war-room posts) with
    its delivery status, and each try of a person's contact point (secrets masked)."""
    comms = records.communications(db, incident_id=incident_id)
    if not comms and records.incident(db, incident_id=incident_id) is None:
        raise HTTPException(status_code=404, detail=f"no recorded incident {incident_id}")
    tries: dict[str, list[dict[str, Any]]] = {}
    for d in records.deliveries(db, incident_id=incident_id):
        tries.setdefault(d.communication_key, []).append(
            {"person": d.person, "contact_kind": d.contact_kind, "contact": d.contact, "status": d.status,
             "attempts": d.attempts, "error": d.error, "sent_at": d.sent_at})
    return {"incident_id": incident_id, "communications": [
        {"key": c.key, "kind": c.kind, "target": c.target, "channel": c.channel, "recipients": c.recipients,
         "subject": c.subject, "status": c.status, "attempts": c.attempts, "error": c.error,
         "created_at": c.created_at, "sent_at": c.sent_at, "deliveries": tries.get(c.key, [])} for c in comms]}


@router.get("/api/v1/metrics/sla")
def sla_metrics(db: RecordsDep,
                from_: Annotated[datetime | None, Query(alias="from")] = None,
                to: Annotated[datetime | None, Query()] = None,
                priority: Annotated[str | None, Query(pattern="^P[0-4]$")] = None,
                service: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    # a bound without an offset means UTC; one with an offset is echoed in `filters` as written
    start, end = (parse_time(d, keep_offset=True) if d else None for d in (from_, to))
    return reports.sla_figures(db, start=start, end=end,
                               priority=priority, service=service)


@router.get("/api/v1/statistics")
def incident_statistics(db: RecordsDep, settings: SettingsDep,
                        days: Annotated[int, Query(ge=1, le=stats.MAX_DAYS,
                                                   description="the window: this many days before now")] = 30,
                        service: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    """Per category and priority over the last `days` days (default 30): count, still open,
    mean and median time to acknowledge and to resolve (definitions in warroom/records/statistics.py)."""
    return stats.incident_statistics(db, days=days, service=service or None,
                                     keywords=stats.configured_keywords(settings.classification_file))
