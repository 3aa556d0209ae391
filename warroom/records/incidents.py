"""Records of incidents: the timeline, the incident row and what its events imply (escalations,
priority changes, the review, known issues), and the queries over them.

Room: records (warroom/records). Written by the record_events activity, read by the API,
reports and the CLI. Every insert is keyed (run id + seq, incident) so a retried batch writes
nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from warroom.records.models import (
    ActionItemRow,
    CommunicationRow,
    DeliveryRow,
    EscalationRow,
    IncidentRow,
    KnownIssueRow,
    KnownIssueUseRow,
    PriorityChangeRow,
    ReviewRow,
    TimelineRow,
    WarRoomRow,
    _insert,
    now_utc,
)
from workflows.calls import war_room_key

__all__ = [  # what the package face (warroom/records/__init__.py) hands on
    "action_item", "count_incidents", "detail", "incident", "known_issues_for", "list_incidents",
    "open_incidents", "record_events", "recorded_incident", "timeline",
]


# ------------------------------------------------------------------ timeline + incident


# Events that mean the impact stopped (the first one sets mitigated_at; a reopen clears it).
MITIGATION_EVENTS = frozenset({"alert.resolved", "resolve.requested", "verification.passed", "resolved"})
DEADLINE_COLUMNS = ("ack_due", "next_update_due", "resolve_due", "review_due")


def _fit(column: str, value: Any) -> Any:
    """A text as its bounded column can hold it: the door bounds what people and senders write
    (docs/limits.md); this keeps what the engine composes from them (an admin acting "for"
    someone) storable on PostgreSQL as on SQLite."""
    length = getattr(IncidentRow.__table__.columns[column].type, "length", None)
    return value[:length] if length and isinstance(value, str) else value


def _snapshot_row(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The incident columns a snapshot (and the batch of events recorded with it) sets."""
    row = {k: _fit(k, snapshot.get(k)) for k in IncidentRow.__table__.columns.keys() if k in snapshot}
    deadlines = snapshot.get("deadlines") or {}
    row.update({k: deadlines.get(k) for k in DEADLINE_COLUMNS})
    for e in events:
        if e["type"] == "triggered":
            row["dedup_key"] = str(e["details"].get("dedup_key") or "")[:255]
            row["description"] = str(e["details"].get("description") or "")
    return row


