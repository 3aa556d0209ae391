"""The records engine: no connection check on checkout, and still safe when the server drops
its connections (the next records call as activities make it succeeds); SQLite's pragmas."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from activities.common import recorded, records_call
from tests.helpers import postgres_database, until
from warroom import records

# The suite's records database when it is PostgreSQL, else the PostgreSQL server CI always has
# (scripts/test): the test runs in both passes, and fails, never skips, without PostgreSQL.
SUITE_URL = os.environ.get("WARROOM_TEST_DATABASE_URL", "")
POSTGRES_URL = SUITE_URL if SUITE_URL.startswith("postgresql") else os.environ.get(
    "WARROOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _event(seq: int, at: datetime, type_: str = "note.added") -> dict[str, Any]:
    return {"seq": seq, "at": at, "type": type_, "actor": "test", "details": {}}


def _snapshot(iid: str, at: datetime) -> dict[str, Any]:
    return {"incident_id": iid, "workflow": "IncidentResponse", "title": "Checkout is down", "priority": "P0",
            "status": "open", "phase": "respond", "created_at": at}


def test_no_connection_check_on_checkout(engine):
    """pool_pre_ping would ping the server (a round trip; on PostgreSQL a transaction) at every checkout."""
    pings: list[int] = []
    real = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(1) or real(conn)  # type: ignore[method-assign]
    try:
        iid = f"incident-ping-{uuid.uuid4().hex[:8]}"
        for i in range(3):
            records.record_events(engine, run_id=f"{iid}-run", incident_id=iid, snapshot=_snapshot(iid, datetime.now(UTC)),
                                  events=[_event(i + 1, datetime.now(UTC))])
            records.timeline(engine, incident_id=iid)
    finally:
        del engine.dialect.do_ping
    assert pings == []
    assert [r.seq for r in records.timeline(engine, incident_id=iid)] == [1, 2, 3]


async def test_records_calls_go_on_after_postgresql_terminates_the_connections(caplog):
    from temporalio.testing import ActivityEnvironment

    from activities.store import StoreActivities
    from workflows.contracts import IncidentState, TimelineEvent
    from workflows.contracts_activities import RecordEvents

    # SQLite has no server to drop a connection: this is PostgreSQL's, whichever the suite uses,
    # in a database of its own made afresh (the server is shared: another run's schema, at a
    # revision this checkout does not know, must not decide this test)
    with postgres_database(POSTGRES_URL, "warroom_drop") as engine:
        name = f"warroom-drop-{uuid.uuid4().hex[:8]}"  # only this engine's connections are terminated
        url = engine.url.update_query_dict({"application_name": name}).render_as_string(hide_password=False)
        victim = records.make_engine(url)
        iid = f"incident-drop-{uuid.uuid4().hex[:8]}"
        t0 = datetime.now(UTC)

        def sessions() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                                    {"n": name}).scalar_one()

        try:
            # fill the pool with a few connections, all checked in again
            conns = [victim.connect() for _ in range(3)]
            for c in conns:
                c.execute(text("SELECT 1"))
                c.close()
            records.record_events(victim, run_id=f"{iid}-run", incident_id=iid, snapshot=_snapshot(iid, t0),
                                  events=[_event(1, t0)])
            assert sessions() == 3
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                   "AND application_name = :n"), {"n": name})
                admin.commit()
            await until(lambda: sessions() == 0, "the server to end the engine's connections")

            # the activity's next records call succeeds: the dropped connection is noticed and the
            # call made again at once on a new one (the worker's log says so)
            caplog.set_level("INFO", logger="warroom.pages")
            state = IncidentState(incident_id=iid, workflow="IncidentResponse", title="Checkout is down",
                                  priority="P0", status="open", phase="respond", created_at=t0)
            event = TimelineEvent(seq=2, at=t0 + timedelta(seconds=1), type="note.added", actor="test", details={})
            out = ActivityEnvironment().run(StoreActivities(victim).record_events,
                                            RecordEvents(incident_id=iid, run_id=f"{iid}-run", snapshot=state, events=[event]))
            assert out.written == 1
            dropped = [r.message for r in caplog.records if "connection was dropped" in r.message]
            assert len(dropped) == 1 and "calling record_events again" in dropped[0]
            # and so is a page's claim, which would otherwise have gone out without its record
            claim = recorded(victim, "claim_page", key=f"{iid}-run:n1", incident_id=iid, kind="INITIAL",
                             target="oncall:L1", subject="s", body="b", choose=lambda found: [])
            assert claim is not None and claim.communication.status == "PENDING"
            assert records_call(victim, "timeline", incident_id=iid)
            assert [r.seq for r in records.timeline(victim, incident_id=iid)] == [1, 2]
        finally:
            victim.dispose()


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path):
    eng: Engine = records.make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        eng.dispose()
