"""Records of communications: each message, each delivery to a person's contact point, and
the war room, claimed before sending and finished after, so a retried page is never sent twice.

Room: records (warroom/records). Used by the notify and war-room activities and the API.
"""

from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from warroom.records.models import CommunicationRow, DeliveryRow, WarRoomRow, _insert, now_utc

__all__ = [  # what the package face (warroom/records/__init__.py) hands on
    "claim_communication", "claim_delivery", "communications", "deliveries", "finish_communication",
    "finish_delivery", "save_war_room", "war_room",
]


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
