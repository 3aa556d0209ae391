"""Classification on the whole path (issue 15): an alert posted to the API gets its category
and the runbook of that category on the incident's timeline, with why (the terms and the
keyword lists' version); the lists an incident was classified with stay its lists after an
edit and a worker restart; a worker refuses to start on broken lists.

What a user sees: the incident's state and timeline through the API.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.helpers import REPO, api, new_key, running_worker, until
from warroom.keywords import KeywordsError
from warroom.runbooks import RunbookLibrary
from warroom.settings import Settings
from worker import build_worker

SHIPPED = Settings.model_fields["classification_file"].default


async def post_alert(http: httpx.AsyncClient, title: str) -> str:
    body = {"title": title, "service": f"svc-{uuid.uuid4().hex[:6]}", "severity": "critical",
            "dedup_key": f"classify-{uuid.uuid4().hex[:12]}"}
    r = await http.post("/api/v1/alerts/generic", json=body)
    assert r.status_code == 202, r.text
    return r.json()["incidents"][0]["id"]


async def assessed(http: httpx.AsyncClient, incident_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The incident once assess is done, and the timeline event that says what assess decided."""
    async def read() -> dict[str, Any] | None:
        state = (await http.get(f"/api/v1/incidents/{incident_id}")).json()
        return state if any(e["type"] == "phase.completed" and e["details"].get("phase") == "assess"
                            for e in state.get("timeline", [])) else None

    state = await until(read, f"{incident_id} to be assessed")
    event = next(e for e in state["timeline"] if e["type"] == "phase.completed" and e["details"]["phase"] == "assess")
    return state, event["details"]


@pytest.mark.parametrize("title,category,runbook,reason", [
    # the issue: a database outage became DATA_INTEGRITY_ISSUE and its runbook stopped the writes
    ("Database down", "SYSTEM_UNAVAILABLE", "default-p1", "'down' in the title"),
    ("数据库宕机", "SYSTEM_UNAVAILABLE", "default-p1", "'宕机' in the title"),
    ("订单数据丢失", "DATA_INTEGRITY_ISSUE", "data-integrity", "'数据丢失' in the title"),
    # a memory leak is not a breach: no quarantine of the hosts
    ("Memory leak in checkout workers", "PERFORMANCE_DEGRADATION", "performance-degradation",
     "'memory leak' in the title"),
    ("Login down", "AUTHENTICATION_FAILURE", "auth-outage", "'login' in the title"),
])
async def test_an_alert_gets_its_category_and_runbook(env, engine, task_queue, title, category, runbook, reason):
    async with api(env, engine, task_queue) as http:
        state, details = await assessed(http, await post_alert(http, title))
    assert (state["category"], state["runbook"]) == (category, runbook)
    assert (details["category"], details["runbook"]) == (category, runbook)
    assert details["classified_by"].startswith(f"{reason}; keyword lists 1 (sha256 ")
    if category != "DATA_INTEGRITY_ISSUE":
        assert "stop-writes" not in [s["id"] for s in state["steps"]]


async def test_an_incident_keeps_the_lists_it_was_classified_with(env, own_records, task_queue, tmp_path: Path):
    """An SRE edits the lists (here badly: "database" as a data-integrity word) and restarts the
    worker. The incident that was open keeps its category and says which lists gave it; only
    a new alert is classified with the new lists. (Records of its own: the cascade lookup reads
    every open incident, which the suite's shared database fills with other tests'.)"""
    engine = own_records
    edited = tmp_path / "classification.yaml"
    edited.write_text(SHIPPED.read_text(encoding="utf-8").replace('version: "1"', 'version: "2"').replace(
        "en: [integrity,", "en: [database, integrity,"), encoding="utf-8")
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"}) as http:
        async with running_worker(env.client, task_queue, engine):
            first = await post_alert(http, "Database down")
            _, before = await assessed(http, first)
        async with running_worker(env.client, task_queue, engine, classification_file=edited):
            second = await post_alert(http, "Database down")
            state, after = await assessed(http, second)
            assert (state["category"], state["runbook"]) == ("DATA_INTEGRITY_ISSUE", "data-integrity")
            again, kept = await assessed(http, first)
    assert before["classified_by"].startswith("'down' in the title; keyword lists 1 (sha256 ")
    assert after["classified_by"].startswith("'database' in the title; keyword lists 2 (sha256 ")
    assert again["category"] == kept["category"] == "SYSTEM_UNAVAILABLE" and kept == before


async def test_a_worker_refuses_to_start_on_broken_lists(env, engine, tmp_path: Path):
    broken = tmp_path / "classification.yaml"
    broken.write_text('version: "1"\ncategories:\n  - category: SYSTEM_UNAVAILABLE\n    en: [down]\n'
                      '  - category: SECURITY_BREACH\n    en: [leak, down]\n', encoding="utf-8")
    with pytest.raises(KeywordsError) as info:
        build_worker(env.client, Settings(task_queue="tq-broken", classification_file=broken), engine=engine,
                     runbooks=RunbookLibrary(REPO / "runbooks"))
    assert f"{broken}:6: categories[1].en[1]: 'down' matches the same words as 'down' at line 4 " \
           f"(SYSTEM_UNAVAILABLE)" in str(info.value)
    with pytest.raises(KeywordsError, match="cannot read the keyword lists .*no-such.yaml"):
        build_worker(env.client, Settings(task_queue="tq-broken", classification_file=tmp_path / "no-such.yaml"),
                     engine=engine, runbooks=RunbookLibrary(REPO / "runbooks"))
