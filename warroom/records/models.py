"""Records: the SQLAlchemy tables, the engine and the schema (Alembic migrations).

Room: records (warroom/records). Imported by activities/, the API and the CLI, never by
workflows/. Every write elsewhere in this package is an idempotent upsert keyed by what the
workflow sends (run id + event seq, notification key), so a retried activity never writes twice.
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
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [  # what the package face (warroom/records/__init__.py) hands on
    "FIRST_REVISION", "ActionItemRow", "ApiKeyRow", "Base", "CommunicationRow", "DeliveryRow",
    "AuditRow", "ChangeEventRow", "EscalationRow", "FeedTokenRow", "HandoverNoteRow", "HandoverRow", "HeartbeatRow",
    "IncidentRow", "KnownIssueRow", "KnownIssueUseRow", "PriorityChangeRow", "MaintenanceWindowRow",
    "ReviewRow", "TimelineRow", "WarRoomRow", "_alembic", "create_schema", "make_engine", "now_utc",
    "schema_revision",
]


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
    # A cascade (docs/upgrades.md): the incident this one is a child of (the state's parent_incident).
    parent_incident: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)


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
    # Who acts with the key (an on-call person id or a name); None: the key's own name.
    person: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise a key in a list
    format: Mapped[str | None] = mapped_column(String(32), nullable=True)  # integrations: the source format
    # Kept as given: checking an HMAC needs the secret itself (docs/integrations.md).
    signing_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # custom integrations
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FeedTokenRow(Base):
    """A calendar feed token: it opens one on-call feed (a team's or a person's) and nothing
    else, so it can sit in a calendar app's subscription URL. Only its SHA-256 is stored."""

    __tablename__ = "feed_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    feed: Mapped[str] = mapped_column(String(300))  # team:<id> | person:<id>
    person: Mapped[str] = mapped_column(String(200), index=True)  # who made it (the key's person)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class HandoverNoteRow(Base):
    """A note an on-call person leaves for whoever takes the schedule over next (docs/oncall.md,
    "Hand-over"); `handover_key` says which hand-over carried it (None: not handed over yet)."""

    __tablename__ = "handover_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(255), index=True)
    person: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handover_key: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)


class HandoverRow(Base):
    """One hand-over at a rotation change: who to whom, the team's open incidents, the notes and
    the message sent. Keyed by the workflow's key, so a retried activity writes it once."""

    __tablename__ = "handovers"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(255), index=True)
    team: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    outgoing: Mapped[list[str]] = mapped_column(JSON, default=list)
    incoming: Mapped[list[str]] = mapped_column(JSON, default=list)
    incidents: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChangeEventRow(Base):
    """A change of a service (a deploy, a config push) from PagerDuty's Change Events API, shown
    beside that service's incidents. `fingerprint` makes a sender's retry one row."""

    __tablename__ = "change_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    service: Mapped[str] = mapped_column(String(255), index=True)
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when the change happened
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    integration: Mapped[str] = mapped_column(String(200), default="")  # the sending key's name
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class HeartbeatRow(Base):
    """A heartbeat monitor (warroom/records/heartbeats.py): the ping it expects, what a miss opens,
    and, as its workflow last recorded it, its state. `deleted_at` keeps a deleted one readable."""

    __tablename__ = "heartbeats"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(4))
    service: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    integration: Mapped[str | None] = mapped_column(String(200), nullable=True)  # pinged by its Watchdog
    state: Mapped[str] = mapped_column(String(8), default="new")  # new | up | down
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_source: Mapped[str] = mapped_column(String(255), default="")
    incident_id: Mapped[str] = mapped_column(String(255), default="")  # the current or last outage's
    down_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditRow(Base):
    """One administrative action: who (the key's person, or the CLI's user), what, on which
    target, when, through which door (api | cli). Written by warroom.records.audit; never
    updated or deleted by warroom."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)  # key.created | integration.deleted | ...
    target: Mapped[str] = mapped_column(String(255), default="")  # the key, integration, file or runbook
    via: Mapped[str] = mapped_column(String(16), default="api")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# A pooled connection older than this is replaced at checkout (no round trip): servers,
# proxies and NAT drop idle connections after their own timeouts, typically longer.
POOL_RECYCLE_SECONDS = 1800
SQLITE_BUSY_TIMEOUT_SECONDS = 30  # a writer waits this long for another's lock (sqlite3's timeout)


PG_CONNECT_TIMEOUT_SECONDS = 5  # libpq connect_timeout, unless the URL says otherwise


def make_engine(url: str) -> Engine:
    """The records engine. No connection check on checkout (pool_pre_ping would cost a round
    trip, and on PostgreSQL a transaction, per checkout): connections are recycled after
    POOL_RECYCLE_SECONDS, and one the server dropped in between fails its call with an error
    that says so (`connection_invalidated`); SQLAlchemy then replaces the pool's connections, and
    the activities call records again at once (activities/common.py) or Temporal retries them."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs: dict[str, Any] = {"pool_recycle": POOL_RECYCLE_SECONDS}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    elif "connect_timeout=" not in url:  # a server that does not answer fails the call, never hangs it
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers (API, console) beside the worker's writes
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, one fsync fewer per commit
            # the same wait as sqlite3's timeout above, said where the other pragmas are
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
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


class MaintenanceWindowRow(Base):
    """A maintenance window (warroom/records/maintenance.py): alerts it matches page nobody."""

    __tablename__ = "maintenance_windows"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service: Mapped[str] = mapped_column(String(255), default="")
    matchers: Mapped[list[str]] = mapped_column(JSON, default=list)
    integration: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # ended (early or on time)
    ended_by: Mapped[str] = mapped_column(String(255), default="")  # "" on time


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
