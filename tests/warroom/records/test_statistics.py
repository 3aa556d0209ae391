"""Incident statistics per category and priority over the last 30 days (the SOP's
`incident_statistics` view): the records query on a hand-computed set written through the
records' own writer (records.record_events, what the worker calls), then the same figures
through GET /api/v1/statistics, `warroom stats --by-category` and the console's SLA page, where
an incident opened through the API and acknowledged from the console is counted.

Runs on SQLite, and on PostgreSQL with WARROOM_TEST_DATABASE_URL."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api.app import create_app
from tests.api.test_console import app_client, csrf_of, sign_in
from tests.helpers import new_key, until
from warroom import records
from warroom.cli.main import app as cli
from warroom.records import statistics
from warroom.settings import Settings

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
M = 60

# (category, priority, created: days before now, minutes to ack or None, minutes to resolve or None, closed)
SET: list[tuple[str, str, float, int | None, int | None, bool]] = [
    ("SYSTEM_UNAVAILABLE", "P0", 1, 4, 40, True),
    ("SYSTEM_UNAVAILABLE", "P0", 2, 10, 90, True),
    ("SYSTEM_UNAVAILABLE", "P0", 3, 1, None, False),        # acknowledged, still open
    ("SYSTEM_UNAVAILABLE", "P1", 5, 20, 200, False),        # resolved, not closed yet: not open
    ("PERFORMANCE_DEGRADATION", "P1", 6.9, 30, 240, True),
    ("PERFORMANCE_DEGRADATION", "P1", 8, 10, 60, True),
    ("PERFORMANCE_DEGRADATION", "P1", 9, 50, 120, True),
    ("PERFORMANCE_DEGRADATION", "P2", 29.9, None, 30, True),  # resolved by its source, never acknowledged
    ("", "P3", 12, None, None, False),                       # a ticket: no category recorded, open
    ("SYSTEM_UNAVAILABLE", "P0", 30.1, 5, 50, True),         # before the window: not counted
    ("SYSTEM_UNAVAILABLE", "P0", -0.1, 5, 50, True),         # after `now`: not counted
]

EXPECTED_ROWS = [
    # PERFORMANCE_DEGRADATION P1: ack 30, 10, 50 min -> mean 30, median 30; resolve 240, 60, 120 -> 140, 120
    {"category": "PERFORMANCE_DEGRADATION", "priority": "P1", "count": 3, "open": 0, "acknowledged": 3,
     "resolved": 3, "time_to_ack_seconds": {"mean": 30 * M, "median": 30 * M},
     "time_to_resolve_seconds": {"mean": 140 * M, "median": 120 * M}},
    {"category": "PERFORMANCE_DEGRADATION", "priority": "P2", "count": 1, "open": 0, "acknowledged": 0,
     "resolved": 1, "time_to_ack_seconds": {"mean": None, "median": None},
     "time_to_resolve_seconds": {"mean": 30 * M, "median": 30 * M}},
    # SYSTEM_UNAVAILABLE P0: ack 4, 10, 1 -> mean 5, median 4; resolve 40, 90 -> mean 65, median 65 (two values)
    {"category": "SYSTEM_UNAVAILABLE", "priority": "P0", "count": 3, "open": 1, "acknowledged": 3,
     "resolved": 2, "time_to_ack_seconds": {"mean": 5 * M, "median": 4 * M},
     "time_to_resolve_seconds": {"mean": 65 * M, "median": 65 * M}},
    {"category": "SYSTEM_UNAVAILABLE", "priority": "P1", "count": 1, "open": 0, "acknowledged": 1,
     "resolved": 1, "time_to_ack_seconds": {"mean": 20 * M, "median": 20 * M},
     "time_to_resolve_seconds": {"mean": 200 * M, "median": 200 * M}},
    {"category": "UNCLASSIFIED", "priority": "P3", "count": 1, "open": 1, "acknowledged": 0, "resolved": 0,
     "time_to_ack_seconds": {"mean": None, "median": None}, "time_to_resolve_seconds": {"mean": None, "median": None}},
]
# With the keyword lists (the API, the CLI and the console pass the configured ones), the ticket
# counts under the category its title classifies as: "slow", "latency" -> PERFORMANCE_DEGRADATION.
CLASSIFIED_ROWS = sorted([*EXPECTED_ROWS[:-1], {**EXPECTED_ROWS[-1], "category": "PERFORMANCE_DEGRADATION"}],
                         key=lambda r: (r["category"], r["priority"]))


def seed(engine: Engine, service: str, now: datetime) -> None:
    """Each incident as the worker records it: a snapshot per change, with its timeline events."""
    for i, (category, priority, days, tta, ttr, closed) in enumerate(SET):
        created = now - timedelta(days=days)
        acked = created + timedelta(minutes=tta) if tta is not None else None
        resolved = created + timedelta(minutes=ttr) if ttr is not None else None
        closed_at = (resolved + timedelta(minutes=5)) if closed and resolved else None
        run_id, iid = uuid.uuid4().hex, f"incident-{service}-{i}"
        title = "Reports page slow, p99 latency 4s" if not category else f"incident {i}"
        snapshot: dict[str, Any] = {"incident_id": iid, "workflow": "IncidentResponse" if category else "Ticket",
                                    "title": title,
                                    "service": service, "category": category, "priority": priority,
                                    "status": "triggered", "phase": "assess", "escalation_level": 1,
                                    "alert_count": 1, "created_at": created}
        steps: list[tuple[datetime, str, dict[str, Any]]] = [(created, "triggered", {"priority": priority})]
        if acked:
            steps.append((acked, "acknowledged", {"status": "acknowledged", "acknowledged_at": acked}))
        if resolved:
            steps.append((resolved, "resolved", {"status": "resolved", "phase": "review", "resolved_at": resolved}))
        if closed_at:
            steps.append((closed_at, "closed", {"status": "closed", "phase": "closed", "closed_at": closed_at}))
        for seq, (at, kind, change) in enumerate(steps, 1):
            snapshot = {**snapshot, **change}
            records.record_events(engine, run_id=run_id, incident_id=iid, snapshot=snapshot, events=[
                {"seq": seq, "at": at, "type": kind, "actor": "tester", "details": {}}])


@pytest.fixture
def service(engine: Engine) -> str:
    name = f"stats-{uuid.uuid4().hex[:10]}"
    seed(engine, name, NOW)
    return name


def test_statistics_per_category_and_priority_over_30_days(engine: Engine, service: str) -> None:
    got = statistics.incident_statistics(engine, now=NOW, service=service)
    assert (got["days"], got["from"], got["to"]) == (30, (NOW - timedelta(days=30)).isoformat(), NOW.isoformat())
    assert got["rows"] == EXPECTED_ROWS
    # ack 4,10,1,20,30,10,50 -> mean 125/7, median 10; resolve 40,90,200,240,60,120,30 -> mean 780/7, median 90
    assert got["total"] == {"count": 9, "open": 2, "acknowledged": 7, "resolved": 7,
                            "time_to_ack_seconds": pytest.approx({"mean": 125 / 7 * M, "median": 10 * M}),
                            "time_to_resolve_seconds": pytest.approx({"mean": 780 / 7 * M, "median": 90 * M})}
    assert {p: g["count"] for p, g in got["by_priority"].items()} == {"P0": 3, "P1": 4, "P2": 1, "P3": 1}
    keywords = statistics.configured_keywords(Settings().classification_file)
    assert statistics.incident_statistics(engine, now=NOW, service=service, keywords=keywords)["rows"] == \
        CLASSIFIED_ROWS


def test_statistics_window_and_filters(engine: Engine, service: str) -> None:
    week = statistics.incident_statistics(engine, days=7, now=NOW, service=service)
    assert [(r["category"], r["priority"], r["count"]) for r in week["rows"]] == [
        ("PERFORMANCE_DEGRADATION", "P1", 1), ("SYSTEM_UNAVAILABLE", "P0", 3), ("SYSTEM_UNAVAILABLE", "P1", 1)]
    # a later `now` slides the window: day 29.9 falls out, day 30.1 stays out
    later = statistics.incident_statistics(engine, now=NOW + timedelta(days=1), service=service)
    assert later["total"]["count"] == 9 - 1 + 1  # the one after NOW comes in, the P2 at 29.9 days goes
    assert statistics.incident_statistics(engine, now=NOW, service="no-such-service")["rows"] == []
    for bad in (0, statistics.MAX_DAYS + 1):
        with pytest.raises(ValueError, match="^days: from 1 to 366"):
            statistics.incident_statistics(engine, days=bad, now=NOW)


async def test_statistics_over_http(engine: Engine, tmp_path) -> None:
    name = f"stats-{uuid.uuid4().hex[:10]}"
    seed(engine, name, datetime.now(UTC))
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
        r = await http.get("/api/v1/statistics", params={"service": name}, headers=viewer)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == CLASSIFIED_ROWS and r.json()["days"] == 30
        r = await http.get("/api/v1/statistics", params={"service": name, "days": 7}, headers=viewer)
        assert r.json()["total"]["count"] == 5
        for bad in ("0", "400", "a month"):
            r = await http.get("/api/v1/statistics", params={"days": bad}, headers=viewer)
            assert r.status_code == 422 and "days" in r.text, (bad, r.text)
        assert (await http.get("/api/v1/statistics")).status_code == 401
        integration = {"Authorization": f"Bearer {new_key(engine, 'integration')}"}
        assert (await http.get("/api/v1/statistics", headers=integration)).status_code == 403


def test_statistics_in_the_cli(engine: Engine) -> None:
    name = f"stats-{uuid.uuid4().hex[:10]}"
    seed(engine, name, datetime.now(UTC))
    env = {"WARROOM_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    out = CliRunner().invoke(cli, ["stats", "--by-category", "--service", name, "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == CLASSIFIED_ROWS
    out = CliRunner().invoke(cli, ["stats", "--by-category", "--service", name], env=env)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert "Incidents per category and priority, last 30 days" in out.stdout
    p0 = next(line for line in lines if "SYSTEM_UNAVAILABLE" in line and "P0" in line)
    assert re.search(r"│ 3\s+│ 1\s+│ 5m\s+│ 4m\s+│ 1h 05m\s+│ 1h 05m\s+│", p0), p0
    ticket = next(line for line in lines if "PERFORMANCE_DEGRADATION" in line and "P3" in line)
    assert re.search(r"│ 1\s+│ 1\s+│ -\s+│ -\s+│ -\s+│ -\s+│", ticket), ticket
    bad = CliRunner().invoke(cli, ["stats", "--by-category", "--days", "0"], env=env)
    assert bad.exit_code == 1 and "error: --days: from 1 to 366, not 0" in bad.output
    bad = CliRunner().invoke(cli, ["stats", "--by-category", "--from", "2026-01-01"], env=env)
    assert bad.exit_code == 1 and "--by-category takes --days and --service" in bad.output


async def test_statistics_in_the_console_count_an_incident_made_through_the_api(env, engine, task_queue) -> None:
    name = f"stats-{uuid.uuid4().hex[:10]}"
    seed(engine, name, datetime.now(UTC))
    async with app_client(env, engine, task_queue) as http:
        admin = new_key(engine, "admin")
        r = await http.post("/api/v1/alerts/generic", headers={"Authorization": f"Bearer {admin}"},
                            json={"title": "Checkout API latency high, requests slow", "severity": "warning",
                                  "service": name, "dedup_key": f"stats-{uuid.uuid4().hex}"})
        assert r.status_code == 202, r.text
        [ref] = r.json()["incidents"]
        await until(lambda: records.incident(engine, incident_id=ref["id"]), "the incident's record")
        await sign_in(http, admin)
        page = await http.get(f"/incidents/{ref['id']}")
        r = await http.post(f"/incidents/{ref['id']}/acknowledge", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        await until(lambda: records.incident(engine, incident_id=ref["id"]), "the acknowledgement recorded",
                    ok=lambda row: row.acknowledged_at is not None)
        page = await http.get("/sla", params={"service": name})
    assert page.status_code == 200
    section = page.text[page.text.index('id="by-category"'):]
    assert "the last 30 days" in section
    shown = re.findall(r'<tr data-category="([A-Z_]+)" data-priority="(P\d)">', section)
    assert shown == [(r["category"], r["priority"]) for r in CLASSIFIED_ROWS], section[:6000]
    # the API's incident: a P2 performance incident, acknowledged: now two P2s under that category
    row = re.search(r'<tr data-category="PERFORMANCE_DEGRADATION" data-priority="P2">(.*?)</tr>', section, re.DOTALL)
    assert row and re.search(r'data-label="Incidents">2<', row.group(1)), section[:3000]
    assert re.search(r'data-label="Open">1<', row.group(1))
