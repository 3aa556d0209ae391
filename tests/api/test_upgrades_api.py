"""Upgrade triggers at the HTTP edge and in the console (issue 15; docs/upgrades.md): the update
action's impact fields, the alert labels that say it, a clear 422 for values that say neither,
the suggestion offered on the incident page with a button a person presses, and the impact and
cascade shown there."""

from __future__ import annotations

import uuid

from tests.api.test_console import app_client, csrf_of, open_incident, sign_in
from tests.helpers import api, new_key, until
from warroom import records


def dedup() -> str:
    return f"up-{uuid.uuid4().hex[:10]}"


async def test_the_update_action_takes_the_impact_and_raises_to_p0(env, engine, task_queue):
    alice = {"Authorization": f"Bearer {new_key(engine, 'responder', person='alice')}"}
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/alerts/generic", json={"title": "Orders API errors", "severity": "critical",
                                                          "service": "orders", "dedup_key": dedup()})
        iid = r.json()["incidents"][0]["id"]
        assert r.json()["incidents"][0]["priority"] == "P1"
        r = await http.post(f"/api/v1/incidents/{iid}/updates", json={"message": "restore will take long",
                                                                      "expected_recovery_minutes": -5},
                            headers=alice)
        assert r.status_code == 422 and "expected_recovery_minutes" in r.text
        r = await http.post(f"/api/v1/incidents/{iid}/updates",
                            json={"message": "tenant data overwritten", "data_loss": True, "business_down": True},
                            headers=alice)
        assert r.status_code == 200
        state = r.json()
    assert state["priority"] == "P0" and state["impact_signals"] == ["data_loss", "business_down"]
    [change] = [e for e in state["timeline"] if e["type"] == "priority.changed"]
    assert change["actor"] == "system" and change["details"]["automatic"] is True
    assert change["details"]["reason"] == ("data loss reported; the business fully down reported (update, alice)")


async def test_impact_labels_on_an_alert_open_a_p0_and_unclear_ones_are_refused(env, engine, task_queue):
    async with api(env, engine, task_queue) as http:
        key = dedup()
        r = await http.post("/api/v1/alerts/generic", json={"title": "Ledger writes lost", "severity": "critical",
                                                          "dedup_key": key, "labels": {"data_loss": "maybe"}})
        assert r.status_code == 422
        assert r.json()["detail"] == "labels.data_loss: 'maybe' is not true or false"
        assert records.incident(engine, incident_id=f"incident-{key}") is None
        r = await http.post("/api/v1/alerts/generic", json={"title": "Ledger writes lost", "severity": "critical",
                                                          "dedup_key": key, "labels": {"data_loss": "true"}})
        assert r.status_code == 202 and r.json()["incidents"][0]["priority"] == "P0"
        state = (await http.get(f"/api/v1/incidents/incident-{key}")).json()
    [triggered] = [e for e in state["timeline"] if e["type"] == "triggered"]
    assert triggered["details"]["priority_reason"] == "severity critical, raised to P0: data loss (label data_loss)"


async def test_the_console_offers_the_suggestion_and_the_impact_fields(env, engine, task_queue):
    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine, priority="P1")
        await sign_in(http, new_key(engine, "responder", person="rita"))
        page = await http.get(f"/incidents/{iid}")
        for field in ("data_loss", "security_risk", "all_users", "business_down", "expected_recovery_minutes"):
            assert f'name="{field}"' in page.text
        assert 'id="suggestion"' not in page.text
        r = await http.post(f"/incidents/{iid}/update", data={"csrf": csrf_of(page.text),
                                                               "message": "we see 数据丢失 on two shards"})
        assert r.status_code == 303
        page = await http.get(f"/incidents/{iid}")
        assert 'id="suggestion"' in page.text and "Raise to P0" in page.text
        assert "data loss (&#39;数据丢失&#39;) in rita&#39;s update" in page.text
        assert '<dd id="impact">' not in page.text  # suggested, not applied
        # the person confirms: a priority change with the suggestion as its reason
        r = await http.post(f"/incidents/{iid}/priority", data={
            "csrf": csrf_of(page.text), "priority": "P0",
            "reason": "confirmed suggestion: data loss ('数据丢失') in rita's update"})
        assert r.status_code == 303
        page = await http.get(f"/incidents/{iid}")
        assert 'id="suggestion"' not in page.text and "P1 → P0 by rita" in page.text
        # a checkbox reports the impact itself: recorded, shown in the state card
        r = await http.post(f"/incidents/{iid}/update", data={"csrf": csrf_of(page.text), "message": "confirmed",
                                                               "data_loss": "1", "expected_recovery_minutes": "90"})
        assert r.status_code == 303
        page = await http.get(f"/incidents/{iid}")
    assert '<dd id="impact">data loss' in page.text and "expected recovery 90 min" in page.text
    await until(lambda: records.incident(engine, incident_id=iid), "recorded", ok=lambda row: row.priority == "P0")


async def test_a_bad_expected_recovery_in_the_console_is_refused_in_words(env, engine, task_queue):
    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine, priority="P1")
        await sign_in(http, new_key(engine, "responder", person="rita"))
        page = await http.get(f"/incidents/{iid}")
        r = await http.post(f"/incidents/{iid}/update", data={"csrf": csrf_of(page.text), "message": "eta",
                                                               "expected_recovery_minutes": "soon"})
    assert r.status_code == 422 and "expected_recovery_minutes" in r.text

