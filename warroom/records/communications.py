"""Records of communications: each message, each delivery to a person's contact point, and
the war room, claimed before sending and finished after, so a retried page is never sent twice.

Room: records (warroom/records). Used by the notify and war-room activities and the API.

A page costs two transactions (docs/records.md, "Exactly once"): `claim_page` before sending
(the communication and every delivery about to be sent, PENDING) and `finish_page` after (every
delivery's result and the communication's outcome). Falling back to a person's next contact
point costs one more, `next_contacts`, because that contact point is claimed before it is tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from warroom.records.models import (
    CommunicationRow,
    DeliveryRow,
    WarRoomRow,
    _insert,
    now_utc,
)

__all__ = [  # what the package face (warroom/records/__init__.py) hands on
    "Claim", "claim_communication", "claim_page", "communications", "deliveries", "delivery", "finish_communication",
    "finish_page", "next_contacts", "war_room", "war_room_opened",
]

COMMUNICATIONS = CommunicationRow.__table__
DELIVERIES = DeliveryRow.__table__


# ------------------------------------------------------------------ communications


def _claim_communication(conn: Connection, engine: Engine, *, key: str, incident_id: str, kind: str,
                         target: str, subject: str, body: str) -> Row[Any]:
    """One statement: insert the message PENDING, or count one more attempt of the stored one."""
    stmt = _insert(engine, COMMUNICATIONS).values(
        key=key, incident_id=incident_id, kind=kind, target=target, subject=subject, body=body,
        status="PENDING", attempts=1, error="", recipients=[], channel="", created_at=now_utc(),
    )
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"attempts": COMMUNICATIONS.c.attempts + 1})
    return conn.execute(stmt.returning(*COMMUNICATIONS.c)).one()


def claim_communication(engine: Engine, *, key: str, incident_id: str, kind: str, target: str,
                        subject: str, body: str) -> Row[Any]:
    """Insert the message as PENDING unless it exists; return the stored row either way."""
    with engine.begin() as conn:
        return _claim_communication(conn, engine, key=key, incident_id=incident_id, kind=kind, target=target,
                                    subject=subject, body=body)


def _finish_communication(conn: Connection, *, key: str, status: str, channel: str, recipients: list[str],
                          error: str) -> None:
    conn.execute(update(COMMUNICATIONS).where(COMMUNICATIONS.c.key == key).values(
        status=status, channel=channel, recipients=recipients, error=error,
        sent_at=now_utc() if status == "SENT" else None))


def finish_communication(engine: Engine, *, key: str, status: str, channel: str, recipients: list[str],
                         error: str = "") -> None:
    with engine.begin() as conn:
        _finish_communication(conn, key=key, status=status, channel=channel, recipients=recipients, error=error)


# ------------------------------------------------------------------ a page and its deliveries


@dataclass
class Claim:
    """What `claim_page` found and wrote: the communication as stored (its attempts counted)
    and every delivery recorded for it, by key, the ones just claimed included."""

    communication: Row[Any]
    deliveries: dict[str, Row[Any]] = field(default_factory=dict)


def _claim_deliveries(conn: Connection, engine: Engine, *, communication_key: str, incident_id: str,
                      claims: Sequence[Mapping[str, str]]) -> list[Row[Any]]:
    """One statement: each delivery (key, person, contact_kind, contact) PENDING, or one more
    attempt of the stored one (never one recorded SENT: those are not claimed again)."""
    if not claims:
        return []
    at = now_utc()
    stmt = _insert(engine, DELIVERIES).on_conflict_do_update(
        index_elements=["key"], set_={"attempts": DELIVERIES.c.attempts + 1},
        where=DELIVERIES.c.status != "SENT")
    # The rows as parameters, not as a multi-row VALUES literal: SQLAlchemy caches the compiled
    # statement (a literal list has no cache key and was compiled on every page) and sends the
    # list as multi-row INSERTs (insertmanyvalues) with their RETURNING rows.
    return list(conn.execute(stmt.returning(*DELIVERIES.c), [
        dict(key=c["key"], communication_key=communication_key, incident_id=incident_id, person=c["person"],
             contact_kind=c["contact_kind"], contact=c["contact"], status="PENDING", attempts=1, error="",
             created_at=at) for c in claims]))


def claim_page(engine: Engine, *, key: str, incident_id: str, kind: str, target: str, subject: str, body: str,
               choose: Callable[[Mapping[str, Row[Any]]], Sequence[Mapping[str, str]]]) -> Claim:
    """Before sending, in one transaction: the communication PENDING (or its stored row, one more
    attempt counted) and the deliveries about to be sent PENDING. `choose` gets the deliveries
    already recorded for this communication (by key) and names the ones to claim now, each
    {key, person, contact_kind, contact}. Nothing is claimed for a communication already SENT."""
    with engine.begin() as conn:
        row = _claim_communication(conn, engine, key=key, incident_id=incident_id, kind=kind, target=target,
                                   subject=subject, body=body)
        if row.status == "SENT":
            return Claim(communication=row)
        # read even for a communication just inserted: an attempt whose claim found the database
        # down may have recorded deliveries once it was back
        found = {r.key: r for r in conn.execute(select(*DELIVERIES.c).where(DELIVERIES.c.communication_key == key))}
        claimed = _claim_deliveries(conn, engine, communication_key=key, incident_id=incident_id,
                                    claims=choose(found))
        return Claim(communication=row, deliveries={**found, **{r.key: r for r in claimed}})


def _finish_deliveries(conn: Connection, results: Sequence[Mapping[str, Any]]) -> None:
    """One statement (executemany): each delivery's result {key, ok, error}; one recorded SENT stays SENT."""
    if not results:
        return
    at = now_utc()
    conn.execute(
        update(DELIVERIES).where(DELIVERIES.c.key == bindparam("b_key"), DELIVERIES.c.status != "SENT")
        .values(status=bindparam("b_status"), error=bindparam("b_error"), sent_at=bindparam("b_sent_at")),
        [{"b_key": r["key"], "b_status": "SENT" if r["ok"] else "FAILED", "b_error": "" if r["ok"] else r["error"],
          "b_sent_at": at if r["ok"] else None} for r in results])


