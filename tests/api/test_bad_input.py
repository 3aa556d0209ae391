"""Bad input at every door gets a 4xx naming what is wrong, never a 5xx (issue 14): the
hand-made cases of the chaos harness run, per endpoint class, against the app with a worker on
the time-skipping server and the records of the run (SQLite, or PostgreSQL when
WARROOM_TEST_DATABASE_URL says so). Schemathesis over every operation: test_fuzz.py.

What the door accepts the records can store: a NUL character or an over-long field in an
alert is accepted and stored the same on both databases (docs/limits.md).
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from api.app import create_app
from tests.helpers import new_key, running_worker, until
from warroom import records, signatures
from warroom.settings import Settings

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 100 + b"1" + b"}" * 100
HUGE_INT = b'{"title": "huge", "affected_users": ' + b"9" * 5000 + b"}"

# (path, a valid body to break) of each endpoint class that reads JSON
SOURCES = {
    "/api/v1/alerts/alertmanager": {"version": "4", "status": "firing", "alerts": []},
    "/api/v1/alerts/grafana": {"status": "firing", "alerts": []},
    "/api/v1/alerts/datadog": {"title": "t"},
    "/v2/enqueue": {"event_action": "trigger", "payload": {"summary": "s", "source": "s", "severity": "error"}},
    "/api/v1/alerts/pagerduty": {"event_action": "trigger",
                                 "payload": {"summary": "s", "source": "s", "severity": "error"}},
    "/v2/change/enqueue": {"payload": {"summary": "s", "source": "s"}},
}
MODELS = ("/api/v1/alerts/generic", "/api/v1/incidents", "/api/v1/keys", "/api/v1/integrations")


def number_bodies(field: str) -> list[tuple[bytes, str]]:
    """(body, the words the answer must hold) for the numbers JSON cannot carry into Python."""
    return [(b'{"title": "t", "%s": 1e400}' % field.encode(), f"body.{field}: inf"),
            (b'{"title": "t", "%s": NaN}' % field.encode(), f"body.{field}: nan"),
            (b'{"title": "t", "%s": -Infinity}' % field.encode(), f"body.{field}: -inf")]


def detail(r: httpx.Response) -> str:
    body = r.json()
    return json.dumps(body.get("detail", body.get("errors", body)))


@pytest.fixture
async def http(env, engine, task_queue):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom", timeout=60,
                                     headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"}) as client:
            yield client


def test_every_route_reads_its_body_through_the_one_reader(engine):
    """A router made without JsonRoute would read its JSON bodies with FastAPI's own parser."""
    from fastapi.routing import APIRoute

    from api.body import JsonRoute

    def every(routes):  # FastAPI keeps an included router as one entry holding the router's routes
        for r in routes:
            inner = getattr(r, "original_router", None)
            yield from every(inner.routes) if inner is not None else (r,)

    app = create_app(Settings(), engine=engine)
    routes = [r for r in every(app.routes) if isinstance(r, APIRoute) and r.methods != {"GET"}]  # GETs: no body
    assert len(routes) > 30 and [r.path for r in routes if not isinstance(r, JsonRoute)] == []


async def test_deep_huge_and_non_finite_bodies_are_refused_naming_the_problem(http):
    custom = f"custom-{uuid.uuid4().hex[:6]}"
    r = await http.post("/api/v1/integrations", json={"name": custom, "format": "custom",
                                                      "mapping": {"title": "{{ body.title }}"}})
    assert r.status_code == 201, r.text
    paths = [*SOURCES, *MODELS, "/api/v1/incidents/incident-x/acknowledge", "/api/v1/incidents/incident-x/review",
             f"/api/v1/alerts/custom/{custom}"]
    for path in paths:
        for body, status, words in ((DEEP, 400, "nested more than 64 levels deep"),
                                    (DEEP_OBJECT, 400, "body.a.a.a"),
                                    (HUGE_INT, 400, "body.affected_users: an integer of 5000 digits"),
                                    *((b, 422, w) for b, w in number_bodies("availability")),
                                    (b'{"title": ', 400, "body is not valid JSON"),
                                    (b"\xff\xfe", 400, "body is not valid JSON")):
            r = await http.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == status, (path, body[:40], r.status_code, r.text[:500])
            assert words in detail(r), (path, r.text[:500])


