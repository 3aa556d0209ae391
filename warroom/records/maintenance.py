"""Maintenance windows in the records (docs/maintenance.md).

Room: records (warroom/records). Written by the API (a window made or ended early) and by the
window's workflow through activities/maintenance.py (its end on time); read by the API's
intake (does a window hold this alert?), the API, the CLI and the console, never by workflows/.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.classify import split_incident_id
from warroom.maintenance import Window
from warroom.records.models import IncidentRow, MaintenanceWindowRow, TimelineRow, now_utc

OPEN = ("triggered", "acknowledged")


def _view(row: MaintenanceWindowRow) -> Window:
    return Window(id=row.id, starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason,
                  created_by=row.created_by, service=row.service, matchers=list(row.matchers or []),
                  integration=row.integration, created_at=row.created_at, ended_at=row.ended_at,
                  ended_by=row.ended_by)


def new_window_id() -> str:
    return f"mw-{secrets.token_hex(4)}"


def create_window(engine: Engine, *, starts_at: datetime, ends_at: datetime, reason: str, created_by: str,
                  service: str = "", matchers: list[str] | None = None, integration: str = "",
                  window_id: str | None = None) -> Window:
    row = MaintenanceWindowRow(id=window_id or new_window_id(), service=service, matchers=list(matchers or []),
                               integration=integration, starts_at=starts_at, ends_at=ends_at, reason=reason,
                               created_by=created_by, created_at=now_utc(), ended_at=None, ended_by="")
    with Session(engine) as session, session.begin():
        session.add(row)
        session.flush()
        return _view(row)


def window(engine: Engine, window_id: str) -> Window | None:
    with Session(engine) as session:
        row = session.get(MaintenanceWindowRow, window_id)
        return _view(row) if row is not None else None


def windows(engine: Engine, *, include_ended: bool = True, limit: int = 200) -> list[Window]:
    """Newest start first; without the ended ones when include_ended is False."""
    q = select(MaintenanceWindowRow).order_by(MaintenanceWindowRow.starts_at.desc()).limit(limit)
    if not include_ended:
        q = q.where(MaintenanceWindowRow.ended_at.is_(None), MaintenanceWindowRow.ends_at > now_utc())
    with Session(engine) as session:
        return [_view(r) for r in session.scalars(q)]


def current_windows(engine: Engine, now: datetime) -> list[Window]:
    """The windows not ended by `now` (scheduled or active): what intake matches alerts against."""
    q = select(MaintenanceWindowRow).where(MaintenanceWindowRow.ended_at.is_(None),
                                           MaintenanceWindowRow.ends_at > now)
    with Session(engine) as session:
        return [_view(r) for r in session.scalars(q)]


def end_window(engine: Engine, window_id: str, *, at: datetime, by: str) -> bool:
    """Record the end (idempotent): False when it was recorded already."""
    with engine.begin() as conn:
        done = conn.execute(update(MaintenanceWindowRow)
                            .where(MaintenanceWindowRow.id == window_id, MaintenanceWindowRow.ended_at.is_(None))
                            .values(ended_at=at, ended_by=by))
        return bool(done.rowcount)


def affected_open_incidents(engine: Engine, w: Window) -> list[str]:
    """The workflow ids of the open incidents the window matches (service, and the labels and
    integration their trigger recorded), oldest first. An incident made by a worker without the
    maintenance-windows patch recorded no labels: it matches a window of its service only."""
    with Session(engine) as session:
        q = select(IncidentRow).where(IncidentRow.status.in_(OPEN)).order_by(IncidentRow.created_at)
        if w.service:
            q = q.where(IncidentRow.service == w.service)
        rows = list(session.scalars(q))
        if not rows:
            return []
        triggers: dict[str, dict[str, Any]] = {}
        for t in session.scalars(select(TimelineRow).where(
                TimelineRow.run_id.in_([r.run_id for r in rows]), TimelineRow.type == "triggered")):
            triggers[t.run_id] = t.details or {}
    found = []
    for r in rows:
        d = triggers.get(r.run_id, {})
        if w.matches(service=r.service, labels=d.get("labels") or {}, integration=d.get("integration") or ""):
            found.append(split_incident_id(r.incident_id)[0])
    return found
