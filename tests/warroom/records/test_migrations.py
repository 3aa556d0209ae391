"""The records schema comes from Alembic migrations: an empty database is brought to the
newest revision and matches the models exactly; a database made before migrations existed is
recognised, stamped and upgraded without losing a row; downgrade and upgrade again work. Run
on SQLite and, when the suite runs on PostgreSQL, on a scratch PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.helpers import postgres_database
from warroom import records

HEAD = "0012"


@pytest.fixture
def empty(tmp_path) -> Iterator[Engine]:
    """An empty database of the kind the suite runs on."""
    url = os.environ.get("WARROOM_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        eng = records.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield eng
        eng.dispose()
        return
    with postgres_database(url, "warroom_mig", schema=False) as eng:
        yield eng


def differences(engine: Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), records.Base.metadata)


def test_an_empty_database_gets_the_newest_schema_matching_the_models(empty):
    records.create_schema(empty)
    assert records.schema_revision(empty) == HEAD
    assert differences(empty) == []
    assert {"incidents", "timeline_events", "communications", "api_keys"} <= set(inspect(empty).get_table_names())
    records.create_schema(empty)  # again: nothing to do
    assert records.schema_revision(empty) == HEAD


def test_a_database_made_before_migrations_is_stamped_and_upgraded_keeping_its_rows(empty):
    # What `create_all` made before migrations: the first revision's tables, without alembic_version.
    with empty.begin() as conn:
        command.upgrade(records._alembic(conn), records.FIRST_REVISION)
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("INSERT INTO incidents (run_id, incident_id, workflow, title, service, category, "
                             "priority, status, phase, escalation_level, runbook, runbook_version, alert_count) "
                             "VALUES ('r1', 'incident-old', 'IncidentResponse', 'Old incident', '', '', 'P1', "
                             "'closed', 'closed', 1, '', '', 0)")
        conn.exec_driver_sql("INSERT INTO timeline_events (run_id, incident_id, seq, at, type, actor, details) "
                             "VALUES ('r1', 'incident-old', 1, '2026-01-01 00:00:00+00:00', 'triggered', 'x', '{}')")
    records.create_schema(empty)
    assert records.schema_revision(empty) == HEAD and differences(empty) == []
    with Session(empty) as s:
        assert s.scalars(select(records.IncidentRow.title)).all() == ["Old incident"]
    assert [e.type for e in records.timeline(empty, incident_id="incident-old")] == ["triggered"]


def test_keys_made_before_0006_gain_an_empty_person_and_keep_acting_as_their_name(empty):
    from warroom.records import keys as auth

    key = "wr" + "a" * 30
    with empty.begin() as conn:
        command.upgrade(records._alembic(conn), "0005")
        conn.exec_driver_sql("INSERT INTO api_keys (id, name, role, key_hash, prefix, created_at) VALUES "
                             f"('kold', 'oncall-a', 'responder', '{auth.hash_key(key)}', 'wraaaaaa', "
                             "'2026-01-01 00:00:00+00:00')")
    records.create_schema(empty)
    assert records.schema_revision(empty) == HEAD and differences(empty) == []
    old = auth.authenticate(empty, key)
    assert old is not None and (old.name, old.person, old.acts_as) == ("oncall-a", None, "oncall-a")
    assert old.public()["person"] == "oncall-a"
    with Session(empty) as s:
        assert s.scalars(select(records.ApiKeyRow.person)).all() == [None]
    with empty.begin() as conn:  # and back: the column goes, the key stays
        command.downgrade(records._alembic(conn), "0005")
    assert "person" not in {c["name"] for c in inspect(empty).get_columns("api_keys")}
    with Session(empty) as s:
        assert s.scalars(select(records.ApiKeyRow.id)).all() == ["kold"]


def test_downgrade_to_nothing_and_up_again(empty):
    records.create_schema(empty)
    with empty.begin() as conn:
        command.downgrade(records._alembic(conn), "base")
    assert set(inspect(empty).get_table_names()) <= {"alembic_version"}
    records.create_schema(empty)
    assert records.schema_revision(empty) == HEAD and differences(empty) == []


def test_db_upgrade_command(tmp_path):
    from typer.testing import CliRunner

    from warroom.cli.main import app

    out = CliRunner().invoke(app, ["db", "upgrade"], env={"WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert out.exit_code == 0 and out.output.startswith(f"records schema at revision {HEAD} (sqlite:///")