async def test_a_non_finite_number_is_refused_wherever_it_sits(http):
    """By name, inside lists and objects, on the model routes and the sources alike."""
    for path, body, where in (
            ("/api/v1/alerts/generic", b'{"title": "t", "labels": {"a": 1e999}}', "body.labels.a"),
            ("/api/v1/incidents", b'{"title": "t", "links": [1, NaN]}', "body.links[1]"),
            ("/api/v1/alerts/alertmanager", b'{"alerts": [{"labels": {}, "x": Infinity}]}', "body.alerts[0].x"),
            ("/api/v1/incidents/incident-x/escalate", b'{"to_level": 1e400}', "body.to_level")):
        r = await http.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422 and where in detail(r), (path, r.status_code, r.text)


async def test_a_validation_error_echoing_any_input_is_a_422(http):
    """FastAPI's 422 echoes what it refused; an input JSON cannot carry is echoed as text. A
    page offset past what a database can count is refused, not sent to it."""
    r = await http.get("/api/v1/incidents", params={"limit": "inf"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"], r.text
    for path in ("/api/v1/incidents", "/api/v1/audit"):
        r = await http.get(path, params={"offset": "1" + "0" * 25})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"], (path, r.text)
    r = await http.post("/api/v1/alerts/generic", content=b"\xff\xfe{}", headers={"content-type": "text/plain"})
    assert r.status_code == 422, r.text
    r = await http.post("/api/v1/alerts/generic", json={"title": "t", "availability": 1e300})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "availability"], r.text


BAD_IDS = ["~", "~abc", "~2", "incident-x~²", "incident-x~¹²", "incident-x~٣", "incident-x~",
           "incident-x~99999999999999999999", "incident-é", "incident-" + "a" * 300, "nope", "incident-x~r~2"]


async def test_an_incident_id_no_incident_can_have_is_a_404(http):
    actions = {"acknowledge": {}, "commander": {"commander": "alice"}, "updates": {"message": "m"},
               "escalate": {}, "priority": {"priority": "P1", "reason": "r"}, "resolve": {},
               "review": {"root_cause": "r"}, "reopen": {}, "steps/s1/complete": {}}
    for bad in BAD_IDS:
        quoted = httpx.URL("/api/v1/incidents/").copy_with(path="/api/v1/incidents/" + bad).raw_path.decode()
        r = await http.get(quoted)
        assert r.status_code == 404 and "unknown incident" in r.json()["detail"], (bad, r.status_code, r.text)
        for action, body in actions.items():
            r = await http.post(f"{quoted}/{action}", json=body)
            assert r.status_code == 404, (bad, action, r.status_code, r.text)
        for sub in ("report", "communications"):
            r = await http.get(f"{quoted}/{sub}")
            assert r.status_code == 404, (bad, sub, r.status_code, r.text)


async def test_a_nul_in_the_url_is_a_400(http):
    for path in ("/api/v1/incidents?service=a%00b", "/api/v1/incidents/incident-a%00b",
                 "/api/v1/incidents/incident-a%00b/report", "/api/v1/keys/a%00b"):
        r = await http.get(path)
        assert r.status_code == 400 and "NUL" in r.json()["detail"], (path, r.status_code, r.text)


async def test_a_nul_and_over_long_fields_are_stored_the_same_on_every_database(http, engine):
    """Accepted, then recorded: NUL characters removed, the texts cut to the door's bounds, the
    answer saying what was cut; the generic alert's schema refuses the same with a 422."""
    tag = uuid.uuid4().hex[:8]
    long_service = "s" * 300
    am = {"version": "4", "status": "firing", "groupKey": f"g-{tag}", "alerts": [{
        "status": "firing", "labels": {"alertname": f"Nul\u0000{tag}", "service": long_service,
                                       "severity": "critical", "k\u0000": "v\u0000" + "x" * 3000},
        "annotations": {"summary": f"disk\u0000 full {tag}", "description": "d\u0000" * 10},
        "fingerprint": f"fp{tag}"}]}
    r = await http.post("/api/v1/alerts/alertmanager", json=am)
    assert r.status_code == 202, r.text
    assert "service cut to 200 characters" in r.json()["message"], r.text
    incident_id = r.json()["incidents"][0]["id"]
    row = await until(lambda: records.incident(engine, incident_id=incident_id), f"{incident_id} recorded")
    assert "\x00" not in row.title and tag in row.title and row.service == "s" * 200, (row.title, row.service)
    assert "\x00" not in row.description
    state = (await http.get(f"/api/v1/incidents/{incident_id}")).json()
    assert state["service"] == "s" * 200

    r = await http.post("/api/v1/alerts/generic", json={"title": "t\u0000" + tag, "service": long_service})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "service"], r.text
    r = await http.post("/api/v1/alerts/generic", json={"title": f"nul\u0000 {tag}", "service": "a\u0000b",
                                                        "dedup_key": f"nul-{tag}", "priority": "P3"})
    assert r.status_code == 202, r.text
    iid = r.json()["incidents"][0]["id"]
    row = await until(lambda: records.incident(engine, incident_id=iid), f"{iid} recorded")
    assert (row.title, row.service) == (f"nul {tag}", "ab")
    listed = (await http.get("/api/v1/incidents", params={"service": "ab"})).json()
    assert iid in [i["id"] for i in listed["incidents"]]


