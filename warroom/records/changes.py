"""Change events: what changed in a service (deploys, config pushes), kept to explain its incidents.

Room: records (warroom/records; written by the API's /v2/change/enqueue, read by the incident
API and the console, never by workflows/). An incident is shown the changes of its service
from CHANGES_BEFORE before it opened until it was resolved (or now), each with how long
before or after the alert it happened: "4 min before the alert", as PagerDuty's "recent
changes" and incident.io's related changes do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.models import ChangeEventRow, _insert, now_utc

CHANGES_BEFORE = timedelta(hours=24)
MAX_SHOWN = 20


@dataclass
class Change:
    id: int
    service: str
    summary: str
    source: str
    at: datetime
    integration: str
    details: dict[str, Any]
    links: list[dict[str, str]]

    def public(self, alert_at: datetime | None = None) -> dict[str, Any]:
        out = {"id": self.id, "service": self.service, "summary": self.summary, "source": self.source,
               "at": self.at.isoformat(), "integration": self.integration, "details": self.details,
               "links": self.links}
        if alert_at is not None:
            out["relative"] = relative(self.at, alert_at)
        return out


def relative(at: datetime, alert_at: datetime) -> str:
    """`4 min before the alert`, `1 h 05 min after the alert`, `at the alert` (whole minutes)."""
    minutes = round((alert_at - at).total_seconds() / 60)
    if minutes == 0:
        return "at the alert"
    n = abs(minutes)
    span = (f"{n} min" if n < 60 else f"{n // 60} h {n % 60:02d} min" if n < 1440
            else f"{n // 1440} d {n % 1440 // 60} h {n % 60:02d} min")  # exact: never a whole day or hour
    return f"{span} {'before' if minutes > 0 else 'after'} the alert"


def _view(row: ChangeEventRow) -> Change:
    return Change(id=row.id, service=row.service, summary=row.summary, source=row.source, at=row.at,
                  integration=row.integration, details=row.details or {}, links=row.links or [])


def record_change(engine: Engine, *, service: str, summary: str, source: str, at: datetime | None,
                  details: dict[str, Any], links: list[dict[str, str]], integration: str) -> bool:
    """Keep a change; False when the same change was kept already (a sender's retry)."""
    received = now_utc()
    fingerprint = hashlib.sha256(json.dumps(
        [integration, service, summary, source, at.isoformat() if at else "", details, links],
        sort_keys=True, default=str).encode()).hexdigest()
    if at is None:  # no timestamp: every send is a change of its own moment
        fingerprint = hashlib.sha256((fingerprint + received.isoformat()).encode()).hexdigest()
    with engine.begin() as conn:
        done = conn.execute(_insert(engine, ChangeEventRow).values(
            fingerprint=fingerprint, service=service, summary=summary, source=source, at=at or received,
            received_at=received, integration=integration, details=details, links=links,
        ).on_conflict_do_nothing(index_elements=["fingerprint"]))
        return bool(done.rowcount)


def changes(engine: Engine, *, service: str | None = None, start: datetime | None = None,
            end: datetime | None = None, limit: int = 50) -> list[Change]:
    """Changes newest first, of one service and within [start, end] when given."""
    q = select(ChangeEventRow).order_by(ChangeEventRow.at.desc(), ChangeEventRow.id.desc()).limit(limit)
    if service is not None:
        q = q.where(ChangeEventRow.service == service)
    if start is not None:
        q = q.where(ChangeEventRow.at >= start)
    if end is not None:
        q = q.where(ChangeEventRow.at <= end)
    with Session(engine) as session:
        return [_view(r) for r in session.scalars(q)]


def changes_near(engine: Engine, *, service: str, alert_at: datetime | None,
                 resolved_at: datetime | None = None) -> list[dict[str, Any]]:
    """The changes an incident of `service` opened at `alert_at` is shown, newest first."""
    if not service or alert_at is None:
        return []
    found = changes(engine, service=service, start=alert_at - CHANGES_BEFORE, end=resolved_at or now_utc(),
                    limit=MAX_SHOWN)
    return [c.public(alert_at) for c in found]


def changes_for_incident(engine: Engine, incident: dict[str, Any]) -> list[dict[str, Any]]:
    """changes_near for an incident as the API answers it (its service, created_at and resolved_at
    as ISO text or datetimes)."""
    def moment(value: Any) -> datetime | None:
        return value if isinstance(value, datetime) or value is None else datetime.fromisoformat(str(value))

    return changes_near(engine, service=str(incident.get("service") or ""), alert_at=moment(incident.get("created_at")),
                        resolved_at=moment(incident.get("resolved_at")))
