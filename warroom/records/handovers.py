"""Records of on-call hand-overs: the notes people leave for the next shift, and each hand-over
sent at a rotation change (docs/oncall.md, "Hand-over").

Room: records (warroom/records). Notes are written through the API and the CLI; hand-overs by
the record_handover activity, keyed by the workflow's key, so a retried activity writes one row
and hands each note over once. Imported as `warroom.records.handovers`, like `changes`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.models import HandoverNoteRow, HandoverRow, _insert, now_utc


def add_note(engine: Engine, *, schedule: str, person: str, text: str, at: datetime | None = None) -> HandoverNoteRow:
    with Session(engine, expire_on_commit=False) as session:
        row = HandoverNoteRow(schedule=schedule, person=person, text=text, created_at=at or now_utc())
        session.add(row)
        session.commit()
        return row


def pending_notes(engine: Engine, *, schedule: str, people: list[str] | None = None,
                  before: datetime | None = None) -> list[HandoverNoteRow]:
    """Notes not handed over yet, oldest first; only these people's and left before `before`
    when given."""
    conds = [HandoverNoteRow.schedule == schedule, HandoverNoteRow.handover_key.is_(None)]
    if people is not None:
        conds.append(HandoverNoteRow.person.in_(people))
    if before is not None:
        conds.append(HandoverNoteRow.created_at <= before)
    with Session(engine) as session:
        return list(session.scalars(select(HandoverNoteRow).where(*conds).order_by(HandoverNoteRow.id)))


def handover(engine: Engine, *, key: str) -> HandoverRow | None:
    with Session(engine) as session:
        return session.get(HandoverRow, key)


def record_handover(engine: Engine, *, key: str, schedule: str, team: str, at: datetime, outgoing: list[str],
                    incoming: list[str], incidents: list[dict[str, Any]], notes: list[HandoverNoteRow],
                    subject: str, body: str) -> HandoverRow:
    """Write the hand-over once (the first write of `key` wins) and mark its notes handed over."""
    with Session(engine, expire_on_commit=False) as session:
        session.execute(_insert(engine, HandoverRow).values(
            key=key, schedule=schedule, team=team, at=at, outgoing=outgoing, incoming=incoming, incidents=incidents,
            notes=[{"person": n.person, "text": n.text, "at": n.created_at.isoformat()} for n in notes],
            subject=subject, body=body, created_at=now_utc(),
        ).on_conflict_do_nothing(index_elements=["key"]))
        if notes:
            session.execute(update(HandoverNoteRow).where(HandoverNoteRow.id.in_([n.id for n in notes]),
                                                          HandoverNoteRow.handover_key.is_(None))
                            .values(handover_key=key))
        session.commit()
        row = session.get(HandoverRow, key)
        assert row is not None
        return row


def handovers(engine: Engine, *, schedule: str | None = None, limit: int = 20) -> list[HandoverRow]:
    """The latest hand-overs, newest first (of one schedule when given)."""
    conds = [HandoverRow.schedule == schedule] if schedule else []
    with Session(engine) as session:
        return list(session.scalars(select(HandoverRow).where(*conds).order_by(HandoverRow.at.desc()).limit(limit)))