async def test_declaring_checks_the_integration_like_every_alert_path(env, engine, task_queue):
    """POST /api/v1/incidents with an integration key: bound to another format, 403 naming its
    path; signed, 401 without the signature or with a wrong one, 201 with the right one."""
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    secret = "s3cret-" + uuid.uuid4().hex
    signed = new_key(engine, "integration", format="generic", signing_secret=secret)
    grafana = new_key(engine, "integration", format="grafana")
    body = json.dumps({"title": f"declared {uuid.uuid4().hex[:6]}", "priority": "P3"}).encode()
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom", timeout=60) as http:
        r = await http.post("/api/v1/incidents", content=body, headers={"Authorization": f"Bearer {grafana}"})
        assert r.status_code == 403 and "/api/v1/alerts/grafana" in r.json()["detail"], r.text
        auth = {"Authorization": f"Bearer {signed}", "content-type": "application/json"}
        r = await http.post("/api/v1/incidents", content=body, headers=auth)
        assert r.status_code == 401 and r.json()["detail"].startswith("signature:"), r.text
        wrong = signatures.sign_warroom("another-secret-entirely", body, now=time.time())
        r = await http.post("/api/v1/incidents", content=body, headers={**auth, **wrong})
        assert r.status_code == 401 and r.json()["detail"].startswith("signature:"), r.text
        good = signatures.sign_warroom(secret, body, now=time.time())
        r = await http.post("/api/v1/incidents", content=body, headers={**auth, **good})
        assert r.status_code == 201, r.text
        # an invalid body from an unsigned caller is refused for its signature before its content
        r = await http.post("/api/v1/incidents", content=b'{"title": ""}', headers=auth)
        assert r.status_code == 401, r.text


async def test_the_console_s_forms_take_a_nul_and_an_odd_id_without_a_5xx(env, engine, task_queue):
    from tests.api.test_console import app_client, csrf_of, open_incident, sign_in

    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine, "P1")
        await sign_in(http, new_key(engine, "responder"))
        page = await http.get(f"/incidents/{iid}")
        tag = uuid.uuid4().hex[:6]
        r = await http.post(f"/incidents/{iid}/update", data={"csrf": csrf_of(page.text),
                                                               "message": f"rolling\u0000 back {tag}"})
        assert r.status_code == 303, r.text

        def posted() -> list[str]:
            return [str(e.details.get("message")) for e in records.timeline(engine, incident_id=iid)
                    if e.type == "status_update.posted"]

        assert await until(posted, "the update recorded") == [f"rolling back {tag}"]
        for bad in ("~", "incident-x~²"):
            path = httpx.URL("/").copy_with(path=f"/incidents/{bad}").raw_path.decode()
            r = await http.get(path)
            assert r.status_code == 404, (bad, r.status_code, r.text[:300])
            r = await http.post(f"{path}/acknowledge", data={"csrf": csrf_of(page.text)})
            assert r.status_code == 404, (bad, r.status_code, r.text[:300])


def test_fitting_an_alert_keeps_two_long_keys_apart_and_says_what_was_cut():
    from api.intake import fit_alert
    from workflows.contracts import AlertInfo

    a = AlertInfo(title="t", dedup_key="k" * 1500, service="s" * 300, labels={"a\u0000": "b"},
                  links=["https://x/" + "y" * 3000, "https://ok"])
    b = AlertInfo(title="t", dedup_key="k" * 1499 + "z")
    assert fit_alert(a) == ["service cut to 200 characters", "dedup_key cut to 1000 characters",
                            "links: at most 50, each at most 2000 characters"]
    fit_alert(b)
    assert len(a.dedup_key) == len(b.dedup_key) == 1000 and a.dedup_key != b.dedup_key
    assert (a.service, a.labels, a.links) == ("s" * 200, {"a": "b"}, ["https://ok"])
    quiet = AlertInfo(title="t\u0000", labels={"k": "v\u0000"})
    assert fit_alert(quiet) == [] and (quiet.title, quiet.labels) == ("t", {"k": "v"})
