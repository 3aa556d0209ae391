"""Records: SQLAlchemy models and the few data-access functions the activities need.

Room: database. Imported by activities/ and the API, never by workflows/. Every write is
an idempotent upsert keyed by what the workflow sends (run id + event seq, notification
key), so a retried or replayed activity never writes a row twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out, on SQLite (which drops tzinfo) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class IncidentRow(Base):
    __tablename__ = "incidents"
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # first run of the chain
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    workflow: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(255), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    priority: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(32))
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    commander: Mapped[str | None] = mapped_column(String(255), nullable=True)
    runbook: Mapped[str] = mapped_column(String(255), default="")
    runbook_version: Mapped[str] = mapped_column(String(64), default="")
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # From the triggering alert (its `triggered` event).
    dedup_key: Mapped[str] = mapped_column(String(255), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Impact stopped: the first of alert resolved by its source, resolve requested, verification
    # passed, resolved; cleared by a reopen (docs/records.md).
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The SLA deadlines as of the last record (the workflow's Deadlines; None when not running).
    ack_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_update_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolve_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TimelineRow(Base):
    __tablename__ = "timeline_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_timeline_run_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CommunicationRow(Base):
    __tablename__ = "communications"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # INITIAL | UPDATE | RESOLUTION | FOLLOW_UP | ...
    target: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(64), default="")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # SENT | FAILED | PENDING
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryRow(Base):
    """One attempt to reach one person through one contact point for one communication.
    Recorded PENDING before sending and SENT / FAILED after: a retried activity skips every
    delivery already SENT (docs/channels.md: the one window where a duplicate is possible)."""

    __tablename__ = "deliveries"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # {communication key}:{person}:{contact index}
    communication_key: Mapped[str] = mapped_column(String(255), index=True)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    person: Mapped[str] = mapped_column(String(255))
    contact_kind: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(Text)  # the Apprise URL with its secrets masked
    status: Mapped[str] = mapped_column(String(16), default="PENDING")  # SENT | FAILED | PENDING
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WarRoomRow(Base):
    """The incident's war room, so status updates can be posted into it."""

    __tablename__ = "war_rooms"
    incident_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text, default="")
    bridge: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EscalationRow(Base):
    """One `escalated` event: from which level to which, why, by whom."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_escalation_run_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_level: Mapped[int] = mapped_column(Integer)
    to_level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))  # ack_timeout | no_progress | resolve_target | manual | ...
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")


class PriorityChangeRow(Base):
    """One `priority.changed` event: who changed the priority, from what to what, and why."""

    __tablename__ = "priority_changes"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_priority_change_run_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_priority: Mapped[str] = mapped_column(String(4))
    to_priority: Mapped[str] = mapped_column(String(4))
    direction: Mapped[str] = mapped_column(String(16))  # upgrade | downgrade
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(255))


class ReviewRow(Base):
    """The submitted post-incident review of an incident (one per incident)."""

    __tablename__ = "reviews"
    incident_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    by: Mapped[str] = mapped_column(String(255))
    root_cause: Mapped[str] = mapped_column(Text)
    contributing_factors: Mapped[list[str]] = mapped_column(JSON, default=list)
    lessons: Mapped[list[str]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ActionItemRow(Base):
    """A follow-up from a review: what, who owns it, by when."""

    __tablename__ = "action_items"
    __table_args__ = (UniqueConstraint("incident_id", "position", name="uq_action_item_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in the review, from 1
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255), default="")
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done


class ApiKeyRow(Base):
    """An API key: its role and, for an integration, how its alerts are read and checked.
    Only the SHA-256 of the key is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise a key in a list
    format: Mapped[str | None] = mapped_column(String(32), nullable=True)  # integrations: the source format
    # Kept as given: checking an HMAC needs the secret itself (docs/integrations.md).
    signing_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # custom integrations
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn: Any, _: Any) -> None:  # concurrent readers beside the worker
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


