"""The HTTP API as a sender and an engineer use it: alerts in, actions, clear 4xx answers.
Runs the app in-process against a real (time-skipping) Temporal server and worker."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import api, new_key, open_marker, until
from warroom import records


def key() -> str:
    return f"api-{uuid.uuid4().hex[:10]}"


async def test_alert_opens_an_incident_and_a_repeat_joins_it(env, engine, task_queue):
    """A second alert on the key joins the incident; the same alert sent again is a re-send,
    counted apart, never as a new alert."""
    k = key()
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/alerts/generic", json={"title": "Login down", "service": "auth",
                                                          "severity": "critical", "affected_users": 5000,
                                                          "dedup_key": k})
        assert r.status_code == 202
        first = r.json()["incidents"][0]
        assert first == {"id": f"incident-{k}", "priority": "P0", "status": "triggered", "deduplicated": False}
        r = await http.post("/api/v1/alerts/generic", json={"title": "Login down", "service": "auth",
                                                          "severity": "critical", "dedup_key": k})
        assert r.status_code == 202
        again = r.json()["incidents"][0]
        assert again["id"] == first["id"] and again["deduplicated"] is True
        r = await http.post("/api/v1/alerts/generic", json={"title": "Login down", "service": "auth",
                                                          "severity": "critical", "dedup_key": k,
                                                          "labels": {"instance": "auth-2"}})
        assert r.status_code == 202 and r.json()["incidents"][0]["id"] == first["id"]
        state = (await http.get(f"/api/v1/incidents/{first['id']}")).json()
    assert (state["alert_count"], state["resent_count"]) == (2, 1)
    assert [e["type"] for e in state["timeline"]].count("triggered") == 1
    assert [e["type"] for e in state["timeline"]].count("alert.received") == 2


async def test_engineer_actions_map_to_the_engine(env, engine, task_queue):
    def as_(person: str) -> dict[str, str]:  # each engineer with their own responder key
        return {"Authorization": f"Bearer {new_key(engine, 'responder', person=person)}"}

    alice, bob, carol, dave = as_("alice"), as_("bob"), as_("carol"), as_("dave")
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/incidents", json={"title": "Checkout failing", "priority": "P1"})
        assert r.status_code == 201
        iid = r.json()["incidents"][0]["id"]
        r = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={}, headers=alice)
        assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["commander"] == "alice"
        r = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={}, headers=bob)
        assert r.status_code == 409 and r.json()["detail"] == "already acknowledged by alice"
        r = await http.post(f"/api/v1/incidents/{iid}/updates", json={"message": "rolling back"}, headers=alice)
        assert r.json()["latest_update"]["message"] == "rolling back"
        r = await http.post(f"/api/v1/incidents/{iid}/commander", json={"commander": "carol"}, headers=alice)
        assert r.json()["commander"] == "carol"
        r = await http.post(f"/api/v1/incidents/{iid}/priority", json={"priority": "P0", "reason": "data loss"},
                            headers=carol)
        assert r.json()["priority"] == "P0"
        r = await http.post(f"/api/v1/incidents/{iid}/escalate", json={"reason": "need db team"}, headers=carol)
        assert r.json()["escalation_level"] == 2
        r = await http.post(f"/api/v1/incidents/{iid}/steps/nope/complete", json={}, headers=carol)
        assert r.status_code == 409 and "not waiting" in r.json()["detail"]
        r = await http.post(f"/api/v1/incidents/{iid}/resolve", json={"resolution": "rolled back"}, headers=carol)
        assert r.status_code == 200
        review = {"root_cause": "bad deploy", "action_items": [
            "add a canary stage", {"title": "alert on error budget", "owner": "dave", "due": "2027-01-15"}]}
        r = await http.post(f"/api/v1/incidents/{iid}/review", json={**review, "action_items": [{"owner": "x"}]},
                            headers=carol)
        assert r.status_code == 422 and "title" in r.text  # an action item needs a title
        r = await http.post(f"/api/v1/incidents/{iid}/review", json=review, headers=carol)
        assert r.status_code in (200, 409)  # 409 only if verify has not finished yet
        if r.status_code == 409:
            r = await http.post(f"/api/v1/incidents/{iid}/review", json=review, headers=carol)
        assert r.status_code == 200 and r.json()["review"]["root_cause"] == "bad deploy"
        assert r.json()["review"]["action_items"] == [
            "add a canary stage", {"title": "alert on error budget", "owner": "dave", "due": "2027-01-15"}]
        assert r.json()["review"]["by"] == "carol"

        async def state() -> dict:
            return (await http.get(f"/api/v1/incidents/{iid}")).json()

        await until(state, f"{iid} to close after its review", ok=lambda s: s["status"] == "closed")
        r = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={}, headers=dave)
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith(f"cannot acknowledge: incident {iid} is closed"), r.text


async def test_source_resolve_moves_the_incident_through_verify(env, engine, task_queue):
    k = key()
    async with api(env, engine, task_queue) as http:
        await http.post("/api/v1/alerts/generic", json={"title": "Disk full", "priority": "P1", "dedup_key": k})
        r = await http.post("/api/v1/alerts/generic", json={"title": "Disk full", "dedup_key": k, "status": "resolve"})
        assert r.status_code == 202 and r.json()["message"] == "resolve received"

        async def timeline() -> list[str]:
            return [e["type"] for e in (await http.get(f"/api/v1/incidents/incident-{k}")).json()["timeline"]]

        types = await until(timeline, f"incident-{k} to resolve through verify", ok=lambda t: "resolved" in t)
        assert types.index("alert.resolved") < types.index("verification.passed") < types.index("resolved")
        r = await http.post("/api/v1/alerts/generic", json={"title": "x", "dedup_key": key(), "status": "resolve"})
        assert r.status_code == 202 and r.json()["incidents"] == []


BAD_BODIES = [
    ("/api/v1/alerts/generic", b'{"title": "x",', 400, "body is not valid JSON"),  # api/body.py, as every source
    ("/api/v1/alerts/generic", b'[{"title": "x"}]', 422, "model_attributes_type"),
    ("/api/v1/alerts/generic", b'{"title": ""}', 422, "string_too_short"),
    ("/api/v1/alerts/generic", b'{"title": "x", "affected_users": "many"}', 422, "int_parsing"),
    ("/api/v1/alerts/generic", b'{"title": "x", "priority": "P7"}', 422, "literal_error"),
    ("/api/v1/alerts/generic", b'{"title": "x", "availability": 120}', 422, "less_than_equal"),
    ("/api/v1/alerts/generic", b'{"title": "x", "status": "resolve"}', 422, "dedup_key"),
    ("/api/v1/incidents", b'{"title": "x", "status": "resolve"}', 422, "status 'trigger'"),
]


@pytest.mark.parametrize("path,body,status,what", BAD_BODIES, ids=[b[3] for b in BAD_BODIES])
async def test_bad_alerts_get_a_clear_4xx_and_open_nothing(env, engine, task_queue, path, body, status, what):
    async with api(env, engine, task_queue) as http:
        before = records.count_incidents(engine)
        r = await http.post(path, content=body, headers={"content-type": "application/json"})
        await open_marker(http, engine, env.client)  # processed after the bad alert: had it opened one, it is recorded
        assert records.count_incidents(engine) == before + 1  # the marker alone
    assert r.status_code == status
    assert what in r.text


async def test_bad_actions_get_a_clear_4xx(env, engine, task_queue):
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/incidents/incident-nope/acknowledge", json={"by": "a"})
        assert r.status_code == 404 and r.json()["detail"] == "unknown incident 'incident-nope'"
        iid = (await http.post("/api/v1/incidents", json={"title": "x", "priority": "P2"})).json()["incidents"][0]["id"]
        for path, body in [("acknowledge", {"by": ""}), ("acknowledge", {"by": "  "}), ("priority", {"by": "a", "priority": "P7",
                                                                                                "reason": "r"}),
                           ("priority", {"by": "a", "priority": "P1"}), ("escalate", {"by": "a", "to_level": 9}),
                           ("updates", {"by": "a", "message": ""})]:
            r = await http.post(f"/api/v1/incidents/{iid}/{path}", json=body)
            assert r.status_code == 422, (path, body, r.text)
        state = (await http.get(f"/api/v1/incidents/{iid}")).json()
    assert state["status"] == "triggered" and state["priority"] == "P2"


async def test_oversized_bodies_are_refused_with_413(env, engine, task_queue):
    big = b'{"title": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks():
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/alerts/generic", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "larger than 1048576 bytes" in r.json()["detail"]
        r = await http.post("/api/v1/alerts/generic", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


async def test_a_good_alert_writes_its_incident_record(env, engine, task_queue):
    """The control for the test above: the same check does see an incident that opened."""
    async with api(env, engine, task_queue) as http:
        before = records.count_incidents(engine)
        r = await http.post("/api/v1/alerts/generic", json={"title": "Queue backlog", "dedup_key": key()})
        assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]
        await until(lambda: records.incident(engine, incident_id=iid), f"{iid} to be recorded")
        assert records.count_incidents(engine) == before + 1
    assert r.status_code == 202


async def test_managers_list_incidents_with_filters_and_pages(env, engine, task_queue):
    service = f"svc-{uuid.uuid4().hex[:6]}"  # the records database is shared by the session: filter on it
    async with api(env, engine, task_queue, role="responder", person="alice") as http:
        ids = {}
        for title, priority in [("Payments down", "P0"), ("Search slow", "P2"), ("Typo on page", "P4")]:
            r = await http.post("/api/v1/incidents", json={"title": title, "priority": priority, "service": service})
            ids[priority] = r.json()["incidents"][0]["id"]
        await http.post(f"/api/v1/incidents/{ids['P0']}/acknowledge", json={"by": "alice"})

        async def listed() -> dict:  # the list is the records database, written a moment after each change
            return (await http.get("/api/v1/incidents", params={"service": service})).json()

        page = await until(listed, "the three incidents, one acknowledged, in the records list",
                           ok=lambda p: p["total"] == 3 and any(i["status"] == "acknowledged" for i in p["incidents"]))
        assert page["total"] == 3 and {i["id"] for i in page["incidents"]} == set(ids.values())
        p0 = (await http.get("/api/v1/incidents", params={"service": service, "priority": "P0"})).json()
        assert [(i["title"], i["status"], i["commander"]) for i in p0["incidents"]] == [
            ("Payments down", "acknowledged", "alice")]
        both = (await http.get("/api/v1/incidents", params=[("service", service), ("priority", "P2"),
                                                            ("priority", "P4")])).json()
        assert sorted(i["priority"] for i in both["incidents"]) == ["P2", "P4"]
        open_ = (await http.get("/api/v1/incidents", params={"service": service, "status": "triggered"})).json()
        assert open_["total"] == 2
        pages = [(await http.get("/api/v1/incidents", params={"service": service, "limit": 1, "offset": n})).json()
                 for n in range(3)]
        assert [len(p["incidents"]) for p in pages] == [1, 1, 1] and all(p["total"] == 3 for p in pages)
        assert len({p["incidents"][0]["id"] for p in pages}) == 3  # newest first, no repeats
        r = await http.get("/api/v1/incidents", params={"limit": 0})
        assert r.status_code == 422 and "limit" in r.text
