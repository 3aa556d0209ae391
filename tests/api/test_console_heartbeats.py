"""The console's heartbeats page as a caller meets it without a browser (the style of
tests/api/test_console.py): signed-in readers see every monitor with its state, last ping, next
due time and, when a ping was missed, a link to the incident; nobody signed in is sent to /login."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from tests.api.test_console import app_client, sign_in
from tests.helpers import new_key, until
from warroom import heartbeats as beats
from warroom.records import heartbeats as monitors


def row_of(html: str, name: str) -> str:
    found = re.search(rf'<tr data-heartbeat="{re.escape(name)}" data-state="(\w+)">(.*?)</tr>', html, re.S)
    assert found, html[:3000]
    return found.group(0)


async def test_the_heartbeats_page_shows_state_last_ping_and_the_missed_pings_incident(env, engine, task_queue):
    quiet, watched, down = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("quiet", "watched", "down"))
    monitors.create_monitor(engine, name=quiet, interval="1h")
    monitors.create_monitor(engine, name=watched, interval="10m", priority="P3", service="reports")
    down_m = monitors.create_monitor(engine, name=down, interval="5m", priority="P1", service="etl")
    async with app_client(env, engine, task_queue) as http:
        r = await http.get("/heartbeats")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fheartbeats")

        await beats.ping(env.client, down_m, task_queue=task_queue, source="integration:etl-cron")
        await env.sleep(timedelta(minutes=6))
        missed = await until(lambda: monitors.find(engine, down), "the miss recorded",
                             ok=lambda m: m.state == "down" and m.incident_id)
        r = await http.post(f"/api/v1/heartbeats/{watched}",
                            headers={"Authorization": f"Bearer {new_key(engine, 'integration')}"})
        assert r.status_code == 202, r.text

        await sign_in(http, new_key(engine, "viewer"))
        page = await http.get("/heartbeats")
        assert page.status_code == 200
        assert '<a href="/heartbeats">Heartbeats</a>' in page.text
        html = page.text
        # down first, then up, then new
        assert html.index(f'data-heartbeat="{down}"') < html.index(f'data-heartbeat="{watched}"') \
            < html.index(f'data-heartbeat="{quiet}"')
        row = row_of(html, quiet)
        assert 'data-state="new"' in row and "never" in row and "1h" in row
        row = row_of(html, watched)
        assert 'data-state="up"' in row and "10m" in row and re.search(r">\d+s ago<", row), row
        assert "by integration:test-integration-" in row and 'class="countdown"' in row and "in 9m" in row
        assert '<span class="prio-P3">P3</span> on reports' in row
        row = row_of(html, down)
        assert 'data-state="down"' in row and f'<a href="/incidents/{missed.incident_id}">' in row
        assert '<span class="prio-P1">P1</span> on etl' in row and "for " in row

        incident = await http.get(f"/incidents/{missed.incident_id}")
        assert incident.status_code == 200 and f"heartbeat:{down}" in incident.text
        assert re.search(rf'<dd id="heartbeat">a missed ping of\s+<a href="/heartbeats">{re.escape(down)}</a>',
                         incident.text), incident.text[:3000]