def next_contacts(engine: Engine, *, communication_key: str, incident_id: str,
                  results: Sequence[Mapping[str, Any]], claims: Sequence[Mapping[str, str]]) -> int:
    """Between two rounds of a page (a contact point failed, the person's next one is tried), in
    one transaction: the results so far {key, ok, error} and the next contact points PENDING.
    Returns how many were claimed."""
    with engine.begin() as conn:
        _finish_deliveries(conn, results)
        return len(_claim_deliveries(conn, engine, communication_key=communication_key, incident_id=incident_id,
                                     claims=claims))


def finish_page(engine: Engine, *, key: str, results: Sequence[Mapping[str, Any]], status: str | None,
                channel: str = "", recipients: list[str] | None = None, error: str = "") -> bool:
    """After sending, in one transaction: every delivery's result {key, ok, error} and the
    communication's outcome. `status` None: the results so far (before the next person is paged,
    or of an attempt that stopped early); the communication stays PENDING. True once written."""
    with engine.begin() as conn:
        _finish_deliveries(conn, results)
        if status is not None:
            _finish_communication(conn, key=key, status=status, channel=channel, recipients=recipients or [],
                                  error=error)
    return True


def deliveries(engine: Engine, *, incident_id: str) -> list[DeliveryRow]:
    with Session(engine) as session:
        return list(session.scalars(select(DeliveryRow).where(DeliveryRow.incident_id == incident_id)
                                    .order_by(DeliveryRow.created_at, DeliveryRow.key)))


def delivery(engine: Engine, *, key: str) -> DeliveryRow | None:
    """One delivery by its key (the key a page carries: what a Slack button names)."""
    with Session(engine) as session:
        return session.get(DeliveryRow, key)


def war_room_opened(engine: Engine, *, key: str, incident_id: str, provider: str, channel: str, url: str,
                    bridge: str, recipients: list[str]) -> None:
    """The room opened (its row; a retry keeps the first) and its brief SENT, in one transaction."""
    with engine.begin() as conn:
        conn.execute(_insert(engine, WarRoomRow).values(
            incident_id=incident_id, provider=provider, channel=channel, url=url, bridge=bridge, created_at=now_utc(),
        ).on_conflict_do_nothing(index_elements=["incident_id"]))
        _finish_communication(conn, key=key, status="SENT", channel=provider, recipients=recipients, error="")


def war_room(engine: Engine, *, incident_id: str) -> WarRoomRow | None:
    with Session(engine) as session:
        return session.get(WarRoomRow, incident_id)


def communications(engine: Engine, *, incident_id: str) -> list[CommunicationRow]:
    with Session(engine) as session:
        return list(session.scalars(
            select(CommunicationRow).where(CommunicationRow.incident_id == incident_id)
            .order_by(CommunicationRow.created_at, CommunicationRow.key)))
