"""Heartbeat monitors: a job or a monitoring pipeline that must ping warroom every interval.

Room: records (warroom/records; written by the API (create, delete, a ping's arrival) and by
the heartbeat activities (down with its incident, up again), read by the API, the CLI and the
console; never by workflows/). The monitor's running state lives in its workflow
(workflows/heartbeat.py); this row is what the lists show without asking Temporal, and what
outlives the workflow. docs/heartbeats.md has the rules.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.keys import NAME_RE
from warroom.records.models import HeartbeatRow, now_utc

PRIORITIES = ("P0", "P1", "P2", "P3", "P4")
MIN_INTERVAL = 1  # second: short intervals are for tests and rehearsals (docs/heartbeats.md)
MAX_INTERVAL = 366 * 24 * 3600


class HeartbeatProblem(ValueError):
    """A monitor cannot be made or found; str() says why, naming the field."""


@dataclass
class Monitor:
    id: str
    name: str
    interval_seconds: int
    priority: str
    service: str
    title: str
    integration: str | None
    state: str
    last_ping_at: datetime | None
    last_source: str
    incident_id: str
    down_since: datetime | None
    created_at: datetime
    deleted_at: datetime | None = None

    @property
    def alert_title(self) -> str:
        return self.title or f"Heartbeat {self.name} missed"

    def public(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat() if v else None

        return {"id": self.id, "name": self.name, "interval_seconds": self.interval_seconds,
                "interval": human(self.interval_seconds), "priority": self.priority, "service": self.service,
                "title": self.alert_title, "integration": self.integration, "state": self.state,
                "last_ping_at": iso(self.last_ping_at), "last_source": self.last_source,
                "incident_id": self.incident_id or None, "down_since": iso(self.down_since),
                "created_at": iso(self.created_at), "deleted_at": iso(self.deleted_at)}


def human(seconds: int) -> str:
    """90 -> '1m30s', 3600 -> '1h', 5 -> '5s'."""
    out, rest = "", seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out or "0s"


def _view(row: HeartbeatRow) -> Monitor:
    return Monitor(id=row.id, name=row.name, interval_seconds=row.interval_seconds, priority=row.priority,
                   service=row.service, title=row.title, integration=row.integration, state=row.state,
                   last_ping_at=row.last_ping_at, last_source=row.last_source, incident_id=row.incident_id,
                   down_since=row.down_since, created_at=row.created_at, deleted_at=row.deleted_at)


def _active(session: Session, name: str) -> HeartbeatRow | None:
    return session.scalars(select(HeartbeatRow).where(HeartbeatRow.name == name,
                                                      HeartbeatRow.deleted_at.is_(None))).first()


def interval_of(value: Any) -> int:
    """Whole seconds from '5m', '1h30m', '90s' or a number of seconds; HeartbeatProblem otherwise."""
    from warroom.timeparse import parse_duration

    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as err:
        raise HeartbeatProblem(f"interval: {err}") from None
    if seconds != int(seconds) or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise HeartbeatProblem(f"interval: {value!r} must be whole seconds from {MIN_INTERVAL} s to 366 days")
    return int(seconds)


def create_monitor(engine: Engine, *, name: str, interval: Any, priority: str = "P2", service: str = "",
                   title: str = "", integration: str | None = None) -> Monitor:
    """Store a new monitor (its workflow starts with its first ping). `integration`, when given,
    must name an active integration key: its Alertmanager Watchdog pings this monitor, and
    only it (or an admin) may ping it."""
    from warroom.records import keys as auth

    if not NAME_RE.match(name or ""):
        raise HeartbeatProblem(f"name {name!r}: letters, digits, '.', '_' or '-', at most 100, starting with a "
                               "letter or digit")
    seconds = interval_of(interval)
    priority = (priority or "").upper()
    if priority not in PRIORITIES:
        raise HeartbeatProblem(f"priority {priority!r}: one of {', '.join(PRIORITIES)}")
    if len(service) > 255 or len(title) > 500:
        raise HeartbeatProblem("service: at most 255 characters; title: at most 500")
    if integration is not None and auth.find(engine, integration, role="integration") is None:
        raise HeartbeatProblem(f"integration {integration!r}: no integration by that name (warroom integrations list)")
    with Session(engine) as session, session.begin():
        if _active(session, name) is not None:
            raise HeartbeatProblem(f"name {name!r} is already a heartbeat; delete it first")
        row = HeartbeatRow(id="hb" + secrets.token_hex(6), name=name, interval_seconds=seconds, priority=priority,
                           service=service.strip(), title=title.strip(), integration=integration, state="new",
                           last_source="", incident_id="", created_at=now_utc())
        session.add(row)
        session.flush()
        return _view(row)


def list_monitors(engine: Engine, *, integration: str | None = None) -> list[Monitor]:
    """The active monitors by name (those bound to `integration` when given)."""
    q = select(HeartbeatRow).where(HeartbeatRow.deleted_at.is_(None)).order_by(HeartbeatRow.name)
    if integration is not None:
        q = q.where(HeartbeatRow.integration == integration)
    with Session(engine) as session:
        return [_view(r) for r in session.scalars(q)]


def find(engine: Engine, name: str) -> Monitor | None:
    with Session(engine) as session:
        row = _active(session, name)
        return _view(row) if row is not None else None


def delete_monitor(engine: Engine, name: str) -> Monitor:
    with Session(engine) as session, session.begin():
        row = _active(session, name)
        if row is None:
            raise HeartbeatProblem(f"no heartbeat named {name!r}")
        row.deleted_at = now_utc()
        session.flush()
        return _view(row)


def pinged(engine: Engine, monitor_id: str, *, at: datetime, source: str) -> None:
    """A ping reached the monitor's workflow: its last ping, and `up` if it was new."""
    with engine.begin() as conn:
        conn.execute(update(HeartbeatRow).where(HeartbeatRow.id == monitor_id)
                     .values(last_ping_at=at, last_source=source[:255]))
        conn.execute(update(HeartbeatRow).where(HeartbeatRow.id == monitor_id, HeartbeatRow.state == "new")
                     .values(state="up"))


def alive(engine: Engine, monitor_id: str) -> bool:
    with Session(engine) as session:
        row = session.get(HeartbeatRow, monitor_id)
        return row is not None and row.deleted_at is None


def went_down(engine: Engine, monitor_id: str, *, incident_id: str, since: datetime,
              last_ping_at: datetime | None = None) -> None:
    """The monitor missed the ping due at `since`; its workflow's last ping fills in one the
    API could not write (the records were down when it came)."""
    with engine.begin() as conn:
        conn.execute(update(HeartbeatRow).where(HeartbeatRow.id == monitor_id)
                     .values(state="down", incident_id=incident_id, down_since=since))
        if last_ping_at is not None:
            conn.execute(update(HeartbeatRow).where(
                HeartbeatRow.id == monitor_id,
                (HeartbeatRow.last_ping_at.is_(None)) | (HeartbeatRow.last_ping_at < last_ping_at))
                .values(last_ping_at=last_ping_at))


def came_up(engine: Engine, monitor_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(HeartbeatRow).where(HeartbeatRow.id == monitor_id)
                     .values(state="up", down_since=None))