class KnownIssueRow(Base):
    """What a reviewed incident taught: its symptoms, root cause and how it was fixed, for the
    next incident of the same category and service (assess puts the matches in the incident)."""

    __tablename__ = "known_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str] = mapped_column(String(255), index=True, default="")
    symptoms: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")
    fix_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_incident: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KnownIssueUseRow(Base):
    """A known issue offered to an incident, and whether that incident was resolved: times used
    and success rate are counted from these (idempotent: one row per issue and incident)."""

    __tablename__ = "known_issue_uses"
    __table_args__ = (UniqueConstraint("issue_id", "incident_id", name="uq_known_issue_use"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(Integer, index=True)
    incident_id: Mapped[str] = mapped_column(String(255), index=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"  # the schema `create_all` made before migrations existed


def _alembic(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def create_schema(engine: Engine) -> None:
    """Bring the records schema to the newest migration (Alembic). A database made before
    migrations existed (tables, no alembic_version) is stamped at the first revision first."""
    from alembic import command
    from sqlalchemy import inspect

    with engine.begin() as conn:
        tables = set(inspect(conn).get_table_names())
        cfg = _alembic(conn)
        if "alembic_version" not in tables and "incidents" in tables:
            # made by create_all before migrations: stamp what it already has
            command.stamp(cfg, "0002" if "api_keys" in tables else FIRST_REVISION)
        command.upgrade(cfg, "head")


def schema_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _insert(engine: Engine, table: Any) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def now_utc() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ timeline + incident


# Events that mean the impact stopped (the first one sets mitigated_at; a reopen clears it).
MITIGATION_EVENTS = frozenset({"alert.resolved", "resolve.requested", "verification.passed", "resolved"})
DEADLINE_COLUMNS = ("ack_due", "next_update_due", "resolve_due", "review_due")


def _snapshot_row(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The incident columns a snapshot (and the batch of events recorded with it) sets."""
    row = {k: snapshot.get(k) for k in IncidentRow.__table__.columns.keys() if k in snapshot}
    deadlines = snapshot.get("deadlines") or {}
    row.update({k: deadlines.get(k) for k in DEADLINE_COLUMNS})
    for e in events:
        if e["type"] == "triggered":
            row["dedup_key"] = str(e["details"].get("dedup_key") or "")[:255]
            row["description"] = str(e["details"].get("description") or "")
    return row


def _mitigation(events: list[dict[str, Any]], current: datetime | None) -> tuple[bool, datetime | None]:
    """(changed, mitigated_at) after this batch: the first mitigation event sets it, a reopen clears it."""
    at, changed = current, False
    for e in events:
        if e["type"] == "reopened":
            at, changed = None, True
        elif e["type"] in MITIGATION_EVENTS and at is None:
            at, changed = e["at"], True
    return changed, at


def _record_detail(session: Session, engine: Engine, *, run_id: str, incident_id: str,
                   snapshot: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Escalations, priority changes and the review as rows of their own, keyed like the
    timeline (run id + seq; the review by incident), so a repeated batch writes nothing new."""
    esc = [dict(run_id=run_id, seq=e["seq"], incident_id=incident_id, at=e["at"],
                from_level=int(e["details"].get("previous_level") or 0), to_level=int(e["details"].get("level") or 0),
                reason=str(e["details"].get("reason") or ""), actor=e["actor"], note=str(e["details"].get("note") or ""))
           for e in events if e["type"] == "escalated"]
    if esc:
        session.execute(_insert(engine, EscalationRow).values(esc)
                        .on_conflict_do_nothing(index_elements=["run_id", "seq"]))
    changes = [dict(run_id=run_id, seq=e["seq"], incident_id=incident_id, at=e["at"],
                    from_priority=str(e["details"].get("from") or ""), to_priority=str(e["details"].get("to") or ""),
                    direction=str(e["details"].get("direction") or ""), reason=str(e["details"].get("reason") or ""),
                    actor=e["actor"]) for e in events if e["type"] == "priority.changed"]
    if changes:
        session.execute(_insert(engine, PriorityChangeRow).values(changes)
                        .on_conflict_do_nothing(index_elements=["run_id", "seq"]))
    # A page sent while the records were down has no communication row yet: write it from the
    # timeline (the normal path claimed it before sending, and this finds it there).
    comms = [dict(key=str(e["details"]["key"]), incident_id=incident_id, kind=str(e["details"].get("kind") or ""),
                  target=str(e["details"].get("target") or ""), channel=str(e["details"].get("channel") or "")[:64],
                  recipients=list(e["details"].get("recipients") or []), subject=str(e["details"].get("subject") or ""),
                  body="", status=str(e["details"].get("status") or ("FAILED" if e["type"] == "notification.failed"
                                                                    else "SENT")),
                  attempts=1, error=str(e["details"].get("error") or ""), created_at=e["at"],
                  sent_at=e["at"] if e["type"] == "notification.sent" else None)
             for e in events if e["type"] in ("notification.sent", "notification.failed") and e["details"].get("key")]
    if comms:
        session.execute(_insert(engine, CommunicationRow).values(comms)
                        .on_conflict_do_nothing(index_elements=["key"]))
    review = snapshot.get("review")
    if review and any(e["type"] == "review.submitted" for e in events):
        session.execute(_insert(engine, ReviewRow).values(
            incident_id=incident_id, run_id=run_id, by=review["by"], root_cause=review["root_cause"],
            contributing_factors=list(review.get("contributing_factors") or []),
            lessons=list(review.get("lessons") or []),
            submitted_at=review.get("submitted_at") or events[-1]["at"],
        ).on_conflict_do_nothing(index_elements=["incident_id"]))
        items = [dict(incident_id=incident_id, position=i, **action_item(item))
                 for i, item in enumerate(review.get("action_items") or [], start=1)]
        if items:
            session.execute(_insert(engine, ActionItemRow).values(items)
                            .on_conflict_do_nothing(index_elements=["incident_id", "position"]))


def action_item(item: Any) -> dict[str, Any]:
    """An action item as a review carries it (a plain title, or title/owner/due) as row fields."""
    if isinstance(item, str):
        return {"title": item, "owner": "", "due": None, "status": "open"}
    due = item.get("due") or None
    if isinstance(due, str):
        due = date.fromisoformat(due[:10])
    return {"title": str(item.get("title") or ""), "owner": str(item.get("owner") or ""), "due": due,
            "status": "open"}


def record_events(engine: Engine, *, run_id: str, incident_id: str, snapshot: dict[str, Any],
                  events: list[dict[str, Any]]) -> int:
    """Upsert the incident snapshot and insert the events not yet stored, with the rows they
    imply (escalations, priority changes, review, known issues), in one transaction. Every
    insert is keyed (run id + seq, incident), so a retried batch writes nothing twice.
    Returns the timeline rows written."""
    with Session(engine) as session, session.begin():
        row = _snapshot_row(snapshot, events)
        row.update(run_id=run_id, incident_id=incident_id, updated_at=now_utc())
        current = session.get(IncidentRow, run_id)
        changed, mitigated = _mitigation(events, current.mitigated_at if current else None)
        if changed:
            row["mitigated_at"] = mitigated
        stmt = _insert(engine, IncidentRow).values(**row)
        stmt = stmt.on_conflict_do_update(index_elements=["run_id"],
                                          set_={k: stmt.excluded[k] for k in row if k != "run_id"})
        session.execute(stmt)
        written = 0
        if events:
            ins = _insert(engine, TimelineRow).values([
                dict(run_id=run_id, incident_id=incident_id, seq=e["seq"], at=e["at"], type=e["type"],
                     actor=e["actor"], details=e["details"]) for e in events
            ]).on_conflict_do_nothing(index_elements=["run_id", "seq"])
            written = session.execute(ins).rowcount or 0
            _record_detail(session, engine, run_id=run_id, incident_id=incident_id, snapshot=snapshot,
                           events=events)
            types = {e["type"] for e in events}
            if "review.submitted" in types and snapshot.get("service"):  # knowledge is per service
                _learn(session, engine, incident_id=incident_id, snapshot=snapshot,
                       review=[e for e in events if e["type"] == "review.submitted"][-1])
            if "resolved" in types:
                session.execute(update(KnownIssueUseRow).where(KnownIssueUseRow.incident_id == incident_id)
                                .values(resolved=True))
        return written


def timeline(engine: Engine, *, incident_id: str) -> list[TimelineRow]:
    with Session(engine) as session:
        rows = session.scalars(
            select(TimelineRow).where(TimelineRow.incident_id == incident_id).order_by(TimelineRow.run_id,
                                                                                       TimelineRow.seq)
        )
        return list(rows)


def incident(engine: Engine, *, incident_id: str) -> IncidentRow | None:
    with Session(engine) as session:
        return session.scalars(
            select(IncidentRow).where(IncidentRow.incident_id == incident_id).order_by(IncidentRow.created_at.desc())
        ).first()


# ------------------------------------------------------------------ communications


def claim_communication(engine: Engine, *, key: str, incident_id: str, kind: str, target: str,
                        subject: str, body: str) -> CommunicationRow:
    """Insert the message as PENDING unless it exists; return the stored row either way."""
    with Session(engine) as session, session.begin():
        session.execute(
            _insert(engine, CommunicationRow).values(
                key=key, incident_id=incident_id, kind=kind, target=target, subject=subject, body=body,
                status="PENDING", attempts=0, error="", recipients=[], channel="", created_at=now_utc(),
            ).on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.get(CommunicationRow, key)
        assert row is not None
        row.attempts += 1
        session.flush()
        session.expunge(row)
        return row


def finish_communication(engine: Engine, *, key: str, status: str, channel: str, recipients: list[str],
                         error: str = "") -> None:
    with Session(engine) as session, session.begin():
        row = session.get(CommunicationRow, key)
        if row is None:
            return
        row.status, row.channel, row.recipients, row.error = status, channel, recipients, error
        row.sent_at = now_utc() if status == "SENT" else None


def detail(engine: Engine, *, incident_id: str) -> dict[str, list[Any]]:
    """The incident's escalations, priority changes, review and action items, in order."""
    with Session(engine) as session:
        def rows(model: Any, *order: Any) -> list[Any]:
            return list(session.scalars(select(model).where(model.incident_id == incident_id).order_by(*order)))

        return {"escalations": rows(EscalationRow, EscalationRow.at, EscalationRow.seq),
                "priority_changes": rows(PriorityChangeRow, PriorityChangeRow.at, PriorityChangeRow.seq),
                "reviews": rows(ReviewRow, ReviewRow.submitted_at),
                "action_items": rows(ActionItemRow, ActionItemRow.position)}


def claim_delivery(engine: Engine, *, key: str, communication_key: str, incident_id: str, person: str,
                   contact_kind: str, contact: str) -> DeliveryRow:
    """Record the delivery as PENDING unless it exists, count the attempt, return the row."""
    with Session(engine) as session, session.begin():
        session.execute(_insert(engine, DeliveryRow).values(
            key=key, communication_key=communication_key, incident_id=incident_id, person=person,
            contact_kind=contact_kind, contact=contact, status="PENDING", attempts=0, error="", created_at=now_utc(),
        ).on_conflict_do_nothing(index_elements=["key"]))
        row = session.get(DeliveryRow, key)
        assert row is not None
        if row.status != "SENT":
            row.attempts += 1
        session.flush()
        session.expunge(row)
        return row


def finish_delivery(engine: Engine, *, key: str, ok: bool, error: str = "") -> None:
    with Session(engine) as session, session.begin():
        row = session.get(DeliveryRow, key)
        if row is not None and row.status != "SENT":
            row.status, row.error = ("SENT", "") if ok else ("FAILED", error)
            row.sent_at = now_utc() if ok else None


def deliveries(engine: Engine, *, incident_id: str) -> list[DeliveryRow]:
    with Session(engine) as session:
        return list(session.scalars(select(DeliveryRow).where(DeliveryRow.incident_id == incident_id)
                                    .order_by(DeliveryRow.created_at, DeliveryRow.key)))


def save_war_room(engine: Engine, *, incident_id: str, provider: str, channel: str, url: str, bridge: str) -> None:
    with Session(engine) as session, session.begin():
        session.execute(_insert(engine, WarRoomRow).values(
            incident_id=incident_id, provider=provider, channel=channel, url=url, bridge=bridge, created_at=now_utc(),
        ).on_conflict_do_nothing(index_elements=["incident_id"]))


def war_room(engine: Engine, *, incident_id: str) -> WarRoomRow | None:
    with Session(engine) as session:
        return session.get(WarRoomRow, incident_id)


def communications(engine: Engine, *, incident_id: str) -> list[CommunicationRow]:
    with Session(engine) as session:
        return list(session.scalars(
            select(CommunicationRow).where(CommunicationRow.incident_id == incident_id)
            .order_by(CommunicationRow.created_at, CommunicationRow.key)))


def count_incidents(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(IncidentRow)) or 0


def list_incidents(engine: Engine, *, status: list[str] | None = None, priority: list[str] | None = None,
                   service: list[str] | None = None, phase: list[str] | None = None, limit: int = 50,
                   offset: int = 0) -> tuple[list[IncidentRow], int]:
    """Incidents as recorded, newest first, with the total matching the filters (each filter
    is a list of accepted values; empty or None means any)."""
    conds = [col.in_(vals) for col, vals in ((IncidentRow.status, status), (IncidentRow.priority, priority),
                                            (IncidentRow.service, service), (IncidentRow.phase, phase)) if vals]
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(IncidentRow).where(*conds)) or 0
        rows = session.scalars(select(IncidentRow).where(*conds)
                               .order_by(IncidentRow.created_at.desc(), IncidentRow.run_id)
                               .limit(limit).offset(offset))
        return list(rows), total


def recorded_incident(engine: Engine, incident_id: str) -> dict[str, Any] | None:
    """An incident as the records keep it (the state's recorded fields and the whole timeline),
    for one that is no longer live in Temporal. `"recorded": true` says where it came from."""
    row = incident(engine, incident_id=incident_id)
    if row is None:
        return None
    out: dict[str, Any] = {c: getattr(row, c) for c in IncidentRow.__table__.columns.keys() if c != "run_id"}
    out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}
    out["timeline"] = [{"seq": e.seq, "at": e.at.isoformat(), "type": e.type, "actor": e.actor, "details": e.details}
                       for e in timeline(engine, incident_id=incident_id)]
    out["recorded"] = True
    return out


# ------------------------------------------------------------------ known issues


def _learn(session: Session, engine: Engine, *, incident_id: str, snapshot: dict[str, Any],
           review: dict[str, Any]) -> None:
    """A submitted review becomes a known issue: symptoms (the title), root cause, and the fix
    (the resolution and the recovery actions that succeeded), once per incident."""
    rows = session.scalars(select(TimelineRow).where(TimelineRow.incident_id == incident_id)
                           .order_by(TimelineRow.run_id, TimelineRow.seq)).all()
    fix: list[str] = []
    for r in rows:
        if r.type == "action.succeeded" and r.details.get("step"):
            fix.append(f"{r.details['step']}: {r.details.get('detail') or 'succeeded'}")
        elif r.type == "resolved" and r.details.get("resolution"):
            fix.append(str(r.details["resolution"]))
    details = review.get("details") or {}
    session.execute(_insert(engine, KnownIssueRow).values(
        category=snapshot.get("category") or "", service=snapshot.get("service") or "",
        symptoms=snapshot.get("title") or "", root_cause=str(details.get("root_cause") or ""),
        fix_steps=fix, source_incident=incident_id, created_at=now_utc(),
    ).on_conflict_do_nothing(index_elements=["source_incident"]))


def known_issues_for(engine: Engine, *, category: str, service: str, incident_id: str,
                     limit: int = 3) -> list[dict[str, Any]]:
    """Known issues of this category and service (best success rate first), recorded as offered
    to this incident. Each: id, symptoms, root_cause, fix_steps, times_used, success_rate."""
    if not service:
        return []
    with Session(engine) as session, session.begin():
        issues = session.scalars(select(KnownIssueRow).where(
            KnownIssueRow.category == category, KnownIssueRow.service == service,
            KnownIssueRow.source_incident != incident_id)).all()
        if not issues:
            return []
        for issue in issues:
            session.execute(_insert(engine, KnownIssueUseRow).values(
                issue_id=issue.id, incident_id=incident_id, resolved=False,
            ).on_conflict_do_nothing(index_elements=["issue_id", "incident_id"]))
        session.flush()
        out = []
        for issue in issues:
            used, resolved = session.execute(
                select(func.count(), func.count().filter(KnownIssueUseRow.resolved.is_(True)))
                .where(KnownIssueUseRow.issue_id == issue.id, KnownIssueUseRow.incident_id != incident_id)).one()
            out.append({"id": issue.id, "symptoms": issue.symptoms, "root_cause": issue.root_cause,
                        "fix_steps": list(issue.fix_steps), "source_incident": issue.source_incident,
                        "times_used": used, "success_rate": round(resolved / used, 2) if used else None})
        out.sort(key=lambda k: (-(k["success_rate"] or 0), -k["id"]))
        return out[:limit]