def _record_detail(session: Connection, engine: Engine, *, run_id: str, incident_id: str,
                   snapshot: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Escalations, priority changes and the review as rows of their own, keyed like the
    timeline (run id + seq; the review by incident), so a repeated batch writes nothing new."""
    esc = [dict(run_id=run_id, seq=e["seq"], incident_id=incident_id, at=e["at"],
                from_level=int(e["details"].get("previous_level") or 0), to_level=int(e["details"].get("level") or 0),
                reason=str(e["details"].get("reason") or "")[:64], actor=e["actor"][:255], note=str(e["details"].get("note") or ""))
           for e in events if e["type"] == "escalated"]
    if esc:
        session.execute(_insert(engine, EscalationRow).on_conflict_do_nothing(index_elements=["run_id", "seq"]),
                        esc)
    changes = [dict(run_id=run_id, seq=e["seq"], incident_id=incident_id, at=e["at"],
                    from_priority=str(e["details"].get("from") or ""), to_priority=str(e["details"].get("to") or ""),
                    direction=str(e["details"].get("direction") or ""), reason=str(e["details"].get("reason") or ""),
                    actor=e["actor"][:255]) for e in events if e["type"] == "priority.changed"]
    if changes:
        session.execute(_insert(engine, PriorityChangeRow).on_conflict_do_nothing(index_elements=["run_id", "seq"]),
                        changes)
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
    comms += _war_room_from_timeline(session, engine, run_id=run_id, incident_id=incident_id, snapshot=snapshot,
                                     events=events)
    if comms:
        # rows as parameters (a cached statement; a VALUES literal was compiled every batch). The
        # timeline says what happened: it wins over a claim left PENDING (the records stopped
        # answering between the claim and the send) and over a FAILED attempt that a retry
        # delivered; a row already SENT is kept as written.
        ins = _insert(engine, CommunicationRow)
        session.execute(ins.on_conflict_do_update(
            index_elements=["key"],
            set_={"status": ins.excluded.status, "sent_at": ins.excluded.sent_at, "channel": ins.excluded.channel,
                  "recipients": ins.excluded.recipients, "error": ins.excluded.error},
            where=(CommunicationRow.status == "PENDING")
            | ((CommunicationRow.status == "FAILED") & (ins.excluded.status == "SENT"))), comms)
    _settle_deliveries(session, events)
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


def _settle_deliveries(session: Connection, events: list[dict[str, Any]]) -> None:
    """Deliveries a page's claim left PENDING, settled by what the timeline says became of them:
    a contact point in a `delivery.failed` is FAILED, and every other PENDING one of a person a
    `notification.sent` names among its recipients SENT. A claim that got no answer in time
    (the records frozen or locked) may still be written once they answer, after the page went out
    without its results being recorded: without this its deliveries stayed PENDING for ever
    beside a communication the timeline made SENT. A delivery already SENT or FAILED is kept."""
    failed = [dict(b_ck=str(e["details"]["key"]), b_person=str(e["details"].get("person") or ""),
                   b_kind=str(e["details"].get("contact_kind") or ""), b_contact=str(e["details"].get("contact") or ""),
                   b_error=str(e["details"].get("error") or ""))
              for e in events if e["type"] == "delivery.failed" and e["details"].get("key")]
    if failed:
        session.execute(update(DeliveryRow).where(
            DeliveryRow.communication_key == bindparam("b_ck"), DeliveryRow.person == bindparam("b_person"),
            DeliveryRow.contact_kind == bindparam("b_kind"), DeliveryRow.contact == bindparam("b_contact"),
            DeliveryRow.status == "PENDING").values(status="FAILED", error=bindparam("b_error")), failed)
    reached = [dict(b_ck=str(e["details"]["key"]), b_person=str(person), b_at=e["at"])
               for e in events if e["type"] == "notification.sent" and e["details"].get("key")
               for person in e["details"].get("recipients") or []]
    if reached:
        session.execute(update(DeliveryRow).where(
            DeliveryRow.communication_key == bindparam("b_ck"), DeliveryRow.person == bindparam("b_person"),
            DeliveryRow.status == "PENDING").values(status="SENT", sent_at=bindparam("b_at")), reached)


def _war_room_from_timeline(session: Connection, engine: Engine, *, run_id: str, incident_id: str,
                            snapshot: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A war room opened while the records were down (open_war_room went on without them: its
    claim and `war_room_opened` got no answer) from its `war_room.opened` event: the room's row
    (a room recorded by the activity is kept as written) and its brief as a communication to
    upsert like a page's (returned). The event names the provider only for a room with a URL;
    otherwise it is left empty, which the activities read as the worker's own provider
    (activities/notify.py). Without this the room was never recorded: status updates went to
    a room without a channel and escalated people were not invited, after the outage too."""
    opened = [e for e in events if e["type"] == "war_room.opened"]
    if not opened:
        return []
    e = opened[0]
    d = e["details"]
    channel, provider = str(d.get("channel") or ""), str(d.get("provider") or "")[:16]
    if channel:
        session.execute(_insert(engine, WarRoomRow).values(
            incident_id=incident_id, provider=provider, channel=channel[:255], url=str(d.get("url") or ""),
            bridge=str(d.get("bridge") or ""), created_at=e["at"],
        ).on_conflict_do_nothing(index_elements=["incident_id"]))
    failed = bool(d.get("error")) or not channel
    return [dict(key=war_room_key(run_id), incident_id=incident_id, kind="INITIAL", target="war_room",
                 channel=provider, recipients=[channel] if channel else [],
                 subject=f"[{snapshot.get('priority') or ''}] war room: {snapshot.get('title') or ''}", body="",
                 status="FAILED" if failed else "SENT", attempts=1, error=str(d.get("error") or ""),
                 created_at=e["at"], sent_at=None if failed else e["at"])]


def action_item(item: Any) -> dict[str, Any]:
    """An action item as a review carries it (a plain title, or title/owner/due) as row fields."""
    if isinstance(item, str):
        return {"title": item, "owner": "", "due": None, "status": "open"}
    due = item.get("due") or None
    if isinstance(due, str):
        due = date.fromisoformat(due[:10])
    return {"title": str(item.get("title") or ""), "owner": str(item.get("owner") or ""), "due": due,
            "status": "open"}


def _mitigated(events: list[dict[str, Any]]) -> tuple[bool, datetime | None]:
    """What this batch says of mitigated_at, so the row need not be read first: (reopened,
    candidate). The first mitigation event sets it and a reopen clears it: after a reopen in the
    batch the column is the first mitigation event after the last reopen (or empty); without
    one, the stored value stays and the batch's first mitigation event fills it only if empty."""
    last_reopen = max((i for i, e in enumerate(events) if e["type"] == "reopened"), default=-1)
    first = next((e["at"] for e in events[last_reopen + 1:] if e["type"] in MITIGATION_EVENTS), None)
    return last_reopen >= 0, first


def record_events(engine: Engine, *, run_id: str, incident_id: str, snapshot: dict[str, Any],
                  events: list[dict[str, Any]]) -> int:
    """Upsert the incident snapshot and insert the events not yet stored, with the rows they
    imply (escalations, priority changes, review, known issues), in one transaction: one
    statement for the incident row (never read first), one per 1,000 timeline events
    (executemany), one per kind of implied row present. Every insert is keyed (run id + seq,
    incident), so a retried batch writes nothing twice. Returns the timeline rows written."""
    incidents = IncidentRow.__table__
    row = _snapshot_row(snapshot, events)
    row.update(run_id=run_id, incident_id=incident_id, updated_at=now_utc())
    reopened, candidate = _mitigated(events)
    row["mitigated_at"] = candidate
    stmt = _insert(engine, incidents).values(**row)
    set_ = {k: stmt.excluded[k] for k in row if k not in ("run_id", "mitigated_at")}
    if reopened:
        set_["mitigated_at"] = stmt.excluded.mitigated_at
    elif candidate is not None:
        set_["mitigated_at"] = func.coalesce(incidents.c.mitigated_at, stmt.excluded.mitigated_at)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["run_id"], set_=set_))
        if not events:
            return 0
        timeline_rows = TimelineRow.__table__
        ins = (_insert(engine, timeline_rows).on_conflict_do_nothing(index_elements=["run_id", "seq"])
               .returning(timeline_rows.c.seq))
        # a list of parameters: SQLAlchemy's insertmanyvalues sends it as multi-row INSERTs of up
        # to 1,000 rows each, and RETURNING counts only the rows a retried batch did not have yet
        written = len(conn.execute(ins, [
            dict(run_id=run_id, incident_id=incident_id, seq=e["seq"], at=e["at"], type=e["type"],
                 actor=e["actor"][:255], details=e["details"]) for e in events]).all())
        _record_detail(conn, engine, run_id=run_id, incident_id=incident_id, snapshot=snapshot, events=events)
        types = {e["type"] for e in events}
        if "review.submitted" in types and snapshot.get("service"):  # knowledge is per service
            _learn(conn, engine, incident_id=incident_id, snapshot=snapshot,
                   review=[e for e in events if e["type"] == "review.submitted"][-1])
        if "resolved" in types:
            conn.execute(update(KnownIssueUseRow).where(KnownIssueUseRow.incident_id == incident_id)
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


def detail(engine: Engine, *, incident_id: str) -> dict[str, list[Any]]:
    """The incident's escalations, priority changes, review and action items, in order."""
    with Session(engine) as session:
        def rows(model: Any, *order: Any) -> list[Any]:
            return list(session.scalars(select(model).where(model.incident_id == incident_id).order_by(*order)))

        return {"escalations": rows(EscalationRow, EscalationRow.at, EscalationRow.seq),
                "priority_changes": rows(PriorityChangeRow, PriorityChangeRow.at, PriorityChangeRow.seq),
                "reviews": rows(ReviewRow, ReviewRow.submitted_at),
                "action_items": rows(ActionItemRow, ActionItemRow.position)}


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


def open_incidents(engine: Engine) -> list[IncidentRow]:
    """Every incident not yet resolved (triggered or acknowledged), oldest first: what a new
    incident may cascade with (activities/cascade.py)."""
    with Session(engine) as session:
        return list(session.scalars(select(IncidentRow).where(IncidentRow.status.in_(("triggered", "acknowledged")))
                                    .order_by(IncidentRow.created_at, IncidentRow.incident_id)))


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


def _learn(session: Connection, engine: Engine, *, incident_id: str, snapshot: dict[str, Any],
           review: dict[str, Any]) -> None:
    """A submitted review becomes a known issue: symptoms (the title), root cause, and the fix
    (the resolution and the recovery actions that succeeded), once per incident."""
    rows = session.execute(select(TimelineRow.type, TimelineRow.details).where(TimelineRow.incident_id == incident_id)
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
