"""The web console as a caller meets it without a browser: every page needs a signed-in
person, every form post a responder and the session's CSRF token; the session cookie's flags;
a form acts through the engine as the key's person; no page or asset names an external host.
(In a real browser: tests/e2e/test_console.py.)"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from api.app import create_app
from api.console import STATIC_DIR, TEMPLATES_DIR
from api.deps import actor_of
from api.routes import console, console_incident
from tests.helpers import new_key, running_worker, until
from warroom import records
from warroom.oncall import load_oncall
from warroom.records import changes as change_records
from warroom.records import keys as auth
from warroom.settings import Settings

SECRET = "console-test-secret-key-0123456789"
ADMIN_PAGES: set[str] = set()  # every page reads for every signed-in role


def console_routes() -> set[tuple[str, str]]:
    return {(m, r.path) for r in console.router.routes + console_incident.router.routes  # type: ignore[attr-defined]
            for m in r.methods}  # type: ignore[attr-defined]


@asynccontextmanager
async def app_client(env, engine, task_queue, base_url="http://warroom", **settings):
    app = create_app(Settings(task_queue=task_queue, secret_key=SECRET, **settings), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http:
        yield http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> httpx.Response:
    http.cookies.clear()
    form = await http.get("/login")
    r = await http.post("/login", data={"csrf": csrf_of(form.text), "key": key, "next": "/"})
    assert r.status_code == 303, r.text
    return r


async def open_incident(http: httpx.AsyncClient, engine, priority: str = "P1") -> str:
    r = await http.post("/api/v1/alerts/generic", headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"},
                        json={"title": f"Console test {uuid.uuid4().hex[:6]}", "priority": priority,
                              "service": f"svc-{uuid.uuid4().hex[:6]}", "dedup_key": f"con-{uuid.uuid4().hex[:10]}"})
    assert r.status_code == 202, r.text
    iid = r.json()["incidents"][0]["id"]
    await until(lambda: records.incident(engine, incident_id=iid), f"{iid} to be recorded")
    return iid


def concrete(path: str, iid: str) -> str:
    return path.replace("{incident_id}", iid).replace("{form}", "acknowledge")


async def test_every_console_route_needs_its_role_and_the_csrf_token(env, engine, task_queue):
    routes = console_routes()
    assert ("GET", "/") in routes and ("POST", "/incidents/{incident_id}/{form}") in routes
    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine)
        public = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/login/link"),
                  ("POST", "/login/link")}  # tests/warroom/cli/test_console.py
        for method, path in sorted(routes - public):
            url = concrete(path, iid)
            http.cookies.clear()
            r = await http.request(method, url, data={"csrf": "x"} if method == "POST" else None)
            if method == "GET":  # a page sends a stranger to sign in, and back afterwards
                assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (url, r.text)
            else:
                assert r.status_code == 403 and "not signed in" in r.text, (url, r.text)
        for role in ("viewer", "responder", "admin"):
            await sign_in(http, new_key(engine, role))
            for method, path in sorted(routes - public):
                url = concrete(path, iid)
                if method == "GET":
                    r = await http.get(url)
                    admin_only = path in ADMIN_PAGES and role != "admin"
                    assert r.status_code == (403 if admin_only else 200), (role, url, r.text)
                    continue
                # without the session's token nothing is done, whatever the role
                for data in ({}, {"csrf": "forged"}):
                    r = await http.post(url, data=data)
                    assert r.status_code == 403 and "CSRF" in r.text, (role, url, data, r.text)
                page = await http.get(f"/incidents/{iid}")
                if role == "viewer":  # a viewer sees no action forms and may not post one
                    assert 'id="actions"' not in page.text and "Acknowledge</button>" not in page.text
                    r = await http.post(url, data={"csrf": csrf_of(page.text)})
                    assert r.status_code == 403 and "has role viewer" in r.text
                else:
                    assert "Acknowledge</button>" in page.text or role == "admin"
        state = (await http.get(f"/api/v1/incidents/{iid}",
                                headers={"Authorization": f"Bearer {new_key(engine, 'viewer')}"})).json()
        assert state["status"] == "triggered"  # nothing above acted


async def test_sign_in_cookie_sign_out_and_refused_keys(env, engine, task_queue):
    async with app_client(env, engine, task_queue, base_url="https://warroom") as http:
        form = await http.get("/login")
        r = await http.post("/login", data={"csrf": "nope", "key": new_key(engine, "viewer")})
        assert r.status_code == 403
        for key, words in [("wrnotakey", "unknown or revoked"), (new_key(engine, "integration"), "integration key")]:
            r = await http.post("/login", data={"csrf": csrf_of(form.text), "key": key})
            assert r.status_code == 401 and words in r.text
        key = new_key(engine, "responder")
        for elsewhere in ("//evil.example/x", "/\\evil.example", "https://evil.example/"):
            form = await http.get("/login")  # a sign-in spends the form's nonce
            r = await http.post("/login", data={"csrf": csrf_of(form.text), "key": key, "next": elsewhere})
            assert r.status_code == 303 and r.headers["location"] == "/", elsewhere
        cookie = r.headers["set-cookie"]
        assert "warroom_session=" in cookie and key not in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        board = await http.get("/")
        assert board.status_code == 200 and "Open incidents" in board.text
        # a revoked key ends its sessions at once
        auth.revoke(engine, auth.authenticate(engine, key).name)
        assert (await http.get("/")).status_code == 303
    async with app_client(env, engine, task_queue) as http:  # over plain http: no Secure flag
        r = await sign_in(http, new_key(engine, "viewer"))
        assert "Secure" not in r.headers["set-cookie"]
        board = await http.get("/")
        r = await http.post("/logout", data={"csrf": "forged"})
        assert r.status_code == 403
        r = await http.post("/logout", data={"csrf": csrf_of(board.text)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await http.get("/")).status_code == 303


async def test_a_form_acts_as_the_keys_person_and_a_refusal_is_shown(env, engine, task_queue):
    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine, "P1")
        key = new_key(engine, "responder")
        await sign_in(http, key)
        page = await http.get(f"/incidents/{iid}")
        assert "No change events for this service" in page.text
        # a deploy of the incident's service, posted as PagerDuty change events are, shows on its page
        row = records.incident(engine, incident_id=iid)
        change_records.record_change(engine, service=row.service, summary="Deploy v42", source="ci",
                                     at=row.created_at - timedelta(minutes=4), details={},
                                     links=[{"href": "javascript:alert(1)", "text": "bad"}], integration="ci")
        page = await http.get(f"/incidents/{iid}")
        assert re.search(r"<strong>Deploy v42</strong> · 4 min before the alert", page.text)
        assert "javascript:" not in page.text  # only http(s) links become links
        r = await http.post(f"/incidents/{iid}/acknowledge", data={"csrf": csrf_of(page.text), "note": "on it"})
        assert r.status_code == 303, r.text
        page = await http.get(r.headers["location"])
        person = actor_of(auth.authenticate(engine, key))
        assert re.search(r'id="status">acknowledged<', page.text)
        assert f'<strong>acknowledged</strong> by <span class="actor">{person}</span>' in page.text
        r = await http.post(f"/incidents/{iid}/priority", data={"csrf": csrf_of(page.text), "priority": "P1",
                                                                 "reason": "still P1"})
        assert r.status_code == 409 and "Refused: priority is already P1" in r.text
        r = await http.post(f"/incidents/{iid}/priority", data={"csrf": csrf_of(page.text), "priority": "P2",
                                                                 "reason": " "})
        assert r.status_code == 422 and "reason" in r.text
        assert (await http.get(f"/incidents/{iid}/report")).status_code == 200
        board = await http.get("/", params={"priority": "P1"})
        assert iid in board.text and "next update" in board.text


async def test_sla_figures_and_on_call_now(env, engine, task_queue):
    examples = Path(__file__).resolve().parents[2] / "oncall" / "examples"
    async with app_client(env, engine, task_queue, oncall_dir=examples) as http:
        iid = await open_incident(http, engine, "P2")
        admin = new_key(engine, "admin")
        await sign_in(http, admin)
        page = await http.get(f"/incidents/{iid}")
        r = await http.post(f"/incidents/{iid}/acknowledge", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        await sign_in(http, new_key(engine, "viewer"))
        page = await http.get("/sla", params={"priority": "P2", "period": "day"})
        assert page.status_code == 200 and page.text.count("<svg") == 3
        row = re.search(r'<tr data-priority="P2">(.*?)</tr>', page.text, re.DOTALL).group(1)
        # the page's figures are the API's over the same window (the 8 periods shown)
        start, end = re.search(r"over (\S+) – (\S+) \(UTC\)", page.text).groups()
        api = (await http.get("/api/v1/metrics/sla", params={"priority": "P2", "from": start, "to": end},
                              headers={"Authorization": f"Bearer {admin}"})).json()["by_priority"]["P2"]
        assert api["count"] >= 1 and f'data-label="Incidents">{api["count"]}<' in row
        esc = api["escalation_rate"]
        assert f"({esc['met']}/{esc['total']})" in row
        # a viewer (a manager) sees who is on call: names and hand-overs, never contact points
        # whoever the rotation puts on duty when the page is made (read before and after it,
        # so a hand-over in between cannot fail the test)
        config = load_oncall(examples)
        before = on_duty(config, "platform-l1")
        page = await http.get("/oncall")
        names = {before, on_duty(config, "platform-l1")}
        assert page.status_code == 200 and 'data-team="platform"' in page.text
        assert any(name in page.text for name in names), names
        assert "mailtos://" not in page.text and "${" not in page.text
        assert re.search(r'data-due="20\d\d-', page.text), "a next hand-over is shown"
        # ... and subscribes to a team's shifts in a calendar: the link is shown once and opens the feed
        r = await http.post("/oncall/subscribe", data={"csrf": csrf_of(page.text), "team": "platform"})
        assert r.status_code == 200, r.text
        webcal = re.search(r'href="(webcal://[^"]+/api/v1/oncall/platform\.ics\?token=wf[^"]+)"', r.text).group(1)
        feed = await http.get("/api/v1/oncall/platform.ics?" + webcal.split("?", 1)[1],
                              headers={"Authorization": ""})
        assert feed.status_code == 200 and b"BEGIN:VEVENT" in feed.content and before.encode() in feed.content
        r = await http.post("/oncall/subscribe", data={"csrf": "forged", "team": "platform"})
        assert r.status_code == 403
        r = await http.post("/oncall/subscribe", data={"csrf": csrf_of(page.text)})  # a viewer with no shifts
        assert r.status_code == 404 and "No calendar feed" in r.text


def on_duty(config, schedule: str) -> str:
    """The name of the person the schedule puts on call now."""
    [entry] = [e for e in config.on_call(datetime.now(UTC)) if e.schedule == schedule]
    return entry.person.name


def test_no_console_page_or_asset_names_an_external_host():
    files = [p for d in (TEMPLATES_DIR, STATIC_DIR) for p in Path(d).rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text()
        # an absolute URL, a protocol-relative one, or a CSS import of a font host
        found = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|@import\s+url\(", text)
        assert not found, (path, found)


def renders_between(due: datetime, before: datetime, after: datetime) -> set[str]:
    """Every countdown text a page made between `before` and `after` can show for `due`."""
    steps = int((after - before).total_seconds()) + 2
    return {console.countdown(due, before + timedelta(seconds=s)) for s in range(steps)}


async def test_countdowns_are_exact_to_the_minute(env, engine, task_queue):
    """A deadline 1 h 59 min away reads "in 1h 59m", never "in 1h" (issue 15)."""
    async with app_client(env, engine, task_queue) as http:
        iid = await open_incident(http, engine, "P3")  # a ticket: its deadlines are hours away
        await sign_in(http, new_key(engine, "viewer"))
        before = datetime.now(UTC)
        page = await http.get(f"/incidents/{iid}")
        after = datetime.now(UTC)
        [(due, text)] = re.findall(r'<span class="countdown" data-due="([^"]+)">([^<]+)</span>', page.text)
        due = datetime.fromisoformat(due)
        assert due - after > timedelta(hours=1), due
        assert re.fullmatch(r"in (\d+d )?\d+h \d\dm", text), text
        assert text in renders_between(due, before, after)
    assert console.countdown(after + timedelta(hours=1, minutes=59, seconds=30), after) == "in 1h 59m"
    assert console.countdown(after - timedelta(minutes=14, seconds=5), after) == "overdue 14m 05s"
